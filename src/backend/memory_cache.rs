//! The embedded default cache: sharded in-memory maps with expiry and a per-user index.

use std::collections::hash_map::{DefaultHasher, Entry};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{Loaded, Renewal, SessionCache, StoreMode};
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};

const SHARDS: usize = 16;
/// Every this many stores into a shard, its expired entries are swept.
const SWEEP_EVERY: u32 = 1024;

struct Stored {
    record: Box<[u8]>,
    expires: f64,
    user_id: Box<str>,
}

#[derive(Default)]
struct Shard {
    sessions: HashMap<Box<str>, Stored>,
    /// user id -> ids in this shard (anonymous sessions are not indexed).
    by_user: HashMap<Box<str>, HashSet<Box<str>>>,
    stores_since_sweep: u32,
}

impl Shard {
    fn unindex(&mut self, user_id: &str, id: &str) {
        if user_id.is_empty() {
            return;
        }
        if let Some(ids) = self.by_user.get_mut(user_id) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_user.remove(user_id);
            }
        }
    }

    fn index(&mut self, user_id: &str, id: &str) {
        if !user_id.is_empty() {
            self.by_user
                .entry(user_id.into())
                .or_default()
                .insert(id.into());
        }
    }

    fn take(&mut self, id: &str) -> Option<Stored> {
        let stored = self.sessions.remove(id)?;
        self.unindex(&stored.user_id, id);
        Some(stored)
    }

    fn sweep(&mut self, now: f64) {
        let expired: Vec<Box<str>> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.take(&id);
        }
        self.stores_since_sweep = 0;
    }
}

/// A thread-safe in-memory [`SessionCache`]. Expired entries are never returned; they
/// are reclaimed when loaded and by periodic sweeps.
pub struct MemoryCache {
    shards: Box<[Mutex<Shard>]>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryCache {
    fn default() -> Self {
        MemoryCache::new()
    }
}

impl std::fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryCache {
    /// An empty cache on the wall clock.
    pub fn new() -> Self {
        MemoryCache::with_clock(Arc::new(SystemClock))
    }

    /// An empty cache on a given clock.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            clock,
        }
    }

    fn shard(&self, id: &str) -> MutexGuard<'_, Shard> {
        let mut h = DefaultHasher::new();
        id.hash(&mut h);
        let shard = &self.shards[(h.finish() as usize) % SHARDS];
        // A panic while holding the lock cannot leave a shard half-updated in a way
        // that matters here (each operation is one map change), so poison is ignored.
        shard.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// Number of entries held, expired ones not yet reclaimed included.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).sessions.len())
            .sum()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reclaims every expired entry now.
    pub fn purge_expired(&self) {
        let now = self.clock.now();
        for shard in self.shards.iter() {
            shard.lock().unwrap_or_else(|p| p.into_inner()).sweep(now);
        }
    }
}

impl SessionCache for MemoryCache {
    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let now = self.clock.now();
        let mut shard = self.shard(id);
        shard.stores_since_sweep += 1;
        if shard.stores_since_sweep >= SWEEP_EVERY {
            shard.sweep(now);
        }
        let stored = Stored {
            record: record.into(),
            expires,
            user_id: user_id.into(),
        };
        let old_user = match shard.sessions.entry(id.into()) {
            Entry::Occupied(mut e) => {
                if mode == StoreMode::CreateNew && e.get().expires > now {
                    return Err(Error::IdCollision);
                }
                let old = std::mem::replace(e.get_mut(), stored);
                Some(old.user_id)
            }
            Entry::Vacant(e) => {
                e.insert(stored);
                None
            }
        };
        match old_user {
            Some(old) if &*old == user_id => {}
            Some(old) => {
                shard.unindex(&old, id);
                shard.index(user_id, id);
            }
            None => shard.index(user_id, id),
        }
        Ok(None)
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let now = self.clock.now();
        let mut shard = self.shard(id);
        match shard.sessions.get(id) {
            None => Ok(None),
            Some(s) if s.expires > now => Ok(Some(s.record.to_vec())),
            Some(_) => {
                shard.take(id);
                Ok(None)
            }
        }
    }

    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        let now = self.clock.now();
        let mut shard = self.shard(id);
        let Some(stored) = shard.sessions.get_mut(id) else {
            return Ok(None);
        };
        if stored.expires <= now {
            shard.take(id);
            return Ok(None);
        }
        if let Some(r) = renew {
            stored.expires = stored.expires.max(r.target_for(&stored.user_id));
        }
        Ok(Some(Loaded {
            record: stored.record.to_vec(),
            expires: Some(stored.expires),
        }))
    }

    fn remove(&self, id: &str) -> Result<()> {
        self.shard(id).take(id);
        Ok(())
    }

    fn remove_user(&self, user_id: &str) -> Result<u64> {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(ids) = shard.by_user.remove(user_id) {
                for id in ids {
                    if shard.sessions.remove(&id).is_some() {
                        removed += 1;
                    }
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn cache() -> (Arc<ManualClock>, MemoryCache) {
        let clock = Arc::new(ManualClock::new(1000.0));
        (clock.clone(), MemoryCache::with_clock(clock))
    }

    #[test]
    fn store_load_remove() {
        let (_, c) = cache();
        assert_eq!(
            c.store("a", "u", 2000.0, b"rec", StoreMode::Upsert)
                .unwrap(),
            None
        );
        assert_eq!(c.load("a").unwrap().as_deref(), Some(&b"rec"[..]));
        c.store("a", "u", 2000.0, b"rec2", StoreMode::Upsert)
            .unwrap();
        assert_eq!(c.load("a").unwrap().as_deref(), Some(&b"rec2"[..]));
        c.remove("a").unwrap();
        assert_eq!(c.load("a").unwrap(), None);
        c.remove("a").unwrap();
    }

    #[test]
    fn expiry_enforced_and_reclaimed() {
        let (clock, c) = cache();
        c.store("a", "u", 1010.0, b"r", StoreMode::Upsert).unwrap();
        c.store("b", "u", 1020.0, b"r", StoreMode::Upsert).unwrap();
        clock.set(1010.0);
        assert_eq!(c.load("a").unwrap(), None, "expired at exactly its expiry");
        assert_eq!(c.len(), 1, "expired entry reclaimed on load");
        clock.set(1030.0);
        c.purge_expired();
        assert!(c.is_empty());
    }

    #[test]
    fn load_renew_extends_only_forward_and_never_revives() {
        let (clock, c) = cache();
        c.store("u", "alice", 1100.0, b"r", StoreMode::Upsert)
            .unwrap();
        c.store("a", "", 1100.0, b"r", StoreMode::Upsert).unwrap();
        let r = Renewal {
            user: 1500.0,
            anonymous: 1050.0,
        };
        let got = c.load_renew("u", Some(r)).unwrap().unwrap();
        assert_eq!(
            (got.record.as_slice(), got.expires),
            (&b"r"[..], Some(1500.0))
        );
        assert_eq!(
            c.load_renew("a", Some(r)).unwrap().unwrap().expires,
            Some(1100.0),
            "never shortened"
        );
        assert_eq!(
            c.load_renew("u", None).unwrap().unwrap().expires,
            Some(1500.0)
        );
        clock.set(1200.0);
        assert_eq!(
            c.load_renew("a", Some(r)).unwrap(),
            None,
            "expired entries are not renewed"
        );
        assert!(
            c.load_renew("u", None).unwrap().is_some(),
            "renewed entry outlives its old expiry"
        );
    }

    #[test]
    fn create_new_detects_collisions_but_not_with_expired() {
        let (clock, c) = cache();
        c.store("a", "u", 1010.0, b"r", StoreMode::CreateNew)
            .unwrap();
        assert_eq!(
            c.store("a", "v", 1010.0, b"x", StoreMode::CreateNew),
            Err(Error::IdCollision)
        );
        assert_eq!(c.load("a").unwrap().as_deref(), Some(&b"r"[..]));
        clock.set(1011.0);
        c.store("a", "v", 2000.0, b"x", StoreMode::CreateNew)
            .unwrap();
    }

    #[test]
    fn remove_user_follows_owner_changes() {
        let (_, c) = cache();
        for i in 0..50 {
            c.store(&format!("s{i}"), "alice", 2000.0, b"r", StoreMode::Upsert)
                .unwrap();
        }
        c.store("b1", "bob", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        c.store("anon", "", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        // s0 moves to bob.
        c.store("s0", "bob", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        assert_eq!(c.remove_user("alice").unwrap(), 49);
        assert_eq!(c.remove_user("alice").unwrap(), 0);
        assert!(c.load("s0").unwrap().is_some());
        assert_eq!(c.remove_user("bob").unwrap(), 2);
        assert!(c.load("anon").unwrap().is_some());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn periodic_sweep_bounds_growth() {
        let (clock, c) = cache();
        for i in 0..(SWEEP_EVERY as usize * SHARDS) {
            c.store(&format!("old{i}"), "u", 1001.0, b"r", StoreMode::Upsert)
                .unwrap();
        }
        clock.set(1002.0);
        for i in 0..(SWEEP_EVERY as usize * SHARDS * 2) {
            c.store(&format!("new{i}"), "u", 5000.0, b"r", StoreMode::Upsert)
                .unwrap();
        }
        let olds = SWEEP_EVERY as usize * SHARDS;
        assert!(
            c.len() < olds + SWEEP_EVERY as usize * SHARDS * 2,
            "sweeps reclaimed expired entries"
        );
    }
}
