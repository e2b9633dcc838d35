//! `toto_account`: one user's properties, loaded lazily from an account store.
//!
//! Every call here: one thread at a time per account (getters may load, so they take
//! the handle mutably); the handle is checked (TOTO_RESULT_NULL_ARGUMENT,
//! TOTO_RESULT_INVALID_HANDLE); names are UTF-8 of at most 1024 bytes. Getters load the
//! property on first access and so may fail as a load does: TOTO_RESULT_BACKEND_FAILED,
//! TOTO_RESULT_INVALID_CREDENTIALS (the account does not exist), with details in
//! `error`. A property the account does not have is TOTO_RESULT_NOT_FOUND; a value of
//! another type TOTO_RESULT_TYPE_MISMATCH. Setters copy, mark the name modified and
//! write nothing until toto_account_save.

use std::ffi::c_char;

use crate::core::account::Account;
use crate::core::value::Value;
use crate::ffi::account_store::{account_user_id, store_ref, TotoAccountStore};
use crate::ffi::args;
use crate::ffi::boundary::{run, run_plain, FfiResult, TotoError};
use crate::ffi::bytes::{TotoBytes, TotoStr};
use crate::ffi::handle::{self, handle};
use crate::ffi::result::TotoResult;
use crate::ffi::value_io::{self, name, TotoValueType, ValueRead, ValueWrite};

/// Most names one toto_account_load call accepts.
pub const TOTO_MAX_LOAD_NAMES: usize = 4096;

/// One user's account. Opaque. Thread safety: one thread at a time.
// The tag must be the first field at offset 0 so a handle of the wrong type is told
// apart by reading 8 bytes every handle has. `cfg_attr` keeps cbindgen from seeing the
// repr, so the type stays opaque in the header.
#[cfg_attr(all(), repr(C))]
pub struct TotoAccount {
    tag: u64,
    inner: Account,
}
handle!(TotoAccount, 0x746f_746f_4143_4354, "toto_account");

impl TotoAccount {
    pub(crate) fn boxed(inner: Account) -> *mut TotoAccount {
        handle::into_raw(TotoAccount {
            tag: <TotoAccount as handle::Handle>::TAG,
            inner,
        })
    }
}

fn account<'a>(a: *mut TotoAccount) -> FfiResult<&'a mut Account> {
    Ok(&mut handle::borrow_mut(a)?.inner)
}

impl ValueRead for *mut TotoAccount {
    fn lookup<'a>(self, key: *const c_char, key_len: usize) -> FfiResult<Option<&'a Value>> {
        let acc = account(self)?;
        Ok(acc.get(name(key, key_len)?)?)
    }
}

impl ValueWrite for *mut TotoAccount {
    fn store(
        self,
        key: *const c_char,
        key_len: usize,
        value: impl FnOnce() -> FfiResult<Value>,
    ) -> FfiResult {
        let acc = account(self)?;
        let name = name(key, key_len)?;
        Ok(acc.set(name, value()?)?)
    }
}

/// Makes an account handle for `user_id` (lowercased) on `store`. Nothing is loaded
/// and the account's existence is not checked until a property is read.
///
/// Ownership: the account keeps its own reference to the store; on success `*out` is
/// a new handle the caller releases with toto_account_free.
/// Thread safety: any thread.
/// Errors: TOTO_RESULT_INVALID_USER_ID (empty), TOTO_RESULT_INVALID_UTF8,
/// TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT, TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_account_new(
    store: *const TotoAccountStore,
    user_id: *const c_char,
    user_id_len: usize,
    out: *mut *mut TotoAccount,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let store = store_ref(store)?.clone();
        let inner = Account::new(store, &account_user_id(user_id, user_id_len)?)?;
        args::write(out, TotoAccount::boxed(inner));
        Ok(())
    })
}

/// Releases an account handle (unsaved changes are dropped). NULL does nothing.
#[no_mangle]
pub extern "C" fn toto_account_free(account: *mut TotoAccount) {
    run_plain(|| {
        handle::free(account);
        Ok(())
    });
}

/// Borrows the (lowercased) user id; valid until the account is freed.
#[no_mangle]
pub extern "C" fn toto_account_user_id(
    account: *const TotoAccount,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> TotoResult {
    run_plain(|| {
        args::write_view(
            out_ptr.cast(),
            out_len,
            handle::borrow(account)?.inner.user_id().as_bytes(),
        )
    })
}

/// Loads the named properties in one store call (those not loaded or modified yet).
/// `names` may be NULL when `count` is 0. At most TOTO_MAX_LOAD_NAMES names.
/// Errors: TOTO_RESULT_INVALID_CREDENTIALS (1005: the account does not exist),
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_BACKEND_UNAVAILABLE, TOTO_RESULT_TOO_LARGE,
/// TOTO_RESULT_INVALID_UTF8; details in `error`. The getters below load on first access
/// and fail the same way.
#[no_mangle]
pub extern "C" fn toto_account_load(
    account_: *mut TotoAccount,
    names: *const TotoStr,
    count: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let acc = account(account_)?;
        if count > TOTO_MAX_LOAD_NAMES {
            return Err(crate::Error::TooLarge {
                what: "name count",
                limit: TOTO_MAX_LOAD_NAMES,
            }
            .into());
        }
        let views: &[TotoStr] = if count == 0 {
            &[]
        } else if names.is_null() {
            return Err(crate::ffi::boundary::Failure::null("names"));
        } else {
            // SAFETY: non-NULL; the contract is `count` readable toto_str entries for the
            // duration of the call; count is bounded above.
            unsafe { std::slice::from_raw_parts(names, count) }
        };
        let names: Vec<&str> = views
            .iter()
            .map(|s| name(s.ptr, s.len))
            .collect::<FfiResult<_>>()?;
        Ok(acc.load(&names)?)
    })
}

/// Loads every property of the account in one store call; properties already loaded
/// or modified keep their current values (and views of them stay valid).
/// Errors: TOTO_RESULT_INVALID_CREDENTIALS (1005: the account does not exist),
/// TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_BACKEND_UNAVAILABLE; details in `error`.
#[no_mangle]
pub extern "C" fn toto_account_load_all(
    account_: *mut TotoAccount,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || Ok(account(account_)?.load_all()?))
}

/// Writes the modified properties, and only those, in one store call. The modified set
/// is cleared only when the store succeeded: on failure every change is kept and the
/// call can be retried.
/// Errors: TOTO_RESULT_BACKEND_FAILED, TOTO_RESULT_INVALID_CREDENTIALS (no such
/// account), TOTO_RESULT_BACKEND_MISBEHAVED; details in `error`.
#[no_mangle]
pub extern "C" fn toto_account_save(
    account_: *mut TotoAccount,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || Ok(account(account_)?.save()?))
}

/// Tells whether `key` was set since the last successful save.
#[no_mangle]
pub extern "C" fn toto_account_is_modified(
    account_: *const TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut bool,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let acc = &handle::borrow(account_)?.inner;
        args::write(out, acc.is_modified(name(key, key_len)?));
        Ok(())
    })
}

/// Number of properties set since the last successful save.
#[no_mangle]
pub extern "C" fn toto_account_modified_count(
    account_: *const TotoAccount,
    out: *mut usize,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        args::write(out, handle::borrow(account_)?.inner.modified().count());
        Ok(())
    })
}

/// The type of property `key` (loading it if needed).
#[no_mangle]
pub extern "C" fn toto_account_get_type(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoValueType,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_type(account_, key, key_len, out))
}

/// Reads a bool property.
#[no_mangle]
pub extern "C" fn toto_account_get_bool(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut bool,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_bool(account_, key, key_len, out))
}

/// Reads an integer property that fits in int64.
#[no_mangle]
pub extern "C" fn toto_account_get_i64(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut i64,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_i64(account_, key, key_len, out))
}

/// Reads a float property.
#[no_mangle]
pub extern "C" fn toto_account_get_f64(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut f64,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_f64(account_, key, key_len, out))
}

/// Borrows a text property. Ownership: points into the account; valid until the
/// property is set again or the account is freed.
#[no_mangle]
pub extern "C" fn toto_account_get_text(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::get_text(account_, key, key_len, out_ptr, out_len)
    })
}

/// Borrows a byte-string property. Ownership: as toto_account_get_text.
#[no_mangle]
pub extern "C" fn toto_account_get_bytes(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::get_bytes(account_, key, key_len, out_ptr, out_len)
    })
}

/// Reads any property as CBOR. Ownership: `*out` is library-owned; release it with
/// toto_bytes_free.
#[no_mangle]
pub extern "C" fn toto_account_get_cbor(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_cbor(account_, key, key_len, out))
}

/// Reads any property as JSON text. Ownership: `*out` is library-owned; release it
/// with toto_bytes_free.
#[no_mangle]
pub extern "C" fn toto_account_get_json(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    out: *mut TotoBytes,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || value_io::get_json(account_, key, key_len, out))
}

/// Sets a property to null.
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_null(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
) -> TotoResult {
    run_plain(|| value_io::set_null(account_, key, key_len))
}

/// Sets a bool property.
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_bool(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    value: bool,
) -> TotoResult {
    run_plain(|| value_io::set_bool(account_, key, key_len, value))
}

/// Sets an integer property.
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_i64(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    value: i64,
) -> TotoResult {
    run_plain(|| value_io::set_i64(account_, key, key_len, value))
}

/// Sets a float property.
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_f64(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    value: f64,
) -> TotoResult {
    run_plain(|| value_io::set_f64(account_, key, key_len, value))
}

/// Sets a UTF-8 text property.
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_text(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> TotoResult {
    run_plain(|| value_io::set_text(account_, key, key_len, value, value_len))
}

/// Sets a byte-string property.
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_bytes(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> TotoResult {
    run_plain(|| value_io::set_bytes(account_, key, key_len, value, value_len))
}

/// Sets any property from one CBOR item (TOTO_RESULT_INVALID_CBOR otherwise).
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_cbor(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    cbor: *const u8,
    cbor_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::set_cbor(account_, key, key_len, cbor, cbor_len)
    })
}

/// Sets any property from JSON text (TOTO_RESULT_INVALID_JSON otherwise).
/// The `password` property is refused (TOTO_RESULT_INVALID_ARGUMENT): see
/// toto_account_set_password_hash.
#[no_mangle]
pub extern "C" fn toto_account_set_json(
    account_: *mut TotoAccount,
    key: *const c_char,
    key_len: usize,
    json: *const c_char,
    json_len: usize,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        value_io::set_json(account_, key, key_len, json, json_len)
    })
}

/// Sets the account's password hash as it is, to migrate accounts from another system
/// (written by toto_account_save, like any change). The hash must be one the library
/// can verify: an Argon2 PHC string (`$argon2id$`, `$argon2i$`, `$argon2d$`, with costs
/// at most 1 GiB, 64 passes, 16 lanes) or a Toto `$p5k2$` hash; a legacy hash is
/// upgraded to Argon2id at the next successful login. The generic setters refuse the
/// `password` property; this is the only way to write it besides the manager's
/// password calls.
///
/// Ownership: `hash` is copied. Treat it as a secret: it never appears in messages.
/// Thread safety: one thread at a time per account.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (not a recognised hash), TOTO_RESULT_TOO_LARGE
/// (over 512 bytes), TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_NULL_ARGUMENT,
/// TOTO_RESULT_INVALID_HANDLE.
#[no_mangle]
pub extern "C" fn toto_account_set_password_hash(
    account_: *mut TotoAccount,
    hash: *const c_char,
    hash_len: usize,
) -> TotoResult {
    run_plain(|| {
        let acc = account(account_)?;
        let hash = args::text(hash, hash_len, "hash", crate::core::password::MAX_HASH_LEN)?;
        Ok(acc.set_password_hash(hash)?)
    })
}
