//! The library's size limits under their C names. Each equals the core constant it
//! mirrors (checked at compile time below); they are literals so cbindgen can print them.

use crate::core::limits;

/// Longest session id accepted, in bytes (generated ids are 22; client-side tokens,
/// see toto_cache_new_client_side, are longer).
pub const TOTO_MAX_SESSION_ID_LEN: usize = 4000;
/// Longest user id accepted, in bytes.
pub const TOTO_MAX_USER_ID_LEN: usize = 256;
/// Longest per-session HMAC key accepted, in bytes.
pub const TOTO_MAX_KEY_LEN: usize = 256;
/// Longest state key or account property name accepted, in bytes.
pub const TOTO_MAX_NAME_LEN: usize = 1024;
/// Largest session record (and so state) and largest single value accepted: 1 MiB.
pub const TOTO_MAX_RECORD_LEN: usize = 1048576;
/// Largest message signed or verified (method + uri + body): 64 MiB.
pub const TOTO_MAX_MESSAGE_LEN: usize = 67108864;
/// Deepest nesting of arrays/maps accepted in a value.
pub const TOTO_MAX_DEPTH: usize = 64;
/// Longest text toto_session_object_json writes, without its NUL: a buffer of
/// TOTO_MAX_SESSION_OBJECT_JSON_LEN + 1 bytes always suffices.
pub const TOTO_MAX_SESSION_OBJECT_JSON_LEN: usize = 9601;

const _: () = assert!(TOTO_MAX_SESSION_ID_LEN == limits::MAX_SESSION_ID_LEN);
const _: () = assert!(TOTO_MAX_USER_ID_LEN == limits::MAX_USER_ID_LEN);
const _: () = assert!(TOTO_MAX_KEY_LEN == limits::MAX_KEY_LEN);
const _: () = assert!(TOTO_MAX_NAME_LEN == limits::MAX_NAME_LEN);
const _: () = assert!(TOTO_MAX_RECORD_LEN == limits::MAX_RECORD_LEN);
const _: () = assert!(TOTO_MAX_RECORD_LEN == limits::MAX_VALUE_LEN);
const _: () = assert!(TOTO_MAX_MESSAGE_LEN == limits::MAX_MESSAGE_LEN);
const _: () = assert!(TOTO_MAX_DEPTH == limits::MAX_DEPTH);
const _: () = assert!(
    TOTO_MAX_SESSION_OBJECT_JSON_LEN == crate::core::session_object::MAX_SESSION_OBJECT_JSON_LEN
);
