//! State values: anything CBOR carries.
//!
//! `Serialize`/`Deserialize` are written against serde's data model, not against a
//! particular CBOR crate, so the codec ([`crate::core::codec`]) can be swapped.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Smallest integer CBOR can carry (-2^64).
pub const CBOR_INT_MIN: i128 = -(1i128 << 64);
/// Largest integer CBOR can carry (2^64 - 1).
pub const CBOR_INT_MAX: i128 = (1i128 << 64) - 1;

/// A state or account value.
#[derive(Debug, PartialEq, Default)]
pub enum Value {
    /// CBOR null (and undefined).
    #[default]
    Null,
    Bool(bool),
    /// An integer in CBOR's range, -2^64 ..= 2^64-1.
    Integer(i128),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// A map in the order it was written; keys may be any value.
    Map(Vec<(Value, Value)>),
}

/// Whether a buffer with room for `capacity` items of `T` takes `len` new ones: it
/// must hold them and waste at most about half (a 1 MiB buffer is not kept for a
/// short value).
pub(crate) fn reusable<T>(capacity: usize, len: usize) -> bool {
    let size = std::mem::size_of::<T>().max(1);
    // capacity <= 2 * len + 32 bytes' worth, without a product that could overflow.
    len <= capacity && capacity - len <= len + 32 / size
}

impl Value {
    /// Bytes this value holds on the heap (its buffers' capacities, nested ones too).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) | Value::Integer(_) | Value::Float(_) => 0,
            Value::Text(t) => t.capacity(),
            Value::Bytes(b) => b.capacity(),
            Value::Array(a) => {
                a.capacity() * std::mem::size_of::<Value>()
                    + a.iter().map(Value::heap_bytes).sum::<usize>()
            }
            Value::Map(m) => {
                m.capacity() * std::mem::size_of::<(Value, Value)>()
                    + m.iter()
                        .map(|(k, v)| k.heap_bytes() + v.heap_bytes())
                        .sum::<usize>()
            }
        }
    }
}

impl Clone for Value {
    fn clone(&self) -> Value {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(*b),
            Value::Integer(n) => Value::Integer(*n),
            Value::Float(f) => Value::Float(*f),
            Value::Text(t) => Value::Text(t.clone()),
            Value::Bytes(b) => Value::Bytes(b.clone()),
            Value::Array(a) => Value::Array(a.clone()),
            Value::Map(m) => Value::Map(m.clone()),
        }
    }

    /// Reuses this value's buffer when both are text, bytes or arrays and the source
    /// fits it wasting at most about half: a state copied over a spare one (see
    /// `Session`) allocates nothing for them, and keeps no large buffer for a short
    /// value.
    fn clone_from(&mut self, source: &Value) {
        match (self, source) {
            (Value::Text(a), Value::Text(b)) if reusable::<u8>(a.capacity(), b.len()) => {
                a.clone_from(b)
            }
            (Value::Bytes(a), Value::Bytes(b)) if reusable::<u8>(a.capacity(), b.len()) => {
                a.clone_from(b)
            }
            (Value::Array(a), Value::Array(b)) if reusable::<Value>(a.capacity(), b.len()) => {
                a.clone_from(b)
            }
            (this, _) => *this = source.clone(),
        }
    }
}

/// The type of a [`Value`], without its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Null,
    Bool,
    Integer,
    Float,
    Text,
    Bytes,
    Array,
    Map,
}

impl ValueKind {
    /// A lowercase name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Null => "null",
            ValueKind::Bool => "bool",
            ValueKind::Integer => "integer",
            ValueKind::Float => "float",
            ValueKind::Text => "text",
            ValueKind::Bytes => "bytes",
            ValueKind::Array => "array",
            ValueKind::Map => "map",
        }
    }
}

impl Value {
    /// The value's type.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Null => ValueKind::Null,
            Value::Bool(_) => ValueKind::Bool,
            Value::Integer(_) => ValueKind::Integer,
            Value::Float(_) => ValueKind::Float,
            Value::Text(_) => ValueKind::Text,
            Value::Bytes(_) => ValueKind::Bytes,
            Value::Array(_) => ValueKind::Array,
            Value::Map(_) => ValueKind::Map,
        }
    }

    fn mismatch(&self, expected: ValueKind) -> crate::Error {
        crate::Error::TypeMismatch {
            expected: expected.name(),
            found: self.kind().name(),
        }
    }

    /// The boolean, or a type mismatch.
    pub fn as_bool(&self) -> crate::Result<bool> {
        match self {
            Value::Bool(b) => Ok(*b),
            other => Err(other.mismatch(ValueKind::Bool)),
        }
    }

    /// The integer if it fits an `i64`, or a type mismatch.
    pub fn as_i64(&self) -> crate::Result<i64> {
        match self {
            Value::Integer(i) => i64::try_from(*i).map_err(|_| crate::Error::TypeMismatch {
                expected: "integer in i64 range",
                found: "integer out of i64 range",
            }),
            other => Err(other.mismatch(ValueKind::Integer)),
        }
    }

    /// The float, or a type mismatch (integers are not silently converted).
    pub fn as_f64(&self) -> crate::Result<f64> {
        match self {
            Value::Float(f) => Ok(*f),
            other => Err(other.mismatch(ValueKind::Float)),
        }
    }

    /// The text, or a type mismatch.
    pub fn as_text(&self) -> crate::Result<&str> {
        match self {
            Value::Text(s) => Ok(s),
            other => Err(other.mismatch(ValueKind::Text)),
        }
    }

    /// The bytes, or a type mismatch.
    pub fn as_bytes(&self) -> crate::Result<&[u8]> {
        match self {
            Value::Bytes(b) => Ok(b),
            other => Err(other.mismatch(ValueKind::Bytes)),
        }
    }

    /// Depth of nesting (a scalar is 0). Inlined, so that a scalar set (every typed
    /// setter) costs a tag test, not a call.
    #[inline]
    pub fn depth(&self) -> usize {
        match self {
            Value::Array(_) | Value::Map(_) => self.nested_depth(),
            _ => 0,
        }
    }

    fn nested_depth(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.depth().max(v.depth()))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i.into())
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => {
                if let Ok(small) = i64::try_from(*i) {
                    s.serialize_i64(small)
                } else if let Ok(big) = u64::try_from(*i) {
                    s.serialize_u64(big)
                } else {
                    s.serialize_i128(*i)
                }
            }
            Value::Float(f) => s.serialize_f64(*f),
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CBOR value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        if (CBOR_INT_MIN..=CBOR_INT_MAX).contains(&v) {
            Ok(Value::Integer(v))
        } else {
            Err(E::custom("integer out of CBOR range"))
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match i128::try_from(v) {
            Ok(i) => self.visit_i128(i),
            Err(_) => Err(E::custom("integer out of CBOR range")),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Never trust a length prefix for preallocation: it comes from the input.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copying_over_any_value_gives_the_source() {
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Integer(-(1 << 70)),
            Value::Float(1.5),
            Value::Text("some text".into()),
            Value::Bytes(vec![0, 1, 2]),
            Value::Array(vec![Value::from("a"), Value::Integer(1)]),
            Value::Map(vec![(Value::from("k"), Value::Bytes(vec![9]))]),
        ];
        for target in &values {
            for source in &values {
                let mut v = target.clone();
                v.clone_from(source);
                assert_eq!(v, *source);
            }
        }
    }

    #[test]
    fn copying_keeps_a_buffer_only_when_it_wastes_little() {
        let mut v = Value::Text(String::with_capacity(12_000));
        v.clone_from(&Value::from("x"));
        assert_eq!(v, Value::from("x"));
        assert!(v.heap_bytes() < 64, "{}", v.heap_bytes());
        let mut v = Value::Bytes(Vec::with_capacity(12_000));
        v.clone_from(&Value::Bytes(vec![1]));
        assert!(v.heap_bytes() < 64, "{}", v.heap_bytes());
        let mut v = Value::Array(Vec::with_capacity(1_000));
        v.clone_from(&Value::Array(vec![Value::Null]));
        assert!(v.heap_bytes() <= 64, "{}", v.heap_bytes());
        // One that fits is kept.
        let mut v = Value::Text(String::with_capacity(20));
        v.clone_from(&Value::from("seventeen letters"));
        assert_eq!(v.heap_bytes(), 20);
        assert!(reusable::<u8>(20, 17) && !reusable::<u8>(16, 17) && !reusable::<u8>(100, 17));
    }
}
