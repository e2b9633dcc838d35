package toto

/*
#include "toto_session.h"
*/
import "C"

// HMAC is Toto's hmac(message) with an explicit key: base64(HMAC-SHA1(key, message)),
// 28 characters. ErrInvalidHMAC for an empty key, ErrTooLarge for a key over 256
// bytes.
func HMAC(key, message []byte) (string, error) {
	var buf [C.TOTO_MAC_BUFFER_LEN]C.char
	if err := check(C.toto_hmac(cbytes(key), clen(key), cbytes(message), clen(message), &buf[0], C.size_t(len(buf))), nil); err != nil {
		return "", err
	}
	return cString(buf[:]), nil
}

// Verify is Toto's verify(mac, message) with an explicit key, compared in constant
// time: nil, or ErrInvalidHMAC when the key, mac or message is empty or the mac does
// not match.
func Verify(key []byte, mac string, message []byte) error {
	return check(C.toto_verify(cbytes(key), clen(key), cstr(mac), clen(mac), cbytes(message), clen(message)), nil)
}

// GenerateID returns a fresh random id in Toto's format (22 url-safe characters, from
// a CSPRNG), as used for session ids and keys.
func GenerateID() string {
	var buf [C.TOTO_ID_BUFFER_LEN]C.char
	if err := check(C.toto_generate_id(&buf[0], C.size_t(len(buf))), nil); err != nil {
		panic(err) // only on a buffer too small, which this call never passes
	}
	return cString(buf[:])
}

// Version is the library's version, e.g. "0.1.0".
func Version() string { return C.GoString(C.toto_version()) }

// HeaderVersion is the version of the toto_session.h this package was compiled
// against; Version should equal it.
const HeaderVersion = C.TOTO_SESSION_VERSION
