//! Sessions in and out of any [`SessionCache`]: the one place that turns a session into
//! a stored record and back, shared by the manager and the C entry points.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::core::error::Result;
use crate::core::id::id_shard;
use crate::core::session::Session;
use crate::core::store::{Renewal, SessionCache, StoreMode};

/// Decoded records kept beside the bytes they were decoded from, for a cache that
/// hands back records (a C or Go cache through a vtable): a load that gets, for an id,
/// the very bytes it got last time clones the session decoded then (its parts shared
/// copy-on-write, as the memory cache shares them) instead of decoding them again. A
/// decode was more than half of a retrieve through a Go cache. Equal bytes decode to
/// equal sessions, so this changes no result; the cache is still asked every time.
///
/// Bounded: `SHARDS` x `PER_SHARD` ids (a shard is emptied when it is full); an id's
/// entry goes when the cache removes it or its user's sessions ([`Self::forget`],
/// [`Self::forget_user`]). At about a record and a decoded session per id (1-2 KB for
/// a small state), at most a couple of MB per cache.
pub struct DecodedRecords {
    shards: Box<[Mutex<DecodedShard>]>,
}

/// Per id: the record's bytes and the session decoded from them.
type DecodedShard = HashMap<Box<str>, (Box<[u8]>, Session)>;

impl DecodedRecords {
    const SHARDS: usize = 16;
    const PER_SHARD: usize = 64;

    /// An empty memo.
    pub fn new() -> DecodedRecords {
        DecodedRecords {
            shards: (0..Self::SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    fn shard(&self, id: &str) -> MutexGuard<'_, DecodedShard> {
        // A panic never happens with the lock held (no user code runs under it) and
        // the map is consistent between statements, so a poisoned lock is usable.
        self.shards[id_shard(id, Self::SHARDS)]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// [`Session::import`] of `record`, loaded under `id`.
    pub fn import(&self, id: &str, record: &[u8]) -> Result<Session> {
        if let Some((bytes, session)) = self.shard(id).get(id) {
            if **bytes == *record {
                return Ok(session.clone());
            }
        }
        let session = Session::import(record)?;
        let mut shard = self.shard(id);
        if shard.len() >= Self::PER_SHARD && !shard.contains_key(id) {
            shard.clear();
        }
        shard.insert(id.into(), (record.into(), session.clone()));
        Ok(session)
    }

    /// Drops what is kept for `id`.
    pub fn forget(&self, id: &str) {
        self.shard(id).remove(id);
    }

    /// Drops what is kept for the sessions of `user_id`.
    pub fn forget_user(&self, user_id: &str) {
        for shard in self.shards.iter() {
            shard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|_, (_, session)| session.user_id() != user_id);
        }
    }
}

impl Default for DecodedRecords {
    fn default() -> Self {
        DecodedRecords::new()
    }
}

/// A session read from a cache.
#[derive(Debug)]
pub struct LoadedSession {
    /// The session, clean, with the id it was loaded under.
    pub session: Session,
    /// True when the cache reported the expiry it holds (and so applied any renewal
    /// itself); the session carries that expiry.
    pub expiry_from_cache: bool,
}

/// Stores `session` under its id until its expiry, as its next revision (its
/// [`Session::revision`] + 1), with `mode`'s check. A cache that chose another id gives
/// the session that id. On success the session is clean and at the new revision; on
/// failure it keeps its changes, dirty flag and revision, so a retry stores it again.
pub fn store_session(
    cache: &dyn SessionCache,
    session: &mut Session,
    mode: StoreMode,
) -> Result<()> {
    let next = session.revision().wrapping_add(1);
    store_session_as(cache, session, mode, next)
}

/// [`store_session`] writing a given revision: the session's own one for a write that
/// changes only the expiry (renewal is not a conflicting write).
pub(crate) fn store_session_as(
    cache: &dyn SessionCache,
    session: &mut Session,
    mode: StoreMode,
    revision: u64,
) -> Result<()> {
    let previous = session.is_stored().then(|| session.revision());
    session.set_revision(Some(revision));
    match cache.store_session(session, mode) {
        Ok(new_id) => {
            if let Some(new_id) = new_id {
                session.set_id(&new_id)?;
            }
            session.mark_clean();
            Ok(())
        }
        Err(e) => {
            session.set_revision(previous);
            Err(e)
        }
    }
}

/// Loads the session stored under `id` (renewing it in the same call when the cache
/// can, see [`SessionCache::load_renew`]). The session's id is the one it was loaded
/// under (a cache that renamed it is honoured) and its expiry the one the cache holds,
/// when the cache reports one. No expiry check here: that is the caller's rule.
pub fn load_session(
    cache: &dyn SessionCache,
    id: &str,
    renew: Option<Renewal>,
) -> Result<Option<LoadedSession>> {
    let Some((mut session, expires)) = cache.load_session_renew(id, renew)? else {
        return Ok(None);
    };
    if session.id() != id {
        session.set_id(id)?;
    }
    if let Some(expires) = expires {
        session.set_expires(expires)?;
    }
    session.mark_clean();
    Ok(Some(LoadedSession {
        session,
        expiry_from_cache: expires.is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::value::Value;

    fn record(user: &str, n: i64) -> (String, Vec<u8>) {
        let mut s = Session::new(user, 4_000_000_000.0).unwrap();
        s.set("n", Value::from(n)).unwrap();
        (s.id().to_owned(), s.export().unwrap())
    }

    #[test]
    fn decoded_records_reuse_a_decode_only_for_the_same_bytes() {
        let memo = DecodedRecords::new();
        let (id, bytes) = record("ann", 1);
        let a = memo.import(&id, &bytes).unwrap();
        let mut b = memo.import(&id, &bytes).unwrap();
        assert!(a.shares_state_with(&b), "same bytes: the decode is shared");
        assert_eq!(a, Session::import(&bytes).unwrap());
        assert!(!b.is_dirty());
        // A change to a session handed out copies first: the memo keeps the record's.
        b.set("n", Value::from(2i64)).unwrap();
        let c = memo.import(&id, &bytes).unwrap();
        assert_eq!(c.get("n"), Some(&Value::from(1i64)));
        // Other bytes under the same id: decoded again.
        let newer = b.export().unwrap();
        let d = memo.import(&id, &newer).unwrap();
        assert_eq!(d.get("n"), Some(&Value::from(2i64)));
        assert!(!d.shares_state_with(&c));
        // Bad bytes are refused as Session::import refuses them, and not kept.
        assert!(memo.import(&id, b"\xff\x00").is_err());
        assert!(memo.import(&id, &newer).unwrap().shares_state_with(&d));
    }

    #[test]
    fn decoded_records_forget_and_stay_bounded() {
        let memo = DecodedRecords::new();
        let (id, bytes) = record("ann", 1);
        let a = memo.import(&id, &bytes).unwrap();
        memo.forget(&id);
        assert!(!memo.import(&id, &bytes).unwrap().shares_state_with(&a));
        let a = memo.import(&id, &bytes).unwrap();
        let (other_id, other_bytes) = record("bob", 1);
        let o = memo.import(&other_id, &other_bytes).unwrap();
        memo.forget_user("ann");
        assert!(!memo.import(&id, &bytes).unwrap().shares_state_with(&a));
        assert!(memo
            .import(&other_id, &other_bytes)
            .unwrap()
            .shares_state_with(&o));
        // Many ids: no shard holds more than its bound.
        for i in 0..(DecodedRecords::SHARDS * DecodedRecords::PER_SHARD * 3) {
            let (id, bytes) = record("u", i as i64);
            memo.import(&id, &bytes).unwrap();
        }
        for shard in memo.shards.iter() {
            assert!(shard.lock().unwrap().len() <= DecodedRecords::PER_SHARD);
        }
    }
}
