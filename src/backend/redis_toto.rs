//! The Redis cache's Python Toto compatibility: reading sessions Toto 1.0.10's
//! `RedisSessionCache` stored (`session:<id>`, a pickled `session_data()` dict, see
//! [`super::toto_pickle`]) and, optionally, writing that layout too, so that a Python
//! Toto service and this library share sessions during a rollout.
//!
//! - `read`: when a session id is not in this library's layout, `session:<id>` is
//!   read, converted, and stored in this library's layout (create-only: a session
//!   stored meanwhile wins). Then the Toto key is deleted, or left for the Python side
//!   with `keep_toto_key`. A pickle that cannot be converted is an error for that
//!   session only ([`crate::Error::Decode`]); its key is left as it was.
//! - `write`: every store also writes `session:<id>` as Toto would (the pickle, expiring
//!   with the session), every renewal extends it, and a Python Toto service reads the
//!   session unchanged.
//! - With either on, removing a session also deletes `session:<id>` (a logout must not
//!   be undone by importing the Toto copy again), and removing a user's sessions also
//!   deletes the Toto copies this cache wrote or left in place (tracked per user under
//!   `<prefix>t:<user id>`). Sessions Python made that this cache never saw are not
//!   known per user, so they are not removed (Python Toto's own `clear_sessions` does
//!   nothing either).

use std::sync::OnceLock;

use redis::Script;

use crate::backend::redis_pool::RedisConnection;
use crate::backend::toto_pickle;
use crate::backend::{Loaded, SessionCache, StoreMode};
use crate::core::error::{Error, Result};
use crate::core::session::Session;

/// What the Toto layout code needs of the Redis cache it is part of: its connections,
/// its key prefix and its compatibility options (implemented by `RedisCache`, so this
/// module does not import the cache it serves).
pub(super) trait TotoHost: SessionCache {
    /// The cache's key prefix.
    fn key_prefix(&self) -> &str;
    /// The cache's Toto layout options.
    fn compat(&self) -> &TotoCompat;
    /// Runs `op` on one of the cache's connections (see `RedisCache::with_connection`).
    fn run<T>(&self, op: impl Fn(&mut RedisConnection) -> redis::RedisResult<T>) -> Result<T>;
}

/// Python Toto's session layout in a [`crate::backend::RedisCache`] (all off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TotoCompat {
    /// Read Toto's `session:<id>` when a session is not in this library's layout, and
    /// move it into this library's layout.
    pub read: bool,
    /// After reading a Toto session, leave its `session:<id>` in place (the Python
    /// side keeps reading it) instead of deleting it.
    pub keep_toto_key: bool,
    /// Also write `session:<id>` in Toto's layout on every store (and extend it on
    /// every renewal), so Python Toto reads sessions made here.
    pub write: bool,
}

impl TotoCompat {
    /// True when Toto's keys are read or written at all.
    pub fn enabled(&self) -> bool {
        self.read || self.write
    }
}

/// Toto's key for session `id`.
pub fn toto_session_key(id: &str) -> String {
    format!("session:{id}")
}

/// Writes (or, for a past expiry, deletes) a Toto key and records it in the user's
/// tracking set, which lives as long as its longest entry.
const WRITE: &str = r"
local exp = tonumber(ARGV[2])
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', exp)
end
if KEYS[2] ~= '' then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PEXPIRETIME', KEYS[2]) < exp then redis.call('PEXPIREAT', KEYS[2], exp) end
end
return 1
";

fn write_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(WRITE))
}

fn remove_tracked_script() -> &'static Script {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    SCRIPT.get_or_init(|| Script::new(REMOVE_TRACKED))
}

const REMOVE_TRACKED: &str = r"
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do redis.call('DEL', k) end
return redis.call('DEL', KEYS[1])
";

fn tracking_key(cache: &impl TotoHost, user_id: &str) -> String {
    if user_id.is_empty() {
        String::new()
    } else {
        format!("{}t:{user_id}", cache.key_prefix())
    }
}

fn expiry_ms(expires: f64) -> i64 {
    ((expires * 1000.0).round() as i64).clamp(1, 253_402_300_799_000)
}

/// `compat.read`: the Toto session `id`, moved into this library's layout.
pub(super) fn import(cache: &impl TotoHost, id: &str) -> Result<Option<Loaded>> {
    let toto_key = toto_session_key(id);
    let pickle: Option<Vec<u8>> = cache.run(|con| redis::cmd("GET").arg(&toto_key).query(con))?;
    let Some(pickle) = pickle else {
        return Ok(None);
    };
    let session = toto_pickle::decode_session(id, &pickle)?;
    let record = session.export()?;
    let compat = cache.compat();
    // With `write` on, this store also rewrites (and tracks) the Toto copy.
    match cache.store(
        id,
        session.user_id(),
        session.expires(),
        &record,
        StoreMode::CreateNew,
    ) {
        Ok(_) => {}
        // Stored meanwhile (another server imported it, or saved it): that one wins.
        Err(Error::IdCollision) => {
            return Ok(cache.load(id)?.map(|record| Loaded {
                record: record.into(),
                expires: None,
            }))
        }
        Err(e) => return Err(e),
    }
    if compat.keep_toto_key && !compat.write {
        // Left for the Python side, and tracked so "log out everywhere" finds it.
        let tracking = tracking_key(cache, session.user_id());
        let exp = expiry_ms(session.expires());
        let _: i64 = cache.run(|con| {
            write_script()
                .key(&toto_key)
                .key(&tracking)
                .arg("")
                .arg(exp)
                .invoke(con)
        })?;
    } else if !compat.keep_toto_key && !compat.write {
        let _: i64 = cache.run(|con| redis::cmd("DEL").arg(&toto_key).query(con))?;
    }
    Ok(Some(Loaded {
        record: record.into(),
        expires: None,
    }))
}

/// `compat.write`: writes the stored record in Toto's layout too.
pub(super) fn write(cache: &impl TotoHost, record: &[u8]) -> Result<()> {
    let session = Session::import(record)?;
    let pickle = toto_pickle::encode_session(&session)?;
    let toto_key = toto_session_key(session.id());
    let tracking = tracking_key(cache, session.user_id());
    let exp = expiry_ms(session.expires());
    let _: i64 = cache.run(|con| {
        write_script()
            .key(&toto_key)
            .key(&tracking)
            .arg(pickle.as_slice())
            .arg(exp)
            .invoke(con)
    })?;
    Ok(())
}

/// `compat.write`: a renewal in this library's layout extends Toto's copy.
pub(super) fn extend(cache: &impl TotoHost, id: &str, expires_ms: i64) -> Result<()> {
    let key = toto_session_key(id);
    let _: i64 = cache.run(|con| {
        redis::cmd("PEXPIREAT")
            .arg(&key)
            .arg(expires_ms)
            .arg("GT")
            .query(con)
    })?;
    Ok(())
}

/// Either mode: logout removes the Toto copy too.
pub(super) fn remove(cache: &impl TotoHost, id: &str) -> Result<()> {
    let key = toto_session_key(id);
    let _: i64 = cache.run(|con| redis::cmd("DEL").arg(&key).query(con))?;
    Ok(())
}

/// Either mode: "log out everywhere" removes the Toto copies this cache knows of.
pub(super) fn remove_user(cache: &impl TotoHost, user_id: &str) -> Result<()> {
    let tracking = tracking_key(cache, user_id);
    if tracking.is_empty() {
        return Ok(());
    }
    let _: i64 = cache.run(|con| remove_tracked_script().key(&tracking).invoke(con))?;
    Ok(())
}
