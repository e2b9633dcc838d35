package totohttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

// counter is an app handler: it bumps "n" in the session (when there is one) and
// writes n as its answer.
func counter(w http.ResponseWriter, r *http.Request) {
	sess := totohttp.FromContext(r.Context())
	if sess == nil {
		fmt.Fprint(w, "none")
		return
	}
	n, _ := sess.GetInt64("n")
	if r.URL.Query().Get("write") != "no" {
		n++
		if err := sess.SetInt64("n", n); err != nil {
			totohttp.WriteError(w, r, err)
			return
		}
	}
	fmt.Fprint(w, n)
}

func TestMiddlewareWithServeMux(t *testing.T) {
	mgr, _ := newManager(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/count", counter)
	h := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACIfKey}).Middleware(mux)
	id, key := login(t, mgr, "mux")

	if r := do(t, h, "GET", "/count", nil, "", ""); string(r.Body) != "none" || r.Header.Get("x-toto-hmac") != "" {
		t.Fatalf("no session: %q %v", r.Body, r.Header)
	}
	for want := 1; want <= 3; want++ {
		r := do(t, h, "GET", "/count", nil, id, key)
		if string(r.Body) != fmt.Sprint(want) {
			t.Fatalf("count %q, want %d", r.Body, want)
		}
		if got, want := r.Header.Get("x-toto-hmac"), hmacOf(t, key, append([]byte(id), r.Body...)); got != want {
			t.Fatalf("response hmac %q, want %q", got, want)
		}
	}
	// unknown session id: no session, no error (Toto)
	if r := do(t, h, "GET", "/count", nil, "AAAAAAAAAAAAAAAAAAAAAA", ""); string(r.Body) != "none" {
		t.Fatalf("unknown id: %q", r.Body)
	}
	// a 404 from the mux passes through, signed
	r := do(t, h, "GET", "/nothing", nil, id, key)
	if r.Status != 404 || r.Header.Get("x-toto-hmac") == "" {
		t.Fatalf("404: %d %v", r.Status, r.Header)
	}
}

func TestMiddlewareHMACPolicies(t *testing.T) {
	mgr, _ := newManager(t)
	id, key := login(t, mgr, "policy")
	anon, err := mgr.CreateSession(context.Background(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	anonID := anon.ID()
	anon.Close()

	for _, tc := range []struct {
		policy        totohttp.HMACPolicy
		unsignedKeyed bool // an unsigned request on the keyed session passes
		keylessPasses bool // a request on the keyless session passes
		signedAnswers bool
	}{
		{totohttp.HMACOff, true, true, false},
		{totohttp.HMACIfKey, false, true, true},
		{totohttp.HMACRequired, false, false, true},
	} {
		h := totohttp.New(mgr, totohttp.Options{HMAC: tc.policy}).Middleware(http.HandlerFunc(counter))
		name := fmt.Sprintf("policy %d", tc.policy)
		r := do(t, h, "POST", "/count?write=no", []byte("body"), id, key)
		if r.Error != nil || (r.Header.Get("x-toto-hmac") != "") != tc.signedAnswers {
			t.Fatalf("%s: signed request: %q %v", name, r.Body, r.Header)
		}
		r = do(t, h, "POST", "/count?write=no", []byte("body"), id, "")
		if (r.Error == nil) != tc.unsignedKeyed {
			t.Fatalf("%s: unsigned request: %q", name, r.Body)
		}
		if r.Error != nil {
			if r.Error.Code != 1008 || r.Error.Value != "Invalid HMAC" || r.Session == nil || r.Session.SessionID != id {
				t.Fatalf("%s: 1008 envelope %q", name, r.Body)
			}
			if got := r.Header.Get("x-toto-hmac"); got != hmacOf(t, key, append([]byte(id), r.Body...)) {
				t.Fatalf("%s: 1008 answer not signed: %q", name, got)
			}
		}
		// the body is part of the signature: a changed body fails
		req := httptest.NewRequest("POST", "/count?write=no", strings.NewReader("tampered"))
		req.Header.Set("x-toto-session-id", id)
		req.Header.Set("x-toto-hmac", hmacOf(t, key, []byte("POST/count?write=nobody")))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		tampered := decode(t, rec.Result())
		if (tampered.Error != nil) == (tc.policy == totohttp.HMACOff) {
			t.Fatalf("%s: tampered body: %q", name, tampered.Body)
		}
		if tampered.Error != nil && (tampered.Error.Code != 1008 || tampered.Session == nil ||
			tampered.Header.Get("x-toto-hmac") != hmacOf(t, key, append([]byte(id), tampered.Body...))) {
			t.Fatalf("%s: tampered body: not a signed 1008 envelope: %q %v", name, tampered.Body, tampered.Header)
		}
		r = do(t, h, "GET", "/count?write=no", nil, anonID, "")
		if (r.Error == nil) != tc.keylessPasses {
			t.Fatalf("%s: keyless session: %q", name, r.Body)
		}
		// a mac on a keyless session proves nothing: as without one
		r = do(t, h, "POST", "/count?write=no", []byte("body"), anonID, "0123456789abcdefghij")
		if (r.Error == nil) != tc.keylessPasses || (r.Error != nil && r.Error.Code != 1008) {
			t.Fatalf("%s: keyless session with a mac: %q", name, r.Body)
		}
		// an unknown session is no session, with or without a mac
		r = do(t, h, "POST", "/count?write=no", []byte("body"), "no-such-session", key)
		if r.Error != nil || r.Session != nil {
			t.Fatalf("%s: unknown session: %q", name, r.Body)
		}
	}
}

func TestMiddlewareSavesOnlyChangedSessions(t *testing.T) {
	mgr, cc := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{}).Middleware(http.HandlerFunc(counter))
	id, _ := login(t, mgr, "dirty")
	before := cc.stores.Load()
	for i := 0; i < 3; i++ {
		do(t, h, "GET", "/?write=no", nil, id, "")
	}
	if n := cc.stores.Load() - before; n != 0 {
		t.Fatalf("%d writes for read-only requests", n)
	}
	r := do(t, h, "GET", "/", nil, id, "")
	if n := cc.stores.Load() - before; n != 1 || string(r.Body) != "1" {
		t.Fatalf("%d writes for one change (answer %q)", n, r.Body)
	}
	if r := do(t, h, "GET", "/?write=no", nil, id, ""); string(r.Body) != "1" {
		t.Fatalf("change not stored: %q", r.Body)
	}
}

// With HMAC on, the change is saved and the answer signed in one library call; when
// that save fails, the answer is the failure, still signed.
func TestMiddlewareSignedSaveAndItsFailure(t *testing.T) {
	mgr, _ := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACRequired}).Middleware(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("revoke") == "yes" {
				// another request logs the session out meanwhile
				if err := mgr.RemoveSession(context.Background(), totohttp.FromContext(r.Context()).ID()); err != nil {
					t.Error(err)
				}
			}
			counter(w, r)
		}))
	id, key := login(t, mgr, "signed-save")
	signed := func(r *reply) bool {
		return toto.Verify([]byte(key), r.Header.Get("x-toto-hmac"), append([]byte(id), r.Body...)) == nil
	}
	r := do(t, h, "POST", "/", []byte("{}"), id, key)
	if string(r.Body) != "1" || !signed(r) {
		t.Fatalf("answer %q, signed %v", r.Body, signed(r))
	}
	if r := do(t, h, "POST", "/?write=no", []byte("{}"), id, key); string(r.Body) != "1" || !signed(r) {
		t.Fatalf("change not stored: %q (signed %v)", r.Body, signed(r))
	}
	r = do(t, h, "POST", "/?revoke=yes", []byte("{}"), id, key)
	if r.Error == nil || string(r.Body) == "2" || !signed(r) {
		t.Fatalf("failed save: answer %q, signed %v", r.Body, signed(r))
	}
}

func TestMiddlewareLogoutIsNotSavedBack(t *testing.T) {
	mgr, _ := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{Cookies: true}).Middleware(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			sess := totohttp.FromContext(r.Context())
			_ = sess.SetString("x", "late change") // dirty, then removed
			if err := totohttp.Logout(r.Context()); err != nil {
				totohttp.WriteError(w, r, err)
				return
			}
			if totohttp.Live(r.Context()) != nil {
				t.Error("Live after Logout")
			}
			totohttp.WriteResult(w, r, "bye")
		}))
	id, _ := login(t, mgr, "logout")
	r := do(t, h, "POST", "/", []byte("{}"), id, "")
	if r.Session == nil || r.Session.SessionID != id || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout answer %q %v", r.Body, r.Header)
	}
	if _, err := mgr.RetrieveSession(context.Background(), id); toto.CodeOf(err) != toto.CodeInvalidSessionID {
		t.Fatalf("session came back after logout: %v", err)
	}
}

func TestMiddlewareCookies(t *testing.T) {
	mgr, _ := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{Cookies: true, CookieDomain: "example.com", HMAC: totohttp.HMACIfKey}).
		Middleware(http.HandlerFunc(counter))
	id, key := login(t, mgr, "cookie")
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "toto-session-id", Value: id})
	req.Header.Set("x-toto-hmac", hmacOf(t, key, []byte("GET/")))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := decode(t, rec.Result())
	if string(r.Body) != "1" {
		t.Fatalf("cookie transport: %q", r.Body)
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Value != id || c[0].Domain != "example.com" || c[0].Path != "/" || !c[0].HttpOnly {
		t.Fatalf("cookie %+v", c)
	}
	// Toto: expires_days = ceil(ttl / 1 day): a 1 h session expires in 1 day
	if d := c[0].Expires.Sub(c[0].Expires.Truncate(0)); d != 0 || c[0].Expires.IsZero() {
		t.Fatalf("cookie expiry %v", c[0].Expires)
	}
	// the header wins over the cookie
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "toto-session-id", Value: id})
	req.Header.Set("x-toto-session-id", "AAAAAAAAAAAAAAAAAAAAAA")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if r := decode(t, rec.Result()); string(r.Body) != "none" {
		t.Fatalf("header should win: %q", r.Body)
	}
	// without Cookies the cookie is ignored
	h2 := totohttp.New(mgr, totohttp.Options{}).Middleware(http.HandlerFunc(counter))
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "toto-session-id", Value: id})
	rec = httptest.NewRecorder()
	h2.ServeHTTP(rec, req)
	if r := decode(t, rec.Result()); string(r.Body) != "none" || rec.Header().Get("Set-Cookie") != "" {
		t.Fatalf("cookies off: %q %v", r.Body, rec.Header())
	}
}

func TestMiddlewareCORS(t *testing.T) {
	mgr, _ := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{AllowOrigins: []string{"https://a.example"}}).Middleware(http.HandlerFunc(counter))
	r := do(t, h, "OPTIONS", "/", nil, "", "", "Origin", "https://a.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "X-Extra, content-type")
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://a.example" ||
		r.Header.Get("Access-Control-Allow-Headers") != "x-toto-hmac,x-toto-session-id,origin,content-type,x-extra" ||
		r.Header.Get("Access-Control-Allow-Methods") != "POST,OPTIONS,GET,HEAD" ||
		r.Header.Get("Access-Control-Expose-Headers") != "x-toto-hmac" {
		t.Fatalf("preflight %d %v", r.Status, r.Header)
	}
	if r := do(t, h, "OPTIONS", "/", nil, "", "", "Origin", "https://b.example"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("unlisted origin allowed: %v", r.Header)
	}
	if r := do(t, h, "OPTIONS", "/", nil, "", "", "Access-Control-Request-Method", "DELETE"); r.Status != 405 {
		t.Fatalf("DELETE preflight: %d", r.Status)
	}
	r = do(t, h, "GET", "/", nil, "", "", "Origin", "https://a.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://a.example" || r.Header.Get("Access-Control-Expose-Headers") != "x-toto-hmac" {
		t.Fatalf("GET CORS headers %v", r.Header)
	}
}

func TestMiddlewareConcurrent(t *testing.T) {
	mgr, _ := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACRequired}).Middleware(http.HandlerFunc(counter))
	srv := httptest.NewServer(h)
	defer srv.Close()
	const users, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for u := 0; u < users; u++ {
		id, key := login(t, mgr, fmt.Sprint("conc", u))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= rounds; i++ {
				req, _ := http.NewRequest("GET", srv.URL+"/", nil)
				req.Header.Set("x-toto-session-id", id)
				mac, _ := toto.HMAC([]byte(key), []byte("GET/"))
				req.Header.Set("x-toto-hmac", mac)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want, _ := toto.HMAC([]byte(key), []byte(id+fmt.Sprint(i)))
				if string(body) != fmt.Sprint(i) || resp.Header.Get("x-toto-hmac") != want {
					errs <- fmt.Errorf("user %s round %d: %q", id, i, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestMiddlewareUnbuffered(t *testing.T) {
	mgr, cc := newManager(t)
	h := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACIfKey,
		Unbuffered: func(r *http.Request) bool { return r.URL.Path == "/stream" }}).
		Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_ = totohttp.FromContext(r.Context()).SetString("streamed", "yes")
			fmt.Fprint(w, "part 1 ")
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "part 2")
		}))
	id, key := login(t, mgr, "stream")
	before := cc.stores.Load()
	r := do(t, h, "GET", "/stream", nil, id, key)
	if string(r.Body) != "part 1 part 2" || r.Header.Get("x-toto-hmac") != "" || cc.stores.Load()-before != 1 {
		t.Fatalf("stream: %q %v, %d writes", r.Body, r.Header, cc.stores.Load()-before)
	}
}
