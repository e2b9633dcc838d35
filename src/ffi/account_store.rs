//! `toto_account_store`: account stores (the built-in memory store, or a host vtable).
//!
//! Thread safety of the type: shareable by any number of threads. Accounts keep their
//! own reference, so the handle may be freed once accounts are made from it.

use std::ffi::c_char;
use std::sync::Arc;

use crate::backend::{AccountStore, MemoryAccountStore};
use crate::core::limits::MAX_USER_ID_LEN;
use crate::core::session::normalize_user_id;
use crate::ffi::account_store_vtable::{TotoAccountStoreVtable, VtableAccountStore};
use crate::ffi::args;
use crate::ffi::boundary::{run, run_plain, Failure, FfiResult, TotoError};
use crate::ffi::handle::{self, handle};
use crate::ffi::result::TotoResult;

/// An account store. Opaque. Thread safety: shareable by any number of threads.
// The tag must be the first field at offset 0 so a handle of the wrong type is told
// apart by reading 8 bytes every handle has. `cfg_attr` keeps cbindgen from seeing the
// repr, so the type stays opaque in the header.
#[cfg_attr(all(), repr(C))]
pub struct TotoAccountStore {
    tag: u64,
    pub(crate) inner: Arc<dyn AccountStore>,
}
handle!(
    TotoAccountStore,
    0x746f_746f_5354_4f52,
    "toto_account_store"
);

pub(crate) fn new_store(
    out: *mut *mut TotoAccountStore,
    make: impl FnOnce() -> FfiResult<Arc<dyn AccountStore>>,
) -> FfiResult {
    let out = args::out(out, "out")?;
    let inner = make()?;
    args::write(
        out,
        handle::into_raw(TotoAccountStore {
            tag: <TotoAccountStore as handle::Handle>::TAG,
            inner,
        }),
    );
    Ok(())
}

pub(crate) fn store_ref<'a>(
    store: *const TotoAccountStore,
) -> FfiResult<&'a Arc<dyn AccountStore>> {
    Ok(&handle::borrow(store)?.inner)
}

/// A non-empty, lowercased user id argument (Toto's 1010 when empty).
pub(crate) fn account_user_id(ptr: *const c_char, len: usize) -> FfiResult<String> {
    let user_id = normalize_user_id(args::text(ptr, len, "user id", MAX_USER_ID_LEN)?)?;
    if user_id.is_empty() {
        return Err(crate::Error::InvalidUserId.into());
    }
    Ok(user_id)
}

/// Creates the built-in in-memory account store.
///
/// Ownership: on success `*out` is a new handle; release it with
/// toto_account_store_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_account_store_new_memory(out: *mut *mut TotoAccountStore) -> TotoResult {
    run_plain(|| new_store(out, || Ok(Arc::new(MemoryAccountStore::new()))))
}

/// Creates an account store from host callbacks. The vtable is copied; `user_data` is
/// owned by the store from then on and released through `free_user_data` when the last
/// reference goes.
///
/// Ownership: on success `*out` is a new handle; on failure nothing is taken.
/// Thread safety: any thread; see toto_account_store_vtable for the callbacks' rules.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (unknown version, a required callback NULL),
/// TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_account_store_new_vtable(
    vtable: *const TotoAccountStoreVtable,
    out: *mut *mut TotoAccountStore,
) -> TotoResult {
    run_plain(|| {
        if vtable.is_null() {
            return Err(Failure::null("vtable"));
        }
        args::out(out, "out")?;
        // SAFETY: non-NULL; the contract is that it points to an initialised vtable,
        // which is plain data (Copy) and is copied here.
        let vt = unsafe { vtable.read_unaligned() };
        new_store(out, || Ok(Arc::new(VtableAccountStore::new(vt)?)))
    })
}

/// Releases a store handle. NULL does nothing. The store lives on while accounts (or
/// managers) still use it.
///
/// Thread safety: not concurrently with other calls on this handle.
#[no_mangle]
pub extern "C" fn toto_account_store_free(store: *mut TotoAccountStore) {
    run_plain(|| {
        handle::free(store);
        Ok(())
    });
}

/// Creates an empty account for `user_id` (lowercased). Fill it through a toto_account
/// and toto_account_save.
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_USER_ID (empty), TOTO_RESULT_USER_ID_EXISTS,
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_account_store_create(
    store: *const TotoAccountStore,
    user_id: *const c_char,
    user_id_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let store = store_ref(store)?;
        Ok(store.create(&account_user_id(user_id, user_id_len)?, &[])?)
    })
}

/// Deletes the account of `user_id`.
///
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_CREDENTIALS (no such account), TOTO_RESULT_UNSUPPORTED
/// (a vtable without remove), TOTO_RESULT_INVALID_USER_ID, TOTO_RESULT_BACKEND_FAILED,
/// TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_account_store_remove(
    store: *const TotoAccountStore,
    user_id: *const c_char,
    user_id_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let store = store_ref(store)?;
        Ok(store.remove(&account_user_id(user_id, user_id_len)?)?)
    })
}
