//! `toto_session_*` state access: the typed map of a session.
//!
//! Every call here: one thread at a time per session; the session handle is checked
//! (TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE); names are UTF-8 of at most
//! 1024 bytes (TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE). Getters return
//! TOTO_RESULT_NOT_FOUND for a missing key (a stored null is found, with type
//! TOTO_VALUE_TYPE_NULL) and TOTO_RESULT_TYPE_MISMATCH for a value of another type.
//! Setters copy their inputs and mark the session dirty.

use std::ffi::c_char;

use crate::core::limits::{MAX_NAME_LEN, MAX_VALUE_LEN};
use crate::core::value::Value;
use crate::ffi::args;
use crate::ffi::boundary::{run, run_plain, run_value, FfiResult, TotoError};
use crate::ffi::bytes::TotoBytes;
use crate::ffi::result::TotoResult;
use crate::ffi::session::{session_mut, session_ref, TotoSession};
use crate::ffi::value_io::{self, name, TotoScalar, TotoValueType, ValueRead, ValueWrite};

impl ValueRead for *const TotoSession {
    fn lookup<'a>(self, key: *const c_char, key_len: usize) -> FfiResult<Option<&'a Value>> {
        let s = session_ref(self)?;
        Ok(s.get(name(key, key_len)?))
    }
}

impl ValueWrite for *mut TotoSession {
    fn store(
        self,
        key: *const c_char,
        key_len: usize,
        value: impl FnOnce() -> FfiResult<Value>,
    ) -> FfiResult {
        let s = session_mut(self)?;
        let name = name(key, key_len)?;
        Ok(s.set(name, value()?)?)
    }

    fn store_text<'t>(
        self,
        key: *const c_char,
        key_len: usize,
        text: impl FnOnce() -> FfiResult<&'t str>,
    ) -> FfiResult {
        let s = session_mut(self)?;
        let name = name(key, key_len)?;
        Ok(s.set_text(name, text()?)?)
    }

    fn store_bytes<'b>(
        self,
        key: *const c_char,
        key_len: usize,
        bytes: impl FnOnce() -> FfiResult<&'b [u8]>,
    ) -> FfiResult {
        let s = session_mut(self)?;
        let name = name(key, key_len)?;
        Ok(s.set_bytes(name, bytes()?)?)
    }
}

/// Number of state entries.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_len(session: *const TotoSession, out: *mut usize) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        args::write(out, session_ref(session)?.len());
        Ok(())
    })
}

/// Borrows the `index`-th state key in sorted (byte) order, for iteration from 0 to
/// toto_session_len() - 1.
/// Ownership: points into the session; valid until the session's state, id or key
/// changes (a change of the id or key may move the state), or the session is freed.
/// Errors: TOTO_RESULT_NOT_FOUND (index past the end), TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_key_at(
    session: *const TotoSession,
    index: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        let key = session_ref(session)?
            .key_at(index)
            .ok_or(crate::Error::NotFound)?;
        args::write_view(out_ptr.cast(), out_len, key.as_bytes())
    })
}

/// Tells whether `key` is present (a stored null counts as present).
#[no_mangle]
pub extern "C" fn toto_session_contains(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut bool,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let present = session.lookup(key, key_len)?.is_some();
        args::write(out, present);
        Ok(())
    })
}

/// Removes `key`; a missing key is not an error (as in Toto).
#[no_mangle]
pub extern "C" fn toto_session_delete(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_mut(session)?;
        s.remove(name(key, key_len)?);
        Ok(())
    })
}

/// Removes every state entry.
#[no_mangle]
pub extern "C" fn toto_session_clear(session: *mut TotoSession) -> TotoResult {
    run_plain(|| {
        session_mut(session)?.clear();
        Ok(())
    })
}

/// The type of the value under `key`.
#[no_mangle]
pub extern "C" fn toto_session_get_type(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoValueType,
) -> TotoResult {
    run_plain(|| value_io::get_type(session, key, key_len, out))
}

/// Reads any value's type and, for a scalar (null, bool, integer, float, text, bytes),
/// the value itself, in one call (see toto_scalar). Text and bytes are borrowed views:
/// valid until the session's state, id or key changes (a change of the id or key may
/// move the state), or the session is freed.
#[no_mangle]
pub extern "C" fn toto_session_get_scalar(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoScalar,
) -> TotoResult {
    run_plain(|| value_io::get_scalar(session, key, key_len, out))
}

/// As toto_session_get_scalar, with `key` a NUL-terminated string, and returning at
/// once what a caller reads first, so a binding whose every memory read costs a call
/// (Ruby's ffi) reads `out` at most once per value. Keys holding a NUL byte need
/// toto_session_get_scalar.
///
/// Returns, on success (>= 0): bits 0-7 the toto_value_type, bit 8 the bool's value,
/// bit 9 set when an integer fits in `out->integer`, bits 16 and up the length of text
/// or bytes (`out->len`); `out` is filled as toto_session_get_scalar fills it. On
/// failure: the toto_result negated (-TOTO_RESULT_NOT_FOUND for a missing key, and the
/// errors of toto_session_get_scalar).
/// Ownership: as toto_session_get_scalar (text and bytes are borrowed views).
/// Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_get_scalar_z(
    session: *const TotoSession,
    key: *const c_char,
    out: *mut TotoScalar,
) -> i64 {
    run_value(|| {
        let key_len = args::z_len(key, "name", MAX_NAME_LEN)?;
        value_io::get_scalar_packed(session, key, key_len, out)
    })
}

/// Reads a bool.
#[no_mangle]
pub extern "C" fn toto_session_get_bool(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut bool,
) -> TotoResult {
    run_plain(|| value_io::get_bool(session, key, key_len, out))
}

/// Reads an integer that fits in int64 (TOTO_RESULT_TYPE_MISMATCH for other integers).
#[no_mangle]
pub extern "C" fn toto_session_get_i64(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut i64,
) -> TotoResult {
    run_plain(|| value_io::get_i64(session, key, key_len, out))
}

/// Reads a float (integers are not converted: TOTO_RESULT_TYPE_MISMATCH).
#[no_mangle]
pub extern "C" fn toto_session_get_f64(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut f64,
) -> TotoResult {
    run_plain(|| value_io::get_f64(session, key, key_len, out))
}

/// Borrows a text value (UTF-8, not NUL-terminated).
/// Ownership: points into the session; valid until the session's state, id or key
/// changes (a change of the id or key may move the state), or the session is freed.
#[no_mangle]
pub extern "C" fn toto_session_get_text(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| value_io::get_text(session, key, key_len, out_ptr, out_len))
}

/// Borrows a byte-string value.
/// Ownership: points into the session; valid until the session's state, id or key
/// changes (a change of the id or key may move the state), or the session is freed.
#[no_mangle]
pub extern "C" fn toto_session_get_bytes(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| value_io::get_bytes(session, key, key_len, out_ptr, out_len))
}

/// Reads any value as CBOR.
/// Ownership: on success `*out` is a library-owned buffer; release it with
/// toto_bytes_free.
#[no_mangle]
pub extern "C" fn toto_session_get_cbor(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_cbor(session, key, key_len, out))
}

/// Reads any value as compact JSON text (bytes become base64 text, non-finite floats
/// null). TOTO_RESULT_INVALID_JSON for a map with a non-text key.
/// Ownership: on success `*out` is a library-owned buffer (UTF-8, not NUL-terminated);
/// release it with toto_bytes_free.
#[no_mangle]
pub extern "C" fn toto_session_get_json(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_json(session, key, key_len, out))
}

/// Reads any value as compact JSON text (as toto_session_get_json) into the caller's
/// buffer: no allocation, for a per-request read of a short value. The text is not
/// NUL-terminated; `*out_len` receives its length.
/// Ownership: `out` is the caller's buffer of `capacity` bytes (NULL with capacity 0
/// measures the text).
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_TOO_LARGE when the text is longer than `capacity`: `*out_len`
/// then holds its whole length (retry with that many bytes, or use
/// toto_session_get_json) and `out` its first `capacity` bytes (a key over the name limit
/// is TOTO_RESULT_TOO_LARGE too, with `*out_len` untouched); TOTO_RESULT_NOT_FOUND,
/// TOTO_RESULT_INVALID_JSON (a map with a non-text key), TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE, TOTO_RESULT_INVALID_UTF8 (key).
#[no_mangle]
pub extern "C" fn toto_session_get_json_into(
    session: *const TotoSession,
    key: *const c_char,
    key_len: usize,
    out: *mut u8,
    capacity: usize,
    out_len: *mut usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::get_json_into(session, key, key_len, out, capacity, out_len)
    })
}

/// Stores null (present, unlike a deleted key).
#[no_mangle]
pub extern "C" fn toto_session_set_null(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
) -> TotoResult {
    run_plain(|| value_io::set_null(session, key, key_len))
}

/// Stores a bool.
#[no_mangle]
pub extern "C" fn toto_session_set_bool(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    value: bool,
) -> TotoResult {
    run_plain(|| value_io::set_bool(session, key, key_len, value))
}

/// Stores an integer.
#[no_mangle]
pub extern "C" fn toto_session_set_i64(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    value: i64,
) -> TotoResult {
    run_plain(|| value_io::set_i64(session, key, key_len, value))
}

/// Stores a float.
#[no_mangle]
pub extern "C" fn toto_session_set_f64(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    value: f64,
) -> TotoResult {
    run_plain(|| value_io::set_f64(session, key, key_len, value))
}

/// Stores UTF-8 text (TOTO_RESULT_INVALID_UTF8 otherwise; use _set_bytes for binary).
/// Values over 1 MiB: TOTO_RESULT_TOO_LARGE.
#[no_mangle]
pub extern "C" fn toto_session_set_text(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> TotoResult {
    run_plain(|| value_io::set_text(session, key, key_len, value, value_len))
}

/// Stores a byte string. Values over 1 MiB: TOTO_RESULT_TOO_LARGE.
#[no_mangle]
pub extern "C" fn toto_session_set_bytes(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> TotoResult {
    run_plain(|| value_io::set_bytes(session, key, key_len, value, value_len))
}

// The `_z` setters: each as the setter of the same name without `_z`, with `key` a
// NUL-terminated string: one argument fewer for a binding that pays per argument
// (Ruby's ffi), and C callers can pass a literal. Keys holding a NUL byte need the
// setters with a length.

/// As toto_session_set_null, with a NUL-terminated `key`.
/// `key`: NUL-terminated, at most TOTO_MAX_NAME_LEN bytes before the NUL (longer:
/// TOTO_RESULT_TOO_LARGE; NULL: TOTO_RESULT_NULL_ARGUMENT); other errors as there.
/// Ownership: inputs are copied. Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_set_null_z(
    session: *mut TotoSession,
    key: *const c_char,
) -> TotoResult {
    run_plain(|| value_io::set_null(session, key, args::z_len(key, "name", MAX_NAME_LEN)?))
}

/// As toto_session_set_bool, with a NUL-terminated `key`.
/// `key`: NUL-terminated, at most TOTO_MAX_NAME_LEN bytes before the NUL (longer:
/// TOTO_RESULT_TOO_LARGE; NULL: TOTO_RESULT_NULL_ARGUMENT); other errors as there.
/// Ownership: inputs are copied. Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_set_bool_z(
    session: *mut TotoSession,
    key: *const c_char,
    value: bool,
) -> TotoResult {
    run_plain(|| value_io::set_bool(session, key, args::z_len(key, "name", MAX_NAME_LEN)?, value))
}

/// As toto_session_set_i64, with a NUL-terminated `key`.
/// `key`: NUL-terminated, at most TOTO_MAX_NAME_LEN bytes before the NUL (longer:
/// TOTO_RESULT_TOO_LARGE; NULL: TOTO_RESULT_NULL_ARGUMENT); other errors as there.
/// Ownership: inputs are copied. Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_set_i64_z(
    session: *mut TotoSession,
    key: *const c_char,
    value: i64,
) -> TotoResult {
    run_plain(|| value_io::set_i64(session, key, args::z_len(key, "name", MAX_NAME_LEN)?, value))
}

/// As toto_session_set_f64, with a NUL-terminated `key`.
/// `key`: NUL-terminated, at most TOTO_MAX_NAME_LEN bytes before the NUL (longer:
/// TOTO_RESULT_TOO_LARGE; NULL: TOTO_RESULT_NULL_ARGUMENT); other errors as there.
/// Ownership: inputs are copied. Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_set_f64_z(
    session: *mut TotoSession,
    key: *const c_char,
    value: f64,
) -> TotoResult {
    run_plain(|| value_io::set_f64(session, key, args::z_len(key, "name", MAX_NAME_LEN)?, value))
}

/// As toto_session_set_text, with `key` and `value` NUL-terminated strings (text
/// holding a NUL byte needs toto_session_set_text). Values over 1 MiB:
/// TOTO_RESULT_TOO_LARGE; invalid UTF-8: TOTO_RESULT_INVALID_UTF8.
/// `key`: NUL-terminated, at most TOTO_MAX_NAME_LEN bytes before the NUL (longer:
/// TOTO_RESULT_TOO_LARGE; NULL: TOTO_RESULT_NULL_ARGUMENT); other errors as there.
/// Ownership: inputs are copied. Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_set_text_z(
    session: *mut TotoSession,
    key: *const c_char,
    value: *const c_char,
) -> TotoResult {
    run_plain(|| {
        let key_len = args::z_len(key, "name", MAX_NAME_LEN)?;
        let value_len = args::z_len(value, "text value", MAX_VALUE_LEN)?;
        value_io::set_text(session, key, key_len, value, value_len)
    })
}

/// As toto_session_set_bytes, with a NUL-terminated `key` (the bytes keep their
/// length: they may hold NULs).
/// `key`: NUL-terminated, at most TOTO_MAX_NAME_LEN bytes before the NUL (longer:
/// TOTO_RESULT_TOO_LARGE; NULL: TOTO_RESULT_NULL_ARGUMENT); other errors as there.
/// Ownership: inputs are copied. Thread safety: one thread at a time per session.
#[no_mangle]
pub extern "C" fn toto_session_set_bytes_z(
    session: *mut TotoSession,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
) -> TotoResult {
    run_plain(|| {
        let key_len = args::z_len(key, "name", MAX_NAME_LEN)?;
        value_io::set_bytes(session, key, key_len, value, value_len)
    })
}

/// Stores any value given as one CBOR item (arrays, maps, nested). Errors:
/// TOTO_RESULT_INVALID_CBOR (garbage, trailing bytes, nested deeper than 64),
/// TOTO_RESULT_TOO_LARGE (over 1 MiB); details in `error` when not NULL.
#[no_mangle]
pub extern "C" fn toto_session_set_cbor(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    cbor: *const u8,
    cbor_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::set_cbor(session, key, key_len, cbor, cbor_len)
    })
}

/// Stores any value given as JSON text (objects become maps). Errors:
/// TOTO_RESULT_INVALID_JSON, TOTO_RESULT_TOO_LARGE; details in `error` when not NULL.
#[no_mangle]
pub extern "C" fn toto_session_set_json(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
    json: *const c_char,
    json_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::set_json(session, key, key_len, json, json_len)
    })
}
