package toto

// The benchmarks' bare-cgo peers (bench_test.go; test files cannot use cgo): each is
// one direct call of the C function a wrapper method makes, with the handle and a
// C copy of the key prepared once, and nothing around it (no lock, no conversion, no
// error value). A wrapper's cost over its peer is what the binding adds.

/*
#include <stdlib.h>
#include "toto_session.h"

// The handle crosses as an integer: a *C.toto_session argument would be boxed for
// cgo's pointer check (see session_state.go), which is not the C call's cost.
#define PEER(h) ((toto_session *)(h))
static inline toto_result peer_set_i64(uintptr_t s, const char *k, size_t kl, int64_t v) {
	return toto_session_set_i64(PEER(s), k, kl, v);
}
static inline toto_result peer_get_i64(uintptr_t s, const char *k, size_t kl, int64_t *v) {
	return toto_session_get_i64(PEER(s), k, kl, v);
}
static inline toto_result peer_set_f64(uintptr_t s, const char *k, size_t kl, double v) {
	return toto_session_set_f64(PEER(s), k, kl, v);
}
static inline toto_result peer_get_f64(uintptr_t s, const char *k, size_t kl, double *v) {
	return toto_session_get_f64(PEER(s), k, kl, v);
}
static inline toto_result peer_set_bool(uintptr_t s, const char *k, size_t kl, bool v) {
	return toto_session_set_bool(PEER(s), k, kl, v);
}
static inline toto_result peer_get_bool(uintptr_t s, const char *k, size_t kl, bool *v) {
	return toto_session_get_bool(PEER(s), k, kl, v);
}
static inline toto_result peer_set_text(uintptr_t s, const char *k, size_t kl, const char *v,
                                        size_t vl) {
	return toto_session_set_text(PEER(s), k, kl, v, vl);
}
static inline toto_result peer_get_text(uintptr_t s, const char *k, size_t kl, const char **v,
                                        size_t *vl) {
	return toto_session_get_text(PEER(s), k, kl, v, vl);
}
static inline toto_result peer_set_bytes(uintptr_t s, const char *k, size_t kl, const uint8_t *v,
                                         size_t vl) {
	return toto_session_set_bytes(PEER(s), k, kl, v, vl);
}
static inline toto_result peer_get_bytes(uintptr_t s, const char *k, size_t kl,
                                         const uint8_t **v, size_t *vl) {
	return toto_session_get_bytes(PEER(s), k, kl, v, vl);
}
static inline toto_result peer_retrieve(uintptr_t m, const char *id, size_t il) {
	toto_session *s = NULL;
	toto_result rc = toto_manager_retrieve_session((const toto_manager *)m, id, il, &s, NULL);
	if (rc == TOTO_RESULT_OK) toto_session_free(s);
	return rc;
}
*/
import "C"

import "unsafe"

// cgoPeer holds what the peers pass to C: a session handle (kept open by s) and the
// key and a text value in C memory.
type cgoPeer struct {
	s     *Session
	p     C.uintptr_t
	key   *C.char
	klen  C.size_t
	text  *C.char
	tlen  C.size_t
	bytes *C.uint8_t
	// Outputs, in the peer so that no call allocates.
	i64  C.int64_t
	f64  C.double
	b    C.bool
	view *C.char
	bv   *C.uint8_t
	n    C.size_t
}

func newCgoPeer(s *Session, key, text string) *cgoPeer {
	return &cgoPeer{
		s: s, p: C.uintptr_t(uintptr(unsafe.Pointer(s.ptr))),
		key: C.CString(key), klen: C.size_t(len(key)),
		text: C.CString(text), tlen: C.size_t(len(text)),
		bytes: (*C.uint8_t)(unsafe.Pointer(C.CString(text))),
	}
}

func (c *cgoPeer) free() {
	C.free(unsafe.Pointer(c.key))
	C.free(unsafe.Pointer(c.text))
	C.free(unsafe.Pointer(c.bytes))
}

func (c *cgoPeer) setI64(v int64) C.toto_result {
	return C.peer_set_i64(c.p, c.key, c.klen, C.int64_t(v))
}

func (c *cgoPeer) getI64() C.toto_result {
	return C.peer_get_i64(c.p, c.key, c.klen, &c.i64)
}

func (c *cgoPeer) setF64(v float64) C.toto_result {
	return C.peer_set_f64(c.p, c.key, c.klen, C.double(v))
}

func (c *cgoPeer) getF64() C.toto_result {
	return C.peer_get_f64(c.p, c.key, c.klen, &c.f64)
}

func (c *cgoPeer) setBool(v bool) C.toto_result {
	return C.peer_set_bool(c.p, c.key, c.klen, C.bool(v))
}

func (c *cgoPeer) getBool() C.toto_result {
	return C.peer_get_bool(c.p, c.key, c.klen, &c.b)
}

func (c *cgoPeer) setText() C.toto_result {
	return C.peer_set_text(c.p, c.key, c.klen, c.text, c.tlen)
}

func (c *cgoPeer) getText() C.toto_result {
	return C.peer_get_text(c.p, c.key, c.klen, &c.view, &c.n)
}

func (c *cgoPeer) setBytes() C.toto_result {
	return C.peer_set_bytes(c.p, c.key, c.klen, c.bytes, c.tlen)
}

func (c *cgoPeer) getBytes() C.toto_result {
	return C.peer_get_bytes(c.p, c.key, c.klen, &c.bv, &c.n)
}

// cgoRetrievePeer is toto_manager_retrieve_session + toto_session_free called
// directly, both in one cgo call (no context check, no lock, no Go Session, no
// finalizer): the C benchmark's "manager retrieve + free" plus one cgo transition.
type cgoRetrievePeer struct {
	m    *Manager
	id   *C.char
	ilen C.size_t
}

func newCgoRetrievePeer(m *Manager, id string) *cgoRetrievePeer {
	return &cgoRetrievePeer{m: m, id: C.CString(id), ilen: C.size_t(len(id))}
}

func (c *cgoRetrievePeer) free() { C.free(unsafe.Pointer(c.id)) }

// retrieve is one cgo call: retrieve, then free in C (the C benchmark's loop body).
func (c *cgoRetrievePeer) retrieve() C.toto_result {
	return C.peer_retrieve(C.uintptr_t(uintptr(unsafe.Pointer(c.m.ptr))), c.id, c.ilen)
}

// ok tells whether a peer call succeeded (the benchmarks cannot name C types).
func (c *cgoPeer) ok(rc C.toto_result) bool { return rc == C.TOTO_RESULT_OK }

func (c *cgoRetrievePeer) ok(rc C.toto_result) bool { return rc == C.TOTO_RESULT_OK }
