//! A [`SessionCache`] implemented by C function pointers.

use std::ffi::{c_char, c_void};

use crate::backend::{Loaded, Renewal, SessionCache, StoreMode};
use crate::error::{Error, Result};
use crate::ffi::callback::{Expect, TotoCallbackCtx};
use crate::ffi::result::TotoResult;
use crate::id::validate_session_id;

/// `flags` bit for a cache `store`: insert only; if the id is already live, return
/// TOTO_RESULT_ID_COLLISION and change nothing.
pub const TOTO_STORE_CREATE_NEW: u32 = 1;

/// The vtable version this header describes: 2 (version 1 ends before `load_renew`;
/// the library reads only the fields of the version a caller declares).
pub const TOTO_CACHE_VTABLE_VERSION: u32 = 2;

/// A session cache implemented by the host (Redis, SQL, files...).
///
/// Every callback returns a toto_result: TOTO_RESULT_OK on success,
/// TOTO_RESULT_NOT_FOUND for a missing id (load), TOTO_RESULT_ID_COLLISION (store with
/// TOTO_STORE_CREATE_NEW), TOTO_RESULT_UNSUPPORTED, TOTO_RESULT_BACKEND_UNAVAILABLE
/// (passed through: the backend is down or timed out), or any other non-zero code for a
/// failure (reported to the caller as TOTO_RESULT_BACKEND_FAILED, with the message from
/// toto_callback_set_error). That includes a domain code returned where it does not
/// belong (TOTO_RESULT_ID_COLLISION from anything but a create-only store, 1005, 1006,
/// ...): it becomes TOTO_RESULT_BACKEND_FAILED, never the caller's answer. Pointer arguments are valid only during the call; `ctx`
/// too. Callbacks are called from whichever threads use the cache, possibly at the
/// same time, so they and `user_data` must be thread-safe. They must not unwind
/// (C++ exceptions, longjmp) through the library.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoCacheVtable {
    /// Set to TOTO_CACHE_VTABLE_VERSION.
    pub version: u32,
    /// Passed to every callback; released by `free_user_data`.
    pub user_data: *mut c_void,
    /// Required. Stores `record` (an opaque blob) under `id` until `expires` (Unix
    /// seconds; the cache must not return it after that) for `user_id` (empty =
    /// anonymous; index it if you implement remove_user). `flags` may hold
    /// TOTO_STORE_CREATE_NEW. To rename the session, pass the new id to
    /// toto_callback_set_result.
    pub store: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            id_len: usize,
            user_id: *const c_char,
            user_id_len: usize,
            expires: f64,
            record: *const u8,
            record_len: usize,
            flags: u32,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Required. Finds `id`: hand the record to toto_callback_set_result and return
    /// TOTO_RESULT_OK, or return TOTO_RESULT_NOT_FOUND (missing or expired). OK without
    /// a record is TOTO_RESULT_BACKEND_MISBEHAVED.
    pub load: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            id_len: usize,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Required. Removes `id`; a missing id is success.
    pub remove: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            id_len: usize,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Optional (NULL: TOTO_RESULT_UNSUPPORTED). Removes every session of `user_id`
    /// and writes how many into `*removed`.
    pub remove_user: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            user_id: *const c_char,
            user_id_len: usize,
            removed: *mut u64,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Optional. Called once with `user_data` when the last reference to the cache is
    /// released (never if toto_cache_new_vtable fails).
    pub free_user_data: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    /// Version 2. Optional (NULL: `load`, then the library writes a renewed session
    /// back with `store`). Loads `id` and renews it in one operation, for caches where a second
    /// round trip costs: when `renew_user_to` / `renew_anonymous_to` is > 0 and the
    /// entry's expiry is earlier than the target for its kind of session (user id empty
    /// or not), the expiry becomes the target. Hand the record to
    /// toto_callback_set_result and the resulting expiry to toto_callback_set_expires,
    /// or return TOTO_RESULT_NOT_FOUND. An expired entry must not be renewed.
    pub load_renew: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            id: *const c_char,
            id_len: usize,
            renew_user_to: f64,
            renew_anonymous_to: f64,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
}

/// The domain code a cache `store` may answer with (create-only mode).
const STORE_CODES: &[TotoResult] = &[TotoResult::IdCollision];

/// A load that said OK but handed no record broke the contract ("set the result and
/// return OK, or return NOT_FOUND"): reporting it beats silently losing a session.
fn no_record() -> Error {
    Error::BackendMisbehaved("cache load returned OK without a record".into())
}

/// The adapter that owns a copied vtable.
pub(crate) struct VtableCache {
    vt: TotoCacheVtable,
}

// SAFETY: the vtable contract (documented on TotoCacheVtable) requires the callbacks and
// `user_data` to be usable from any thread, concurrently.
unsafe impl Send for VtableCache {}
// SAFETY: as above.
unsafe impl Sync for VtableCache {}

/// Bytes of a version-1 vtable (everything before `load_renew`).
const V1_LEN: usize = std::mem::offset_of!(TotoCacheVtable, load_renew);

/// Copies the fields of the version the caller declares; later fields stay NULL.
///
/// # Safety
/// `src` must point to a readable vtable of at least the size its `version` implies.
pub(crate) unsafe fn copy_vtable(src: *const TotoCacheVtable) -> Result<TotoCacheVtable> {
    // SAFETY: `version` is the first field, present in every version.
    let version = unsafe { std::ptr::addr_of!((*src).version).read_unaligned() };
    let len = match version {
        1 => V1_LEN,
        2 => std::mem::size_of::<TotoCacheVtable>(),
        _ => return Err(Error::InvalidArgument("cache vtable: unknown version")),
    };
    let mut vt = std::mem::MaybeUninit::<TotoCacheVtable>::zeroed();
    // SAFETY: the caller guarantees `len` readable bytes at `src`; all-zero bytes are a
    // valid TotoCacheVtable (NULL pointers, None callbacks), and the first `len` bytes
    // come from a valid vtable of that version.
    unsafe {
        std::ptr::copy_nonoverlapping(src.cast::<u8>(), vt.as_mut_ptr().cast::<u8>(), len);
        Ok(vt.assume_init())
    }
}

impl VtableCache {
    /// Checks a copied vtable.
    pub(crate) fn new(vt: TotoCacheVtable) -> Result<VtableCache> {
        if vt.version == 0 || vt.version > TOTO_CACHE_VTABLE_VERSION {
            return Err(Error::InvalidArgument("cache vtable: unknown version"));
        }
        if vt.store.is_none() || vt.load.is_none() || vt.remove.is_none() {
            return Err(Error::InvalidArgument(
                "cache vtable: store, load and remove are required",
            ));
        }
        Ok(VtableCache { vt })
    }
}

impl Drop for VtableCache {
    fn drop(&mut self) {
        if let Some(free) = self.vt.free_user_data {
            // SAFETY: called exactly once, when the last reference goes, as documented.
            unsafe { free(self.vt.user_data) }
        }
    }
}

impl SessionCache for VtableCache {
    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let Some(store) = self.vt.store else {
            return Err(Error::Unsupported("store"));
        };
        let flags = match mode {
            StoreMode::Upsert => 0,
            StoreMode::CreateNew => TOTO_STORE_CREATE_NEW,
        };
        let out = TotoCallbackCtx::call(Expect::SessionId, "cache store", STORE_CODES, |ctx| {
            // SAFETY: the pointers are valid for the call (borrowed Rust data), `ctx` is
            // a live context, and the function pointer came from the host's vtable.
            unsafe {
                store(
                    self.vt.user_data,
                    id.as_ptr().cast(),
                    id.len(),
                    user_id.as_ptr().cast(),
                    user_id.len(),
                    expires,
                    record.as_ptr(),
                    record.len(),
                    flags,
                    ctx,
                )
            }
        })?
        .ok_or_else(|| Error::BackendMisbehaved("cache store returned NOT_FOUND".into()))?;
        match out.result {
            None => Ok(None),
            Some(raw) => {
                let new_id = String::from_utf8(raw)
                    .ok()
                    .filter(|s| validate_session_id(s).is_ok())
                    .ok_or_else(|| {
                        Error::BackendMisbehaved(
                            "cache store returned an invalid session id".into(),
                        )
                    })?;
                Ok((new_id != id).then_some(new_id))
            }
        }
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let Some(load) = self.vt.load else {
            return Err(Error::Unsupported("load"));
        };
        let out = TotoCallbackCtx::call(Expect::Record, "cache load", &[], |ctx| {
            // SAFETY: as in `store`.
            unsafe { load(self.vt.user_data, id.as_ptr().cast(), id.len(), ctx) }
        })?;
        out.map(|o| o.result.ok_or_else(no_record)).transpose()
    }

    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        let Some(load_renew) = self.vt.load_renew else {
            return Ok(self.load(id)?.map(|record| Loaded {
                record: record.into(),
                expires: None,
            }));
        };
        let (user, anonymous) = renew.map_or((0.0, 0.0), |r| (r.user, r.anonymous));
        let out = TotoCallbackCtx::call(Expect::Record, "cache load_renew", &[], |ctx| {
            // SAFETY: as in `store`.
            unsafe {
                load_renew(
                    self.vt.user_data,
                    id.as_ptr().cast(),
                    id.len(),
                    user,
                    anonymous,
                    ctx,
                )
            }
        })?;
        out.map(|o| {
            let record = o.result.ok_or_else(no_record)?;
            Ok(Loaded {
                record: record.into(),
                expires: o.expires,
            })
        })
        .transpose()
    }

    fn remove(&self, id: &str) -> Result<()> {
        let Some(remove) = self.vt.remove else {
            return Err(Error::Unsupported("remove"));
        };
        TotoCallbackCtx::call(Expect::Nothing, "cache remove", &[], |ctx| {
            // SAFETY: as in `store`.
            unsafe { remove(self.vt.user_data, id.as_ptr().cast(), id.len(), ctx) }
        })?;
        Ok(())
    }

    fn remove_user(&self, user_id: &str) -> Result<u64> {
        let Some(remove_user) = self.vt.remove_user else {
            return Err(Error::Unsupported("remove_user"));
        };
        let mut removed = 0u64;
        TotoCallbackCtx::call(Expect::Nothing, "cache remove_user", &[], |ctx| {
            // SAFETY: as in `store`; `removed` is a live local for the call.
            unsafe {
                remove_user(
                    self.vt.user_data,
                    user_id.as_ptr().cast(),
                    user_id.len(),
                    &mut removed,
                    ctx,
                )
            }
        })?;
        Ok(removed)
    }
}
