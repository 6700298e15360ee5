package testenv

import (
	"bytes"
	"io"
	"os"
	"sync"
	"testing"
)

// RunExample runs example, an Example function without an Output comment
// (one that needs a server that may be missing, so that `go test` must not
// run it unconditionally), and fails t unless it prints exactly want. The
// caller checks first that the example's server answers, and skips through
// Unavailable when it does not.
//
// An Example usually registers a store with defaults.Register, which takes
// a name once per process: RunExample runs each example once per process
// (as `go test` runs Examples once whatever its -count) and skips t on later
// calls.
func RunExample(t *testing.T, example func(), want string) {
	t.Helper()
	key := exampleKey{name: t.Name()}
	if _, ran := examplesRun.LoadOrStore(key, true); ran {
		t.Skip("example already run in this process (defaults.Register takes a name once)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		out <- b
	}()
	func() {
		defer func() {
			os.Stdout = stdout
			w.Close()
		}()
		example()
	}()
	got := <-out
	r.Close()
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace([]byte(want))) {
		t.Errorf("example printed:\n%s\nwant:\n%s", got, want)
	}
}

type exampleKey struct{ name string }

var examplesRun sync.Map // exampleKey -> true
