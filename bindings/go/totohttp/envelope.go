package totohttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/toto-session/toto-session/bindings/go/toto"
)

// Error is a Toto error as it goes on the wire: {"code": N, "value": "text"}. A method
// returns one to choose its code and text; any other error becomes code 1000 with the
// error's text (as Toto does with a Python exception), and the library's errors keep
// their Toto codes (1004..1010) with Toto's texts.
type Error struct {
	Code  toto.Code `json:"code"`
	Value string    `json:"value"`
}

func (e *Error) Error() string {
	return "toto error " + strconv.Itoa(int(e.Code)) + ": " + e.Value
}

// Toto 1.0.10's texts for the codes its server produces (1009 is its clients'), as
// the wire shows them; the library's toto_result_message gives the same texts.
var totoTexts = map[toto.Code]string{
	toto.CodeServerError:         "Server error",
	toto.CodeMissingMethod:       "Missing method.",
	toto.CodeNotAuthorized:       "Not authorized",
	toto.CodeInvalidCredentials:  "Invalid user ID or password",
	toto.CodeUserIDExists:        "User ID already in use.",
	toto.CodeInvalidSessionID:    "Invalid session ID",
	toto.CodeInvalidHMAC:         "Invalid HMAC",
	toto.CodeInvalidResponseHMAC: "Invalid response HMAC",
	toto.CodeInvalidUserID:       "Invalid user ID.",
}

// Text is Toto's text for code: "Not authorized" for 1004, "Missing method." for
// 1002 and so on. 1001 and 1003 take details in Toto ("Cannot call 'a.b'.",
// "Missing parameters: a, b"); see InvalidMethod and MissingParams.
func Text(code toto.Code) string {
	if t, ok := totoTexts[code]; ok {
		return t
	}
	switch code {
	case toto.CodeInvalidMethod:
		return "Invalid method"
	case toto.CodeMissingParams:
		return "Missing parameters"
	}
	return code.String()
}

// NewError is an *Error with Toto's text for code.
func NewError(code toto.Code) *Error { return &Error{Code: code, Value: Text(code)} }

// InvalidMethod is Toto's 1001 for a method name nobody registered.
func InvalidMethod(name string) *Error {
	return &Error{Code: toto.CodeInvalidMethod, Value: "Cannot call '" + name + "'."}
}

// wireError maps err to Toto's {"code", "value"}.
func (s *Sessions) wireError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var te *toto.Error
	if errors.As(err, &te) {
		if te.Code >= toto.CodeServerError && te.Code <= toto.CodeInvalidUserID {
			return NewError(te.Code)
		}
		// The library's own codes (a failing backend, ...): details go to the log,
		// the client sees 1000 with the code's fixed text.
		s.logf("totohttp: %v", err)
		return &Error{Code: toto.CodeServerError, Value: te.Code.String()}
	}
	return &Error{Code: toto.CodeServerError, Value: err.Error()}
}

// SessionInfo is the "session" object of Toto's answers.
type SessionInfo struct {
	SessionID string  `json:"session_id"`
	Expires   float64 `json:"expires"`
	UserID    string  `json:"user_id"`
}

func sessionInfo(sess *toto.Session) *SessionInfo {
	if sess == nil {
		return nil
	}
	return &SessionInfo{SessionID: sess.ID(), Expires: sess.ExpiresUnix(), UserID: sess.UserID()}
}

// envelope is one answer of Toto's protocol.
type envelope struct {
	Result  any          `json:"result,omitempty"`
	Error   *Error       `json:"error,omitempty"`
	Batch   any          `json:"batch,omitempty"`
	Session *SessionInfo `json:"session,omitempty"`
}

// writeEnvelope writes an answer (result is omitted when nil, as Toto omits None).
func writeEnvelope(w http.ResponseWriter, status int, result any, e *Error, sess *SessionInfo) {
	body, err := json.Marshal(envelope{Result: result, Error: e, Session: sess})
	if err != nil {
		body, _ = json.Marshal(envelope{Error: &Error{toto.CodeServerError, err.Error()}, Session: sess})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// WriteError answers r with Toto's error envelope for err, naming the request's
// session (the middleware signs it). For handlers under the middleware.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	if st == nil {
		writeEnvelope(w, http.StatusOK, nil, (&Sessions{}).wireError(err), nil)
		return
	}
	st.s.writeError(w, st, err)
}

// WriteResult answers r with Toto's envelope {"result": result, "session": ...}.
func WriteResult(w http.ResponseWriter, r *http.Request, result any) {
	writeEnvelope(w, http.StatusOK, result, nil, sessionInfo(FromContext(r.Context())))
}
