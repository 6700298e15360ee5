package cachier_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
)

const (
	envRefreshChild = "CACHIER_CORE_REFRESH_CHILD"
	envRefreshDir   = "CACHIER_CORE_REFRESH_DIR"
	envRefreshT0    = "CACHIER_CORE_REFRESH_T0"
	refreshProcs    = 4
)

// refreshFunc decorates, over the file store in dir, a next_time function
// that appends one line to dir/calls per computation.
func refreshFunc(t *testing.T, dir string) func(ctx context.Context, x int) (string, error) {
	t.Helper()
	f := func(ctx context.Context, x int) (string, error) {
		fh, err := os.OpenFile(filepath.Join(dir, "calls"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return "", err
		}
		defer fh.Close()
		fmt.Fprintln(fh, os.Getpid())
		return fmt.Sprint("computed by ", os.Getpid()), nil
	}
	if err := cachier.Decorate(&f, cachier.Tag("backend=file,name=core.nexttime.procs,next_time,cache_dir="+dir)); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOneRefreshAcrossProcesses: four OS processes find one entry stale at
// the same moment, each with next_time: across them the key is refreshed
// once. Each child judges staleness against the moment the entry was
// written (WithStaleAfter), so the one refreshed entry is fresh to all of
// them whatever their timing.
func TestOneRefreshAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OS processes")
	}
	reset(t)
	dir := t.TempDir()
	f := refreshFunc(t, dir)
	first, err := f(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now() // the entry is stamped before this
	time.Sleep(50 * time.Millisecond)

	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range refreshProcs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOneRefreshAcrossProcessesChild$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), envRefreshChild+"=1", envRefreshDir+"="+dir,
			envRefreshT0+"="+strconv.FormatInt(t0.UnixNano(), 10), fmt.Sprintf("CACHIER_CORE_REFRESH_ID=%d", i))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, &out)
	}
	waitFor(t, "every child is ready", func() bool {
		ready, _ := filepath.Glob(filepath.Join(dir, "ready-*"))
		return len(ready) == refreshProcs
	})
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	pids := strings.Fields(string(calls))
	if n := len(pids) - 1; n != 1 {
		t.Fatalf("%d refreshes across %d processes for one stale period, want 1; computations by pid:\n%s", n, refreshProcs, calls)
	}
	// Each child got the stale value at once, or the refreshed one if it
	// looked after the refresh.
	refreshed := "computed by " + pids[1]
	for i, out := range outs {
		if !strings.Contains(out.String(), "VALUE="+first+"\n") && !strings.Contains(out.String(), "VALUE="+refreshed+"\n") {
			t.Errorf("child %d got neither %q nor %q:\n%s", i, first, refreshed, out)
		}
	}
}

// TestOneRefreshAcrossProcessesChild is one process of
// TestOneRefreshAcrossProcesses.
func TestOneRefreshAcrossProcessesChild(t *testing.T) {
	if os.Getenv(envRefreshChild) != "1" {
		t.Skip("a child process of TestOneRefreshAcrossProcesses")
	}
	dir := os.Getenv(envRefreshDir)
	ns, err := strconv.ParseInt(os.Getenv(envRefreshT0), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, ns)
	f := refreshFunc(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "ready-"+os.Getenv("CACHIER_CORE_REFRESH_ID")), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the go file", func() bool { _, err := os.Stat(filepath.Join(dir, "go")); return err == nil })
	// Stale: the entry written before t0; fresh: anything written since.
	v, err := f(cachier.WithStaleAfter(ctx, time.Since(t0)-10*time.Millisecond), 1)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	waitFor(t, "this process's refresh ends", func() bool { return cachier.Busy(h) == 0 })
	fmt.Printf("VALUE=%s\n", v)
}
