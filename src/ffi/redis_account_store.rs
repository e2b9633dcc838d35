//! `toto_account_store_new_redis`: the built-in Redis account store (Python Toto's
//! `account:<user_id>` hashes).

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{RedisAccountStore, RedisAccountStoreOptions};
use crate::core::error::Error;
use crate::ffi::account_store::{new_store, TotoAccountStore};
use crate::ffi::args;
use crate::ffi::boundary::{run, run_plain, TotoError};
use crate::ffi::redis::TOTO_MAX_REDIS_TEXT_LEN;
use crate::ffi::result::TotoResult;

/// The account store options version this header describes.
pub const TOTO_REDIS_ACCOUNT_STORE_OPTIONS_VERSION: u32 = 1;

/// Redis account store settings. Fill with toto_redis_account_store_options_default,
/// then change fields.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoRedisAccountStoreOptions {
    /// Set to TOTO_REDIS_ACCOUNT_STORE_OPTIONS_VERSION (the default function does).
    pub version: u32,
    /// Prefix of account keys, `<prefix><user_id>` (default "account:", Python Toto's);
    /// borrowed during toto_account_store_new_redis only. NULL with length 0 means the
    /// default.
    pub key_prefix: *const c_char,
    /// Length of `key_prefix` in bytes.
    pub key_prefix_len: usize,
    /// Time allowed to connect, in milliseconds (default 2000; must be > 0).
    pub connect_timeout_ms: u32,
    /// Time allowed for one reply, in milliseconds (default 2000; must be > 0).
    pub io_timeout_ms: u32,
    /// Idle connections kept for reuse (default 8).
    pub pool_size: u32,
}

/// Fills `out` with the defaults.
///
/// Thread safety: any thread. Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_redis_account_store_options_default(
    out: *mut TotoRedisAccountStoreOptions,
) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let d = RedisAccountStoreOptions::default();
        args::write(
            out,
            TotoRedisAccountStoreOptions {
                version: TOTO_REDIS_ACCOUNT_STORE_OPTIONS_VERSION,
                key_prefix: std::ptr::null(),
                key_prefix_len: 0,
                connect_timeout_ms: d.connect_timeout.as_millis() as u32,
                io_timeout_ms: d.io_timeout.as_millis() as u32,
                pool_size: d.pool_size as u32,
            },
        );
        Ok(())
    })
}

/// Creates an account store in Redis at `url` (`redis://[:password@]host:port[/db]`, or
/// `redis+cluster://[:password@]host:port[,host:port...]` for a Redis Cluster: every
/// operation touches one account's key, so it runs there unchanged):
/// one hash per account under `<prefix><user_id>` (default `account:<user_id>`, the
/// layout Python Toto 1.0.10 uses, so its accounts log in unchanged and their `$p5k2$`
/// password hashes are upgraded to Argon2id on login). Text properties are stored as
/// their UTF-8 bytes; other values as a NUL byte followed by their CBOR encoding. A new
/// account's hash also gets a `user_id` field, as Toto's do. Nothing is connected yet:
/// a Redis that is down shows as TOTO_RESULT_BACKEND_UNAVAILABLE on the first
/// operation (within the timeouts).
///
/// Ownership: `url` and `options` (NULL = defaults) are copied; on success `*out` is a
/// new handle released with toto_account_store_free.
/// Thread safety: any thread; the store is shareable by any number of threads.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (malformed URL, zero timeout, unknown options
/// version), TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_account_store_new_redis(
    url: *const c_char,
    url_len: usize,
    options: *const TotoRedisAccountStoreOptions,
    out: *mut *mut TotoAccountStore,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let url = args::text(url, url_len, "url", TOTO_MAX_REDIS_TEXT_LEN)?;
        args::out(out, "out")?;
        let mut opts = RedisAccountStoreOptions::default();
        if !options.is_null() {
            // SAFETY: non-NULL; the contract is an initialised
            // toto_redis_account_store_options (plain data), copied here.
            let o = unsafe { options.read_unaligned() };
            if o.version == 0 || o.version > TOTO_REDIS_ACCOUNT_STORE_OPTIONS_VERSION {
                return Err(Error::InvalidArgument("redis options: unknown version").into());
            }
            let prefix = args::text(
                o.key_prefix,
                o.key_prefix_len,
                "key prefix",
                TOTO_MAX_REDIS_TEXT_LEN,
            )?;
            if !prefix.is_empty() {
                opts.key_prefix = prefix.to_owned();
            }
            opts.connect_timeout = Duration::from_millis(o.connect_timeout_ms.into());
            opts.io_timeout = Duration::from_millis(o.io_timeout_ms.into());
            opts.pool_size = o.pool_size as usize;
        }
        new_store(out, || Ok(Arc::new(RedisAccountStore::new(url, opts)?)))
    })
}
