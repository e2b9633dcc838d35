//! The embedded default cache: sharded in-memory tables with expiry and a per-user
//! index.
//!
//! Sessions stored through [`SessionCache::store_session`] (what the manager does) are
//! kept decoded: the session's shared parts are kept and handed out again on load, so a
//! retrieve neither decodes nor copies the state (the first change a caller makes
//! copies it). That costs memory: about twice the compact form's per session (the
//! bench's 5-entry session at 1 M sessions: ~0.88 KB against ~0.42 KB resident).
//! [`MemoryCache::compact`] keeps encoded records instead (a decode on every load).
//! Record bytes stored through [`SessionCache::store`] (a C caller's own records) are
//! always kept as they are and decoded when loaded as a session; either form is
//! encoded on demand when loaded as bytes.
//!
//! Memory per session is kept low (what an entry holds: `memory_entry`): a record is
//! one allocation with its id and user id, a decoded session's id is its parts' own
//! (or a copy equal to it), and the per-user index (`memory_user_index`) shares ids
//! and records and reads a user's id inside one of the user's records where it can; a
//! user with one session needs no set.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use foldhash::fast::SeedableRandomState;
use foldhash::SharedSeed;
use hashbrown::HashTable;

use crate::backend::memory_entry::{Entry, IdKey, Incoming, PackedRecord, Shared};
use crate::backend::memory_user_index::UserIndex;
use crate::backend::{Loaded, Renewal, SessionCache, StoreMode};
use crate::core::clock::{self, Clock, SystemClock};
use crate::core::error::{Error, Result};
use crate::core::id::id_shard;
use crate::core::rng;
use crate::core::session::Session;

const SHARDS: usize = 16;
/// Every this many stores into a shard, its expired entries are swept.
const SWEEP_EVERY: u32 = 1024;

/// A live entry, taken out of the table (all shared, nothing copied).
struct Found {
    item: Shared,
    expires: f64,
    revision: u64,
}

/// Aligned to 128 bytes (the pair of cache lines x86's adjacent-line prefetch fetches
/// together): the lock word then sits on lines of its own, apart from its shard's map
/// headers and from the neighbouring shards. Unaligned, a `Mutex<Shard>` was 120
/// bytes: each lock shared lines with its maps' headers and its neighbours', so a
/// lock taken on one core made the other core's next lookup in that shard, or the
/// next, miss even when nothing in the maps had changed.
#[repr(align(128))]
struct Shard {
    /// The entries, found by their item's id. A `hashbrown` table rather than a map:
    /// an entry's id is inside its item (a packed record's in its allocation), so
    /// there is no key apart from it, and a save replaces an item in place.
    entries: HashTable<Entry>,
    /// Hashes ids with foldhash, keyed per shard from the CSPRNG ([`id_hasher`];
    /// Cargo.toml says why foldhash: ids are the library's own random ones, or a
    /// caller's).
    hasher: SeedableRandomState,
    by_user: UserIndex,
    stores_since_sweep: u32,
}

/// The hasher of a shard's ids: foldhash keyed from the library's OS-seeded CSPRNG,
/// 64 bits shared by every shard of the process and 64 of the shard's own. (foldhash's
/// own `RandomState` seeds from addresses and the time, which its docs call enough only
/// because it claims little resistance to chosen keys.)
fn id_hasher() -> SeedableRandomState {
    static SHARED: OnceLock<SharedSeed> = OnceLock::new();
    let shared = SHARED.get_or_init(|| SharedSeed::from_u64(u64::from_ne_bytes(rng::bytes())));
    SeedableRandomState::with_seed(u64::from_ne_bytes(rng::bytes()), shared)
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            entries: HashTable::new(),
            hasher: id_hasher(),
            by_user: UserIndex::default(),
            stores_since_sweep: 0,
        }
    }
}

impl Shard {
    fn hash(&self, id: &[u8]) -> u64 {
        hash_id(&self.hasher, id)
    }

    fn take(&mut self, id: &[u8]) -> Option<Entry> {
        let hash = self.hash(id);
        let (entry, _) = self
            .entries
            .find_entry(hash, |e| e.item.id() == id)
            .ok()?
            .remove();
        self.by_user.unindex(entry.item.user_id(), id);
        Some(entry)
    }

    fn sweep(&mut self, now: f64) {
        let by_user = &mut self.by_user;
        self.entries.retain(|e| {
            let live = e.expires > now;
            if !live {
                by_user.unindex(e.item.user_id(), e.item.id());
            }
            live
        });
        self.stores_since_sweep = 0;
    }
}

/// An id's hash in a shard's table: its bytes alone (no length prefix: the table
/// holds nothing but ids).
fn hash_id(hasher: &SeedableRandomState, id: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(id);
    h.finish()
}

/// Whether `mode` lets a store go ahead over an entry whose live revision is `live`
/// (`None`: absent or expired).
fn check_mode(mode: StoreMode, live: Option<u64>) -> Result<()> {
    match (mode, live) {
        (StoreMode::CreateNew, Some(_)) => Err(Error::IdCollision),
        (StoreMode::IfRevision(_) | StoreMode::IfExists, None) => Err(Error::Revoked),
        (StoreMode::IfRevision(expected), Some(current)) if current != expected => {
            Err(Error::Conflict)
        }
        _ => Ok(()),
    }
}

/// A shard behind its lock.
#[derive(Default)]
struct ShardSlot(Mutex<Shard>);

impl ShardSlot {
    fn lock(&self) -> MutexGuard<'_, Shard> {
        // A panic while holding the lock cannot leave a shard half-updated in a way
        // that matters here (each operation is one map change), so poison is ignored.
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// A thread-safe in-memory [`SessionCache`]. Expired entries are never returned; they
/// are reclaimed when loaded and by periodic sweeps.
pub struct MemoryCache {
    shards: Box<[ShardSlot]>,
    clock: Arc<dyn Clock>,
    /// Keep encoded records rather than decoded sessions.
    compact: bool,
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
            shards: (0..SHARDS).map(|_| ShardSlot::default()).collect(),
            clock,
            compact: false,
        }
    }

    /// An empty cache on the wall clock that keeps every session as its encoded
    /// record: about half the memory per session, a decode on every load.
    pub fn compact() -> Self {
        MemoryCache::compact_with_clock(Arc::new(SystemClock))
    }

    /// [`MemoryCache::compact`] on a given clock.
    pub fn compact_with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryCache {
            compact: true,
            ..MemoryCache::with_clock(clock)
        }
    }

    /// True when this cache keeps encoded records (see [`MemoryCache::compact`]).
    pub fn is_compact(&self) -> bool {
        self.compact
    }

    fn shard(&self, id: &str) -> MutexGuard<'_, Shard> {
        self.shards[id_shard(id, SHARDS)].lock()
    }

    /// Number of entries held, expired ones not yet reclaimed included.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `item` under `id` (see [`SessionCache::store`]); `shared_user`, when
    /// given, is the user id in an `Arc` (the index keeps it for a user it did not
    /// know). The mode's check and the write happen under the shard's lock.
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        id: &str,
        user_id: &str,
        shared_user: Option<&Arc<str>>,
        expires: f64,
        item: Incoming,
        revision: u64,
        mode: StoreMode,
    ) -> Result<Option<String>> {
        let (now, lag) = clock::reading(&*self.clock);
        let mut guard = self.shard(id);
        guard.stores_since_sweep += 1;
        if guard.stores_since_sweep >= SWEEP_EVERY {
            // A lagging reading sweeps fewer: never a live entry.
            guard.sweep(now);
        }
        let hash = guard.hash(id.as_bytes());
        let shard = &mut *guard;
        // One lookup: a save over an entry replaces its item in place.
        if let Some(existing) = shard
            .entries
            .find_mut(hash, |e| e.item.id() == id.as_bytes())
        {
            let live = (!clock::reached(existing.expires, now, lag)).then_some(existing.revision);
            check_mode(mode, live)?;
            let records = existing.item.is_record() || item.is_record();
            let same_owner = existing.item.user_id_bytes() == user_id.as_bytes();
            let previous = existing.replace(item, expires, revision);
            if !same_owner {
                shard.by_user.unindex(previous.user_id(), id.as_bytes());
            }
            if !same_owner || records {
                // A new owner, or a packed record the index holds to let go of (the
                // owner's key for this id is replaced in place).
                shard
                    .by_user
                    .index(user_id, existing.item.index_key(), shared_user);
            }
            drop(guard);
            previous.release();
            return Ok(None);
        }
        check_mode(mode, None)?;
        let item = item.into_item();
        shard.by_user.index(user_id, item.index_key(), shared_user);
        let hasher = &shard.hasher;
        shard.entries.insert_unique(
            hash,
            Entry {
                item,
                expires,
                revision,
            },
            |e| hash_id(hasher, e.item.id()),
        );
        Ok(None)
    }

    /// The live entry under `id`, renewed when `renew` is given; an expired one is
    /// reclaimed. The lock is held only for the lookup: any decoding or encoding
    /// happens after.
    fn get_renew(&self, id: &str, renew: Option<Renewal>) -> Option<Found> {
        // The caller's reading of the system clock (which may lag it) stands for this
        // cache's own when that is the system clock too.
        let (now, lag) = match renew {
            Some(Renewal {
                system_now: Some(at),
                lag,
                ..
            }) if self.clock.is_system() => (at, lag),
            _ => clock::reading(&*self.clock),
        };
        let mut shard = self.shard(id);
        let hash = shard.hash(id.as_bytes());
        let entry = shard
            .entries
            .find_mut(hash, |e| e.item.id() == id.as_bytes())?;
        if clock::reached(entry.expires, now, lag) {
            let expired = shard.take(id.as_bytes());
            drop(shard); // what it held is freed outside the lock
            drop(expired);
            return None;
        }
        if let Some(target) =
            renew.and_then(|r| r.renewed_expiry(entry.item.user_id(), entry.expires))
        {
            entry.expires = target;
        }
        Some(Found {
            item: entry.item.share(),
            expires: entry.expires,
            revision: entry.revision,
        })
    }

    /// Reclaims every expired entry now.
    pub fn purge_expired(&self) {
        let now = self.clock.now();
        for shard in self.shards.iter() {
            shard.lock().sweep(now);
        }
    }
}

impl SessionCache for MemoryCache {
    /// Expiry is judged by `clock::reached` and renewal by [`Renewal::renewed_expiry`].
    fn settles_lagging_renewal(&self) -> bool {
        true
    }

    fn store(
        &self,
        id: &str,
        user_id: &str,
        expires: f64,
        record: &[u8],
        mode: StoreMode,
    ) -> Result<Option<String>> {
        self.put(
            id,
            user_id,
            None,
            expires,
            Incoming::Record(PackedRecord::new(id, user_id, record)?),
            crate::core::record::peek_revision(record),
            mode,
        )
    }

    fn store_session(&self, session: &Session, mode: StoreMode) -> Result<Option<String>> {
        let item = if self.compact {
            let record = session.export()?;
            Incoming::Record(PackedRecord::new(session.id(), session.user_id(), &record)?)
        } else {
            // Same size rule as a cache that stores the encoded record.
            session.check_record_len()?;
            Incoming::Session {
                id: session.shared_id(),
                parts: session.shared_parts(),
            }
        };
        self.put(
            session.id(),
            session.user_id(),
            Some(session.shared_user_id()),
            session.expires(),
            item,
            session.revision(),
            mode,
        )
    }

    fn load(&self, id: &str) -> Result<Option<Vec<u8>>> {
        let Some(found) = self.get_renew(id, None) else {
            return Ok(None);
        };
        found.item.record(found.expires, found.revision).map(Some)
    }

    fn load_renew(&self, id: &str, renew: Option<Renewal>) -> Result<Option<Loaded>> {
        let Some(found) = self.get_renew(id, renew) else {
            return Ok(None);
        };
        Ok(Some(Loaded {
            record: found.item.record(found.expires, found.revision)?,
            expires: Some(found.expires),
        }))
    }

    fn load_session_renew(
        &self,
        id: &str,
        renew: Option<Renewal>,
    ) -> Result<Option<(Session, Option<f64>)>> {
        let Some(found) = self.get_renew(id, renew) else {
            return Ok(None);
        };
        let session = found.item.session(found.expires, found.revision)?;
        Ok(Some((session, Some(found.expires))))
    }

    fn remove(&self, id: &str) -> Result<()> {
        let removed = self.shard(id).take(id.as_bytes());
        drop(removed); // after the lock
        Ok(())
    }

    /// The user's live sessions are gathered from every shard, the `keep` that expire
    /// last are left and the others removed (one shard lock at a time: a session the
    /// user creates meanwhile is not counted).
    fn trim_user(&self, user_id: &str, keep: usize) -> Result<u64> {
        if user_id.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let mut live: Vec<(f64, usize, IdKey)> = Vec::new();
        for (i, shard) in self.shards.iter().enumerate() {
            let shard = shard.lock();
            if let Some(ids) = shard.by_user.get(user_id) {
                for id in ids.to_vec() {
                    let hash = shard.hash(id.bytes());
                    if let Some(entry) = shard.entries.find(hash, |e| e.item.id() == id.bytes()) {
                        if entry.expires > now {
                            live.push((entry.expires, i, id));
                        }
                    }
                }
            }
        }
        if live.len() <= keep {
            return Ok(0);
        }
        live.sort_by(|a, b| a.0.total_cmp(&b.0));
        let excess = live.len() - keep;
        let mut removed = 0;
        for (_, i, id) in live.into_iter().take(excess) {
            let taken = self.shards[i].lock().take(id.bytes());
            if taken.is_some() {
                removed += 1; // freed after the lock
            }
        }
        Ok(removed)
    }

    fn remove_user(&self, user_id: &str) -> Result<u64> {
        let mut removed = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            if let Some(ids) = shard.by_user.remove(user_id) {
                for id in ids.into_vec() {
                    let hash = shard.hash(id.bytes());
                    if let Ok(entry) = shard
                        .entries
                        .find_entry(hash, |e| e.item.id() == id.bytes())
                    {
                        removed.push(entry.remove().0);
                    }
                }
            }
        }
        // What the entries held is freed here, after the locks.
        Ok(removed.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory_entry::Item;
    use crate::core::clock::ManualClock;
    use std::collections::HashMap;

    fn cache() -> (Arc<ManualClock>, MemoryCache) {
        let clock = Arc::new(ManualClock::new(1000.0));
        (clock.clone(), MemoryCache::with_clock(clock))
    }

    fn session(id: &str, user: &str, expires: f64) -> Session {
        let mut s = Session::with_id(id, user, expires).unwrap();
        s.set("cart", crate::Value::from(3i64)).unwrap();
        s
    }

    #[test]
    fn sessions_are_kept_decoded_and_shared_copy_on_write() {
        let (_, c) = cache();
        let mut s = session("sid", "alice", 2000.0);
        c.store_session(&s, StoreMode::Upsert).unwrap();
        s.mark_clean();
        let (mut a, expires) = c.load_session_renew("sid", None).unwrap().unwrap();
        assert_eq!((a.clone(), expires), (s.clone(), Some(2000.0)));
        assert!(
            a.shares_state_with(&s),
            "handed out without decoding or copying"
        );
        a.set("cart", crate::Value::from(4i64)).unwrap();
        let (b, _) = c.load_session_renew("sid", None).unwrap().unwrap();
        assert_eq!(
            b.get("cart"),
            Some(&crate::Value::from(3i64)),
            "a change copies"
        );
        // As bytes: the encoded session with the expiry the cache holds.
        let r = Renewal::new(3000.0, 3000.0);
        let loaded = c.load_renew("sid", Some(r)).unwrap().unwrap();
        let mut renewed = s.clone();
        renewed.set_expires(3000.0).unwrap();
        assert_eq!(&loaded.record[..], &renewed.export().unwrap()[..]);
        assert_eq!(c.load("sid").unwrap().unwrap(), renewed.export().unwrap());
    }

    #[test]
    fn a_compact_cache_keeps_records_and_loads_the_same_sessions() {
        let clock = Arc::new(ManualClock::new(1000.0));
        let c = MemoryCache::compact_with_clock(clock);
        assert!(c.is_compact() && !MemoryCache::new().is_compact());
        let mut s = session("sid", "alice", 2000.0);
        c.store_session(&s, StoreMode::Upsert).unwrap();
        s.mark_clean();
        let (back, expires) = c.load_session_renew("sid", None).unwrap().unwrap();
        assert_eq!((&back, expires), (&s, Some(2000.0)));
        assert!(!back.shares_state_with(&s), "decoded anew");
        assert_eq!(c.load("sid").unwrap().unwrap(), s.export().unwrap());
        assert_eq!(c.remove_user("alice").unwrap(), 1);
    }

    #[test]
    fn stored_bytes_stay_bytes_and_are_decoded_on_load() {
        let (_, c) = cache();
        let s = session("sid", "", 2000.0);
        let record = s.export().unwrap();
        c.store("sid", "", 2000.0, &record, StoreMode::Upsert)
            .unwrap();
        assert_eq!(c.load("sid").unwrap().unwrap(), record, "exactly as stored");
        let (back, _) = c.load_session_renew("sid", None).unwrap().unwrap();
        assert_eq!(back, s);
        c.store("bad", "", 2000.0, b"garbage", StoreMode::Upsert)
            .unwrap();
        assert!(matches!(
            c.load_session_renew("bad", None),
            Err(Error::Decode(_))
        ));
        assert_eq!(c.load("bad").unwrap().unwrap(), b"garbage");
    }

    #[test]
    fn a_session_over_the_record_limit_is_refused_and_not_stored() {
        let (_, c) = cache();
        let mut s = session("big", "bob", 2000.0);
        let half = crate::Value::Bytes(vec![0; crate::core::limits::MAX_RECORD_LEN / 2]);
        s.set("a", half.clone()).unwrap();
        s.set("b", half).unwrap();
        assert!(matches!(
            c.store_session(&s, StoreMode::Upsert),
            Err(Error::TooLarge { .. })
        ));
        assert!(c.is_empty());
        assert!(
            matches!(s.export(), Err(Error::TooLarge { .. })),
            "same rule"
        );
    }

    /// On the system clock the cache reads the rough clock, which lags by up to a
    /// second: an entry that expired a moment ago is still expired to a save (and a
    /// load), as by a precise reading.
    #[test]
    fn on_the_system_clock_expiry_is_exact_despite_the_rough_reading() {
        let c = MemoryCache::new();
        let expires = SystemClock.now() + 0.1;
        c.store("sid", "u", expires, b"r", StoreMode::Upsert)
            .unwrap();
        c.store("sid", "u", expires, b"r", StoreMode::IfExists)
            .unwrap();
        // Just past the expiry, where the rough clock is most likely still before it.
        while SystemClock.now() <= expires {
            std::hint::spin_loop();
        }
        assert!(matches!(
            c.store("sid", "u", expires, b"r", StoreMode::IfExists),
            Err(Error::Revoked)
        ));
        assert!(c.load("sid").unwrap().is_none());
        c.store("sid", "u", expires, b"r", StoreMode::CreateNew)
            .unwrap();
    }

    #[test]
    fn a_system_clock_reading_from_the_caller_stands_for_its_own() {
        let wall = SystemClock.now();
        let renew_at = |now: f64| Renewal {
            system_now: Some(now),
            ..Renewal::new(0.0, 0.0)
        };
        // On the system clock: judged by the caller's reading (here, one past expiry).
        let c = MemoryCache::new();
        c.store("sid", "", wall + 60.0, b"r", StoreMode::Upsert)
            .unwrap();
        assert!(c.load_renew("sid", Some(renew_at(wall))).unwrap().is_some());
        assert!(c
            .load_renew("sid", Some(renew_at(wall + 61.0)))
            .unwrap()
            .is_none());
        // On another clock the reading is ignored.
        let (_, c) = cache();
        c.store("sid", "", 1100.0, b"r", StoreMode::Upsert).unwrap();
        assert!(c
            .load_renew("sid", Some(renew_at(5000.0)))
            .unwrap()
            .is_some());
    }

    #[test]
    fn id_maps_are_keyed_each_their_own() {
        let (a, b) = (id_hasher(), id_hasher());
        let id = b"IpHYzcMQQR5-wnN4pmHJNQ";
        assert_ne!(hash_id(&a, id), hash_id(&b, id));
        assert_eq!(hash_id(&a, b"same"), hash_id(&a, b"same"));
        assert_ne!(hash_id(&a, b"same"), hash_id(&a, b"Same"));
    }

    #[test]
    fn shards_do_not_share_cache_lines() {
        // The lock word on a line pair of its own, the shard's maps on the next pair.
        assert_eq!(std::mem::align_of::<ShardSlot>(), 128);
        assert_eq!(std::mem::size_of::<ShardSlot>(), 256);
    }

    /// Checks every shard's user index against its table, both ways.
    fn check_index(c: &MemoryCache) {
        for shard in c.shards.iter() {
            let s = shard.lock();
            crate::backend::memory_user_index::check(&s.by_user, |id| {
                s.entries
                    .find(s.hash(id), |e| e.item.id() == id)
                    .map(|e| e.item.index_key())
            });
            for e in s.entries.iter() {
                let user = e.item.user_id();
                if !user.is_empty() {
                    let ids = s.by_user.get(user).expect("an owner is indexed").to_vec();
                    assert!(ids.iter().any(|k| k.bytes() == e.item.id()), "{user}");
                }
            }
        }
    }

    #[test]
    fn an_owner_change_and_an_expiry_let_go_of_the_record_the_name_lived_in() {
        let (clock, c) = cache();
        // The last 8 bytes pick the shard: both in one shard, one user's two records.
        c.store("a-12345678", "alice", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        c.store("b-12345678", "alice", 1500.0, b"r", StoreMode::Upsert)
            .unwrap();
        let first = packed(&c, "a-12345678");
        assert_eq!(first.holders(), 4, "entry, id, name and this test");
        c.store("a-12345678", "bob", 2000.0, b"r2", StoreMode::Upsert)
            .unwrap();
        assert_eq!(first.holders(), 1, "moved to bob: alice's name moved on");
        check_index(&c);
        let second = packed(&c, "b-12345678");
        clock.set(1600.0);
        c.purge_expired();
        assert_eq!(second.holders(), 1, "expired and swept");
        check_index(&c);
        assert_eq!(c.remove_user("alice").unwrap(), 0);
        assert_eq!(c.remove_user("bob").unwrap(), 1);
        assert!(c.is_empty());
    }

    /// The packed record `id` holds now.
    fn packed(c: &MemoryCache, id: &str) -> PackedRecord {
        let shard = c.shard(id);
        let hash = shard.hash(id.as_bytes());
        match &shard
            .entries
            .find(hash, |e| e.item.id() == id.as_bytes())
            .unwrap()
            .item
        {
            Item::Record(record) => record.clone(),
            Item::Session { .. } => panic!("{id} holds a decoded session"),
        }
    }

    #[test]
    fn a_replaced_record_is_let_go_by_the_index_too() {
        let (_, c) = cache();
        c.store("x", "u", 2000.0, b"r1", StoreMode::Upsert).unwrap();
        let first = packed(&c, "x");
        assert_eq!(
            first.holders(),
            4,
            "the entry, the user index (the id and the user's name) and this test"
        );
        c.store("x", "u", 2000.0, b"r2", StoreMode::Upsert).unwrap();
        assert_eq!(first.holders(), 1, "a save by the same user re-indexes");
        let second = packed(&c, "x");
        let mut s = session("x", "u", 2000.0);
        c.store_session(&s, StoreMode::Upsert).unwrap();
        assert_eq!(second.holders(), 1, "a decoded session replacing it too");
        s.mark_clean();
        assert_eq!(c.load_session_renew("x", None).unwrap().unwrap().0, s);
        assert_eq!(c.remove_user("u").unwrap(), 1);
        assert!(c.is_empty());
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
        let r = Renewal::new(1500.0, 1050.0);
        let got = c.load_renew("u", Some(r)).unwrap().unwrap();
        assert_eq!((&got.record[..], got.expires), (&b"r"[..], Some(1500.0)));
        // Within the slack nothing moves; past it, the expiry goes to the target.
        let slack = Renewal {
            user_slack: 100.0,
            ..Renewal::new(1590.0, 1050.0)
        };
        assert_eq!(
            c.load_renew("u", Some(slack)).unwrap().unwrap().expires,
            Some(1500.0)
        );
        let past = Renewal {
            user_slack: 100.0,
            ..Renewal::new(1610.0, 1050.0)
        };
        assert_eq!(
            c.load_renew("u", Some(past)).unwrap().unwrap().expires,
            Some(1610.0)
        );
        assert_eq!(
            c.load_renew("a", Some(r)).unwrap().unwrap().expires,
            Some(1100.0),
            "never shortened"
        );
        assert_eq!(
            c.load_renew("u", None).unwrap().unwrap().expires,
            Some(1610.0)
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
    fn user_index_goes_from_one_to_many_and_back() {
        let (_, c) = cache();
        c.store("x1", "carol", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        c.store("x1", "carol", 2000.0, b"r2", StoreMode::Upsert)
            .unwrap(); // same owner again
        c.store("x2", "carol", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        c.store("x3", "carol", 2000.0, b"r", StoreMode::Upsert)
            .unwrap();
        c.remove("x2").unwrap();
        c.store("x3", "dave", 2000.0, b"r", StoreMode::Upsert)
            .unwrap(); // moves away
        assert_eq!(
            c.remove_user("carol").unwrap(),
            1,
            "only x1 is still carol's"
        );
        assert_eq!(c.remove_user("dave").unwrap(), 1);
        assert!(c.is_empty());
        assert!(
            c.shards.iter().all(|s| s.lock().by_user.is_empty()),
            "no index left behind"
        );
    }

    /// Seeded random stores, loads, removals and trims in both forms, checked against a
    /// plain map of what each id should hold.
    #[test]
    fn random_operations_match_a_plain_model() {
        struct Model {
            user: String,
            expires: f64,
            record: Vec<u8>,
        }
        impl Model {
            fn new(user: &str, expires: f64, record: Vec<u8>) -> Model {
                let user = user.to_string();
                Model {
                    user,
                    expires,
                    record,
                }
            }
        }
        for compact in [false, true] {
            for seed in 1..=20u64 {
                let clock = Arc::new(ManualClock::new(1000.0));
                let c = if compact {
                    MemoryCache::compact_with_clock(clock.clone())
                } else {
                    MemoryCache::with_clock(clock.clone())
                };
                let mut model: HashMap<String, Model> = HashMap::new();
                let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
                let mut next = |n: u64| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % n
                };
                let users = ["", "ann", "bob", "cy"];
                let mut now = 1000.0;
                for step in 0..400 {
                    // Two suffixes: the last 8 bytes pick the shard, so a user's
                    // sessions share one (the index's names move between records).
                    let id = format!("{}-group-{}", next(12), next(2));
                    let user = users[next(4) as usize];
                    let live = |m: &HashMap<String, Model>, id: &str, now: f64| {
                        m.get(id).is_some_and(|e| e.expires > now)
                    };
                    let at = format!("{seed}/{step}: {id}");
                    match next(9) {
                        0..=2 => {
                            let mode =
                                [StoreMode::Upsert, StoreMode::CreateNew, StoreMode::IfExists]
                                    [next(3) as usize];
                            let expires = now + 1.0 + next(30) as f64;
                            let record = format!("{id}:{user}:{step}").into_bytes();
                            let got = c.store(&id, user, expires, &record, mode);
                            let want = match (mode, live(&model, &id, now)) {
                                (StoreMode::CreateNew, true) => Err(Error::IdCollision),
                                (StoreMode::IfExists, false) => Err(Error::Revoked),
                                _ => Ok(None),
                            };
                            assert_eq!(got, want, "{at}");
                            if want.is_ok() {
                                model.insert(id, Model::new(user, expires, record));
                            }
                        }
                        3 => {
                            let mut s = session(&id, user, now + 1.0 + next(30) as f64);
                            s.set("step", crate::Value::from(step as i64)).unwrap();
                            c.store_session(&s, StoreMode::Upsert).unwrap();
                            s.mark_clean();
                            let (back, _) = c.load_session_renew(&id, None).unwrap().unwrap();
                            assert_eq!(back, s, "{at}");
                            let record = s.export().unwrap();
                            model.insert(id, Model::new(user, s.expires(), record));
                        }
                        4 => {
                            let got = c.load(&id).unwrap();
                            let want = live(&model, &id, now).then(|| model[&id].record.clone());
                            assert_eq!(got, want, "{at}");
                            if want.is_none() {
                                model.remove(&id); // an expired entry is reclaimed on load
                            }
                        }
                        5 => {
                            c.remove(&id).unwrap();
                            model.remove(&id);
                        }
                        6 => {
                            let got = c.remove_user(user).unwrap();
                            let mine: Vec<String> = model
                                .iter()
                                .filter(|(_, e)| e.user == user)
                                .map(|(id, _)| id.clone())
                                .collect();
                            let want = if user.is_empty() {
                                0
                            } else {
                                mine.len() as u64
                            };
                            assert_eq!(got, want, "{at}");
                            if !user.is_empty() {
                                mine.iter().for_each(|id| drop(model.remove(id)));
                            }
                        }
                        7 => {
                            let keep = next(3) as usize;
                            let got = c.trim_user(user, keep).unwrap();
                            let mut mine: Vec<(f64, String)> = model
                                .iter()
                                .filter(|(id, e)| e.user == user && live(&model, id, now))
                                .map(|(id, e)| (e.expires, id.clone()))
                                .collect();
                            mine.sort_by(|a, b| a.0.total_cmp(&b.0));
                            let excess = if user.is_empty() {
                                0
                            } else {
                                mine.len().saturating_sub(keep)
                            };
                            assert_eq!(got, excess as u64, "{at}");
                            // Equal expiries leave either one: follow what the cache kept.
                            for (_, id) in &mine {
                                if c.load(id).unwrap().is_none() {
                                    model.remove(id);
                                }
                            }
                        }
                        _ => {
                            now += next(8) as f64;
                            clock.set(now);
                            if next(4) == 0 {
                                c.purge_expired();
                                model.retain(|_, e| e.expires > now);
                            }
                        }
                    }
                    assert_eq!(c.len(), model.len(), "{at}");
                    check_index(&c);
                }
            }
        }
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
