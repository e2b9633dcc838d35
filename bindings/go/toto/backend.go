package toto

/*
#include <stdint.h>
#include "toto_session.h"
#include "shims.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"time"
)

// Cache is a session cache implemented in Go (Redis, SQL, files...), handed to the
// library with NewCache. Records are opaque blobs. The library calls the methods from
// any goroutine, possibly at the same time: they must be safe for concurrent use.
// The byte slices passed in are the implementation's to keep.
//
// Errors: report a missing id with found == false, a live id refused by a createNew
// Store with ErrIDCollision, and a backend that cannot be reached with an error
// wrapping ErrBackendUnavailable (passed through to the caller). Any other error fails the operation with
// ErrBackendFailed and the error's text as the message (an error wrapping a toto
// *Error passes its code on instead). A panic is recovered and reported like an error.
type Cache interface {
	// Store saves record under id until expires for userID ("" = anonymous). With
	// createNew, it must refuse (ErrIDCollision) an id that is live. To rename the
	// session, return the new id; "" keeps id.
	Store(id, userID string, expires time.Time, record []byte, createNew bool) (newID string, err error)
	// Load finds id; found is false when it is missing or expired.
	Load(id string) (record []byte, found bool, err error)
	// Remove deletes id; a missing id is not an error.
	Remove(id string) error
}

// CacheUserRemover is implemented by a Cache that can remove every session of a user
// ("log out everywhere": Manager.ClearSessions, password changes). Without it those
// operations fail with ErrUnsupported.
type CacheUserRemover interface {
	RemoveUser(userID string) (removed uint64, err error)
}

// CacheRenewer is implemented by a Cache that loads and renews in one operation (to
// save a round trip). When the entry's expiry is before the target for its kind of
// session (user id empty or not) and that target is not the zero Time, the expiry
// becomes the target; the returned expires is the entry's expiry after that (the zero
// Time: the one in the record). An expired entry is not found and not renewed.
type CacheRenewer interface {
	LoadRenew(id string, renewUserTo, renewAnonymousTo time.Time) (record []byte, expires time.Time, found bool, err error)
}

// StoreMode says what a conditional store (CacheConditionalStorer) may replace.
type StoreMode uint32

const (
	// StoreUpsert inserts or overwrites.
	StoreUpsert StoreMode = 0
	// StoreCreateNew inserts only: a live entry is ErrIDCollision.
	StoreCreateNew StoreMode = C.TOTO_STORE_CREATE_NEW
	// StoreIfRevision replaces a live entry only if it holds the expected revision:
	// none is ErrSessionRevoked, another revision ErrConflict.
	StoreIfRevision StoreMode = C.TOTO_STORE_IF_REVISION
	// StoreIfExists replaces a live entry whatever its revision: none is
	// ErrSessionRevoked.
	StoreIfExists StoreMode = C.TOTO_STORE_IF_EXISTS
)

// CacheConditionalStorer is implemented by a Cache that checks and writes in one
// atomic step (the vtable's store_if). The library then calls StoreIf for every store
// instead of Store, and a save can never bring back a session removed by another
// process sharing the cache's storage, nor overwrite its newer save. Without it the
// library checks by itself (load, compare, Store) under a lock per id, which is
// atomic only among the goroutines of this process. StoreIf keeps revision with the
// entry (0 for entries written without one), applies mode (see StoreMode) against
// expectedRevision, refuses with ErrIDCollision, ErrSessionRevoked or ErrConflict
// while changing nothing, and may rename like Store. An expired entry counts as none.
type CacheConditionalStorer interface {
	StoreIf(id, userID string, expires time.Time, record []byte, mode StoreMode,
		expectedRevision, revision uint64) (newID string, err error)
}

// AccountStore is an account store implemented in Go, handed to the library with
// NewAccountStore. Property values are CBOR items, opaque to the store. Methods may be
// called concurrently.
type AccountStore interface {
	// Load returns the account's properties named in names (every property when names
	// is nil), leaving out the ones it does not have; found is false when the account
	// does not exist.
	Load(userID string, names []string) (props map[string][]byte, found bool, err error)
	// Save writes exactly these properties (insert or replace each), all or nothing;
	// ErrNotFound when the account does not exist.
	Save(userID string, props map[string][]byte) error
	// Create creates the account with these properties; ErrUserIDExists when it exists.
	Create(userID string, props map[string][]byte) error
}

// AccountRemover is implemented by an AccountStore that can delete accounts
// (StoreHandle.Remove); ErrNotFound when the account does not exist.
type AccountRemover interface {
	Remove(userID string) error
}

type goCache struct {
	impl        Cache
	userRemover CacheUserRemover
	renewer     CacheRenewer
	storer      CacheConditionalStorer
}

type goStore struct {
	impl    AccountStore
	remover AccountRemover
}

// NewCache hands a Go Cache to the library. The library keeps impl reachable until
// the last user of the cache (this handle, managers) is gone.
func NewCache(impl Cache) (*CacheHandle, error) {
	if impl == nil {
		return nil, &Error{Code: CodeNullArgument, Message: "NewCache: nil Cache"}
	}
	c := &goCache{impl: impl}
	c.userRemover, _ = impl.(CacheUserRemover)
	c.renewer, _ = impl.(CacheRenewer)
	c.storer, _ = impl.(CacheConditionalStorer)
	h := newRef(c)
	var out *C.toto_cache
	rc := C.toto_go_cache_new(C.uintptr_t(h), cbool(c.userRemover != nil), cbool(c.renewer != nil),
		cbool(c.storer != nil), &out)
	if err := check(rc, nil); err != nil {
		deleteRef(h) // not taken on failure
		return nil, err
	}
	live.backends.Add(1)
	return newCacheHandle(out, nil), nil
}

// NewAccountStore hands a Go AccountStore to the library. The library keeps impl
// reachable until the last user of the store (this handle, managers, accounts) is
// gone.
func NewAccountStore(impl AccountStore) (*StoreHandle, error) {
	if impl == nil {
		return nil, &Error{Code: CodeNullArgument, Message: "NewAccountStore: nil AccountStore"}
	}
	s := &goStore{impl: impl}
	s.remover, _ = impl.(AccountRemover)
	h := newRef(s)
	var out *C.toto_account_store
	rc := C.toto_go_account_store_new(C.uintptr_t(h), cbool(s.remover != nil), &out)
	if err := check(rc, nil); err != nil {
		deleteRef(h)
		return nil, err
	}
	live.backends.Add(1)
	return newStoreHandle(out), nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// callbackError reports err to the library: its message through
// toto_callback_set_error, and as the return code the code of a wrapped *Error (so
// ErrNotFound, ErrIDCollision, ErrUserIDExists keep their meaning) or
// CodeBackendFailed.
func callbackError(ctx *C.toto_callback_ctx, err error) C.uint32_t {
	code := CodeBackendFailed
	var te *Error
	if errors.As(err, &te) && te.Code != CodeOK {
		code = te.Code
	}
	msg := err.Error()
	C.toto_callback_set_error(ctx, cstr(msg), clen(msg))
	return C.uint32_t(code)
}

// recoverCallback is deferred by every callback: a panic becomes a failure code with
// the panic's message.
func recoverCallback(ctx *C.toto_callback_ctx, op string, rc *C.uint32_t) {
	if r := recover(); r != nil {
		msg := fmt.Sprintf("panic in Go %s: %v", op, r)
		C.toto_callback_set_error(ctx, cstr(msg), clen(msg))
		*rc = C.uint32_t(CodePanic)
	}
}
