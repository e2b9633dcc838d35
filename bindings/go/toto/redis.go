package toto

/*
#include <stdint.h>
#include "toto_session.h"
#include "shims.h"
*/
import "C"

import (
	"time"
)

// RedisOptions are the settings of a Redis session cache; the zero value means the
// library's defaults.
type RedisOptions struct {
	// KeyPrefix prefixes every key ("" = "toto:").
	KeyPrefix string
	// ConnectTimeout and IOTimeout bound connecting and each reply (0 = 2s; rounded
	// up to whole milliseconds).
	ConnectTimeout, IOTimeout time.Duration
	// PoolSize is how many idle connections are kept (0 = 8).
	PoolSize int
	// RawIDs keeps session ids as they are in keys instead of hashing them with
	// SHA-256 (the default).
	RawIDs bool
	// DownBackoff is how long every call fails fast with ErrBackendUnavailable after a
	// connection-level failure (refused, timed out, dropped) instead of each waiting
	// for its own timeouts (0 = 1s; rounded up to whole milliseconds). NoDownBackoff
	// turns it off.
	DownBackoff time.Duration
	// NoDownBackoff makes every call try Redis, however recently it failed.
	NoDownBackoff bool
	// TotoRead reads Python Toto 1.0.10's own sessions (session:<id>, pickled) when an
	// id is not in this library's layout, and moves them over. A pickle that cannot
	// be converted is ErrInvalidCBOR for that session alone.
	TotoRead bool
	// TotoKeepKey leaves Toto's session:<id> in place after TotoRead moved it (for a
	// Python service still reading it); by default it is deleted.
	TotoKeepKey bool
	// TotoWrite also writes every stored session as Toto's session:<id> pickle, so a
	// Python Toto service reads sessions made here. See docs/coming-from-toto.md.
	TotoWrite bool
}

func millis(d time.Duration, def C.uint32_t) C.uint32_t {
	if d <= 0 {
		return def
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	if ms > 1<<32-1 {
		ms = 1<<32 - 1
	}
	return C.uint32_t(ms)
}

// NewRedisCache makes a session cache in Redis at url
// (redis://[:password@]host:port[/db]), or on a Redis Cluster given by seed nodes
// (redis+cluster://[:password@]host:port[,host:port...]; the Toto* options are refused
// there, see docs/redis.md "Redis Cluster"); opts may be nil. Nothing is connected yet: a
// Redis that is down shows as ErrBackendUnavailable on the first operation (within
// the timeouts), and the same cache works again once Redis is back; after such a
// failure calls fail fast for DownBackoff. Expiry follows each session's absolute
// expiry on Redis's own clock. The cache is fork-safe: a connection opened by one
// process is never used by another.
func NewRedisCache(url string, opts *RedisOptions) (*CacheHandle, error) {
	var o C.toto_redis_options
	if err := check(C.toto_redis_options_default(&o), nil); err != nil {
		return nil, err
	}
	prefix := ""
	if opts != nil {
		prefix = opts.KeyPrefix
		o.connect_timeout_ms = millis(opts.ConnectTimeout, o.connect_timeout_ms)
		o.io_timeout_ms = millis(opts.IOTimeout, o.io_timeout_ms)
		if opts.PoolSize > 0 {
			o.pool_size = C.uint32_t(opts.PoolSize)
		}
		o.hash_ids = C.bool(!opts.RawIDs)
		o.down_backoff_ms = millis(opts.DownBackoff, o.down_backoff_ms)
		if opts.NoDownBackoff {
			o.down_backoff_ms = 0
		}
		o.toto_read = C.bool(opts.TotoRead)
		o.toto_keep_key = C.bool(opts.TotoKeepKey)
		o.toto_write = C.bool(opts.TotoWrite)
	}
	var out *C.toto_cache
	var e C.toto_error
	rc := C.toto_go_cache_new_redis(cstr(url), clen(url), &o, cstr(prefix), clen(prefix), &out, &e)
	if err := check(rc, &e); err != nil {
		return nil, err
	}
	return newCacheHandle(out, nil), nil
}

// RedisAccountStoreOptions are the settings of a Redis account store; the zero value
// means the library's defaults.
type RedisAccountStoreOptions struct {
	// KeyPrefix prefixes account keys: <KeyPrefix><user id> ("" = "account:", the
	// layout of Python Toto 1.0.10).
	KeyPrefix string
	// ConnectTimeout and IOTimeout bound connecting and each reply (0 = 2s).
	ConnectTimeout, IOTimeout time.Duration
	// PoolSize is how many idle connections are kept (0 = 8).
	PoolSize int
}

// NewRedisAccountStore makes an account store in Redis at url (redis://..., or
// redis+cluster://[:password@]host:port[,host:port...] for a Redis Cluster): one hash per account
// under account:<user id>, the password hash in the field "password" (Python Toto's
// layout: its accounts log in unchanged, and their $p5k2$ hashes are upgraded to
// Argon2id on login). Text properties are stored as they are; other values as a NUL
// byte and their CBOR. opts may be nil. Nothing is connected yet: a Redis that is down
// shows as ErrBackendUnavailable on the first operation.
func NewRedisAccountStore(url string, opts *RedisAccountStoreOptions) (*StoreHandle, error) {
	var o C.toto_redis_account_store_options
	if err := check(C.toto_redis_account_store_options_default(&o), nil); err != nil {
		return nil, err
	}
	prefix := ""
	if opts != nil {
		prefix = opts.KeyPrefix
		o.connect_timeout_ms = millis(opts.ConnectTimeout, o.connect_timeout_ms)
		o.io_timeout_ms = millis(opts.IOTimeout, o.io_timeout_ms)
		if opts.PoolSize > 0 {
			o.pool_size = C.uint32_t(opts.PoolSize)
		}
	}
	var out *C.toto_account_store
	var e C.toto_error
	rc := C.toto_go_account_store_new_redis(cstr(url), clen(url), &o, cstr(prefix), clen(prefix), &out, &e)
	if err := check(rc, &e); err != nil {
		return nil, err
	}
	return newStoreHandle(out), nil
}
