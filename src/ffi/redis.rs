//! `toto_cache_new_redis`: the built-in Redis session cache (with Python Toto's layout
//! behind options).

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{RedisCache, RedisOptions, TotoCompat};
use crate::core::error::Error;
use crate::ffi::args;
use crate::ffi::boundary::{run, run_plain, TotoError};
use crate::ffi::cache::{new_cache, TotoCache};
use crate::ffi::result::TotoResult;

/// The options version this header describes. Version 2 added `down_backoff_ms`,
/// version 3 the `toto_*` fields; a caller built against an older header passes its
/// version and only that version's (shorter) struct is read, the rest defaulted.
pub const TOTO_REDIS_OPTIONS_VERSION: u32 = 3;
/// Longest Redis URL or key prefix accepted, in bytes.
pub const TOTO_MAX_REDIS_TEXT_LEN: usize = 4096;

/// Redis cache settings. Fill with toto_redis_options_default, then change fields.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct TotoRedisOptions {
    /// Set to TOTO_REDIS_OPTIONS_VERSION (toto_redis_options_default does).
    pub version: u32,
    /// Prefix of every key (default "toto:"); borrowed during toto_cache_new_redis only.
    /// NULL with length 0 means the default.
    pub key_prefix: *const c_char,
    /// Length of `key_prefix` in bytes.
    pub key_prefix_len: usize,
    /// Time allowed to connect, in milliseconds (default 2000; must be > 0).
    pub connect_timeout_ms: u32,
    /// Time allowed for one reply, in milliseconds (default 2000; must be > 0).
    pub io_timeout_ms: u32,
    /// Idle connections kept for reuse (default 8).
    pub pool_size: u32,
    /// Key sessions by SHA-256 of their id (default true); false keeps raw ids in keys.
    pub hash_ids: bool,
    /// Version 2. After a connection-level failure (connect refused or timed out, a
    /// reply timed out, the connection dropped), how long every call fails at once
    /// with TOTO_RESULT_BACKEND_UNAVAILABLE instead of waiting for its own timeouts,
    /// in milliseconds (default 1000; 0 turns the back-off off).
    pub down_backoff_ms: u32,
    /// Version 3. Python Toto compatibility, reading (default false): a session id not
    /// found in this library's layout is looked up under Toto's `session:<id>` (a
    /// pickled session), converted, and stored in this library's layout. A pickle that
    /// cannot be converted is TOTO_RESULT_INVALID_CBOR for that session, its key left.
    pub toto_read: bool,
    /// Version 3. With `toto_read`: leave Toto's `session:<id>` in place after reading
    /// it (default false: it is deleted once moved).
    pub toto_keep_key: bool,
    /// Version 3. Also write every stored session as Toto's `session:<id>` pickle
    /// (default false), so a Python Toto service reads sessions made here.
    pub toto_write: bool,
}

/// The layout of version 1 of `toto_redis_options`, a prefix of the current one: a
/// caller built against the old header passes this much memory and no more.
#[repr(C)]
#[derive(Clone, Copy)]
struct RedisOptionsV1 {
    version: u32,
    key_prefix: *const c_char,
    key_prefix_len: usize,
    connect_timeout_ms: u32,
    io_timeout_ms: u32,
    pool_size: u32,
    hash_ids: bool,
}

/// The layout of version 2 of `toto_redis_options`: version 1 plus `down_backoff_ms`.
#[repr(C)]
#[derive(Clone, Copy)]
struct RedisOptionsV2 {
    v1: RedisOptionsV1,
    down_backoff_ms: u32,
}

/// Fills `out` with the defaults.
///
/// Thread safety: any thread. Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_redis_options_default(out: *mut TotoRedisOptions) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        let d = RedisOptions::default();
        args::write(
            out,
            TotoRedisOptions {
                version: TOTO_REDIS_OPTIONS_VERSION,
                key_prefix: std::ptr::null(),
                key_prefix_len: 0,
                connect_timeout_ms: d.connect_timeout.as_millis() as u32,
                io_timeout_ms: d.io_timeout.as_millis() as u32,
                pool_size: d.pool_size as u32,
                hash_ids: d.hash_ids,
                down_backoff_ms: d.down_backoff.as_millis() as u32,
                toto_read: d.toto.read,
                toto_keep_key: d.toto.keep_toto_key,
                toto_write: d.toto.write,
            },
        );
        Ok(())
    })
}

/// Creates a session cache in Redis at `url` (`redis://[:password@]host:port[/db]`).
/// Nothing is connected yet: a Redis that is down shows as
/// TOTO_RESULT_BACKEND_UNAVAILABLE on the first operation (within the timeouts), and
/// the same handle works again once Redis is back. Expiry follows each session's
/// absolute expiry (Redis's own clock); retrieve-with-renewal is one round trip.
///
/// After a connection-level failure every call fails fast with
/// TOTO_RESULT_BACKEND_UNAVAILABLE for `down_backoff_ms`. The cache is fork-safe: a
/// connection pooled by one process is never used by another (a child after `fork()`
/// opens its own), and a record is accepted only if it carries the id asked for
/// (otherwise TOTO_RESULT_BACKEND_MISBEHAVED). A Redis still loading its dataset
/// (`LOADING`) is TOTO_RESULT_BACKEND_UNAVAILABLE.
///
/// With `toto_read` / `toto_write` the cache also reads / writes Python Toto 1.0.10's
/// own session layout (docs/coming-from-toto.md); a logout then removes both copies.
///
/// Ownership: `url` and `options` (NULL = defaults) are copied; on success `*out` is a
/// new handle released with toto_cache_free. `options->version` 1 (without
/// `down_backoff_ms`), 2 (without the `toto_*` fields) and 3 are accepted; only that
/// version's fields are read.
/// Thread safety: any thread; the cache is shareable by any number of threads.
/// Errors: TOTO_RESULT_INVALID_ARGUMENT (malformed URL, zero timeout, unknown options
/// version), TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_cache_new_redis(
    url: *const c_char,
    url_len: usize,
    options: *const TotoRedisOptions,
    out: *mut *mut TotoCache,
    error: *mut TotoError,
) -> TotoResult {
    run(error, || {
        let url = args::text(url, url_len, "url", TOTO_MAX_REDIS_TEXT_LEN)?;
        let mut opts = RedisOptions::default();
        if !options.is_null() {
            // SAFETY: non-NULL; every version of the struct starts with its u32 version
            // field, which says how much more may be read.
            let version = unsafe { options.cast::<u32>().read_unaligned() };
            let current = |v1: RedisOptionsV1, down_backoff_ms: u32| TotoRedisOptions {
                version: v1.version,
                key_prefix: v1.key_prefix,
                key_prefix_len: v1.key_prefix_len,
                connect_timeout_ms: v1.connect_timeout_ms,
                io_timeout_ms: v1.io_timeout_ms,
                pool_size: v1.pool_size,
                hash_ids: v1.hash_ids,
                down_backoff_ms,
                toto_read: false,
                toto_keep_key: false,
                toto_write: false,
            };
            let default_backoff = opts.down_backoff.as_millis() as u32;
            let o = match version {
                1 => {
                    // SAFETY: a version-1 caller provides at least the version-1 layout,
                    // a prefix of the current struct (plain data), copied here.
                    let v1 = unsafe { options.cast::<RedisOptionsV1>().read_unaligned() };
                    current(v1, default_backoff)
                }
                2 => {
                    // SAFETY: a version-2 caller provides the version-2 layout, a prefix
                    // of the current struct (plain data), copied here.
                    let v2 = unsafe { options.cast::<RedisOptionsV2>().read_unaligned() };
                    current(v2.v1, v2.down_backoff_ms)
                }
                // SAFETY: the current version: the whole struct (plain data), copied.
                TOTO_REDIS_OPTIONS_VERSION => unsafe { options.read_unaligned() },
                _ => return Err(Error::InvalidArgument("redis options: unknown version").into()),
            };
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
            opts.hash_ids = o.hash_ids;
            opts.down_backoff = Duration::from_millis(o.down_backoff_ms.into());
            opts.toto = TotoCompat {
                read: o.toto_read,
                keep_toto_key: o.toto_keep_key,
                write: o.toto_write,
            };
        }
        new_cache(out, || Ok(Arc::new(RedisCache::new(url, opts)?)))
    })
}
