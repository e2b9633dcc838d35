package totohttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// Auth is what a method needs of the request's session (Toto's decorators).
type Auth int

const (
	// Public methods run with or without a session (no decorator in Toto; the
	// middleware still loads a named session, so the answer names it).
	Public Auth = iota
	// Authenticated methods need a live session of a user; without one (no id, an
	// unknown, expired or logged-out id, an anonymous session) they answer 1004 "Not
	// authorized", which Toto's clients treat as "logged out" (@authenticated).
	Authenticated
	// AnonymousSession methods get an anonymous session when the request has none
	// (@anonymous_session).
	AnonymousSession
)

// MethodSelect is where the method name comes from (Toto's method_select).
type MethodSelect int

const (
	// SelectBoth: the URL path (/a/b is a.b), else the body's "method" (default).
	SelectBoth MethodSelect = iota
	// SelectURL: the URL path only.
	SelectURL
	// SelectParameter: the body's "method" only.
	SelectParameter
)

// Call is one method invocation.
type Call struct {
	// Context is the request's context; it carries the session (FromContext, Login,
	// Logout work on it).
	Context context.Context
	// Request is the HTTP request (its body has been read).
	Request *http.Request
	// Method is the method name, e.g. "state.get".
	Method string
	// Params are the call's parameters: JSON values by name. GET, HEAD and form
	// parameters are JSON strings (one value) or arrays of strings (several).
	Params map[string]json.RawMessage

	service *Service
}

// Session is the request's live session (nil for none, or after Logout).
func (c *Call) Session() *toto.Session { return Live(c.Context) }

// Manager is the service's manager.
func (c *Call) Manager() *toto.Manager { return c.service.sessions.mgr }

// Has tells whether parameter name was given.
func (c *Call) Has(name string) bool { _, ok := c.Params[name]; return ok }

// String is parameter name as text: a JSON string unquoted, any other JSON value as
// its JSON text, "" when absent.
func (c *Call) String(name string) string {
	raw, ok := c.Params[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// Bind decodes the parameters into dst (a pointer to a struct or map) with
// encoding/json.
func (c *Call) Bind(dst any) error {
	data, err := json.Marshal(c.Params)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, dst)
}

// MethodFunc runs a method: its result becomes the answer's "result" (omitted when
// nil), an error its "error" (see Error).
type MethodFunc func(c *Call) (any, error)

// Method is a registered method.
type Method struct {
	Auth Auth
	// Requires names parameters that must be present (1003 "Missing parameters: a, b"
	// otherwise, Toto's @requires).
	Requires []string
	Func     MethodFunc
}

// ServiceOptions configure a Service.
type ServiceOptions struct {
	// Options are the session middleware's. AllowOrigins nil means ["*"], Toto's
	// default allow_origin (an empty non-nil slice allows no origin).
	Options
	// MethodSelect is where the method name comes from (default SelectBoth).
	MethodSelect MethodSelect
	// NoAccountMethods leaves out Toto's account.create, account.login,
	// account.logout and account.update.
	NoAccountMethods bool
}

// Service serves Toto's method protocol. Register methods before serving; it is then
// safe for concurrent use. Mount it where Toto's root would be ("/" by default; under
// a prefix, strip it with http.StripPrefix so that /prefix/a/b is method a.b).
type Service struct {
	sessions *Sessions
	sel      MethodSelect
	methods  map[string]Method
	handler  http.Handler
}

// NewService makes a Toto service over mgr with Toto's four account methods.
func NewService(mgr *toto.Manager, opts ServiceOptions) *Service {
	if opts.AllowOrigins == nil {
		opts.AllowOrigins = []string{"*"}
	}
	s := &Service{sessions: New(mgr, opts.Options), sel: opts.MethodSelect, methods: map[string]Method{}}
	s.handler = s.sessions.Middleware(http.HandlerFunc(s.serve))
	if !opts.NoAccountMethods {
		registerAccountMethods(s)
	}
	return s
}

// Sessions is the service's session layer (its middleware wraps the service).
func (s *Service) Sessions() *Sessions { return s.sessions }

// Handle registers method name (e.g. "state.get"), replacing any of that name.
func (s *Service) Handle(name string, m Method) { s.methods[name] = m }

// HandleFunc registers f as method name.
func (s *Service) HandleFunc(name string, auth Auth, f MethodFunc, requires ...string) {
	s.Handle(name, Method{Auth: auth, Requires: requires, Func: f})
}

// ServeHTTP answers Toto requests through the session middleware.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// request is a POST body.
type request struct {
	Method     *string                    `json:"method"`
	Parameters json.RawMessage            `json:"parameters"`
	Batch      map[string]json.RawMessage `json:"batch"`
}

// serve is the protocol behind the middleware.
func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	path := s.pathMethod(r)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.answer(w, r, s.invoke(ctx, r, path, "", false, queryParams(r.URL.Query())))
	case http.MethodPost:
		s.post(w, r, path)
	default:
		w.Header().Set("Allow", corsMethods)
		writeEnvelope(w, http.StatusMethodNotAllowed, nil,
			&Error{Code: toto.CodeServerError, Value: "Method not supported"}, sessionInfo(FromContext(ctx)))
	}
}

func (s *Service) pathMethod(r *http.Request) string {
	if s.sel == SelectParameter {
		return ""
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	return strings.ReplaceAll(p, "/", ".")
}

func (s *Service) post(w http.ResponseWriter, r *http.Request, path string) {
	ctx := r.Context()
	ct := r.Header.Get("Content-Type")
	switch {
	case ct == "" || strings.HasPrefix(ct, "application/json"):
		var req request
		body, err := s.readBody(w, r)
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			s.answer(w, r, outcome{err: &Error{Code: toto.CodeServerError, Value: "Invalid JSON body: " + err.Error()}})
			return
		}
		if req.Batch != nil {
			s.batch(w, r, req.Batch)
			return
		}
		bodyMethod, hasMethod := "", req.Method != nil
		if hasMethod {
			bodyMethod = *req.Method
		}
		var params map[string]json.RawMessage
		if req.Parameters != nil {
			// Toto passes whatever "parameters" holds; a non-object means none here.
			_ = json.Unmarshal(req.Parameters, &params)
		} else {
			// A body without "parameters" is itself the parameters (Toto), less the
			// method name.
			_ = json.Unmarshal(body, &params)
			delete(params, "method")
		}
		s.answer(w, r, s.invoke(ctx, r, path, bodyMethod, hasMethod, params))
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		if err := r.ParseForm(); err != nil {
			s.answer(w, r, outcome{err: &Error{Code: toto.CodeServerError, Value: err.Error()}})
			return
		}
		s.answer(w, r, s.invoke(ctx, r, path, "", false, queryParams(r.Form)))
	default:
		// Toto reads no parameters from other content types.
		s.answer(w, r, s.invoke(ctx, r, path, "", false, nil))
	}
}

func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, s.sessions.opts.MaxBodyBytes))
}

// queryParams are GET/HEAD/form arguments as Toto makes them: one value is a string,
// several a list.
func queryParams(v url.Values) map[string]json.RawMessage {
	if len(v) == 0 {
		return nil
	}
	p := make(map[string]json.RawMessage, len(v))
	for k, vals := range v {
		var raw []byte
		if len(vals) == 1 {
			raw, _ = json.Marshal(vals[0])
		} else {
			raw, _ = json.Marshal(vals)
		}
		p[k] = raw
	}
	return p
}

// outcome is one call's result or error.
type outcome struct {
	result any
	err    *Error
}

// invoke runs one call. path is the method from the URL ("" for none); body is the
// body's method when hasBody.
func (s *Service) invoke(ctx context.Context, r *http.Request, path, body string, hasBody bool, params map[string]json.RawMessage) outcome {
	name := ""
	switch {
	case path != "" && s.sel != SelectParameter:
		name = path
	case hasBody && s.sel != SelectURL:
		name = body
	default:
		return outcome{err: NewError(toto.CodeMissingMethod)}
	}
	m, ok := s.methods[name]
	if !ok {
		return outcome{err: InvalidMethod(name)}
	}
	switch m.Auth {
	case Authenticated:
		if sess := Live(ctx); sess == nil || sess.UserID() == "" {
			return outcome{err: NewError(toto.CodeNotAuthorized)}
		}
	case AnonymousSession:
		if Live(ctx) == nil {
			if _, err := CreateSession(ctx, ""); err != nil {
				return outcome{err: s.sessions.wireError(err)}
			}
		}
	}
	if params == nil {
		params = map[string]json.RawMessage{}
	}
	var missing []string
	for _, name := range m.Requires {
		if _, ok := params[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return outcome{err: &Error{Code: toto.CodeMissingParams, Value: "Missing parameters: " + strings.Join(missing, ", ")}}
	}
	c := &Call{Context: ctx, Request: r, Method: name, Params: params, service: s}
	result, err := s.run(m.Func, c)
	if err != nil {
		return outcome{err: s.sessions.wireError(err)}
	}
	return outcome{result: result}
}

// run calls f, turning a panic into an error (Toto answers 1000 with its text).
func (s *Service) run(f MethodFunc, c *Call) (result any, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.sessions.logf("totohttp: method %s panicked: %v", c.Method, v)
			result, err = nil, &Error{Code: toto.CodeServerError, Value: fmt.Sprint(v)}
		}
	}()
	return f(c)
}

// answer writes one call's envelope with the request's session.
func (s *Service) answer(w http.ResponseWriter, r *http.Request, o outcome) {
	writeEnvelope(w, http.StatusOK, o.result, o.err, sessionInfo(FromContext(r.Context())))
}

type batchCall struct {
	Method     *string         `json:"method"`
	Parameters json.RawMessage `json:"parameters"`
}

// batch runs {"batch": {id: {"method", "parameters"}}} in sorted id order; each id's
// answer is {"result": ...} or {"error": ...}, the session is named once at the top.
func (s *Service) batch(w http.ResponseWriter, r *http.Request, calls map[string]json.RawMessage) {
	ids := make([]string, 0, len(calls))
	for id := range calls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	results := make(map[string]any, len(ids))
	for _, id := range ids {
		var bc batchCall
		var params map[string]json.RawMessage
		var o outcome
		if err := json.Unmarshal(calls[id], &bc); err != nil {
			o = outcome{err: &Error{Code: toto.CodeServerError, Value: "Invalid batch call: " + err.Error()}}
		} else {
			if bc.Parameters != nil {
				_ = json.Unmarshal(bc.Parameters, &params)
			}
			name := ""
			if bc.Method != nil {
				name = *bc.Method
			}
			o = s.invoke(r.Context(), r, "", name, bc.Method != nil, params)
		}
		if o.err != nil {
			results[id] = map[string]any{"error": o.err}
		} else {
			results[id] = map[string]any{"result": o.result}
		}
	}
	body, err := json.Marshal(envelope{Batch: results, Session: sessionInfo(FromContext(r.Context()))})
	if err != nil {
		s.answer(w, r, outcome{err: &Error{Code: toto.CodeServerError, Value: err.Error()}})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
