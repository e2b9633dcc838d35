//! The stored session record: a versioned CBOR envelope shared by every language and
//! every cache.
//!
//! ```text
//! { "v": 1, "id": text, "user": text, "exp": float, ?"key": text, "state": { text => any } }
//! ```
//! Decoding refuses oversized input, garbage, missing fields, state keys that are not
//! text, and any version other than the ones this library knows.

use serde::{Deserialize, Serialize};

use crate::codec;
use crate::error::{Error, Result};
use crate::limits::MAX_RECORD_LEN;
use crate::state_map::StateMap;

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
}

#[derive(Deserialize)]
struct VersionProbe {
    v: u64,
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
}

impl RecordRef<'_> {
    /// Checks that the record fits [`MAX_RECORD_LEN`] without encoding it into memory.
    pub(crate) fn check_len(&self) -> Result<()> {
        if codec::encoded_len(self)? > MAX_RECORD_LEN {
            return Err(Error::TooLarge {
                what: "session record",
                limit: MAX_RECORD_LEN,
            });
        }
        Ok(())
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        let bytes = codec::to_vec(self)?;
        if bytes.len() > MAX_RECORD_LEN {
            return Err(Error::TooLarge {
                what: "session record",
                limit: MAX_RECORD_LEN,
            });
        }
        Ok(bytes)
    }
}

impl Record {
    /// Decodes a record blob.
    pub fn decode(bytes: &[u8]) -> Result<Record> {
        match codec::from_slice::<Record>(bytes, MAX_RECORD_LEN, "session record") {
            Ok(record) if record.v == RECORD_VERSION => Ok(record),
            Ok(record) => Err(Error::UnsupportedVersion(record.v)),
            Err(err @ Error::TooLarge { .. }) => Err(err),
            Err(err) => {
                match codec::from_slice::<VersionProbe>(bytes, MAX_RECORD_LEN, "session record") {
                    Ok(probe) if probe.v != RECORD_VERSION => {
                        Err(Error::UnsupportedVersion(probe.v))
                    }
                    _ => Err(err),
                }
            }
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
        }
        .encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

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
