package totohttp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

// A plain handler under the middleware: the session comes from the request's context
// and is saved after the handler because it changed.
func ExampleSessions_Middleware() {
	cache, _ := toto.NewMemoryCache()
	store, _ := toto.NewMemoryAccountStore()
	mgr, err := toto.NewManager(cache, store)
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()

	visits := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := totohttp.FromContext(r.Context())
		if sess == nil {
			totohttp.WriteError(w, r, totohttp.NewError(toto.CodeNotAuthorized))
			return
		}
		n, _ := sess.GetInt64("visits")
		_ = sess.SetInt64("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	srv := httptest.NewServer(totohttp.New(mgr, totohttp.Options{}).Middleware(visits))
	defer srv.Close()

	sess, _ := mgr.CreateSession(context.Background(), "alice", false)
	get := func(id string) string {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.Header.Set(totohttp.HeaderSessionID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(body))
	}
	fmt.Println(get(sess.ID()))
	fmt.Println(get(sess.ID()))
	fmt.Println(get("no-such-session"))
	// Output:
	// visit 1
	// visit 2
	// {"error":{"code":1004,"value":"Not authorized"}}
}
