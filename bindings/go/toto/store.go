package toto

/*
#include "toto_session.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
)

// StoreHandle is an account store owned by the library: the built-in memory store
// (NewMemoryAccountStore) or a Go AccountStore (NewAccountStore). Safe for concurrent
// use; managers and accounts keep their own reference.
type StoreHandle struct {
	mu  sync.RWMutex
	ptr *C.toto_account_store
}

func newStoreHandle(p *C.toto_account_store) *StoreHandle {
	s := &StoreHandle{ptr: p}
	live.stores.Add(1)
	runtime.SetFinalizer(s, (*StoreHandle).Close)
	return s
}

// NewMemoryAccountStore makes the built-in in-memory account store.
func NewMemoryAccountStore() (*StoreHandle, error) {
	var out *C.toto_account_store
	if err := check(C.toto_account_store_new_memory(&out), nil); err != nil {
		return nil, err
	}
	return newStoreHandle(out), nil
}

// Close releases this handle (the store lives on while managers or accounts use it).
// Idempotent.
func (s *StoreHandle) Close() error {
	s.mu.Lock()
	p := s.ptr
	s.ptr = nil
	s.mu.Unlock()
	if p != nil {
		C.toto_account_store_free(p)
		live.stores.Add(-1)
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

func (s *StoreHandle) rlock() (*C.toto_account_store, error) {
	s.mu.RLock()
	if s.ptr == nil {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	return s.ptr, nil
}

func (s *StoreHandle) runlock() {
	s.mu.RUnlock()
	runtime.KeepAlive(s)
}

// Create creates an empty account for userID (lowercased); fill it through an Account.
// ErrInvalidUserID for "", ErrUserIDExists when it exists.
func (s *StoreHandle) Create(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.rlock()
	if err != nil {
		return err
	}
	defer s.runlock()
	var e C.toto_error
	return check(C.toto_account_store_create(p, cstr(userID), clen(userID), &e), &e)
}

// Remove deletes the account of userID. ErrInvalidCredentials when it does not exist,
// ErrUnsupported for a Go AccountStore without AccountRemover.
func (s *StoreHandle) Remove(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := s.rlock()
	if err != nil {
		return err
	}
	defer s.runlock()
	var e C.toto_error
	return check(C.toto_account_store_remove(p, cstr(userID), clen(userID), &e), &e)
}
