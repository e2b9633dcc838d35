// Package server is the example Toto service: Toto's protocol from package totohttp
// (sessions, accounts, HMAC, batch, CORS, cookies) plus two app methods,
//
//	state.set {key, value}  stores value under key in the session (result true)
//	state.get {key}         result {"value": the stored value, or null}
//
// both authenticated (1004 "Not authorized" without a live session).
package server

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

// Config is the service's settings, usually from the environment (FromEnv).
type Config struct {
	RedisURL     string   // TOTO_REDIS_URL: Redis session cache instead of memory
	HMAC         bool     // on unless TOTO_HMAC=off
	Cookies      bool     // TOTO_COOKIES=on: toto-session-id cookie transport
	CookieDomain string   // TOTO_COOKIE_DOMAIN
	AllowOrigins []string // TOTO_ALLOW_ORIGIN, comma-separated (default *)
	// SessionTTL is TOTO_SESSION_TTL in seconds (0: Toto's 365 days); a short one lets
	// the conformance client see a session expire.
	SessionTTL time.Duration
}

// FromEnv reads the Config from getenv (os.Getenv).
func FromEnv(getenv func(string) string) Config {
	c := Config{
		RedisURL:     getenv("TOTO_REDIS_URL"),
		HMAC:         getenv("TOTO_HMAC") != "off",
		Cookies:      getenv("TOTO_COOKIES") == "on",
		CookieDomain: getenv("TOTO_COOKIE_DOMAIN"),
	}
	if o := getenv("TOTO_ALLOW_ORIGIN"); o != "" {
		c.AllowOrigins = strings.Split(o, ",")
	}
	if ttl, err := strconv.ParseFloat(getenv("TOTO_SESSION_TTL"), 64); err == nil && ttl > 0 {
		c.SessionTTL = time.Duration(ttl * float64(time.Second))
	}
	return c
}

// NewManager makes the manager: the memory session cache, or Redis at c.RedisURL,
// and the memory account store.
func NewManager(c Config, opts ...toto.Option) (*toto.Manager, error) {
	var cache *toto.CacheHandle
	var err error
	if c.RedisURL != "" {
		cache, err = toto.NewRedisCache(c.RedisURL, nil)
	} else {
		cache, err = toto.NewMemoryCache()
	}
	if err != nil {
		return nil, err
	}
	defer cache.Close()
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if c.SessionTTL > 0 {
		opts = append([]toto.Option{toto.WithSessionTTL(c.SessionTTL)}, opts...)
	}
	return toto.NewManager(cache, store, opts...)
}

// New is the service over mgr.
func New(mgr *toto.Manager, c Config) *totohttp.Service {
	opts := totohttp.ServiceOptions{Options: totohttp.Options{
		Cookies: c.Cookies, CookieDomain: c.CookieDomain, AllowOrigins: c.AllowOrigins}}
	if c.HMAC {
		opts.HMAC = totohttp.HMACRequired
	}
	svc := totohttp.NewService(mgr, opts)
	svc.HandleFunc("state.set", totohttp.Authenticated, func(call *totohttp.Call) (any, error) {
		value := call.Params["value"]
		if value == nil {
			value = json.RawMessage("null")
		}
		return true, call.Session().Set(call.String("key"), value)
	}, "key")
	svc.HandleFunc("state.get", totohttp.Authenticated, func(call *totohttp.Call) (any, error) {
		v, err := call.Session().GetJSON(call.String("key"))
		if errors.Is(err, toto.ErrNotFound) {
			v, err = []byte("null"), nil
		}
		return map[string]json.RawMessage{"value": v}, err
	}, "key")
	return svc
}
