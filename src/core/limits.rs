//! Size limits on everything the library buffers. Inputs over a limit are refused
//! with [`crate::Error::TooLarge`] before any work is done on them.

/// Longest session id accepted (generated ids are 22 bytes; caches may rename).
pub const MAX_SESSION_ID_LEN: usize = 128;
/// Longest user id accepted.
pub const MAX_USER_ID_LEN: usize = 256;
/// Longest per-session HMAC key accepted.
pub const MAX_KEY_LEN: usize = 256;
/// Longest state key or account property name accepted.
pub const MAX_NAME_LEN: usize = 1024;
/// Largest encoded record (and so the largest state) accepted: 1 MiB.
pub const MAX_RECORD_LEN: usize = 1 << 20;
/// Largest single value (CBOR or JSON text) accepted: the record limit.
pub const MAX_VALUE_LEN: usize = MAX_RECORD_LEN;
/// Largest message (method + uri + body, or id + body) signed or verified: 64 MiB.
pub const MAX_MESSAGE_LEN: usize = 64 << 20;
/// Deepest nesting of arrays/maps accepted in a value.
pub const MAX_DEPTH: usize = 64;
