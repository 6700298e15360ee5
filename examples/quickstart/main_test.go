package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTwoRuns runs the quickstart twice, as a user would, in two processes
// sharing one cache directory: the second run must not compute anything.
func TestTwoRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example")
	}
	bin := t.TempDir() + "/quickstart"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	env := append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	run := func() string {
		cmd := exec.Command(bin)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := run(); !strings.Contains(out, "ran 2 times") {
		t.Fatalf("first run:\n%s", out)
	}
	if out := run(); !strings.Contains(out, "ran 0 times") {
		t.Fatalf("second run computed again:\n%s", out)
	}
}
