package cachier_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
)

// TestVariadicEveryPath: a variadic function is called as it was called
// (its variadic arguments spread, not packed into one) on every path of
// the call algorithm, and its variadic arguments are part of the key.
// Before the fix, every call panicked ("cannot use []string as type string").
func TestVariadicEveryPath(t *testing.T) {
	for _, backend := range []string{"memory", "file"} {
		t.Run(backend, func(t *testing.T) {
			reset(t)
			tag := "backend=" + backend + ",name=core.variadic." + backend
			if backend == "file" {
				tag += ",cache_dir=" + t.TempDir()
			}
			var calls atomic.Int64
			join := func(sep string, parts ...string) string {
				calls.Add(1)
				return strings.Join(parts, sep)
			}
			if err := cachier.Decorate(&join, runTag(tag)); err != nil {
				t.Fatal(err)
			}
			check := func(path, got, want string, wantCalls int64) {
				t.Helper()
				if got != want || calls.Load() != wantCalls {
					t.Fatalf("%s: got %q after %d calls, want %q after %d", path, got, calls.Load(), want, wantCalls)
				}
			}
			check("miss", join("-", "a", "b", "c"), "a-b-c", 1)
			check("hit", join("-", "a", "b", "c"), "a-b-c", 1)
			check("other variadic arguments", join("-", "a", "b"), "a-b", 2)
			check("spread slice, same key", join("-", []string{"a", "b"}...), "a-b", 2)
			check("no variadic arguments", join("-"), "", 3)
			defaults.DisableCaching()
			check("disabled", join("+", "x", "y"), "x+y", 4)
			defaults.EnableCaching()
		})
	}
}

// TestVariadicAny: func(xs ...any) gets its arguments one by one. Before the
// fix it got the whole slice as its only argument and cached len 1.
func TestVariadicAny(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	count := func(xs ...any) int { calls.Add(1); return len(xs) }
	if err := cachier.Decorate(&count, runTag("backend=memory,name=core.variadic.any")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if n := count(1, "two", 3.0); n != 3 {
			t.Fatalf("count(1, \"two\", 3.0) = %d, want 3", n)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("count() = %d, want 0", n)
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2", calls.Load())
	}
	// An argument that cannot be hashed: the call runs uncached, spread.
	if n := count(1, func() {}); n != 2 {
		t.Fatalf("uncached count(1, func) = %d, want 2", n)
	}
}

// TestVariadicContextPaths covers the paths reached through per-call
// controls, a failing store and waits, for a variadic function with a
// context.
func TestVariadicContextPaths(t *testing.T) {
	for _, backend := range []string{"memory", "file"} {
		t.Run(backend, func(t *testing.T) { testVariadicContextPaths(t, backend) })
	}
}

func testVariadicContextPaths(t *testing.T, backend string) {
	reset(t)
	tag := func(name, extra string) cachier.Option {
		s := "backend=" + backend + ",name=core.variadic." + name + "." + backend + "," + extra
		if backend == "file" {
			s += ",cache_dir=" + t.TempDir()
		}
		return runTag(s)
	}
	var calls atomic.Int64
	var block atomic.Bool
	started, release := make(chan struct{}, 1), make(chan struct{})
	join := func(ctx context.Context, sep string, parts ...string) string {
		calls.Add(1)
		if block.CompareAndSwap(true, false) {
			started <- struct{}{}
			<-release
		}
		return strings.Join(parts, sep)
	}
	if err := cachier.Decorate(&join, tag("ctx", "wait_for_calc_timeout=5ms")); err != nil {
		t.Fatal(err)
	}
	check := func(path, got, want string, wantCalls int64) {
		t.Helper()
		if got != want || calls.Load() != wantCalls {
			t.Fatalf("%s: got %q after %d calls, want %q after %d", path, got, calls.Load(), want, wantCalls)
		}
	}
	check("miss", join(ctx, ",", "a", "b"), "a,b", 1)
	check("skip", join(cachier.WithSkipCache(ctx), ",", "a", "b"), "a,b", 2)
	check("overwrite", join(cachier.WithOverwriteCache(ctx), ",", "a", "b"), "a,b", 3)
	check("hit", join(ctx, ",", "a", "b"), "a,b", 3)

	// A caller that waits on a calculation in flight (call 4).
	block.Store(true)
	done := make(chan string)
	go func() { done <- join(ctx, ",", "p", "q") }()
	<-started
	// A caller whose context ends while waiting: no error result, so the
	// function is called.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	check("cancelled wait", join(cctx, ",", "p", "q"), "p,q", 5)
	check("wait timeout", join(ctx, ",", "p", "q"), "p,q", 6)
	close(release)
	if got := <-done; got != "p,q" {
		t.Fatalf("the blocked leader got %q", got)
	}

	// A stale hit with next_time: the refresh in the background calls it too.
	refreshed := make(chan struct{})
	var calls2 atomic.Int64
	refresh := func(ctx context.Context, parts ...string) string {
		if calls2.Add(1) == 2 {
			defer close(refreshed)
		}
		return strings.Join(parts, "")
	}
	if err := cachier.Decorate(&refresh, tag("refresh", "next_time")); err != nil {
		t.Fatal(err)
	}
	refresh(ctx, "a", "b")
	if got := refresh(cachier.WithMaxAge(ctx, -1), "a", "b"); got != "ab" {
		t.Fatalf("stale value %q", got)
	}
	<-refreshed
	// The refresh writes its result after the function returns: wait for
	// it to end before t.TempDir (the file backend's cache_dir) goes.
	hr, _ := cachier.Of(&refresh)
	waitFor(t, "the refresh ends", func() bool { return cachier.Busy(hr) == 0 })

	// A failing store: the function is called, spread.
	st := &failing{}
	down := func(ctx context.Context, parts ...string) string { return strings.Join(parts, "") }
	if err := cachier.Decorate(&down, runTag("backend=down,name=core.variadic.down."+backend), cachier.WithStore("down", st)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := down(ctx, "x", "y"); got != "xy" {
			t.Fatalf("store down: got %q", got)
		}
	}
}
