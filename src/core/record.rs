//! The stored session record: a versioned CBOR envelope shared by every language and
//! every cache.
//!
//! ```text
//! { "v": 1, "id": text, "user": text, "exp": float, ?"key": text, "state": { text => any },
//!   ?"rev": uint }
//! ```
//! Decoding refuses oversized input, garbage, missing fields, state keys that are not
//! text, and any version other than the ones this library knows.
//!
//! `rev` is the record's revision: how many times its contents were saved (0, and then
//! left out, for a record written before revisions existed or never saved over). A
//! cache compares it to refuse a save that would overwrite a newer revision than the one
//! the saver loaded; renewal (an expiry change only) keeps it. Records without it
//! decode as revision 0, so envelope version 1 is unchanged.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::core::codec;
use crate::core::error::{Error, Result};
use crate::core::limits::MAX_RECORD_LEN;
use crate::core::state_map::StateMap;
use crate::core::value::Value;

/// The envelope version this library writes.
pub const RECORD_VERSION: u64 = 1;

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub v: u64,
    pub id: String,
    pub user: String,
    pub exp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub state: StateMap,
    /// The revision (0 when absent).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rev: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A record as decoded for a session: its text fields borrowed from the input where
/// they can be (definite-length text, what this library writes), so a session is built
/// from them with one copy each instead of two.
#[derive(Deserialize)]
pub(crate) struct RecordIn<'a> {
    pub v: u64,
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub user: Cow<'a, str>,
    pub exp: f64,
    #[serde(default, borrow)]
    pub key: Option<Cow<'a, str>>,
    pub state: StateMap,
    #[serde(default)]
    pub rev: u64,
}

impl<'a> RecordIn<'a> {
    /// Decodes a record blob (the same checks as [`Record::decode`]).
    pub(crate) fn decode(bytes: &'a [u8]) -> Result<RecordIn<'a>> {
        match codec::from_slice_borrowed::<RecordIn>(bytes, MAX_RECORD_LEN, "session record") {
            Ok(record) if record.v == RECORD_VERSION => Ok(record),
            Ok(record) => Err(Error::UnsupportedVersion(record.v)),
            Err(err) => Err(version_or(bytes, err)),
        }
    }
}

/// A decode error, or the unsupported version the record says it has.
fn version_or(bytes: &[u8], err: Error) -> Error {
    if matches!(err, Error::TooLarge { .. }) {
        return err;
    }
    match codec::from_slice::<VersionProbe>(bytes, MAX_RECORD_LEN, "session record") {
        Ok(probe) if probe.v != RECORD_VERSION => Error::UnsupportedVersion(probe.v),
        _ => err,
    }
}

#[derive(Deserialize)]
struct VersionProbe {
    v: u64,
}

#[derive(Deserialize)]
struct RevisionProbe {
    #[serde(default)]
    rev: u64,
}

/// The revision a record blob carries, without decoding its state into values: 0 when
/// it has none or is not a record (a cache that keeps a host's raw bytes then compares
/// against 0).
pub fn peek_revision(bytes: &[u8]) -> u64 {
    codec::from_slice::<RevisionProbe>(bytes, MAX_RECORD_LEN, "session record").map_or(0, |p| p.rev)
}

/// Serializes the parts of a session into a record blob without cloning them.
#[derive(Serialize)]
pub(crate) struct RecordRef<'a> {
    pub v: u64,
    pub id: &'a str,
    pub user: &'a str,
    pub exp: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<&'a str>,
    pub state: &'a StateMap,
    #[serde(skip_serializing_if = "is_zero")]
    pub rev: u64,
}

impl RecordRef<'_> {
    /// Checks that the record fits [`MAX_RECORD_LEN`] without encoding it into memory.
    pub(crate) fn check_len(&self) -> Result<()> {
        // Most records are far below the limit: a bound from the lengths settles it
        // without an encoding pass.
        if self.max_len() <= MAX_RECORD_LEN {
            return Ok(());
        }
        if codec::encoded_len(self)? > MAX_RECORD_LEN {
            return Err(Error::TooLarge {
                what: "session record",
                limit: MAX_RECORD_LEN,
            });
        }
        Ok(())
    }

    /// At least the encoded length (every head counted at its longest, 9 bytes).
    fn max_len(&self) -> usize {
        const HEAD: usize = 9;
        let text = |name: &str, len: usize| 1 + name.len() + HEAD + len;
        let state: usize = self
            .state
            .iter()
            .map(|(k, v)| HEAD + k.len() + max_value_len(v))
            .sum();
        HEAD + text("v", 0)
            + text("id", self.id.len())
            + text("user", self.user.len())
            + text("exp", 0)
            + self.key.map_or(0, |k| text("key", k.len()))
            + text("state", state)
            + text("rev", 0)
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        // A guess that holds a typical record (the buffer grows past it if need be).
        let guess = 96
            + self.id.len()
            + self.user.len()
            + self.key.map_or(0, str::len)
            + 40 * self.state.len();
        let bytes = codec::to_vec_with_capacity(self, guess.min(MAX_RECORD_LEN + 1))?;
        if bytes.len() > MAX_RECORD_LEN {
            return Err(Error::TooLarge {
                what: "session record",
                limit: MAX_RECORD_LEN,
            });
        }
        Ok(bytes)
    }
}

/// At least a value's encoded length (every head counted at its longest).
fn max_value_len(value: &Value) -> usize {
    const HEAD: usize = 9;
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Integer(_) | Value::Float(_) => HEAD,
        Value::Text(t) => HEAD + t.len(),
        Value::Bytes(b) => HEAD + b.len(),
        Value::Array(items) => HEAD + items.iter().map(max_value_len).sum::<usize>(),
        Value::Map(entries) => {
            HEAD + entries
                .iter()
                .map(|(k, v)| max_value_len(k) + max_value_len(v))
                .sum::<usize>()
        }
    }
}

impl Record {
    /// Decodes a record blob.
    pub fn decode(bytes: &[u8]) -> Result<Record> {
        match codec::from_slice::<Record>(bytes, MAX_RECORD_LEN, "session record") {
            Ok(record) if record.v == RECORD_VERSION => Ok(record),
            Ok(record) => Err(Error::UnsupportedVersion(record.v)),
            Err(err) => Err(version_or(bytes, err)),
        }
    }

    /// Encodes this record.
    pub fn encode(&self) -> Result<Vec<u8>> {
        RecordRef {
            v: self.v,
            id: &self.id,
            user: &self.user,
            exp: self.exp,
            key: self.key.as_deref(),
            state: &self.state,
            rev: self.rev,
        }
        .encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut state = StateMap::new();
        state.insert("n", Value::Integer(0));
        Record {
            v: 1,
            id: "IpHYzcMQQR5-wnN4pmHJNQ".into(),
            user: "bob".into(),
            exp: 1.5,
            key: None,
            state,
            rev: 0,
        }
    }

    #[test]
    fn golden_envelope_bytes() {
        let bytes = sample().encode().unwrap();
        let mut expected = vec![0xa5, 0x61, b'v', 0x01, 0x62, b'i', b'd', 0x76];
        expected.extend_from_slice(b"IpHYzcMQQR5-wnN4pmHJNQ");
        expected.extend_from_slice(&[0x64, b'u', b's', b'e', b'r', 0x63, b'b', b'o', b'b']);
        expected.extend_from_slice(&[0x63, b'e', b'x', b'p', 0xf9, 0x3e, 0x00]);
        expected.extend_from_slice(&[0x65, b's', b't', b'a', b't', b'e', 0xa1, 0x61, b'n', 0x00]);
        assert_eq!(bytes, expected);
        assert_eq!(Record::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn revisions_round_trip_and_old_records_read_as_zero() {
        let mut r = sample();
        r.rev = 300;
        let bytes = r.encode().unwrap();
        assert_eq!(Record::decode(&bytes).unwrap(), r);
        assert_eq!(peek_revision(&bytes), 300);
        // The golden record above has no "rev" entry: revision 0.
        let old = sample().encode().unwrap();
        assert_eq!(Record::decode(&old).unwrap().rev, 0);
        assert_eq!(peek_revision(&old), 0);
        // Appended after the state: the bytes before it are the old envelope's.
        let mut expected = old.clone();
        expected[0] = 0xa6;
        expected.extend_from_slice(&[0x63, b'r', b'e', b'v', 0x19, 0x01, 0x2c]);
        assert_eq!(bytes, expected);
        assert_eq!(peek_revision(b"garbage"), 0);
    }

    #[test]
    fn chunked_text_decodes_like_plain_text() {
        // The id as an indefinite-length text of two chunks: not borrowable from the
        // input, decoded into an owned copy instead.
        let plain = sample().encode().unwrap();
        let id_at = plain
            .windows(22)
            .position(|w| w == b"IpHYzcMQQR5-wnN4pmHJNQ")
            .unwrap();
        let mut chunked = plain[..id_at - 1].to_vec();
        chunked.extend_from_slice(&[0x7f, 0x6b]);
        chunked.extend_from_slice(b"IpHYzcMQQR5");
        chunked.push(0x6b);
        chunked.extend_from_slice(b"-wnN4pmHJNQ");
        chunked.push(0xff);
        chunked.extend_from_slice(&plain[id_at + 22..]);
        let record = RecordIn::decode(&chunked).unwrap();
        assert!(matches!(record.id, Cow::Owned(_)));
        assert_eq!(record.id, "IpHYzcMQQR5-wnN4pmHJNQ");
        assert!(matches!(
            RecordIn::decode(&plain).unwrap().id,
            Cow::Borrowed(_)
        ));
        assert_eq!(Record::decode(&chunked).unwrap(), sample());
    }

    #[test]
    fn the_length_bound_is_never_below_the_encoded_length() {
        let mut r = sample();
        r.key = Some("k3y".into());
        r.rev = u64::MAX;
        r.exp = 0.1;
        let values = [
            Value::Null,
            Value::Integer(-(1i128 << 64)),
            Value::Integer(u64::MAX.into()),
            Value::Float(f64::MAX),
            Value::Text("t".repeat(300)),
            Value::Bytes(vec![1; 70_000]),
            Value::Array(vec![Value::Integer(1 << 40); 30]),
            Value::Map(vec![(Value::Text("k".into()), Value::Array(vec![]))]),
        ];
        for (i, v) in values.into_iter().enumerate() {
            r.state.insert(&format!("key{i}"), v);
            let as_ref = RecordRef {
                v: r.v,
                id: &r.id,
                user: &r.user,
                exp: r.exp,
                key: r.key.as_deref(),
                state: &r.state,
                rev: r.rev,
            };
            assert!(as_ref.max_len() >= r.encode().unwrap().len(), "{i}");
        }
    }

    #[test]
    fn key_round_trips() {
        let mut r = sample();
        r.key = Some("k".into());
        assert_eq!(Record::decode(&r.encode().unwrap()).unwrap(), r);
    }

    #[test]
    fn refuses_future_versions_garbage_and_oversize() {
        let mut r = sample();
        r.v = 2;
        assert_eq!(
            Record::decode(&r.encode().unwrap()),
            Err(Error::UnsupportedVersion(2))
        );
        // A future version with a different shape is still reported as a version.
        let future = codec::to_vec(&std::collections::BTreeMap::from([("v", 9u64)])).unwrap();
        assert_eq!(Record::decode(&future), Err(Error::UnsupportedVersion(9)));
        assert!(matches!(Record::decode(b"garbage"), Err(Error::Decode(_))));
        assert!(matches!(Record::decode(&[]), Err(Error::Decode(_))));
        let state_with_int_key = [0xa1, 0x01, 0x01];
        assert!(matches!(
            Record::decode(&state_with_int_key),
            Err(Error::Decode(_))
        ));
        let big = vec![0u8; MAX_RECORD_LEN + 1];
        assert!(matches!(Record::decode(&big), Err(Error::TooLarge { .. })));
    }
}
