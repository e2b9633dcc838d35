//! `toto_result`: the code every fallible C function returns.

use std::ffi::c_char;

use crate::core::error::Error;

/// The outcome of a call. `TOTO_RESULT_OK` (0) is success; codes 1..99 are the library's
/// own; 1004..1010 keep Toto's numbers so servers can put them on the wire unchanged.
/// `toto_result_message()` gives a fixed English text for any code.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotoResult {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL (or NULL with a non-zero length).
    NullArgument = 1,
    /// A text argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// An input was over the library's size limit (ids, keys, names, values, records).
    TooLarge = 3,
    /// An argument was malformed (e.g. an empty name where one is required, a bad vtable).
    InvalidArgument = 4,
    /// The key, property, session or record does not exist.
    NotFound = 5,
    /// A typed getter found a value of another type (or outside the getter's range).
    TypeMismatch = 6,
    /// Bytes that should be CBOR (a record or value) could not be decoded.
    InvalidCbor = 7,
    /// A session record written by an unknown (newer) version of the library.
    UnsupportedVersion = 8,
    /// Text that should be JSON could not be parsed, or a value has no JSON form.
    InvalidJson = 9,
    /// A backend (cache or account store) reported a failure; see the toto_error details.
    BackendFailed = 10,
    /// A backend broke its contract (bad id returned, result set twice, ...).
    BackendMisbehaved = 11,
    /// The backend does not implement this optional operation.
    Unsupported = 12,
    /// A create-only store found the session id taken.
    IdCollision = 13,
    /// The pointer is not a live handle of the expected type (caught where cheap).
    InvalidHandle = 14,
    /// A Rust panic was caught at the boundary; the handle involved is still valid.
    Panic = 15,
    /// A backend could not be reached in time (down, refusing connections, timing
    /// out); the same handle works again once it is back.
    BackendUnavailable = 16,
    /// A save found its session gone: removed (logout), rotated away, cleared
    /// (toto_manager_clear_sessions, a password change) or expired. Nothing was
    /// written and the session is not brought back; treat it as logged out.
    SessionRevoked = 17,
    /// A save found that the session was saved by someone else since this handle
    /// loaded it (a concurrent request). Nothing was written: retrieve the session
    /// again, reapply the change and save (see toto_manager_save_session).
    Conflict = 18,
    /// Toto 1004: not authorized.
    NotAuthorized = 1004,
    /// Toto 1005: invalid user id or password (unknown user and bad password alike).
    InvalidCredentials = 1005,
    /// Toto 1006: user id already in use.
    UserIdExists = 1006,
    /// Toto 1007: invalid (unknown, expired or malformed) session id.
    InvalidSessionId = 1007,
    /// Toto 1008: invalid HMAC.
    InvalidHmac = 1008,
    /// Toto 1010: invalid user id.
    InvalidUserId = 1010,
}

const ALL_RESULTS: [TotoResult; 25] = [
    TotoResult::Ok,
    TotoResult::NullArgument,
    TotoResult::InvalidUtf8,
    TotoResult::TooLarge,
    TotoResult::InvalidArgument,
    TotoResult::NotFound,
    TotoResult::TypeMismatch,
    TotoResult::InvalidCbor,
    TotoResult::UnsupportedVersion,
    TotoResult::InvalidJson,
    TotoResult::BackendFailed,
    TotoResult::BackendMisbehaved,
    TotoResult::Unsupported,
    TotoResult::IdCollision,
    TotoResult::InvalidHandle,
    TotoResult::Panic,
    TotoResult::BackendUnavailable,
    TotoResult::SessionRevoked,
    TotoResult::Conflict,
    TotoResult::NotAuthorized,
    TotoResult::InvalidCredentials,
    TotoResult::UserIdExists,
    TotoResult::InvalidSessionId,
    TotoResult::InvalidHmac,
    TotoResult::InvalidUserId,
];

impl TotoResult {
    /// Every code, for tests and tables.
    pub fn all() -> [TotoResult; 25] {
        ALL_RESULTS
    }

    /// The code for a raw number, if it is one.
    pub fn from_u32(code: u32) -> Option<TotoResult> {
        ALL_RESULTS.iter().copied().find(|r| *r as u32 == code)
    }

    /// The fixed message of this code, NUL-terminated.
    pub fn message(self) -> &'static str {
        match self {
            TotoResult::Ok => "OK\0",
            TotoResult::NullArgument => "a required pointer argument was NULL\0",
            TotoResult::InvalidUtf8 => "text argument is not valid UTF-8\0",
            TotoResult::TooLarge => "input is larger than the library accepts\0",
            TotoResult::InvalidArgument => "invalid argument\0",
            TotoResult::NotFound => "not found\0",
            TotoResult::TypeMismatch => "value has another type\0",
            TotoResult::InvalidCbor => "malformed CBOR\0",
            TotoResult::UnsupportedVersion => "unsupported session record version\0",
            TotoResult::InvalidJson => "invalid JSON\0",
            TotoResult::BackendFailed => "backend failed\0",
            TotoResult::BackendMisbehaved => "backend broke its contract\0",
            TotoResult::Unsupported => "operation not supported by this backend\0",
            TotoResult::IdCollision => "session id already in use\0",
            TotoResult::InvalidHandle => "not a live handle of the expected type\0",
            TotoResult::Panic => "internal error (panic caught at the C boundary)\0",
            TotoResult::BackendUnavailable => "backend unavailable\0",
            TotoResult::SessionRevoked => "session was removed or expired; not saved\0",
            TotoResult::Conflict => "session was saved by someone else since it was loaded\0",
            TotoResult::NotAuthorized => "Not authorized\0",
            TotoResult::InvalidCredentials => "Invalid user ID or password\0",
            TotoResult::UserIdExists => "User ID already in use.\0",
            TotoResult::InvalidSessionId => "Invalid session ID\0",
            TotoResult::InvalidHmac => "Invalid HMAC\0",
            TotoResult::InvalidUserId => "Invalid user ID.\0",
        }
    }
}

impl From<&Error> for TotoResult {
    fn from(e: &Error) -> Self {
        match e {
            Error::InvalidArgument(_) => TotoResult::InvalidArgument,
            Error::TooLarge { .. } => TotoResult::TooLarge,
            Error::NotFound => TotoResult::NotFound,
            Error::TypeMismatch { .. } => TotoResult::TypeMismatch,
            Error::Decode(_) => TotoResult::InvalidCbor,
            Error::UnsupportedVersion(_) => TotoResult::UnsupportedVersion,
            Error::Json(_) => TotoResult::InvalidJson,
            Error::Backend(_) => TotoResult::BackendFailed,
            Error::Unavailable(_) => TotoResult::BackendUnavailable,
            Error::BackendMisbehaved(_) => TotoResult::BackendMisbehaved,
            Error::Unsupported(_) => TotoResult::Unsupported,
            Error::IdCollision => TotoResult::IdCollision,
            Error::Revoked => TotoResult::SessionRevoked,
            Error::Conflict => TotoResult::Conflict,
            Error::NotAuthorized => TotoResult::NotAuthorized,
            Error::InvalidCredentials => TotoResult::InvalidCredentials,
            Error::UserIdExists => TotoResult::UserIdExists,
            Error::InvalidSessionId => TotoResult::InvalidSessionId,
            Error::InvalidHmac => TotoResult::InvalidHmac,
            Error::InvalidUserId => TotoResult::InvalidUserId,
        }
    }
}

/// Toto's texts for the protocol codes its server (1000..1003) and clients (1009)
/// produce, which no library call returns but a server puts on the wire.
fn protocol_message(code: u32) -> Option<&'static str> {
    Some(match code {
        1000 => "Server error\0",
        1001 => "Invalid method\0",
        1002 => "Missing method.\0",
        1003 => "Missing parameters\0",
        1009 => "Invalid response HMAC\0",
        _ => return None,
    })
}

/// The fixed English message for a result code, or for one of Toto's protocol codes
/// that no call returns but a server sends: 1000 "Server error", 1001 "Invalid
/// method", 1002 "Missing method.", 1003 "Missing parameters", 1009 "Invalid response
/// HMAC" (Toto's own texts; 1001 and 1003 carry details on Toto's wire).
///
/// Ownership: returns a static NUL-terminated string; never free it.
/// Thread safety: any thread.
/// Errors: an unknown code gives "unknown result code"; never NULL.
#[no_mangle]
pub extern "C" fn toto_result_message(code: u32) -> *const c_char {
    TotoResult::from_u32(code)
        .map(TotoResult::message)
        .or_else(|| protocol_message(code))
        .unwrap_or("unknown result code\0")
        .as_ptr()
        .cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_and_has_a_message() {
        for code in TotoResult::all() {
            assert_eq!(TotoResult::from_u32(code as u32), Some(code));
            assert!(code.message().ends_with('\0') && code.message().len() > 1);
        }
        assert_eq!(TotoResult::from_u32(999), None);
        assert_eq!(TotoResult::InvalidHmac as u32, 1008);
    }

    #[test]
    fn toto_protocol_codes_have_totos_texts() {
        let text = |code| {
            // SAFETY: toto_result_message returns a static NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(toto_result_message(code)) }
                .to_str()
                .unwrap()
        };
        assert_eq!(text(1000), "Server error");
        assert_eq!(text(1001), "Invalid method");
        assert_eq!(text(1002), "Missing method.");
        assert_eq!(text(1003), "Missing parameters");
        assert_eq!(text(1009), "Invalid response HMAC");
        assert_eq!(text(1004), "Not authorized");
        assert_eq!(text(999), "unknown result code");
    }
}
