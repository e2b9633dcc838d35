//! Client-side sessions: a cache with no server-side storage at all. The session id
//! *is* the session: its record, sealed (encrypted and authenticated) with
//! AES-256-GCM-SIV (RFC 8452), in URL-safe base64 without padding, so it travels as Toto's
//! `x-toto-session-id` header or `toto-session-id` cookie as any id does. Toto 1.0.10
//! shipped the same idea as `ClientCache` (AES-CBC + HMAC-SHA1 over a pickle).
//!
//! Token (before base64), format 1:
//!
//! ```text
//! 0x01 | key id (u32 BE) | expires (f64 BE) | nonce (12 bytes) | ciphertext | tag (16)
//! ```
//! The first 13 bytes are the associated data: in the clear but authenticated, so the
//! expiry is checked (and an unknown key id refused) before anything is decrypted. The
//! ciphertext is the session's record (the library's CBOR record, the same bytes in
//! every language). The nonce is 12 fresh bytes from the OS CSPRNG (`getrandom`) for
//! every token: no user-space generator whose state a `fork()` would duplicate. GCM-SIV
//! is nonce-misuse resistant: even a repeated nonce would only show that two tokens
//! seal the same bytes, and random nonces are within its bounds for 2^48 tokens a key.
//! Why not XChaCha20-Poly1305: on the x86-64 machines measured, RustCrypto's
//! `chacha20poly1305` 0.10 and 0.11 took about 2.4 us to open a 320-byte token
//! against 0.75 us for `aes-gcm-siv` (AES-NI and CLMUL); opening is on every request.
//!
//! Keys: any number of 32-byte keys, each with a `u32` id; every key opens tokens, the
//! first seals them. Rotate by (1) adding the new key after the current one on every
//! server, (2) moving it first, (3) dropping the old one once the longest TTL has passed.
//!
//! Sizes: [`CLIENT_TOKEN_OVERHEAD`] bytes besides the record, and a token is at most
//! `MAX_SESSION_ID_LEN` (4000) characters, so a record of at most [`MAX_CLIENT_RECORD_LEN`]
//! bytes. A larger session is [`Error::TooLarge`] when stored.
//!
//! How the contract maps:
//! - store: seals and answers the token as the session's new id (a store never
//!   collides: every token has a fresh nonce). The manager gives the session that id,
//!   so after a save, a login, a rotation or a renewal the response must carry the new
//!   id; the old token stays valid until its own expiry.
//! - load: opens, authenticates, checks the expiry. A malformed, tampered, expired or
//!   foreign-key token is "not found" (Toto's handler: no session; the manager: 1007).
//! - renewal: a token cannot be extended in place. When the renewal target is ahead of
//!   the sealed expiry by more than the manager's `renew_granularity` (1 % of the
//!   renewal window by default) the manager's write-back seals a new token; within it, nothing is
//!   written, so a session gets a new token about once per 1 % of its TTL, not on every
//!   request.
//! - remove: succeeds and does nothing: a token cannot be revoked. It stays valid until
//!   its expiry; the client must drop it. `remove_user` (log out everywhere) is
//!   unsupported. Any older token of a session also still opens with its older state,
//!   so keep no state a client must not roll back (balances, one-time flags) here.

use std::fmt;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Arc;

use aes_gcm_siv::aead::AeadInOut;
use aes_gcm_siv::{Aes256GcmSiv, KeyInit, Nonce, Tag};
// The tests decode tokens with the base64 crate: a cross-check of the SIMD codec.
#[cfg(test)]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
#[cfg(test)]
use base64::Engine;
use rand::rngs::SysRng;
use rand::TryRng;

use crate::backend::{Renewal, SessionCache, StoreMode};
use crate::core::clock::{Clock, SystemClock};
use crate::core::error::{Error, Result};
use crate::core::limits::MAX_SESSION_ID_LEN;
use crate::core::session::Session;

/// Length of a client-side key.
pub const CLIENT_KEY_LEN: usize = 32;
/// Most keys one cache accepts.
pub const MAX_CLIENT_KEYS: usize = 256;
/// The token format this library writes (its first byte).
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Bytes of the authenticated header: format, key id, expiry.
const HEADER_LEN: usize = 1 + 4 + 8;
/// The token's text: URL-safe base64 without padding.
const TOKEN_BASE64: base64_simd::Base64 = base64_simd::URL_SAFE_NO_PAD;

/// Bytes a token adds to the record before base64: header, nonce, tag.
pub const CLIENT_TOKEN_OVERHEAD: usize = HEADER_LEN + NONCE_LEN + TAG_LEN;
/// Largest record a token can carry: (4000 / 4 * 3) - 41 = 2959 bytes.
pub const MAX_CLIENT_RECORD_LEN: usize = MAX_SESSION_ID_LEN / 4 * 3 - CLIENT_TOKEN_OVERHEAD;
/// Room for what a token within the id limit decodes to (4000 characters of base64
/// are 3000 bytes; the slack keeps any rounding off the decoder's length assertion).
const MAX_RAW_LEN: usize = MAX_SESSION_ID_LEN / 4 * 3 + 3;
/// A token decoded on the stack (not zeroed first: the decoder answers the part it
/// wrote).
type RawBuf = [MaybeUninit<u8>; MAX_RAW_LEN];
const RAW_BUF: RawBuf = [MaybeUninit::uninit(); MAX_RAW_LEN];
/// The id the sealed record carries (the token is the id; storing the previous token
/// inside the next one would make tokens grow on every save).
const INNER_ID: &str = "c";

/// One key of a [`ClientCache`]: 32 secret bytes and the id tokens name it by.
#[derive(Clone)]
pub struct ClientKey {
    /// The id written into every token this key seals.
    pub id: u32,
    /// The secret (from a CSPRNG: e.g. `head -c 32 /dev/urandom`).
    pub key: [u8; CLIENT_KEY_LEN],
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Client-side sessions: see the module documentation.
pub struct ClientCache {
    /// Every key that opens tokens; the first seals them.
    keys: Vec<(u32, Aes256GcmSiv)>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCache")
            .field(
                "key_ids",
                &self.keys.iter().map(|k| k.0).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ClientCache {
    /// A cache with `keys` (the first seals; all open) on the wall clock. Refused (as
    /// [`Error::InvalidArgument`]): no key, more than [`MAX_CLIENT_KEYS`], two keys
    /// with one id, an all-zero key (an unset buffer, not a secret).
    pub fn new(keys: &[ClientKey]) -> Result<ClientCache> {
        ClientCache::with_clock(keys, Arc::new(SystemClock))
    }

    /// The same on a given clock (tests, simulations: give the manager the same one).
    pub fn with_clock(keys: &[ClientKey], clock: Arc<dyn Clock>) -> Result<ClientCache> {
        if keys.is_empty() {
            return Err(Error::InvalidArgument("client-side cache: no key"));
        }
        if keys.len() > MAX_CLIENT_KEYS {
            return Err(Error::InvalidArgument("client-side cache: too many keys"));
        }
        let mut out: Vec<(u32, Aes256GcmSiv)> = Vec::with_capacity(keys.len());
        for k in keys {
            if out.iter().any(|(id, _)| *id == k.id) {
                return Err(Error::InvalidArgument(
                    "client-side cache: two keys with one id",
                ));
            }
            if k.key.iter().all(|b| *b == 0) {
                return Err(Error::InvalidArgument("client-side cache: all-zero key"));
            }
            out.push((k.id, Aes256GcmSiv::new(&k.key.into())));
        }
        Ok(ClientCache { keys: out, clock })
    }

    /// The id of the key that seals new tokens.
    pub fn sealing_key_id(&self) -> u32 {
        self.keys[0].0
    }

    /// Seals `record` with expiry `expires` into a token.
    pub fn seal(&self, expires: f64, record: &[u8]) -> Result<String> {
        if expires.is_nan() {
            return Err(Error::InvalidArgument("expires is NaN"));
        }
        if record.len() > MAX_CLIENT_RECORD_LEN {
            return Err(Error::TooLarge {
                what: "client-side session record",
                limit: MAX_CLIENT_RECORD_LEN,
            });
        }
        let (key_id, cipher) = &self.keys[0];
        let mut raw = Vec::with_capacity(CLIENT_TOKEN_OVERHEAD + record.len());
        raw.push(FORMAT);
        raw.extend_from_slice(&key_id.to_be_bytes());
        raw.extend_from_slice(&expires.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        SysRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| Error::Backend("the OS random generator failed".into()))?;
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(record);
        let (head, body) = raw.split_at_mut(HEADER_LEN + NONCE_LEN);
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &head[..HEADER_LEN], body.into())
            .map_err(|_| Error::Backend("sealing failed".into()))?;
        raw.extend_from_slice(&tag);
        Ok(TOKEN_BASE64.encode_to_string(&raw))
    }

    /// Opens a token: its expiry and record, or `None` when it is malformed, sealed
    /// with an unknown key or tampered with. The expiry is not checked here.
    pub fn open(&self, token: &str) -> Option<(f64, Vec<u8>)> {
        let mut buf = RAW_BUF;
        let (expires, raw) = self.authentic_header(token, &mut buf)?;
        let record = self.decrypt(raw)?;
        Some((expires, raw[record].to_vec()))
    }

    /// Decodes the token into `buf` and reads its header; `None` when it cannot be
    /// ours. Answers the expiry and the decoded token.
    fn authentic_header<'b>(
        &self,
        token: &str,
        buf: &'b mut RawBuf,
    ) -> Option<(f64, &'b mut [u8])> {
        // Base64 of the smallest token (empty record); a token over the id limit never
        // reaches a cache (1007), but the check costs nothing.
        let min_len = (CLIENT_TOKEN_OVERHEAD * 4).div_ceil(3);
        if token.len() < min_len || token.len() > MAX_SESSION_ID_LEN {
            return None;
        }
        // At most MAX_RAW_LEN bytes for a token within the id limit.
        let raw = TOKEN_BASE64
            .decode(
                token.as_bytes(),
                base64_simd::Out::from_uninit_slice(&mut buf[..]),
            )
            .ok()?;
        if raw.len() < CLIENT_TOKEN_OVERHEAD || raw[0] != FORMAT {
            return None;
        }
        let expires = f64::from_be_bytes(raw[5..HEADER_LEN].try_into().ok()?);
        if expires.is_nan() {
            return None;
        }
        Some((expires, raw))
    }

    /// Authenticates and decrypts, in place, a token whose header was read: where in
    /// `raw` the record now is.
    fn decrypt(&self, raw: &mut [u8]) -> Option<Range<usize>> {
        let key_id = u32::from_be_bytes(raw[1..5].try_into().ok()?);
        let cipher = &self.keys.iter().find(|(id, _)| *id == key_id)?.1;
        let tag_at = raw.len() - TAG_LEN;
        let tag = Tag::try_from(&raw[tag_at..]).ok()?;
        let (head, rest) = raw.split_at_mut(HEADER_LEN + NONCE_LEN);
        let nonce = Nonce::try_from(&head[HEADER_LEN..]).ok()?;
        let body = &mut rest[..tag_at - HEADER_LEN - NONCE_LEN];
        cipher
            .decrypt_inout_detached(&nonce, &head[..HEADER_LEN], body.into(), &tag)
            .ok()?;
        Some(HEADER_LEN + NONCE_LEN..tag_at)
    }

    /// Opens a live token into `buf`: its expiry and record (read where it was
    /// decrypted), or `None` when it does not open or has expired at `now`.
    fn open_live<'b>(&self, token: &str, now: f64, buf: &'b mut RawBuf) -> Option<(f64, &'b [u8])> {
        let (expires, raw) = self.authentic_header(token, buf)?;
        // Expired tokens are refused before any decryption.
        if expires <= now {
            return None;
        }
        let record = self.decrypt(raw)?;
        Some((expires, &raw[record]))
    }
}

impl SessionCache for ClientCache {
    /// Seals `record` and answers the token as the new id (`id`, `user_id` and `mode`
    /// play no part: a token never collides).
    fn store(
        &self,
        _id: &str,
        _user_id: &str,
        expires: f64,
        record: &[u8],
        _mode: StoreMode,
    ) -> Result<Option<String>> {
        self.seal(expires, record).map(Some)
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let mut buf = RAW_BUF;
        Ok(self
            .open_live(id, self.clock.now(), &mut buf)
            .map(|(_, record)| record.to_vec()))
    }

    /// Seals the session's record, with a placeholder in the record's id field (the
    /// token is the id).
    fn store_session(&self, session: &Session, _mode: StoreMode) -> Result<Option<String>> {
        let mut inner = session.clone();
        inner.set_id(INNER_ID)?;
        let record = inner.export()?;
        self.seal(session.expires(), &record).map(Some)
    }

    /// Opens, checks expiry, decodes. With `renew`: when the renewal target is ahead of
    /// the sealed expiry by more than the slack ([`Renewal::renewed_expiry`]), the
    /// expiry is left unreported so
    /// the manager renews and writes back (a new token); otherwise the sealed expiry is
    /// reported and nothing is written. A token that opens but does not decode is an
    /// error (it was sealed by a server with one of our keys).
    fn load_session_renew(
        &self,
        id: &str,
        renew: Option<Renewal>,
    ) -> Result<Option<(Session, Option<f64>)>> {
        let now = match renew.and_then(|r| r.system_now) {
            Some(now) if self.clock.is_system() => now,
            _ => self.clock.now(),
        };
        let mut buf = RAW_BUF;
        let Some((expires, record)) = self.open_live(id, now, &mut buf) else {
            return Ok(None);
        };
        // Known by its token: the session gets that id as it is built.
        let session = Session::import_as(record, id)?;
        let reported = match renew {
            Some(r) => {
                // Past the slack: unreported, so the manager renews (a new token).
                match r.renewed_expiry(session.user_id(), expires) {
                    Some(_) => None,
                    None => Some(expires),
                }
            }
            None => Some(expires),
        };
        Ok(Some((session, reported)))
    }

    /// Nothing can be revoked: succeeds, and the token stays valid until its expiry.
    fn remove(&self, _id: &str) -> Result<()> {
        Ok(())
    }

    /// Unsupported: there is no server-side list of a user's tokens.
    fn remove_user(&self, _user_id: &str) -> Result<u64> {
        Err(Error::Unsupported(
            "remove_user (client-side sessions cannot be revoked)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::clock::ManualClock;
    use crate::core::manager::{Manager, ManagerConfig};
    use crate::core::password::PasswordPolicy;
    use crate::core::value::Value;
    use crate::MemoryAccountStore;

    const NOW: f64 = 1_000_000.0;

    fn key(id: u32, byte: u8) -> ClientKey {
        ClientKey {
            id,
            key: [byte; 32],
        }
    }

    fn cache_at(keys: &[ClientKey], clock: &Arc<ManualClock>) -> ClientCache {
        ClientCache::with_clock(keys, clock.clone()).unwrap()
    }

    fn session(user: &str, expires: f64) -> Session {
        let mut s = Session::new(user, expires).unwrap();
        s.set_key(Some("k3yK3yk3yK3yk3yK3yk3yA")).unwrap();
        s.set("name", Value::from("alice")).unwrap();
        s
    }

    fn store(cache: &ClientCache, s: &Session) -> String {
        cache
            .store_session(s, StoreMode::CreateNew)
            .unwrap()
            .unwrap()
    }

    fn load(cache: &ClientCache, token: &str) -> Option<Session> {
        cache
            .load_session_renew(token, None)
            .unwrap()
            .map(|(s, _)| s)
    }

    #[test]
    fn round_trip_and_token_shape() {
        let clock = Arc::new(ManualClock::new(NOW));
        let cache = cache_at(&[key(7, 1)], &clock);
        let s = session("alice", NOW + 60.0);
        let token = store(&cache, &s);
        assert!(token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        crate::core::id::validate_session_id(&token).unwrap();
        let back = load(&cache, &token).unwrap();
        assert_eq!(back.user_id(), "alice");
        assert_eq!(back.expires(), NOW + 60.0);
        assert_eq!(back.key(), Some("k3yK3yk3yK3yk3yK3yk3yA"));
        assert_eq!(back.get("name"), Some(&Value::from("alice")));
        // Fresh nonce every time: the same session never gives the same token.
        assert_ne!(store(&cache, &s), token);
        // The raw path: load gives the record, with the placeholder id.
        let record = cache.load(&token).unwrap().unwrap();
        assert_eq!(Session::import(&record).unwrap().id(), INNER_ID);
    }

    #[test]
    fn saving_a_loaded_session_does_not_grow_the_token() {
        let clock = Arc::new(ManualClock::new(NOW));
        let cache = cache_at(&[key(1, 1)], &clock);
        let mut s = session("alice", NOW + 60.0);
        let first = store(&cache, &s);
        s.set_id(&first).unwrap();
        let second = store(&cache, &s);
        assert_eq!(first.len(), second.len());
    }

    #[test]
    fn tampered_wrong_key_and_garbage_are_not_found() {
        let clock = Arc::new(ManualClock::new(NOW));
        let cache = cache_at(&[key(1, 1)], &clock);
        let token = store(&cache, &session("", NOW + 60.0));
        // Every single-character change is refused.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 0..token.len() {
            let mut t = token.clone().into_bytes();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            if URL_SAFE_NO_PAD.decode(&t).ok() == URL_SAFE_NO_PAD.decode(&token).ok() {
                continue; // the last character's unused bits
            }
            assert!(load(&cache, &t).is_none(), "tampered at {i}");
        }
        // Truncated, extended, another key with the same id, another id.
        assert!(load(&cache, &token[..token.len() - 1]).is_none());
        assert!(load(&cache, &format!("{token}AA")).is_none());
        let other = cache_at(&[key(1, 2)], &clock);
        assert!(load(&other, &token).is_none());
        let other_id = cache_at(&[key(2, 1)], &clock);
        assert!(load(&other_id, &token).is_none());
        // Garbage of every length never panics.
        for len in 0..300 {
            let g: String = (0..len)
                .map(|i| alphabet[(i * 7 + len) % alphabet.len()] as char)
                .collect();
            assert!(load(&cache, &g).is_none());
            assert!(cache.load(&g).unwrap().is_none());
        }
        assert!(load(&cache, "not base64 !").is_none());
        assert!(load(&cache, "IpHYzcMQQR5-wnN4pmHJNQ").is_none());
    }

    #[test]
    fn rotation_old_tokens_open_new_ones_use_the_new_key() {
        let clock = Arc::new(ManualClock::new(NOW));
        let old = cache_at(&[key(1, 1)], &clock);
        let old_token = store(&old, &session("bob", NOW + 60.0));
        let rotated = cache_at(&[key(2, 2), key(1, 1)], &clock);
        assert_eq!(rotated.sealing_key_id(), 2);
        assert_eq!(load(&rotated, &old_token).unwrap().user_id(), "bob");
        let new_token = store(&rotated, &session("bob", NOW + 60.0));
        let raw = URL_SAFE_NO_PAD.decode(&new_token).unwrap();
        assert_eq!(u32::from_be_bytes(raw[1..5].try_into().unwrap()), 2);
        // A server that has not got the new key yet cannot open it; once the old key is
        // dropped, old tokens stop opening.
        assert!(load(&old, &new_token).is_none());
        let only_new = cache_at(&[key(2, 2)], &clock);
        assert!(load(&only_new, &old_token).is_none());
        assert!(load(&only_new, &new_token).is_some());
    }

    #[test]
    fn tokens_at_the_id_limit_decode_on_the_stack_without_panicking() {
        let clock = Arc::new(ManualClock::new(NOW));
        let cache = cache_at(&[key(1, 1)], &clock);
        for len in [
            MAX_SESSION_ID_LEN - 2,
            MAX_SESSION_ID_LEN - 1,
            MAX_SESSION_ID_LEN,
        ] {
            // Well-formed base64 of the longest lengths (a length of 4n+1 is not).
            let token = "A".repeat(len);
            assert_eq!(cache.open(&token), None, "{len} characters");
            assert!(load(&cache, &token).is_none(), "{len} characters");
        }
        assert_eq!(cache.open(&"A".repeat(MAX_SESSION_ID_LEN + 1)), None);
    }

    #[test]
    fn expired_tokens_are_not_found() {
        let clock = Arc::new(ManualClock::new(NOW));
        let cache = cache_at(&[key(1, 1)], &clock);
        let token = store(&cache, &session("bob", NOW + 60.0));
        clock.advance(59.0);
        assert!(load(&cache, &token).is_some());
        clock.advance(1.0);
        assert!(load(&cache, &token).is_none());
        assert!(cache.load(&token).unwrap().is_none());
    }

    #[test]
    fn oversize_state_is_too_large_and_limits_hold() {
        let clock = Arc::new(ManualClock::new(NOW));
        let cache = cache_at(&[key(1, 1)], &clock);
        let mut s = session("bob", NOW + 60.0);
        s.set("blob", Value::Bytes(vec![7; MAX_CLIENT_RECORD_LEN]))
            .unwrap();
        assert!(matches!(
            cache.store_session(&s, StoreMode::Upsert),
            Err(Error::TooLarge { .. })
        ));
        // The largest record makes a token of at most the id limit.
        let t = cache
            .seal(NOW + 1.0, &vec![0; MAX_CLIENT_RECORD_LEN])
            .unwrap();
        assert!(t.len() <= MAX_SESSION_ID_LEN);
        crate::core::id::validate_session_id(&t).unwrap();
        assert!(cache.seal(f64::NAN, b"x").is_err());
    }

    #[test]
    fn keys_are_checked() {
        let clock = Arc::new(ManualClock::new(NOW));
        let c = |keys: &[ClientKey]| ClientCache::with_clock(keys, clock.clone());
        assert!(c(&[]).is_err());
        assert!(c(&[key(1, 1), key(1, 2)]).is_err());
        assert!(c(&[key(1, 0)]).is_err());
        let many: Vec<_> = (0..=MAX_CLIENT_KEYS as u32).map(|i| key(i, 1)).collect();
        assert!(c(&many).is_err());
        assert!(!format!("{:?}", key(1, 0xab)).contains("171"));
    }

    fn manager(cache: ClientCache, clock: &Arc<ManualClock>) -> Manager {
        manager_with(cache, clock, ManagerConfig::default())
    }

    fn manager_with(cache: ClientCache, clock: &Arc<ManualClock>, base: ManagerConfig) -> Manager {
        let config = ManagerConfig {
            passwords: PasswordPolicy {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            ..base
        };
        Manager::with_clock(
            Arc::new(cache),
            Arc::new(MemoryAccountStore::new()),
            config,
            clock.clone(),
        )
        .unwrap()
    }

    #[test]
    fn through_the_manager() {
        let clock = Arc::new(ManualClock::new(NOW));
        let m = manager(cache_at(&[key(1, 1)], &clock), &clock);
        m.create_account("alice", "pw", &[]).unwrap();
        let mut s = m.login("alice", "pw").unwrap();
        let token = s.id().to_owned();
        assert!(token.len() > 100);
        // Verify a signed request with the token as the session id.
        let mac = s.sign_request(b"POST", b"/x", b"{}").unwrap();
        let v = m
            .verify_request(&token, mac.as_bytes(), b"POST", b"/x", b"{}")
            .unwrap();
        assert_eq!(v.id(), token, "no renewal within the granularity");
        // A save gives a new token; both open (the old one with the old state).
        s.set("n", Value::Integer(1)).unwrap();
        assert!(m.save_session(&mut s).unwrap());
        assert_ne!(s.id(), token);
        let fresh = m.retrieve_session(s.id()).unwrap().unwrap();
        assert_eq!(fresh.get("n"), Some(&Value::Integer(1)));
        assert_eq!(m.retrieve_session(&token).unwrap().unwrap().get("n"), None);
        // Renewal past the granularity (1 % of 365 days is 3.65 days): a new token.
        clock.advance(5.0 * 86400.0);
        let renewed = m.retrieve_session(s.id()).unwrap().unwrap();
        assert_ne!(renewed.id(), s.id());
        assert_eq!(renewed.expires(), NOW + 5.0 * 86400.0 + 365.0 * 86400.0);
        assert!(m.retrieve_session(renewed.id()).unwrap().is_some());
        // Logout cannot revoke; log out everywhere is unsupported.
        m.remove_session(renewed.id()).unwrap();
        assert!(m.retrieve_session(renewed.id()).unwrap().is_some());
        assert!(matches!(
            m.clear_sessions("alice"),
            Err(Error::Unsupported(_))
        ));
        // Rotation and a password change work (the current session gets a new token).
        let mut cur = renewed.clone();
        m.rotate_session(&mut cur).unwrap();
        assert_ne!(cur.id(), renewed.id());
        m.change_password("alice", "pw", "pw2", Some(&mut cur))
            .unwrap();
        assert!(m.retrieve_session(cur.id()).unwrap().is_some());
        // Expired: not found, and garbage ids are 1007 or not found, never a panic.
        clock.advance(400.0 * 86400.0);
        assert!(m.retrieve_session(cur.id()).unwrap().is_none());
        assert!(m.retrieve_session("garbage").unwrap().is_none());
        assert_eq!(
            m.verify_request(&"x".repeat(5000), b"m", b"POST", b"/", b"")
                .unwrap_err(),
            Error::InvalidSessionId
        );
    }

    #[test]
    fn granularity_zero_reissues_on_every_renewal() {
        let clock = Arc::new(ManualClock::new(NOW));
        let config = ManagerConfig {
            renew_granularity: 0.0,
            ..ManagerConfig::default()
        };
        let m = manager_with(cache_at(&[key(1, 1)], &clock), &clock, config);
        let s = m.create_session("", false).unwrap();
        clock.advance(1.0);
        let again = m.retrieve_session(s.id()).unwrap().unwrap();
        assert_ne!(again.id(), s.id());
    }
}
