//! One-shot signing with an explicit key (sessions cache a keyed signer instead).

use std::ffi::c_char;

use crate::core::limits::{MAX_KEY_LEN, MAX_MESSAGE_LEN};
use crate::core::sign::{self, MAC_LEN};
use crate::ffi::args;
use crate::ffi::boundary::run_plain;
use crate::ffi::result::TotoResult;

/// Bytes needed for a base64 HMAC-SHA1 plus its NUL (28 + 1).
pub const TOTO_MAC_BUFFER_LEN: usize = 29;
const _: () = assert!(TOTO_MAC_BUFFER_LEN == MAC_LEN + 1);

/// Computes Toto's `hmac(message)`: base64(HMAC-SHA1(key, message)), 28 characters, and
/// writes it plus a NUL into `out`.
///
/// Ownership: all inputs are borrowed for the call; `out` is the caller's buffer of
/// `capacity` bytes (at least TOTO_MAC_BUFFER_LEN).
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_HMAC (empty key), TOTO_RESULT_TOO_LARGE (key over 256
/// bytes, message over 64 MiB), TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_ARGUMENT
/// (capacity too small).
#[no_mangle]
pub extern "C" fn toto_hmac(
    key: *const u8,
    key_len: usize,
    message: *const u8,
    message_len: usize,
    out: *mut c_char,
    capacity: usize,
) -> TotoResult {
    run_plain(|| {
        let key = args::bytes(key, key_len, "key", MAX_KEY_LEN)?;
        let message = args::bytes(message, message_len, "message", MAX_MESSAGE_LEN)?;
        args::write_c_string(out, capacity, &sign::hmac(key, message)?)
    })
}

/// Toto's `verify(mac, message)` with an explicit key, compared in constant time.
///
/// Ownership: all inputs are borrowed for the call.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_HMAC when the key, mac or message is empty or the mac
/// does not match; TOTO_RESULT_TOO_LARGE; TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_verify(
    key: *const u8,
    key_len: usize,
    mac: *const c_char,
    mac_len: usize,
    message: *const u8,
    message_len: usize,
) -> TotoResult {
    run_plain(|| {
        let key = args::bytes(key, key_len, "key", MAX_KEY_LEN)?;
        let mac = args::bytes(mac.cast(), mac_len, "mac", MAX_MESSAGE_LEN)?;
        let message = args::bytes(message, message_len, "message", MAX_MESSAGE_LEN)?;
        Ok(sign::verify(key, mac, message)?)
    })
}
