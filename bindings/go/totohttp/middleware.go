package totohttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// Toto's wire names.
const (
	HeaderSessionID = "x-toto-session-id"
	HeaderHMAC      = "x-toto-hmac"
	CookieName      = "toto-session-id"
)

// The header names as net/http keys them (textproto's canonical form), computed once:
// Header.Get and Set canonicalize the lower-case names above, allocating, on every
// request; an already canonical key is used as it is.
var (
	keySessionID = http.CanonicalHeaderKey(HeaderSessionID)
	keyHMAC      = http.CanonicalHeaderKey(HeaderHMAC)
)

// HMACPolicy says when requests must be signed and answers are signed.
type HMACPolicy int

const (
	// HMACOff: nothing is verified or signed, logins make sessions without a key
	// (Toto's default, hmac_enabled = False).
	HMACOff HMACPolicy = iota
	// HMACIfKey: a request naming a session that has a key must carry its signature;
	// answers with such a session are signed; logins make sessions with a key (Toto's
	// hmac_enabled = True, where every session has a key).
	HMACIfKey
	// HMACRequired: as HMACIfKey, and a request naming a session without a key fails
	// with 1008 (Toto's verify fails on an empty key).
	HMACRequired
)

// DefaultMaxBodyBytes bounds request bodies read for verification (Options.MaxBodyBytes).
const DefaultMaxBodyBytes = 10 << 20

// Options configure the middleware. The zero value is Toto's defaults: header
// transport only, HMAC off, no CORS.
type Options struct {
	// HMAC is the signing policy (default HMACOff, as in Toto).
	HMAC HMACPolicy
	// Cookies also reads the session id from the toto-session-id cookie (after the
	// header) and sets the cookie on every answer that has a session (Toto's
	// use_cookies).
	Cookies bool
	// CookieDomain is the cookie's Domain attribute ("" = none; Toto's cookie_domain).
	CookieDomain string
	// CookieSecure marks the cookie Secure (HTTPS only). The cookie is always
	// HttpOnly with SameSite=Lax and Path=/.
	CookieSecure bool
	// AllowOrigins turns on CORS: OPTIONS requests are answered as Toto's handler does
	// and other answers carry access-control-allow-origin and
	// access-control-expose-headers: x-toto-hmac. "*" allows any origin (Toto's
	// default allow_origin); otherwise a request's Origin that is listed is echoed.
	// nil leaves CORS alone.
	AllowOrigins []string
	// MaxBodyBytes bounds a request body read for HMAC verification
	// (0 = DefaultMaxBodyBytes); a larger body is answered with 413.
	MaxBodyBytes int64
	// Unbuffered selects requests whose answers are streamed rather than buffered:
	// they are not signed, and the session is saved (and the cookie set) before the
	// first byte is written, then again after the handler if it changed once more.
	Unbuffered func(*http.Request) bool
	// Log receives internal errors (the client sees only code 1000); nil: log.Printf.
	Log func(format string, args ...any)
}

// Sessions is a configured session layer over a manager; its Middleware wraps
// handlers. Safe for concurrent use.
type Sessions struct {
	mgr  *toto.Manager
	opts Options
	any  bool // AllowOrigins contains "*"
}

// New makes the session layer over mgr (which it does not close).
func New(mgr *toto.Manager, opts Options) *Sessions {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &Sessions{mgr: mgr, opts: opts}
	for _, o := range opts.AllowOrigins {
		if o == "*" {
			s.any = true
		}
	}
	return s
}

// Manager is the manager the layer works on.
func (s *Sessions) Manager() *toto.Manager { return s.mgr }

// Options are the layer's settings.
func (s *Sessions) Options() Options { return s.opts }

func (s *Sessions) logf(format string, args ...any) {
	if s.opts.Log != nil {
		s.opts.Log(format, args...)
		return
	}
	log.Printf(format, args...)
}

// state is one request's session state, shared by the middleware and the handler
// through the context.
//
// The state is itself the request's context (it extends the one the request came
// with, and answers Value(ctxKey{}) with itself), and holds the buffered answer and
// room for one owned session: one allocation per request for all three.
type state struct {
	context.Context
	s       *Sessions
	mu      sync.Mutex
	sess    *toto.Session   // the request's session, nil for none
	removed bool            // Logout removed sess: never saved again
	owned   []*toto.Session // closed when the request ends
	first   [1]*toto.Session
	bw      bufferedWriter // the answer, when buffered
	body    bodyReader     // the request body, when read for its mac
	mac     string         // the answer's x-toto-hmac ("": none), when save made it
	macFor  *toto.Session  // the session save signed the answer with, or nil
}

func newState(ctx context.Context, s *Sessions) *state {
	st := &state{Context: ctx, s: s}
	st.owned = st.first[:0]
	return st
}

type ctxKey struct{}

// Value is the context's: the state itself for ctxKey{}.
func (st *state) Value(key any) any {
	if _, ok := key.(ctxKey); ok {
		return st
	}
	return st.Context.Value(key)
}

func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(ctxKey{}).(*state)
	return st
}

// FromContext is the request's session: nil when the request has none (no id, or an
// unknown, expired or removed one). After Logout it is still the removed session (so
// that the answer can name and sign it), but Live reports false. The session is
// closed when the request ends: do not keep it.
func FromContext(ctx context.Context) *toto.Session {
	st := stateOf(ctx)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.sess
}

// Live is the request's session unless there is none or Logout removed it.
func Live(ctx context.Context) *toto.Session {
	st := stateOf(ctx)
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.removed {
		return nil
	}
	return st.sess
}

var errNoMiddleware = errors.New("totohttp: the request did not pass through Sessions.Middleware")

func (st *state) replace(sess *toto.Session) {
	st.mu.Lock()
	st.sess = sess
	st.removed = false
	st.owned = append(st.owned, sess)
	st.mu.Unlock()
}

// Login checks the password and makes a new session the request's session (it signs
// the answer and goes into the cookie). The session has an HMAC key unless the
// policy is HMACOff. ErrInvalidCredentials (1005) for a bad user id or password.
func Login(ctx context.Context, userID, password string) (*toto.Session, error) {
	st := stateOf(ctx)
	if st == nil {
		return nil, errNoMiddleware
	}
	sess, err := st.s.mgr.Login(ctx, userID, password)
	if err != nil {
		return nil, err
	}
	if st.s.opts.HMAC == HMACOff {
		// Toto makes sessions without a key when HMAC is off; the manager's login
		// always makes one, so drop it (the middleware saves the dirty session).
		if err := sess.SetKey(""); err != nil {
			sess.Close()
			return nil, err
		}
	}
	st.replace(sess)
	return sess, nil
}

// CreateSession creates a session for userID without a password check ("" makes an
// anonymous one, as Toto's @anonymous_session) and makes it the request's session. A
// user session gets an HMAC key unless the policy is HMACOff (give it to the client);
// an anonymous session never has one, since no answer would tell the client the key
// (Toto gives it one that no client can learn, so its next signed request fails).
func CreateSession(ctx context.Context, userID string) (*toto.Session, error) {
	st := stateOf(ctx)
	if st == nil {
		return nil, errNoMiddleware
	}
	sess, err := st.s.mgr.CreateSession(ctx, userID, st.s.opts.HMAC != HMACOff && userID != "")
	if err != nil {
		return nil, err
	}
	st.replace(sess)
	return sess, nil
}

// Logout removes the request's session from the cache. The answer still names it
// (and is signed with its key, as in Toto), but it is not saved again and the cookie
// is cleared. No session is not an error.
func Logout(ctx context.Context) error {
	st := stateOf(ctx)
	if st == nil {
		return errNoMiddleware
	}
	st.mu.Lock()
	sess, removed := st.sess, st.removed
	st.mu.Unlock()
	if sess == nil || removed {
		return nil
	}
	if err := st.s.mgr.RemoveSession(ctx, sess.ID()); err != nil {
		return err
	}
	st.mu.Lock()
	st.removed = true
	st.mu.Unlock()
	return nil
}

func (st *state) close() {
	st.mu.Lock()
	owned := st.owned
	st.owned = nil
	st.mu.Unlock()
	for _, s := range owned {
		s.Close()
	}
}

// sessionID is the id the request names: the header first, then the cookie.
func (s *Sessions) sessionID(r *http.Request) string {
	if id := r.Header.Get(keySessionID); id != "" {
		return id
	}
	if s.opts.Cookies {
		if c, err := r.Cookie(CookieName); err == nil {
			return c.Value
		}
	}
	return ""
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Middleware wraps next with the session layer (see the package doc).
func (s *Sessions) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.AllowOrigins != nil && r.Method == http.MethodOptions {
			s.preflight(w, r)
			return
		}
		st := newState(r.Context(), s)
		defer st.close()
		r = r.WithContext(st)

		var loadErr error
		if id := s.sessionID(r); id != "" {
			loadErr = s.load(w, r, st, id)
		}

		if s.opts.Unbuffered != nil && s.opts.Unbuffered(r) && loadErr == nil {
			s.serveUnbuffered(w, r, st, next)
			return
		}

		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= 1<<20 {
				bufPool.Put(buf)
			}
		}()
		bw := &st.bw
		*bw = bufferedWriter{header: w.Header(), buf: buf}
		if loadErr != nil {
			s.writeError(bw, st, loadErr)
		} else {
			next.ServeHTTP(bw, r)
			if err := s.save(st, true, bw.buf.Bytes()); err != nil {
				// The handler's answer claims a change that was not stored: answer
				// with the failure instead (the answer is still only in memory).
				for k := range bw.header {
					delete(bw.header, k)
				}
				bw.buf.Reset()
				bw.status = 0
				s.writeError(bw, st, err)
			}
		}
		s.finish(w, r, st, bw)
	})
}

// load retrieves and renews the session named id into st and applies the HMAC policy;
// the error is the one to answer with (nil: serve the request). An unknown, expired
// or removed id is no session (Toto). A request carrying a mac, with a body of a
// declared length within MaxBodyBytes, is retrieved and verified in one library call
// (Manager.VerifyRequest); any other request, and one that call refuses for its mac,
// takes the session first and is then checked against it, so that a refusal is
// answered with the session (and signed when it has a key).
func (s *Sessions) load(w http.ResponseWriter, r *http.Request, st *state, id string) error {
	mac := r.Header.Get(keyHMAC)
	if s.opts.HMAC != HMACOff && mac != "" && r.ContentLength >= 0 && r.ContentLength <= s.opts.MaxBodyBytes {
		body, err := takeBody(w, r, s.opts.MaxBodyBytes, &st.body)
		if err != nil {
			return s.refuse(r, st, id, errBodyTooLarge)
		}
		sess, err := s.mgr.VerifyRequest(r.Context(), id, mac, r.Method, requestURI(r), body)
		switch {
		case err == nil:
			st.replace(sess)
			return nil
		case errors.Is(err, toto.ErrInvalidSessionID):
			return nil
		case !errors.Is(err, toto.ErrInvalidHMAC):
			return err
		}
		// A wrong mac, or a session without a key (which HMACIfKey lets through).
		sess, err = s.retrieve(r, st, id)
		if sess == nil || err != nil {
			return err
		}
		if _, has := sess.Key(); !has && s.opts.HMAC == HMACIfKey {
			return nil
		}
		return toto.ErrInvalidHMAC
	}
	sess, err := s.retrieve(r, st, id)
	if sess == nil || err != nil {
		return err
	}
	return s.verify(w, r, st, sess)
}

// retrieve retrieves and renews the session named id into st (nil, nil: none).
func (s *Sessions) retrieve(r *http.Request, st *state, id string) (*toto.Session, error) {
	sess, err := s.mgr.RetrieveSession(r.Context(), id)
	switch {
	case err == nil:
		st.replace(sess)
		return sess, nil
	case errors.Is(err, toto.ErrInvalidSessionID):
		return nil, nil
	default:
		return nil, err
	}
}

// refuse answers a request whose body could not be read with err, with its session
// (if any) in st so that the answer is signed.
func (s *Sessions) refuse(r *http.Request, st *state, id string, err error) error {
	if _, rerr := s.retrieve(r, st, id); rerr != nil {
		return rerr
	}
	return err
}

// verify applies the HMAC policy to a request naming sess; the body is read (up to
// MaxBodyBytes) and put back for the handler.
func (s *Sessions) verify(w http.ResponseWriter, r *http.Request, st *state, sess *toto.Session) error {
	if s.opts.HMAC == HMACOff {
		return nil
	}
	if s.opts.HMAC == HMACIfKey {
		if _, has := sess.Key(); !has {
			return nil
		}
	}
	body, err := takeBody(w, r, s.opts.MaxBodyBytes, &st.body)
	if err != nil {
		return errBodyTooLarge
	}
	return sess.VerifyRequest(r.Header.Get(keyHMAC), r.Method, requestURI(r), body)
}

// takeBody reads r's body (up to limit bytes) and puts it back for the handler, in br.
func takeBody(w http.ResponseWriter, r *http.Request, limit int64, br *bodyReader) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := readBody(w, r, limit)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	br.Reset(body)
	r.Body = br
	return body, nil
}

// bodyReader is a body read whole, put back for the handler (kept in the request's
// state: no allocation where io.NopCloser around a bytes.Reader takes two).
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

// requestURI is Toto's request URI: the raw path with its query string.
func requestURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// readBody reads r's body, at most limit bytes, into one buffer sized by the declared
// Content-Length when there is one (io.ReadAll would start small and grow).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= limit {
		// At most n+1 bytes are read: no MaxBytesReader needed.
		buf := make([]byte, n, n+1)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		// Anything beyond the declared length is an error, as net/http reports it.
		if extra, err := r.Body.Read(buf[n : n+1]); extra > 0 || (err != nil && err != io.EOF) {
			return nil, errBodyTooLarge
		}
		return buf, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}

var errBodyTooLarge = &Error{Code: toto.CodeServerError, Value: "Request body too large"}

// save writes the request's session when it changed and was not removed. With `sign`
// (the whole answer buffered) and HMAC on, it also signs `answer` in the same library
// call (Manager.FinishResponse: st.mac, st.macFor). A client that went away must not
// lose the change, so the request's cancellation is not applied.
func (s *Sessions) save(st *state, sign bool, answer []byte) error {
	st.mu.Lock()
	sess, removed := st.sess, st.removed
	st.mu.Unlock()
	if sess == nil || removed {
		return nil
	}
	if sign && s.opts.HMAC != HMACOff {
		mac, err := s.mgr.FinishResponse(context.Background(), sess, answer)
		if err == nil {
			st.mac, st.macFor = mac, sess
			return nil
		}
		if !errors.Is(err, toto.ErrTooLarge) && !errors.Is(err, toto.ErrClosed) {
			return err
		}
		// Refused before anything was saved (an answer too long to sign, a session the
		// handler closed): as without HMAC (finish reports that it cannot sign it).
	}
	if !sess.IsDirty() {
		return nil
	}
	return s.mgr.SaveSession(context.Background(), sess)
}

// finish sends the buffered answer: CORS headers, cookie, signature, body.
func (s *Sessions) finish(w http.ResponseWriter, r *http.Request, st *state, bw *bufferedWriter) {
	h := w.Header()
	s.corsHeaders(h, r)
	st.mu.Lock()
	sess, removed := st.sess, st.removed
	st.mu.Unlock()
	s.cookie(w, sess, removed)
	body := bw.buf.Bytes()
	// The two header values this adds share one slice (each key gets its own
	// one-element window; the keys are canonical, as Set would store them).
	values := make([]string, 2)
	if st.macFor != nil && st.macFor == sess {
		// save signed it (Manager.FinishResponse); "" for a session without a key
		if st.mac != "" {
			values[0] = st.mac
			h[keyHMAC] = values[0:1:1]
		}
	} else if sess != nil && s.opts.HMAC != HMACOff {
		// One call: a session without a key answers ErrInvalidHMAC (not signed).
		if mac, err := sess.SignResponse(body); err == nil {
			values[0] = mac
			h[keyHMAC] = values[0:1:1]
		} else if !errors.Is(err, toto.ErrInvalidHMAC) {
			s.logf("totohttp: signing the answer: %v", err)
		}
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", http.DetectContentType(body))
	}
	values[1] = strconv.Itoa(len(body))
	h["Content-Length"] = values[1:2:2]
	status := bw.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if len(body) > 0 && r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// cookie sets (or, after Logout, clears) the session cookie.
func (s *Sessions) cookie(w http.ResponseWriter, sess *toto.Session, removed bool) {
	if !s.opts.Cookies || sess == nil {
		return
	}
	c := &http.Cookie{Name: CookieName, Path: "/", Domain: s.opts.CookieDomain,
		Secure: s.opts.CookieSecure, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if removed {
		c.MaxAge = -1
	} else {
		c.Value = sess.ID()
		// Toto: expires_days = ceil(ttl / 86400), counted from now.
		ttl := sess.ExpiresUnix() - float64(time.Now().UnixNano())/1e9
		days := math.Ceil(ttl / 86400)
		if days < 1 {
			days = 1
		}
		c.Expires = time.Now().Add(time.Duration(days) * 24 * time.Hour).UTC()
	}
	http.SetCookie(w, c)
}

// Toto's CORS answers.
const (
	corsAllowHeaders = "x-toto-hmac,x-toto-session-id,origin,content-type"
	corsMethods      = "POST,OPTIONS,GET,HEAD"
)

// allowOrigin is the access-control-allow-origin value for r ("" = none).
func (s *Sessions) allowOrigin(r *http.Request) string {
	if s.any {
		return "*"
	}
	origin := r.Header.Get("Origin")
	for _, o := range s.opts.AllowOrigins {
		if o == origin && origin != "" {
			return origin
		}
	}
	return ""
}

func (s *Sessions) corsHeaders(h http.Header, r *http.Request) {
	if s.opts.AllowOrigins == nil {
		return
	}
	if o := s.allowOrigin(r); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		if o != "*" {
			h.Add("Vary", "Origin")
		}
	}
	h.Set("Access-Control-Expose-Headers", HeaderHMAC)
}

// preflight answers OPTIONS as Toto's handler.options does.
func (s *Sessions) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	allowed := corsAllowHeaders
	seen := map[string]bool{"x-toto-hmac": true, "x-toto-session-id": true, "origin": true, "content-type": true}
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		for _, name := range strings.Split(strings.ToLower(strings.ReplaceAll(req, " ", "")), ",") {
			if name != "" && !seen[name] {
				seen[name] = true
				allowed += "," + name
			}
		}
	}
	h.Set("Access-Control-Allow-Headers", allowed)
	if m := r.Header.Get("Access-Control-Request-Method"); m != "" && !strings.Contains(","+corsMethods+",", ","+m+",") {
		writeEnvelope(w, http.StatusMethodNotAllowed, nil, &Error{Code: toto.CodeServerError, Value: "Method not supported"}, nil)
		return
	}
	if o := s.allowOrigin(r); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		if o != "*" {
			h.Add("Vary", "Origin")
		}
	}
	h.Set("Access-Control-Allow-Methods", corsMethods)
	h.Set("Access-Control-Expose-Headers", HeaderHMAC)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// writeError answers err as Toto's envelope, naming the request's session.
func (s *Sessions) writeError(w http.ResponseWriter, st *state, err error) {
	e := s.wireError(err)
	status := http.StatusOK
	if err == errBodyTooLarge {
		status = http.StatusRequestEntityTooLarge
	}
	st.mu.Lock()
	sess := st.sess
	st.mu.Unlock()
	writeEnvelope(w, status, nil, e, sessionInfo(sess))
}

// bufferedWriter collects the handler's answer for signing.
type bufferedWriter struct {
	header http.Header
	buf    *bytes.Buffer
	status int
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.Write(p)
}

func (b *bufferedWriter) WriteString(p string) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.buf.WriteString(p)
}

// serveUnbuffered runs next with a pass-through writer (Options.Unbuffered).
func (s *Sessions) serveUnbuffered(w http.ResponseWriter, r *http.Request, st *state, next http.Handler) {
	sw := &streamWriter{ResponseWriter: w, before: func() {
		if err := s.save(st, false, nil); err != nil {
			s.logf("totohttp: saving the session: %v", err)
		}
		s.corsHeaders(w.Header(), r)
		st.mu.Lock()
		sess, removed := st.sess, st.removed
		st.mu.Unlock()
		s.cookie(w, sess, removed)
	}}
	next.ServeHTTP(sw, r)
	sw.start()
	if err := s.save(st, false, nil); err != nil {
		s.logf("totohttp: saving the session: %v", err)
	}
}

// streamWriter runs before once, just before the first byte of the answer.
type streamWriter struct {
	http.ResponseWriter
	before  func()
	started bool
}

func (sw *streamWriter) start() {
	if !sw.started {
		sw.started = true
		sw.before()
	}
}

func (sw *streamWriter) WriteHeader(status int) {
	sw.start()
	sw.ResponseWriter.WriteHeader(status)
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.start()
	return sw.ResponseWriter.Write(p)
}

// Flush sends what was written so far (when the underlying writer can).
func (sw *streamWriter) Flush() {
	sw.start()
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
