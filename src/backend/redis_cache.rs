//! A session cache in Redis, for sessions shared by many servers (and languages).
//!
//! Layout (with the default prefix `toto:`):
//! - `toto:s:<sha256(id) hex>`: a hash `{r: record, u: user id}` with Redis's own expiry
//!   at the session's absolute expiry (PEXPIREAT). Ids never appear raw in the key space
//!   unless `hash_ids` is off (compatibility with an existing key layout).
//! - `toto:u:<user id>`: a sorted set of that user's session keys scored by expiry;
//!   expired members are pruned on every store and the set itself expires with its
//!   longest-lived session, so it cannot grow without bound.
//!
//! Every operation is one Lua script or one command: one round trip, atomic on the
//! server. Retrieve-with-renewal is one EVALSHA. Expiry is judged by the Redis server's
//! clock. Scripts touch user-index keys they compute themselves, so this cache targets a
//! standalone Redis (or a proxy that allows that), not Redis Cluster.
//!
//! Connections come from a small pool: opened on demand with a connect timeout, given
//! read/write timeouts, returned after success and dropped after an I/O error, so a
//! restarted Redis is picked up by the same cache without recreating it. Redis down or
//! slow is [`Error::Unavailable`] within the configured timeouts.

use std::sync::Mutex;
use std::time::Duration;

use redis::{Connection, RedisError, Script};
use sha2::{Digest, Sha256};

use crate::backend::redis_toto::{self, TotoCompat};
use crate::backend::{Loaded, Renewal, SessionCache, StoreMode};
use crate::error::{Error, Result};

/// Latest expiry Redis is asked to keep (year 9999), in milliseconds.
const MAX_EXPIRY_MS: i64 = 253_402_300_799_000;

/// Settings of a [`RedisCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Prefix of every key this cache writes (default `toto:`).
    pub key_prefix: String,
    /// Time allowed to open a connection (default 2 s).
    pub connect_timeout: Duration,
    /// Time allowed for one reply (default 2 s).
    pub io_timeout: Duration,
    /// Idle connections kept for reuse (default 8; more are opened under load).
    pub pool_size: usize,
    /// Store keys from SHA-256 of the session id (default true).
    pub hash_ids: bool,
    /// Python Toto's own session layout: read, keep, write (default: all off).
    pub toto: TotoCompat,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            key_prefix: "toto:".into(),
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(2),
            pool_size: 8,
            hash_ids: true,
            toto: TotoCompat::default(),
        }
    }
}

const STORE: &str = r"
local key, user, exp = KEYS[1], ARGV[2], tonumber(ARGV[3])
if ARGV[4] == '1' and redis.call('EXISTS', key) == 1 then return 0 end
local old = redis.pcall('HGET', key, 'u')
if type(old) == 'string' and old ~= user and old ~= '' then
  redis.call('ZREM', ARGV[5] .. old, key)
end
redis.call('DEL', key)
redis.call('HSET', key, 'r', ARGV[1], 'u', user)
redis.call('PEXPIREAT', key, exp)
if user ~= '' then
  local idx = ARGV[5] .. user
  local t = redis.call('TIME')
  redis.call('ZADD', idx, exp, key)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
  if redis.call('PEXPIRETIME', idx) < exp then redis.call('PEXPIREAT', idx, exp) end
end
return 1
";

const LOAD_RENEW: &str = r"
local key = KEYS[1]
local h = redis.call('HMGET', key, 'r', 'u')
if not h[1] then return false end
local target = tonumber(h[2] == '' and ARGV[2] or ARGV[1])
if target > 0 and redis.call('PEXPIREAT', key, target, 'GT') == 1 then
  if h[2] ~= '' then
    local idx = ARGV[3] .. h[2]
    redis.call('ZADD', idx, 'XX', 'GT', target, key)
    redis.call('PEXPIREAT', idx, target, 'GT')
  end
  return {h[1], target}
end
return {h[1], redis.call('PEXPIRETIME', key)}
";

const REMOVE: &str = r"
local u = redis.pcall('HGET', KEYS[1], 'u')
if type(u) == 'string' and u ~= '' then redis.call('ZREM', ARGV[1] .. u, KEYS[1]) end
return redis.call('DEL', KEYS[1])
";

const REMOVE_USER: &str = r"
local n = 0
for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.pcall('HGET', k, 'u') == ARGV[1] then n = n + redis.call('DEL', k) end
end
redis.call('DEL', KEYS[1])
return n
";

/// A [`SessionCache`] in Redis. Thread-safe; share one per process.
pub struct RedisCache {
    client: redis::Client,
    options: RedisOptions,
    idle: Mutex<Vec<Connection>>,
    store: Script,
    load_renew: Script,
    remove: Script,
    remove_user: Script,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: only the options are shown.
        f.debug_struct("RedisCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn to_ms(seconds: f64) -> i64 {
    ((seconds * 1000.0).round() as i64).clamp(0, MAX_EXPIRY_MS)
}

fn classify(e: RedisError) -> Error {
    if e.is_io_error() || e.is_timeout() || e.is_connection_refusal() || e.is_connection_dropped() {
        Error::Unavailable(format!("redis: {e}"))
    } else {
        Error::Backend(format!("redis: {e}"))
    }
}

impl RedisCache {
    /// A cache on `url` (`redis://[:password@]host:port[/db]`). Nothing is connected
    /// until the first operation; a malformed URL or zero timeout is refused here.
    pub fn new(url: &str, options: RedisOptions) -> Result<RedisCache> {
        if options.connect_timeout.is_zero() || options.io_timeout.is_zero() {
            return Err(Error::InvalidArgument(
                "redis timeouts must be greater than zero",
            ));
        }
        let client = redis::Client::open(url)
            .map_err(|_| Error::InvalidArgument("not a valid redis:// URL"))?;
        Ok(RedisCache {
            client,
            options,
            idle: Mutex::new(Vec::new()),
            store: Script::new(STORE),
            load_renew: Script::new(LOAD_RENEW),
            remove: Script::new(REMOVE),
            remove_user: Script::new(REMOVE_USER),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    /// The Redis key that holds session `id`.
    pub fn session_key(&self, id: &str) -> String {
        if self.options.hash_ids {
            let digest = Sha256::digest(id.as_bytes());
            format!("{}s:{digest:x}", self.options.key_prefix)
        } else {
            format!("{}s:{id}", self.options.key_prefix)
        }
    }

    fn user_prefix(&self) -> String {
        format!("{}u:", self.options.key_prefix)
    }

    fn connect(&self) -> Result<Connection> {
        let con = self
            .client
            .get_connection_with_timeout(self.options.connect_timeout)
            .map_err(classify)?;
        con.set_read_timeout(Some(self.options.io_timeout))
            .map_err(classify)?;
        con.set_write_timeout(Some(self.options.io_timeout))
            .map_err(classify)?;
        Ok(con)
    }

    /// Runs `op` on a pooled connection. The connection goes back to the pool unless
    /// the operation failed at the connection level.
    pub(super) fn with_connection<T>(
        &self,
        op: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut con = match pooled {
            Some(con) => con,
            None => self.connect()?,
        };
        match op(&mut con) {
            Ok(value) => {
                let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                if idle.len() < self.options.pool_size {
                    idle.push(con);
                }
                Ok(value)
            }
            Err(e) => {
                let broken = e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_unrecoverable_error();
                if !broken {
                    let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < self.options.pool_size {
                        idle.push(con);
                    }
                }
                Err(classify(e))
            }
        }
    }
}

impl SessionCache for RedisCache {
    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let key = self.session_key(id);
        let create = if mode == StoreMode::CreateNew {
            "1"
        } else {
            "0"
        };
        let stored: i64 = self.with_connection(|con| {
            self.store
                .key(&key)
                .arg(record)
                .arg(user_id)
                .arg(to_ms(expires))
                .arg(create)
                .arg(self.user_prefix())
                .invoke(con)
        })?;
        if stored == 0 {
            return Err(Error::IdCollision);
        }
        if self.options.toto.write {
            redis_toto::write(self, record)?;
        }
        Ok(None)
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let key = self.session_key(id);
        let found: Option<Vec<u8>> =
            self.with_connection(|con| redis::cmd("HGET").arg(&key).arg("r").query(con))?;
        if found.is_none() && self.options.toto.read {
            return Ok(redis_toto::import(self, id)?.map(|l| l.record.to_vec()));
        }
        Ok(found)
    }

    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        let key = self.session_key(id);
        let (user, anonymous) = renew.map_or((0, 0), |r| (to_ms(r.user), to_ms(r.anonymous)));
        let found: Option<(Vec<u8>, i64)> = self.with_connection(|con| {
            self.load_renew
                .key(&key)
                .arg(user)
                .arg(anonymous)
                .arg(self.user_prefix())
                .invoke(con)
        })?;
        if found.is_none() && self.options.toto.read {
            return redis_toto::import(self, id);
        }
        if let (Some((_, expires_ms)), Some(_), true) = (&found, renew, self.options.toto.write) {
            if *expires_ms > 0 {
                redis_toto::extend(self, id, *expires_ms)?;
            }
        }
        Ok(found.map(|(record, expires_ms)| Loaded {
            record: record.into(),
            expires: (expires_ms >= 0).then_some(expires_ms as f64 / 1000.0),
        }))
    }

    fn remove(&self, id: &str) -> Result<()> {
        let key = self.session_key(id);
        let _: i64 =
            self.with_connection(|con| self.remove.key(&key).arg(self.user_prefix()).invoke(con))?;
        if self.options.toto.enabled() {
            redis_toto::remove(self, id)?;
        }
        Ok(())
    }

    fn remove_user(&self, user_id: &str) -> Result<u64> {
        let index = format!("{}{user_id}", self.user_prefix());
        let removed =
            self.with_connection(|con| self.remove_user.key(&index).arg(user_id).invoke(con))?;
        if self.options.toto.enabled() {
            redis_toto::remove_user(self, user_id)?;
        }
        Ok(removed)
    }
}
