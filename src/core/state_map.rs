//! A session's state: text keys to values, kept sorted in one vector.
//!
//! A session holds a handful of entries; a sorted `Vec` finds a key with a short scan
//! (a binary search past 16 keys), decodes without per-entry tree nodes and gives the
//! `index`-th key in constant time (the C ABI iterates keys by index). Encodes exactly as a `BTreeMap<String, Value>` would: keys in byte order.
//!
//! The keys' text lives in one buffer (each entry holds its key's span in it): one
//! allocation for all keys instead of one per key, which is most of a small state's
//! allocations when it is decoded or copied, and of its memory in a cache.

use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::core::value::{reusable, Value};

/// Where an entry's key is in [`StateMap::keys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    len: usize,
}

impl Span {
    fn range(self) -> Range<usize> {
        self.start..self.start + self.len
    }
}

/// State entries sorted by key, each key once.
#[derive(Default)]
pub struct StateMap {
    /// Every key's text, in insertion order (no gaps: a removal closes its gap).
    keys: String,
    /// Sorted by key.
    entries: Vec<(Span, Value)>,
}

impl Clone for StateMap {
    fn clone(&self) -> StateMap {
        StateMap {
            keys: self.keys.clone(),
            entries: self.entries.clone(),
        }
    }

    /// Copies `source` into this map's own buffers (the key text, the entries, and
    /// text, bytes and array values entry by entry) where they fit it wasting at most
    /// about half. A buffer much too large is replaced by a copy of the source's size;
    /// a key text too small too; an entry vector too small grows to the source's
    /// size, keeping its values' buffers.
    fn clone_from(&mut self, source: &StateMap) {
        if reusable::<u8>(self.keys.capacity(), source.keys.len()) {
            self.keys.clone_from(&source.keys);
        } else {
            self.keys = source.keys.clone();
        }
        let n = source.entries.len();
        if self.entries.capacity() < n {
            self.entries.reserve_exact(n - self.entries.len());
        } else if !reusable::<(Span, Value)>(self.entries.capacity(), n) {
            self.entries = source.entries.clone();
            return;
        }
        self.entries.truncate(n);
        let (same, more) = source.entries.split_at(self.entries.len());
        for ((span, value), (source_span, source_value)) in self.entries.iter_mut().zip(same) {
            *span = *source_span;
            value.clone_from(source_value);
        }
        self.entries.extend_from_slice(more);
    }
}

impl PartialEq for StateMap {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl StateMap {
    /// An empty map.
    pub fn new() -> StateMap {
        StateMap::default()
    }

    fn key(&self, span: Span) -> &str {
        &self.keys[span.range()]
    }

    /// A key's bytes: what `find` compares (byte order is `str` order), without the
    /// two char-boundary checks that slicing the `String` makes.
    fn key_bytes(&self, span: Span) -> &[u8] {
        &self.keys.as_bytes()[span.range()]
    }

    /// `Ok(index)` of `key`, or `Err(index)` where it would go.
    fn find(&self, key: &str) -> Result<usize, usize> {
        let key = key.as_bytes();
        if self.entries.len() <= 16 {
            // A handful of keys: an equality scan (lengths first, bytes only for keys of
            // the same length) beats a binary search's full comparisons.
            return match self
                .entries
                .iter()
                .position(|(s, _)| s.len == key.len() && self.key_bytes(*s) == key)
            {
                Some(i) => Ok(i),
                None => Err(self
                    .entries
                    .partition_point(|(s, _)| self.key_bytes(*s) < key)),
            };
        }
        self.entries
            .binary_search_by(|(s, _)| self.key_bytes(*s).cmp(key))
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
                let span = Span {
                    start: self.keys.len(),
                    len: key.len(),
                };
                self.keys.push_str(key);
                self.entries.insert(i, (span, value));
                None
            }
        }
    }

    /// Stores text under `key`, as `insert(key, Value::Text(text.to_owned()))` does,
    /// but writes into the buffer of a text value already there when it is big enough
    /// and not much bigger (a value rewritten on every request, like a counter or a
    /// timestamp, then costs no allocation and no free).
    pub fn insert_text(&mut self, key: &str, text: &str) {
        if let Some(Value::Text(old)) = self.get_mut(key) {
            if reusable::<u8>(old.capacity(), text.len()) {
                old.clear();
                old.push_str(text);
                return;
            }
        }
        self.insert(key, Value::Text(text.to_owned()));
    }

    /// As [`StateMap::insert_text`] for bytes.
    pub fn insert_bytes(&mut self, key: &str, bytes: &[u8]) {
        if let Some(Value::Bytes(old)) = self.get_mut(key) {
            if reusable::<u8>(old.capacity(), bytes.len()) {
                old.clear();
                old.extend_from_slice(bytes);
                return;
            }
        }
        self.insert(key, Value::Bytes(bytes.to_vec()));
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.find(key).ok()?;
        let (span, value) = self.entries.remove(i);
        // Close the key's gap in the buffer.
        self.keys.replace_range(span.range(), "");
        for (s, _) in &mut self.entries {
            if s.start > span.start {
                s.start -= span.len;
            }
        }
        Some(value)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Bytes this map holds on the heap: its buffers' capacities and its values'.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.keys.capacity()
            + self.entries.capacity() * std::mem::size_of::<(Span, Value)>()
            + self
                .entries
                .iter()
                .map(|(_, v)| v.heap_bytes())
                .sum::<usize>()
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
        self.keys.clear();
    }

    /// The `index`-th entry in key order.
    pub fn entry_at(&self, index: usize) -> Option<(&str, &Value)> {
        self.entries.get(index).map(|(s, v)| (self.key(*s), v))
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(s, v)| (self.key(*s), v))
    }

    /// Keys in order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(s, _)| self.key(*s))
    }

    /// Values in key order.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Sorts entries decoded out of order; a repeated key keeps its last value (as
    /// inserting them one by one would).
    fn sort_decoded(&mut self) {
        let keys = &self.keys;
        let key = |s: &Span| &keys[s.range()];
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_by(|a, b| key(&a.0).cmp(key(&b.0))); // stable: equal keys keep their order
        let mut unique = StateMap {
            keys: String::with_capacity(self.keys.len()),
            entries: Vec::with_capacity(entries.len()),
        };
        for (span, value) in entries {
            let k = key(&span);
            match unique.entries.last_mut() {
                Some(last) if unique.keys[last.0.range()] == *k => last.1 = value,
                _ => {
                    let span = Span {
                        start: unique.keys.len(),
                        len: k.len(),
                    };
                    unique.keys.push_str(k);
                    unique.entries.push((span, value));
                }
            }
        }
        *self = unique;
    }
}

impl Serialize for StateMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Decodes one key (text only) straight into the key buffer.
struct KeySeed<'m>(&'m mut String);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Span;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Span, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a text key")
    }

    fn visit_str<E>(self, v: &str) -> Result<Span, E> {
        let span = Span {
            start: self.0.len(),
            len: v.len(),
        };
        self.0.push_str(v);
        Ok(span)
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
        let hint = map.size_hint().unwrap_or(0).min(64);
        let mut state = StateMap {
            keys: String::with_capacity(hint * 12),
            entries: Vec::with_capacity(hint),
        };
        // Whether the keys came in strictly ascending order, as this library writes
        // them: checked as they arrive, so only other input is sorted afterwards.
        let mut sorted = true;
        while let Some(span) = map.next_key_seed(KeySeed(&mut state.keys))? {
            let value = map.next_value::<Value>()?;
            if let Some((last, _)) = state.entries.last() {
                sorted &= state.key_bytes(*last) < state.key_bytes(span);
            }
            state.entries.push((span, value));
        }
        if !sorted {
            state.sort_decoded();
        }
        // A decoded session is mostly short-lived: the keys' buffer is only trimmed when
        // it wastes more than a cache line (a trim is a reallocation).
        if state.keys.capacity() > state.keys.len() + 64 {
            state.keys.shrink_to_fit();
        }
        Ok(state)
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
    fn copying_over_a_map_of_any_size_gives_the_source() {
        let maps: Vec<StateMap> = (0..5)
            .map(|n| {
                let mut m = StateMap::new();
                for i in 0..n {
                    let value = match i % 5 {
                        0 => Value::Text("t".repeat(i * 7)),
                        1 => Value::Integer(i as i128),
                        2 => Value::Array(vec![Value::from("x"); i]),
                        3 => Value::Bytes(vec![i as u8; i * 3]),
                        _ => Value::Map(vec![(Value::from("k"), Value::Bytes(vec![1; i]))]),
                    };
                    m.insert(&format!("{}{}", "k".repeat(n - i), i), value);
                }
                m
            })
            .collect();
        for target in &maps {
            for source in &maps {
                let mut m = target.clone();
                m.clone_from(source);
                assert_eq!(m, *source);
                assert_eq!(
                    m.keys().collect::<Vec<_>>(),
                    source.keys().collect::<Vec<_>>()
                );
                // Its key spans are its own: a change lands where a fresh copy's would.
                let mut fresh = source.clone();
                m.insert("new", Value::Null);
                fresh.insert("new", Value::Null);
                assert_eq!(m, fresh);
                assert_eq!(m.get("new"), Some(&Value::Null));
            }
        }
    }

    #[test]
    fn copying_keeps_no_buffer_much_larger_than_the_source() {
        let mut big = StateMap::new();
        for i in 0..40 {
            big.insert(
                &format!("a long key name {i:03}"),
                Value::Text("t".repeat(4000)),
            );
        }
        let mut small = StateMap::new();
        small.insert("k", Value::from("x"));
        let fresh = small.clone().heap_bytes();
        let mut m = big.clone();
        m.clone_from(&small);
        assert_eq!(m, small);
        assert_eq!(m.heap_bytes(), fresh, "no buffer of the larger map is kept");
        // One entry short: the vector grows, the values keep their buffers.
        let mut two = StateMap::new();
        two.insert("a", Value::Text("a".repeat(90)));
        two.insert("b", Value::from("b"));
        let mut one = StateMap::new();
        one.insert("a", Value::Text("z".repeat(100)));
        let text_at = |m: &StateMap| match m.get("a") {
            Some(Value::Text(t)) => t.as_ptr(),
            _ => std::ptr::null(),
        };
        let before = text_at(&one);
        one.clone_from(&two);
        assert_eq!(one, two);
        assert_eq!(text_at(&one), before, "the text buffer was kept");
        // A map of the same shape is copied into its own buffers.
        let mut same = small.clone();
        same.insert("k", Value::from("y"));
        let before = same.heap_bytes();
        same.clone_from(&small);
        assert_eq!(same, small);
        assert_eq!(same.heap_bytes(), before);
    }

    #[test]
    fn insert_text_and_bytes_reuse_a_fitting_buffer_only() {
        let mut map = StateMap::new();
        map.insert_text("t", "a text value of moderate length");
        let buf = |m: &StateMap| match m.get("t") {
            Some(Value::Text(s)) => (s.as_ptr(), s.capacity()),
            other => panic!("not text: {other:?}"),
        };
        let (ptr, cap) = buf(&map);
        map.insert_text("t", "A TEXT VALUE OF MODERATE LENGTH");
        assert_eq!(
            map.get("t"),
            Some(&Value::Text("A TEXT VALUE OF MODERATE LENGTH".into()))
        );
        assert_eq!(buf(&map), (ptr, cap), "same-length text reuses the buffer");
        // Too big for the buffer, then far smaller than the new one: fresh buffers.
        let long = "x".repeat(4 * cap);
        map.insert_text("t", &long);
        assert_eq!(map.get("t"), Some(&Value::Text(long.clone())));
        assert!(buf(&map).1 >= long.len());
        map.insert_text("t", "ab");
        assert_eq!(map.get("t"), Some(&Value::Text("ab".into())));
        assert!(
            buf(&map).1 < 32 + 2 * 2 + 1,
            "a short text does not keep a long buffer"
        );
        // Over a value of another type, and for a new key: a plain insert.
        map.insert("n", Value::from(1i64));
        map.insert_text("n", "now text");
        map.insert_bytes("b", b"\x00\xff");
        map.insert_bytes("b", b"\x01\x02");
        map.insert_bytes("t", b"bytes over text");
        assert_eq!(map.get("n"), Some(&Value::Text("now text".into())));
        assert_eq!(map.get("b"), Some(&Value::Bytes(vec![1, 2])));
        assert_eq!(
            map.get("t"),
            Some(&Value::Bytes(b"bytes over text".to_vec()))
        );
        assert!(map.keys().eq(["b", "n", "t"]));
    }

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
    fn removing_keys_closes_their_gaps() {
        let mut map = StateMap::new();
        for k in ["middle", "a", "zz", "bb"] {
            map.insert(k, Value::from(k));
        }
        map.remove("middle");
        map.remove("zz");
        assert_eq!(map.keys, "abb", "no text of removed keys left");
        map.insert("c", Value::Null);
        assert!(map.keys().eq(["a", "bb", "c"]));
        assert!(map.iter().take(2).all(|(k, v)| v == &Value::from(k)));
        // Equal maps compare equal whatever order their keys were inserted in.
        let mut other = StateMap::new();
        for k in ["c", "bb", "a"] {
            other.insert(k, map.get(k).unwrap().clone());
        }
        assert_eq!(map, other);
        other.insert("c", Value::from(1i64));
        assert_ne!(map, other);
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
