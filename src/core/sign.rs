//! Toto's HMAC signing: `base64(HMAC-SHA1(key, message))`, standard alphabet with
//! padding (28 characters).
//!
//! - request:  message = METHOD + URI + BODY (header `x-toto-hmac` from the client)
//! - response: message = SESSION_ID + BODY   (header `x-toto-hmac` from the server)
//!
//! A [`Signer`] keys the HMAC state once and clones it per message; a mac comes back
//! as a [`MacText`] on the stack (no allocation per signature). Verification compares
//! in constant time and, like Toto, fails on an empty key, mac or message.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use crate::core::error::{Error, Result};
use crate::core::limits::{MAX_KEY_LEN, MAX_MESSAGE_LEN};

type HmacSha1 = Hmac<Sha1>;

/// Length of a base64 HMAC-SHA1 (20 bytes with padding).
pub const MAC_LEN: usize = 28;

/// A Toto mac as text: the 28 base64 characters, held inline (`Copy`, no allocation).
/// Reads as a `&str` ([`MacText::as_str`], `Deref`, `Display`); `String::from` makes
/// an owned copy.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacText([u8; MAC_LEN]);

impl MacText {
    /// The base64 of a raw 20-byte MAC.
    fn encode(raw: [u8; 20]) -> MacText {
        let mut text = [0u8; MAC_LEN];
        let written = STANDARD
            .encode_slice(raw, &mut text)
            .expect("20 bytes are 28 base64 characters");
        debug_assert_eq!(written, MAC_LEN);
        MacText(text)
    }

    /// The mac as text.
    pub fn as_str(&self) -> &str {
        // The bytes are base64's alphabet and `=`: ASCII.
        std::str::from_utf8(&self.0).expect("base64 text is ASCII")
    }
}

impl std::ops::Deref for MacText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for MacText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for MacText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for MacText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<MacText> for String {
    fn from(mac: MacText) -> String {
        mac.as_str().to_owned()
    }
}

impl PartialEq<str> for MacText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MacText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for MacText {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// An HMAC-SHA1 state keyed once, reused for many messages.
#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha1,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { key: <redacted> }")
    }
}

impl Signer {
    /// Keys a signer. An empty key is Toto's 1008 (nothing can verify without one).
    pub fn new(key: &[u8]) -> Result<Self> {
        if key.is_empty() {
            return Err(Error::InvalidHmac);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::TooLarge {
                what: "key",
                limit: MAX_KEY_LEN,
            });
        }
        let keyed = HmacSha1::new_from_slice(key).map_err(|_| Error::InvalidHmac)?;
        Ok(Signer { keyed })
    }

    /// The raw 20-byte MAC of the concatenation of `parts`.
    pub fn mac_parts(&self, parts: &[&[u8]]) -> Result<[u8; 20]> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > MAX_MESSAGE_LEN {
            return Err(Error::TooLarge {
                what: "signed message",
                limit: MAX_MESSAGE_LEN,
            });
        }
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        Ok(mac.finalize().into_bytes().into())
    }

    /// Toto's `hmac(message)`: base64 of the MAC of the concatenated parts.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Result<MacText> {
        Ok(MacText::encode(self.mac_parts(parts)?))
    }

    /// Toto's `verify(mac, message)` over the concatenated parts, in constant time.
    /// An empty `mac` or an empty message fails with [`Error::InvalidHmac`].
    pub fn verify_parts(&self, mac: &[u8], parts: &[&[u8]]) -> Result<()> {
        if mac.is_empty() || parts.iter().all(|p| p.is_empty()) {
            return Err(Error::InvalidHmac);
        }
        let expected = MacText::encode(self.mac_parts(parts)?);
        // Lengths are public (always 28 for a valid mac); the bytes are compared in
        // constant time.
        if bool::from(expected.0.as_slice().ct_eq(mac)) {
            Ok(())
        } else {
            Err(Error::InvalidHmac)
        }
    }

    /// Signs one message.
    pub fn sign(&self, message: &[u8]) -> Result<MacText> {
        self.sign_parts(&[message])
    }

    /// Verifies one message.
    pub fn verify(&self, mac: &[u8], message: &[u8]) -> Result<()> {
        self.verify_parts(mac, &[message])
    }

    /// The request signature Toto's clients send: METHOD + URI + BODY.
    pub fn sign_request(&self, method: &[u8], uri: &[u8], body: &[u8]) -> Result<MacText> {
        self.sign_parts(&[method, uri, body])
    }

    /// Checks a request's `x-toto-hmac` header value.
    pub fn verify_request(&self, mac: &[u8], method: &[u8], uri: &[u8], body: &[u8]) -> Result<()> {
        self.verify_parts(mac, &[method, uri, body])
    }

    /// The response signature Toto's server sends: SESSION_ID + BODY.
    pub fn sign_response(&self, session_id: &[u8], body: &[u8]) -> Result<MacText> {
        self.sign_parts(&[session_id, body])
    }

    /// Checks a response's `x-toto-hmac` header value (client side).
    pub fn verify_response(&self, mac: &[u8], session_id: &[u8], body: &[u8]) -> Result<()> {
        self.verify_parts(mac, &[session_id, body])
    }
}

/// One-shot `base64(HMAC-SHA1(key, message))`.
pub fn hmac(key: &[u8], message: &[u8]) -> Result<MacText> {
    Signer::new(key)?.sign(message)
}

/// One-shot constant-time verification of a Toto HMAC.
pub fn verify(key: &[u8], mac: &[u8], message: &[u8]) -> Result<()> {
    Signer::new(key)?.verify(mac, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2202_hmac_sha1_case_2() {
        // RFC 2202 test case 2, in base64.
        let mac = hmac(b"Jefe", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            mac,
            STANDARD.encode(hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"))
        );
        assert!(verify(b"Jefe", mac.as_bytes(), b"what do ya want for nothing?").is_ok());
    }

    #[test]
    fn verify_refuses_empty_and_wrong() {
        let s = Signer::new(b"k").unwrap();
        let good = s.sign(b"msg").unwrap();
        assert_eq!(s.verify(b"", b"msg"), Err(Error::InvalidHmac));
        assert_eq!(s.verify(good.as_bytes(), b""), Err(Error::InvalidHmac));
        assert_eq!(s.verify(good.as_bytes(), b"msh"), Err(Error::InvalidHmac));
        assert_eq!(
            s.verify(&good.as_bytes()[..27], b"msg"),
            Err(Error::InvalidHmac)
        );
        assert_eq!(Signer::new(b"").err(), Some(Error::InvalidHmac));
        assert!(s.verify(good.as_bytes(), b"msg").is_ok());
    }

    #[test]
    fn parts_equal_concatenation() {
        let s = Signer::new(b"key").unwrap();
        assert_eq!(
            s.sign_request(b"PUT", b"/a?b=1", b"{}").unwrap(),
            s.sign(b"PUT/a?b=1{}").unwrap()
        );
    }

    #[test]
    fn mac_text_reads_as_its_base64() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?").unwrap();
        let want = "7/zfauXrL6LSdBbV8YTfnCWafHk=";
        assert_eq!(mac.as_str(), want);
        assert_eq!(mac.to_string(), want);
        assert_eq!(String::from(mac), want);
        assert_eq!(format!("{mac:?}"), format!("{want:?}"));
        assert_eq!(mac.len(), MAC_LEN);
    }

    #[test]
    fn debug_hides_the_key() {
        let s = Signer::new(b"super-secret").unwrap();
        assert!(!format!("{s:?}").contains("super"));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
