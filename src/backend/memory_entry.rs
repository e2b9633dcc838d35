//! What the memory cache keeps per session, laid out for memory and for the cache
//! misses of a lookup in a large cache.
//!
//! An [`Entry`] is one slot of a shard's table (40 bytes): the expiry, the revision
//! and the [`Item`]. A decoded session's item is its id and its shared parts (the id
//! in the slot, so comparing it and fetching the parts are two independent memory
//! reads, which the CPU overlaps). A record's item is a [`PackedRecord`]: the record
//! with its id and user id in front, one allocation, so the id compared, the
//! reference count taken and the record decoded are on the same few lines.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::core::error::{Error, Result};
use crate::core::session::{Session, SharedParts};

/// First byte of a packed record: one no UTF-8 text starts with, so an [`IdKey`] tells
/// a packed record from a plain id by its first byte.
const PACKED: u8 = 0xFF;
/// A packed record's header: the marker, then the id's and the user id's lengths
/// (u32, little-endian); the id, the user id and the record follow.
const HEADER: usize = 9;

/// True when `bytes` are a packed record's (else a plain id or user id).
fn is_packed(bytes: &[u8]) -> bool {
    bytes.first() == Some(&PACKED)
}

/// The `u32` at `at` in `bytes` (0 when out of range: never, for bytes this module
/// packed).
fn u32_at(bytes: &[u8], at: usize) -> usize {
    bytes
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_le_bytes(b) as usize)
}

/// The id inside packed bytes.
fn packed_id(bytes: &[u8]) -> &[u8] {
    let id_len = u32_at(bytes, 1);
    bytes.get(HEADER..HEADER + id_len).unwrap_or_default()
}

/// Where the user id is inside packed bytes.
fn packed_user_range(bytes: &[u8]) -> (usize, usize) {
    let start = HEADER + u32_at(bytes, 1);
    (start, start + u32_at(bytes, 5))
}

/// The user id inside packed bytes.
fn packed_user(bytes: &[u8]) -> &[u8] {
    let (start, end) = packed_user_range(bytes);
    bytes.get(start..end).unwrap_or_default()
}

/// A record with the id and the user id it is stored under, in one allocation.
#[derive(Clone)]
pub(super) struct PackedRecord(Arc<[u8]>);

impl PackedRecord {
    /// Packs `record` (copied once, into one allocation of its exact size).
    pub(super) fn new(id: &str, user_id: &str, record: &[u8]) -> Result<PackedRecord> {
        let too_large = || Error::TooLarge {
            what: "session id or user id",
            limit: u32::MAX as usize,
        };
        let id_len = u32::try_from(id.len()).map_err(|_| too_large())?;
        let user_len = u32::try_from(user_id.len()).map_err(|_| too_large())?;
        let mut header = [PACKED; HEADER];
        header[1..5].copy_from_slice(&id_len.to_le_bytes());
        header[5..].copy_from_slice(&user_len.to_le_bytes());
        let parts = [&header[..], id.as_bytes(), user_id.as_bytes(), record];
        let len = parts.iter().map(|p| p.len()).sum();
        // Zeroed, then filled with memcpys (collecting the bytes one by one is a loop
        // per byte); new, so `make_mut` copies nothing.
        let mut bytes: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        let mut rest = Arc::make_mut(&mut bytes);
        for part in parts {
            let (head, tail) = rest.split_at_mut(part.len());
            head.copy_from_slice(part);
            rest = tail;
        }
        Ok(PackedRecord(bytes))
    }

    pub(super) fn id(&self) -> &[u8] {
        packed_id(&self.0)
    }

    pub(super) fn user_id_bytes(&self) -> &[u8] {
        packed_user(&self.0)
    }

    pub(super) fn user_id(&self) -> &str {
        let user = packed_user(&self.0);
        if user.is_empty() {
            return "";
        }
        // Packed from a `&str`: always UTF-8.
        std::str::from_utf8(user).unwrap_or_default()
    }

    pub(super) fn record(&self) -> &[u8] {
        let (_, end) = packed_user_range(&self.0);
        self.0.get(end..).unwrap_or_default()
    }

    /// How many hold this packed record (tests: what the index lets go of).
    #[cfg(test)]
    pub(super) fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

/// How the per-user index refers to an entry: by the session's id or by the packed
/// record holding it, sharing either (no copy). Hashed and compared by the id's bytes.
#[derive(Clone)]
pub(super) struct IdKey(Arc<[u8]>);

impl IdKey {
    pub(super) fn bytes(&self) -> &[u8] {
        if self.is_record() {
            packed_id(&self.0)
        } else {
            &self.0
        }
    }

    /// True when the key is a packed record (which holds its user id too).
    pub(super) fn is_record(&self) -> bool {
        is_packed(&self.0)
    }

    /// True when both are the same allocation (tests: the table's own key).
    #[cfg(test)]
    pub(super) fn same_as(&self, other: &IdKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A user id as the per-user index keeps it: its own bytes (a decoded session's user id,
/// shared), or those inside a packed record of that user's, so a user whose sessions
/// are records costs the index no copy of the user id.
#[derive(Clone)]
pub(super) struct UserName(Arc<[u8]>);

impl UserName {
    pub(super) fn own(user_id: Arc<str>) -> UserName {
        UserName(Arc::<[u8]>::from(user_id))
    }

    /// The user id inside the packed record `key` is, if it is one.
    pub(super) fn in_record(key: &IdKey) -> Option<UserName> {
        key.is_record().then(|| UserName(key.0.clone()))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        if is_packed(&self.0) {
            packed_user(&self.0)
        } else {
            &self.0
        }
    }

    /// The id of the packed record this name lives in, if it lives in one.
    pub(super) fn record_id(&self) -> Option<&[u8]> {
        is_packed(&self.0).then(|| packed_id(&self.0))
    }

    /// True when the name lives in the record `key` is (tests).
    #[cfg(test)]
    pub(super) fn lives_in(&self, key: &IdKey) -> bool {
        Arc::ptr_eq(&self.0, &key.0)
    }
}

impl Borrow<[u8]> for IdKey {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

impl Hash for IdKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes().hash(state);
    }
}

impl PartialEq for IdKey {
    fn eq(&self, other: &IdKey) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for IdKey {}

/// What an entry holds.
#[derive(Clone)]
pub(super) enum Item {
    /// A decoded session: its id (equal to its parts', and the same `Arc` until a
    /// save swaps in another copy's parts) and its shared parts.
    Session { id: Arc<str>, parts: SharedParts },
    /// Record bytes, with the id and user id they are stored under.
    Record(PackedRecord),
}

impl Item {
    pub(super) fn id(&self) -> &[u8] {
        match self {
            Item::Session { id, .. } => id.as_bytes(),
            Item::Record(record) => record.id(),
        }
    }

    pub(super) fn user_id(&self) -> &str {
        match self {
            Item::Session { parts, .. } => parts.user_id(),
            Item::Record(record) => record.user_id(),
        }
    }

    /// [`Item::user_id`] as bytes (no UTF-8 check of a packed one).
    pub(super) fn user_id_bytes(&self) -> &[u8] {
        match self {
            Item::Session { parts, .. } => parts.user_id().as_bytes(),
            Item::Record(record) => record.user_id_bytes(),
        }
    }

    pub(super) fn is_record(&self) -> bool {
        matches!(self, Item::Record(_))
    }

    /// What the per-user index keeps for this item.
    pub(super) fn index_key(&self) -> IdKey {
        match self {
            Item::Session { id, .. } => IdKey(Arc::<[u8]>::from(id.clone())),
            Item::Record(record) => IdKey(record.0.clone()),
        }
    }

    /// Drops what a save replaced, outside the shard's lock; decoded parts nothing
    /// else holds become the thread's spare for its next copy-on-write
    /// ([`SharedParts::release`]).
    pub(super) fn release(self) {
        if let Item::Session { parts, .. } = self {
            parts.release();
        }
    }

    /// What a load hands out: the parts or the record, shared (one reference count
    /// taken; the id's is not).
    pub(super) fn share(&self) -> Shared {
        match self {
            Item::Session { parts, .. } => Shared::Parts(parts.clone()),
            Item::Record(record) => Shared::Record(record.clone()),
        }
    }
}

/// An item as a load takes it out of the table.
pub(super) enum Shared {
    Parts(SharedParts),
    Record(PackedRecord),
}

impl Shared {
    /// As a clean session (decoded when it is a record).
    pub(super) fn session(self, expires: f64, revision: u64) -> Result<Session> {
        match self {
            Shared::Parts(parts) => Ok(Session::from_parts(parts, expires, revision)),
            Shared::Record(record) => Session::import(record.record()),
        }
    }

    /// As record bytes, in a `Vec` or an `Arc<[u8]>` (encoded when it is a decoded
    /// session; a record is copied out of its packing once, straight into `B`).
    pub(super) fn record<B>(self, expires: f64, revision: u64) -> Result<B>
    where
        B: for<'a> From<&'a [u8]> + From<Vec<u8>>,
    {
        match self {
            Shared::Record(record) => Ok(B::from(record.record())),
            parts => Ok(B::from(parts.session(expires, revision)?.export()?)),
        }
    }
}

/// What a store brings: the session's id is borrowed, so a save over an entry that
/// already holds that session's id keeps it (no reference count taken and dropped).
pub(super) enum Incoming<'a> {
    Session {
        id: &'a Arc<str>,
        parts: SharedParts,
    },
    Record(PackedRecord),
}

impl Incoming<'_> {
    pub(super) fn is_record(&self) -> bool {
        matches!(self, Incoming::Record(_))
    }

    pub(super) fn into_item(self) -> Item {
        match self {
            Incoming::Session { id, parts } => Item::Session {
                id: id.clone(),
                parts,
            },
            Incoming::Record(record) => Item::Record(record),
        }
    }
}

/// What a save replaced: the parts alone when the entry kept its id.
pub(super) enum Replaced {
    Parts(SharedParts),
    Item(Item),
}

impl Replaced {
    pub(super) fn user_id(&self) -> &str {
        match self {
            Replaced::Parts(parts) => parts.user_id(),
            Replaced::Item(item) => item.user_id(),
        }
    }

    /// See [`Item::release`].
    pub(super) fn release(self) {
        match self {
            Replaced::Parts(parts) => parts.release(),
            Replaced::Item(item) => item.release(),
        }
    }
}

/// One slot of a shard's table.
pub(super) struct Entry {
    pub(super) item: Item,
    pub(super) expires: f64,
    /// The record's revision, compared by the conditional store modes.
    pub(super) revision: u64,
}

impl Entry {
    /// Puts `incoming` in this entry's place (same id); a decoded session over a
    /// decoded session only swaps the parts.
    pub(super) fn replace(&mut self, incoming: Incoming, expires: f64, revision: u64) -> Replaced {
        self.expires = expires;
        self.revision = revision;
        match (&mut self.item, incoming) {
            (Item::Session { parts, .. }, Incoming::Session { parts: new, .. }) => {
                Replaced::Parts(std::mem::replace(parts, new))
            }
            (item, incoming) => Replaced::Item(std::mem::replace(item, incoming.into_item())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_record_gives_back_its_parts() {
        let p = PackedRecord::new("IpHYzcMQQR5-wnN4pmHJNQ", "bob", b"\xa1rec").unwrap();
        assert_eq!(p.id(), b"IpHYzcMQQR5-wnN4pmHJNQ");
        assert_eq!(p.user_id(), "bob");
        assert_eq!(p.record(), b"\xa1rec");
        let empty = PackedRecord::new("i", "", b"").unwrap();
        assert_eq!(
            (empty.id(), empty.user_id(), empty.record()),
            (&b"i"[..], "", &b""[..])
        );
    }

    #[test]
    fn index_keys_of_ids_and_of_records_are_the_same_key() {
        let id: Arc<str> = Arc::from("sid");
        let s = Session::with_id("sid", "u", 10.0).unwrap();
        let of_session = Item::Session {
            id: id.clone(),
            parts: s.shared_parts(),
        }
        .index_key();
        let of_record = Item::Record(PackedRecord::new("sid", "u", b"r").unwrap()).index_key();
        assert!(of_session == of_record);
        assert_eq!(of_session.bytes(), b"sid");
        assert_eq!(of_record.bytes(), b"sid");
        let mut set = std::collections::HashSet::new();
        set.insert(of_session);
        assert!(set.contains(&b"sid"[..]));
        assert!(set.replace(of_record).is_some(), "one key");
    }

    #[test]
    fn slots_stay_small() {
        // Memory per session: the item is a pointer pair plus one word, the slot five.
        assert_eq!(std::mem::size_of::<Item>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 40);
        assert_eq!(std::mem::size_of::<IdKey>(), 16);
    }
}
