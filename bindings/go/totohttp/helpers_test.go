package totohttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// countingCache is a Go session cache that counts writes.
type countingCache struct {
	mu     sync.Mutex
	m      map[string]entry
	stores atomic.Int64
}

type entry struct {
	user    string
	expires time.Time
	rec     []byte
}

func (c *countingCache) Store(id, userID string, expires time.Time, record []byte, createNew bool) (string, error) {
	c.stores.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && createNew && e.expires.After(time.Now()) {
		return "", toto.ErrIDCollision
	}
	c.m[id] = entry{userID, expires, record}
	return "", nil
}

func (c *countingCache) Load(id string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || !e.expires.After(time.Now()) {
		return nil, false, nil
	}
	return e.rec, true, nil
}

func (c *countingCache) Remove(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
	return nil
}

func (c *countingCache) RemoveUser(userID string) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n uint64
	for id, e := range c.m {
		if e.user == userID {
			delete(c.m, id)
			n++
		}
	}
	return n, nil
}

// newManager is a manager over a counting Go cache and the memory store, with cheap
// password hashing and a renewal window short enough that retrieving a session does
// not write it back (so every counted write is a save).
func newManager(t testing.TB) (*toto.Manager, *countingCache) {
	t.Helper()
	cc := &countingCache{m: map[string]entry{}}
	cache, err := toto.NewCache(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mgr, err := toto.NewManager(cache, store, toto.WithPasswordCost(8, 1, 1),
		toto.WithSessionRenew(time.Second), toto.WithSessionTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgr.Close() })
	return mgr, cc
}

// login makes an account and a session with a key, as a client would hold them.
func login(t testing.TB, mgr *toto.Manager, user string) (id, key string) {
	t.Helper()
	if err := mgr.CreateAccount(context.Background(), user, "pw", nil); err != nil && !isExists(err) {
		t.Fatal(err)
	}
	s, err := mgr.Login(context.Background(), user, "pw")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key, _ = s.Key()
	return s.ID(), key
}

func isExists(err error) bool { return toto.CodeOf(err) == toto.CodeUserIDExists }

func hmacOf(t testing.TB, key string, msg []byte) string {
	t.Helper()
	mac, err := toto.HMAC([]byte(key), msg)
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// reply is a decoded answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code  int    `json:"code"`
		Value string `json:"value"`
	} `json:"error"`
	Batch   map[string]json.RawMessage `json:"batch"`
	Session *struct {
		SessionID string  `json:"session_id"`
		Expires   float64 `json:"expires"`
		UserID    string  `json:"user_id"`
	} `json:"session"`
}

// do sends a request to h (in process); with id it names the session and, with key,
// signs METHOD + URI + BODY.
func do(t testing.TB, h http.Handler, method, uri string, body []byte, id, key string, hdr ...string) *reply {
	t.Helper()
	req := httptest.NewRequest(method, uri, bytes.NewReader(body))
	if body != nil && method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if id != "" {
		req.Header.Set("x-toto-session-id", id)
	}
	if key != "" {
		req.Header.Set("x-toto-hmac", hmacOf(t, key, append([]byte(method+uri), body...)))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return decode(t, rec.Result())
}

func decode(t testing.TB, resp *http.Response) *reply {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := &reply{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if len(body) > 0 && body[0] == '{' {
		if err := json.Unmarshal(body, r); err != nil {
			t.Fatalf("answer %q: %v", body, err)
		}
	}
	return r
}

func call(method string, params any) []byte {
	b, _ := json.Marshal(map[string]any{"method": method, "parameters": params})
	return b
}
