package toto

/*
#include "toto_session.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Code is a toto_result: 0 is success, 1..99 are the library's own codes, 1004..1010
// keep the numbers of the Toto framework so a server can put them on the wire as they
// are.
type Code uint32

// The library's result codes (toto_result in toto_session.h).
const (
	CodeOK                 Code = 0
	CodeNullArgument       Code = 1
	CodeInvalidUTF8        Code = 2
	CodeTooLarge           Code = 3
	CodeInvalidArgument    Code = 4
	CodeNotFound           Code = 5
	CodeTypeMismatch       Code = 6
	CodeInvalidCBOR        Code = 7
	CodeUnsupportedVersion Code = 8
	CodeInvalidJSON        Code = 9
	CodeBackendFailed      Code = 10
	CodeBackendMisbehaved  Code = 11
	CodeUnsupported        Code = 12
	CodeIDCollision        Code = 13
	CodeInvalidHandle      Code = 14
	CodePanic              Code = 15
	// CodeBackendUnavailable: a backend could not be reached in time (down, refusing
	// connections, timing out); the same handle works again once it is back.
	CodeBackendUnavailable Code = 16
	// CodeSessionRevoked: a save found its session removed (logout), rotated away,
	// cleared (ClearSessions, a password change) or expired; nothing was written and
	// the session is not brought back. Treat it as logged out.
	CodeSessionRevoked Code = 17
	// CodeConflict: a save found the session saved by someone else since it was
	// loaded; nothing was written. Retrieve, reapply, save: Manager.UpdateSession.
	CodeConflict Code = 18
)

// Compile-time checks that the codes above are the header's: for a code that differs,
// the index is out of range (or overflows Code) and the package does not compile.
var (
	_ = [1]struct{}{}[CodeNullArgument-C.TOTO_RESULT_NULL_ARGUMENT]
	_ = [1]struct{}{}[CodeInvalidUTF8-C.TOTO_RESULT_INVALID_UTF8]
	_ = [1]struct{}{}[CodeTooLarge-C.TOTO_RESULT_TOO_LARGE]
	_ = [1]struct{}{}[CodeInvalidArgument-C.TOTO_RESULT_INVALID_ARGUMENT]
	_ = [1]struct{}{}[CodeNotFound-C.TOTO_RESULT_NOT_FOUND]
	_ = [1]struct{}{}[CodeTypeMismatch-C.TOTO_RESULT_TYPE_MISMATCH]
	_ = [1]struct{}{}[CodeInvalidCBOR-C.TOTO_RESULT_INVALID_CBOR]
	_ = [1]struct{}{}[CodeUnsupportedVersion-C.TOTO_RESULT_UNSUPPORTED_VERSION]
	_ = [1]struct{}{}[CodeInvalidJSON-C.TOTO_RESULT_INVALID_JSON]
	_ = [1]struct{}{}[CodeBackendFailed-C.TOTO_RESULT_BACKEND_FAILED]
	_ = [1]struct{}{}[CodeBackendMisbehaved-C.TOTO_RESULT_BACKEND_MISBEHAVED]
	_ = [1]struct{}{}[CodeUnsupported-C.TOTO_RESULT_UNSUPPORTED]
	_ = [1]struct{}{}[CodeIDCollision-C.TOTO_RESULT_ID_COLLISION]
	_ = [1]struct{}{}[CodeInvalidHandle-C.TOTO_RESULT_INVALID_HANDLE]
	_ = [1]struct{}{}[CodePanic-C.TOTO_RESULT_PANIC]
	_ = [1]struct{}{}[CodeBackendUnavailable-C.TOTO_RESULT_BACKEND_UNAVAILABLE]
	_ = [1]struct{}{}[CodeSessionRevoked-C.TOTO_RESULT_SESSION_REVOKED]
	_ = [1]struct{}{}[CodeConflict-C.TOTO_RESULT_CONFLICT]
	_ = [1]struct{}{}[CodeNotAuthorized-C.TOTO_RESULT_NOT_AUTHORIZED]
	_ = [1]struct{}{}[CodeInvalidCredentials-C.TOTO_RESULT_INVALID_CREDENTIALS]
	_ = [1]struct{}{}[CodeUserIDExists-C.TOTO_RESULT_USER_ID_EXISTS]
	_ = [1]struct{}{}[CodeInvalidSessionID-C.TOTO_RESULT_INVALID_SESSION_ID]
	_ = [1]struct{}{}[CodeInvalidHMAC-C.TOTO_RESULT_INVALID_HMAC]
	_ = [1]struct{}{}[CodeInvalidUserID-C.TOTO_RESULT_INVALID_USER_ID]
)

// Toto's error codes. The library returns 1004..1008 and 1010; 1000..1003 and 1009
// belong to Toto's HTTP protocol (server errors, method dispatch, the client's check
// of a response HMAC) and are here so servers and clients can use one set of names.
const (
	CodeServerError         Code = 1000
	CodeInvalidMethod       Code = 1001
	CodeMissingMethod       Code = 1002
	CodeMissingParams       Code = 1003
	CodeNotAuthorized       Code = 1004
	CodeInvalidCredentials  Code = 1005
	CodeUserIDExists        Code = 1006
	CodeInvalidSessionID    Code = 1007
	CodeInvalidHMAC         Code = 1008
	CodeInvalidResponseHMAC Code = 1009
	CodeInvalidUserID       Code = 1010
)

// String is the library's fixed English message for the code (Toto's text for
// 1000..1010, including the protocol codes 1000..1003 and 1009).
func (c Code) String() string {
	return C.GoString(C.toto_result_message(C.uint32_t(c)))
}

// Error is a failed call: the code the library returned and the details it gave (a
// backend's own message where there is one). errors.Is matches on the code, so
// errors.Is(err, toto.ErrInvalidHMAC) works whatever the message.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code.String()
	}
	return fmt.Sprintf("toto: %s (code %d)", msg, uint32(e.Code))
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// Sentinels for errors.Is, one per library code. Returned errors carry more detail in
// Message; compare with errors.Is, not ==.
var (
	ErrNullArgument       = sentinel(CodeNullArgument)
	ErrInvalidUTF8        = sentinel(CodeInvalidUTF8)
	ErrTooLarge           = sentinel(CodeTooLarge)
	ErrInvalidArgument    = sentinel(CodeInvalidArgument)
	ErrNotFound           = sentinel(CodeNotFound)
	ErrTypeMismatch       = sentinel(CodeTypeMismatch)
	ErrInvalidCBOR        = sentinel(CodeInvalidCBOR)
	ErrUnsupportedVersion = sentinel(CodeUnsupportedVersion)
	ErrInvalidJSON        = sentinel(CodeInvalidJSON)
	ErrBackendFailed      = sentinel(CodeBackendFailed)
	ErrBackendMisbehaved  = sentinel(CodeBackendMisbehaved)
	ErrUnsupported        = sentinel(CodeUnsupported)
	ErrIDCollision        = sentinel(CodeIDCollision)
	ErrInvalidHandle      = sentinel(CodeInvalidHandle)
	ErrPanic              = sentinel(CodePanic)
	ErrBackendUnavailable = sentinel(CodeBackendUnavailable)
	ErrSessionRevoked     = sentinel(CodeSessionRevoked)
	ErrConflict           = sentinel(CodeConflict)
	ErrNotAuthorized      = sentinel(CodeNotAuthorized)
	ErrInvalidCredentials = sentinel(CodeInvalidCredentials)
	ErrUserIDExists       = sentinel(CodeUserIDExists)
	ErrInvalidSessionID   = sentinel(CodeInvalidSessionID)
	ErrInvalidHMAC        = sentinel(CodeInvalidHMAC)
	ErrInvalidUserID      = sentinel(CodeInvalidUserID)
)

// ErrClosed is returned by methods of a closed handle; it matches ErrInvalidHandle.
var ErrClosed = &Error{Code: CodeInvalidHandle, Message: "handle is closed"}

func sentinel(c Code) *Error { return &Error{Code: c} }

// CodeOf gives the code of err: 0 for nil, the *Error's code when err wraps one, and
// CodeServerError (1000) for any other error.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeServerError
}

// check turns a result code (and the details the library wrote into e, when it is
// not nil) into an error.
func check(rc C.toto_result, e *C.toto_error) error {
	if rc == C.TOTO_RESULT_OK {
		return nil
	}
	err := &Error{Code: Code(rc)}
	if e != nil && e.code == C.uint32_t(rc) {
		err.Message = C.GoString(&e.message[0])
	}
	return err
}
