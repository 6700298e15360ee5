package cachier_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
)

// TestSetLogger: every message the library writes goes to the logger given
// to defaults.SetLogger, never touching the process's default logger: the
// core's once-per-function warnings, verbose calls, and the file store's
// reports of damaged files.
func TestSetLogger(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	var buf testenv.LogBuffer
	defaults.SetLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { defaults.SetLogger(nil) })
	before := slog.Default()

	// A key that cannot be computed: a warning from the core.
	f := func(ctx context.Context, x int) (int, error) { return x, nil }
	noKey := func([]any) (string, error) { return "", errors.New("no key") }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=logger-"+uniq()), cachier.WithHashFunc(noKey)); err != nil {
		t.Fatal(err)
	}
	_, _ = f(cachier.WithVerbose(bg), 1)
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "cannot compute the key") {
		t.Errorf("the core's warning is missing; log:\n%s", out)
	}
	if !strings.Contains(out, "level=INFO") || !strings.Contains(out, "no key: calling the function uncached") {
		t.Errorf("the verbose call is missing; log:\n%s", out)
	}

	// A damaged log file: a warning from the file store.
	dir := t.TempDir()
	g := func(ctx context.Context, x int) (int, error) { return x, nil }
	if err := cachier.Decorate(&g, cachier.Tag("backend=file,cache_dir="+dir+",name=logger-file-"+uniq())); err != nil {
		t.Fatal(err)
	}
	if _, err := g(bg, 1); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(logs) != 1 {
		t.Fatalf("log files in %s: %v", dir, logs)
	}
	if err := os.WriteFile(logs[0], []byte("this is not a cachier log, and it is long enough to read"), 0o600); err != nil {
		t.Fatal(err)
	}
	if v, err := g(bg, 2); err != nil || v != 2 {
		t.Fatalf("g(2) = %d, %v", v, err)
	}
	if out := buf.String(); !strings.Contains(out, "damaged log file") {
		t.Errorf("the file store's warning is missing; log:\n%s", out)
	}
	if slog.Default() != before {
		t.Error("the process's default logger changed")
	}
}
