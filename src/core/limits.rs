//! Size limits on everything the library buffers. Inputs over a limit are refused
//! with [`crate::Error::TooLarge`] before any work is done on them.

/// Longest session id accepted: 4000 bytes. Generated ids are 22 bytes, but a cache may
/// rename a session, and the client-side cache's ids are the sealed sessions themselves
/// (`crate::backend::ClientCache`). 4000 is the base64 of 3000 bytes, and
/// `toto-session-id=` plus 4000 characters still fits a browser's 4096-byte cookie.
pub const MAX_SESSION_ID_LEN: usize = 4000;
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
