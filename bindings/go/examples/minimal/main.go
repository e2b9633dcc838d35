// Command minimal is the example program of docs/go-http.md: Toto's protocol under
// /api/ and a plain handler that uses the session middleware.
package main

import (
	"log"
	"net/http"

	"github.com/toto-session/toto-session/bindings/go/toto"
	"github.com/toto-session/toto-session/bindings/go/totohttp"
)

func main() {
	cache, err := toto.NewMemoryCache()
	if err != nil {
		log.Fatal(err)
	}
	store, err := toto.NewMemoryAccountStore()
	if err != nil {
		log.Fatal(err)
	}
	mgr, err := toto.NewManager(cache, store)
	if err != nil {
		log.Fatal(err)
	}
	defer mgr.Close()

	// Toto's protocol (account.create/login/logout/update built in) plus one method.
	svc := totohttp.NewService(mgr, totohttp.ServiceOptions{
		Options: totohttp.Options{HMAC: totohttp.HMACRequired},
	})
	svc.HandleFunc("greet", totohttp.Authenticated, func(c *totohttp.Call) (any, error) {
		return "hello, " + c.Session().UserID(), nil
	})

	// Any handler can have sessions: the middleware loads, verifies, saves and signs.
	sessions := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACIfKey})
	visits := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := totohttp.FromContext(r.Context())
		if sess == nil {
			totohttp.WriteError(w, r, totohttp.NewError(toto.CodeNotAuthorized))
			return
		}
		n, _ := sess.GetInt64("visits")
		if err := sess.SetInt64("visits", n+1); err != nil { // saved after the handler
			totohttp.WriteError(w, r, err)
			return
		}
		totohttp.WriteResult(w, r, n+1)
	})

	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", svc)) // POST /api/greet is "greet"
	mux.Handle("/visits", sessions.Middleware(visits))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
