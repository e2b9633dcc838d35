//! An [`AccountStore`] implemented by C function pointers.

use std::ffi::{c_char, c_void};

use crate::backend::{AccountStore, Property};
use crate::core::codec;
use crate::core::error::{Error, Result};
use crate::core::value::Value;
use crate::ffi::bytes::TotoStr;
use crate::ffi::callback::{Expect, TotoCallbackCtx};
use crate::ffi::result::TotoResult;

/// The vtable version this header describes.
pub const TOTO_ACCOUNT_STORE_VTABLE_VERSION: u32 = 1;

/// One account property passed to a store callback: a name and its value as one CBOR
/// item. Valid only during the callback.
#[repr(C)]
pub struct TotoProperty {
    /// UTF-8 name (not NUL-terminated).
    pub name: *const c_char,
    /// Name length in bytes.
    pub name_len: usize,
    /// The value, encoded as one CBOR item (store it as an opaque blob, or decode it).
    pub value: *const u8,
    /// Value length in bytes.
    pub value_len: usize,
}

/// An account store implemented by the host (SQL, LDAP, files...).
///
/// Callbacks return a toto_result as described for toto_cache_vtable: TOTO_RESULT_OK,
/// TOTO_RESULT_NOT_FOUND (no such account), TOTO_RESULT_USER_ID_EXISTS (create),
/// TOTO_RESULT_UNSUPPORTED, TOTO_RESULT_BACKEND_UNAVAILABLE, or any other non-zero code
/// for a failure (with a message through toto_callback_set_error), reported as
/// TOTO_RESULT_BACKEND_FAILED. A domain code where it does not belong (1005 from any
/// callback, TOTO_RESULT_USER_ID_EXISTS from anything but create) is such a failure. Pointer arguments and `ctx` are valid only during
/// the call. Callbacks may run on several threads at once and must not unwind through
/// the library.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoAccountStoreVtable {
    /// Set to TOTO_ACCOUNT_STORE_VTABLE_VERSION.
    pub version: u32,
    /// Passed to every callback; released by `free_user_data`.
    pub user_data: *mut c_void,
    /// Required. Hands the account's properties named in `names` (all of them when
    /// `names` is NULL) to toto_callback_add_property, leaving out absent ones; returns
    /// TOTO_RESULT_NOT_FOUND when the account does not exist.
    pub load: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            user_id: *const c_char,
            user_id_len: usize,
            names: *const TotoStr,
            names_count: usize,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Required. Writes exactly these properties of an existing account (insert or
    /// replace each); TOTO_RESULT_NOT_FOUND when the account does not exist. All or
    /// nothing: on failure the library keeps the changes for a retry.
    pub save: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            user_id: *const c_char,
            user_id_len: usize,
            properties: *const TotoProperty,
            count: usize,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Required. Creates the account with these properties; TOTO_RESULT_USER_ID_EXISTS
    /// when it exists already.
    pub create: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            user_id: *const c_char,
            user_id_len: usize,
            properties: *const TotoProperty,
            count: usize,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Optional (NULL: TOTO_RESULT_UNSUPPORTED). Deletes the account;
    /// TOTO_RESULT_NOT_FOUND when it does not exist.
    pub remove: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            user_id: *const c_char,
            user_id_len: usize,
            ctx: *mut TotoCallbackCtx,
        ) -> u32,
    >,
    /// Optional. Called once with `user_data` when the last reference to the store is
    /// released (never if toto_account_store_new_vtable fails).
    pub free_user_data: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

pub(crate) struct VtableAccountStore {
    vt: TotoAccountStoreVtable,
}

// SAFETY: the vtable contract requires callbacks and `user_data` to be thread-safe.
unsafe impl Send for VtableAccountStore {}
// SAFETY: as above.
unsafe impl Sync for VtableAccountStore {}

impl VtableAccountStore {
    pub(crate) fn new(vt: TotoAccountStoreVtable) -> Result<VtableAccountStore> {
        if vt.version == 0 || vt.version > TOTO_ACCOUNT_STORE_VTABLE_VERSION {
            return Err(Error::InvalidArgument(
                "account store vtable: unknown version",
            ));
        }
        if vt.load.is_none() || vt.save.is_none() || vt.create.is_none() {
            return Err(Error::InvalidArgument(
                "account store vtable: load, save and create are required",
            ));
        }
        Ok(VtableAccountStore { vt })
    }
}

impl Drop for VtableAccountStore {
    fn drop(&mut self) {
        if let Some(free) = self.vt.free_user_data {
            // SAFETY: called exactly once, when the last reference goes, as documented.
            unsafe { free(self.vt.user_data) }
        }
    }
}

type WriteFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    usize,
    *const TotoProperty,
    usize,
    *mut TotoCallbackCtx,
) -> u32;

impl VtableAccountStore {
    fn write(
        &self,
        f: Option<WriteFn>,
        op: &'static str,
        codes: &'static [TotoResult],
        user_id: &str,
        properties: &[(&str, &Value)],
    ) -> Result<Option<()>> {
        let f = f.ok_or(Error::Unsupported(op))?;
        let encoded: Vec<Vec<u8>> = properties
            .iter()
            .map(|(_, v)| codec::to_vec(v))
            .collect::<Result<_>>()?;
        let views: Vec<TotoProperty> = properties
            .iter()
            .zip(&encoded)
            .map(|((name, _), cbor)| TotoProperty {
                name: name.as_ptr().cast(),
                name_len: name.len(),
                value: cbor.as_ptr(),
                value_len: cbor.len(),
            })
            .collect();
        let out = TotoCallbackCtx::call(Expect::Nothing, op, codes, |ctx| {
            // SAFETY: `views` points into `encoded` and `properties`, all alive for the
            // call; the function pointer came from the host's vtable.
            unsafe {
                f(
                    self.vt.user_data,
                    user_id.as_ptr().cast(),
                    user_id.len(),
                    views.as_ptr(),
                    views.len(),
                    ctx,
                )
            }
        })?;
        Ok(out.map(|_| ()))
    }
}

impl AccountStore for VtableAccountStore {
    fn load(&self, user_id: &str, names: Option<&[&str]>) -> Result<Option<Vec<Property>>> {
        let load = self.vt.load.ok_or(Error::Unsupported("load"))?;
        let views: Option<Vec<TotoStr>> = names.map(|ns| {
            ns.iter()
                .map(|n| TotoStr {
                    ptr: n.as_ptr().cast(),
                    len: n.len(),
                })
                .collect()
        });
        let (ptr, count) = match &views {
            Some(v) => (v.as_ptr(), v.len()),
            None => (std::ptr::null(), 0),
        };
        let out = TotoCallbackCtx::call(Expect::Properties, "account load", &[], |ctx| {
            // SAFETY: `views` and `user_id` outlive the call; NULL names means "all".
            unsafe {
                load(
                    self.vt.user_data,
                    user_id.as_ptr().cast(),
                    user_id.len(),
                    ptr,
                    count,
                    ctx,
                )
            }
        })?;
        Ok(out.map(|o| o.properties))
    }

    fn save(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()> {
        self.write(self.vt.save, "account save", &[], user_id, properties)?
            .ok_or(Error::InvalidCredentials)
    }

    fn create(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()> {
        self.write(
            self.vt.create,
            "account create",
            &[TotoResult::UserIdExists],
            user_id,
            properties,
        )?
        .ok_or_else(|| Error::BackendMisbehaved("account create returned NOT_FOUND".into()))
    }

    fn remove(&self, user_id: &str) -> Result<()> {
        let remove = self.vt.remove.ok_or(Error::Unsupported("remove"))?;
        TotoCallbackCtx::call(Expect::Nothing, "account remove", &[], |ctx| {
            // SAFETY: as in `load`.
            unsafe {
                remove(
                    self.vt.user_data,
                    user_id.as_ptr().cast(),
                    user_id.len(),
                    ctx,
                )
            }
        })?
        .ok_or(Error::InvalidCredentials)
        .map(|_| ())
    }
}
