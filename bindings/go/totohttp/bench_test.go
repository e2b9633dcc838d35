package totohttp_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

// The cost of the session layer per request: a signed state.get over real HTTP
// (loopback, keep-alive) through
//
//	bare        a plain net/http handler doing the same JSON work, state in a map
//	middleware  the same handler under Sessions.Middleware (HMACRequired): retrieve
//	            and renew, verify the request HMAC, state from the session, sign
//	service     the full Toto protocol (Service with a state.get method)
//
// The difference middleware - bare is the layer's cost. The client signs every
// request in all three, so its work is the same.

// benchManager is a manager as the example server makes it: the built-in memory
// cache and account store, default TTL and renewal (so every retrieve renews).
func benchManager(b *testing.B) *toto.Manager {
	cache, err := toto.NewMemoryCache()
	if err != nil {
		b.Fatal(err)
	}
	defer cache.Close()
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	mgr, err := toto.NewManager(cache, store, toto.WithPasswordCost(8, 1, 1))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mgr.Close() })
	return mgr
}

// cpuPerOp reports the process's CPU time (user + system, client and server alike)
// per operation as cpu-ns/op: on a loaded machine it varies much less than the wall
// time. Call it after ResetTimer and defer what it returns.
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

type getRequest struct {
	Method     string `json:"method"`
	Parameters struct {
		Key string `json:"key"`
	} `json:"parameters"`
}

// stateGet is the JSON work of state.get; lookup finds the value.
func stateGet(lookup func(r *http.Request, key string) json.RawMessage) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req getRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body, _ := json.Marshal(map[string]any{"result": map[string]json.RawMessage{"value": lookup(r, req.Parameters.Key)}})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
}

func benchClient(b *testing.B, url, id, key string, check func([]byte)) {
	body := call("state.get", map[string]string{"key": "cart"})
	mac := hmac.New(sha1.New, []byte(key))
	client := &http.Client{}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("POST", url+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-toto-session-id", id)
		mac.Reset()
		mac.Write([]byte("POST/"))
		mac.Write(body)
		req.Header.Set("x-toto-hmac", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if i == 0 {
			check(out)
		}
	}
}

func BenchmarkSignedStateGet(b *testing.B) {
	mgr := benchManager(b)
	id, key := login(b, mgr, "bench")
	value := json.RawMessage(`{"items":["apple","pear"],"total":3}`)
	sess, err := mgr.RetrieveSession(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	if err := sess.Set("cart", value); err != nil {
		b.Fatal(err)
	}
	if err := mgr.SaveSession(context.Background(), sess); err != nil {
		b.Fatal(err)
	}
	sess.Close()
	want := `{"result":{"value":{"items":["apple","pear"],"total":3}}`
	check := func(b *testing.B) func([]byte) {
		return func(out []byte) {
			if !bytes.HasPrefix(out, []byte(want)) {
				b.Fatalf("answer %s", out)
			}
		}
	}

	b.Run("bare", func(b *testing.B) {
		var state sync.Map
		state.Store(id+"/cart", value)
		srv := httptest.NewServer(stateGet(func(r *http.Request, k string) json.RawMessage {
			v, _ := state.Load(r.Header.Get("x-toto-session-id") + "/" + k)
			raw, _ := v.(json.RawMessage)
			return raw
		}))
		defer srv.Close()
		benchClient(b, srv.URL, id, key, check(b))
	})
	b.Run("middleware", func(b *testing.B) {
		sessions := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACRequired})
		srv := httptest.NewServer(sessions.Middleware(stateGet(func(r *http.Request, k string) json.RawMessage {
			v, _ := totohttp.FromContext(r.Context()).GetJSON(k)
			return v
		})))
		defer srv.Close()
		benchClient(b, srv.URL, id, key, check(b))
	})
	b.Run("service", func(b *testing.B) {
		svc := totohttp.NewService(mgr, totohttp.ServiceOptions{Options: totohttp.Options{HMAC: totohttp.HMACRequired}})
		svc.HandleFunc("state.get", totohttp.Authenticated, func(c *totohttp.Call) (any, error) {
			v, err := c.Session().GetJSON(c.String("key"))
			return map[string]json.RawMessage{"value": v}, err
		}, "key")
		srv := httptest.NewServer(svc)
		defer srv.Close()
		benchClient(b, srv.URL, id, key, check(b))
	})
}

// The same three handlers called in process (httptest.NewRecorder, no sockets): the
// layer's own cost without loopback HTTP noise.
func BenchmarkSignedStateGetInProcess(b *testing.B) {
	mgr := benchManager(b)
	id, key := login(b, mgr, "bench")
	value := json.RawMessage(`{"items":["apple","pear"],"total":3}`)
	sess, err := mgr.RetrieveSession(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	_ = sess.Set("cart", value)
	if err := mgr.SaveSession(context.Background(), sess); err != nil {
		b.Fatal(err)
	}
	sess.Close()
	body := call("state.get", map[string]string{"key": "cart"})
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte("POST/"))
	m.Write(body)
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))

	var state sync.Map
	state.Store(id+"/cart", value)
	bare := stateGet(func(r *http.Request, k string) json.RawMessage {
		v, _ := state.Load(r.Header.Get("x-toto-session-id") + "/" + k)
		raw, _ := v.(json.RawMessage)
		return raw
	})
	mw := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACRequired}).Middleware(stateGet(
		func(r *http.Request, k string) json.RawMessage {
			v, _ := totohttp.FromContext(r.Context()).GetJSON(k)
			return v
		}))
	svc := totohttp.NewService(mgr, totohttp.ServiceOptions{Options: totohttp.Options{HMAC: totohttp.HMACRequired}})
	svc.HandleFunc("state.get", totohttp.Authenticated, func(c *totohttp.Call) (any, error) {
		v, err := c.Session().GetJSON(c.String("key"))
		return map[string]json.RawMessage{"value": v}, err
	}, "key")

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"middleware", mw}, {"service", svc}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("x-toto-session-id", id)
				req.Header.Set("x-toto-hmac", sig)
				rec := httptest.NewRecorder()
				tc.h.ServeHTTP(rec, req)
				if i == 0 && !bytes.Contains(rec.Body.Bytes(), []byte(`"total":3`)) {
					b.Fatalf("answer %s", rec.Body.Bytes())
				}
			}
		})
	}
}
