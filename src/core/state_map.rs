//! A session's state: text keys to values, kept sorted in one vector.
//!
//! A session holds a handful of entries; a sorted `Vec` finds a key with a short scan
//! (a binary search past 16 keys), decodes without per-entry tree nodes and gives the
//! `index`-th key in constant time (the C ABI iterates keys by index). Encodes exactly as a `BTreeMap<String, Value>` would: keys in byte order.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::core::value::Value;

/// State entries sorted by key, each key once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateMap {
    entries: Vec<(String, Value)>,
}

impl StateMap {
    /// An empty map.
    pub fn new() -> StateMap {
        StateMap::default()
    }

    /// `Ok(index)` of `key`, or `Err(index)` where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        if self.entries.len() <= 16 {
            // A handful of keys: an equality scan (lengths first, bytes only for keys of
            // the same length) beats a binary search's full comparisons.
            return match self.entries.iter().position(|(k, _)| k == key) {
                Some(i) => Ok(i),
                None => Err(self.entries.partition_point(|(k, _)| k.as_str() < key)),
            };
        }
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value under `key`, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// Stores `value` under `key`; returns the value it replaced. The key is copied only
    /// when it is new (overwriting keeps the stored one).
    pub fn insert(&mut self, key: &str, value: Value) -> Option<Value> {
        match self.find(key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                // Small maps grow one slot at a time: a session usually has a handful
                // of keys, and a cache may keep it for a long time.
                if self.entries.len() == self.entries.capacity() && self.entries.len() < 8 {
                    self.entries.reserve_exact(1);
                }
                self.entries.insert(i, (key.to_owned(), value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.find(key).ok().map(|i| self.entries.remove(i).1)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The `index`-th entry in key order.
    pub fn entry_at(&self, index: usize) -> Option<(&str, &Value)> {
        self.entries.get(index).map(|(k, v)| (k.as_str(), v))
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Builds a map from entries in any order; a repeated key keeps its last value
    /// (as inserting them one by one would).
    fn from_entries(mut entries: Vec<(String, Value)>) -> StateMap {
        if entries.windows(2).all(|w| w[0].0 < w[1].0) {
            return StateMap { entries };
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0)); // stable: equal keys keep their order
        let mut unique: Vec<(String, Value)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match unique.last_mut() {
                Some(last) if last.0 == key => last.1 = value,
                _ => unique.push((key, value)),
            }
        }
        StateMap { entries: unique }
    }
}

impl Serialize for StateMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

struct StateMapVisitor;

impl<'de> Visitor<'de> for StateMapVisitor {
    type Value = StateMap;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map with text keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StateMap, A::Error> {
        // Never trust a length prefix for preallocation: it comes from the input.
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(StateMap::from_entries(entries))
    }
}

impl<'de> Deserialize<'de> for StateMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StateMap, D::Error> {
        d.deserialize_map(StateMapVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::codec;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_btree_map() {
        let mut map = StateMap::new();
        let mut model = BTreeMap::new();
        let ops = [("b", 1), ("a", 2), ("c", 3), ("b", 4), ("", 5), ("ab", 6)];
        for (k, v) in ops {
            assert_eq!(
                map.insert(k, Value::from(v)),
                model.insert(k.to_owned(), Value::from(v))
            );
        }
        assert_eq!(map.remove("a"), model.remove("a"));
        assert_eq!(map.remove("zz"), model.remove("zz"));
        assert_eq!(map.len(), model.len());
        assert!(map.keys().eq(model.keys().map(String::as_str)));
        assert!(map.values().eq(model.values()));
        assert_eq!(map.get("b"), Some(&Value::from(4i64)));
        assert_eq!(map.entry_at(1), Some(("ab", &Value::from(6i64))));
        assert_eq!(map.entry_at(9), None);
        assert!(map.contains_key("") && !map.contains_key("a"));
        // Same bytes as the BTreeMap it replaces.
        assert_eq!(codec::to_vec(&map).unwrap(), codec::to_vec(&model).unwrap());
        map.clear();
        assert!(map.is_empty());
    }

    #[test]
    fn large_maps_behave_like_a_btree_map_too() {
        let mut map = StateMap::new();
        let mut model = BTreeMap::new();
        for i in (0..100u32).rev().chain(0..50) {
            let k = format!("k{}", i * 7 % 61);
            let v = Value::from(i64::from(i));
            assert_eq!(map.insert(&k, v.clone()), model.insert(k, v));
        }
        for i in 0..70 {
            let k = format!("k{i}");
            assert_eq!(map.get(&k), model.get(&k));
            if i % 3 == 0 {
                assert_eq!(map.remove(&k), model.remove(&k));
            }
        }
        assert!(map.keys().eq(model.keys().map(String::as_str)));
    }

    #[test]
    fn decodes_unsorted_input_and_repeated_keys_like_a_btree_map() {
        // {"b": 1, "a": 2, "b": 3}: sorted, the last "b" wins.
        let bytes = [0xa3, 0x61, b'b', 0x01, 0x61, b'a', 0x02, 0x61, b'b', 0x03];
        let map: StateMap = codec::from_slice(&bytes, 100, "state").unwrap();
        let model: BTreeMap<String, Value> = codec::from_slice(&bytes, 100, "state").unwrap();
        assert!(map.iter().eq(model.iter().map(|(k, v)| (k.as_str(), v))));
        assert_eq!(map.get("b"), Some(&Value::from(3i64)));
        // Non-text keys are refused.
        assert!(codec::from_slice::<StateMap>(&[0xa1, 0x01, 0x01], 100, "state").is_err());
    }
}
