//! The JSON bridges used by the Go and Ruby bindings.
//!
//! Plain JSON ([`from_json`], [`to_json`]), for nested values: objects become maps with
//! text keys, integers that fit become integers, other numbers floats. Value -> JSON:
//! bytes become standard base64 text (as Go's encoding/json does for []byte), non-finite
//! floats become null, and a map with a non-text key is refused (JSON cannot carry it).
//!
//! Tagged JSON ([`from_tagged_json`], [`to_tagged_json`]): a lossless JSON form of any
//! value, so a binding converts values through the library instead of carrying a CBOR
//! codec of its own. Everything plain JSON carries exactly is written as plain JSON;
//! the rest is a one-member object whose name starts with `$`:
//!
//! | value | tagged JSON |
//! |---|---|
//! | null, bool, text | `null`, `true`/`false`, a JSON string |
//! | integer in int64 | a JSON number without fraction or exponent: `-7` |
//! | integer outside int64 | `{"$int":"18446744073709551615"}` (decimal text) |
//! | finite float | a JSON number with a fraction or exponent: `1.0`, `-0.0`, `1e+300` |
//! | NaN, infinities | `{"$float":"NaN"}`, `{"$float":"Infinity"}`, `{"$float":"-Infinity"}` |
//! | bytes | `{"$bytes":"AP8="}` (standard base64, padded) |
//! | array | a JSON array |
//! | map, all keys text | a JSON object, members in the map's order (duplicates kept) |
//! | any other map | `{"$map":[k1,v1,k2,v2,...]}`: keys and values alternate |
//!
//! "Any other map" includes a map with one text key starting with `$` (so it cannot be
//! read back as a tag). Reading also accepts JSON integers up to 2^64-1 and `$int` for
//! the whole CBOR range; an object with exactly one member whose name starts with `$`
//! must be one of the tags above.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value as Json;

use crate::core::error::{Error, Result};
use crate::core::limits::{MAX_DEPTH, MAX_VALUE_LEN};
use crate::core::value::{Value, CBOR_INT_MAX, CBOR_INT_MIN};

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

/// Renders a value as compact JSON text: members of a map in key order, the last of
/// duplicate keys kept (as a JSON object map holds them).
pub fn to_json(value: &Value) -> Result<String> {
    serde_json::to_string(&Plain(value)).map_err(|e| Error::Json(e.to_string()))
}

/// A value's compact JSON text (as [`to_json`] renders it) in a `Vec` whose capacity
/// is its length, in one allocation: a text of up to [`SHORT_JSON`] bytes is written on
/// the stack first, a longer one measured there and written again into a `Vec` of its
/// length (a growing `Vec` shrunk to fit takes two or three allocations).
pub fn to_json_vec(value: &Value) -> Result<Vec<u8>> {
    let mut stack = [0u8; SHORT_JSON];
    let len = write_json_into(value, &mut stack)?;
    if len <= SHORT_JSON {
        return Ok(stack[..len].to_vec());
    }
    let mut out = vec![0u8; len];
    let written = write_json_into(value, &mut out)?;
    debug_assert_eq!(written, len);
    Ok(out)
}

/// The longest JSON text [`to_json_vec`] writes on the stack.
pub const SHORT_JSON: usize = 512;

/// Writes a value's compact JSON text (as [`to_json`] renders it) into `out` and
/// answers its length. A text longer than `out` is measured: the answer is its whole
/// length (more than `out.len()`), and `out` holds its first `out.len()` bytes.
pub fn write_json_into(value: &Value, out: &mut [u8]) -> Result<usize> {
    let mut fill = Fill { buf: out, len: 0 };
    serde_json::to_writer(&mut fill, &Plain(value)).map_err(|e| Error::Json(e.to_string()))?;
    Ok(fill.len)
}

/// A writer that fills a slice and counts every byte given, beyond the slice too.
/// (`get_mut(len..)` is None once `len` is past the end: nothing more is copied.)
struct Fill<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl std::io::Write for Fill<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Some(room) = self.buf.get_mut(self.len..) {
            let n = room.len().min(bytes.len());
            room[..n].copy_from_slice(&bytes[..n]);
        }
        self.len += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A map key as JSON shows it: text only.
fn text_key<S: Serializer>(key: &Value) -> std::result::Result<&str, S::Error> {
    match key {
        Value::Text(key) => Ok(key),
        other => Err(serde::ser::Error::custom(format!(
            "a map key of type {} cannot be shown as JSON",
            other.kind().name()
        ))),
    }
}

/// Serializes a value as plain JSON, written straight from the value (no JSON tree).
struct Plain<'a>(&'a Value);

impl Serialize for Plain<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            // Below -2^63: JSON numbers this large only survive as floats.
            Value::Integer(i) if *i < i128::from(i64::MIN) => s.serialize_f64(*i as f64),
            Value::Bytes(b) => s.serialize_str(&STANDARD.encode(b)),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Plain(item))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                // Every key must be text; in strict key order (a map read from JSON
                // is) the entries are written as they stand, without a copy.
                let mut ordered = true;
                let mut previous: Option<&str> = None;
                for (k, _) in entries {
                    let key = text_key::<S>(k)?;
                    ordered &= previous.is_none_or(|p| p < key);
                    previous = Some(key);
                }
                let mut map = s.serialize_map(Some(entries.len()))?;
                if ordered {
                    for (k, v) in entries {
                        map.serialize_entry(text_key::<S>(k)?, &Plain(v))?;
                    }
                } else {
                    let mut ordered = std::collections::BTreeMap::new();
                    for (k, v) in entries {
                        ordered.insert(text_key::<S>(k)?, v);
                    }
                    for (key, v) in ordered {
                        map.serialize_entry(key, &Plain(v))?;
                    }
                }
                map.end()
            }
            // Null, bool, the other integers, floats (non-finite ones as null) and
            // text: as the value serializes itself.
            scalar => scalar.serialize(s),
        }
    }
}

/// Renders a value as tagged JSON (see the module docs): lossless, compact.
pub fn to_tagged_json(value: &Value) -> Result<String> {
    serde_json::to_string(&Tagged(value)).map_err(|e| Error::Json(e.to_string()))
}

/// Parses tagged JSON (see the module docs) into a value. Refuses text over the value
/// size limit, malformed JSON, unknown or malformed tags and values nested deeper than
/// the depth limit.
pub fn from_tagged_json(text: &[u8]) -> Result<Value> {
    if text.len() > MAX_VALUE_LEN {
        return Err(Error::TooLarge {
            what: "JSON value",
            limit: MAX_VALUE_LEN,
        });
    }
    // A value at the depth limit may take two JSON levels per map (`$map` and its
    // list) and one more for a tagged scalar: more than serde_json's default recursion
    // limit allows. Its limit is lifted only for text whose nesting is bounded here.
    if json_nesting(text) > 2 * MAX_DEPTH + 1 {
        return Err(Error::Json(format!("nested deeper than {MAX_DEPTH}")));
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    let value = TaggedValue::deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v.0))
        .map_err(|e| Error::Json(e.to_string()))?;
    if value.depth() > MAX_DEPTH {
        return Err(Error::Json(format!("nested deeper than {MAX_DEPTH}")));
    }
    Ok(value)
}

/// The deepest bracket nesting of JSON text, outside strings. For text serde_json
/// accepts up to some point, it equals the parser's recursion depth up to that point.
fn json_nesting(text: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Serializes a value as tagged JSON.
struct Tagged<'a>(&'a Value);

/// One tag: `{"$name": payload}`.
fn tag<S: Serializer, T: Serialize + ?Sized>(
    s: S,
    name: &str,
    payload: &T,
) -> std::result::Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(1))?;
    map.serialize_entry(name, payload)?;
    map.end()
}

/// Whether a map is written as a JSON object: every key text, and not one `$` key.
fn is_object(entries: &[(Value, Value)]) -> bool {
    entries.iter().all(|(k, _)| matches!(k, Value::Text(_)))
        && !matches!(entries, [(Value::Text(k), _)] if k.starts_with('$'))
}

impl Serialize for Tagged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Integer(i) => match i64::try_from(*i) {
                Ok(small) => s.serialize_i64(small),
                Err(_) => tag(s, "$int", &i.to_string()),
            },
            Value::Float(f) if f.is_finite() => s.serialize_f64(*f),
            Value::Float(f) => {
                let name = if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                tag(s, "$float", name)
            }
            Value::Text(t) => s.serialize_str(t),
            Value::Bytes(b) => tag(s, "$bytes", &STANDARD.encode(b)),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Tagged(item))?;
                }
                seq.end()
            }
            Value::Map(entries) if is_object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(&Tagged(k), &Tagged(v))?;
                }
                map.end()
            }
            Value::Map(entries) => tag(s, "$map", &FlatPairs(entries)),
        }
    }
}

/// A map's entries as one list: key, value, key, value...
struct FlatPairs<'a>(&'a [(Value, Value)]);

impl Serialize for FlatPairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() * 2))?;
        for (k, v) in self.0 {
            seq.serialize_element(&Tagged(k))?;
            seq.serialize_element(&Tagged(v))?;
        }
        seq.end()
    }
}

/// Deserializes tagged JSON into a value.
struct TaggedValue(Value);

impl<'de> Deserialize<'de> for TaggedValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(TaggedVisitor).map(TaggedValue)
    }
}

struct TaggedVisitor;

impl<'de> Visitor<'de> for TaggedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged JSON value")
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::Integer(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(TaggedValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        while let Some((k, TaggedValue(v))) = map.next_entry::<String, TaggedValue>()? {
            entries.push((k, v));
        }
        match <[_; 1]>::try_from(entries) {
            Ok([(name, payload)]) if name.starts_with('$') => untag(&name, payload),
            Ok(one) => Ok(Value::Map(one.map(|(k, v)| (Value::Text(k), v)).into())),
            Err(entries) => Ok(Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::Text(k), v))
                    .collect(),
            )),
        }
    }
}

/// The value a `{"$name": payload}` object stands for.
fn untag<E: de::Error>(name: &str, payload: Value) -> std::result::Result<Value, E> {
    let bad = |what: &str| E::custom(format!("{name}: {what}"));
    match (name, payload) {
        ("$int", Value::Text(t)) => match t.parse::<i128>() {
            Ok(i) if (CBOR_INT_MIN..=CBOR_INT_MAX).contains(&i) => Ok(Value::Integer(i)),
            _ => Err(bad("not a decimal integer in -2^64..2^64-1")),
        },
        ("$float", Value::Text(t)) => match t.as_str() {
            "NaN" => Ok(Value::Float(f64::NAN)),
            "Infinity" => Ok(Value::Float(f64::INFINITY)),
            "-Infinity" => Ok(Value::Float(f64::NEG_INFINITY)),
            _ => Err(bad("expected \"NaN\", \"Infinity\" or \"-Infinity\"")),
        },
        ("$bytes", Value::Text(t)) => STANDARD
            .decode(t)
            .map(Value::Bytes)
            .map_err(|_| bad("not standard base64")),
        ("$map", Value::Array(items)) if items.len() % 2 == 0 => {
            let mut items = items.into_iter();
            let mut entries = Vec::with_capacity(items.len() / 2);
            while let (Some(k), Some(v)) = (items.next(), items.next()) {
                entries.push((k, v));
            }
            Ok(Value::Map(entries))
        }
        ("$int" | "$float" | "$bytes", _) => Err(bad("expected a JSON string")),
        ("$map", _) => Err(bad("expected a list of keys and values")),
        // The name is not quoted: it is the caller's data.
        _ => Err(E::custom(
            "unknown tag: an object of one member named $... must be $int, $float, \
             $bytes or $map (a map like it is written as $map)",
        )),
    }
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
        for len in [
            0,
            SHORT_JSON - 3,
            SHORT_JSON - 2,
            SHORT_JSON - 1,
            5 * SHORT_JSON,
        ] {
            let text = Value::Text("x".repeat(len));
            let vec = to_json_vec(&text).unwrap();
            assert_eq!(vec, to_json(&text).unwrap().into_bytes(), "{len}");
            assert_eq!(vec.capacity(), vec.len());
        }
        assert_eq!(to_json(&Value::Float(f64::NAN)).unwrap(), "null");
    }

    #[test]
    fn plain_json_orders_members_and_keeps_the_last_duplicate() {
        let text = |s: &str| Value::Text(s.into());
        let cases: Vec<(Value, &str)> = vec![
            (Value::Integer(-7), "-7"),
            (Value::Integer(u64::MAX.into()), "18446744073709551615"),
            (Value::Integer(-(1i128 << 64)), "-1.8446744073709552e+19"),
            (Value::Float(1.0), "1.0"),
            (Value::Float(f64::NEG_INFINITY), "null"),
            (
                Value::Map(vec![
                    (text("a"), Value::Null),
                    (text("b"), Value::Bool(true)),
                ]),
                r#"{"a":null,"b":true}"#,
            ),
            (
                Value::Map(vec![
                    (text("z"), Value::Integer(1)),
                    (text("a"), Value::Array(vec![Value::Bytes(vec![1])])),
                    (text("z"), Value::Integer(2)),
                ]),
                r#"{"a":["AQ=="],"z":2}"#,
            ),
            (Value::Map(vec![]), "{}"),
        ];
        for (value, want) in cases {
            assert_eq!(to_json(&value).unwrap(), want);
        }
        let nested = Value::Array(vec![Value::Map(vec![(Value::Bool(true), Value::Null)])]);
        match to_json(&nested) {
            Err(Error::Json(m)) => assert_eq!(m, "a map key of type bool cannot be shown as JSON"),
            other => panic!("{other:?}"),
        }
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

    fn tagged_round_trip(value: &Value) -> String {
        let text = to_tagged_json(value).unwrap();
        let back = from_tagged_json(text.as_bytes()).unwrap();
        // Compared through CBOR: a NaN is not equal to itself.
        assert_eq!(
            crate::core::codec::to_vec(&back).unwrap(),
            crate::core::codec::to_vec(value).unwrap(),
            "{text}"
        );
        text
    }

    #[test]
    fn tagged_json_is_lossless() {
        let text = |s: &str| Value::Text(s.into());
        let cases: Vec<(Value, &str)> = vec![
            (Value::Null, "null"),
            (Value::Bool(true), "true"),
            (Value::Integer(-7), "-7"),
            (Value::Integer(i64::MAX.into()), "9223372036854775807"),
            (
                Value::Integer(u64::MAX.into()),
                r#"{"$int":"18446744073709551615"}"#,
            ),
            (
                Value::Integer(-(1i128 << 64)),
                r#"{"$int":"-18446744073709551616"}"#,
            ),
            (Value::Float(1.0), "1.0"),
            (Value::Float(-0.0), "-0.0"),
            (Value::Float(0.1), "0.1"),
            (Value::Float(1e300), "1e+300"),
            (Value::Float(f64::NAN), r#"{"$float":"NaN"}"#),
            (Value::Float(f64::INFINITY), r#"{"$float":"Infinity"}"#),
            (Value::Float(f64::NEG_INFINITY), r#"{"$float":"-Infinity"}"#),
            (text("t\u{2603}\""), "\"t\u{2603}\\\"\""),
            (Value::Bytes(vec![0, 255]), r#"{"$bytes":"AP8="}"#),
            (Value::Bytes(vec![]), r#"{"$bytes":""}"#),
            (
                Value::Array(vec![Value::Bytes(vec![1]), Value::Array(vec![])]),
                r#"[{"$bytes":"AQ=="},[]]"#,
            ),
            // Order and duplicates kept.
            (
                Value::Map(vec![
                    (text("b"), Value::Integer(1)),
                    (text("a"), Value::Integer(2)),
                    (text("b"), Value::Integer(3)),
                ]),
                r#"{"b":1,"a":2,"b":3}"#,
            ),
            (
                Value::Map(vec![(Value::Integer(1), text("one"))]),
                r#"{"$map":[1,"one"]}"#,
            ),
            (
                Value::Map(vec![(text("$bytes"), text("not bytes"))]),
                r#"{"$map":["$bytes","not bytes"]}"#,
            ),
            (
                Value::Map(vec![(text("$a"), Value::Null), (text("b"), Value::Null)]),
                r#"{"$a":null,"b":null}"#,
            ),
            (
                Value::Map(vec![(Value::Bytes(vec![7]), Value::Map(vec![]))]),
                r#"{"$map":[{"$bytes":"Bw=="},{}]}"#,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(tagged_round_trip(&value), expected, "{value:?}");
        }
        // Plain JSON integers up to 2^64-1 read as integers; $int accepts the range.
        assert_eq!(
            from_tagged_json(b"18446744073709551615").unwrap(),
            Value::Integer(u64::MAX.into())
        );
        assert_eq!(
            from_tagged_json(br#"{"$int":"5"}"#).unwrap(),
            Value::Integer(5)
        );
    }

    #[test]
    fn tagged_json_round_trips_the_deepest_values() {
        // 64 maps with non-text keys around a tagged scalar: 129 JSON levels.
        let mut value = Value::Bytes(vec![1]);
        for _ in 0..MAX_DEPTH {
            value = Value::Map(vec![(Value::Integer(0), value)]);
        }
        tagged_round_trip(&value);
        let deeper = Value::Array(vec![value]);
        let text = to_tagged_json(&deeper).unwrap();
        assert!(matches!(
            from_tagged_json(text.as_bytes()),
            Err(Error::Json(_))
        ));
        let brackets = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            from_tagged_json(brackets.as_bytes()),
            Err(Error::Json(_))
        ));
        // Brackets inside strings do not count.
        let quoted = format!("\"{}\\\"{}\"", "[".repeat(300), "{".repeat(300));
        assert!(from_tagged_json(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn tagged_json_refuses_bad_tags() {
        for bad in [
            r#"{"$int":"18446744073709551616"}"#,
            r#"{"$int":"-18446744073709551617"}"#,
            r#"{"$int":"1.5"}"#,
            r#"{"$int":5}"#,
            r#"{"$float":"nan"}"#,
            r#"{"$bytes":"***"}"#,
            r#"{"$bytes":1}"#,
            r#"{"$map":[1]}"#,
            r#"{"$map":{}}"#,
            r#"{"$other":1}"#,
            r#"[1] 2"#,
            "{",
        ] {
            assert!(
                matches!(from_tagged_json(bad.as_bytes()), Err(Error::Json(_))),
                "{bad}"
            );
        }
        let big = vec![b' '; MAX_VALUE_LEN + 1];
        assert!(matches!(
            from_tagged_json(&big),
            Err(Error::TooLarge { .. })
        ));
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
