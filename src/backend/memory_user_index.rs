//! The memory cache's per-user index: which ids of a shard belong to each user, for
//! removing or trimming a user's sessions. Anonymous sessions (empty user id) are not
//! indexed. Keyed with std's SipHash, randomly keyed: user ids are chosen by clients.
//!
//! It copies little: the ids are the entries' own (a decoded session's id, or the
//! packed record holding it), and a user's id is read from inside one of the user's
//! packed records (followed when that record is replaced or removed), else it is a
//! decoded session's own `Arc` when one was given, else a copy of its own.

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::backend::memory_entry::{IdKey, UserName};

/// The ids of one user's sessions in a shard: most users have one. The set is boxed
/// so the index's entries stay four words wide.
pub(super) enum UserIds {
    One(IdKey),
    // Deliberate: an inline set would make every entry of the index 64 bytes wide.
    #[allow(clippy::box_collection)]
    Many(Box<HashSet<IdKey>>),
}

impl UserIds {
    /// Adds `id`, or replaces the key of the same id (a packed record the index held
    /// is then let go).
    fn insert(&mut self, id: IdKey) {
        match self {
            UserIds::One(existing) if *existing == id => *existing = id,
            UserIds::One(existing) => {
                let first = existing.clone();
                *self = UserIds::Many(Box::new(HashSet::from([first, id])));
            }
            UserIds::Many(ids) => {
                ids.replace(id);
            }
        }
    }

    /// Removes `id`; true when no id is left.
    fn remove(&mut self, id: &[u8]) -> bool {
        match self {
            UserIds::One(existing) => existing.bytes() == id,
            UserIds::Many(ids) => {
                ids.remove(id);
                ids.is_empty()
            }
        }
    }

    /// One of the ids that is a packed record, if any is.
    fn any_record(&self) -> Option<&IdKey> {
        match self {
            UserIds::One(id) => Some(id).filter(|id| id.is_record()),
            UserIds::Many(ids) => ids.iter().find(|id| id.is_record()),
        }
    }

    pub(super) fn to_vec(&self) -> Vec<IdKey> {
        match self {
            UserIds::One(id) => vec![id.clone()],
            UserIds::Many(ids) => ids.iter().cloned().collect(),
        }
    }

    pub(super) fn into_vec(self) -> Vec<IdKey> {
        match self {
            UserIds::One(id) => vec![id],
            UserIds::Many(ids) => ids.into_iter().collect(),
        }
    }
}

struct UserEntry {
    name: UserName,
    ids: UserIds,
}

/// user id -> the ids of the user's sessions in one shard.
#[derive(Default)]
pub(super) struct UserIndex {
    users: HashTable<UserEntry>,
    hasher: RandomState,
}

fn hash_user(hasher: &RandomState, user_id: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write(user_id);
    h.finish()
}

/// What the index keeps as `user_id` for a user it indexes `key` under: the one inside
/// the packed record `key` is, else the session's own when given (`shared_user`),
/// else a copy.
fn name_for(user_id: &str, key: &IdKey, shared_user: Option<&Arc<str>>) -> UserName {
    if let Some(name) = UserName::in_record(key) {
        return name;
    }
    match shared_user.filter(|u| ***u == *user_id) {
        Some(user) => UserName::own(user.clone()),
        None => UserName::own(Arc::from(user_id)),
    }
}

impl UserIndex {
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// The ids of `user_id`'s sessions.
    pub(super) fn get(&self, user_id: &str) -> Option<&UserIds> {
        let user = user_id.as_bytes();
        let hash = hash_user(&self.hasher, user);
        let entry = self.users.find(hash, |e| e.name.bytes() == user)?;
        Some(&entry.ids)
    }

    /// Takes `user_id` out of the index, with the ids of its sessions.
    pub(super) fn remove(&mut self, user_id: &str) -> Option<UserIds> {
        let user = user_id.as_bytes();
        let hash = hash_user(&self.hasher, user);
        let found = self
            .users
            .find_entry(hash, |e| e.name.bytes() == user)
            .ok()?;
        Some(found.remove().0.ids)
    }

    /// Indexes `key` under `user_id` (again: a key of the same id is replaced).
    /// `shared_user`, when given, is `user_id` already in an `Arc` (a decoded
    /// session's, kept when the index needs a name for the user and `key` is not a
    /// record). A record `key` must be packed with `user_id`: its user id may become
    /// the user's name.
    pub(super) fn index(&mut self, user_id: &str, key: IdKey, shared_user: Option<&Arc<str>>) {
        debug_assert!(UserName::in_record(&key).is_none_or(|n| n.bytes() == user_id.as_bytes()));
        if user_id.is_empty() {
            return;
        }
        let user = user_id.as_bytes();
        let hash = hash_user(&self.hasher, user);
        if let Some(entry) = self.users.find_mut(hash, |e| e.name.bytes() == user) {
            if entry.name.record_id() == Some(key.bytes()) {
                // The name lives in the record this key replaces: follow it.
                entry.name = name_for(user_id, &key, shared_user);
            }
            entry.ids.insert(key);
            return;
        }
        let name = name_for(user_id, &key, shared_user);
        let hasher = &self.hasher;
        self.users.insert_unique(
            hash,
            UserEntry {
                name,
                ids: UserIds::One(key),
            },
            |e| hash_user(hasher, e.name.bytes()),
        );
    }

    /// Takes `id` out of `user_id`'s ids.
    pub(super) fn unindex(&mut self, user_id: &str, id: &[u8]) {
        if user_id.is_empty() {
            return;
        }
        let user = user_id.as_bytes();
        let hash = hash_user(&self.hasher, user);
        let Ok(mut found) = self.users.find_entry(hash, |e| e.name.bytes() == user) else {
            return;
        };
        let entry = found.get_mut();
        if entry.ids.remove(id) {
            found.remove();
            return;
        }
        if entry.name.record_id() == Some(id) {
            // The name lived in the record leaving: another record of the user's, or
            // a copy of its own.
            entry.name = entry
                .ids
                .any_record()
                .and_then(UserName::in_record)
                .unwrap_or_else(|| UserName::own(Arc::from(user_id)));
        }
    }
}

/// Checks the index against the table it indexes (`current`: the key of an id the
/// table holds): every user is found under its name, every id it lists is the
/// table's own key, and a name that lives in a record lives in one of the user's
/// current ones (so it keeps nothing else alive).
#[cfg(test)]
pub(super) fn check(index: &UserIndex, current: impl Fn(&[u8]) -> Option<IdKey>) {
    for e in index.users.iter() {
        let user = std::str::from_utf8(e.name.bytes()).unwrap();
        assert!(
            std::ptr::eq(index.get(user).unwrap(), &e.ids),
            "{user} under its name"
        );
        let ids = e.ids.to_vec();
        for id in &ids {
            let own = current(id.bytes()).expect("an indexed id is in the table");
            assert!(id.same_as(&own), "the table's own key");
            if let Some(name) = UserName::in_record(id) {
                assert_eq!(name.bytes(), e.name.bytes(), "a record of another user");
            }
        }
        if e.name.record_id().is_some() {
            assert!(
                ids.iter().any(|k| e.name.lives_in(k)),
                "{user}'s name in a gone record"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::memory_entry::{Item, PackedRecord};

    fn record(id: &str, user: &str) -> IdKey {
        Item::Record(PackedRecord::new(id, user, b"r").unwrap()).index_key()
    }

    #[test]
    fn entries_stay_small() {
        // Memory per user: a name and a set are a pointer pair each.
        assert_eq!(std::mem::size_of::<UserIds>(), 16);
        assert_eq!(std::mem::size_of::<UserEntry>(), 32);
    }

    #[test]
    fn a_users_name_follows_the_records_it_lives_in() {
        let mut index = UserIndex::default();
        let key = |p: &PackedRecord| Item::Record(p.clone()).index_key();
        let a1 = PackedRecord::new("a", "ann", b"r1").unwrap();
        index.index("ann", key(&a1), None);
        assert_eq!(a1.holders(), 3, "this test, the ids and the name");
        index.index("ann", record("b", "ann"), None);
        // The record the name lives in is replaced: name and id follow the new one.
        let a2 = PackedRecord::new("a", "ann", b"r2").unwrap();
        index.index("ann", key(&a2), None);
        assert_eq!(a1.holders(), 1, "let go");
        assert_eq!(a2.holders(), 3);
        // Then removed: the name moves to the user's other record.
        index.unindex("ann", b"a");
        assert_eq!(a2.holders(), 1, "let go");
        assert_eq!(index.get("ann").map(|ids| ids.to_vec().len()), Some(1));
        index.unindex("ann", b"b");
        assert!(index.get("ann").is_none() && index.is_empty());
    }

    #[test]
    fn a_name_with_no_record_left_is_a_copy() {
        let mut index = UserIndex::default();
        let s = crate::Session::with_id("s", "bob", 10.0).unwrap();
        let session_key = Item::Session {
            id: s.shared_id().clone(),
            parts: s.shared_parts(),
        }
        .index_key();
        let r = PackedRecord::new("r", "bob", b"rec").unwrap();
        index.index("bob", Item::Record(r.clone()).index_key(), None);
        index.index("bob", session_key, None);
        assert_eq!(r.holders(), 3, "this test, the ids and the name");
        index.unindex("bob", b"r");
        assert_eq!(r.holders(), 1, "let go");
        assert_eq!(index.get("bob").map(|ids| ids.to_vec().len()), Some(1));
        assert!(index.remove("bob").is_some());
        assert!(index.is_empty());
    }
}
