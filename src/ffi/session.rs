//! `toto_session`: lifecycle, metadata, record export/import and signing.
//!
//! Thread safety of the type: a session handle may move between threads but must be
//! used by one thread at a time (no two calls on the same handle concurrently).

use std::ffi::c_char;

use crate::core::limits::{MAX_KEY_LEN, MAX_MESSAGE_LEN, MAX_RECORD_LEN, MAX_USER_ID_LEN};
use crate::core::session::Session;
use crate::core::session_object::session_object_json;
use crate::ffi::args;
use crate::ffi::boundary::{run, run_plain, TotoError};
use crate::ffi::bytes::TotoBytes;
use crate::ffi::handle::{self, handle};
use crate::ffi::result::TotoResult;

/// A session: id, user id, expiry, optional HMAC key and typed state. Opaque.
/// Thread safety: one thread at a time; may be moved between threads.
// The tag must be the first field at offset 0 so a handle of the wrong type is told
// apart by reading 8 bytes every handle has. `cfg_attr` keeps cbindgen from seeing the
// repr, so the type stays opaque in the header.
#[cfg_attr(all(), repr(C))]
pub struct TotoSession {
    tag: u64,
    pub(crate) inner: Session,
}
handle!(TotoSession, 0x746f_746f_5345_5353, "toto_session");

impl TotoSession {
    pub(crate) fn boxed(inner: Session) -> *mut TotoSession {
        handle::into_raw(TotoSession {
            tag: <TotoSession as handle::Handle>::TAG,
            inner,
        })
    }
}

pub(crate) fn session_ref<'a>(
    s: *const TotoSession,
) -> crate::ffi::boundary::FfiResult<&'a Session> {
    Ok(&handle::borrow(s)?.inner)
}

pub(crate) fn session_mut<'a>(
    s: *mut TotoSession,
) -> crate::ffi::boundary::FfiResult<&'a mut Session> {
    Ok(&mut handle::borrow_mut(s)?.inner)
}

fn user_id_arg<'a>(ptr: *const c_char, len: usize) -> crate::ffi::boundary::FfiResult<&'a str> {
    args::text(ptr, len, "user id", MAX_USER_ID_LEN)
}

/// Creates a session with a fresh random id for `user_id` (lowercased; empty =
/// anonymous) expiring at `expires` (Unix seconds). The session starts dirty.
///
/// Ownership: inputs are copied; on success `*out` is a new handle the caller owns and
/// releases with toto_session_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE
/// (user id over 256 bytes once lowercased), TOTO_RESULT_INVALID_ARGUMENT (NaN or infinite
/// expiry).
#[no_mangle]
pub extern "C" fn toto_session_new(
    user_id: *const c_char,
    user_id_len: usize,
    expires: f64,
    out: *mut *mut TotoSession,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let session = Session::new(user_id_arg(user_id, user_id_len)?, expires)?;
        args::write(out, TotoSession::boxed(session));
        Ok(())
    })
}

/// Creates a session with a given id (1..TOTO_MAX_SESSION_ID_LEN printable ASCII bytes,
/// no spaces).
///
/// Ownership: as toto_session_new.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID (bad id), TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE.
#[no_mangle]
pub extern "C" fn toto_session_new_with_id(
    id: *const c_char,
    id_len: usize,
    user_id: *const c_char,
    user_id_len: usize,
    expires: f64,
    out: *mut *mut TotoSession,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let id = args::session_id_arg(id, id_len)?;
        let session = Session::with_id(id, user_id_arg(user_id, user_id_len)?, expires)?;
        args::write(out, TotoSession::boxed(session));
        Ok(())
    })
}

/// Releases a session handle. NULL does nothing; a pointer that is not a live session
/// handle is ignored.
///
/// Ownership: takes the handle; every view borrowed from it becomes invalid.
/// Thread safety: not concurrently with any other call on the same handle.
#[no_mangle]
pub extern "C" fn toto_session_free(session: *mut TotoSession) {
    run_plain(|| {
        handle::free(session);
        Ok(())
    });
}

/// Borrows the session id (not NUL-terminated).
///
/// Ownership: `*out_ptr` points into the session; valid until the id changes
/// (toto_session_set_id, a cache that renames it) or the session is freed.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_id(
    session: *const TotoSession,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        args::write_view(
            out_ptr.cast(),
            out_len,
            session_ref(session)?.id().as_bytes(),
        )
    })
}

/// Replaces the session id (rotation). Marks the session dirty.
///
/// Ownership: `id` is copied. Views from toto_session_id and views of the state
/// (toto_session_get_text and the like) become invalid.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID, TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_set_id(
    session: *mut TotoSession,
    id: *const c_char,
    id_len: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_mut(session)?;
        let id = args::session_id_arg(id, id_len)?;
        Ok(s.set_id(id)?)
    })
}

/// Borrows the user id (lowercased; length 0 for an anonymous session).
///
/// Ownership: points into the session; valid until the session is freed.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_user_id(
    session: *const TotoSession,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        args::write_view(
            out_ptr.cast(),
            out_len,
            session_ref(session)?.user_id().as_bytes(),
        )
    })
}

/// Reads the expiry (Unix seconds).
///
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_expires(session: *const TotoSession, out: *mut f64) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        args::write(out, session_ref(session)?.expires());
        Ok(())
    })
}

/// Sets the expiry (Unix seconds); marks the session dirty when it changes.
///
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (NaN, +inf or -inf; the session is
/// unchanged), TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_set_expires(session: *mut TotoSession, expires: f64) -> TotoResult {
    run_plain(|| {
        session_mut(session)?.set_expires(expires)?;
        Ok(())
    })
}

/// Borrows the per-session HMAC key.
///
/// Ownership: points into the session; valid until the key changes or the session is
/// freed. Treat it as a secret.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NOT_FOUND (no key), TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_key(
    session: *const TotoSession,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        let key = session_ref(session)?.key().ok_or(crate::Error::NotFound)?;
        args::write_view(out_ptr.cast(), out_len, key.as_bytes())
    })
}

/// Sets the per-session HMAC key (1..256 bytes of UTF-8), or clears it when `key_len`
/// is 0. Marks the session dirty.
///
/// Ownership: `key` is copied. Views from toto_session_key and views of the state
/// (toto_session_get_text and the like) become invalid.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_TOO_LARGE, TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_set_key(
    session: *mut TotoSession,
    key: *const c_char,
    key_len: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_mut(session)?;
        let key = args::text(key, key_len, "key", MAX_KEY_LEN)?;
        Ok(s.set_key((!key.is_empty()).then_some(key))?)
    })
}

/// Generates a random key the way Toto does at login (22 url-safe characters), sets it
/// and borrows it into `out_ptr`/`out_len`.
///
/// Ownership: as toto_session_key. Earlier views of the key and of the state
/// (toto_session_get_text and the like) become invalid.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_generate_key(
    session: *mut TotoSession,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_mut(session)?;
        args::out(out_ptr, "out pointer")?;
        args::out(out_len, "out length")?;
        let key = s.generate_key();
        args::write_view(out_ptr.cast(), out_len, key.as_bytes())
    })
}

/// Tells whether the session changed since it was created, imported, loaded or marked
/// clean.
///
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_is_dirty(session: *const TotoSession, out: *mut bool) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        args::write(out, session_ref(session)?.is_dirty());
        Ok(())
    })
}

/// Marks the session as saved (clears the dirty flag).
///
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_mark_clean(session: *mut TotoSession) -> TotoResult {
    run_plain(|| {
        session_mut(session)?.mark_clean();
        Ok(())
    })
}

/// Encodes the whole session (id, user id, expiry, key, state) as a versioned CBOR
/// record, the same bytes every cache stores.
///
/// Ownership: on success `*out` is a library-owned buffer; release it with
/// toto_bytes_free.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_TOO_LARGE (record over 1 MiB), TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_export(
    session: *const TotoSession,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let record = session_ref(session)?.export()?;
        args::write(out, TotoBytes::from_vec(record));
        Ok(())
    })
}

/// Decodes a record made by toto_session_export (or stored by any cache) into a new,
/// clean session. The session counts as stored, at the record's revision:
/// toto_manager_save_session then replaces that stored record only while it exists
/// (see there), and never creates it.
///
/// Ownership: `record` is borrowed for the call; on success `*out` is a new handle the
/// caller owns.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_CBOR (garbage, missing or invalid fields),
/// TOTO_RESULT_UNSUPPORTED_VERSION (a newer record format), TOTO_RESULT_TOO_LARGE (over
/// 1 MiB), TOTO_RESULT_NULL_ARGUMENT. Details in `error` when not NULL.
#[no_mangle]
pub extern "C" fn toto_session_import(
    record: *const u8,
    record_len: usize,
    out: *mut *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let record = args::bytes(record, record_len, "record", MAX_RECORD_LEN)?;
        let session = Session::import(record)?;
        args::write(out, TotoSession::boxed(session));
        Ok(())
    })
}

fn message<'a>(
    ptr: *const u8,
    len: usize,
    what: &'static str,
) -> crate::ffi::boundary::FfiResult<&'a [u8]> {
    args::bytes(ptr, len, what, MAX_MESSAGE_LEN)
}

/// Toto's `session.hmac(message)`: base64(HMAC-SHA1(key, message)) with the session's
/// key, written with a NUL into `out` (capacity at least TOTO_MAC_BUFFER_LEN).
///
/// Ownership: inputs borrowed for the call; `out` is the caller's buffer.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_INVALID_HMAC (the session has no key), TOTO_RESULT_TOO_LARGE
/// (message over 64 MiB), TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_ARGUMENT
/// (capacity), TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_hmac(
    session: *const TotoSession,
    message_ptr: *const u8,
    message_len: usize,
    out: *mut c_char,
    capacity: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        let mac = s.hmac(message(message_ptr, message_len, "message")?)?;
        args::write_c_string(out, capacity, &mac)
    })
}

/// Toto's `session.verify(mac, message)`, in constant time.
///
/// Ownership: inputs borrowed for the call.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_INVALID_HMAC (no key, empty mac or message, or mismatch),
/// TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_verify(
    session: *const TotoSession,
    mac: *const c_char,
    mac_len: usize,
    message_ptr: *const u8,
    message_len: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        let mac = message(mac.cast(), mac_len, "mac")?;
        Ok(s.verify(mac, message(message_ptr, message_len, "message")?)?)
    })
}

/// Signs a request the way Toto's clients do: base64(HMAC-SHA1(key, METHOD + URI +
/// BODY)), written with a NUL into `out` (capacity at least TOTO_MAC_BUFFER_LEN).
///
/// Ownership: inputs borrowed for the call; `out` is the caller's buffer.
/// Thread safety: one thread at a time per session.
/// Errors: as toto_session_hmac.
#[no_mangle]
pub extern "C" fn toto_session_sign_request(
    session: *const TotoSession,
    method: *const c_char,
    method_len: usize,
    uri: *const c_char,
    uri_len: usize,
    body: *const u8,
    body_len: usize,
    out: *mut c_char,
    capacity: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        let mac = s.sign_request(
            message(method.cast(), method_len, "method")?,
            message(uri.cast(), uri_len, "uri")?,
            message(body, body_len, "body")?,
        )?;
        args::write_c_string(out, capacity, &mac)
    })
}

/// Checks a request's `x-toto-hmac` header: `mac` must equal base64(HMAC-SHA1(key,
/// METHOD + URI + BODY)), URI being the raw path with its query string. Constant time.
///
/// Ownership: inputs borrowed for the call.
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_INVALID_HMAC (no key, empty mac, mismatch),
/// TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_session_verify_request(
    session: *const TotoSession,
    mac: *const c_char,
    mac_len: usize,
    method: *const c_char,
    method_len: usize,
    uri: *const c_char,
    uri_len: usize,
    body: *const u8,
    body_len: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        Ok(s.verify_request(
            message(mac.cast(), mac_len, "mac")?,
            message(method.cast(), method_len, "method")?,
            message(uri.cast(), uri_len, "uri")?,
            message(body, body_len, "body")?,
        )?)
    })
}

/// The response `x-toto-hmac` for `body`: base64(HMAC-SHA1(key, SESSION_ID + BODY))
/// with this session's current id, written with a NUL into `out`.
///
/// Ownership: inputs borrowed for the call; `out` is the caller's buffer (capacity at
/// least TOTO_MAC_BUFFER_LEN).
/// Thread safety: one thread at a time per session.
/// Errors: as toto_session_hmac.
#[no_mangle]
pub extern "C" fn toto_session_sign_response(
    session: *const TotoSession,
    body: *const u8,
    body_len: usize,
    out: *mut c_char,
    capacity: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        let mac = s.sign_response(message(body, body_len, "body")?)?;
        args::write_c_string(out, capacity, &mac)
    })
}

/// Toto's `session` object for this session, `{"session_id": ..., "expires": ...,
/// "user_id": ...}` (user_id "" when anonymous; never the key), as compact JSON written
/// with a NUL into `out`, its length (without the NUL) into `*out_len`: what an HTTP
/// layer splices into its answer. The expiry has the shortest digits that read back
/// as the same double, with a fraction (`1796000000.0`); strings are escaped as JSON
/// requires, UTF-8 kept.
///
/// Ownership: `out` is the caller's buffer; TOTO_MAX_SESSION_OBJECT_JSON_LEN + 1 bytes
/// always suffice (the text of a 22-byte id and a short user id is under 100).
/// Thread safety: one thread at a time per session.
/// Errors: TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE,
/// TOTO_RESULT_INVALID_ARGUMENT when `capacity` is too small for this session's text
/// (nothing useful is written then).
#[no_mangle]
pub extern "C" fn toto_session_object_json(
    session: *const TotoSession,
    out: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        let len_out = args::out(out_len, "output length")?;
        let mut text = Vec::with_capacity(96);
        session_object_json(s, &mut text);
        args::write_c_bytes(out, capacity, &text)?;
        args::write(len_out, text.len());
        Ok(())
    })
}

/// Checks a response's `x-toto-hmac` (what a Toto client does; Toto's 1009 on the
/// client side is this call failing).
///
/// Ownership: inputs borrowed for the call.
/// Thread safety: one thread at a time per session.
/// Errors: as toto_session_verify.
#[no_mangle]
pub extern "C" fn toto_session_verify_response(
    session: *const TotoSession,
    mac: *const c_char,
    mac_len: usize,
    body: *const u8,
    body_len: usize,
) -> TotoResult {
    run_plain(|| {
        let s = session_ref(session)?;
        Ok(s.verify_response(
            message(mac.cast(), mac_len, "mac")?,
            message(body, body_len, "body")?,
        )?)
    })
}
