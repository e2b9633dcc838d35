package totohttp_test

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// docs/go-http.md shows examples/minimal/main.go (which go vet and the test run
// build) verbatim, so the documented program cannot rot.
func TestDocExampleIsTheBuiltProgram(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/go-http.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```go\n(.*?)```\n").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/go-http.md has no ```go block")
	}
	program, err := os.ReadFile("../examples/minimal/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m[1], program) {
		t.Fatal("the ```go block of docs/go-http.md differs from bindings/go/examples/minimal/main.go")
	}
}
