//! Session ids and keys as Toto makes them: the 16 bytes of a UUIDv4, base64 with
//! `-` and `_`, padding dropped: 22 characters.
//!
//! Randomness: [`crate::core::rng`], a thread-local CSPRNG seeded from the OS and reseeded
//! after `fork()` (no system call per id; a forked child never repeats its parent).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::core::error::{Error, Result};
use crate::core::limits::MAX_SESSION_ID_LEN;

/// Length of a generated id.
pub const ID_LEN: usize = 22;

/// Encodes 16 bytes the way Toto encodes a UUID into a session id.
pub fn id_from_bytes(bytes: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A fresh random session id (also used as a per-session HMAC key).
pub fn generate_id() -> String {
    let mut bytes = crate::core::rng::bytes::<16>();
    // The UUIDv4 layout Toto's `uuid.uuid4()` has: version 4, RFC 4122 variant.
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    id_from_bytes(&bytes)
}

/// Checks a session id that came from outside: 1 to [`MAX_SESSION_ID_LEN`] bytes of
/// printable ASCII without spaces. Anything else is Toto's 1007.
pub fn validate_session_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_SESSION_ID_LEN {
        return Err(Error::InvalidSessionId);
    }
    // No early exit, so the loop vectorizes: a client-side token is hundreds of bytes
    // and is checked on every request.
    let ok = id.bytes().fold(true, |ok, b| ok & b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSessionId)
    }
}

/// Which of `shards` shards (locks, maps) `id` falls in: FNV-1a of its last 8 bytes,
/// where ids differ (random ones anywhere, a host's numbered ones at the end), so
/// picking a shard costs a few instructions whatever the id's length. Ids may come
/// from clients, but this only spreads them: a map inside a shard hashes with its own
/// random key against flooding.
pub fn id_shard(id: &str, shards: usize) -> usize {
    let bytes = id.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &bytes[bytes.len().saturating_sub(8)..] {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % shards as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shard_stays_in_range_and_reads_the_last_eight_bytes() {
        for n in [1usize, 7, 16, 64] {
            for i in 0..200 {
                assert!(id_shard(&format!("session-{i}"), n) < n);
            }
        }
        // Only the end picks the shard: ids alike there share it.
        assert_eq!(
            id_shard("aaaa-12345678", 16),
            id_shard("bbbbbbbb-12345678", 16)
        );
        assert_eq!(id_shard("", 16), id_shard("", 16));
        let spread: std::collections::HashSet<usize> = (0..64)
            .map(|i| id_shard(&format!("user-{i:04}"), 16))
            .collect();
        assert!(spread.len() > 8, "numbered ids spread over the shards");
    }

    #[test]
    fn generated_ids_are_22_url_safe_chars_and_distinct() {
        let a = generate_id();
        let b = generate_id();
        assert_eq!(a.len(), ID_LEN);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        // UUIDv4: version nibble is 4.
        let raw = URL_SAFE_NO_PAD.decode(&a).unwrap();
        assert_eq!(raw[6] >> 4, 4);
        assert_eq!(raw[8] >> 6, 2, "RFC 4122 variant");
    }

    #[test]
    fn session_id_validation() {
        assert!(validate_session_id("IpHYzcMQQR5-wnN4pmHJNQ").is_ok());
        assert_eq!(validate_session_id(""), Err(Error::InvalidSessionId));
        assert_eq!(validate_session_id("a b"), Err(Error::InvalidSessionId));
        assert_eq!(
            validate_session_id(&"x".repeat(MAX_SESSION_ID_LEN + 1)),
            Err(Error::InvalidSessionId)
        );
        assert!(validate_session_id(&"x".repeat(MAX_SESSION_ID_LEN)).is_ok());
    }
}
