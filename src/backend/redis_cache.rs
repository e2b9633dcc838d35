//! A session cache in Redis, for sessions shared by many servers (and languages).
//!
//! Layout (with the default prefix `toto:`):
//! - `toto:s:<sha256(id) hex>`: a hash `{r: stamped record, u: user id, n: revision,
//!   t: tokens}` with Redis's own expiry at the session's absolute expiry (PEXPIREAT).
//!   `t` holds the random tokens (16 hex digits each) of the key's last 8 store calls,
//!   by which a store run again after its reply was lost knows its write happened.
//!   `r` is a 17-byte stamp, then the record: a NUL byte, `u` (a user's session) or `a`
//!   (anonymous), and the expiry in Unix milliseconds as 15 ASCII digits, mirroring the
//!   key's own, so that a retrieve is one `HGET` of one field (an entry written before
//!   the stamp, whose `r` starts with the record's own first byte, is stamped on its
//!   first retrieve). `n` is the record's revision in decimal (absent, for entries
//!   written before revisions: 0); the store script compares it for the conditional
//!   modes. Ids never appear raw in the key space
//!   unless `hash_ids` is off (compatibility with an existing key layout).
//! - `toto:u:<user id>`: a sorted set of that user's session keys scored by expiry;
//!   expired members are pruned on every store and the set itself expires with its
//!   longest-lived session, so it cannot grow without bound.
//!
//! On a standalone Redis (`redis://`) every operation is one Lua script or one command:
//! one round trip, atomic on the server. Retrieve-with-renewal is one `HGET` of the
//! stamped record, and nothing is written while the expiry lags its renewal target by
//! no more than the slack ([`Renewal::renewed_expiry`]: by default 1 % of the renewal
//! window); past it, one more round trip runs the RENEW script (expiry moved forward
//! only, never reviving a removed key). So the server does a plain read on almost every
//! retrieve. Expiry is judged by the Redis server's clock (its key expiry). The store,
//! renew and remove scripts touch the session key and the user-index key they compute
//! themselves, which a Redis Cluster refuses (CROSSSLOT).
//!
//! **Redis Cluster** (`redis+cluster://host:port[,host:port...]`, seed nodes; routing,
//! `MOVED`/`ASK` and retries are the `redis` crate's cluster client, see `redis_pool`):
//! every script and command touches ONE key, so no hash tags are needed (a tag could
//! only put a user's sessions in one slot, and a session is found by its id alone,
//! without knowing its user):
//! - the session key keeps its store script (`STORE_ONE`: the same create-only,
//!   if-revision and if-exists checks, revision and call token, atomic on its key);
//! - the user index lives in its own slot and is updated by separate single-key calls,
//!   always *before* the session changes: a store first adds the session to the index
//!   (`INDEX_ADD`: `ZADD GT`, never lowering a score; expired members pruned), and a
//!   renewal (past the slack, as above; the retrieve itself is the same one `HGET`)
//!   of a user's session reads its user id (`HGET u`: only past the slack) and raises
//!   the index score (`INDEX_ADD`) before the session's
//!   expiry (`RENEW_ONE`: RENEW on the session key alone). A failure in between leaves
//!   a dangling index entry, which is harmless (nothing is deleted through it unless
//!   the session still names that user) and pruned at its expiry; never a live session
//!   missing from its index, which would escape logout-everywhere;
//! - `remove` deletes the session (`REMOVE_ONE`, answering its user), then `ZREM`s it
//!   from the index;
//! - `remove_user` reads the index [`REMOVE_USER_BATCH`] members at a time, deletes each
//!   session only if its `u` field is still that user (`DELETE_IF_OWNER`, one `EVAL`
//!   per session sent as one cluster pipeline, which the crate groups per node), then
//!   drops those members; `trim_user` asks the index which sessions are beyond the cap
//!   (`TRIM_ONE`) and deletes them the same way.
//!
//! What cluster mode gives up: logout-everywhere and the per-user cap are not atomic
//! across slots (a session stored while `remove_user` runs may survive, as between
//! batches on a standalone Redis; so may one re-stored with `StoreMode::Upsert` between
//! its deletion and its removal from the index, which the manager never does: it
//! saves with `IfRevision`/`IfExists`, which refuse a deleted session); a store of a
//! user's session, and its renewal, cost one round trip more (the index; a retrieve
//! within the slack is the same one `HGET`); the cap counts index entries, so a
//! dangling one counts until it expires. Python Toto's
//! layout (`toto` options) needs multi-key scripts and is refused on a cluster.
//!
//! Connections come from the Redis backends' shared pool (`redis_pool`): opened on
//! demand with timeouts, dropped after an I/O error (a restarted Redis is picked up by
//! the same cache), [`Error::Unavailable`] when Redis is down, slow or `LOADING`, a
//! fail-fast back-off of [`RedisOptions::down_backoff`] (default 1 s) after a
//! connection-level failure, connections never shared across `fork()`, and calls that
//! a signal interrupted (EINTR) run again: every operation here is safe to repeat (the
//! store script recognises its own earlier run by a per-call token). As a second line
//! against a shared connection, a record is accepted only if the session id inside it
//! is the id that was asked for.
//!
//! `remove_user` works in batches of [`REMOVE_USER_BATCH`] sessions, one script each,
//! so a user with very many sessions does not block Redis in one long script.

use std::io::Write;
use std::time::Duration;

use redis::Script;
use sha2::{Digest, Sha256};

use crate::backend::redis_pool::{PoolOptions, RedisConnection, RedisPool};
use crate::backend::redis_toto::{self, TotoCompat, TotoHost};
use crate::backend::{Loaded, Renewal, SessionCache, StoreMode};
use crate::core::error::{Error, Result};
use crate::core::session::Session;

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
    /// After a connection-level failure, how long every call fails at once with
    /// [`Error::Unavailable`] instead of trying Redis again (default 1 s; zero turns
    /// the back-off off, so every call waits for its own timeouts).
    pub down_backoff: Duration,
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
            down_backoff: Duration::from_secs(1),
            toto: TotoCompat::default(),
        }
    }
}

// ARGV[4]: '0' upsert, '1' create-only, '2' only over revision ARGV[7], '3' only over a
// live entry. Returns 1 stored, 2 stored before and written over since (a run again),
// 0 id taken, -1 absent (revoked), -2 other revision.
// ARGV[8] is a random token of this store call. Field 't' keeps the tokens of the
// key's last STORE_TOKENS writes (newest first, space-separated): finding its own
// token there means this call's write already happened (a run repeated after its reply
// was lost), even when other writes came after it, so it is neither written again nor
// reported as a conflict or a taken id (the caller would then make its change a second
// time). Equal records are not enough: two concurrent increments of one counter write
// the same bytes, and one of them must be a conflict.
// The parts of the store scripts (STORE on a standalone Redis, STORE_ONE on a cluster).
// The mode checks:
macro_rules! store_checks {
    () => {
        r"
local key, user, exp = KEYS[1], ARGV[2], tonumber(ARGV[3])
local mode = ARGV[4]
local STORE_TOKENS = 8
local tokens = redis.pcall('HGET', key, 't')
if type(tokens) ~= 'string' then tokens = '' end
-- Our own token among the last writes' (tokens found: the key is live, Redis expires
-- the whole hash): this write already happened (1 while it is still the last write,
-- 2 when others came after it), in every mode.
if string.find(' ' .. tokens .. ' ', ' ' .. ARGV[8] .. ' ', 1, true) then
  if string.find(tokens .. ' ', ARGV[8] .. ' ', 1, true) == 1 then return 1 end
  return 2
end
if mode ~= '0' then
  local live = redis.call('EXISTS', key) == 1
  if mode == '1' then
    if live then return 0 end
  elseif not live then
    return -1
  elseif mode == '2' then
    local rev = redis.pcall('HGET', key, 'n')
    if type(rev) ~= 'string' then rev = '0' end
    if rev ~= ARGV[7] then return -2 end
  end
end
"
    };
}
// The write itself:
macro_rules! store_write {
    () => {
        r"
local kept = {ARGV[8]}
for t in string.gmatch(tokens, '%S+') do
  if #kept >= STORE_TOKENS then break end
  kept[#kept + 1] = t
end
redis.call('DEL', key)
redis.call('HSET', key, 'r', ARGV[1], 'u', user, 'n', ARGV[6], 't', table.concat(kept, ' '))
redis.call('PEXPIREAT', key, exp)
"
    };
}

// The renew scripts' common part: KEYS[1], target ARGV[1]; `stamp(ms)` rewrites the
// stamp of `r` (see the module doc) with expiry `ms` and answers the session's user id
// ('' if none); `stamp_legacy(ms)` stamps an `r` written before stamps existed.
macro_rules! stamp_fn {
    () => {
        r"
local key, target = KEYS[1], tonumber(ARGV[1])
local function stamp(ms)
  local h = redis.call('HMGET', key, 'r', 'u')
  local r, u = h[1], h[2]
  if type(u) ~= 'string' then u = '' end
  if not r then return u end
  if string.byte(r, 1) == 0 and #r >= 17 then r = string.sub(r, 18) end
  local kind = 'a'
  if u ~= '' then kind = 'u' end
  redis.call('HSET', key, 'r', '\0' .. kind .. string.format('%015.0f', ms) .. r)
  return u
end
local function stamp_legacy(ms)
  local r = redis.call('HGET', key, 'r')
  if r and string.byte(r, 1) ~= 0 then stamp(ms) end
end
"
    };
}

const STORE: &str = concat!(
    store_checks!(),
    r"
local old = redis.pcall('HGET', key, 'u')
if type(old) == 'string' and old ~= user and old ~= '' then
  redis.call('ZREM', ARGV[5] .. old, key)
end
",
    store_write!(),
    r"
if user ~= '' then
  local idx = ARGV[5] .. user
  local t = redis.call('TIME')
  redis.call('ZADD', idx, exp, key)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
  if redis.call('PEXPIRETIME', idx) < exp then redis.call('PEXPIREAT', idx, exp) end
end
return 1
"
);

// Cluster mode: STORE on the session key alone (the same checks, revision and token);
// the user index was updated before it by INDEX_ADD.
const STORE_ONE: &str = concat!(store_checks!(), store_write!(), "return 1\n");

// Cluster mode, KEYS[1]: a user's index. Adds (or raises the score of) session key
// ARGV[2] at expiry ARGV[1], never lowering a score, drops expired members, and keeps
// the index alive as long as its longest session.
const INDEX_ADD: &str = r"
local idx, exp = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TIME')
redis.call('ZADD', idx, 'GT', exp, ARGV[2])
redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
if redis.call('PEXPIRETIME', idx) < exp then redis.call('PEXPIREAT', idx, exp) end
return 1
";

// Cluster mode: RENEW on the session key alone (the caller raised the user's index
// first, with INDEX_ADD).
const RENEW_ONE: &str = concat!(
    stamp_fn!(),
    r"
if target > 0 and redis.call('PEXPIREAT', key, target, 'GT') == 1 then
  stamp(target)
  return target
end
local held = redis.call('PEXPIRETIME', key)
if held > 0 then stamp_legacy(held) end
return held
"
);

// Cluster mode: deletes a session, answering its user ('' if none) for the index.
const REMOVE_ONE: &str = r"
local u = redis.pcall('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1])
if type(u) == 'string' then return u end
return ''
";

// Cluster mode: deletes session KEYS[1] only if it belongs to user ARGV[1] (an index
// entry can outlive its session or its owner). Sent as EVAL in a cluster pipeline.
const DELETE_IF_OWNER: &str = r"
if redis.pcall('HGET', KEYS[1], 'u') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

// Cluster mode, KEYS[1]: a user's index. Drops expired members and answers the members
// beyond the ARGV[1] that expire last (lowest scores first), for the caller to delete.
const TRIM_ONE: &str = r"
local idx, keep = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
local n = redis.call('ZCARD', idx)
if n <= keep then return {} end
return redis.call('ZRANGE', idx, 0, n - keep - 1)
";

// The expiry of KEYS[1] becomes ARGV[1] (Unix ms) if that is later, in its stamp and
// the user's index too. Never revives: a missing key stays missing (answer -2).
// Answers the expiry now held. Also stamps an entry written before the stamp existed.
const RENEW: &str = concat!(
    stamp_fn!(),
    r"
if target > 0 and redis.call('PEXPIREAT', key, target, 'GT') == 1 then
  local u = stamp(target)
  if u ~= '' then
    local idx = ARGV[2] .. u
    redis.call('ZADD', idx, 'XX', 'GT', target, key)
    redis.call('PEXPIREAT', idx, target, 'GT')
  end
  return target
end
local held = redis.call('PEXPIRETIME', key)
if held > 0 then stamp_legacy(held) end
return held
"
);

const REMOVE: &str = r"
local u = redis.pcall('HGET', KEYS[1], 'u')
if type(u) == 'string' and u ~= '' then redis.call('ZREM', ARGV[1] .. u, KEYS[1]) end
return redis.call('DEL', KEYS[1])
";

/// Sessions removed per script by `remove_user` (each batch is one short script, about
/// 7 ms for 1,000 sessions on the machine measured, so other clients get served in
/// between batches).
// KEYS[1]: a user's index. Drops expired members, then removes the sessions beyond
// the ARGV[1] that expire last (lowest scores first). Returns how many went.
const TRIM_USER: &str = r"
local idx, keep = KEYS[1], tonumber(ARGV[1])
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', idx, '-inf', '(' .. (t[1] * 1000 + math.floor(t[2] / 1000)))
local n = redis.call('ZCARD', idx)
if n <= keep then return 0 end
local old = redis.call('ZRANGE', idx, 0, n - keep - 1)
for _, k in ipairs(old) do
  redis.call('DEL', k)
  redis.call('ZREM', idx, k)
end
return #old
";

pub const REMOVE_USER_BATCH: usize = 1000;

const REMOVE_USER: &str = r"
local ks = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
local n = 0
for _, k in ipairs(ks) do
  if redis.pcall('HGET', k, 'u') == ARGV[1] then n = n + redis.call('DEL', k) end
  redis.call('ZREM', KEYS[1], k)
end
return {n, #ks}
";

/// A [`SessionCache`] in Redis. Thread-safe; share one per process.
pub struct RedisCache {
    pool: RedisPool,
    options: RedisOptions,
    store: Script,
    renew: Script,
    remove: Script,
    remove_user: Script,
    trim_user: Script,
    /// Cluster mode (`redis+cluster://`): single-key scripts, see the module doc.
    cluster: Option<ClusterScripts>,
}

/// The single-key scripts of cluster mode.
struct ClusterScripts {
    store: Script,
    index_add: Script,
    renew: Script,
    remove: Script,
    trim: Script,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: only the options are shown.
        f.debug_struct("RedisCache")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Bytes of the stamp before the record in field `r` (see the module doc).
const STAMP_LEN: usize = 17;

/// `r` as stored: the stamp (user or anonymous, expiry in ms), then the record.
fn stamped(user_id: &str, expires_ms: i64, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(STAMP_LEN + record.len());
    out.push(0);
    out.push(if user_id.is_empty() { b'a' } else { b'u' });
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{expires_ms:015}");
    out.extend_from_slice(record);
    out
}

/// What a stamp says: whether the session has a user, and its expiry (Unix ms).
#[derive(Debug, Clone, Copy)]
struct Stamp {
    user: bool,
    expires_ms: i64,
}

/// Splits a stored `r` into its stamp (`None` for an entry written before stamps
/// existed, or one whose stamp does not parse) and the record.
fn unstamp(stored: &[u8]) -> (Option<Stamp>, &[u8]) {
    if stored.len() < STAMP_LEN || stored[0] != 0 {
        return (None, stored);
    }
    let user = match stored[1] {
        b'u' => true,
        b'a' => false,
        _ => return (None, stored),
    };
    let digits = &stored[2..STAMP_LEN];
    if !digits.iter().all(u8::is_ascii_digit) {
        return (None, stored);
    }
    // 15 ASCII digits: valid UTF-8, and always within i64.
    let expires_ms = digits
        .iter()
        .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    (Some(Stamp { user, expires_ms }), &stored[STAMP_LEN..])
}

fn to_ms(seconds: f64) -> i64 {
    ((seconds * 1000.0).round() as i64).clamp(0, MAX_EXPIRY_MS)
}

impl RedisCache {
    /// A cache on `url`: `redis://[:password@]host:port[/db]` for a standalone Redis,
    /// `redis+cluster://[:password@]host:port[,host:port...]` for a Redis Cluster
    /// (seed nodes). Nothing is connected until the first operation; a malformed URL,
    /// a zero timeout, or Python Toto's layout options on a cluster are refused here
    /// ([`Error::InvalidArgument`]).
    pub fn new(url: &str, options: RedisOptions) -> Result<RedisCache> {
        let pool = RedisPool::new(
            url,
            PoolOptions {
                connect_timeout: options.connect_timeout,
                io_timeout: options.io_timeout,
                pool_size: options.pool_size,
                down_backoff: options.down_backoff,
            },
        )?;
        let toto = &options.toto;
        if pool.is_cluster() && (toto.read || toto.write || toto.keep_toto_key) {
            // Toto's keys and their per-user tracking are written together by
            // multi-key scripts.
            return Err(Error::InvalidArgument(
                "redis: Python Toto's session layout (toto_read, toto_keep_key, toto_write) is not supported on a Redis Cluster",
            ));
        }
        let cluster = pool.is_cluster().then(|| ClusterScripts {
            store: Script::new(STORE_ONE),
            index_add: Script::new(INDEX_ADD),
            renew: Script::new(RENEW_ONE),
            remove: Script::new(REMOVE_ONE),
            trim: Script::new(TRIM_ONE),
        });
        Ok(RedisCache {
            pool,
            options,
            cluster,
            store: Script::new(STORE),
            renew: Script::new(RENEW),
            remove: Script::new(REMOVE),
            remove_user: Script::new(REMOVE_USER),
            trim_user: Script::new(TRIM_USER),
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

    fn user_index(&self, user_id: &str) -> String {
        format!("{}u:{user_id}", self.options.key_prefix)
    }

    /// True on a Redis Cluster (`redis+cluster://`).
    pub fn is_cluster(&self) -> bool {
        self.cluster.is_some()
    }
}

/// Cluster mode: deletes those of `keys` that belong to `user_id` (one single-key
/// EVAL each, sent as one cluster pipeline: the crate groups them per node and follows
/// redirections). Answers how many went.
fn delete_owned(
    con: &mut RedisConnection,
    user_id: &str,
    keys: &[String],
) -> redis::RedisResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    let Some(cluster) = con.cluster() else {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "a cluster pipeline needs a cluster connection",
        )));
    };
    let mut pipe = redis::cluster::cluster_pipe();
    for key in keys {
        pipe.cmd("EVAL")
            .arg(DELETE_IF_OWNER)
            .arg(1)
            .arg(key)
            .arg(user_id);
    }
    let deleted: Vec<u64> = pipe.query(cluster)?;
    Ok(deleted.iter().sum())
}

impl RedisCache {
    /// The user id field of session key `key` ('' when none): read only on the rare
    /// paths that need it (a renewal on a cluster, an entry not stamped yet).
    fn legacy_user(&self, key: &str) -> Result<String> {
        let user: Option<String> = self
            .pool
            .run(|con| redis::cmd("HGET").arg(key).arg("u").query(con))?;
        Ok(user.unwrap_or_default())
    }

    /// Cluster mode: the user's index first (so a failure in between leaves only a
    /// dangling entry, never a session missing from its index), then STORE_ONE.
    fn store_cluster(
        &self,
        scripts: &ClusterScripts,
        key: &str,
        user_id: &str,
        call: impl Fn(&mut RedisConnection) -> redis::RedisResult<i64>,
        expires_ms: i64,
    ) -> Result<i64> {
        if !user_id.is_empty() {
            let index = self.user_index(user_id);
            let _: i64 = self.pool.run(|con| {
                scripts
                    .index_add
                    .key(&index)
                    .arg(expires_ms)
                    .arg(key)
                    .invoke(con)
            })?;
        }
        self.pool.run(call)
    }

    /// Cluster mode: the renew step, the user's index raised first (so the index's
    /// score is never below the session's expiry), then RENEW_ONE. Answers as RENEW.
    fn renew_cluster(
        &self,
        scripts: &ClusterScripts,
        key: &str,
        user_id: &str,
        target: i64,
    ) -> Result<i64> {
        if !user_id.is_empty() && target > 0 {
            let index = self.user_index(user_id);
            let _: i64 = self.pool.run(|con| {
                scripts
                    .index_add
                    .key(&index)
                    .arg(target)
                    .arg(key)
                    .invoke(con)
            })?;
        }
        self.pool
            .run(|con| scripts.renew.key(key).arg(target).invoke(con))
    }

    /// Cluster mode: the index's members in batches, each session deleted if it is
    /// still the user's, then those members dropped from the index.
    fn remove_user_cluster(&self, user_id: &str) -> Result<u64> {
        let index = self.user_index(user_id);
        let mut removed = 0u64;
        loop {
            let keys: Vec<String> = self.pool.run(|con| {
                redis::cmd("ZRANGE")
                    .arg(&index)
                    .arg(0)
                    .arg(REMOVE_USER_BATCH - 1)
                    .query(con)
            })?;
            if keys.is_empty() {
                break;
            }
            removed += self.pool.run(|con| delete_owned(con, user_id, &keys))?;
            let _: i64 = self
                .pool
                .run(|con| redis::cmd("ZREM").arg(&index).arg(&keys).query(con))?;
            if keys.len() < REMOVE_USER_BATCH {
                break;
            }
        }
        Ok(removed)
    }

    /// Cluster mode: TRIM_ONE on the index names the sessions beyond `keep`; each is
    /// deleted if still the user's, then dropped from the index.
    fn trim_user_cluster(
        &self,
        scripts: &ClusterScripts,
        user_id: &str,
        keep: usize,
    ) -> Result<u64> {
        let index = self.user_index(user_id);
        let keys: Vec<String> = self
            .pool
            .run(|con| scripts.trim.key(&index).arg(keep).invoke(con))?;
        if keys.is_empty() {
            return Ok(0);
        }
        let removed = self.pool.run(|con| delete_owned(con, user_id, &keys))?;
        let _: i64 = self
            .pool
            .run(|con| redis::cmd("ZREM").arg(&index).arg(&keys).query(con))?;
        Ok(removed)
    }
}

impl RedisCache {
    /// One STORE script run: `mode`'s check and the write, atomic on the server.
    /// `call` identifies this store call's write if the script has to run again (see
    /// STORE): a random number per call.
    #[allow(clippy::too_many_arguments)]
    fn store_as_call(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        revision: u64,
        mode: StoreMode,
        call: u64,
    ) -> Result<Option<String>> {
        let key = self.session_key(id);
        let (mode, expected) = match mode {
            StoreMode::Upsert => ("0", 0),
            StoreMode::CreateNew => ("1", 0),
            StoreMode::IfRevision(expected) => ("2", expected),
            StoreMode::IfExists => ("3", 0),
        };
        let token = format!("{call:016x}");
        let script = self.cluster.as_ref().map_or(&self.store, |c| &c.store);
        let value = stamped(user_id, to_ms(expires), record);
        let call = |con: &mut RedisConnection| {
            script
                .key(&key)
                .arg(&value)
                .arg(user_id)
                .arg(to_ms(expires))
                .arg(mode)
                .arg(self.user_prefix())
                .arg(revision.to_string())
                .arg(expected.to_string())
                .arg(&token)
                .invoke(con)
        };
        let stored: i64 = match &self.cluster {
            Some(scripts) => self.store_cluster(scripts, &key, user_id, call, to_ms(expires))?,
            None => self.pool.run(call)?,
        };
        match stored {
            1 => {
                if self.options.toto.write {
                    redis_toto::write(self, record)?;
                }
                Ok(None)
            }
            // Written by this call's earlier run, and over since: Toto's copy is the
            // later writes' to keep.
            2 => Ok(None),
            0 => Err(Error::IdCollision),
            -1 => Err(Error::Revoked),
            -2 => Err(Error::Conflict),
            other => Err(Error::BackendMisbehaved(format!(
                "redis store script answered {other}"
            ))),
        }
    }

    /// Stores `session` as `revision`, as the store call numbered `call`, which may have
    /// run before: what the cache does when it runs a store again after its reply was
    /// lost (a signal, a dropped connection). For tests of that path; not part of the
    /// API: a `call` used for two different stores makes the second report success
    /// without writing.
    #[doc(hidden)]
    pub fn store_session_as_call(
        &self,
        session: &Session,
        mode: StoreMode,
        revision: u64,
        call: u64,
    ) -> Result<Option<String>> {
        let mut as_stored = session.clone();
        as_stored.set_revision(Some(revision));
        let record = as_stored.export()?;
        let id = session.id();
        let (user_id, expires) = (session.user_id(), session.expires());
        self.store_as_call(id, user_id, expires, &record, revision, mode, call)
    }
}

impl SessionCache for RedisCache {
    /// One STORE script run: `mode`'s check and the write, atomic on the server.
    fn store_revision(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        revision: u64,
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let call = u64::from_le_bytes(crate::core::rng::bytes::<8>());
        self.store_as_call(id, user_id, expires, record, revision, mode, call)
    }

    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let revision = crate::core::record::peek_revision(record);
        self.store_revision(id, user_id, expires, record, revision, mode)
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let key = self.session_key(id);
        let found: Option<Vec<u8>> = self
            .pool
            .run(|con| redis::cmd("HGET").arg(&key).arg("r").query(con))?;
        match found {
            Some(stored) => Ok(Some(unstamp(&stored).1.to_vec())),
            None if self.options.toto.read => {
                Ok(redis_toto::import(self, id)?.map(|l| l.record.to_vec()))
            }
            None => Ok(None),
        }
    }

    /// One `HGET` of the stamped record; the RENEW script only when
    /// [`Renewal::renewed_expiry`] says the expiry must move (or, once, for an entry
    /// written before stamps existed).
    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        let key = self.session_key(id);
        let stored: Option<Vec<u8>> = self
            .pool
            .run(|con| redis::cmd("HGET").arg(&key).arg("r").query(con))?;
        let Some(stored) = stored else {
            if self.options.toto.read {
                return redis_toto::import(self, id);
            }
            return Ok(None);
        };
        let (stamp, record) = unstamp(&stored);
        // The user id field, read (once) only where it is needed: an entry not stamped
        // yet being renewed, or a renewal on a cluster (its index comes first).
        let mut user_id: Option<String> = None;
        let due = match (renew, stamp) {
            // The renewal rule needs to know only whether the session has a user.
            (Some(r), Some(st)) => r
                .renewed_expiry(
                    if st.user { "u" } else { "" },
                    st.expires_ms as f64 / 1000.0,
                )
                .map(to_ms),
            (None, Some(_)) => None,
            // Not stamped yet: the script stamps it (with the target, when given:
            // a legacy entry is renewed by the rule Toto had, expiry before target).
            (None, None) => Some(0),
            (Some(r), None) => {
                let user = user_id.insert(self.legacy_user(&key)?);
                Some(to_ms(r.target_for(user)))
            }
        };
        let expires_ms = match due {
            None => stamp.map_or(-1, |st| st.expires_ms),
            Some(target) => {
                let now_held: i64 = match &self.cluster {
                    Some(scripts) => {
                        // The index is raised first; it needs the user's id.
                        let user = match (stamp, user_id) {
                            (Some(st), _) if !st.user => String::new(),
                            (_, Some(user)) => user,
                            _ => self.legacy_user(&key)?,
                        };
                        self.renew_cluster(scripts, &key, &user, target)?
                    }
                    None => self.pool.run(|con| {
                        self.renew
                            .key(&key)
                            .arg(target)
                            .arg(self.user_prefix())
                            .invoke(con)
                    })?,
                };
                if now_held == -2 {
                    // Removed since the read: gone for the caller too.
                    return Ok(None);
                }
                if target > 0 && now_held == target && self.options.toto.write {
                    redis_toto::extend(self, id, target)?;
                }
                now_held
            }
        };
        Ok(Some(Loaded {
            record: record.into(),
            expires: (expires_ms >= 0).then_some(expires_ms as f64 / 1000.0),
        }))
    }

    /// Decodes like the default, and refuses a record that carries another session
    /// id than the one asked for: a reply meant for another request (a connection
    /// shared across `fork()`) or a record copied under the wrong key is never handed
    /// out as this session.
    fn load_session_renew(
        &self,
        id: &str,
        renew: Option<Renewal>,
    ) -> Result<Option<(Session, Option<f64>)>> {
        let Some(loaded) = self.load_renew(id, renew)? else {
            return Ok(None);
        };
        let session = Session::import(&loaded.record)?;
        if session.id() != id {
            return Err(Error::BackendMisbehaved(
                "redis: the record under this session id carries another id".into(),
            ));
        }
        Ok(Some((session, loaded.expires)))
    }

    fn remove(&self, id: &str) -> Result<()> {
        let key = self.session_key(id);
        if let Some(scripts) = &self.cluster {
            let user: String = self.pool.run(|con| scripts.remove.key(&key).invoke(con))?;
            if !user.is_empty() {
                let index = self.user_index(&user);
                let _: i64 = self
                    .pool
                    .run(|con| redis::cmd("ZREM").arg(&index).arg(&key).query(con))?;
            }
            return Ok(());
        }
        let _: i64 = self
            .pool
            .run(|con| self.remove.key(&key).arg(self.user_prefix()).invoke(con))?;
        if self.options.toto.enabled() {
            redis_toto::remove(self, id)?;
        }
        Ok(())
    }

    /// One script on the user's index: expired members dropped, then the sessions
    /// beyond `keep` that expire soonest removed (safe to run again).
    fn trim_user(&self, user_id: &str, keep: usize) -> Result<u64> {
        if let Some(scripts) = &self.cluster {
            return self.trim_user_cluster(scripts, user_id, keep);
        }
        let index = format!("{}{user_id}", self.user_prefix());
        self.pool
            .run(|con| self.trim_user.key(&index).arg(keep).invoke(con))
    }

    /// Removes the user's sessions [`REMOVE_USER_BATCH`] at a time (one short script
    /// per batch) until the user's index is empty. Not atomic as a whole: a session
    /// stored for the user while the batches run may survive, as one stored just after
    /// the call would.
    fn remove_user(&self, user_id: &str) -> Result<u64> {
        if self.cluster.is_some() {
            return self.remove_user_cluster(user_id);
        }
        let index = format!("{}{user_id}", self.user_prefix());
        let mut removed = 0u64;
        loop {
            let (n, seen): (u64, usize) = self.pool.run(|con| {
                self.remove_user
                    .key(&index)
                    .arg(user_id)
                    .arg(REMOVE_USER_BATCH)
                    .invoke(con)
            })?;
            removed += n;
            if seen < REMOVE_USER_BATCH {
                break;
            }
        }
        if self.options.toto.enabled() {
            redis_toto::remove_user(self, user_id)?;
        }
        Ok(removed)
    }
}

impl TotoHost for RedisCache {
    fn key_prefix(&self) -> &str {
        &self.options.key_prefix
    }

    fn compat(&self) -> &TotoCompat {
        &self.options.toto
    }

    fn run<T>(&self, op: impl Fn(&mut RedisConnection) -> redis::RedisResult<T>) -> Result<T> {
        self.pool.run(op)
    }
}
