// Package server is the handler of the example Toto service: Toto's method-call
// protocol over net/http, with sessions, accounts and HMAC signing from toto-session.
//
// A request is a POST with a JSON body {"method": ..., "parameters": {...}}. A client
// with a session sends its id in x-toto-session-id and signs the request in
// x-toto-hmac: base64(HMAC-SHA1(key, METHOD + URI + BODY)). Every answer is
//
//	{"result": ..., "session": {"session_id", "expires", "user_id"}}
//	{"error": {"code", "value"}, ...}
//
// and, when the session has a key, is signed in x-toto-hmac: base64(HMAC-SHA1(key,
// SESSION_ID + BODY)) over the exact body bytes. The key itself is sent only by the
// methods that log in (account.create, account.login).
//
// Methods: account.create {user_id, password}, account.login {user_id, password},
// account.logout, state.get {key}, state.set {key, value}.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"strconv"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// Toto's protocol headers.
const (
	HeaderSessionID = "x-toto-session-id"
	HeaderHMAC      = "x-toto-hmac"
)

// MaxBodyBytes bounds a request body (the library refuses values over 1 MiB anyway).
const MaxBodyBytes = 2 << 20

// Server answers Toto method calls. It is an http.Handler, safe for concurrent use.
type Server struct {
	mgr     *toto.Manager
	methods map[string]method
	// Log receives details of internal errors (which the client sees only as 1000);
	// nil means log.Printf.
	Log func(format string, args ...any)
}

// call is one method invocation.
type call struct {
	params  json.RawMessage
	session *toto.Session // verified session of the request, or nil
	// login is set by methods that log in: the answer carries this session with key.
	login *toto.Session
	// loggedOut is set by account.logout: the answer carries no session.
	loggedOut bool
}

type method struct {
	needsSession bool
	run          func(s *Server, ctx context.Context, c *call) (any, error)
}

// New makes the handler over mgr (which it does not close).
func New(mgr *toto.Manager) *Server {
	return &Server{mgr: mgr, methods: map[string]method{
		"account.create": {false, (*Server).accountCreate},
		"account.login":  {false, (*Server).accountLogin},
		"account.logout": {true, (*Server).accountLogout},
		"state.get":      {true, (*Server).stateGet},
		"state.set":      {true, (*Server).stateSet},
	}}
}

// NewMemoryManager makes a manager over the built-in memory cache and account store,
// the example's default backends.
func NewMemoryManager(opts ...toto.Option) (*toto.Manager, error) {
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
	return toto.NewManager(cache, store, opts...)
}

// protocolError is an error the client sees with its code and text.
type protocolError struct {
	code toto.Code
	text string
}

func (e *protocolError) Error() string { return e.text }

func fail(code toto.Code) error { return &protocolError{code, code.String()} }

type request struct {
	Method     string          `json:"method"`
	Parameters json.RawMessage `json:"parameters"`
}

type sessionJSON struct {
	SessionID string  `json:"session_id"`
	Expires   float64 `json:"expires"`
	UserID    string  `json:"user_id"`
	Key       string  `json:"key,omitempty"`
}

type errorJSON struct {
	Code  toto.Code `json:"code"`
	Value string    `json:"value"`
}

type response struct {
	Result  any          `json:"result,omitempty"`
	Error   *errorJSON   `json:"error,omitempty"`
	Session *sessionJSON `json:"session,omitempty"`
}

func (s *Server) logf(format string, args ...any) {
	if s.Log != nil {
		s.Log(format, args...)
		return
	}
	log.Printf(format, args...)
}

// ServeHTTP answers one method call.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Toto method calls are POSTed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return
	}
	c := &call{}
	result, err := s.dispatch(r, body, c)
	defer func() {
		for _, sess := range []*toto.Session{c.session, c.login} {
			if sess != nil {
				sess.Close()
			}
		}
	}()

	var resp response
	signer := c.session // the session that signs the answer
	if c.login != nil {
		signer = c.login
	}
	if err != nil {
		resp.Error = s.wireError(err)
	} else {
		resp.Result = result
		if result == nil {
			resp.Result = json.RawMessage("null")
		}
	}
	if signer != nil && !c.loggedOut {
		resp.Session = &sessionJSON{SessionID: signer.ID(), Expires: signer.ExpiresUnix(), UserID: signer.UserID()}
		if c.login != nil {
			resp.Session.Key, _ = c.login.Key()
		}
	}
	out, err := json.Marshal(resp)
	if err != nil {
		s.logf("toto server: encoding the answer: %v", err)
		out, _ = json.Marshal(response{Error: &errorJSON{toto.CodeServerError, toto.CodeServerError.String()}})
	}
	if signer != nil {
		if _, has := signer.Key(); has {
			mac, err := signer.SignResponse(out)
			if err != nil {
				s.logf("toto server: signing the answer: %v", err)
			} else {
				w.Header().Set(HeaderHMAC, mac)
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

func (s *Server) dispatch(r *http.Request, body []byte, c *call) (any, error) {
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &protocolError{toto.CodeServerError, "Invalid JSON body"}
	}
	if req.Method == "" {
		return nil, fail(toto.CodeMissingMethod)
	}
	m, ok := s.methods[req.Method]
	if !ok {
		return nil, fail(toto.CodeInvalidMethod)
	}
	c.params = req.Parameters
	ctx := r.Context()

	// A request that carries a session must prove it (1007 unknown, 1008 bad HMAC);
	// the methods that log in ignore any session they are sent.
	if sid := r.Header.Get(HeaderSessionID); sid != "" && m.needsSession {
		uri := r.RequestURI
		if uri == "" {
			uri = r.URL.RequestURI()
		}
		sess, err := s.mgr.VerifyRequest(ctx, sid, r.Header.Get(HeaderHMAC), r.Method, uri, body)
		if err != nil {
			return nil, err
		}
		c.session = sess
	}
	if m.needsSession && c.session == nil {
		return nil, fail(toto.CodeNotAuthorized)
	}
	result, err := m.run(s, ctx, c)
	if err == nil && c.session != nil && !c.loggedOut && c.session.IsDirty() {
		err = s.mgr.SaveSession(ctx, c.session)
	}
	return result, err
}

// wireError maps an error to Toto's {"code", "value"}: protocol errors and the
// library's Toto codes (1004..1010) as they are, anything else as 1000 (details logged,
// not sent).
func (s *Server) wireError(err error) *errorJSON {
	var pe *protocolError
	if errors.As(err, &pe) {
		return &errorJSON{pe.code, pe.text}
	}
	code := toto.CodeOf(err)
	if code >= toto.CodeNotAuthorized && code <= toto.CodeInvalidUserID {
		return &errorJSON{code, code.String()}
	}
	s.logf("toto server: %v", err)
	return &errorJSON{toto.CodeServerError, toto.CodeServerError.String()}
}

// params decodes the call's parameters into dst; required names must be present and
// non-empty (1003 otherwise).
func params(c *call, dst any, required ...string) error {
	if len(c.params) == 0 {
		return fail(toto.CodeMissingParams)
	}
	var present map[string]json.RawMessage
	if err := json.Unmarshal(c.params, &present); err != nil {
		return fail(toto.CodeMissingParams)
	}
	for _, name := range required {
		if v, ok := present[name]; !ok || string(v) == "null" || string(v) == `""` {
			return &protocolError{toto.CodeMissingParams, "Missing parameter: " + name}
		}
	}
	if err := json.Unmarshal(c.params, dst); err != nil {
		return &protocolError{toto.CodeMissingParams, "Invalid parameters"}
	}
	return nil
}

type credentials struct {
	UserID   string `json:"user_id"`
	Password string `json:"password"`
}

func (s *Server) accountCreate(ctx context.Context, c *call) (any, error) {
	var p credentials
	if err := params(c, &p, "user_id", "password"); err != nil {
		return nil, err
	}
	if err := s.mgr.CreateAccount(ctx, p.UserID, p.Password, nil); err != nil {
		return nil, err
	}
	return s.accountLoginWith(ctx, c, p) // as Toto does: a new account is logged in
}

func (s *Server) accountLogin(ctx context.Context, c *call) (any, error) {
	var p credentials
	if err := params(c, &p, "user_id", "password"); err != nil {
		return nil, err
	}
	return s.accountLoginWith(ctx, c, p)
}

func (s *Server) accountLoginWith(ctx context.Context, c *call, p credentials) (any, error) {
	sess, err := s.mgr.Login(ctx, p.UserID, p.Password)
	if err != nil {
		return nil, err
	}
	c.login = sess
	return map[string]string{"user_id": sess.UserID()}, nil
}

func (s *Server) accountLogout(ctx context.Context, c *call) (any, error) {
	if err := s.mgr.RemoveSession(ctx, c.session.ID()); err != nil {
		return nil, err
	}
	c.loggedOut = true
	return true, nil
}

type stateParams struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

func (s *Server) stateGet(ctx context.Context, c *call) (any, error) {
	var p stateParams
	if err := params(c, &p, "key"); err != nil {
		return nil, err
	}
	v, err := c.session.GetJSON(p.Key)
	if errors.Is(err, toto.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return json.RawMessage(v), nil
}

func (s *Server) stateSet(ctx context.Context, c *call) (any, error) {
	var p stateParams
	if err := params(c, &p, "key"); err != nil {
		return nil, err
	}
	if len(p.Value) == 0 {
		p.Value = json.RawMessage("null")
	}
	if err := c.session.Set(p.Key, p.Value); err != nil {
		return nil, err
	}
	return true, nil
}
