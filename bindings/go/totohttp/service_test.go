package totohttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

func newService(t *testing.T, opts totohttp.ServiceOptions) (*totohttp.Service, *toto.Manager) {
	t.Helper()
	mgr, _ := newManager(t)
	svc := totohttp.NewService(mgr, opts)
	svc.HandleFunc("echo", totohttp.Public, func(c *totohttp.Call) (any, error) { return c.Params, nil })
	svc.HandleFunc("whoami", totohttp.Authenticated, func(c *totohttp.Call) (any, error) { return c.Session().UserID(), nil })
	svc.HandleFunc("anon.visit", totohttp.AnonymousSession, func(c *totohttp.Call) (any, error) {
		n, _ := c.Session().GetInt64("visits")
		return n + 1, c.Session().SetInt64("visits", n+1)
	})
	svc.HandleFunc("boom", totohttp.Public, func(c *totohttp.Call) (any, error) { panic("kaboom") })
	svc.HandleFunc("fails", totohttp.Public, func(c *totohttp.Call) (any, error) { return nil, errors.New("plain failure") })
	svc.HandleFunc("teapot", totohttp.Public, func(c *totohttp.Call) (any, error) {
		return nil, &totohttp.Error{Code: 4018, Value: "short and stout"}
	})
	return svc, mgr
}

func wantErr(t *testing.T, r *reply, code int, value string) {
	t.Helper()
	if r.Error == nil || r.Error.Code != code || (value != "" && r.Error.Value != value) || r.Result != nil {
		t.Fatalf("want error %d %q, got %s", code, value, r.Body)
	}
}

func TestServiceDispatch(t *testing.T) {
	svc, _ := newService(t, totohttp.ServiceOptions{})
	wantErr(t, do(t, svc, "POST", "/", []byte(`{"parameters": {}}`), "", ""), 1002, "Missing method.")
	wantErr(t, do(t, svc, "POST", "/", call("nope", nil), "", ""), 1001, "Cannot call 'nope'.")
	wantErr(t, do(t, svc, "POST", "/a/b", []byte(`{}`), "", ""), 1001, "Cannot call 'a.b'.")
	wantErr(t, do(t, svc, "POST", "/", call("account.login", map[string]string{}), "", ""), 1003, "Missing parameters: user_id, password")
	wantErr(t, do(t, svc, "POST", "/", call("whoami", nil), "", ""), 1004, "Not authorized")
	wantErr(t, do(t, svc, "POST", "/", call("boom", nil), "", ""), 1000, "kaboom")
	wantErr(t, do(t, svc, "POST", "/", call("fails", nil), "", ""), 1000, "plain failure")
	wantErr(t, do(t, svc, "POST", "/", call("teapot", nil), "", ""), 4018, "short and stout")
	wantErr(t, do(t, svc, "POST", "/", []byte(`{nope`), "", ""), 1000, "")

	// parameters: the body's "parameters", else the body itself (less "method")
	if r := do(t, svc, "POST", "/", []byte(`{"method": "echo", "a": 1}`), "", ""); string(r.Result) != `{"a":1}` {
		t.Fatalf("bare parameters: %s", r.Body)
	}
	// the path wins over the body's method
	if r := do(t, svc, "POST", "/echo", call("nope", map[string]int{"x": 1}), "", ""); string(r.Result) != `{"x":1}` {
		t.Fatalf("path method: %s", r.Body)
	}
	// GET/HEAD: query parameters, one value a string, several a list
	if r := do(t, svc, "GET", "/echo?a=1&b=x&b=y", nil, "", ""); string(r.Result) != `{"a":"1","b":["x","y"]}` {
		t.Fatalf("GET: %s", r.Body)
	}
	if r := do(t, svc, "HEAD", "/echo?a=1", nil, "", ""); r.Status != 200 || len(r.Body) != 0 || r.Header.Get("Content-Length") == "0" {
		t.Fatalf("HEAD: %d %q %v", r.Status, r.Body, r.Header)
	}
	wantErr(t, do(t, svc, "GET", "/", nil, "", ""), 1002, "Missing method.")
	// form posts
	r := do(t, svc, "POST", "/echo", []byte("a=1&b=x&b=y"), "", "", "Content-Type", "application/x-www-form-urlencoded")
	if string(r.Result) != `{"a":"1","b":["x","y"]}` {
		t.Fatalf("form: %s", r.Body)
	}
	if r := do(t, svc, "PUT", "/echo", nil, "", ""); r.Status != http.StatusMethodNotAllowed || r.Error == nil {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	// CORS on by default with Toto's allow_origin *
	if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Expose-Headers") != "x-toto-hmac" {
		t.Fatalf("CORS headers: %v", r.Header)
	}
}

func TestServiceMethodSelect(t *testing.T) {
	url, _ := newService(t, totohttp.ServiceOptions{MethodSelect: totohttp.SelectURL})
	wantErr(t, do(t, url, "POST", "/", call("echo", nil), "", ""), 1002, "Missing method.")
	if r := do(t, url, "POST", "/echo", []byte(`{}`), "", ""); r.Error != nil {
		t.Fatalf("url select: %s", r.Body)
	}
	param, _ := newService(t, totohttp.ServiceOptions{MethodSelect: totohttp.SelectParameter})
	if r := do(t, param, "POST", "/whatever", call("echo", nil), "", ""); r.Error != nil {
		t.Fatalf("parameter select: %s", r.Body)
	}
}

type loginResult struct {
	SessionID string  `json:"session_id"`
	Expires   float64 `json:"expires"`
	UserID    string  `json:"user_id"`
	Key       string  `json:"key"`
}

func TestServiceAccountsAndBatch(t *testing.T) {
	svc, mgr := newService(t, totohttp.ServiceOptions{Options: totohttp.Options{HMAC: totohttp.HMACRequired}})
	ctx := context.Background()
	r := do(t, svc, "POST", "/", call("account.create", map[string]any{"user_id": "Bob", "password": "pw", "email": "b@example.com", "age": 7}), "", "")
	var lr loginResult
	if err := json.Unmarshal(r.Result, &lr); err != nil || lr.Key == "" || lr.UserID != "bob" || r.Session == nil ||
		r.Session.SessionID != lr.SessionID || r.Session.Expires != lr.Expires {
		t.Fatalf("create: %s", r.Body)
	}
	if got, want := r.Header.Get("x-toto-hmac"), hmacOf(t, lr.Key, append([]byte(lr.SessionID), r.Body...)); got != want {
		t.Fatalf("create answer signature %q, want %q", got, want)
	}
	acct, err := mgr.Account("bob")
	if err != nil {
		t.Fatal(err)
	}
	var email string
	var age int
	if acct.Get(ctx, "email", &email) != nil || acct.Get(ctx, "age", &age) != nil || email != "b@example.com" || age != 7 {
		t.Fatalf("create values: %q %d", email, age)
	}
	acct.Close()
	wantErr(t, do(t, svc, "POST", "/", call("account.create", map[string]any{"user_id": "BOB", "password": "x"}), "", ""), 1006, "User ID already in use.")
	wantErr(t, do(t, svc, "POST", "/", call("account.create", map[string]any{"user_id": "", "password": "x"}), "", ""), 1010, "Invalid user ID.")
	wantErr(t, do(t, svc, "POST", "/", call("account.login", map[string]any{"user_id": "bob", "password": "x"}), "", ""), 1005, "Invalid user ID or password")

	id, key := lr.SessionID, lr.Key
	if r := do(t, svc, "POST", "/", call("whoami", nil), id, key); string(r.Result) != `"bob"` {
		t.Fatalf("whoami: %s", r.Body)
	}
	// batch: sorted ids, {"result"} / {"error"} per id, one session at the top
	body := []byte(`{"batch": {"2": {"method": "whoami"}, "1": {"method": "nope"}, "3": {"method": "echo", "parameters": {"k": [1]}}}}`)
	r = do(t, svc, "POST", "/", body, id, key)
	if len(r.Batch) != 3 || string(r.Batch["2"]) != `{"result":"bob"}` || string(r.Batch["3"]) != `{"result":{"k":[1]}}` ||
		!strings.Contains(string(r.Batch["1"]), `"code":1001`) || r.Session == nil || r.Session.SessionID != id || r.Result != nil {
		t.Fatalf("batch: %s", r.Body)
	}

	// account.update: properties
	r = do(t, svc, "POST", "/", call("account.update", map[string]any{"email": "new@example.com", "nick": "B"}), id, key)
	if string(r.Result) != `{"updated_fields":["email","nick"]}` {
		t.Fatalf("update: %s", r.Body)
	}
	acct, _ = mgr.Account("bob")
	if acct.Get(ctx, "email", &email) != nil || email != "new@example.com" {
		t.Fatalf("updated email %q", email)
	}
	acct.Close()
	// account.update: new password, logged in again
	wantErr(t, do(t, svc, "POST", "/", call("account.update", map[string]any{"new_password": "pw2"}), id, key), 1003, "Missing parameters: password")
	wantErr(t, do(t, svc, "POST", "/", call("account.update", map[string]any{"new_password": "pw2", "password": "bad"}), id, key), 1005, "")
	r = do(t, svc, "POST", "/", call("account.update", map[string]any{"new_password": "pw2", "password": "pw"}), id, key)
	var up struct {
		loginResult
		Fields []string `json:"updated_fields"`
	}
	if err := json.Unmarshal(r.Result, &up); err != nil || up.SessionID == "" || up.SessionID == id || up.Key == "" ||
		len(up.Fields) != 1 || up.Fields[0] != "password" || r.Session.SessionID != up.SessionID {
		t.Fatalf("password update: %s", r.Body)
	}
	if got := r.Header.Get("x-toto-hmac"); got != hmacOf(t, up.Key, append([]byte(up.SessionID), r.Body...)) {
		t.Fatal("password update answer not signed with the new key")
	}
	wantErr(t, do(t, svc, "POST", "/", call("whoami", nil), id, key), 1004, "Not authorized")
	id, key = up.SessionID, up.Key
	if r := do(t, svc, "POST", "/", call("whoami", nil), id, key); string(r.Result) != `"bob"` {
		t.Fatalf("whoami after password change: %s", r.Body)
	}
	// account.logout: Toto's answer, still naming (and signed for) the session
	r = do(t, svc, "POST", "/", call("account.logout", nil), id, key)
	if string(r.Result) != `{"authenticated":false}` || r.Session == nil || r.Session.SessionID != id || r.Header.Get("x-toto-hmac") == "" {
		t.Fatalf("logout: %s %v", r.Body, r.Header)
	}
	r = do(t, svc, "POST", "/", call("whoami", nil), id, key)
	wantErr(t, r, 1004, "Not authorized")
	if r.Session != nil {
		t.Fatalf("1004 after logout names a session: %s", r.Body)
	}
}

func TestServiceHMACOff(t *testing.T) {
	svc, mgr := newService(t, totohttp.ServiceOptions{})
	r := do(t, svc, "POST", "/", call("account.create", map[string]any{"user_id": "carol", "password": "pw"}), "", "")
	var lr loginResult
	if err := json.Unmarshal(r.Result, &lr); err != nil || lr.Key != "" || strings.Contains(string(r.Result), "key") || r.Header.Get("x-toto-hmac") != "" {
		t.Fatalf("login without HMAC: %s %v", r.Body, r.Header)
	}
	sess, err := mgr.RetrieveSession(context.Background(), lr.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if _, has := sess.Key(); has {
		t.Fatal("HMAC off: the stored session has a key")
	}
	sess.Close()
	if r := do(t, svc, "POST", "/", call("whoami", nil), lr.SessionID, "", "x-toto-hmac", "junk"); string(r.Result) != `"carol"` {
		t.Fatalf("unsigned call: %s", r.Body)
	}
}

func TestServiceAnonymousSession(t *testing.T) {
	svc, _ := newService(t, totohttp.ServiceOptions{Options: totohttp.Options{HMAC: totohttp.HMACIfKey}})
	r := do(t, svc, "POST", "/", call("anon.visit", nil), "", "")
	if string(r.Result) != "1" || r.Session == nil || r.Session.UserID != "" {
		t.Fatalf("anonymous: %s", r.Body)
	}
	// anonymous sessions have no key (no answer could tell the client one): they
	// work unsigned under HMACIfKey, and are not authorized for user methods
	id := r.Session.SessionID
	if r := do(t, svc, "POST", "/", call("anon.visit", nil), id, ""); string(r.Result) != "2" || r.Header.Get("x-toto-hmac") != "" {
		t.Fatalf("anonymous again: %s", r.Body)
	}
	wantErr(t, do(t, svc, "POST", "/", call("whoami", nil), id, ""), 1004, "Not authorized")
}
