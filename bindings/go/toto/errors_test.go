package toto

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

var allSentinels = map[Code]*Error{
	CodeNullArgument: ErrNullArgument, CodeInvalidUTF8: ErrInvalidUTF8, CodeTooLarge: ErrTooLarge,
	CodeInvalidArgument: ErrInvalidArgument, CodeNotFound: ErrNotFound, CodeTypeMismatch: ErrTypeMismatch,
	CodeInvalidCBOR: ErrInvalidCBOR, CodeUnsupportedVersion: ErrUnsupportedVersion, CodeInvalidJSON: ErrInvalidJSON,
	CodeBackendFailed: ErrBackendFailed, CodeBackendMisbehaved: ErrBackendMisbehaved, CodeUnsupported: ErrUnsupported,
	CodeIDCollision: ErrIDCollision, CodeInvalidHandle: ErrInvalidHandle, CodePanic: ErrPanic, CodeBackendUnavailable: ErrBackendUnavailable,
	CodeNotAuthorized: ErrNotAuthorized, CodeInvalidCredentials: ErrInvalidCredentials,
	CodeUserIDExists: ErrUserIDExists, CodeInvalidSessionID: ErrInvalidSessionID, CodeInvalidHMAC: ErrInvalidHMAC,
	CodeInvalidUserID: ErrInvalidUserID,
}

func TestErrorsIsAndAs(t *testing.T) {
	for code, s := range allSentinels {
		if s.Code != code {
			t.Fatalf("sentinel for %d has code %d", code, s.Code)
		}
		if msg := code.String(); msg == "" || msg == "unknown result code" {
			t.Fatalf("code %d has no library message", code)
		}
		err := fmt.Errorf("wrapped: %w", &Error{Code: code, Message: "details"})
		if !errors.Is(err, s) {
			t.Fatalf("errors.Is fails for %d", code)
		}
		var te *Error
		if !errors.As(err, &te) || te.Code != code || CodeOf(err) != code {
			t.Fatalf("errors.As fails for %d", code)
		}
		for other, o := range allSentinels {
			if other != code && errors.Is(err, o) {
				t.Fatalf("%d matches %d", code, other)
			}
		}
	}
	if CodeOf(nil) != CodeOK || CodeOf(io.EOF) != CodeServerError {
		t.Fatal("CodeOf")
	}
	if !errors.Is(ErrClosed, ErrInvalidHandle) {
		t.Fatal("ErrClosed must match ErrInvalidHandle")
	}
	if got := ErrInvalidHMAC.Error(); got != "toto: Invalid HMAC (code 1008)" {
		t.Fatalf("Error() = %q", got)
	}
	if got := (&Error{Code: CodeBackendFailed, Message: "db down"}).Error(); !strings.Contains(got, "db down") {
		t.Fatalf("Error() = %q", got)
	}
	// Toto's numbers, unchanged.
	for c, n := range map[Code]uint32{CodeNotAuthorized: 1004, CodeInvalidCredentials: 1005, CodeUserIDExists: 1006,
		CodeInvalidSessionID: 1007, CodeInvalidHMAC: 1008, CodeInvalidResponseHMAC: 1009, CodeInvalidUserID: 1010} {
		if uint32(c) != n {
			t.Fatalf("%v is %d, want %d", c, c, n)
		}
	}
	if CodeInvalidResponseHMAC.String() != "Invalid response HMAC" || Code(99).String() != "unknown result code" {
		t.Fatal("protocol code messages")
	}
}

func TestErrorDetailsFromLibrary(t *testing.T) {
	_, err := ImportSession([]byte{0xa0})
	var te *Error
	if !errors.As(err, &te) || te.Message == "" || te.Message == te.Code.String() {
		t.Fatalf("expected the library's details, got %#v", err)
	}
}
