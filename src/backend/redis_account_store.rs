//! An account store in Redis, in Python Toto's layout: one hash per account under
//! `account:<user_id>` (the prefix is configurable), one field per property, the
//! password hash in the field `password`. Accounts a Python Toto service created are
//! read as they are (their `$p5k2$` hashes verify and are upgraded to Argon2id on the
//! next login, written back to the same field), and Python Toto reads accounts made
//! here.
//!
//! Property values in a hash field:
//! - text is stored as its UTF-8 bytes, exactly as Toto (redis-py) stores a `str`; a
//!   field that is not valid UTF-8 reads back as bytes;
//! - every other value (integers, floats, booleans, null, bytes, arrays, maps, and text
//!   that starts with a NUL byte) is stored as one NUL byte followed by the value's
//!   CBOR encoding, so it reads back with its type. Python sees those fields as
//!   opaque strings; what Python stored (`str()` of its values, e.g. `"42"`, `"True"`)
//!   reads here as text.
//!
//! Like Toto's `create_account`, a new hash also holds a `user_id` field (the user id)
//! unless the properties name one: Toto finds accounts by that field, and a Redis hash
//! cannot exist without fields, so an account created without properties still exists.
//!
//! Every operation is one round trip on one key; create, save and loading named
//! properties are Lua scripts, so a create never overwrites an existing account (Toto's
//! 1006) and a save never brings a removed account back (1005). One key per operation
//! means the store works on a Redis Cluster as well (`redis+cluster://` URL, see
//! `redis_pool`). Connections come from a small pool like the Redis cache's, each
//! recorded with the process id that opened it: after a `fork()` the child never uses
//! its parent's sockets.

use std::time::Duration;

use redis::Script;

use crate::backend::redis_pool::{PoolOptions, RedisPool};
use crate::backend::{AccountStore, Property};
use crate::core::codec;
use crate::core::error::{Error, Result};
use crate::core::limits::MAX_VALUE_LEN;
use crate::core::value::Value;

/// Settings of a [`RedisAccountStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAccountStoreOptions {
    /// Prefix of the account keys: `<prefix><user_id>` (default `account:`, Toto's).
    pub key_prefix: String,
    /// Time allowed to open a connection (default 2 s).
    pub connect_timeout: Duration,
    /// Time allowed for one reply (default 2 s).
    pub io_timeout: Duration,
    /// Idle connections kept for reuse (default 8; more are opened under load).
    pub pool_size: usize,
}

impl Default for RedisAccountStoreOptions {
    fn default() -> Self {
        RedisAccountStoreOptions {
            key_prefix: "account:".into(),
            connect_timeout: Duration::from_secs(2),
            io_timeout: Duration::from_secs(2),
            pool_size: 8,
        }
    }
}

/// The field that marks a value as CBOR rather than text.
const TAG: u8 = 0;

/// The hash field Toto keeps the user id in.
pub const USER_ID_FIELD: &str = "user_id";

const CREATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
";

const SAVE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if #ARGV > 0 then redis.call('HSET', KEYS[1], unpack(ARGV)) end
return 1
";

// Named properties of an account: nil when it does not exist (one key, so it runs on a
// Redis Cluster too).
const LOAD_SOME: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
return redis.call('HMGET', KEYS[1], unpack(ARGV))
";

/// An [`AccountStore`] in Redis. Thread-safe; share one per process.
pub struct RedisAccountStore {
    pool: RedisPool,
    options: RedisAccountStoreOptions,
    create: Script,
    save: Script,
    load_some: Script,
}

impl std::fmt::Debug for RedisAccountStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: only the options are shown.
        f.debug_struct("RedisAccountStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A property value as stored in a hash field (see the module docs).
pub fn encode_property(value: &Value) -> Result<Vec<u8>> {
    match value {
        Value::Text(t) if !t.as_bytes().starts_with(&[TAG]) => Ok(t.as_bytes().to_vec()),
        other => {
            let mut out = vec![TAG];
            out.extend_from_slice(&codec::to_vec(other)?);
            Ok(out)
        }
    }
}

/// A hash field's bytes as a property value (see the module docs).
pub fn decode_property(bytes: Vec<u8>) -> Result<Value> {
    if let Some(cbor) = bytes.strip_prefix(&[TAG]) {
        return codec::from_slice(cbor, MAX_VALUE_LEN, "account property");
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => Value::Text(text),
        Err(e) => Value::Bytes(e.into_bytes()),
    })
}

fn encode_all(properties: &[(&str, &Value)]) -> Result<Vec<(String, Vec<u8>)>> {
    properties
        .iter()
        .map(|(k, v)| Ok(((*k).to_owned(), encode_property(v)?)))
        .collect()
}

impl RedisAccountStore {
    /// A store on `url` (`redis://[:password@]host:port[/db]`, or
    /// `redis+cluster://[:password@]host:port[,host:port...]`). Nothing is connected
    /// until the first operation; a malformed URL or zero timeout is refused here.
    pub fn new(url: &str, options: RedisAccountStoreOptions) -> Result<RedisAccountStore> {
        let pool = RedisPool::new(
            url,
            PoolOptions {
                connect_timeout: options.connect_timeout,
                io_timeout: options.io_timeout,
                pool_size: options.pool_size,
                down_backoff: Duration::from_secs(1),
            },
        )?;
        Ok(RedisAccountStore {
            pool,
            options,
            create: Script::new(CREATE),
            save: Script::new(SAVE),
            load_some: Script::new(LOAD_SOME),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &RedisAccountStoreOptions {
        &self.options
    }

    /// The Redis key of `user_id`'s account hash.
    pub fn account_key(&self, user_id: &str) -> String {
        format!("{}{user_id}", self.options.key_prefix)
    }

    fn script_args(properties: &[(String, Vec<u8>)]) -> Vec<&[u8]> {
        properties
            .iter()
            .flat_map(|(k, v)| [k.as_bytes(), v.as_slice()])
            .collect()
    }
}

impl AccountStore for RedisAccountStore {
    fn load(&self, user_id: &str, names: Option<&[&str]>) -> Result<Option<Vec<Property>>> {
        let key = self.account_key(user_id);
        let raw: Vec<(String, Vec<u8>)> = match names {
            None => {
                let all: Vec<(String, Vec<u8>)> = self
                    .pool
                    .run(|con| redis::cmd("HGETALL").arg(&key).query(con))?;
                if all.is_empty() {
                    return Ok(None);
                }
                all
            }
            Some([]) => {
                let exists: bool = self
                    .pool
                    .run(|con| redis::cmd("EXISTS").arg(&key).query(con))?;
                return Ok(exists.then(Vec::new));
            }
            Some(names) => {
                let values: Option<Vec<Option<Vec<u8>>>> = self
                    .pool
                    .run(|con| self.load_some.key(&key).arg(names).invoke(con))?;
                let Some(values) = values else {
                    return Ok(None);
                };
                names
                    .iter()
                    .zip(values)
                    .filter_map(|(n, v)| v.map(|v| ((*n).to_owned(), v)))
                    .collect()
            }
        };
        raw.into_iter()
            .map(|(k, v)| Ok((k, decode_property(v)?)))
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    fn save(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()> {
        let key = self.account_key(user_id);
        let encoded = encode_all(properties)?;
        let args = Self::script_args(&encoded);
        let saved: i64 = self.pool.run(|con| {
            let mut call = self.save.key(&key);
            for a in &args {
                call.arg(*a);
            }
            call.invoke(con)
        })?;
        if saved == 0 {
            return Err(Error::InvalidCredentials);
        }
        Ok(())
    }

    fn create(&self, user_id: &str, properties: &[(&str, &Value)]) -> Result<()> {
        let key = self.account_key(user_id);
        let mut encoded = encode_all(properties)?;
        if !properties.iter().any(|(k, _)| *k == USER_ID_FIELD) {
            encoded.push((USER_ID_FIELD.to_owned(), user_id.as_bytes().to_vec()));
        }
        let args = Self::script_args(&encoded);
        // Not run twice after an interruption: a second run would find the account the
        // first one created and answer "exists".
        let created: i64 = self.pool.run_once(|con| {
            let mut call = self.create.key(&key);
            for a in &args {
                call.arg(*a);
            }
            call.invoke(con)
        })?;
        if created == 0 {
            return Err(Error::UserIdExists);
        }
        Ok(())
    }

    fn remove(&self, user_id: &str) -> Result<()> {
        let key = self.account_key(user_id);
        let removed: i64 = self
            .pool
            .run(|con| redis::cmd("DEL").arg(&key).query(con))?;
        if removed == 0 {
            return Err(Error::InvalidCredentials);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_encoding() {
        assert_eq!(encode_property(&Value::Text("a@b".into())).unwrap(), b"a@b");
        for v in [
            Value::Text("a@b".into()),
            Value::Text("\0starts with NUL".into()),
            Value::Text(String::new()),
            Value::Integer(42),
            Value::Float(0.5),
            Value::Bool(false),
            Value::Null,
            Value::Bytes(vec![0xff, 0]),
            Value::Array(vec![Value::Integer(1)]),
        ] {
            let bytes = encode_property(&v).unwrap();
            assert_eq!(decode_property(bytes).unwrap(), v);
        }
        assert_eq!(
            decode_property(vec![0xff, 0xfe]).unwrap(),
            Value::Bytes(vec![0xff, 0xfe])
        );
        assert!(decode_property(vec![0, 0xff]).is_err());
    }
}
