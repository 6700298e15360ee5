package cachier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

func init() {
	backends["memory"] = backendDef{open: func(t *testing.T, dir string) backend {
		return backend{tag: "backend=memory"}
	}}
}

// TestScenarios runs every decorator scenario on every registered backend.
func TestScenarios(t *testing.T) {
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def := backends[name]
		t.Run(name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					defaults.Reset()
					t.Cleanup(defaults.Reset)
					b := def.open(t, t.TempDir())
					sc.run(t, &env{t: t, b: b, ns: uniq()})
				})
			}
		})
	}
}

var seq atomic.Int64

// uniq returns a name unique to this process run, for function identities
// on shared servers.
func uniq() string {
	return fmt.Sprintf("t%d-%d", time.Now().UnixNano(), seq.Add(1))
}

// env is one scenario on one backend.
type env struct {
	t  *testing.T
	b  backend
	ns string
}

// decorate decorates target (a pointer to a func variable) with the
// backend's tag plus extra, under a name unique to the scenario.
func (e *env) decorate(target any, extra string, opts ...cachier.Option) *cachier.Handle {
	e.t.Helper()
	spec := e.b.tag + ",name=" + e.ns + "-" + fmt.Sprint(seq.Add(1))
	if extra != "" {
		spec += "," + extra
	}
	all := append([]cachier.Option{cachier.Tag(spec)}, e.b.opts...)
	if err := cachier.Decorate(target, append(all, opts...)...); err != nil {
		e.t.Fatalf("Decorate(%s): %v", spec, err)
	}
	h, err := cachier.Of(target)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		// A next_time refresh or a cleanup may still be writing into the
		// test's cache directory or namespace: let it end first.
		waitBackground(e.t)
		_ = h.ClearCache(context.Background())
	})
	return h
}

// waitBackground waits (boundedly) for the process's background tasks,
// next_time refreshes and cleanups, to end: before a test's store, its
// database handle or its t.TempDir goes.
func waitBackground(t testing.TB) {
	t.Helper()
	wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cachier.WaitBackground(wctx); err != nil {
		t.Errorf("background tasks still running at the end of the test: %v", err)
	}
}

// counter is a function body that counts its calls.
type counter struct{ n atomic.Int64 }

func (c *counter) calls() int64 { return c.n.Load() }

func (e *env) wantCalls(c *counter, want int64) {
	e.t.Helper()
	if got := c.calls(); got != want {
		e.t.Fatalf("function called %d times, want %d", got, want)
	}
}

// eventually waits, boundedly, for cond: for background work whose end the
// test cannot observe directly.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var bg = context.Background()

// returnsWithin runs call and returns its result, failing the test with
// msg if it has not returned within 10s: for calls that must not hang on a
// being-calculated mark.
func returnsWithin(t *testing.T, call func() int64, msg string) int64 {
	t.Helper()
	done := make(chan int64, 1)
	go func() { done <- call() }()
	select {
	case v := <-done:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal(msg)
		return 0
	}
}

var scenarios = []struct {
	name string
	run  func(t *testing.T, e *env)
}{
	{"HitAndMiss", scHitAndMiss},
	{"StructArgs", scStructArgs},
	{"ContextNotInKey", scContextNotInKey},
	{"StaleAfter", scStaleAfter},
	{"NextTime", scNextTime},
	{"NextTimeOneRefresh", scNextTimeOneRefresh},
	{"OneCalculation", scOneCalculation},
	{"ErrorsNotCached", scErrorsNotCached},
	{"PanicClearsMark", scPanicClearsMark},
	{"AllowNone", scAllowNone},
	{"SkipCache", scSkipCache},
	{"OverwriteCache", scOverwriteCache},
	{"MaxAge", scMaxAge},
	{"EntrySizeLimit", scEntrySizeLimit},
	{"WaitForCalcTimeout", scWaitForCalcTimeout},
	{"WaitEndsWithContext", scWaitEndsWithContext},
	{"ClearCache", scClearCache},
	{"Precache", scPrecache},
	{"DeleteStale", scDeleteStale},
	{"CleanupStale", scCleanupStale},
	{"ClearBeingCalculated", scClearBeingCalculated},
	{"CachingSwitch", scCachingSwitch},
	{"Version", scVersion},
	{"CorruptEntry", scCorruptEntry},
	{"MultipleResults", scMultipleResults},
	{"ResultsOwned", scResultsOwned},
}

func scHitAndMiss(t *testing.T, e *env) {
	var c counter
	f := func(a, b int) int { c.n.Add(1); return a*10 + b }
	e.decorate(&f, "")
	for range 3 {
		if got := f(1, 2); got != 12 {
			t.Fatalf("f(1, 2) = %d", got)
		}
	}
	e.wantCalls(&c, 1)
	if got := f(2, 1); got != 21 {
		t.Fatalf("f(2, 1) = %d", got)
	}
	e.wantCalls(&c, 2)
}

type query struct {
	Table  string
	IDs    []int
	Filter map[string]string
	limit  int // unexported: still part of the key
}

func scStructArgs(t *testing.T, e *env) {
	var c counter
	f := func(q query) (string, error) {
		c.n.Add(1)
		return fmt.Sprintf("%s%v%d%d", q.Table, q.IDs, len(q.Filter), q.limit), nil
	}
	e.decorate(&f, "")
	q1 := query{Table: "t", IDs: []int{1, 2}, Filter: map[string]string{"a": "1", "b": "2"}, limit: 1}
	q1again := query{Table: "t", IDs: []int{1, 2}, Filter: map[string]string{"b": "2", "a": "1"}, limit: 1}
	q2 := q1
	q2.limit = 2
	r1, _ := f(q1)
	r1again, _ := f(q1again)
	r2, _ := f(q2)
	if r1 != r1again || r1 == r2 {
		t.Fatalf("results %q %q %q", r1, r1again, r2)
	}
	e.wantCalls(&c, 2) // q1 and q1again share a key; q2 differs only in an unexported field
}

func scContextNotInKey(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, s string) (string, error) { c.n.Add(1); return strings.ToUpper(s), nil }
	e.decorate(&f, "")
	type k struct{}
	f(context.WithValue(bg, k{}, 1), "a")
	ctx, cancel := context.WithTimeout(bg, time.Hour)
	defer cancel()
	if got, err := f(ctx, "a"); got != "A" || err != nil {
		t.Fatalf("f = %q, %v", got, err)
	}
	e.wantCalls(&c, 1)
}

func scStaleAfter(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	const staleAfter = 150 * time.Millisecond
	e.decorate(&f, "stale_after=150ms")
	// Two calls that both end within stale_after of the first one's start
	// must share one calculation: the entry is stamped after that start and
	// judged before the second call ends. A loaded server (FerretDB beside
	// seven other test suites) can take longer than that for one write and
	// one read: then the second call rightly computed again, and the check
	// is tried on another key.
	x := 0
	for {
		x++
		start := time.Now()
		first, second := f(x), f(x)
		if time.Since(start) < staleAfter {
			if second != first {
				t.Fatalf("calls within stale_after returned %d, %d; want one calculation", first, second)
			}
			break
		}
		if x == 20 {
			t.Skipf("20 pairs of calls each took longer than stale_after (%v): the server is too slow to check", staleAfter)
		}
	}
	n := c.calls()
	time.Sleep(200 * time.Millisecond) // let the entry age past stale_after
	if got := f(x); got != n+1 {
		t.Fatalf("stale entry served: got %d, want a recomputation (%d)", got, n+1)
	}
	e.wantCalls(&c, n+1)
}

func scNextTime(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, x int) (int64, error) { return c.n.Add(1), nil }
	e.decorate(&f, "next_time")
	if v, _ := f(bg, 1); v != 1 {
		t.Fatal(v)
	}
	// Stale for this call: the stale value comes back at once, and a
	// refresh stores the next one.
	if v, _ := f(cachier.WithMaxAge(bg, -1), 1); v != 1 {
		t.Fatalf("next_time returned %d, want the stale 1", v)
	}
	e.eventually("the background refresh", func() bool {
		v, _ := f(bg, 1)
		return v == 2
	})
	e.wantCalls(&c, 2)
}

func scNextTimeOneRefresh(t *testing.T, e *env) {
	var c counter
	release := make(chan struct{})
	refreshing := make(chan struct{}, 10)
	f := func(ctx context.Context, x int) (int64, error) {
		n := c.n.Add(1)
		if n > 1 {
			refreshing <- struct{}{}
			<-release
		}
		return n, nil
	}
	e.decorate(&f, "next_time")
	f(bg, 1)
	stale := cachier.WithMaxAge(bg, -1)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, _ := f(stale, 1); v != 1 {
				t.Errorf("got %d, want the stale 1", v)
			}
		}()
	}
	<-refreshing // one refresh is under way and blocked
	wg.Wait()    // every caller returned the stale value meanwhile
	close(release)
	e.eventually("the refresh", func() bool { v, _ := f(bg, 1); return v == 2 })
	e.wantCalls(&c, 2)
}

func scOneCalculation(t *testing.T, e *env) {
	var c counter
	started := make(chan struct{})
	release := make(chan struct{})
	f := func(x int) string {
		if c.n.Add(1) == 1 {
			close(started)
		}
		<-release
		return fmt.Sprint("v", x)
	}
	e.decorate(&f, "")
	const n = 12
	results := make(chan string, n)
	go func() { results <- f(7) }()
	<-started
	var arrived sync.WaitGroup
	for range n - 1 {
		arrived.Add(1)
		go func() { arrived.Done(); results <- f(7) }()
	}
	arrived.Wait()
	close(release)
	for range n {
		if r := <-results; r != "v7" {
			t.Fatalf("got %q", r)
		}
	}
	e.wantCalls(&c, 1)
}

func scErrorsNotCached(t *testing.T, e *env) {
	var c counter
	boom := errors.New("boom")
	f := func(x int) (int, error) {
		if c.n.Add(1) == 1 {
			return 0, boom
		}
		return x, nil
	}
	e.decorate(&f, "")
	if _, err := f(1); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if v, err := f(1); v != 1 || err != nil {
		t.Fatalf("f(1) = %d, %v after an error", v, err)
	}
	f(1)
	e.wantCalls(&c, 2)
}

func scPanicClearsMark(t *testing.T, e *env) {
	var c counter
	f := func(x int) int {
		if c.n.Add(1) == 1 {
			panic("first call panics")
		}
		return x
	}
	e.decorate(&f, "wait_for_calc_timeout=30s")
	func() {
		defer func() {
			if r := recover(); r != "first call panics" {
				t.Fatalf("recovered %v", r)
			}
		}()
		f(1)
	}()
	if v := returnsWithin(t, func() int64 { return int64(f(1)) }, "the call after a panic waited on the panicked calculation's mark"); v != 1 {
		t.Fatal(v)
	}
	e.wantCalls(&c, 2)
}

func scAllowNone(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, x int) (*int, error) { c.n.Add(1); return nil, nil }
	e.decorate(&f, "")
	f(bg, 1)
	f(bg, 1)
	e.wantCalls(&c, 2) // nil is not cached by default
	f(cachier.WithAllowNone(bg), 1)
	f(cachier.WithAllowNone(bg), 1)
	e.wantCalls(&c, 3) // per-call allow_none caches and serves it

	var d counter
	g := func(x int) map[string]int { d.n.Add(1); return nil }
	e.decorate(&g, "allow_none")
	for range 2 {
		if g(1) != nil {
			t.Fatal("want nil")
		}
	}
	if d.calls() != 1 {
		t.Fatalf("allow_none: %d calls, want 1", d.calls())
	}
}

func scSkipCache(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, x int) (int64, error) { return c.n.Add(1), nil }
	e.decorate(&f, "")
	f(cachier.WithSkipCache(bg), 1)
	e.wantCalls(&c, 1)
	if v, _ := f(bg, 1); v != 2 {
		t.Fatalf("WithSkipCache stored its result: got %d", v)
	}
	if v, _ := f(cachier.WithSkipCache(bg), 1); v != 3 {
		t.Fatalf("WithSkipCache read the cache: got %d", v)
	}
}

func scOverwriteCache(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, x int) (int64, error) { return c.n.Add(1), nil }
	e.decorate(&f, "")
	f(bg, 1)
	if v, _ := f(cachier.WithOverwriteCache(bg), 1); v != 2 {
		t.Fatalf("WithOverwriteCache read the cache: %d", v)
	}
	if v, _ := f(bg, 1); v != 2 {
		t.Fatalf("after overwrite got %d, want 2", v)
	}
}

func scMaxAge(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, x int) (int64, error) { return c.n.Add(1), nil }
	e.decorate(&f, "stale_after=1h")
	f(bg, 1)
	if v, _ := f(cachier.WithMaxAge(bg, time.Hour), 1); v != 1 {
		t.Fatal("a young entry was stale under a lax max age")
	}
	time.Sleep(30 * time.Millisecond) // age the entry past the max age below
	if v, _ := f(cachier.WithMaxAge(bg, 10*time.Millisecond), 1); v != 2 {
		t.Fatalf("max age stricter than stale_after ignored: got %d", v)
	}
	if v, _ := f(cachier.WithMaxAge(bg, 24*time.Hour), 1); v != 2 {
		t.Fatalf("lax max age: got %d", v)
	}
	if v, _ := f(cachier.WithMaxAge(bg, -1), 1); v != 3 {
		t.Fatalf("negative max age did not force staleness: got %d", v)
	}
}

func scEntrySizeLimit(t *testing.T, e *env) {
	var c counter
	f := func(n int) string { c.n.Add(1); return strings.Repeat("x", n) }
	e.decorate(&f, "entry_size_limit=1KB")
	f(10)
	f(10)
	e.wantCalls(&c, 1)
	if got := f(5000); len(got) != 5000 {
		t.Fatal("oversized result not returned")
	}
	f(5000)
	e.wantCalls(&c, 3) // the large result was returned but not stored
}

func scWaitForCalcTimeout(t *testing.T, e *env) {
	var c counter
	started := make(chan struct{})
	release := make(chan struct{})
	f := func(x int) int64 {
		n := c.n.Add(1)
		if n == 1 {
			close(started)
			<-release
		}
		return n
	}
	e.decorate(&f, "wait_for_calc_timeout=100ms")
	first := make(chan int64)
	go func() { first <- f(1) }()
	<-started
	if v := f(1); v != 2 {
		t.Fatalf("waiter got %d, want its own calculation 2", v)
	}
	close(release)
	<-first
}

func scWaitEndsWithContext(t *testing.T, e *env) {
	var c counter
	started := make(chan struct{})
	release := make(chan struct{})
	f := func(ctx context.Context, x int) (int64, error) {
		n := c.n.Add(1)
		if n == 1 {
			close(started)
			<-release
		}
		return n, nil
	}
	e.decorate(&f, "")
	first := make(chan int64)
	go func() { v, _ := f(bg, 1); first <- v }()
	<-started
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, err := f(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	close(release)
	if v := <-first; v != 1 {
		t.Fatal(v)
	}
	e.wantCalls(&c, 1)
}

func scClearCache(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	h := e.decorate(&f, "")
	f(1)
	f(2)
	if err := h.ClearCache(bg); err != nil {
		t.Fatal(err)
	}
	f(1)
	f(2)
	e.wantCalls(&c, 4)
}

func scPrecache(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, a string, b int) (string, error) { c.n.Add(1); return "computed", nil }
	h := e.decorate(&f, "")
	if err := h.Precache(bg, "pre", "x", 1); err != nil { // key arguments only
		t.Fatal(err)
	}
	if err := h.Precache(bg, "pre2", bg, "y", 2); err != nil { // all arguments
		t.Fatal(err)
	}
	if v, _ := f(bg, "x", 1); v != "pre" {
		t.Fatalf("got %q, want the precached value", v)
	}
	if v, _ := f(bg, "y", 2); v != "pre2" {
		t.Fatalf("got %q, want the precached value", v)
	}
	e.wantCalls(&c, 0)
	if err := h.Precache(bg, 42, "x", 1); err == nil {
		t.Fatal("Precache of an int for a string result succeeded")
	}
	if err := h.Precache(bg, "v", "x"); err == nil {
		t.Fatal("Precache with too few arguments succeeded")
	}
}

func scDeleteStale(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	const staleAfter = 200 * time.Millisecond
	h := e.decorate(&f, "stale_after=200ms")
	// Entry x goes stale, entry x+1 is written, DeleteStale runs. Entry x+1
	// is fresh only if the write and DeleteStale end within stale_after of
	// its calculation: a loaded server (FerretDB beside other test suites)
	// can take longer, and then the round is tried again on other keys.
	for x := 1; ; x += 2 {
		f(x)
		time.Sleep(staleAfter + 50*time.Millisecond) // let entry x go stale
		start := time.Now()
		before := c.calls()
		f(x + 1)
		if err := h.DeleteStale(bg); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) >= staleAfter {
			if x > 10 {
				t.Skipf("5 rounds each took longer than stale_after (%v): the server is too slow to check", staleAfter)
			}
			continue
		}
		kStale, _ := hashing.Default([]any{x})
		kFresh, _ := hashing.Default([]any{x + 1})
		if _, err := h.Store().Get(bg, h.Name(), kStale); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("stale entry still there after DeleteStale: %v", err)
		}
		if _, err := h.Store().Get(bg, h.Name(), kFresh); err != nil {
			if _, isMem := h.Store().(store.ValueStore); !isMem {
				t.Fatalf("fresh entry gone after DeleteStale: %v", err)
			}
		}
		if time.Since(start) < staleAfter {
			f(x + 1) // still fresh: served from the cache
			e.wantCalls(&c, before+1)
		}
		return
	}
}

func scCleanupStale(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	h := e.decorate(&f, "stale_after=50ms,cleanup_stale,cleanup_interval=10ms")
	f(1)
	k1, _ := hashing.Default([]any{1})
	time.Sleep(80 * time.Millisecond) // entry 1 goes stale
	e.eventually("the background cleanup", func() bool {
		f(2) // each call may start a cleanup
		if ms, ok := h.Store().(*memstore.Store); ok {
			return ms.Len(h.Name()) == 1
		}
		_, err := h.Store().Get(bg, h.Name(), k1)
		return errors.Is(err, store.ErrNotFound)
	})
}

func scClearBeingCalculated(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	h := e.decorate(&f, "")
	k, _ := hashing.Default([]any{1})
	// A mark left by a calculation that will never finish, as a dead
	// process would leave it.
	if _, err := h.Store().Mark(bg, h.Name(), k, "dead-process", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := h.ClearBeingCalculated(bg); err != nil {
		t.Fatal(err)
	}
	if v := returnsWithin(t, func() int64 { return f(1) }, "call waited on a cleared mark"); v != 1 {
		t.Fatal(v)
	}
}

func scCachingSwitch(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	e.decorate(&f, "")
	f(1)
	defaults.DisableCaching()
	f(1)
	f(1)
	e.wantCalls(&c, 3)
	defaults.EnableCaching()
	if v := f(1); v != 1 {
		t.Fatalf("got %d: a call with caching off wrote the cache", v)
	}
}

func scVersion(t *testing.T, e *env) {
	var c counter
	body := func(x int) int64 { return c.n.Add(1) }
	name := "versioned-" + e.ns
	f1 := body
	if err := cachier.Decorate(&f1, append([]cachier.Option{cachier.Tag(e.b.tag + ",name=" + name + ",version=1")}, e.b.opts...)...); err != nil {
		t.Fatal(err)
	}
	f1(1)
	f1b := body
	if err := cachier.Decorate(&f1b, append([]cachier.Option{cachier.Tag(e.b.tag + ",name=" + name + ",version=1")}, e.b.opts...)...); err != nil {
		t.Fatal(err)
	}
	f1b(1)
	e.wantCalls(&c, 1) // same name and version: same cache
	f2 := body
	if err := cachier.Decorate(&f2, append([]cachier.Option{cachier.Tag(e.b.tag + ",name=" + name + ",version=2")}, e.b.opts...)...); err != nil {
		t.Fatal(err)
	}
	f2(1)
	e.wantCalls(&c, 2) // a new version starts fresh
	for _, g := range []*func(int) int64{&f1, &f2} {
		h, _ := cachier.Of(g)
		_ = h.ClearCache(bg)
	}
}

func scCorruptEntry(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	h := e.decorate(&f, "")
	if _, isMem := h.Store().(store.ValueStore); isMem {
		t.Skip("the memory store keeps Go values, not bytes")
	}
	k, _ := hashing.Default([]any{1})
	garbage := store.Entry{Value: []byte("\x01\x01not gob at all"), Time: time.Now()}
	if err := h.Store().Set(bg, h.Name(), k, garbage); err != nil {
		t.Fatal(err)
	}
	if v := f(1); v != 1 {
		t.Fatalf("got %d from a corrupt entry", v)
	}
	if v := f(1); v != 1 {
		t.Fatalf("corrupt entry not overwritten: got %d", v)
	}
	e.wantCalls(&c, 1)
}

func scMultipleResults(t *testing.T, e *env) {
	var c counter
	type pair struct{ A, B string }
	f := func(x int) (pair, []int, map[string]bool, error) {
		c.n.Add(1)
		return pair{"a", fmt.Sprint(x)}, []int{}, map[string]bool{"k": true}, nil
	}
	e.decorate(&f, "")
	f(1)
	p, s, m, err := f(1)
	if err != nil || p != (pair{"a", "1"}) || s == nil || len(s) != 0 || !m["k"] {
		t.Fatalf("got %v %#v %v %v", p, s, m, err)
	}
	e.wantCalls(&c, 1)
}

// scResultsOwned: on a store that keeps bytes, no two callers get results
// that share memory, whether they computed, waited or hit: overwriting one
// caller's []byte (64 KiB, which the codec decodes by slicing the entry)
// leaves every other caller's, and the cached one, intact. The memory
// store hands every caller the same Go value by design (store.ValueStore).
func scResultsOwned(t *testing.T, e *env) {
	if strings.Contains(e.b.tag, "backend=memory") {
		t.Skip("the memory store shares its Go values between callers by design")
	}
	want := make([]byte, 64<<10)
	for i := range want {
		want[i] = byte(i * 13)
	}
	var c counter
	started, release := make(chan struct{}), make(chan struct{})
	f := func(x int) []byte {
		if c.n.Add(1) == 1 {
			close(started)
		}
		<-release
		return bytes.Clone(want)
	}
	e.decorate(&f, "")
	const n = 4
	results := make(chan []byte, n)
	go func() { results <- f(3) }()
	<-started
	for range n - 1 {
		go func() { results <- f(3) }()
	}
	close(release)
	var got [][]byte
	for range n {
		got = append(got, <-results)
	}
	got = append(got, f(3), f(3)) // hits
	testenv.OwnResults(t, got, want)
	if !bytes.Equal(f(3), want) {
		t.Fatal("after every caller overwrote its result, a hit returns other bytes")
	}
}
