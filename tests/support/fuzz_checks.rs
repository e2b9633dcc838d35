//! The properties the fuzz targets check, shared with the regression test that replays
//! every committed seed and crash reproducer in `make test` (tests/fuzz_regressions.rs).
//! Each function must never panic except on a real property violation.

#![allow(dead_code)]

use toto_session::internals::codec;
use toto_session::internals::limits::{MAX_DEPTH, MAX_RECORD_LEN, MAX_VALUE_LEN};
use toto_session::internals::value_json::{
    from_json, from_tagged_json, to_json, to_json_vec, to_tagged_json, write_json_into,
};
use toto_session::password::{verify_legacy, PasswordPolicy, Passwords};
use toto_session::{Session, Value};

/// Record envelope: decoding never panics; what decodes re-encodes to a record that
/// decodes to the same session.
pub fn record(data: &[u8]) {
    if let Ok(session) = Session::import(data) {
        assert!(!session.expires().is_nan(), "a NaN expiry is refused");
        let again = session.export().expect("a decoded session exports");
        let back = Session::import(&again).expect("an exported session imports");
        // Compared as bytes: a NaN in the state is not equal to itself.
        assert_eq!(back.export().unwrap(), again);
        assert_eq!(
            (back.id(), back.user_id(), back.key()),
            (session.id(), session.user_id(), session.key())
        );
    }
}

/// CBOR values: decoding never panics; encoding is stable (encode . decode . encode);
/// a value within the depth limit goes to tagged JSON and back to the same bytes.
pub fn cbor_value(data: &[u8]) {
    if let Ok(value) = codec::from_slice::<Value>(data, MAX_VALUE_LEN, "value") {
        let once = codec::to_vec(&value).expect("a decoded value encodes");
        let back: Value = codec::from_slice(&once, MAX_RECORD_LEN, "value").expect("re-decodes");
        assert_eq!(codec::to_vec(&back).unwrap(), once);
        if value.depth() <= MAX_DEPTH {
            let tagged = to_tagged_json(&value).expect("a value renders as tagged JSON");
            let again = from_tagged_json(tagged.as_bytes()).expect("tagged JSON parses back");
            assert_eq!(codec::to_vec(&again).unwrap(), once, "{tagged}");
        }
    }
}

/// JSON bridges: parsing never panics; what parses renders and parses back the same,
/// as plain JSON and as tagged JSON (compared as CBOR bytes: NaN is not equal to itself).
/// Plain JSON is also the text the library wrote through a serde_json tree before it
/// wrote values directly, byte for byte (maps of any key order and duplicates come in
/// through tagged JSON).
pub fn json(data: &[u8]) {
    if let Ok(value) = from_json(data) {
        let text = to_json(&value).expect("a parsed value renders");
        assert_eq!(
            from_json(text.as_bytes()).expect("rendered JSON parses"),
            value
        );
        assert_eq!(Some(text.clone()), json_through_tree(&value));
        // The same text through the allocation-light writers the C API uses.
        assert_eq!(to_json_vec(&value).expect("renders"), text.as_bytes());
        let mut short = vec![0u8; text.len() / 2];
        assert_eq!(
            write_json_into(&value, &mut short).expect("measures"),
            text.len()
        );
        assert_eq!(&short[..], &text.as_bytes()[..short.len()]);
    }
    if let Ok(value) = from_tagged_json(data) {
        assert_eq!(to_json(&value).ok(), json_through_tree(&value));
        let text = to_tagged_json(&value).expect("a parsed value renders as tagged JSON");
        let back = from_tagged_json(text.as_bytes()).expect("rendered tagged JSON parses");
        assert_eq!(
            codec::to_vec(&back).unwrap(),
            codec::to_vec(&value).unwrap(),
            "{text}"
        );
    }
}

/// A value's plain JSON made the way the library made it until 2026-12-02: a
/// serde_json tree (objects keyed in order, the last duplicate kept), then its text;
/// None for a map with a key that is not text.
fn json_through_tree(value: &Value) -> Option<String> {
    fn tree(v: &Value) -> Option<serde_json::Value> {
        use serde_json::Value as J;
        Some(match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Integer(i) => match (i64::try_from(*i), u64::try_from(*i)) {
                (Ok(small), _) => J::from(small),
                (_, Ok(big)) => J::from(big),
                _ => serde_json::Number::from_f64(*i as f64).map_or(J::Null, J::Number),
            },
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Text(t) => J::String(t.clone()),
            // (base64: the one piece taken from the library itself)
            Value::Bytes(_) => serde_json::from_str(&to_json(v).ok()?).ok()?,
            Value::Array(items) => J::Array(items.iter().map(tree).collect::<Option<_>>()?),
            Value::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let Value::Text(k) = k else { return None };
                    map.insert(k.clone(), tree(v)?);
                }
                J::Object(map)
            }
        })
    }
    tree(value).map(|t| serde_json::to_string(&t).expect("a tree renders"))
}

/// Password hash strings: never panic, never match a password they were not made from
/// (only checked for hashes cheap enough to compute in a fuzz loop).
pub fn password(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (password, stored) = text.split_once('\n').unwrap_or(("pw", &text));
    let _ = verify_legacy(password, stored);
    // Argon2 costs are taken from the string: keep the loop fast by skipping costly ones
    // (the caps in password.rs bound what a server would compute).
    let cheap = stored.split('$').nth(3).is_some_and(|params| {
        params.split(',').all(|kv| match kv.split_once('=') {
            Some(("m", v)) => v.parse::<u32>().is_ok_and(|m| m <= 256),
            Some(("t", v)) => v.parse::<u32>().is_ok_and(|t| t <= 2),
            Some(("p", v)) => v.parse::<u32>().is_ok_and(|p| p <= 2),
            _ => true,
        })
    });
    if stored.starts_with("$argon2") && !cheap {
        return;
    }
    let passwords = Passwords::new(PasswordPolicy {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    let _ = passwords.verify(password, stored);
}

/// Reads a fuzz input as a little program.
struct Program<'a> {
    data: &'a [u8],
}

impl<'a> Program<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*b)
    }
    /// A slice of the input, or (ptr, len) with ptr NULL now and then: NULL with len 0
    /// is valid input, NULL with len > 0 must be refused.
    fn slice(&mut self) -> (*const u8, usize) {
        let tag = self.byte().unwrap_or(0);
        let want = self.byte().unwrap_or(0) as usize;
        let len = want.min(self.data.len());
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        match tag % 16 {
            0 => (std::ptr::null(), 0),
            1 => (std::ptr::null(), len.max(1)),
            _ => (head.as_ptr(), len),
        }
    }
}

/// FFI entry points driven with arbitrary bytes, lengths and NULLs: no call may crash,
/// every call returns a known code, and handles stay usable.
pub fn ffi(data: &[u8]) {
    use std::ffi::c_char;
    use std::ptr::null_mut;
    use toto_session::ffi::bytes::{toto_bytes_free, TotoBytes};
    use toto_session::ffi::cache::*;
    use toto_session::ffi::result::TotoResult;
    use toto_session::ffi::session::*;
    use toto_session::ffi::session_state::*;
    use toto_session::ffi::sign::toto_hmac;

    let known = |r: TotoResult| assert!(TotoResult::from_u32(r as u32).is_some());
    let mut p = Program { data };
    let mut session = null_mut();
    known(toto_session_new(
        b"fuzz".as_ptr().cast(),
        4,
        1e12,
        &mut session,
    ));
    let mut cache = null_mut();
    known(toto_cache_new_memory(&mut cache));
    let mut out = TotoBytes {
        data: null_mut(),
        len: 0,
    };
    let mut mac = [0 as c_char; 29];
    while let Some(op) = p.byte() {
        let (k, kl) = p.slice();
        let (v, vl) = p.slice();
        let (k, v) = (k.cast::<c_char>(), v.cast::<c_char>());
        let r = match op % 14 {
            0 => {
                let mut imported = null_mut();
                let r = toto_session_import(v.cast(), vl, &mut imported, null_mut());
                if r == TotoResult::Ok {
                    toto_session_free(session);
                    session = imported;
                }
                r
            }
            1 => toto_session_set_text(session, k, kl, v, vl),
            2 => toto_session_set_cbor(session, k, kl, v.cast(), vl, null_mut()),
            3 => toto_session_set_json(session, k, kl, v, vl, null_mut()),
            4 => toto_session_set_bytes(session, k, kl, v.cast(), vl),
            5 => {
                let r = toto_session_get_json(session, k, kl, &mut out, null_mut());
                toto_bytes_free(&mut out);
                r
            }
            6 => {
                let r = toto_session_get_cbor(session, k, kl, &mut out, null_mut());
                toto_bytes_free(&mut out);
                r
            }
            7 => {
                let (mut tp, mut tl) = (std::ptr::null(), 0usize);
                toto_session_get_text(session, k, kl, &mut tp, &mut tl)
            }
            8 => toto_session_delete(session, k, kl),
            9 => toto_session_set_key(session, k, kl),
            10 => toto_session_verify_request(session, v, vl, k, kl, k, kl, v.cast(), vl),
            11 => toto_hmac(k.cast(), kl, v.cast(), vl, mac.as_mut_ptr(), mac.len()),
            12 => {
                let r = toto_cache_store(
                    cache,
                    k,
                    kl,
                    b"u".as_ptr().cast(),
                    1,
                    1e12,
                    v.cast(),
                    vl,
                    0,
                    null_mut(),
                    null_mut(),
                );
                let mut loaded = null_mut();
                if toto_cache_load_session(cache, k, kl, &mut loaded, null_mut()) == TotoResult::Ok
                {
                    toto_session_free(loaded);
                }
                r
            }
            _ => {
                let r = toto_session_export(session, &mut out, null_mut());
                if r == TotoResult::Ok {
                    let mut back = null_mut();
                    assert_eq!(
                        toto_session_import(out.data, out.len, &mut back, null_mut()),
                        TotoResult::Ok
                    );
                    toto_session_free(back);
                }
                toto_bytes_free(&mut out);
                r
            }
        };
        known(r);
        assert_ne!(r, TotoResult::Panic, "op {op} panicked inside the library");
    }
    toto_session_free(session);
    toto_cache_free(cache);
}

/// Python Toto's session pickles: decoding never panics and never runs away in memory
/// or depth; writing a decoded state back as a pickle is stable after one round (a
/// Python `str` that is UTF-8 reads as text, so bytes may become text once).
pub fn toto_pickle(data: &[u8]) {
    use toto_session::backend::toto_pickle::{decode_session, decode_state, encode_state};
    let _ = decode_session("IpHYzcMQQR5-wnN4pmHJNQ", data);
    let session_of = |state: Vec<(String, Value)>| {
        let mut s = Session::with_id("IpHYzcMQQR5-wnN4pmHJNQ", "", 1.0).unwrap();
        for (k, v) in state {
            s.set(&k, v).ok()?;
        }
        Some(s)
    };
    let Some(first) = decode_state(data).ok().and_then(session_of) else {
        return;
    };
    let Ok(e1) = encode_state(&first) else {
        return; // a map key that is an array or map cannot be written
    };
    let round = |bytes: &[u8]| {
        let s = session_of(decode_state(bytes).expect("a pickle written here reads back"))
            .expect("its values fit a session");
        encode_state(&s).expect("what was written once is written again")
    };
    let e2 = round(&e1);
    assert_eq!(round(&e2), e2);
}

/// Client-side tokens: opening any text never panics (a token is decoded on the
/// stack, and the base64 decoder asserts its output fits), and what opens imports or
/// is an error; a record sealed from the input opens to the same bytes, and a token
/// with one character changed does not open.
pub fn client_token(data: &[u8]) {
    use toto_session::backend::{ClientCache, ClientKey, MAX_CLIENT_RECORD_LEN};
    use toto_session::SessionCache;
    let cache = ClientCache::new(&[ClientKey {
        id: 7,
        key: [9; 32],
    }])
    .expect("a valid key");
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((_, record)) = cache.open(text) {
            let _ = Session::import(&record);
        }
        let _ = cache.load_session_renew(text, None);
    }
    if data.len() > MAX_CLIENT_RECORD_LEN {
        return;
    }
    let expires = 4_000_000_000.0;
    let token = cache
        .seal(expires, data)
        .expect("a record within the limit seals");
    assert_eq!(cache.open(&token), Some((expires, data.to_vec())));
    // One character changed, where the input says, to another base64 character.
    let at = data.first().map_or(0, |b| usize::from(*b)) % token.len();
    let mut tampered = token.into_bytes();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("still ASCII");
    assert_eq!(cache.open(&tampered), None, "a changed token must not open");
}
