// Package totohttp puts toto-session sessions into net/http services, and serves
// Toto's method protocol (Toto 1.0.10's handler.py) on top of them, so unmodified
// Toto clients work against a Go service.
//
// # The middleware
//
// Sessions.Middleware wraps any http.Handler (an http.ServeMux, a router's handler):
//
//	sessions := totohttp.New(mgr, totohttp.Options{HMAC: totohttp.HMACIfKey})
//	http.ListenAndServe(":8080", sessions.Middleware(mux))
//
// For every request it
//
//   - takes the session id from the x-toto-session-id header or, with
//     Options.Cookies, from the toto-session-id cookie (the header wins);
//   - retrieves the session, which renews it by Toto's rule; an unknown, expired or
//     removed id simply means "no session", as in Toto;
//   - verifies the request's x-toto-hmac (base64 HMAC-SHA1 with the session key over
//     METHOD + URI + BODY) as Options.HMAC says: HMACOff (Toto's default), HMACIfKey
//     (when the session has a key) or HMACRequired (a session without a key fails);
//     a failure is answered with Toto's error envelope, code 1008;
//   - gives the handler the session through FromContext(r.Context());
//   - after the handler, saves the session only when it changed (the session's dirty
//     flag), and never after Logout;
//   - signs the response when HMAC is on and the session has a key: x-toto-hmac =
//     base64(HMAC-SHA1(key, SESSION_ID + BODY)) over the exact body bytes written;
//   - with cookies on, sets the toto-session-id cookie on every response that has a
//     session (expiring after ceil(ttl / 1 day) days, optional Domain) and clears it
//     after Logout;
//   - with Options.AllowOrigins, answers CORS preflights (OPTIONS) as Toto does and
//     adds access-control-allow-origin and access-control-expose-headers to every
//     other answer.
//
// Errors of the middleware itself (bad HMAC, a failing cache, a failed save) reach the
// client as Toto's envelope {"error": {"code": N, "value": "text"}} with HTTP status
// 200 as in Toto, plus the "session" object and a signature when a key is known.
//
// Handlers change the request's session through Login, CreateSession and Logout (the
// new session is the one that signs the answer and goes into the cookie). Sessions
// belong to the request: the middleware closes them when the request ends.
//
// # Buffering and streaming
//
// Signing requires the whole body, so the middleware buffers the response: the
// handler's writes go to memory and reach the client after the handler returns. The
// writer it passes down implements neither http.Flusher nor http.Hijacker. Mount
// streaming handlers (server-sent events, large downloads, WebSockets) outside the
// middleware, or set Options.Unbuffered for them: such requests get their session
// (loaded, verified, saved before the first byte is sent), but their answers are not
// signed.
//
// The middleware is safe for concurrent requests; each request has its own state.
//
// # Toto's method protocol
//
// Service is an http.Handler that speaks Toto's protocol: POST {"method",
// "parameters"} (or form-encoded parameters), GET and HEAD with query-string
// parameters, the method from the URL path (/a/b is a.b), batch requests, CORS, Toto's
// four account methods (account.create, account.login, account.logout,
// account.update) and the methods you register. It wraps itself in the middleware.
package totohttp
