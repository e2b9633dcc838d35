package toto

/*
#include <stdint.h>
#include "toto_session.h"
#include "shims.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// CacheHandle is a session cache owned by the library: the built-in memory cache
// (NewMemoryCache, NewMemoryCacheCompact, NewMemoryCacheWithClock) or a Go Cache
// (NewCache). It is safe for concurrent use. Managers keep their own reference, so the handle may be closed once
// it has been passed to NewManager.
//
// Methods that reach the cache take a context: it is checked before the call, but the
// call itself cannot be interrupted.
type CacheHandle struct {
	mu    sync.RWMutex
	ptr   *C.toto_cache
	clock *clockRef // the Go clock of a memory cache on a host clock
}

func newCacheHandle(p *C.toto_cache, clock *clockRef) *CacheHandle {
	c := &CacheHandle{ptr: p, clock: clock}
	live.caches.Add(1)
	runtime.SetFinalizer(c, (*CacheHandle).Close)
	return c
}

// NewMemoryCache makes the built-in in-memory cache: expiry enforced on load (wall
// clock), expired entries reclaimed, per-user index for RemoveUser.
func NewMemoryCache() (*CacheHandle, error) {
	var out *C.toto_cache
	if err := check(C.toto_cache_new_memory(&out), nil); err != nil {
		return nil, err
	}
	return newCacheHandle(out, nil), nil
}

// NewMemoryCacheCompact makes the built-in in-memory cache in its compact form: every
// session is kept as its encoded record (about half of the memory per session
// of NewMemoryCache, which keeps saved sessions decoded) and decoded on every load.
func NewMemoryCacheCompact() (*CacheHandle, error) {
	var out *C.toto_cache
	if err := check(C.toto_cache_new_memory_compact(&out), nil); err != nil {
		return nil, err
	}
	return newCacheHandle(out, nil), nil
}

// NewMemoryCacheWithClock makes the built-in memory cache on a Go clock (for tests and
// simulations; give the same clock to the manager with WithClock). The clock is called
// from any goroutine and must be safe for concurrent use; if it panics the wall clock
// is used.
func NewMemoryCacheWithClock(clock func() time.Time) (*CacheHandle, error) {
	if clock == nil {
		return nil, &Error{Code: CodeNullArgument, Message: "NewMemoryCacheWithClock: nil clock"}
	}
	ref := newClockRef(clock)
	var out *C.toto_cache
	if err := check(C.toto_go_cache_new_memory_with_clock(C.uintptr_t(ref.h), &out), nil); err != nil {
		ref.release()
		return nil, err
	}
	return newCacheHandle(out, ref), nil
}

// Close releases this handle (the cache lives on while a manager uses it). Idempotent.
func (c *CacheHandle) Close() error {
	c.mu.Lock()
	p := c.ptr
	c.ptr = nil
	c.mu.Unlock()
	if p != nil {
		C.toto_cache_free(p)
		c.clock.release()
		live.caches.Add(-1)
		runtime.SetFinalizer(c, nil)
	}
	return nil
}

func (c *CacheHandle) rlock() (*C.toto_cache, error) {
	c.mu.RLock()
	if c.ptr == nil {
		c.mu.RUnlock()
		return nil, ErrClosed
	}
	return c.ptr, nil
}

func (c *CacheHandle) runlock() {
	c.mu.RUnlock()
	runtime.KeepAlive(c)
}

func (c *CacheHandle) begin(ctx context.Context) (*C.toto_cache, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.rlock()
}

// Store stores a raw record under id until expires for userID ("" = anonymous). With
// createNew, a live id is refused with ErrIDCollision. newID is the id the cache chose
// when it renamed the record, "" otherwise.
func (c *CacheHandle) Store(ctx context.Context, id, userID string, expires time.Time, record []byte, createNew bool) (newID string, err error) {
	p, err := c.begin(ctx)
	if err != nil {
		return "", err
	}
	defer c.runlock()
	var flags C.uint32_t
	if createNew {
		flags = C.TOTO_STORE_CREATE_NEW
	}
	var out C.toto_bytes
	var e C.toto_error
	rc := C.toto_cache_store(p, cstr(id), clen(id), cstr(userID), clen(userID), C.double(unixSeconds(expires)),
		cbytes(record), clen(record), flags, &out, &e)
	if err := check(rc, &e); err != nil {
		return "", err
	}
	if out.data == nil {
		return "", nil
	}
	return string(takeBytes(&out)), nil
}

// Load returns the raw record stored under id; ErrNotFound when missing or expired.
func (c *CacheHandle) Load(ctx context.Context, id string) ([]byte, error) {
	p, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.runlock()
	var out C.toto_bytes
	var e C.toto_error
	if err := check(C.toto_cache_load(p, cstr(id), clen(id), &out, &e), &e); err != nil {
		return nil, err
	}
	return takeBytes(&out), nil
}

// Remove removes id (logout); a missing id is not an error.
func (c *CacheHandle) Remove(ctx context.Context, id string) error {
	p, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer c.runlock()
	var e C.toto_error
	return check(C.toto_cache_remove(p, cstr(id), clen(id), &e), &e)
}

// RemoveUser removes every session of userID and says how many there were.
// ErrUnsupported for a Go Cache without CacheUserRemover.
func (c *CacheHandle) RemoveUser(ctx context.Context, userID string) (uint64, error) {
	p, err := c.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer c.runlock()
	var n C.uint64_t
	var e C.toto_error
	if err := check(C.toto_cache_remove_user(p, cstr(userID), clen(userID), &n, &e), &e); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// StoreSession exports s and stores it (overwriting) until its expiry; s takes the
// new id if the cache renamed it, and is marked clean on success.
func (c *CacheHandle) StoreSession(ctx context.Context, s *Session) error {
	p, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer c.runlock()
	sp, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	var e C.toto_error
	return check(C.toto_cache_store_session(p, sp, &e), &e)
}

// LoadSession loads the session stored under id, as stored: no renewal and no expiry
// check against a clock (that is Manager.RetrieveSession). ErrNotFound when missing.
func (c *CacheHandle) LoadSession(ctx context.Context, id string) (*Session, error) {
	p, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.runlock()
	var out *C.toto_session
	var e C.toto_error
	if err := check(C.toto_cache_load_session(p, cstr(id), clen(id), &out, &e), &e); err != nil {
		return nil, err
	}
	return newSession(out), nil
}
