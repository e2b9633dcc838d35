//! `toto_cache_new_redis`: the built-in Redis session cache (with Python Toto's layout
//! behind options).

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{RedisCache, RedisOptions, TotoCompat};
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

/// Bytes of a version-1 options struct (everything before `down_backoff_ms`).
const OPTIONS_V1_LEN: usize = std::mem::offset_of!(TotoRedisOptions, down_backoff_ms);
/// Bytes of a version-2 options struct (everything before the `toto_*` fields).
const OPTIONS_V2_LEN: usize = std::mem::offset_of!(TotoRedisOptions, toto_read);

fn default_options() -> TotoRedisOptions {
    let d = RedisOptions::default();
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
    }
}

/// Fills `out` with the defaults.
///
/// Thread safety: any thread. Errors: TOTO_RESULT_NULL_ARGUMENT.
#[no_mangle]
pub extern "C" fn toto_redis_options_default(out: *mut TotoRedisOptions) -> TotoResult {
    run_plain(|| {
        let out = args::out(out, "out")?;
        args::write(out, default_options());
        Ok(())
    })
}

/// Creates a session cache in Redis at `url` (`redis://[:password@]host:port[/db]`), or
/// on a Redis Cluster: `redis+cluster://[:password@]host:port[,host:port...]` names seed
/// nodes (comma separated; the password applies to every node), the URL alone selects
/// the mode. On a cluster every script touches one key (the session's, or the user
/// index's, updated first), so logout-everywhere and the per-user cap are not atomic
/// across slots, and the `toto_*` options are refused (TOTO_RESULT_INVALID_ARGUMENT);
/// see docs/redis.md "Redis Cluster". Nothing is connected yet: a Redis that is down shows as
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
/// version, `toto_*` options on a cluster URL), TOTO_RESULT_INVALID_UTF8, TOTO_RESULT_TOO_LARGE, TOTO_RESULT_NULL_ARGUMENT.
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
            let lens = [
                OPTIONS_V1_LEN,
                OPTIONS_V2_LEN,
                std::mem::size_of::<TotoRedisOptions>(),
            ];
            // SAFETY: non-NULL; the contract is an initialised toto_redis_options of the
            // version it declares (plain data).
            let o = unsafe {
                args::copy_versioned(
                    options,
                    default_options(),
                    &lens,
                    "redis options: unknown version",
                )
            }?;
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
