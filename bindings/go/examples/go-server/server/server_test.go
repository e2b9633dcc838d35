package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

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
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code  toto.Code `json:"code"`
		Value string    `json:"value"`
	} `json:"error"`
	Session *struct {
		SessionID string  `json:"session_id"`
		Expires   float64 `json:"expires"`
		UserID    string  `json:"user_id"`
	} `json:"session"`
	raw []byte
	mac string
}

// call POSTs a method call; with a session it sends the id and signs the request
// (tamper changes the body after signing). Signed answers are verified, and a login
// result is taken as the new session.
func (c *client) call(method string, params any, tamper bool) answer {
	c.t.Helper()
	body, err := json.Marshal(map[string]any{"method": method, "parameters": params})
	if err != nil {
		c.fatal("%v", err)
	}
	uri := "/?v=1"
	req, err := http.NewRequest(http.MethodPost, c.url+uri, bytes.NewReader(body))
	if err != nil {
		c.fatal("%v", err)
	}
	if c.sid != "" {
		req.Header.Set("x-toto-session-id", c.sid)
		mac, err := toto.HMAC([]byte(c.key), append([]byte("POST"+uri), body...))
		if err != nil {
			c.fatal("%v", err)
		}
		req.Header.Set("x-toto-hmac", mac)
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
	a.raw, a.mac = raw, resp.Header.Get("x-toto-hmac")
	var login struct {
		SessionID string `json:"session_id"`
		Key       string `json:"key"`
	}
	if json.Unmarshal(a.Result, &login) == nil && login.SessionID != "" {
		c.sid, c.key = login.SessionID, login.Key
	}
	if a.Session != nil {
		if a.mac == "" {
			c.fatal("answer with a session not signed: %s", raw)
		}
		if err := toto.Verify([]byte(c.key), a.mac, append([]byte(a.Session.SessionID), raw...)); err != nil {
			c.fatal("answer signature does not verify: %v", err)
		}
	}
	return a
}

func (c *client) wantCode(a answer, code toto.Code) {
	c.t.Helper()
	if a.Error == nil || a.Error.Code != code || a.Error.Value == "" {
		c.fatal("want error %d, got %s", code, a.raw)
	}
}

func (c *client) wantResult(a answer, want string) {
	c.t.Helper()
	if a.Error != nil || string(a.Result) != want {
		c.fatal("want result %s, got %s", want, a.raw)
	}
}

func startServer(t *testing.T) (*httptest.Server, *toto.Manager) {
	t.Helper()
	cfg := FromEnv(func(string) string { return "" })
	mgr, err := NewManager(cfg, toto.WithPasswordCost(8, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(mgr, cfg)) // a real listener on 127.0.0.1:0
	t.Cleanup(func() { srv.Close(); mgr.Close() })
	return srv, mgr
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{"TOTO_HMAC": "off", "TOTO_COOKIES": "on", "TOTO_ALLOW_ORIGIN": "https://a,https://b", "TOTO_SESSION_TTL": "1.5"}
	c := FromEnv(func(k string) string { return env[k] })
	if c.HMAC || !c.Cookies || len(c.AllowOrigins) != 2 || c.RedisURL != "" || c.SessionTTL != 1500*time.Millisecond {
		t.Fatalf("%+v", c)
	}
	if c := FromEnv(func(string) string { return "" }); !c.HMAC || c.Cookies || c.AllowOrigins != nil {
		t.Fatalf("defaults %+v", c)
	}
}

// End to end over real HTTP, as Toto's clients see it: create (extra values stored on
// the account), login, signed state round trip, tampering (1008), logout, then 1004.
func TestEndToEnd(t *testing.T) {
	srv, mgr := startServer(t)
	c := &client{t: t, url: srv.URL}

	a := c.call("account.create", map[string]any{"user_id": "Alice", "password": "pw", "email": "a@example.com"}, false)
	if a.Error != nil || c.key == "" || a.Session == nil || a.Session.UserID != "alice" || a.Session.SessionID != c.sid {
		t.Fatalf("create answer: %s", a.raw)
	}
	acct, err := mgr.Account("alice")
	if err != nil {
		t.Fatal(err)
	}
	var email string
	if err := acct.Get(context.Background(), "email", &email); err != nil || email != "a@example.com" {
		t.Fatalf("extra create value: %q %v", email, err)
	}
	acct.Close()
	c.wantCode(c.call("account.create", map[string]string{"user_id": "alice", "password": "x"}, false), toto.CodeUserIDExists)
	c.wantCode(c.call("account.login", map[string]string{"user_id": "alice", "password": "nope"}, false), toto.CodeInvalidCredentials)

	first := c.sid
	a = c.call("account.login", map[string]string{"user_id": "alice", "password": "pw"}, false)
	if a.Error != nil || c.sid == first || len(c.sid) != 22 {
		t.Fatalf("login answer: %s", a.raw)
	}
	c.wantResult(c.call("state.set", map[string]any{"key": "v", "value": map[string]any{"cart": []string{"apple"}, "n": 0}}, false), "true")
	c.wantResult(c.call("state.get", map[string]any{"key": "v"}, false), `{"value":{"cart":["apple"],"n":0}}`)
	c.wantResult(c.call("state.get", map[string]any{"key": "missing"}, false), `{"value":null}`)
	c.wantCode(c.call("state.get", map[string]any{}, false), toto.CodeMissingParams)

	// Tampered body: refused with the envelope (signed), and nothing was stored.
	c.wantCode(c.call("state.set", map[string]any{"key": "v", "value": "evil"}, true), toto.CodeInvalidHMAC)
	c.wantResult(c.call("state.get", map[string]any{"key": "v"}, false), `{"value":{"cart":["apple"],"n":0}}`)

	c.wantResult(c.call("account.logout", nil, false), `{"authenticated":false}`)
	// The old session is gone: 1004 (what Toto's clients take as "logged out").
	c.wantCode(c.call("state.get", map[string]any{"key": "v"}, false), toto.CodeNotAuthorized)
	c.sid, c.key = "", ""
	c.wantCode(c.call("state.get", map[string]any{"key": "v"}, false), toto.CodeNotAuthorized)
	c.wantCode(c.call("no.such.method", nil, false), toto.CodeInvalidMethod)
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
}

// Many clients at once against one server (and one Manager).
func TestConcurrentClients(t *testing.T) {
	srv, _ := startServer(t)
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
			a := c.call("account.create", map[string]string{"user_id": fmt.Sprintf("user%d", i), "password": "pw"}, false)
			if a.Error != nil {
				errs <- string(a.raw)
				return
			}
			for j := 0; j < 20; j++ {
				if a := c.call("state.set", map[string]any{"key": "j", "value": j}, false); a.Error != nil {
					errs <- string(a.raw)
					return
				}
				if a := c.call("state.get", map[string]any{"key": "j"}, false); string(a.Result) != fmt.Sprintf(`{"value":%d}`, j) {
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
