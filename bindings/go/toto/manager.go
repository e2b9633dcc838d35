package toto

/*
#include <stdint.h>
#include <stdlib.h>
#include "toto_session.h"
#include "shims.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Manager is Toto's session lifecycle ("DBConnection"): TTLs and renewal, accounts,
// login and logout, request verification. Safe for concurrent use by any number of
// goroutines. Sessions and accounts it returns stay valid after Close.
//
// Methods that may reach the cache or the account store take a context. It is checked
// before the call; the C call itself cannot be interrupted, so a slow Go backend should
// apply its own timeouts.
type Manager struct {
	mu     sync.RWMutex
	ptr    *C.toto_manager
	clocks []*clockRef
}

type managerConfig struct {
	opts  C.toto_manager_options
	clock func() time.Time
}

// Option changes a Manager setting.
type Option func(*managerConfig)

func seconds(d time.Duration) C.double { return C.double(d.Seconds()) }

// WithSessionTTL sets the lifetime of a user session (default 365 days; > 0).
func WithSessionTTL(d time.Duration) Option {
	return func(c *managerConfig) { c.opts.session_ttl = seconds(d) }
}

// WithAnonSessionTTL sets the lifetime of an anonymous session (default 1 day; 0 means
// the session TTL).
func WithAnonSessionTTL(d time.Duration) Option {
	return func(c *managerConfig) { c.opts.anon_session_ttl = seconds(d) }
}

// WithSessionRenew sets the renewal window of user sessions (0, the default, means the
// session TTL): on retrieve, an expiry before now + window becomes now + window.
func WithSessionRenew(d time.Duration) Option {
	return func(c *managerConfig) { c.opts.session_renew = seconds(d) }
}

// WithAnonSessionRenew sets the renewal window of anonymous sessions (0: their TTL).
func WithAnonSessionRenew(d time.Duration) Option {
	return func(c *managerConfig) { c.opts.anon_session_renew = seconds(d) }
}

// WithPasswordCost sets the Argon2id costs of new password hashes (default 19456 KiB,
// 2 passes, 1 lane). Tests may use the minimum (8*parallelism KiB, 1, 1).
func WithPasswordCost(memoryKiB, iterations, parallelism uint32) Option {
	return func(c *managerConfig) {
		c.opts.password_memory_kib = C.uint32_t(memoryKiB)
		c.opts.password_iterations = C.uint32_t(iterations)
		c.opts.password_parallelism = C.uint32_t(parallelism)
	}
}

// WithLastWriterWins turns conflict detection off: a save overwrites whatever another
// request saved since the session was loaded, as in Toto. The default detects
// conflicts (ErrConflict; UpdateSession retries), so two requests changing one session
// at once cannot silently lose one's change. A removed session stays removed either
// way (ErrSessionRevoked).
func WithLastWriterWins() Option {
	return func(c *managerConfig) { c.opts.save_policy = C.TOTO_SAVE_LAST_WRITER_WINS }
}

// WithMaxSessionsPerUser caps the live sessions one user may have: a login beyond the
// cap first removes that user's sessions that expire soonest. 0 (the default) is no
// cap, as Toto. It needs a cache that can trim a user's sessions (the memory and Redis
// caches); with any other, a user's login fails with ErrUnsupported.
func WithMaxSessionsPerUser(n uint32) Option {
	return func(c *managerConfig) { c.opts.max_sessions_per_user = C.uint32_t(n) }
}

// WithRenewGranularity sets how far a session's expiry may lag its renewal target
// before a retrieve moves it (and so writes), as a fraction from 0 to 1 of the renewal
// window. The default 0.01 makes a retrieve usually a pure read while expiry still
// slides to within 1 % of the window; 0 renews on every retrieve, as Toto. A value
// outside 0 to 1 makes NewManager fail with ErrInvalidArgument.
func WithRenewGranularity(fraction float64) Option {
	return func(c *managerConfig) { c.opts.renew_granularity = C.double(fraction) }
}

// WithClock makes the manager read the time from clock instead of the wall clock (for
// tests; give the same clock to NewMemoryCacheWithClock). It is called from any
// goroutine and must be safe for concurrent use; if it panics the wall clock is used.
func WithClock(clock func() time.Time) Option {
	return func(c *managerConfig) { c.clock = clock }
}

// NewManager makes a manager over a cache and an account store (it keeps its own
// references to both).
func NewManager(cache *CacheHandle, store *StoreHandle, options ...Option) (*Manager, error) {
	var cfg managerConfig
	if err := check(C.toto_manager_options_default(&cfg.opts), nil); err != nil {
		return nil, err
	}
	for _, o := range options {
		o(&cfg)
	}
	cp, err := cache.rlock()
	if err != nil {
		return nil, err
	}
	defer cache.runlock()
	sp, err := store.rlock()
	if err != nil {
		return nil, err
	}
	defer store.runlock()

	m := &Manager{}
	var clockHandle C.uintptr_t
	if cfg.clock != nil {
		ref := newClockRef(cfg.clock)
		m.clocks = append(m.clocks, ref)
		clockHandle = C.uintptr_t(ref.h)
	}
	var out *C.toto_manager
	var e C.toto_error
	if err := check(C.toto_go_manager_new(cp, sp, &cfg.opts, clockHandle, &out, &e), &e); err != nil {
		for _, r := range m.clocks {
			r.release()
		}
		return nil, err
	}
	// The native cache may call its Go clock for as long as this manager holds it.
	if cache.clock != nil {
		cache.clock.retain()
		m.clocks = append(m.clocks, cache.clock)
	}
	m.ptr = out
	live.managers.Add(1)
	runtime.SetFinalizer(m, (*Manager).Close)
	return m, nil
}

// Close releases the manager. Idempotent; waits for calls in progress. It also frees
// the native handle of the last closed Session if it is still parked (see
// closedSession), so a process that closes its managers before it exits leaves no
// session memory behind for a leak checker.
func (m *Manager) Close() error {
	m.mu.Lock()
	p := m.ptr
	m.ptr = nil
	m.mu.Unlock()
	if p != nil {
		freeParked()
		C.toto_manager_free(p)
		for _, r := range m.clocks {
			r.release()
		}
		m.clocks = nil
		live.managers.Add(-1)
		runtime.SetFinalizer(m, nil)
	}
	return nil
}

func (m *Manager) begin(ctx context.Context) (*C.toto_manager, error) {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	m.mu.RLock()
	if m.ptr == nil {
		m.mu.RUnlock()
		return nil, ErrClosed
	}
	return m.ptr, nil
}

func (m *Manager) end() {
	m.mu.RUnlock()
	runtime.KeepAlive(m)
}

// CreateSession creates and stores a session for userID (lowercased; "" = anonymous,
// with the anonymous TTL); withKey gives it a fresh HMAC key as at login.
func (m *Manager) CreateSession(ctx context.Context, userID string, withKey bool) (*Session, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer m.end()
	var out *C.toto_session
	var e C.toto_error
	if err := check(C.toto_manager_create_session(p, cstr(userID), clen(userID), C.bool(withKey), &out, &e), &e); err != nil {
		return nil, err
	}
	return newSession(out), nil
}

// RetrieveSession is Toto's retrieve_session: the live session id, renewed by Toto's
// rule. ErrInvalidSessionID (1007) for an unknown, expired or malformed id.
func (m *Manager) RetrieveSession(ctx context.Context, id string) (*Session, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	r := C.toto_go_manager_retrieve_session(takeClosed(), mptr(p), cstr(id), clen(id))
	m.end()
	runtime.KeepAlive(id) // callbacks may have been handed these very bytes
	return sessionOut(r)
}

func mptr(p *C.toto_manager) C.uintptr_t { return C.uintptr_t(uintptr(unsafe.Pointer(p))) }

// sessionOut turns a toto_go_session_out into a Session or an error (freeing the C
// copy of the details).
func sessionOut(r C.toto_go_session_out) (*Session, error) {
	if r.rc == C.TOTO_RESULT_OK {
		return newSession(r.s), nil
	}
	err := check(r.rc, r.err)
	C.free(unsafe.Pointer(r.err))
	return nil, err
}

// withSession runs a manager call that takes a session.
func (m *Manager) withSession(ctx context.Context, s *Session, call func(*C.toto_manager, *C.toto_session, *C.toto_error) C.toto_result) error {
	p, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.end()
	sp, err := s.lock()
	if err != nil {
		return err
	}
	defer s.unlock()
	var e C.toto_error
	return check(call(p, sp, &e), &e)
}

// SaveSession writes s if it is dirty (otherwise nothing is written). On failure s
// keeps its changes and stays dirty.
//
// A session retrieved from the cache is saved only over its stored record:
// ErrSessionRevoked when that is gone (logout, rotation, ClearSessions, a password
// change, expiry; nothing is brought back), and, unless the manager was made
// WithLastWriterWins, ErrConflict when another handle saved it since s was loaded
// (nothing written; UpdateSession retries for you).
func (m *Manager) SaveSession(ctx context.Context, s *Session) error {
	return m.withSession(ctx, s, func(p *C.toto_manager, sp *C.toto_session, e *C.toto_error) C.toto_result {
		return C.toto_manager_save_session(p, sp, e)
	})
}

// FinishResponse ends a request in one call, as an HTTP layer does: saves s if it
// changed (as SaveSession), then returns the response x-toto-hmac for body (as
// Session.SignResponse), or "" when s has no key (the answer goes unsigned). When the
// save fails nothing is signed and s keeps its changes. One call into the library
// where IsDirty, SaveSession and SignResponse take three.
func (m *Manager) FinishResponse(ctx context.Context, s *Session, body []byte) (string, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return "", err
	}
	sp := s.acquire()
	if sp == nil {
		m.end()
		return "", ErrClosed
	}
	r := C.toto_go_manager_finish_response(mptr(p), handle(sp), cbytes(body), clen(body))
	s.mu.Unlock()
	m.end()
	runtime.KeepAlive(body)
	if r.rc != C.TOTO_RESULT_OK {
		err := check(r.rc, r.err)
		C.free(unsafe.Pointer(r.err))
		return "", err
	}
	return cString(r.mac[:]), nil
}

// DefaultUpdateAttempts is how many times UpdateSession tries before it gives up with
// ErrConflict.
const DefaultUpdateAttempts = 16

// UpdateSession retrieves session id, calls change on it and saves it; when the save
// is ErrConflict (another request saved the session in between) it starts again with
// fresh state, up to DefaultUpdateAttempts times in all. change may run more than once
// and must only change the session (an error from it ends the loop, nothing saved,
// and is returned). ErrInvalidSessionID: the session is missing or expired;
// ErrSessionRevoked: it was removed while updating; ErrConflict: still conflicting
// after the last attempt. The context is checked before every attempt.
func (m *Manager) UpdateSession(ctx context.Context, id string, change func(*Session) error) error {
	var err error
	for attempt := 0; attempt < DefaultUpdateAttempts; attempt++ {
		var s *Session
		if s, err = m.RetrieveSession(ctx, id); err != nil {
			return err
		}
		err = change(s)
		if err == nil {
			err = m.SaveSession(ctx, s)
		}
		s.Close()
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
	return err
}

// RefreshSession replaces s's contents with what the cache holds now
// (ErrInvalidSessionID when it is gone).
func (m *Manager) RefreshSession(ctx context.Context, s *Session) error {
	return m.withSession(ctx, s, func(p *C.toto_manager, sp *C.toto_session, e *C.toto_error) C.toto_result {
		return C.toto_manager_refresh_session(p, sp, e)
	})
}

// RotateSession moves s to a fresh id (session-fixation protection).
func (m *Manager) RotateSession(ctx context.Context, s *Session) error {
	return m.withSession(ctx, s, func(p *C.toto_manager, sp *C.toto_session, e *C.toto_error) C.toto_result {
		return C.toto_manager_rotate_session(p, sp, e)
	})
}

// RemoveSession removes session id (logout); a missing id is not an error.
func (m *Manager) RemoveSession(ctx context.Context, id string) error {
	p, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.end()
	var e C.toto_error
	return check(C.toto_manager_remove_session(p, cstr(id), clen(id), &e), &e)
}

// ClearSessions removes every session of userID ("log out everywhere") and says how
// many there were.
func (m *Manager) ClearSessions(ctx context.Context, userID string) (uint64, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer m.end()
	var n C.uint64_t
	var e C.toto_error
	if err := check(C.toto_manager_clear_sessions(p, cstr(userID), clen(userID), &n, &e), &e); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// CreateAccount is Toto's create_account: stores the account with a hash of password
// and, when values is not nil, its properties: values must encode (with
// encoding/json; a json.RawMessage or []byte is used as it is) to a JSON object, e.g.
// map[string]any{"email": "a@example.com"}; a nil map means none.
// ErrInvalidUserID (1010) for "", ErrUserIDExists (1006) for a taken id.
func (m *Manager) CreateAccount(ctx context.Context, userID, password string, values any) error {
	var js []byte
	switch v := values.(type) {
	case nil:
	case json.RawMessage:
		js = v
	case []byte:
		js = v
	default:
		var err error
		if js, err = json.Marshal(v); err != nil {
			return &Error{Code: CodeInvalidJSON, Message: err.Error()}
		}
	}
	if string(js) == "null" { // a nil map or pointer: no values
		js = nil
	} else if values != nil && len(js) == 0 {
		return &Error{Code: CodeInvalidJSON, Message: "account values: empty JSON"}
	}
	p, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.end()
	var e C.toto_error
	return check(C.toto_manager_create_account(p, cstr(userID), clen(userID), cstr(password), clen(password),
		cbytesChar(js), clen(js), &e), &e)
}

// Login is Toto's login: checks the password and creates a session with a fresh HMAC
// key (give its ID, Expires and Key to the client). ErrInvalidCredentials (1005) for an
// unknown user or a wrong password alike.
func (m *Manager) Login(ctx context.Context, userID, password string) (*Session, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer m.end()
	var out *C.toto_session
	var e C.toto_error
	if err := check(C.toto_manager_login(p, cstr(userID), clen(userID), cstr(password), clen(password), &out, &e), &e); err != nil {
		return nil, err
	}
	return newSession(out), nil
}

// ChangePassword is Toto's change_password. Every session of the user is removed; when
// current is not nil and belongs to the user it is stored again under a fresh id so
// the caller stays logged in.
func (m *Manager) ChangePassword(ctx context.Context, userID, oldPassword, newPassword string, current *Session) error {
	p, err := m.begin(ctx)
	if err != nil {
		return err
	}
	defer m.end()
	var sp *C.toto_session
	if current != nil {
		if sp, err = current.lock(); err != nil {
			return err
		}
		defer current.unlock()
	}
	var e C.toto_error
	return check(C.toto_manager_change_password(p, cstr(userID), clen(userID), cstr(oldPassword), clen(oldPassword),
		cstr(newPassword), clen(newPassword), sp, &e), &e)
}

// GeneratePassword is Toto's generate_password: sets a random 10-character password,
// removes every session of the user, and returns the password.
func (m *Manager) GeneratePassword(ctx context.Context, userID string) (string, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return "", err
	}
	defer m.end()
	var buf [C.TOTO_GENERATED_PASSWORD_BUFFER_LEN]C.char
	var e C.toto_error
	if err := check(C.toto_manager_generate_password(p, cstr(userID), clen(userID), &buf[0], C.size_t(len(buf)), &e), &e); err != nil {
		return "", err
	}
	return cString(buf[:]), nil
}

// Account is an account handle for userID on the manager's store (nothing loaded
// yet). ErrInvalidUserID (1010) for "".
func (m *Manager) Account(userID string) (*Account, error) {
	p, err := m.begin(nil)
	if err != nil {
		return nil, err
	}
	defer m.end()
	var out *C.toto_account
	if err := check(C.toto_manager_account(p, cstr(userID), clen(userID), &out), nil); err != nil {
		return nil, err
	}
	return newAccount(out), nil
}

// SessionAccount is the account of a session's user (Toto's get_account);
// ErrNotAuthorized (1004) for an anonymous session.
func (m *Manager) SessionAccount(s *Session) (*Account, error) {
	p, err := m.begin(nil)
	if err != nil {
		return nil, err
	}
	defer m.end()
	sp, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer s.unlock()
	var out *C.toto_account
	if err := check(C.toto_manager_session_account(p, sp, &out), nil); err != nil {
		return nil, err
	}
	return newAccount(out), nil
}

// VerifyRequest checks a Toto request in one call: retrieves session sessionID (the
// x-toto-session-id header), verifies mac (the x-toto-hmac header) over METHOD + URI +
// BODY in constant time, then renews the session and returns it (answer with it and
// sign the response with Session.SignResponse). ErrInvalidSessionID (1007) for an
// unknown or expired session, ErrInvalidHMAC (1008) for a wrong mac or a session
// without a key.
func (m *Manager) VerifyRequest(ctx context.Context, sessionID, mac, method, uri string, body []byte) (*Session, error) {
	p, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	r := C.toto_go_manager_verify_request(takeClosed(), mptr(p), cstr(sessionID), clen(sessionID), cstr(mac), clen(mac),
		cstr(method), clen(method), cstr(uri), clen(uri), cbytes(body), clen(body))
	m.end()
	runtime.KeepAlive(sessionID)
	runtime.KeepAlive(body)
	return sessionOut(r)
}
