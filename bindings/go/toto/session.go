package toto

/*
#include <stdint.h>
#include "toto_session.h"

// The handle crosses as an integer (see session_state.go: a *C.toto_session argument
// costs an allocation for cgo's pointer check).
static inline void toto_go_session_free(uintptr_t s) { toto_session_free((toto_session *)s); }

typedef struct { toto_result rc; bool v; } toto_go_dirty_result;

// The signing calls with the mac returned by value (a Go buffer passed to C would move
// to the heap: one allocation per signature besides the string).
typedef struct { toto_result rc; char mac[TOTO_MAC_BUFFER_LEN]; } toto_go_mac_result;

static inline toto_go_mac_result toto_go_session_sign_response(uintptr_t s, const uint8_t *body,
                                                               size_t body_len) {
	toto_go_mac_result r;
	r.mac[0] = 0;
	r.rc = toto_session_sign_response((const toto_session *)s, body, body_len, r.mac,
	                                  TOTO_MAC_BUFFER_LEN);
	return r;
}

static inline toto_go_mac_result toto_go_session_hmac(uintptr_t s, const uint8_t *message,
                                                      size_t message_len) {
	toto_go_mac_result r;
	r.mac[0] = 0;
	r.rc = toto_session_hmac((const toto_session *)s, message, message_len, r.mac, TOTO_MAC_BUFFER_LEN);
	return r;
}

static inline toto_go_mac_result toto_go_session_sign_request(uintptr_t s, const char *method,
                                                              size_t method_len, const char *uri,
                                                              size_t uri_len, const uint8_t *body,
                                                              size_t body_len) {
	toto_go_mac_result r;
	r.mac[0] = 0;
	r.rc = toto_session_sign_request((const toto_session *)s, method, method_len, uri, uri_len, body,
	                                 body_len, r.mac, TOTO_MAC_BUFFER_LEN);
	return r;
}

static inline toto_go_dirty_result toto_go_session_is_dirty(uintptr_t s) {
	toto_go_dirty_result r = {0, false};
	r.rc = toto_session_is_dirty((const toto_session *)s, &r.v);
	return r;
}

typedef struct { toto_result rc; const char *ptr; size_t len; } toto_go_str_result;

// toto_session_id / _user_id / _key with the view returned by value (the address of a
// Go variable passed to C would move it to the heap).
static inline toto_go_str_result toto_go_session_id(uintptr_t s) {
	toto_go_str_result r = {0, NULL, 0};
	r.rc = toto_session_id((const toto_session *)s, &r.ptr, &r.len);
	return r;
}

static inline toto_result toto_go_session_verify_request(uintptr_t s, const char *mac,
                                                         size_t mac_len, const char *method,
                                                         size_t method_len, const char *uri,
                                                         size_t uri_len, const uint8_t *body,
                                                         size_t body_len) {
	return toto_session_verify_request((const toto_session *)s, mac, mac_len, method,
	                                   method_len, uri, uri_len, body, body_len);
}

static inline toto_go_str_result toto_go_session_user_id(uintptr_t s) {
	toto_go_str_result r = {0, NULL, 0};
	r.rc = toto_session_user_id((const toto_session *)s, &r.ptr, &r.len);
	return r;
}
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Session is a Toto session: id, user id, expiry, optional HMAC key and a typed state
// map. The library allows one thread at a time per session; the Go type adds a mutex
// so that concurrent use from several goroutines is safe (if rarely useful).
//
// Release it with Close; a finalizer frees it otherwise (one finalizer per slab of
// sessions, see newSession).
type Session struct {
	mu  sync.Mutex
	ptr *C.toto_session
}

// Sessions are allocated sessionSlabLen at a time, with one finalizer per slab rather
// than one per session: runtime.SetFinalizer and the removal of a finalizer in Close
// take the runtime's special-record locks and cost more than the retrieve's cgo call
// itself. The slab's finalizer runs once none of its sessions is reachable and frees
// those that were never closed, so a forgotten session is still freed, only possibly
// later (when the sessions allocated next to it are gone too). Partly used slabs wait
// in a sync.Pool, which the GC empties: a slab is never kept alive by the allocator.
const sessionSlabLen = 32

type sessionSlab struct {
	used     int
	sessions [sessionSlabLen]Session
}

var sessionSlabs sync.Pool

func newSession(p *C.toto_session) *Session {
	slab, _ := sessionSlabs.Get().(*sessionSlab)
	if slab == nil {
		slab = new(sessionSlab)
		runtime.SetFinalizer(slab, (*sessionSlab).finalize)
	}
	s := &slab.sessions[slab.used]
	slab.used++
	s.ptr = p
	if slab.used < sessionSlabLen {
		sessionSlabs.Put(slab)
	}
	live.sessions.Add(1)
	return s
}

// finalize frees the sessions of an unreachable slab that were not closed.
func (slab *sessionSlab) finalize() {
	for i := range slab.sessions[:slab.used] {
		_ = slab.sessions[i].Close()
	}
}

// Close releases the native session. It is idempotent and returns nil.
//
// The native free may be left to the next retrieve: see closedSession.
func (s *Session) Close() error {
	s.mu.Lock()
	p := s.ptr
	s.ptr = nil
	s.mu.Unlock()
	if p != nil {
		live.sessions.Add(-1)
		if old := closedSession.Swap(uintptr(unsafe.Pointer(p))); old != 0 {
			C.toto_go_session_free(C.uintptr_t(old))
		}
	}
	return nil
}

// closedSession holds at most one closed session's native handle, not yet freed: Close
// parks its handle here and frees the one it displaces, and RetrieveSession and
// VerifyRequest take the parked one and free it in their own cgo call, before they
// retrieve (toto_go_manager_retrieve_session's first argument). A request that
// retrieves, uses and closes one session then makes one cgo transition for retrieve
// and free instead of two (a transition costs about as much as the retrieve's library
// work). The swap hands each handle to exactly one freer; no Go object refers to a
// parked handle (Close has cleared s.ptr), so LiveHandles no longer counts it, and
// its memory waits at most until the next Close, retrieve or Manager.Close in the
// process.
var closedSession atomic.Uintptr

// takeClosed takes the parked handle (0 when there is none) for a shim to free.
func takeClosed() C.uintptr_t { return C.uintptr_t(closedSession.Swap(0)) }

// freeParked frees the parked handle now, if there is one (Manager.Close).
func freeParked() {
	if old := takeClosed(); old != 0 {
		C.toto_go_session_free(old)
	}
}

// lock locks the session and returns its handle, or ErrClosed (with the lock released).
func (s *Session) lock() (*C.toto_session, error) {
	s.mu.Lock()
	if s.ptr == nil {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	return s.ptr, nil
}

func (s *Session) unlock() {
	s.mu.Unlock()
	runtime.KeepAlive(s)
}

// NewSession makes a session with a fresh random id for userID (lowercased; "" is
// anonymous) expiring at expires. It is not stored anywhere: see Manager.CreateSession
// for the usual way.
func NewSession(userID string, expires time.Time) (*Session, error) {
	var out *C.toto_session
	rc := C.toto_session_new(cstr(userID), clen(userID), C.double(unixSeconds(expires)), &out)
	if err := check(rc, nil); err != nil {
		return nil, err
	}
	return newSession(out), nil
}

// NewSessionWithID makes a session with a given id (1..4000 printable ASCII bytes).
func NewSessionWithID(id, userID string, expires time.Time) (*Session, error) {
	var out *C.toto_session
	rc := C.toto_session_new_with_id(cstr(id), clen(id), cstr(userID), clen(userID),
		C.double(unixSeconds(expires)), &out)
	if err := check(rc, nil); err != nil {
		return nil, err
	}
	return newSession(out), nil
}

// ImportSession decodes a record made by Export (or stored by any cache) into a new,
// clean session.
func ImportSession(record []byte) (*Session, error) {
	var out *C.toto_session
	var e C.toto_error
	rc := C.toto_session_import(cbytes(record), clen(record), &out, &e)
	if err := check(rc, &e); err != nil {
		return nil, err
	}
	return newSession(out), nil
}

// Export encodes the whole session (id, user id, expiry, key, state) as the versioned
// CBOR record every cache stores.
func (s *Session) Export() ([]byte, error) {
	p, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	var out C.toto_bytes
	var e C.toto_error
	if err := check(C.toto_session_export(p, &out, &e), &e); err != nil {
		return nil, err
	}
	return takeBytes(&out), nil
}

// view reads a borrowed string view and copies it.
func (s *Session) view(get func(*C.toto_session, **C.char, *C.size_t) C.toto_result) (string, error) {
	p, err := s.lock()
	if err != nil {
		return "", err
	}
	defer s.unlock()
	var ptr *C.char
	var n C.size_t
	if err := check(get(p, &ptr, &n), nil); err != nil {
		return "", err
	}
	return goStringN(ptr, n), nil
}

// viewOf copies the view r (read under the lock) into a Go string: one allocation.
func (s *Session) viewOf(r C.toto_go_str_result) string {
	var v string
	if r.rc == C.TOTO_RESULT_OK {
		v = goStringN(r.ptr, r.len) // the view lives until the session changes
	}
	s.mu.Unlock()
	return v
}

// ID is the session id ("" once closed). It allocates only the returned string.
func (s *Session) ID() string {
	p := s.acquire()
	if p == nil {
		return ""
	}
	return s.viewOf(C.toto_go_session_id(handle(p)))
}

// SetID replaces the session id and marks the session dirty.
func (s *Session) SetID(id string) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_set_id(p, cstr(id), clen(id)), nil)
}

// UserID is the (lowercased) user id; "" for an anonymous or closed session. It
// allocates only the returned string.
func (s *Session) UserID() string {
	p := s.acquire()
	if p == nil {
		return ""
	}
	return s.viewOf(C.toto_go_session_user_id(handle(p)))
}

// ExpiresUnix is the expiry in Unix seconds, exactly as the library holds it (0 once
// closed).
func (s *Session) ExpiresUnix() float64 {
	p, err := s.lock()
	if err != nil {
		return 0
	}
	defer s.unlock()
	var out C.double
	if check(C.toto_session_expires(p, &out), nil) != nil {
		return 0
	}
	return float64(out)
}

// Expires is the expiry time.
func (s *Session) Expires() time.Time { return fromUnixSeconds(s.ExpiresUnix()) }

// SetExpires changes the expiry (marks the session dirty when it changes).
func (s *Session) SetExpires(t time.Time) error { return s.SetExpiresUnix(unixSeconds(t)) }

// SetExpiresUnix changes the expiry, given in Unix seconds.
func (s *Session) SetExpiresUnix(sec float64) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_set_expires(p, C.double(sec)), nil)
}

// Key is the per-session HMAC key (a secret) and whether the session has one.
func (s *Session) Key() (string, bool) {
	k, err := s.view(func(p *C.toto_session, ptr **C.char, n *C.size_t) C.toto_result {
		return C.toto_session_key(p, ptr, n)
	})
	return k, err == nil
}

// SetKey sets the per-session HMAC key (1..256 bytes), or clears it when key is "".
func (s *Session) SetKey(key string) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_set_key(p, cstr(key), clen(key)), nil)
}

// GenerateKey sets a fresh random key (as Toto does at login) and returns it.
func (s *Session) GenerateKey() (string, error) {
	return s.view(func(p *C.toto_session, ptr **C.char, n *C.size_t) C.toto_result {
		return C.toto_session_generate_key(p, ptr, n)
	})
}

// IsDirty tells whether the session changed since it was created, loaded or marked
// clean (false once closed).
func (s *Session) IsDirty() bool {
	p := s.acquire()
	if p == nil {
		return false
	}
	r := C.toto_go_session_is_dirty(handle(p))
	s.mu.Unlock()
	return r.rc == C.TOTO_RESULT_OK && bool(r.v)
}

// MarkClean clears the dirty flag.
func (s *Session) MarkClean() error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_mark_clean(p), nil)
}

// macResult is a by-value signing shim's answer as Go's (string, error); the session's
// lock is released by the caller.
func macResult(r C.toto_go_mac_result) (string, error) {
	if r.rc != C.TOTO_RESULT_OK {
		return "", rcErr(r.rc)
	}
	return cString(r.mac[:]), nil
}

// HMAC is Toto's session.hmac(message): base64(HMAC-SHA1(key, message)).
// ErrInvalidHMAC when the session has no key.
func (s *Session) HMAC(message []byte) (string, error) {
	p := s.acquire()
	if p == nil {
		return "", ErrClosed
	}
	r := C.toto_go_session_hmac(handle(p), cbytes(message), clen(message))
	s.mu.Unlock()
	return macResult(r)
}

// Verify is Toto's session.verify(mac, message), in constant time: nil or
// ErrInvalidHMAC.
func (s *Session) Verify(mac string, message []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_verify(p, cstr(mac), clen(mac), cbytes(message), clen(message)), nil)
}

// SignRequest signs a request as Toto's clients do: base64(HMAC-SHA1(key, METHOD + URI
// + BODY)), URI being the raw path with its query string.
func (s *Session) SignRequest(method, uri string, body []byte) (string, error) {
	p := s.acquire()
	if p == nil {
		return "", ErrClosed
	}
	r := C.toto_go_session_sign_request(handle(p), cstr(method), clen(method), cstr(uri), clen(uri),
		cbytes(body), clen(body))
	s.mu.Unlock()
	return macResult(r)
}

// VerifyRequest checks a request's x-toto-hmac header in constant time.
func (s *Session) VerifyRequest(mac, method, uri string, body []byte) error {
	p := s.acquire()
	if p == nil {
		return ErrClosed
	}
	rc := C.toto_go_session_verify_request(handle(p), cstr(mac), clen(mac), cstr(method), clen(method),
		cstr(uri), clen(uri), cbytes(body), clen(body))
	s.mu.Unlock()
	return rcErr(rc)
}

// SignResponse is the response x-toto-hmac for body: base64(HMAC-SHA1(key, SESSION_ID
// + BODY)) with the session's current id. Sign the exact bytes you send.
func (s *Session) SignResponse(body []byte) (string, error) {
	p := s.acquire()
	if p == nil {
		return "", ErrClosed
	}
	r := C.toto_go_session_sign_response(handle(p), cbytes(body), clen(body))
	s.mu.Unlock()
	return macResult(r)
}

// VerifyResponse checks a response's x-toto-hmac (a Toto client's check; Toto reports
// a failure as 1009, CodeInvalidResponseHMAC; the library returns ErrInvalidHMAC).
func (s *Session) VerifyResponse(mac string, body []byte) error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_verify_response(p, cstr(mac), clen(mac), cbytes(body), clen(body)), nil)
}

// Len is the number of state entries (0 once closed).
func (s *Session) Len() int {
	p, err := s.lock()
	if err != nil {
		return 0
	}
	defer s.unlock()
	var n C.size_t
	if check(C.toto_session_len(p, &n), nil) != nil {
		return 0
	}
	return int(n)
}

// Keys lists the state keys in sorted (byte) order.
func (s *Session) Keys() []string {
	p, err := s.lock()
	if err != nil {
		return nil
	}
	defer s.unlock()
	var n C.size_t
	if check(C.toto_session_len(p, &n), nil) != nil {
		return nil
	}
	keys := make([]string, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		var ptr *C.char
		var l C.size_t
		if check(C.toto_session_key_at(p, i, &ptr, &l), nil) != nil {
			break
		}
		keys = append(keys, goStringN(ptr, l))
	}
	return keys
}

// Clear removes every state entry.
func (s *Session) Clear() error {
	p, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	return check(C.toto_session_clear(p), nil)
}
