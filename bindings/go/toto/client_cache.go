package toto

/*
#include <stdint.h>
#include "toto_session.h"
*/
import "C"

import "unsafe"

// ClientKeyLen is the length of a client-side session key.
const ClientKeyLen = C.TOTO_CLIENT_KEY_LEN

// MaxClientRecordLen is the largest session record a client-side token carries; a
// larger session is ErrTooLarge when saved.
const MaxClientRecordLen = C.TOTO_MAX_CLIENT_RECORD_LEN

// ClientKey is one key of a client-side cache: the id written into the tokens it
// seals, and 32 secret bytes from a CSPRNG (crypto/rand, or head -c 32 /dev/urandom).
type ClientKey struct {
	ID  uint32
	Key [ClientKeyLen]byte
}

// NewClientSideCache makes a client-side session cache: nothing is stored on the
// server; a session's id is the session itself, sealed with AES-256-GCM-SIV (URL-safe
// base64, a few hundred characters, usable as x-toto-session-id). Every key opens
// tokens; the first seals new ones (rotate by adding a key last, then moving it first,
// then dropping the old one after the longest TTL).
//
// With a Manager, a save, login, rotation or renewal gives the session a new id: send
// Session.ID() back in every response. A tampered, expired or foreign-key token is not
// found. Logout (RemoveSession) succeeds but cannot revoke a token before its expiry;
// ClearSessions is ErrUnsupported. Expiry is judged on the wall clock.
func NewClientSideCache(keys ...ClientKey) (*CacheHandle, error) {
	ck := make([]C.toto_client_key, len(keys))
	for i, k := range keys {
		ck[i].id = C.uint32_t(k.ID)
		for j, b := range k.Key {
			ck[i].key[j] = C.uint8_t(b)
		}
	}
	var p *C.toto_client_key
	if len(ck) > 0 {
		p = (*C.toto_client_key)(unsafe.Pointer(&ck[0]))
	}
	var out *C.toto_cache
	var e C.toto_error
	rc := C.toto_cache_new_client_side(p, C.size_t(len(ck)), nil, nil, &out, &e)
	for i := range ck {
		ck[i].key = [ClientKeyLen]C.uint8_t{}
	}
	if err := check(rc, &e); err != nil {
		return nil, err
	}
	return newCacheHandle(out, nil), nil
}
