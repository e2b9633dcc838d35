//! Every vector in tests/vectors/toto-wire.json (computed with the original Toto's own
//! algorithms: Python's uuid/base64/hmac) must hold.

use serde_json::Value as Json;
use toto_session::id::id_from_bytes;
use toto_session::{Error, Signer};

fn vectors() -> Json {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/toto-wire.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("vectors file")).expect("valid JSON")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn list<'a>(v: &'a Json, name: &str) -> &'a Vec<Json> {
    let items = v[name].as_array().expect("a list of vectors");
    assert!(!items.is_empty(), "{name} has vectors");
    items
}

fn s<'a>(v: &'a Json, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("field {field}"))
}

#[test]
fn session_ids_match_toto() {
    for v in list(&vectors(), "session_ids") {
        let bytes: [u8; 16] = hex(s(v, "uuid_bytes_hex")).try_into().expect("16 bytes");
        assert_eq!(id_from_bytes(&bytes), s(v, "session_id"));
    }
}

#[test]
fn request_hmacs_match_toto_and_tampering_fails() {
    for v in list(&vectors(), "request_hmac") {
        let signer = Signer::new(s(v, "key").as_bytes()).unwrap();
        let (method, uri, body) = (
            s(v, "method").as_bytes(),
            s(v, "uri").as_bytes(),
            hex(s(v, "body_hex")),
        );
        let mac = s(v, "x_toto_hmac");
        assert_eq!(signer.sign_request(method, uri, &body).unwrap(), mac);
        signer
            .verify_request(mac.as_bytes(), method, uri, &body)
            .unwrap();
        let mut tampered = body.clone();
        tampered.push(b' ');
        assert_eq!(
            signer.verify_request(mac.as_bytes(), method, uri, &tampered),
            Err(Error::InvalidHmac)
        );
        let other_method = [method, b"X"].concat();
        assert_eq!(
            signer.verify_request(mac.as_bytes(), &other_method, uri, &body),
            Err(Error::InvalidHmac)
        );
    }
}

#[test]
fn response_hmacs_match_toto() {
    for v in list(&vectors(), "response_hmac") {
        let signer = Signer::new(s(v, "key").as_bytes()).unwrap();
        let (sid, body) = (s(v, "session_id").as_bytes(), hex(s(v, "body_hex")));
        let mac = s(v, "x_toto_hmac");
        assert_eq!(signer.sign_response(sid, &body).unwrap(), mac);
        signer.verify_response(mac.as_bytes(), sid, &body).unwrap();
        assert_eq!(
            signer.verify_response(mac.as_bytes(), b"other-session-id", &body),
            Err(Error::InvalidHmac)
        );
    }
}

#[test]
fn session_level_signing_uses_the_session_id_for_responses() {
    let all = vectors();
    let v = &list(&all, "response_hmac")[0];
    let mut session = toto_session::Session::with_id(s(v, "session_id"), "u", 1.0).unwrap();
    session.set_key(Some(s(v, "key"))).unwrap();
    assert_eq!(
        session.sign_response(&hex(s(v, "body_hex"))).unwrap(),
        s(v, "x_toto_hmac")
    );
}

#[test]
fn legacy_password_hashes_verify_bit_exactly() {
    use toto_session::password::{hash_legacy, verify_legacy, PasswordPolicy, Passwords, Verdict};
    let passwords = Passwords::new(PasswordPolicy {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap();
    for v in list(&vectors(), "legacy_password_hashes") {
        let (password, hash, wrong) = (s(v, "password"), s(v, "hash"), s(v, "wrong_password"));
        assert!(verify_legacy(password, hash).unwrap(), "{hash}");
        assert!(!verify_legacy(wrong, hash).unwrap(), "{hash}");
        assert_eq!(
            passwords.verify(password, hash).unwrap(),
            Verdict::MatchNeedsRehash
        );
        assert_eq!(passwords.verify(wrong, hash).unwrap(), Verdict::Mismatch);
        // Re-hashing with the vector's own salt reproduces it exactly.
        let salt = hash.split('$').nth(3).unwrap();
        assert_eq!(hash_legacy(password, salt, 400).unwrap(), hash);
    }
}
