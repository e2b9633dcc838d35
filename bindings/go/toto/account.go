package toto

/*
#include <stdlib.h>
#include "toto_session.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// Account is one user's properties, loaded lazily from an account store: a getter
// loads the property on first access; setters only mark it modified until Save. Like
// Session it is guarded by a mutex. Release it with Close (a finalizer frees it
// otherwise); unsaved changes are dropped.
//
// Methods that may reach the store take a context: it is checked before the call, but
// the call itself cannot be interrupted.
type Account struct {
	mu  sync.Mutex
	ptr *C.toto_account
}

func newAccount(p *C.toto_account) *Account {
	a := &Account{ptr: p}
	live.accounts.Add(1)
	runtime.SetFinalizer(a, (*Account).Close)
	return a
}

// NewAccount makes an account handle for userID (lowercased) on store. Nothing is
// loaded and the account's existence is not checked until a property is read.
func NewAccount(store *StoreHandle, userID string) (*Account, error) {
	sp, err := store.rlock()
	if err != nil {
		return nil, err
	}
	defer store.runlock()
	var out *C.toto_account
	if err := check(C.toto_account_new(sp, cstr(userID), clen(userID), &out), nil); err != nil {
		return nil, err
	}
	return newAccount(out), nil
}

// Close releases the account handle. Idempotent; returns nil.
func (a *Account) Close() error {
	a.mu.Lock()
	p := a.ptr
	a.ptr = nil
	a.mu.Unlock()
	if p != nil {
		C.toto_account_free(p)
		live.accounts.Add(-1)
		runtime.SetFinalizer(a, nil)
	}
	return nil
}

func (a *Account) lock(ctx context.Context) (*C.toto_account, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	a.mu.Lock()
	if a.ptr == nil {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	return a.ptr, nil
}

func (a *Account) unlock() {
	a.mu.Unlock()
	runtime.KeepAlive(a)
}

// UserID is the (lowercased) user id ("" once closed).
func (a *Account) UserID() string {
	p, err := a.lock(nil)
	if err != nil {
		return ""
	}
	defer a.unlock()
	var ptr *C.char
	var n C.size_t
	if check(C.toto_account_user_id(p, &ptr, &n), nil) != nil {
		return ""
	}
	return goStringN(ptr, n)
}

// Load loads the named properties in one store call (those not loaded or modified
// yet).
func (a *Account) Load(ctx context.Context, names ...string) error {
	p, err := a.lock(ctx)
	if err != nil {
		return err
	}
	defer a.unlock()
	if len(names) == 0 {
		var e C.toto_error
		return check(C.toto_account_load(p, nil, 0, &e), &e)
	}
	// The toto_str array points at the names, so it must not be Go memory holding Go
	// pointers: build it, and a copy of the names, in C memory.
	total := 0
	for _, n := range names {
		total += len(n)
	}
	strs := (*C.toto_str)(C.malloc(C.size_t(len(names)) * C.size_t(unsafe.Sizeof(C.toto_str{}))))
	buf := (*C.char)(C.malloc(C.size_t(total + 1)))
	defer C.free(unsafe.Pointer(strs))
	defer C.free(unsafe.Pointer(buf))
	views := unsafe.Slice(strs, len(names))
	bytes := unsafe.Slice((*byte)(unsafe.Pointer(buf)), total+1)
	off := 0
	for i, n := range names {
		copy(bytes[off:], n)
		views[i] = C.toto_str{ptr: (*C.char)(unsafe.Pointer(&bytes[off])), len: C.size_t(len(n))}
		off += len(n)
	}
	var e C.toto_error
	return check(C.toto_account_load(p, strs, C.size_t(len(names)), &e), &e)
}

// LoadAll loads every property in one store call (modified ones keep their new
// values).
func (a *Account) LoadAll(ctx context.Context) error {
	p, err := a.lock(ctx)
	if err != nil {
		return err
	}
	defer a.unlock()
	var e C.toto_error
	return check(C.toto_account_load_all(p, &e), &e)
}

// Save writes the modified properties, and only those, in one store call. On failure
// every change is kept and Save can be retried. ErrInvalidCredentials when the account
// does not exist.
func (a *Account) Save(ctx context.Context) error {
	p, err := a.lock(ctx)
	if err != nil {
		return err
	}
	defer a.unlock()
	var e C.toto_error
	return check(C.toto_account_save(p, &e), &e)
}

// IsModified tells whether key was set since the last successful Save.
func (a *Account) IsModified(key string) bool {
	p, err := a.lock(nil)
	if err != nil {
		return false
	}
	defer a.unlock()
	var out C.bool
	return check(C.toto_account_is_modified(p, cstr(key), clen(key), &out), nil) == nil && bool(out)
}

// ModifiedCount is the number of properties set since the last successful Save.
func (a *Account) ModifiedCount() int {
	p, err := a.lock(nil)
	if err != nil {
		return 0
	}
	defer a.unlock()
	var out C.size_t
	if check(C.toto_account_modified_count(p, &out), nil) != nil {
		return 0
	}
	return int(out)
}

// Get reads property key into dst (loading it if needed); see Session.Get for the
// destinations. ErrNotFound for a property the account does not have,
// ErrInvalidCredentials when the account does not exist.
func (a *Account) Get(ctx context.Context, key string, dst any) error {
	p, err := a.lock(ctx)
	if err != nil {
		return err
	}
	defer a.unlock()
	return valueIO{a: p}.get(key, dst)
}

// Set sets property key (see Session.Set for the accepted values); nothing is written
// until Save. The "password" property is refused (ErrInvalidArgument): see
// SetPasswordHash.
func (a *Account) Set(key string, v any) error {
	p, err := a.lock(nil)
	if err != nil {
		return err
	}
	defer a.unlock()
	return valueIO{a: p}.set(key, v)
}

// Type is the type of property key (loading it if needed).
func (a *Account) Type(ctx context.Context, key string) (ValueType, error) {
	p, err := a.lock(ctx)
	if err != nil {
		return 0, err
	}
	defer a.unlock()
	return valueIO{a: p}.getType(key)
}

// GetCBOR reads property key as one CBOR item (loading it if needed).
func (a *Account) GetCBOR(ctx context.Context, key string) ([]byte, error) {
	p, err := a.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer a.unlock()
	return valueIO{a: p}.getCBOR(key)
}

// SetCBOR sets property key from one CBOR item.
func (a *Account) SetCBOR(key string, cbor []byte) error {
	p, err := a.lock(nil)
	if err != nil {
		return err
	}
	defer a.unlock()
	return valueIO{a: p}.setCBOR(key, cbor)
}

// SetPasswordHash sets the account's password hash as it is, to migrate accounts from
// another system; nothing is written until Save. The hash must be an Argon2 PHC
// string or a Toto $p5k2$ hash (ErrInvalidArgument otherwise, ErrTooLarge over 512
// bytes); a legacy hash is upgraded to Argon2id at the next successful login. The
// generic setters refuse the "password" property.
func (a *Account) SetPasswordHash(hash string) error {
	p, err := a.lock(nil)
	if err != nil {
		return err
	}
	defer a.unlock()
	return check(C.toto_account_set_password_hash(p, cstr(hash), clen(hash)), nil)
}

// GetJSON reads property key as JSON text (loading it if needed).
func (a *Account) GetJSON(ctx context.Context, key string) ([]byte, error) {
	p, err := a.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer a.unlock()
	return valueIO{a: p}.getJSON(key)
}

// SetJSON sets property key from JSON text.
func (a *Account) SetJSON(key string, json []byte) error {
	p, err := a.lock(nil)
	if err != nil {
		return err
	}
	defer a.unlock()
	return valueIO{a: p}.setJSON(key, json)
}
