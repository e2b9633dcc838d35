//! Library version and id generation.

use std::ffi::c_char;

use crate::core::id;
use crate::ffi::args;
use crate::ffi::boundary::run_plain;
use crate::ffi::result::TotoResult;

/// Bytes needed for a generated id plus its NUL (22 + 1).
pub const TOTO_ID_BUFFER_LEN: usize = 23;
const _: () = assert!(TOTO_ID_BUFFER_LEN == id::ID_LEN + 1);

/// The library's version, e.g. "0.1.0"; equal to TOTO_SESSION_VERSION when the header
/// and the library match.
///
/// Ownership: static NUL-terminated string; never free it.
/// Thread safety: any thread. Errors: none.
#[no_mangle]
pub extern "C" fn toto_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Writes a fresh random id (Toto's format: 22 url-safe characters from a UUIDv4, from
/// a CSPRNG seeded by the OS) and a NUL into `out`.
///
/// Ownership: `out` is the caller's buffer of `capacity` bytes.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NULL_ARGUMENT (out NULL), TOTO_RESULT_INVALID_ARGUMENT
/// (capacity < TOTO_ID_BUFFER_LEN).
#[no_mangle]
pub extern "C" fn toto_generate_id(out: *mut c_char, capacity: usize) -> TotoResult {
    run_plain(|| args::write_c_string(out, capacity, &id::generate_id()))
}
