//! The only module that names the CBOR crate. serde_cbor is archived (RUSTSEC-2021-0127,
//! see SECURITY.md); swapping it for another serde CBOR crate that emits the same bytes
//! is a change to this file, guarded by the golden-bytes tests below.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Encodes a value as CBOR (definite lengths, shortest integer forms, f64 floats).
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_cbor::to_vec(value).map_err(|e| Error::Decode(format!("cannot encode: {e}")))
}

/// The length [`to_vec`] would produce, without building the bytes.
pub fn encoded_len<T: Serialize>(value: &T) -> Result<usize> {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_cbor::to_writer(&mut count, value)
        .map_err(|e| Error::Decode(format!("cannot encode: {e}")))?;
    Ok(count.0)
}

/// Decodes exactly one CBOR item of at most `limit` bytes; trailing bytes are an error.
pub fn from_slice<T: DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
    what: &'static str,
) -> Result<T> {
    if bytes.len() > limit {
        return Err(Error::TooLarge { what, limit });
    }
    serde_cbor::from_slice(bytes).map_err(describe)
}

/// A decode error's category and position, never the data it choked on (a damaged
/// record could otherwise echo a key or other state into a log).
fn describe(e: serde_cbor::Error) -> Error {
    use serde_cbor::error::Category;
    let what = match e.classify() {
        Category::Io => "read error",
        Category::Syntax => "not well-formed CBOR",
        Category::Data => "well-formed CBOR of the wrong shape (type, field or range)",
        Category::Eof => "truncated",
    };
    Error::Decode(format!("{what} at byte {}", e.offset()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn encoded_len_matches_the_bytes() {
        let value = Value::Map(vec![(
            Value::Text("k".into()),
            Value::Array(vec![Value::Float(0.1), Value::Bytes(vec![7; 300])]),
        )]);
        assert_eq!(encoded_len(&value).unwrap(), to_vec(&value).unwrap().len());
    }

    #[test]
    fn golden_bytes_of_values() {
        let cases: Vec<(Value, &[u8])> = vec![
            (Value::Null, &[0xf6]),
            (Value::Bool(false), &[0xf4]),
            (Value::Integer(0), &[0x00]),
            (Value::Integer(-1), &[0x20]),
            (Value::Integer(1000), &[0x19, 0x03, 0xe8]),
            (
                Value::Integer(u64::MAX as i128),
                &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (
                Value::Integer(-(1i128 << 64)),
                &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            // Floats take the shortest form that is exact: half, single, then double.
            (Value::Float(1.5), &[0xf9, 0x3e, 0x00]),
            (Value::Float(100000.0), &[0xfa, 0x47, 0xc3, 0x50, 0x00]),
            (
                Value::Float(0.1),
                &[0xfb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
            ),
            (Value::Text("a".into()), &[0x61, 0x61]),
            (Value::Bytes(vec![1, 2]), &[0x42, 0x01, 0x02]),
            (
                Value::Array(vec![Value::Integer(1), Value::Text("".into())]),
                &[0x82, 0x01, 0x60],
            ),
            (
                Value::Map(vec![(Value::Text("k".into()), Value::Bool(true))]),
                &[0xa1, 0x61, 0x6b, 0xf5],
            ),
        ];
        for (value, bytes) in cases {
            assert_eq!(to_vec(&value).unwrap(), bytes, "{value:?}");
            let back: Value = from_slice(bytes, 1024, "value").unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn refuses_garbage_trailing_and_oversized() {
        assert!(matches!(
            from_slice::<Value>(&[0xff, 0x00], 10, "v"),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            from_slice::<Value>(&[0x01, 0x01], 10, "v"),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            from_slice::<Value>(&[0x5a, 0xff, 0xff, 0xff, 0xff], 10, "v"),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            from_slice::<Value>(&[0u8; 11], 10, "v"),
            Err(Error::TooLarge { limit: 10, .. })
        ));
    }

    #[test]
    fn decode_errors_do_not_quote_the_input() {
        let record_like =
            to_vec(&std::collections::BTreeMap::from([("exp", "s3cr3t-key")])).unwrap();
        let err = from_slice::<std::collections::BTreeMap<String, f64>>(&record_like, 100, "r")
            .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("wrong shape"), "{err}");
    }

    #[test]
    fn decodes_half_and_single_floats_and_indefinite_lengths() {
        let half: Value = from_slice(&[0xf9, 0x3c, 0x00], 10, "v").unwrap();
        assert_eq!(half, Value::Float(1.0));
        let single: Value = from_slice(&[0xfa, 0x3f, 0xc0, 0, 0], 10, "v").unwrap();
        assert_eq!(single, Value::Float(1.5));
        let indefinite: Value = from_slice(&[0x9f, 0x01, 0xff], 10, "v").unwrap();
        assert_eq!(indefinite, Value::Array(vec![Value::Integer(1)]));
    }
}
