//! A session: id, user id, expiry, optional per-session HMAC key and a typed state map.
//!
//! A `Session` is a plain value: it is `Send` (move it between threads) but meant to be
//! used by one thread at a time. Changes mark it dirty until it is saved.
//!
//! Its parts are shared, not copied: cloning a session (or handing one out of the
//! memory cache) shares the id, user id, key and state, and the first change to the
//! state copies the state alone (copy-on-write). The id, user id and key are never
//! changed in place (a new one replaces them), so text borrowed from them stays where it
//! is while the session holds it. The key carries its keyed HMAC state, so a session's
//! key is set up once per process rather than once per request.

use std::sync::{Arc, OnceLock};

use crate::core::error::{Error, Result};
use crate::core::id::{generate_id, validate_session_id};
use crate::core::limits::{MAX_DEPTH, MAX_KEY_LEN, MAX_NAME_LEN, MAX_USER_ID_LEN};
use crate::core::record::{Record, RecordIn, RecordRef, RECORD_VERSION};
use crate::core::sign::{MacText, Signer};
use crate::core::state_map::StateMap;
use crate::core::value::Value;

/// A session and its state.
#[derive(Clone)]
pub struct Session {
    /// Id, user id, key and state in one shared allocation: handing a session out of
    /// a cache (and dropping it) is one reference count, not four (atomic counts were
    /// most of an in-memory retrieve's time).
    shared: Arc<Parts>,
    expires: f64,
    dirty: bool,
    /// The revision of the record this session was loaded from or last stored as;
    /// `None` for a session never stored (see [`Session::revision`]).
    revision: Option<u64>,
}

/// The shared, copy-on-write part of a session.
///
/// `repr(C)`, id first: a retrieve from a cache that keeps sessions decoded touches the
/// reference count (the `Arc`'s header) and then the id; laid out this way they share a
/// cache line in most allocations. In Rust's own order the id came 64 bytes after the
/// count, always on another line: one more memory miss per retrieve from a large cache
/// (100 k sessions: about a quarter of the retrieve's time).
#[repr(C)]
struct Parts {
    id: Arc<str>,
    user_id: Arc<str>,
    key: Option<Arc<SessionKey>>,
    state: StateMap,
}

impl Clone for Parts {
    fn clone(&self) -> Parts {
        Parts {
            id: self.id.clone(),
            user_id: self.user_id.clone(),
            key: self.key.clone(),
            state: self.state.clone(),
        }
    }

    /// Shares the source's id, user id and key (an `Arc` already the same one is left
    /// as it is: two reference counts fewer) and copies its state into this one's
    /// buffers.
    fn clone_from(&mut self, source: &Parts) {
        if !Arc::ptr_eq(&self.id, &source.id) {
            self.id = source.id.clone();
        }
        if !Arc::ptr_eq(&self.user_id, &source.user_id) {
            self.user_id = source.user_id.clone();
        }
        let same_key = match (&self.key, &source.key) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same_key {
            self.key = source.key.clone();
        }
        self.state.clone_from(&source.state);
    }
}

/// Most heap a spare copy may hold (see [`SPARE`]): a state of ordinary size; a larger
/// one is freed rather than kept by an idle thread.
const SPARE_MAX_HEAP: usize = 16 * 1024;

thread_local! {
    /// Parts a save released on this thread (a memory cache replacing a session's
    /// previous copy, held nowhere else), kept for the thread's next copy-on-write:
    /// a request's first change copies the state into these buffers instead of
    /// allocating new ones, and the save that follows frees nothing. Load, change, save
    /// on one thread is what an HTTP server does per request. At most one per thread,
    /// kept for the thread's life: its state of at most [`SPARE_MAX_HEAP`] bytes of
    /// heap, besides the parts themselves and the released session's id, user id and
    /// key, which it holds (as freed memory would, unzeroed) until the next copy.
    static SPARE: std::cell::Cell<Option<Arc<Parts>>> = const { std::cell::Cell::new(None) };
}

/// A session's HMAC key and the HMAC state keyed with it, set up on first use.
pub(crate) struct SessionKey {
    key: Box<str>,
    /// Boxed: keyed HMAC state is a few hundred bytes, and most sessions a cache holds
    /// are never signed with in this process.
    signer: OnceLock<Box<Signer>>,
}

impl SessionKey {
    fn new(key: &str) -> Arc<SessionKey> {
        Arc::new(SessionKey {
            key: key.into(),
            signer: OnceLock::new(),
        })
    }
}

/// What a cache that keeps sessions decoded holds: the id, user id, key and state,
/// shared copy-on-write with the sessions handed out, so a retrieve neither decodes
/// nor copies. Part of the core's API for caches (the built-in memory cache uses it; a
/// Rust cache of yours may too): get it from [`Session::shared_parts`], rebuild a
/// session with [`Session::from_parts`] or [`Session::from_shared_parts`].
#[derive(Clone)]
pub struct SharedParts {
    shared: Arc<Parts>,
}

impl SharedParts {
    /// The user id of the session these parts are from.
    pub fn user_id(&self) -> &str {
        &self.shared.user_id
    }

    /// Drops these parts; when nothing else holds them and they are of ordinary size
    /// they become this thread's spare (see [`SPARE`]), replacing the one it had.
    pub(crate) fn release(mut self) {
        let Some(parts) = Arc::get_mut(&mut self.shared) else {
            return;
        };
        if parts.state.heap_bytes() > SPARE_MAX_HEAP {
            return;
        }
        // A thread being torn down has no spare: the parts are freed here.
        let _ = SPARE.try_with(|spare| spare.set(Some(self.shared)));
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.shared.id)
            .field("user_id", &self.shared.user_id)
            .field("expires", &self.expires)
            .field("key", &self.shared.key.as_ref().map(|_| "<redacted>"))
            .field("state_keys", &self.shared.state.keys().collect::<Vec<_>>())
            .field("dirty", &self.dirty)
            .finish()
    }
}

impl PartialEq for Session {
    fn eq(&self, other: &Self) -> bool {
        self.expires == other.expires
            && (Arc::ptr_eq(&self.shared, &other.shared)
                || (self.shared.id == other.shared.id
                    && self.shared.user_id == other.shared.user_id
                    && self.key() == other.key()
                    && self.shared.state == other.shared.state))
    }
}

/// Toto's user-id rule: lowercased; empty means anonymous.
pub fn normalize_user_id(user_id: &str) -> Result<String> {
    let too_large = || Error::TooLarge {
        what: "user id",
        limit: MAX_USER_ID_LEN,
    };
    if user_id.len() > MAX_USER_ID_LEN {
        return Err(too_large());
    }
    // Lowercasing can lengthen text ("İ" is 2 bytes, "i̇" 3): the limit applies to the
    // stored form, so an accepted id always round-trips through a record.
    let lower = user_id.to_lowercase();
    if lower.len() > MAX_USER_ID_LEN {
        return Err(too_large());
    }
    Ok(lower)
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("an HMAC key must not be empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::TooLarge {
            what: "HMAC key",
            limit: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// An expiry must be a finite number: NaN would make the session neither live nor
/// expired, and +inf a session that never expires (-inf one that never lived).
pub(crate) fn check_expires(expires: f64) -> Result<()> {
    if !expires.is_finite() {
        return Err(Error::InvalidArgument("expires must be a finite number"));
    }
    Ok(())
}

/// A decoded record's id, expiry, user id and key, checked like arguments (a bad one is
/// a decode error).
fn check_record_fields(id: &str, exp: f64, user: &str, key: Option<&str>) -> Result<()> {
    let bad = |what: &str| Error::Decode(format!("record has an invalid {what}"));
    validate_session_id(id).map_err(|_| bad("session id"))?;
    check_expires(exp).map_err(|_| bad("expiry"))?;
    if user.len() > MAX_USER_ID_LEN {
        return Err(bad("user id"));
    }
    if let Some(k) = key {
        check_key(k).map_err(|_| bad("key"))?;
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    if name.len() > MAX_NAME_LEN {
        return Err(Error::TooLarge {
            what: "state key",
            limit: MAX_NAME_LEN,
        });
    }
    Ok(())
}

impl Session {
    /// A new session with a fresh random id. `user_id` is normalized (lowercased).
    pub fn new(user_id: &str, expires: f64) -> Result<Session> {
        Session::with_id(&generate_id(), user_id, expires)
    }

    /// A new session with a given id (validated like an id from a request).
    pub fn with_id(id: &str, user_id: &str, expires: f64) -> Result<Session> {
        validate_session_id(id)?;
        check_expires(expires)?;
        Ok(Session {
            shared: Arc::new(Parts {
                id: id.into(),
                user_id: normalize_user_id(user_id)?.into(),
                key: None,
                state: StateMap::new(),
            }),
            expires,
            dirty: true,
            revision: None,
        })
    }

    /// The state, copied first if another session shares it.
    fn state_mut(&mut self) -> &mut StateMap {
        &mut self.parts_mut().state
    }

    /// The shared parts, copied first if another session (or a cache) shares them.
    fn parts_mut(&mut self) -> &mut Parts {
        // A count above one: shared (a plain load; make_mut below decides for sure).
        if Arc::strong_count(&self.shared) != 1 {
            // Copy into this thread's spare parts, when it has some.
            if let Some(mut spare) = SPARE.try_with(std::cell::Cell::take).ok().flatten() {
                if let Some(parts) = Arc::get_mut(&mut spare) {
                    parts.clone_from(&self.shared);
                    self.shared = spare;
                }
            }
        }
        Arc::make_mut(&mut self.shared)
    }

    /// The id, shared (a cache may keep it rather than a copy: the memory cache's
    /// table entries do).
    pub fn shared_id(&self) -> &Arc<str> {
        &self.shared.id
    }

    /// The user id, shared (a cache's per-user index may keep it).
    pub fn shared_user_id(&self) -> &Arc<str> {
        &self.shared.user_id
    }

    /// The parts a cache that keeps sessions decoded holds (see [`SharedParts`]).
    pub fn shared_parts(&self) -> SharedParts {
        SharedParts {
            shared: self.shared.clone(),
        }
    }

    /// True when both sessions hold the same state (not a copy).
    #[cfg(test)]
    pub(crate) fn shares_state_with(&self, other: &Session) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A clean session from shared parts (from a cache that keeps sessions decoded),
    /// with the id and user id they hold.
    pub fn from_parts(parts: SharedParts, expires: f64, revision: u64) -> Session {
        Session {
            shared: parts.shared,
            expires,
            dirty: false,
            revision: Some(revision),
        }
    }

    /// [`Session::from_parts`] under a given id and user id (the parts are copied when
    /// these differ from the ones they hold).
    pub fn from_shared_parts(
        id: Arc<str>,
        user_id: Arc<str>,
        parts: SharedParts,
        expires: f64,
        revision: u64,
    ) -> Session {
        let mut session = Session::from_parts(parts, expires, revision);
        if *session.shared.id != *id || *session.shared.user_id != *user_id {
            let p = session.parts_mut();
            p.id = id;
            p.user_id = user_id;
        }
        session
    }

    /// The revision of the record this session was loaded from, or last stored as (0
    /// for a session never stored, and for records written before revisions existed).
    /// A save through the manager writes revision + 1 only over that same revision.
    pub fn revision(&self) -> u64 {
        self.revision.unwrap_or(0)
    }

    /// True when the session came from a cache (loaded or imported from a record) or
    /// was stored: a save then replaces that stored record, and never re-creates it.
    /// False for a session made with [`Session::new`] / [`Session::with_id`] and not
    /// stored yet: a save creates it.
    pub fn is_stored(&self) -> bool {
        self.revision.is_some()
    }

    /// Records that the session is stored as `revision` (after a successful store).
    pub(crate) fn set_revision(&mut self, revision: Option<u64>) {
        self.revision = revision;
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }
    /// Replaces the id (rotation, or a cache that renamed it). Marks the session dirty.
    pub fn set_id(&mut self, id: &str) -> Result<()> {
        validate_session_id(id)?;
        if *self.shared.id != *id {
            self.parts_mut().id = id.into();
            self.dirty = true;
        }
        Ok(())
    }
    /// The (lowercased) user id; empty for an anonymous session.
    pub fn user_id(&self) -> &str {
        &self.shared.user_id
    }
    /// True when no user is bound.
    pub fn is_anonymous(&self) -> bool {
        self.shared.user_id.is_empty()
    }
    /// Expiry in Unix seconds.
    pub fn expires(&self) -> f64 {
        self.expires
    }
    /// Sets the expiry. Marks the session dirty when it changes. NaN and ±infinity
    /// are [`Error::InvalidArgument`] (the session is left as it was).
    pub fn set_expires(&mut self, expires: f64) -> Result<()> {
        check_expires(expires)?;
        if self.expires != expires {
            self.expires = expires;
            self.dirty = true;
        }
        Ok(())
    }
    /// True when `now` is at or past the expiry.
    pub fn is_expired(&self, now: f64) -> bool {
        self.expires <= now
    }
    /// The per-session HMAC key, if any.
    pub fn key(&self) -> Option<&str> {
        self.shared.key.as_ref().map(|k| &*k.key)
    }
    /// Sets or clears the per-session HMAC key.
    pub fn set_key(&mut self, key: Option<&str>) -> Result<()> {
        if let Some(k) = key {
            check_key(k)?;
        }
        self.parts_mut().key = key.map(SessionKey::new);
        self.dirty = true;
        Ok(())
    }
    /// Generates and sets a random key the way Toto does at login; returns it.
    pub fn generate_key(&mut self) -> &str {
        self.dirty = true;
        let key = self.parts_mut().key.insert(SessionKey::new(&generate_id()));
        &key.key
    }

    /// The value under `name`; `None` when missing (a stored null is `Some(Null)`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.shared.state.get(name)
    }
    /// Stores a value.
    pub fn set(&mut self, name: &str, value: Value) -> Result<()> {
        check_name(name)?;
        if value.depth() > MAX_DEPTH {
            return Err(Error::InvalidArgument("value nested too deeply"));
        }
        self.state_mut().insert(name, value);
        self.dirty = true;
        Ok(())
    }
    /// Stores text: as `set(name, Value::Text(text.to_owned()))`, reusing the buffer of
    /// the text value it replaces when it can (see [`StateMap::insert_text`]).
    pub fn set_text(&mut self, name: &str, text: &str) -> Result<()> {
        check_name(name)?;
        self.state_mut().insert_text(name, text);
        self.dirty = true;
        Ok(())
    }
    /// Stores bytes, as [`Session::set_text`] does text.
    pub fn set_bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        check_name(name)?;
        self.state_mut().insert_bytes(name, bytes);
        self.dirty = true;
        Ok(())
    }
    /// Removes a value; a missing key is fine (returns `None`).
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        if !self.shared.state.contains_key(name) {
            return None;
        }
        self.dirty = true;
        self.state_mut().remove(name)
    }
    /// True when `name` is present (even as null).
    pub fn contains(&self, name: &str) -> bool {
        self.shared.state.contains_key(name)
    }
    /// Number of state entries.
    pub fn len(&self) -> usize {
        self.shared.state.len()
    }
    /// True when the state is empty.
    pub fn is_empty(&self) -> bool {
        self.shared.state.is_empty()
    }
    /// State keys in sorted order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.shared.state.keys()
    }
    /// The `index`-th key in sorted order.
    pub fn key_at(&self, index: usize) -> Option<&str> {
        self.shared.state.entry_at(index).map(|(k, _)| k)
    }
    /// Removes every state entry.
    pub fn clear(&mut self) {
        if !self.shared.state.is_empty() {
            self.state_mut().clear();
            self.dirty = true;
        }
    }
    /// The whole state map.
    pub fn state(&self) -> &StateMap {
        &self.shared.state
    }

    /// True when the session changed since it was created, loaded or marked clean.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
    /// Marks the session as saved.
    pub fn mark_clean(&mut self) {
        self.dirty = false;
    }

    fn record_ref(&self) -> RecordRef<'_> {
        RecordRef {
            v: RECORD_VERSION,
            id: &self.shared.id,
            user: &self.shared.user_id,
            exp: self.expires,
            key: self.key(),
            state: &self.shared.state,
            rev: self.revision(),
        }
    }

    /// Encodes the session as a record blob (see [`crate::core::record`]).
    pub fn export(&self) -> Result<Vec<u8>> {
        self.record_ref().encode()
    }

    /// Checks that [`Session::export`] would not refuse the session as too large,
    /// without encoding it into memory (for a cache that keeps sessions decoded).
    pub fn check_record_len(&self) -> Result<()> {
        self.record_ref().check_len()
    }

    /// Decodes a record blob into a clean session. The record's fields are checked
    /// like arguments (id, user id, key); a bad one is a decode error.
    pub fn import(bytes: &[u8]) -> Result<Session> {
        Session::import_under(bytes, None)
    }

    /// [`Session::import`] giving the session `id` instead of the record's own (a
    /// cache whose entries are known by another id than the one inside them, e.g. a
    /// client-side token): one copy of the id instead of two.
    pub(crate) fn import_as(bytes: &[u8], id: &str) -> Result<Session> {
        validate_session_id(id)?;
        Session::import_under(bytes, Some(id))
    }

    fn import_under(bytes: &[u8], id: Option<&str>) -> Result<Session> {
        let record = RecordIn::decode(bytes)?;
        let bad = |what: &str| Error::Decode(format!("record has an invalid {what}"));
        check_record_fields(&record.id, record.exp, &record.user, record.key.as_deref())?;
        if record.state.keys().any(|k| k.len() > MAX_NAME_LEN) {
            return Err(bad("state key"));
        }
        // No depth check of the values: the decoder refused input nested deeper than
        // the record's two levels plus MAX_DEPTH (codec::MAX_NESTING).
        Ok(Session {
            shared: Arc::new(Parts {
                id: Arc::from(id.unwrap_or(&record.id)),
                user_id: Arc::from(&*record.user),
                key: record.key.as_deref().map(SessionKey::new),
                state: record.state,
            }),
            expires: record.exp,
            dirty: false,
            revision: Some(record.rev),
        })
    }

    /// Builds a clean session from a decoded record.
    pub fn from_record(record: Record) -> Result<Session> {
        let bad = |what: &str| Error::Decode(format!("record has an invalid {what}"));
        check_record_fields(&record.id, record.exp, &record.user, record.key.as_deref())?;
        if record.state.keys().any(|k| k.len() > MAX_NAME_LEN) {
            return Err(bad("state key"));
        }
        if record.state.values().any(|v| v.depth() > MAX_DEPTH) {
            return Err(bad("state value (nested too deeply)"));
        }
        Ok(Session {
            shared: Arc::new(Parts {
                id: record.id.into(),
                user_id: record.user.into(),
                key: record.key.as_deref().map(SessionKey::new),
                state: record.state,
            }),
            expires: record.exp,
            dirty: false,
            revision: Some(record.rev),
        })
    }

    /// The session's signer, keyed once and cached. Without a key: Toto's 1008.
    pub fn signer(&self) -> Result<&Signer> {
        let key = self.shared.key.as_deref().ok_or(Error::InvalidHmac)?;
        if let Some(s) = key.signer.get() {
            return Ok(s);
        }
        let signer = Signer::new(key.key.as_bytes())?;
        Ok(key.signer.get_or_init(|| Box::new(signer)))
    }
    /// Toto's `session.hmac(message)`.
    pub fn hmac(&self, message: &[u8]) -> Result<MacText> {
        self.signer()?.sign(message)
    }
    /// Toto's `session.verify(mac, message)`, constant-time.
    pub fn verify(&self, mac: &[u8], message: &[u8]) -> Result<()> {
        self.signer()?.verify(mac, message)
    }
    /// Checks a request's `x-toto-hmac` (METHOD + URI + BODY).
    pub fn verify_request(&self, mac: &[u8], method: &[u8], uri: &[u8], body: &[u8]) -> Result<()> {
        self.signer()?.verify_request(mac, method, uri, body)
    }
    /// Signs a request the way a Toto client does (METHOD + URI + BODY).
    pub fn sign_request(&self, method: &[u8], uri: &[u8], body: &[u8]) -> Result<MacText> {
        self.signer()?.sign_request(method, uri, body)
    }
    /// The response `x-toto-hmac` for `body`: HMAC of this session's id + body.
    pub fn sign_response(&self, body: &[u8]) -> Result<MacText> {
        self.signer()?
            .sign_response(self.shared.id.as_bytes(), body)
    }
    /// Checks a response's `x-toto-hmac` (client side).
    pub fn verify_response(&self, mac: &[u8], body: &[u8]) -> Result<()> {
        self.signer()?
            .verify_response(mac, self.shared.id.as_bytes(), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falsy_values_read_back_as_themselves() {
        let mut s = Session::new("Bob", 10.0).unwrap();
        assert_eq!(s.user_id(), "bob");
        s.set("f", Value::Bool(false)).unwrap();
        s.set("z", Value::Integer(0)).unwrap();
        s.set("e", Value::Text(String::new())).unwrap();
        s.set("n", Value::Null).unwrap();
        assert_eq!(s.get("f"), Some(&Value::Bool(false)));
        assert_eq!(s.get("z"), Some(&Value::Integer(0)));
        assert_eq!(s.get("e"), Some(&Value::Text(String::new())));
        assert_eq!(s.get("n"), Some(&Value::Null));
        assert_eq!(s.get("missing"), None);
        assert!(s.contains("n") && !s.contains("missing"));
    }

    #[test]
    fn export_import_round_trip_and_dirty_flag() {
        let mut s = Session::new("", 99.5).unwrap();
        assert!(s.is_anonymous() && s.is_dirty());
        s.set_key(Some("k3y")).unwrap();
        s.set(
            "cart",
            Value::Array(vec![Value::Integer(1), Value::Bytes(vec![0])]),
        )
        .unwrap();
        let back = Session::import(&s.export().unwrap()).unwrap();
        assert_eq!(back, s);
        assert!(!back.is_dirty());
        let mut back = back;
        assert!(back.remove("missing").is_none());
        assert!(!back.is_dirty(), "removing a missing key changes nothing");
        back.set_expires(99.5).unwrap();
        assert!(!back.is_dirty(), "same expiry changes nothing");
        back.remove("cart");
        assert!(back.is_dirty());
    }

    #[test]
    fn set_text_and_bytes_never_write_into_shared_state() {
        let mut a = Session::new("u", 99.5).unwrap();
        a.set_text("t", "first value").unwrap();
        a.set_bytes("b", b"first").unwrap();
        let (id, user) = (a.id().to_owned(), a.user_id().to_owned());
        let b = a.clone(); // shares the parts, as a memory cache does
        a.set_text("t", "other value").unwrap();
        a.set_bytes("b", b"other").unwrap();
        assert_eq!(a.get("t"), Some(&Value::Text("other value".into())));
        assert_eq!(a.get("b"), Some(&Value::Bytes(b"other".to_vec())));
        assert_eq!(b.get("t"), Some(&Value::Text("first value".into())));
        assert_eq!(b.get("b"), Some(&Value::Bytes(b"first".to_vec())));
        assert_eq!((a.id(), a.user_id()), (id.as_str(), user.as_str()));
        assert!(matches!(
            a.set_text(&"k".repeat(MAX_NAME_LEN + 1), "v"),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            a.set_bytes(&"k".repeat(MAX_NAME_LEN + 1), b"v"),
            Err(Error::TooLarge { .. })
        ));
        let mut c = Session::import(&a.export().unwrap()).unwrap();
        assert!(!c.is_dirty());
        c.set_text("t", "other value").unwrap();
        assert!(c.is_dirty(), "a text set marks the session dirty");
    }

    #[test]
    fn user_ids_that_grow_when_lowercased_are_measured_after() {
        let grows = "İ".repeat(128); // 256 bytes, 384 once lowercased
        assert!(matches!(
            Session::new(&grows, 1.0),
            Err(Error::TooLarge { .. })
        ));
        let fits = "İ".repeat(85); // 255 bytes lowercased
        let s = Session::new(&fits, 1.0).unwrap();
        assert_eq!(Session::import(&s.export().unwrap()).unwrap(), s);
    }

    #[test]
    fn nan_expiry_is_refused() {
        assert!(matches!(
            Session::new("u", f64::NAN),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn keys_len_clear() {
        let mut s = Session::new("u", 1.0).unwrap();
        s.set("b", 1i64.into()).unwrap();
        s.set("a", 2i64.into()).unwrap();
        assert_eq!(s.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.key_at(1), Some("b"));
        assert_eq!(s.key_at(2), None);
        assert_eq!(s.len(), 2);
        s.clear();
        assert!(s.is_empty());
    }

    #[test]
    fn signing_needs_a_key_and_follows_key_changes() {
        let mut s = Session::new("u", 1.0).unwrap();
        assert_eq!(s.hmac(b"m"), Err(Error::InvalidHmac));
        s.set_key(Some("one")).unwrap();
        let m1 = s.hmac(b"m").unwrap();
        s.set_key(Some("two")).unwrap();
        assert_ne!(
            s.hmac(b"m").unwrap(),
            m1,
            "cached signer must follow the key"
        );
        assert_eq!(s.verify(m1.as_bytes(), b"m"), Err(Error::InvalidHmac));
        let generated = s.generate_key().to_owned();
        assert_eq!(generated.len(), 22);
        assert!(!format!("{s:?}").contains(&generated));
    }

    #[test]
    fn clones_share_until_changed() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<Session>();
        let mut a = Session::new("u", 1.0).unwrap();
        a.set("n", 1i64.into()).unwrap();
        let mut b = a.clone();
        assert!(a.shares_state_with(&b));
        b.set("n", 2i64.into()).unwrap();
        b.set_key(Some("k")).unwrap();
        assert_eq!(a.get("n"), Some(&Value::from(1i64)));
        assert_eq!(a.key(), None);
        assert_eq!(b.get("n"), Some(&Value::from(2i64)));
        // Expiry is per session, not shared.
        b.set_expires(5.0).unwrap();
        assert_eq!(a.expires(), 1.0);
    }

    #[test]
    fn expiries_must_be_finite() {
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(Session::new("u", bad).is_err(), "{bad}");
            let mut s = Session::new("u", 10.0).unwrap();
            s.mark_clean();
            assert!(matches!(s.set_expires(bad), Err(Error::InvalidArgument(_))));
            assert_eq!(s.expires(), 10.0);
            assert!(!s.is_dirty());
            let mut r = Record::decode(&s.export().unwrap()).unwrap();
            r.exp = bad;
            assert!(matches!(Session::from_record(r), Err(Error::Decode(_))));
        }
    }

    /// Empties this thread's spare, so a test starts from none.
    fn no_spare() {
        SPARE.with(std::cell::Cell::take);
    }

    fn has_spare() -> bool {
        SPARE.with(|spare| {
            let held = spare.take();
            let some = held.is_some();
            spare.set(held);
            some
        })
    }

    #[test]
    fn a_spare_takes_the_next_copy_and_keeps_nothing_of_its_own() {
        no_spare();
        let mut old = Session::new("old-user", 10.0).unwrap();
        old.set_key(Some("old-key")).unwrap();
        for (name, value) in [
            ("gone", "g".repeat(100)),
            ("a", "aa".into()),
            ("z", "zz".into()),
        ] {
            old.set(name, Value::Text(value)).unwrap();
        }
        old.set("n", Value::from(7i64)).unwrap();
        let spare = Arc::as_ptr(&old.shared);
        let parts = old.shared_parts();
        drop(old);
        parts.release();
        assert!(has_spare());

        let mut s = Session::new("new-user", 20.0).unwrap();
        s.set_key(Some("new-key")).unwrap();
        s.set("a", Value::from(1i64)).unwrap();
        s.set("b", Value::from("text")).unwrap();
        s.set("c", Value::Array(vec![Value::from("x"), Value::Null]))
            .unwrap();
        let held = s.shared_parts(); // as a cache holds it: the next change copies
        s.set("d", Value::from(2.5)).unwrap();
        assert_eq!(
            Arc::as_ptr(&s.shared),
            spare,
            "the copy went into the spare"
        );
        assert!(!has_spare());
        assert_eq!(s.user_id(), "new-user");
        assert!(Arc::ptr_eq(s.shared_id(), &held.shared.id));
        assert_eq!(s.key(), Some("new-key"));
        let mut want = held.shared.state.clone();
        want.insert("d", Value::from(2.5));
        assert_eq!(s.shared.state, want);
        assert_eq!(s.get("gone"), None);
        assert_eq!(s.get("z"), None);
        assert_eq!(s.shared.state.len(), 4);
        // The cache's copy is untouched.
        assert_eq!(held.shared.state.get("d"), None);
        assert_eq!(held.shared.state.len(), 3);
    }

    #[test]
    fn parts_held_elsewhere_or_large_are_never_spare() {
        no_spare();
        let mut s = Session::new("u", 10.0).unwrap();
        s.set("t", Value::from("still here")).unwrap();
        let reader = s.clone(); // another handle on the same parts
        let parts = s.shared_parts();
        drop(s);
        parts.release();
        assert!(!has_spare());
        let mut other = Session::new("v", 10.0).unwrap();
        other.set("t", Value::from("other")).unwrap();
        let _held = other.shared_parts();
        other.set("t", Value::from("changed")).unwrap();
        assert_eq!(reader.get("t"), Some(&Value::from("still here")));

        // Large in one value, or spread over nested ones.
        let mut big = Session::new("u", 10.0).unwrap();
        big.set("t", Value::Text("b".repeat(SPARE_MAX_HEAP)))
            .unwrap();
        let mut nested = Session::new("u", 10.0).unwrap();
        let kib = || Value::Text("n".repeat(1024));
        let inner = Value::Map(vec![(Value::from("k"), Value::Array(vec![kib(); 8]))]);
        nested
            .set("a", Value::Array(vec![kib(), inner, kib()]))
            .unwrap();
        nested.set("b", Value::Array(vec![kib(); 7])).unwrap();
        for s in [big, nested] {
            assert!(s.shared.state.heap_bytes() > SPARE_MAX_HEAP);
            let parts = s.shared_parts();
            drop(s);
            parts.release();
            assert!(!has_spare());
        }
    }

    #[test]
    fn a_spare_takes_the_sources_key_or_its_absence() {
        for (spare_key, source_key) in [(Some("old-key"), None), (None, Some("new-key"))] {
            no_spare();
            let mut old = Session::new("old", 10.0).unwrap();
            old.set_key(spare_key).unwrap();
            let parts = old.shared_parts();
            drop(old);
            parts.release();
            let mut s = Session::new("new", 10.0).unwrap();
            s.set_key(source_key).unwrap();
            let _held = s.shared_parts();
            s.set("n", Value::from(1i64)).unwrap();
            assert!(!has_spare(), "the spare was taken");
            assert_eq!(s.key(), source_key);
        }
    }

    #[test]
    fn import_refuses_bad_fields() {
        let mut r = Record::decode(&Session::new("u", 1.0).unwrap().export().unwrap()).unwrap();
        r.id = "has space".into();
        assert!(matches!(Session::from_record(r), Err(Error::Decode(_))));
    }
}
