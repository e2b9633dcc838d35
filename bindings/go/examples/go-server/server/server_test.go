package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

type client struct {
	t   *testing.T
	url string
	sid string
	key string
	// fatalf stops the caller; outside the test goroutine it must not be t.Fatalf.
	fatalf func(format string, args ...any)
}

func (c *client) fatal(format string, args ...any) {
	c.t.Helper()
	if c.fatalf != nil {
		c.fatalf(format, args...)
	}
	c.t.Fatalf(format, args...)
}

type answer struct {
	Result  json.RawMessage `json:"result"`
	Error   *errorJSON      `json:"error"`
	Session *sessionJSON    `json:"session"`
	raw     []byte
	mac     string
}

// call POSTs a method call; with a session it sends the id and signs the request
// (tamper changes the body after signing). Signed answers are verified.
func (c *client) call(method string, params any, tamper bool) answer {
	c.t.Helper()
	body, err := json.Marshal(map[string]any{"method": method, "parameters": params})
	if err != nil {
		c.fatal("%v", err)
	}
	uri := "/api?v=1"
	req, err := http.NewRequest(http.MethodPost, c.url+uri, bytes.NewReader(body))
	if err != nil {
		c.fatal("%v", err)
	}
	if c.sid != "" {
		req.Header.Set(HeaderSessionID, c.sid)
		mac, err := toto.HMAC([]byte(c.key), append([]byte("POST"+uri), body...))
		if err != nil {
			c.fatal("%v", err)
		}
		req.Header.Set(HeaderHMAC, mac)
		if tamper {
			body = bytes.Replace(body, []byte(`"v"`), []byte(`"w"`), 1)
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.fatal("%v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.fatal("%v", err)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil {
		c.fatal("answer %q: %v", raw, err)
	}
	a.raw, a.mac = raw, resp.Header.Get(HeaderHMAC)
	return a
}

func (c *client) wantCode(a answer, code toto.Code) {
	c.t.Helper()
	if a.Error == nil || a.Error.Code != code {
		c.fatal("want error %d, got %s", code, a.raw)
	}
	if a.Error.Value == "" {
		c.fatal("error without text: %s", a.raw)
	}
}

func (c *client) wantResult(a answer, want string) {
	c.t.Helper()
	if a.Error != nil || string(a.Result) != want {
		c.fatal("want result %s, got %s", want, a.raw)
	}
}

// verifySigned checks the answer's x-toto-hmac over SESSION_ID + BODY with key.
func (c *client) verifySigned(a answer, sid, key string) {
	c.t.Helper()
	if a.mac == "" {
		c.fatal("answer not signed: %s", a.raw)
	}
	if err := toto.Verify([]byte(key), a.mac, append([]byte(sid), a.raw...)); err != nil {
		c.fatal("answer signature does not verify: %v", err)
	}
}

func startServer(t *testing.T) *httptest.Server {
	t.Helper()
	mgr, err := NewMemoryManager(toto.WithPasswordCost(8, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	h := New(mgr)
	var mu sync.Mutex
	h.Log = func(f string, a ...any) { mu.Lock(); t.Logf(f, a...); mu.Unlock() }
	srv := httptest.NewServer(h) // a real listener on 127.0.0.1:0
	t.Cleanup(func() { srv.Close(); mgr.Close() })
	return srv
}

// End to end over real HTTP: create, login, signed state.set accepted, tampered call
// refused (1008), logout, then the old session gives 1007 and a call that needs a
// session, sent without one, gives 1004.
func TestEndToEnd(t *testing.T) {
	srv := startServer(t)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server on %s", srv.URL)
	}
	c := &client{t: t, url: srv.URL}

	a := c.call("account.create", map[string]string{"user_id": "Alice", "password": "pw"}, false)
	c.wantResult(a, `{"user_id":"alice"}`)
	if a.Session == nil || a.Session.Key == "" || a.Session.UserID != "alice" {
		t.Fatalf("create answer: %s", a.raw)
	}
	c.verifySigned(a, a.Session.SessionID, a.Session.Key)
	c.wantCode(c.call("account.create", map[string]string{"user_id": "alice", "password": "x"}, false), toto.CodeUserIDExists)
	c.wantCode(c.call("account.create", map[string]string{"user_id": "", "password": "x"}, false), toto.CodeMissingParams)
	c.wantCode(c.call("account.login", map[string]string{"user_id": "alice", "password": "nope"}, false), toto.CodeInvalidCredentials)

	a = c.call("account.login", map[string]string{"user_id": "alice", "password": "pw"}, false)
	c.wantResult(a, `{"user_id":"alice"}`)
	s := a.Session
	if s == nil || s.Key == "" || len(s.SessionID) != 22 || s.Expires == 0 {
		t.Fatalf("login answer: %s", a.raw)
	}
	c.verifySigned(a, s.SessionID, s.Key)
	c.sid, c.key = s.SessionID, s.Key

	a = c.call("state.set", map[string]any{"key": "v", "value": map[string]any{"cart": []string{"apple"}, "n": 0}}, false)
	c.wantResult(a, "true")
	if a.Session == nil || a.Session.SessionID != c.sid || a.Session.Key != "" {
		t.Fatalf("the key must not be echoed after login: %s", a.raw)
	}
	c.verifySigned(a, c.sid, c.key)
	a = c.call("state.get", map[string]any{"key": "v"}, false)
	c.wantResult(a, `{"cart":["apple"],"n":0}`)
	c.verifySigned(a, c.sid, c.key)
	c.wantResult(c.call("state.get", map[string]any{"key": "missing"}, false), "null")
	c.wantCode(c.call("state.get", map[string]any{}, false), toto.CodeMissingParams)

	// Tampered body: refused, and nothing was stored.
	c.wantCode(c.call("state.set", map[string]any{"key": "v", "value": "evil"}, true), toto.CodeInvalidHMAC)
	c.wantResult(c.call("state.get", map[string]any{"key": "v"}, false), `{"cart":["apple"],"n":0}`)
	// Wrong key: refused too.
	good := c.key
	c.key = "not-the-key"
	c.wantCode(c.call("state.get", map[string]any{"key": "v"}, false), toto.CodeInvalidHMAC)
	c.key = good

	a = c.call("account.logout", nil, false)
	c.wantResult(a, "true")
	if a.Session != nil {
		t.Fatalf("logout answer still has a session: %s", a.raw)
	}
	c.verifySigned(a, c.sid, c.key)

	// The old session is gone: 1007, even correctly signed.
	c.wantCode(c.call("state.get", map[string]any{"key": "v"}, false), toto.CodeInvalidSessionID)
	// No session at all: 1004.
	c.sid, c.key = "", ""
	c.wantCode(c.call("state.get", map[string]any{"key": "v"}, false), toto.CodeNotAuthorized)
	c.wantCode(c.call("account.logout", nil, false), toto.CodeNotAuthorized)

	// Dispatch errors.
	c.wantCode(c.call("no.such.method", nil, false), toto.CodeInvalidMethod)
	c.wantCode(c.call("", nil, false), toto.CodeMissingMethod)
	c.wantCode(c.call("account.login", nil, false), toto.CodeMissingParams)
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{not json"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), `"code":1000`) {
		t.Fatalf("bad JSON: %s", raw)
	}
	resp, err = http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// Many clients at once against one server (and one Manager).
func TestConcurrentClients(t *testing.T) {
	srv := startServer(t)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := &client{t: t, url: srv.URL, fatalf: func(f string, a ...any) {
				t.Errorf(f, a...)
				runtime.Goexit()
			}}
			user := fmt.Sprintf("user%d", i)
			a := c.call("account.create", map[string]string{"user_id": user, "password": "pw"}, false)
			if a.Session == nil {
				errs <- string(a.raw)
				return
			}
			c.sid, c.key = a.Session.SessionID, a.Session.Key
			for j := 0; j < 20; j++ {
				if a := c.call("state.set", map[string]any{"key": "j", "value": j}, false); a.Error != nil {
					errs <- string(a.raw)
					return
				}
				if a := c.call("state.get", map[string]any{"key": "j"}, false); string(a.Result) != fmt.Sprint(j) {
					errs <- string(a.raw)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
