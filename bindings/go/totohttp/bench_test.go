package totohttp_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
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
// The difference middleware - bare is the layer's cost. Over HTTP each server is a
// process of its own and the figure is that process's CPU per request (the client's
// work, the same in all three, is left out); in process it is the CPU of the handler
// calls.

// benchManager is a manager as the example server makes it: the built-in memory
// cache and account store, default TTL and renewal (so every retrieve renews).
func benchManager(b *testing.B) *toto.Manager {
	mgr, err := newBenchManager()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mgr.Close() })
	return mgr
}

func newBenchManager() (*toto.Manager, error) {
	cache, err := toto.NewMemoryCache()
	if err != nil {
		return nil, err
	}
	defer cache.Close()
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return toto.NewManager(cache, store, toto.WithPasswordCost(8, 1, 1))
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

// benchValue is the state the benchmarks read back.
var benchValue = json.RawMessage(`{"items":["apple","pear"],"total":3}`)

// benchHandlers builds the three handlers over mgr, for a session id holding
// benchValue under "cart": bare (state in a map), middleware and service.
func benchHandlers(mgr *toto.Manager, id string) map[string]http.Handler {
	var state sync.Map
	state.Store(id+"/cart", benchValue)
	svc := totohttp.NewService(mgr, totohttp.ServiceOptions{Options: totohttp.Options{HMAC: totohttp.HMACRequired}})
	svc.HandleFunc("state.get", totohttp.Authenticated, func(c *totohttp.Call) (any, error) {
		v, err := c.Session().GetJSON(c.String("key"))
		return map[string]json.RawMessage{"value": v}, err
	}, "key")
	return map[string]http.Handler{
		"bare": stateGet(func(r *http.Request, k string) json.RawMessage {
			v, _ := state.Load(r.Header.Get("x-toto-session-id") + "/" + k)
			raw, _ := v.(json.RawMessage)
			return raw
		}),
		"middleware": totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACRequired}).Middleware(stateGet(
			func(r *http.Request, k string) json.RawMessage {
				v, _ := totohttp.FromContext(r.Context()).GetJSON(k)
				return v
			})),
		"service": svc,
	}
}

// benchSession logs a user in and stores benchValue under "cart" in its session.
func benchSession(mgr *toto.Manager) (id, key string, err error) {
	ctx := context.Background()
	if err := mgr.CreateAccount(ctx, "bench", "pw", nil); err != nil && !isExists(err) {
		return "", "", err
	}
	s, err := mgr.Login(ctx, "bench", "pw")
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	key, _ = s.Key()
	if err := s.Set("cart", benchValue); err != nil {
		return "", "", err
	}
	if err := mgr.SaveSession(ctx, s); err != nil {
		return "", "", err
	}
	return s.ID(), key, nil
}

// serverEnv names the handler a child process of the test binary serves (see
// TestMain): the over-HTTP benchmark runs each server in a process of its own, so the
// figure is the server's CPU alone, not the client's as well.
const serverEnv = "TOTOHTTP_BENCH_SERVER"

// cpuPath answers the server process's CPU time (user + system, ns) so far.
const cpuPath = "/__cpu"

// benchServer is what a child server prints on its first line.
type benchServer struct {
	URL, ID, Key string
}

// serveBench runs in a child process: it builds the named handler over its own
// manager and session, listens on a loopback port, prints a benchServer line and
// serves until its standard input closes (the parent has gone).
func serveBench(name string) int {
	mgr, err := newBenchManager()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	id, key, err := benchSession(mgr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h, ok := benchHandlers(mgr, id)[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "no handler %q\n", name)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == cpuPath {
			fmt.Fprint(w, cpuTime())
			return
		}
		h.ServeHTTP(w, r)
	})}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = srv.Close()
	}()
	_ = json.NewEncoder(os.Stdout).Encode(benchServer{URL: "http://" + ln.Addr().String(), ID: id, Key: key})
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestMain(m *testing.M) {
	if name := os.Getenv(serverEnv); name != "" {
		os.Exit(serveBench(name))
	}
	os.Exit(m.Run())
}

// startServer starts this test binary as a child server of the named handler.
func startServer(b *testing.B, name string) benchServer {
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	// One P: an idle Go runtime with two spins looking for work between requests,
	// CPU time that would count against whichever server it happens in.
	cmd.Env = append(os.Environ(), serverEnv+"="+name, "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	var srv benchServer
	if err := json.NewDecoder(stdout).Decode(&srv); err != nil {
		b.Fatalf("server %s: %v", name, err)
	}
	return srv
}

// serverCPU asks a child server for its CPU time so far.
func serverCPU(b *testing.B, client *http.Client, url string) int64 {
	resp, err := client.Get(url + cpuPath)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	ns, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		b.Fatalf("cpu answer %q", raw)
	}
	return ns
}

// BenchmarkSignedStateGetOverHTTP: what the middleware adds to a server's CPU per
// request over real HTTP (loopback, keep-alive), each server a child process of this
// binary (TestMain), the bare and the middleware server alternating in chunks of 100
// requests (a load change on the machine then falls on both sides). Reports the
// median over chunk pairs of the difference (added-cpu-ns/op) and each side's median
// (bare-cpu-ns/op, middleware-cpu-ns/op); ns/op is the wall time of one request to
// each. `make bench` runs it on one CPU (taskset): with client and servers on two
// CPUs the servers' CPU time is mostly wake-ups and moved 25 us between runs.
func BenchmarkSignedStateGetOverHTTP(b *testing.B) {
	const chunk = 100
	want := []byte(`{"result":{"value":{"items":["apple","pear"],"total":3}}`)
	body := call("state.get", map[string]string{"key": "cart"})
	type side struct {
		srv    benchServer
		client *http.Client
		sig    string
		last   int64
		perReq []float64
	}
	sides := [2]*side{}
	for i, name := range []string{"bare", "middleware"} {
		srv := startServer(b, name)
		mac := hmac.New(sha1.New, []byte(srv.Key))
		mac.Write([]byte("POST/"))
		mac.Write(body)
		sides[i] = &side{srv: srv, client: &http.Client{}, sig: base64.StdEncoding.EncodeToString(mac.Sum(nil))}
	}
	send := func(sd *side, n int) {
		for i := 0; i < n; i++ {
			req, _ := http.NewRequest("POST", sd.srv.URL+"/", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("x-toto-session-id", sd.srv.ID)
			req.Header.Set("x-toto-hmac", sd.sig)
			resp, err := sd.client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if i == 0 && !bytes.HasPrefix(out, want) {
				b.Fatalf("answer %s", out)
			}
		}
	}
	for _, sd := range sides {
		send(sd, chunk) // warm both servers and their connections
		sd.last = serverCPU(b, sd.client, sd.srv.URL)
	}
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		for _, sd := range sides {
			send(sd, chunk)
			now := serverCPU(b, sd.client, sd.srv.URL)
			sd.perReq = append(sd.perReq, float64(now-sd.last)/chunk)
			sd.last = now
		}
	}
	b.StopTimer()
	added := make([]float64, len(sides[0].perReq))
	for i := range added {
		added[i] = sides[1].perReq[i] - sides[0].perReq[i]
	}
	b.ReportMetric(median(added), "added-cpu-ns/op")
	b.ReportMetric(median(sides[0].perReq), "bare-cpu-ns/op")
	b.ReportMetric(median(sides[1].perReq), "middleware-cpu-ns/op")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// The same three handlers called in process (httptest.NewRecorder, no sockets): the
// layer's own cost without loopback HTTP noise.
func BenchmarkSignedStateGetInProcess(b *testing.B) {
	mgr := benchManager(b)
	id, key, err := benchSession(mgr)
	if err != nil {
		b.Fatal(err)
	}
	body := call("state.get", map[string]string{"key": "cart"})
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte("POST/"))
	m.Write(body)
	sig := base64.StdEncoding.EncodeToString(m.Sum(nil))
	handlers := benchHandlers(mgr, id)

	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", handlers["bare"]}, {"middleware", handlers["middleware"]}, {"service", handlers["service"]}} {
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
