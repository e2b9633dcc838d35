package toto

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's example compiles and runs as written, and prints what the README says.
func TestReadmeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```\n\nIt prints:\n\n```text\n(.*?)```").FindSubmatch(readme)
	if blocks == nil {
		t.Fatal("README has no Go example followed by its output")
	}
	program, want := blocks[1], blocks[2]

	// The Example test runs the same code: keep them in step.
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	body := example[bytes.Index(example, []byte("func Example() {\n"))+len("func Example() {\n"):]
	body = body[:bytes.Index(body, []byte("\t// Output:"))]
	if !bytes.Contains(program, body) {
		t.Fatal("README example and Example() in example_test.go differ")
	}

	here, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module readme\n\ngo 1.19\n\nrequire github.com/toto-session/toto-session/bindings/go v0.0.0\n\n" +
		"replace github.com/toto-session/toto-session/bindings/go => " + here + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), program, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run of the README example: %v\n%s", err, stderr.String())
	}
	if strings.TrimSpace(string(out)) != strings.TrimSpace(string(want)) {
		t.Fatalf("README example printed %q, README says %q", out, want)
	}
}
