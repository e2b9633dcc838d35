//! The one error type of the core. Every fallible core call returns [`Result`].
//!
//! Messages never contain secrets (keys, passwords, hashes): they name what was
//! wrong, not the value that was wrong.

use std::fmt;

/// Why a core operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An argument was malformed (empty where it must not be, wrong characters...).
    InvalidArgument(&'static str),
    /// An input was larger than the library accepts.
    TooLarge { what: &'static str, limit: usize },
    /// The requested key, session or property does not exist.
    NotFound,
    /// A typed getter met a value of another type (or out of the getter's range).
    TypeMismatch {
        expected: &'static str,
        found: &'static str,
    },
    /// Bytes that should be CBOR (a record, a value) could not be decoded.
    Decode(String),
    /// A record envelope from a newer (or unknown) version of the library.
    UnsupportedVersion(u64),
    /// Text that should be JSON could not be parsed, or a value cannot be shown as JSON.
    Json(String),
    /// A backend (cache or account store) reported a failure; the text is its own.
    Backend(String),
    /// A backend could not be reached in time (down, refusing, timing out); retrying
    /// later may succeed.
    Unavailable(String),
    /// A backend broke its contract (e.g. answered with an invalid id).
    BackendMisbehaved(String),
    /// A backend does not implement an optional operation.
    Unsupported(&'static str),
    /// A store in create-only mode found the id already taken.
    IdCollision,
    /// A save found its session gone: removed (logout), rotated away, cleared (password
    /// change, remove_user) or expired. It is not brought back.
    Revoked,
    /// A save found a newer revision of the session than the one it loaded (another
    /// request saved in between); nothing was written. Retrieve again, reapply, save.
    Conflict,
    /// Toto 1004: not authorized.
    NotAuthorized,
    /// Toto 1005: unknown user or wrong password (deliberately one code for both).
    InvalidCredentials,
    /// Toto 1006: the user id is already in use.
    UserIdExists,
    /// Toto 1007: the session id is unknown, expired or malformed.
    InvalidSessionId,
    /// Toto 1008: the HMAC did not verify (or key, mac or message was empty).
    InvalidHmac,
    /// Toto 1010: the user id is empty or malformed.
    InvalidUserId,
}

/// Shorthand used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::TooLarge { what, limit } => write!(f, "{what} is larger than {limit} bytes"),
            Error::NotFound => f.write_str("not found"),
            Error::TypeMismatch { expected, found } => {
                write!(f, "type mismatch: expected {expected}, found {found}")
            }
            Error::Decode(msg) => write!(f, "malformed CBOR: {msg}"),
            Error::UnsupportedVersion(v) => write!(f, "unsupported record version {v}"),
            Error::Json(msg) => write!(f, "JSON: {msg}"),
            Error::Backend(msg) => write!(f, "backend failed: {msg}"),
            Error::Unavailable(msg) => write!(f, "backend unavailable: {msg}"),
            Error::BackendMisbehaved(msg) => write!(f, "backend broke its contract: {msg}"),
            Error::Unsupported(op) => write!(f, "backend does not support {op}"),
            Error::IdCollision => f.write_str("session id already in use"),
            Error::Revoked => f.write_str("session was removed or expired; not saved"),
            Error::Conflict => {
                f.write_str("session was saved by someone else since it was loaded; not saved")
            }
            Error::NotAuthorized => f.write_str("Not authorized"),
            Error::InvalidCredentials => f.write_str("Invalid user ID or password"),
            Error::UserIdExists => f.write_str("User ID already in use."),
            Error::InvalidSessionId => f.write_str("Invalid session ID"),
            Error::InvalidHmac => f.write_str("Invalid HMAC"),
            Error::InvalidUserId => f.write_str("Invalid user ID."),
        }
    }
}

impl std::error::Error for Error {}
