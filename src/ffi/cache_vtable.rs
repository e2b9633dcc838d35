//! A [`SessionCache`] implemented by C function pointers.

use std::ffi::{c_char, c_void};
use std::sync::{Mutex, MutexGuard};

use crate::backend::{Loaded, Renewal, SessionCache, StoreMode};
use crate::core::error::{Error, Result};
use crate::core::id::{id_shard, validate_session_id};
use crate::core::record::peek_revision;
use crate::core::session::Session;
use crate::core::session_io::DecodedRecords;
use crate::ffi::callback::{CallbackOutput, Expect, TotoCallbackCtx};
use crate::ffi::result::TotoResult;

/// `flags` bit for a cache `store`: insert only; if the id is already live, return
/// TOTO_RESULT_ID_COLLISION and change nothing.
pub const TOTO_STORE_CREATE_NEW: u32 = 1;
/// `flags` value for a cache `store_if`: replace the entry only if it is live and
/// holds revision `expected_revision`. No live entry: return
/// TOTO_RESULT_SESSION_REVOKED; another revision: TOTO_RESULT_CONFLICT; change
/// nothing in either case.
pub const TOTO_STORE_IF_REVISION: u32 = 2;
/// `flags` value for a cache `store_if`: replace the entry only if it is live, whatever
/// its revision. No live entry: return TOTO_RESULT_SESSION_REVOKED and change nothing.
pub const TOTO_STORE_IF_EXISTS: u32 = 4;

/// The vtable version this header describes: 3 (version 1 ends before `load_renew`,
/// version 2 before `store_if`; the library reads only the fields of the version a
/// caller declares).
pub const TOTO_CACHE_VTABLE_VERSION: u32 = 3;

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
///
/// Revocation and lost updates: every record carries a revision (a counter the
/// library raises on each save). The manager saves a session that came from the cache
/// only over its stored entry: with TOTO_STORE_IF_REVISION (the default save policy)
/// or TOTO_STORE_IF_EXISTS (TOTO_SAVE_LAST_WRITER_WINS). A cache that implements
/// `store_if` (version 3) makes that check and the write one atomic step, so a session
/// that was removed, rotated away or cleared can never be written back, and two
/// concurrent saves cannot both succeed. Without `store_if` (versions 1 and 2, or
/// NULL) the library emulates the check: `load`, compare the revision in the loaded
/// record, then `store` with flags 0, holding a lock for that id in this process
/// across the three steps (and across every `store`, `remove` and `remove_user` of
/// this cache handle). That is atomic among the threads of one process sharing the
/// cache, not between processes sharing its storage: there, a logout or save landing
/// between another process's load and store can still be undone. Callbacks of such a
/// cache must not call into the same cache (the lock is not re-entrant).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoCacheVtable {
    /// Set to TOTO_CACHE_VTABLE_VERSION.
    pub version: u32,
    /// Passed to every callback; released by `free_user_data`.
    pub user_data: *mut c_void,
    /// Required (version 3: may be NULL when `store_if` is set; it is then never
    /// called). Stores `record` (an opaque blob) under `id` until `expires` (Unix
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
    /// Version 3. Optional (NULL: the emulation described above). When set, the
    /// library calls it for every store instead of `store`. Stores like `store`, and
    /// keeps `revision` with the entry (an entry written without one, e.g. before the
    /// cache had this callback, has revision 0). `flags` is exactly one of:
    /// 0 (insert or overwrite); TOTO_STORE_CREATE_NEW (only if no live entry, else
    /// return TOTO_RESULT_ID_COLLISION); TOTO_STORE_IF_REVISION (only if a live entry
    /// holds revision `expected_revision`; none: TOTO_RESULT_SESSION_REVOKED; another
    /// revision: TOTO_RESULT_CONFLICT); TOTO_STORE_IF_EXISTS (only if a live entry
    /// exists; none: TOTO_RESULT_SESSION_REVOKED). `expected_revision` is 0 unless
    /// flags is TOTO_STORE_IF_REVISION. An expired entry counts as none. The check and
    /// the write must be one atomic step against every other store_if, remove and
    /// remove_user of the same id (a mutex, a transaction, `UPDATE ... WHERE id = ?
    /// AND revision = ?` checking the affected row count). When refused, change
    /// nothing. A rename (toto_callback_set_result) is allowed as in `store`.
    #[allow(clippy::type_complexity)] // the C signature, spelled out for cbindgen
    pub store_if: Option<
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
            expected_revision: u64,
            revision: u64,
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

/// Locks of the emulated conditional store (a vtable without `store_if`), by id.
const EMULATION_SHARDS: usize = 64;

/// The adapter that owns a copied vtable.
pub(crate) struct VtableCache {
    vt: TotoCacheVtable,
    /// Held across the load-compare-store of the emulated conditional store, and by
    /// every store and remove of the same shard (remove_user takes them all), so that
    /// within this process the emulation is atomic. Unused with `store_if`.
    emulation: Box<[Mutex<()>]>,
    /// The sessions last decoded from each id's record (see [`DecodedRecords`]).
    decoded: DecodedRecords,
}

// SAFETY: the vtable contract (documented on TotoCacheVtable) requires the callbacks and
// `user_data` to be usable from any thread, concurrently.
unsafe impl Send for VtableCache {}
// SAFETY: as above.
unsafe impl Sync for VtableCache {}

/// Bytes of a version-1 vtable (everything before `load_renew`).
const V1_LEN: usize = std::mem::offset_of!(TotoCacheVtable, load_renew);
/// Bytes of a version-2 vtable (everything before `store_if`).
const V2_LEN: usize = std::mem::offset_of!(TotoCacheVtable, store_if);

/// Copies the fields of the version the caller declares; later fields stay NULL.
///
/// # Safety
/// `src` must point to a readable vtable of at least the size its `version` implies.
pub(crate) unsafe fn copy_vtable(src: *const TotoCacheVtable) -> Result<TotoCacheVtable> {
    // SAFETY: `version` is the first field, present in every version.
    let version = unsafe { std::ptr::addr_of!((*src).version).read_unaligned() };
    let len = match version {
        1 => V1_LEN,
        2 => V2_LEN,
        3 => std::mem::size_of::<TotoCacheVtable>(),
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
        if (vt.store.is_none() && vt.store_if.is_none()) || vt.load.is_none() || vt.remove.is_none()
        {
            return Err(Error::InvalidArgument(
                "cache vtable: store (or store_if), load and remove are required",
            ));
        }
        Ok(VtableCache {
            vt,
            emulation: (0..EMULATION_SHARDS).map(|_| Mutex::new(())).collect(),
            decoded: DecodedRecords::new(),
        })
    }

    /// The emulation's lock for `id`, or `None` when the vtable has `store_if`.
    fn emulation_lock(&self, id: &str) -> Option<MutexGuard<'_, ()>> {
        if self.vt.store_if.is_some() {
            return None;
        }
        let lock = &self.emulation[id_shard(id, EMULATION_SHARDS)];
        // A panic never happens while a guard is held past a callback's return; the
        // lock guards no data, so a poisoned one is as good as a clean one.
        Some(lock.lock().unwrap_or_else(|p| p.into_inner()))
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

impl VtableCache {
    /// A rename handed back by a store callback, checked.
    fn renamed(out: Option<CallbackOutput>, id: &str, op: &str) -> Result<Option<String>> {
        let out =
            out.ok_or_else(|| Error::BackendMisbehaved(format!("{op} returned NOT_FOUND")))?;
        match out.result {
            None => Ok(None),
            Some(raw) => {
                let new_id = String::from_utf8(raw)
                    .ok()
                    .filter(|s| validate_session_id(s).is_ok())
                    .ok_or_else(|| {
                        Error::BackendMisbehaved(format!("{op} returned an invalid session id"))
                    })?;
                Ok((new_id != id).then_some(new_id))
            }
        }
    }

    /// The version-1 `store` with `flags`.
    fn plain_store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        flags: u32,
    ) -> Result<Option<String>> {
        let Some(store) = self.vt.store else {
            return Err(Error::Unsupported("store"));
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
        })?;
        VtableCache::renamed(out, id, "cache store")
    }
}

impl SessionCache for VtableCache {
    /// Stores with `mode`, keeping `revision`: through `store_if` when the vtable has
    /// it, else emulated over `load` and `store` (documented on TotoCacheVtable).
    fn store_revision(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        revision: u64,
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let (flags, expected) = match mode {
            StoreMode::Upsert => (0, 0),
            StoreMode::CreateNew => (TOTO_STORE_CREATE_NEW, 0),
            StoreMode::IfRevision(expected) => (TOTO_STORE_IF_REVISION, expected),
            StoreMode::IfExists => (TOTO_STORE_IF_EXISTS, 0),
        };
        let Some(store_if) = self.vt.store_if else {
            let _locked = self.emulation_lock(id);
            return match mode {
                StoreMode::Upsert | StoreMode::CreateNew => {
                    self.plain_store(id, user_id, expires, record, flags)
                }
                StoreMode::IfRevision(_) | StoreMode::IfExists => {
                    let current = self.load(id)?.ok_or(Error::Revoked)?;
                    if matches!(mode, StoreMode::IfRevision(e) if e != peek_revision(&current)) {
                        return Err(Error::Conflict);
                    }
                    self.plain_store(id, user_id, expires, record, 0)
                }
            };
        };
        // The two refusals are answers, not failures: they are taken from the code
        // here, before the generic mapping of callback codes.
        let mut refused = None;
        let out = TotoCallbackCtx::call(Expect::SessionId, "cache store_if", STORE_CODES, |ctx| {
            // SAFETY: as in `plain_store`.
            let code = unsafe {
                store_if(
                    self.vt.user_data,
                    id.as_ptr().cast(),
                    id.len(),
                    user_id.as_ptr().cast(),
                    user_id.len(),
                    expires,
                    record.as_ptr(),
                    record.len(),
                    flags,
                    expected,
                    revision,
                    ctx,
                )
            };
            if code == TotoResult::SessionRevoked as u32 {
                refused = Some(Error::Revoked);
            } else if code == TotoResult::Conflict as u32 {
                refused = Some(Error::Conflict);
            } else {
                return code;
            }
            TotoResult::Ok as u32
        })?;
        if let Some(refusal) = refused {
            return Err(refusal);
        }
        VtableCache::renamed(out, id, "cache store_if")
    }

    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        self.store_revision(id, user_id, expires, record, peek_revision(record), mode)
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

    /// The default's decode, memoized per id (`decoded`).
    fn load_session_renew(
        &self,
        id: &str,
        renew: Option<Renewal>,
    ) -> Result<Option<(Session, Option<f64>)>> {
        let Some(loaded) = self.load_renew(id, renew)? else {
            return Ok(None);
        };
        let session = self.decoded.import(id, &loaded.record)?;
        Ok(Some((session, loaded.expires)))
    }

    fn remove(&self, id: &str) -> Result<()> {
        let Some(remove) = self.vt.remove else {
            return Err(Error::Unsupported("remove"));
        };
        self.decoded.forget(id);
        let _locked = self.emulation_lock(id);
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
        // Every shard, in order: no emulated store of this user's sessions may sit
        // between its load and its store while they are removed.
        let _locked: Vec<MutexGuard<'_, ()>> = if self.vt.store_if.is_some() {
            Vec::new()
        } else {
            self.emulation
                .iter()
                .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()))
                .collect()
        };
        self.decoded.forget_user(user_id);
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
