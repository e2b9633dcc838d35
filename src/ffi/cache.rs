//! `toto_cache`: session caches (the built-in memory cache, or a host vtable).
//!
//! Thread safety of the type: a cache handle may be used by any number of threads at
//! once. Managers and other holders keep their own reference, so the handle may be
//! freed as soon as it has been passed on.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use crate::backend::{load_session, store_session, MemoryCache, SessionCache, StoreMode};
use crate::core::error::Error;
use crate::core::limits::{MAX_RECORD_LEN, MAX_USER_ID_LEN};
use crate::ffi::args::{self, session_id_arg};
use crate::ffi::boundary::{run, run_plain, Failure, FfiResult, TotoError};
use crate::ffi::bytes::TotoBytes;
use crate::ffi::cache_vtable::{copy_vtable, TotoCacheVtable, VtableCache, TOTO_STORE_CREATE_NEW};
use crate::ffi::clock::CClock;
use crate::ffi::handle::{self, handle};
use crate::ffi::result::TotoResult;
use crate::ffi::session::{session_mut, TotoSession};

/// A session cache. Opaque. Thread safety: shareable by any number of threads.
// The tag must be the first field at offset 0 so a handle of the wrong type is told
// apart by reading 8 bytes every handle has. `cfg_attr` keeps cbindgen from seeing the
// repr, so the type stays opaque in the header.
#[cfg_attr(all(), repr(C))]
pub struct TotoCache {
    tag: u64,
    pub(crate) inner: Arc<dyn SessionCache>,
}
handle!(TotoCache, 0x746f_746f_4341_4348, "toto_cache");

pub(crate) fn new_cache(
    out: *mut *mut TotoCache,
    make: impl FnOnce() -> FfiResult<Arc<dyn SessionCache>>,
) -> FfiResult {
    let out = args::out(out, "out")?;
    let inner = make()?;
    args::write(
        out,
        handle::into_raw(TotoCache {
            tag: <TotoCache as handle::Handle>::TAG,
            inner,
        }),
    );
    Ok(())
}

pub(crate) fn cache_ref<'a>(cache: *const TotoCache) -> FfiResult<&'a Arc<dyn SessionCache>> {
    Ok(&handle::borrow(cache)?.inner)
}

/// Creates the built-in in-memory cache: thread-safe, expiry enforced on load (wall
/// clock), expired entries reclaimed, per-user index for toto_cache_remove_user.
/// Sessions saved through a manager or toto_cache_store_session are kept decoded, so a
/// retrieve neither decodes nor copies them (about twice the memory per session of
/// toto_cache_new_memory_compact). Records given to toto_cache_store are
/// kept as given.
///
/// Ownership: on success `*out` is a new handle; release it with toto_cache_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_new_memory(out: *mut *mut TotoCache) -> TotoResult {
    run_plain(|| new_cache(out, || Ok(Arc::new(MemoryCache::new()))))
}

/// Creates the built-in in-memory cache in its compact form: every session is kept as
/// its encoded record (about half of toto_cache_new_memory's memory per session) and
/// decoded on every load. Otherwise the same as toto_cache_new_memory.
///
/// Ownership: on success `*out` is a new handle; release it with toto_cache_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_new_memory_compact(out: *mut *mut TotoCache) -> TotoResult {
    run_plain(|| new_cache(out, || Ok(Arc::new(MemoryCache::compact()))))
}

/// Creates the built-in in-memory cache on a host clock (for tests and simulations;
/// pass the same clock to the manager's options).
///
/// Ownership: `clock_data` is borrowed: it and `clock` must stay valid, and be
/// thread-safe, while the cache lives. On success `*out` is a new handle.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NULL_ARGUMENT (out or clock NULL).
#[no_mangle]
pub extern "C" fn toto_cache_new_memory_with_clock(
    clock: Option<unsafe extern "C" fn(clock_data: *mut c_void) -> f64>,
    clock_data: *mut c_void,
    out: *mut *mut TotoCache,
) -> TotoResult {
    run_plain(|| {
        let clock = clock.ok_or_else(|| Failure::null("clock"))?;
        new_cache(out, || {
            Ok(Arc::new(MemoryCache::with_clock(Arc::new(CClock::new(
                clock, clock_data,
            )))))
        })
    })
}

/// Creates a cache from host callbacks. The vtable is copied; `user_data` is owned by
/// the cache from then on and released through `free_user_data` when the last
/// reference goes.
///
/// Ownership: on success `*out` is a new handle; release it with toto_cache_free. On
/// failure nothing is taken (free_user_data is not called).
/// Thread safety: any thread; see toto_cache_vtable for what the callbacks must allow.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (unknown version, a required callback is
/// NULL), TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_new_vtable(
    vtable: *const TotoCacheVtable,
    out: *mut *mut TotoCache,
) -> TotoResult {
    run_plain(|| {
        if vtable.is_null() {
            return Err(Failure::null("vtable"));
        }
        args::out(out, "out")?;
        // SAFETY: non-NULL; the contract is that it points to an initialised
        // toto_cache_vtable of the version it declares.
        let vt = unsafe { copy_vtable(vtable) }?;
        new_cache(out, || Ok(Arc::new(VtableCache::new(vt)?)))
    })
}

/// Releases a cache handle. NULL does nothing. The cache itself (and a vtable's
/// user_data) lives on while a manager still uses it.
///
/// Thread safety: not concurrently with other calls on this handle.
#[no_mangle]
pub extern "C" fn toto_cache_free(cache: *mut TotoCache) {
    run_plain(|| {
        handle::free(cache);
        Ok(())
    });
}

/// Stores a raw record blob under `id` until `expires` for `user_id` (lowercased, as
/// everywhere in the library; empty = anonymous). `flags`: 0 or TOTO_STORE_CREATE_NEW. If the cache chose another id and
/// `out_new_id` is not NULL, the new id is written there (otherwise `out_new_id` gets
/// {NULL, 0}).
///
/// Ownership: inputs copied/borrowed for the call; a new id in `*out_new_id` is
/// library-owned: release it with toto_bytes_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID, TOTO_RESULT_TOO_LARGE (record over 1 MiB,
/// user id over 256 bytes), TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_ID_COLLISION,
/// TOTO_RESULT_INVALID_ARGUMENT (unknown flags, NaN or infinite expiry), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_BACKEND_MISBEHAVED, TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_store(
    cache: *const TotoCache,
    id: *const c_char,
    id_len: usize,
    user_id: *const c_char,
    user_id_len: usize,
    expires: f64,
    record: *const u8,
    record_len: usize,
    flags: u32,
    out_new_id: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let cache = cache_ref(cache)?;
        let id = session_id_arg(id, id_len)?;
        let user_id = args::text(user_id, user_id_len, "user id", MAX_USER_ID_LEN)?;
        let user_id = crate::core::session::normalize_user_id(user_id)?;
        crate::core::session::check_expires(expires)?;
        let record = args::bytes(record, record_len, "record", MAX_RECORD_LEN)?;
        let mode = match flags {
            0 => StoreMode::Upsert,
            TOTO_STORE_CREATE_NEW => StoreMode::CreateNew,
            _ => return Err(Error::InvalidArgument("unknown store flags").into()),
        };
        let new_id = cache.store(id, &user_id, expires, record, mode)?;
        if !out_new_id.is_null() {
            let out = args::out(out_new_id, "out_new_id")?;
            let bytes = match new_id {
                Some(n) => TotoBytes::from_vec(n.into_bytes()),
                None => TotoBytes {
                    data: std::ptr::null_mut(),
                    len: 0,
                },
            };
            args::write(out, bytes);
        }
        Ok(())
    })
}

/// Loads the raw record stored under `id`.
///
/// Ownership: on success `*out` is library-owned: release it with toto_bytes_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NOT_FOUND (missing or expired), TOTO_RESULT_INVALID_SESSION_ID,
/// TOTO_RESULT_TOO_LARGE (a callback's record over 1 MiB), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_BACKEND_MISBEHAVED, TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_load(
    cache: *const TotoCache,
    id: *const c_char,
    id_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let record = cache_ref(cache)?
            .load(session_id_arg(id, id_len)?)?
            .ok_or(Error::NotFound)?;
        args::write(out, TotoBytes::from_vec(record));
        Ok(())
    })
}

/// Removes `id` from the cache (logout). A missing id is success.
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_SESSION_ID, TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_remove(
    cache: *const TotoCache,
    id: *const c_char,
    id_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        Ok(cache_ref(cache)?.remove(session_id_arg(id, id_len)?)?)
    })
}

/// Removes every session of `user_id` ("log out everywhere"); writes how many were
/// removed into `*out_removed` when it is not NULL.
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_UNSUPPORTED (a vtable without remove_user),
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_remove_user(
    cache: *const TotoCache,
    user_id: *const c_char,
    user_id_len: usize,
    out_removed: *mut u64,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let cache = cache_ref(cache)?;
        let user_id = args::text(user_id, user_id_len, "user id", MAX_USER_ID_LEN)?;
        let user_id = crate::core::session::normalize_user_id(user_id)?;
        let removed = cache.remove_user(&user_id)?;
        if !out_removed.is_null() {
            args::write(args::out(out_removed, "out_removed")?, removed);
        }
        Ok(())
    })
}

/// Stores `session` (overwriting, with no revocation or conflict check: that is
/// toto_manager_save_session) until its expiry, as its next revision: the built-in
/// memory cache keeps the session itself, other caches get its exported record. If the
/// cache renamed it, the session takes the new id. On success the session is marked clean;
/// on failure it keeps its changes and dirty flag, so a retry can store it again.
///
/// Ownership: borrows both handles for the call.
/// Thread safety: the cache from any thread; the session one thread at a time.
/// Errors: as toto_session_export and toto_cache_store.
#[no_mangle]
pub extern "C" fn toto_cache_store_session(
    cache: *const TotoCache,
    session: *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let cache = cache_ref(cache)?;
        Ok(store_session(
            cache.as_ref(),
            session_mut(session)?,
            StoreMode::Upsert,
        )?)
    })
}

/// Loads the session stored under `id` into a new, clean session handle. The session's
/// id is the one it was loaded under (a cache that renamed it is honoured), and its
/// expiry the one the cache holds (which a renewal may have moved past the record's).
/// No renewal and no expiry check against a clock here: that is the manager's
/// retrieve.
///
/// Ownership: on success `*out` is a new handle the caller owns.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NOT_FOUND, TOTO_RESULT_INVALID_SESSION_ID,
/// TOTO_RESULT_INVALID_CBOR / TOTO_RESULT_UNSUPPORTED_VERSION / TOTO_RESULT_TOO_LARGE
/// (the cache returned a bad record; it is left in place), TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_BACKEND_MISBEHAVED, TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_load_session(
    cache: *const TotoCache,
    id: *const c_char,
    id_len: usize,
    out: *mut *mut TotoSession,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let out = args::out(out, "out")?;
        let id = session_id_arg(id, id_len)?;
        let loaded = load_session(cache_ref(cache)?.as_ref(), id, None)?.ok_or(Error::NotFound)?;
        args::write(out, TotoSession::boxed(loaded.session));
        Ok(())
    })
}
