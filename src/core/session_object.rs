//! The `session` object of Toto's answers, `{"session_id": ..., "expires": ...,
//! "user_id": ...}` (user_id "" for an anonymous session; the key is never in it), as
//! JSON text. HTTP layers in other languages splice it into their answers instead of
//! reading the three fields one call at a time and formatting the expiry themselves.

use super::limits::{MAX_SESSION_ID_LEN, MAX_USER_ID_LEN};
use super::session::Session;

/// The longest text [`session_object_json`] writes: the fixed names, an id of
/// printable ASCII (each byte escaped to at most 2), a user id of UTF-8 (a control
/// character escaped to 6 bytes) and the expiry (finite; at most 24 characters).
pub const MAX_SESSION_OBJECT_JSON_LEN: usize = r#"{"session_id":"","expires":,"user_id":""}"#.len()
    + 2 * MAX_SESSION_ID_LEN
    + 24
    + 6 * MAX_USER_ID_LEN;

/// Appends the `session` object of `session` to `out` as compact JSON: the expiry as
/// Unix seconds with the shortest digits that read back as the same float (always with
/// a fraction or exponent, as Python's and Ruby's JSON write it), strings escaped as
/// JSON requires (UTF-8 kept as is).
pub fn session_object_json(session: &Session, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"session_id":"#);
    json_string(session.id(), out);
    out.extend_from_slice(br#","expires":"#);
    json_float(session.expires(), out);
    out.extend_from_slice(br#","user_id":"#);
    json_string(session.user_id(), out);
    out.push(b'}');
}

fn json_string(text: &str, out: &mut Vec<u8>) {
    // serde_json writes a &str as a JSON string; writing into a Vec cannot fail.
    serde_json::to_writer(&mut *out, text).unwrap_or_default();
}

fn json_float(value: f64, out: &mut Vec<u8>) {
    // A session's expiry is finite (Session::set_expires refuses NaN and infinities);
    // serde_json writes a finite f64 with ryu's shortest round-trip digits and ".0"
    // on whole numbers.
    serde_json::to_writer(&mut *out, &value).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(session: &Session) -> serde_json::Value {
        let mut out = Vec::new();
        session_object_json(session, &mut out);
        assert!(out.len() <= MAX_SESSION_OBJECT_JSON_LEN);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn carries_id_expiry_and_user_and_never_the_key() {
        let mut s = Session::with_id("abc-123", "Alice", 1_796_000_000.125).unwrap();
        s.set_key(Some("secret")).unwrap();
        let mut out = Vec::new();
        session_object_json(&s, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"session_id":"abc-123","expires":1796000000.125,"user_id":"alice"}"#
        );
    }

    #[test]
    fn whole_seconds_keep_a_fraction_and_anonymous_is_empty() {
        let s = Session::with_id("id", "", 1_796_000_000.0).unwrap();
        let mut out = Vec::new();
        session_object_json(&s, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"session_id":"id","expires":1796000000.0,"user_id":""}"#
        );
    }

    #[test]
    fn escapes_what_json_requires_and_stays_within_the_bound() {
        let user = "\u{1}\"é".repeat(MAX_USER_ID_LEN / 4);
        let id = "\"\\".repeat(MAX_SESSION_ID_LEN / 2);
        let s = Session::with_id(&id, &user, -1.0e300).unwrap();
        let v = object(&s);
        assert_eq!(v["session_id"], id.as_str());
        assert_eq!(v["user_id"], user.to_lowercase().as_str());
        assert_eq!(v["expires"], -1.0e300);
    }
}
