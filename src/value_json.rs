//! The JSON bridge used by the Go and Ruby bindings for nested values.
//!
//! JSON -> value: objects become maps with text keys, integers that fit become
//! integers, other numbers floats. Value -> JSON: bytes become standard base64 text
//! (as Go's encoding/json does for []byte), non-finite floats become null, and a map
//! with a non-text key is refused (JSON cannot carry it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::limits::{MAX_DEPTH, MAX_VALUE_LEN};
use crate::value::Value;

/// Parses JSON text into a value.
pub fn from_json(text: &[u8]) -> Result<Value> {
    if text.len() > MAX_VALUE_LEN {
        return Err(Error::TooLarge {
            what: "JSON value",
            limit: MAX_VALUE_LEN,
        });
    }
    check_json_nesting(text)?;
    let json: Json = serde_json::from_slice(text).map_err(|e| Error::Json(e.to_string()))?;
    let value = from_json_value(json);
    if value.depth() > MAX_DEPTH {
        return Err(Error::Json(format!("nested deeper than {MAX_DEPTH}")));
    }
    Ok(value)
}

/// Refuses JSON text that opens more than [`MAX_DEPTH`] arrays and objects at once,
/// by counting brackets outside strings (no recursion), before the recursive parser
/// runs: deep input costs no stack. Malformed text is left to the parser.
fn check_json_nesting(text: &[u8]) -> Result<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Error::Json(format!("nested deeper than {MAX_DEPTH}")));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn from_json_value(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Integer(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Integer(u.into())
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::Text(s),
        Json::Array(items) => Value::Array(items.into_iter().map(from_json_value).collect()),
        Json::Object(map) => Value::Map(
            map.into_iter()
                .map(|(k, v)| (Value::Text(k), from_json_value(v)))
                .collect(),
        ),
    }
}

/// Renders a value as compact JSON text.
pub fn to_json(value: &Value) -> Result<String> {
    let json = to_json_value(value)?;
    serde_json::to_string(&json).map_err(|e| Error::Json(e.to_string()))
}

fn to_json_value(value: &Value) -> Result<Json> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Integer(i) => {
            if let Ok(small) = i64::try_from(*i) {
                Json::from(small)
            } else if let Ok(big) = u64::try_from(*i) {
                Json::from(big)
            } else {
                // Below -2^63: JSON numbers this large only survive as floats.
                serde_json::Number::from_f64(*i as f64)
                    .map(Json::Number)
                    .unwrap_or(Json::Null)
            }
        }
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(to_json_value).collect::<Result<_>>()?),
        Value::Map(entries) => {
            let mut map = serde_json::Map::with_capacity(entries.len());
            for (k, v) in entries {
                let Value::Text(key) = k else {
                    return Err(Error::Json(format!(
                        "a map key of type {} cannot be shown as JSON",
                        k.kind().name()
                    )));
                };
                map.insert(key.clone(), to_json_value(v)?);
            }
            Json::Object(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_values() {
        let text = br#"{"cart":[1,2.5,"x",null,true,{"n":-3}],"big":18446744073709551615}"#;
        let value = from_json(text).unwrap();
        let Value::Map(entries) = &value else {
            panic!("not a map")
        };
        let big = entries
            .iter()
            .find(|(k, _)| *k == Value::from("big"))
            .map(|(_, v)| v);
        assert_eq!(big, Some(&Value::Integer(u64::MAX.into())));
        let back = to_json(&value).unwrap();
        assert_eq!(from_json(back.as_bytes()).unwrap(), value);
    }

    #[test]
    fn bytes_become_base64_and_nan_null() {
        assert_eq!(to_json(&Value::Bytes(vec![0, 255])).unwrap(), "\"AP8=\"");
        assert_eq!(to_json(&Value::Float(f64::NAN)).unwrap(), "null");
    }

    #[test]
    fn refuses_bad_json_non_text_keys_and_deep_nesting() {
        assert!(matches!(from_json(b"{"), Err(Error::Json(_))));
        assert!(matches!(from_json(b"\xff"), Err(Error::Json(_))));
        let map = Value::Map(vec![(Value::Integer(1), Value::Null)]);
        assert!(matches!(to_json(&map), Err(Error::Json(_))));
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(matches!(from_json(deep.as_bytes()), Err(Error::Json(_))));
    }

    /// Issue 19: nesting past the limit is refused before the recursive parser runs,
    /// so even on a 64 KiB stack; brackets inside strings do not count.
    #[test]
    fn deep_json_is_refused_without_recursion() {
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                for levels in [MAX_DEPTH + 1, 127, 128, 100_000] {
                    let deep = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
                    assert!(
                        matches!(from_json(deep.as_bytes()), Err(Error::Json(_))),
                        "{levels}"
                    );
                    let objects = "{\"a\":".repeat(levels);
                    assert!(matches!(from_json(objects.as_bytes()), Err(Error::Json(_))));
                }
            })
            .unwrap()
            .join()
            .unwrap();
        let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(from_json(at_limit.as_bytes()).unwrap().depth(), MAX_DEPTH);
        let quoted = format!("[\"{}\\\"{}\"]", "[".repeat(200), "{".repeat(200));
        assert_eq!(from_json(quoted.as_bytes()).unwrap().depth(), 1);
    }
}
