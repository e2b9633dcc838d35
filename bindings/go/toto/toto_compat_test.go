package toto

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The Redis data of a Python Toto 1.0.10 deployment, made by Toto's own code
// (tests/toto_fixtures/fixtures.json from make_fixtures.py), read through the Redis
// cache's Toto compatibility and the Redis account store.

type totoFixtures struct {
	Redis []struct {
		Type      string            `json:"type"`
		Key       string            `json:"key"`
		ValueB64  string            `json:"value_b64"`
		SetexTTL  int               `json:"setex_ttl"`
		FieldsB64 map[string]string `json:"fields_b64"`
	} `json:"redis"`
	Accounts []struct {
		UserID   string            `json:"user_id"`
		Password string            `json:"password"`
		Fields   map[string]string `json:"fields"`
	} `json:"accounts"`
	Sessions []struct {
		SessionID string                     `json:"session_id"`
		UserID    string                     `json:"user_id"`
		Key       *string                    `json:"key"`
		State     map[string]json.RawMessage `json:"state"`
		Request   *struct {
			Method, URI, Body, HMAC string
		} `json:"request"`
	} `json:"sessions"`
	BadSessions []struct {
		SessionID string `json:"session_id"`
	} `json:"bad_sessions"`
}

// respConn is just enough of a Redis client to load fixtures and ask questions.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t *testing.T, url string) *respConn {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "redis://"), "/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &respConn{c: c, r: bufio.NewReader(c)}
}

// do sends a command and returns the reply's first line (and a bulk's body).
func (r *respConn) do(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := r.c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, err := r.r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		var n int
		fmt.Sscanf(line[1:], "%d", &n)
		body := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, body); err != nil {
			t.Fatal(err)
		}
		return string(body[:n])
	}
	return line
}

func loadTotoFixtures(t *testing.T, url string) *totoFixtures {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "tests", "toto_fixtures", "fixtures.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx totoFixtures
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	r := dialRESP(t, url)
	dec := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, k := range fx.Redis {
		switch k.Type {
		case "string":
			r.do(t, "SETEX", k.Key, fmt.Sprint(k.SetexTTL), dec(k.ValueB64))
		case "hash":
			for f, v := range k.FieldsB64 {
				r.do(t, "HSET", k.Key, f, dec(v))
			}
		}
	}
	return &fx
}

func TestTotoCompatFixtures(t *testing.T) {
	url := startRedis(t)
	fx := loadTotoFixtures(t, url)
	cache := must(NewRedisCache(url, &RedisOptions{TotoRead: true, TotoKeepKey: true}))
	defer cache.Close()
	store := must(NewRedisAccountStore(url, &RedisAccountStoreOptions{PoolSize: 2}))
	defer store.Close()
	m := must(NewManager(cache, store, cheap))
	defer m.Close()
	r := dialRESP(t, url)

	for _, fs := range fx.Sessions {
		s, err := m.RetrieveSession(bg, fs.SessionID)
		if err != nil {
			t.Fatalf("%s: %v", fs.SessionID, err)
		}
		if s.UserID() != fs.UserID {
			t.Errorf("user %q, want %q", s.UserID(), fs.UserID)
		}
		key, ok := s.Key()
		if (fs.Key != nil) != ok || (ok && key != *fs.Key) {
			t.Errorf("key %q %v, want %v", key, ok, fs.Key)
		}
		if len(s.Keys()) != len(fs.State) {
			t.Errorf("state keys %v, want %d", s.Keys(), len(fs.State))
		}
		for name, want := range fs.State {
			got, err := s.GetJSON(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var g, w any
			_ = json.Unmarshal(got, &g)
			_ = json.Unmarshal(want, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("state %s = %s, want %s", name, got, want)
			}
		}
		s.Close()
		if fs.Request != nil {
			q := fs.Request
			v, err := m.VerifyRequest(bg, fs.SessionID, q.HMAC, q.Method, q.URI, []byte(q.Body))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			v.Close()
			_, err = m.VerifyRequest(bg, fs.SessionID, q.HMAC, q.Method, q.URI, []byte("tampered"))
			wantErr(t, err, ErrInvalidHMAC)
		}
	}
	// Kept for Python (TotoKeepKey); logout removes both copies.
	alice := fx.Sessions[0].SessionID
	if got := r.do(t, "EXISTS", "session:"+alice); got != ":1" {
		t.Errorf("Toto key kept: %s", got)
	}
	if err := m.RemoveSession(bg, alice); err != nil {
		t.Fatal(err)
	}
	if got := r.do(t, "EXISTS", "session:"+alice); got != ":0" {
		t.Errorf("Toto key removed at logout: %s", got)
	}
	_, err := m.RetrieveSession(bg, alice)
	wantErr(t, err, ErrInvalidSessionID)

	_, err = m.RetrieveSession(bg, fx.BadSessions[0].SessionID)
	wantErr(t, err, ErrInvalidCBOR)

	for _, a := range fx.Accounts {
		_, err := m.Login(bg, a.UserID, "wrong")
		wantErr(t, err, ErrInvalidCredentials)
		s := must(m.Login(bg, strings.ToUpper(a.UserID), a.Password))
		s.Close()
		hash := r.do(t, "HGET", "account:"+a.UserID, "password")
		if !strings.HasPrefix(hash, "$argon2id$") {
			t.Errorf("%s: password not upgraded: %.12s", a.UserID, hash)
		}
		acct := must(m.Account(a.UserID))
		for f, want := range a.Fields {
			var got string
			if err := acct.Get(bg, f, &got); err != nil || got != want {
				t.Errorf("%s.%s = %q (%v), want %q", a.UserID, f, got, err, want)
			}
		}
		acct.Close()
	}
	wantErr(t, m.CreateAccount(bg, "Alice", "x", nil), ErrUserIDExists)
}

func TestTotoWriteAndRedisAccountStore(t *testing.T) {
	url := startRedis(t)
	cache := must(NewRedisCache(url, &RedisOptions{TotoRead: true, TotoWrite: true}))
	defer cache.Close()
	store := must(NewRedisAccountStore(url, &RedisAccountStoreOptions{KeyPrefix: "acct:"}))
	defer store.Close()
	m := must(NewManager(cache, store, cheap))
	defer m.Close()
	r := dialRESP(t, url)
	if err := m.CreateAccount(bg, "Go", "pw", map[string]any{"n": 3, "email": "go@x"}); err != nil {
		t.Fatal(err)
	}
	if got := r.do(t, "HGET", "acct:go", "email"); got != "go@x" {
		t.Errorf("text stored as Toto does: %q", got)
	}
	s := must(m.Login(bg, "go", "pw"))
	defer s.Close()
	if got := r.do(t, "EXISTS", "session:"+s.ID()); got != ":1" {
		t.Errorf("Toto's copy written: %s", got)
	}
	n, err := m.ClearSessions(bg, "go")
	if err != nil || n != 1 {
		t.Fatalf("clear: %d %v", n, err)
	}
	if got := r.do(t, "EXISTS", "session:"+s.ID()); got != ":0" {
		t.Errorf("Toto's copy removed: %s", got)
	}
	wantErr(t, store.Create(bg, "go"), ErrUserIDExists)
	_, err = NewRedisAccountStore("not a url", nil)
	wantErr(t, err, ErrInvalidArgument)
	down := must(NewRedisAccountStore("redis://127.0.0.1:1", nil))
	defer down.Close()
	wantErr(t, down.Create(bg, "x"), ErrBackendUnavailable)
}
