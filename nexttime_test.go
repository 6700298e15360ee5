package cachier_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

// tweaked is a plain store (no ValueStore: the core encodes and decodes)
// over a memory store, whose Get a test can slow down or skew.
type tweaked struct {
	store.Store
	afterGet func(e *store.Entry) // runs on every entry Get finds
}

func (s *tweaked) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	e, err := s.Store.Get(ctx, fn, key)
	if err == nil && s.afterGet != nil {
		s.afterGet(&e)
	}
	return e, err
}

func newTweaked() *tweaked { return &tweaked{Store: memstore.New()} }

// TestRefreshPanicRecovered: a panic in a next_time background refresh is
// recovered and logged; the process lives on and later calls still work.
// Before the fix the panic killed the test binary.
func TestRefreshPanicRecovered(t *testing.T) {
	reset(t)
	buf := testenv.CaptureLogs(t)
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) {
		if calls.Add(1) == 2 {
			panic("refresh panics")
		}
		return x, nil
	}
	if err := cachier.Decorate(&f, runTag("backend=memory,name=core.nexttime.panic,next_time")); err != nil {
		t.Fatal(err)
	}
	f(ctx, 1)
	if v, err := f(cachier.WithMaxAge(ctx, -1), 1); v != 1 || err != nil {
		t.Fatalf("stale call got %d, %v", v, err)
	}
	waitFor(t, "the refresh's panic is logged", func() bool { return strings.Contains(buf.String(), "refresh panics") })
	if !strings.Contains(buf.String(), "panic") {
		t.Errorf("log lacks the panic:\n%s", buf)
	}
	h, _ := cachier.Of(&f)
	waitFor(t, "the refresh ends", func() bool { return cachier.Busy(h) == 0 })
	// The stale entry is still there and the next refresh works.
	if v, _ := f(cachier.WithMaxAge(ctx, -1), 1); v != 1 {
		t.Fatalf("after the panic: got %d", v)
	}
	waitFor(t, "the second refresh runs", func() bool { return calls.Load() == 3 })
}

// TestOneRefreshPerStalePeriod: a refresh first looks for an entry newer
// than the stale one it was started for. Two callers (two decorated
// functions sharing one identity and store, as two processes would) read
// the same stale entry; the first refreshes; the second, starting its
// refresh after that, finds the new entry and computes nothing. Before the
// fix it computed again.
func TestOneRefreshPerStalePeriod(t *testing.T) {
	for _, kind := range []string{"bytes", "values"} {
		t.Run(kind, func(t *testing.T) { testOneRefreshPerStalePeriod(t, kind) })
	}
}

// pausedValues is a memory store (a ValueStore) whose GetValue a test can
// pause.
type pausedValues struct {
	*memstore.Store
	afterGet func()
}

func (s *pausedValues) GetValue(fn, key string) (any, time.Time, bool) {
	v, t, ok := s.Store.GetValue(fn, key)
	s.afterGet()
	return v, t, ok
}

func testOneRefreshPerStalePeriod(t *testing.T, kind string) {
	reset(t)
	shared := memstore.New()
	paused, resume := make(chan struct{}), make(chan struct{})
	var pauseNext atomic.Bool
	pause := func() {
		if pauseNext.CompareAndSwap(true, false) {
			close(paused)
			<-resume
		}
	}
	var stA, stB store.Store = &tweaked{Store: shared}, &tweaked{Store: shared, afterGet: func(*store.Entry) { pause() }}
	if kind == "values" {
		stA, stB = shared, &pausedValues{Store: shared, afterGet: pause}
	}
	var calls atomic.Int64
	body := func(ctx context.Context, x int) (int64, error) { return calls.Add(1), nil }
	fA, fB := body, body
	tag := runTag("backend=s,name=core.nexttime.once." + kind + ",next_time")
	if err := cachier.Decorate(&fA, tag, cachier.WithStore("s", stA)); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&fB, tag, cachier.WithStore("s", stB)); err != nil {
		t.Fatal(err)
	}
	hA, _ := cachier.Of(&fA)
	hB, _ := cachier.Of(&fB)
	stale := cachier.WithMaxAge(ctx, -1)

	fA(ctx, 1) // call 1: the entry
	pauseNext.Store(true)
	gotB := make(chan int64)
	go func() { v, _ := fB(stale, 1); gotB <- v }()
	<-paused // B has read the stale entry of call 1

	if v, _ := fA(stale, 1); v != 1 {
		t.Fatalf("A's stale call got %d, want 1", v)
	}
	waitFor(t, "A's refresh ends", func() bool { return cachier.Busy(hA) == 0 })
	if calls.Load() != 2 {
		t.Fatalf("A's refresh: %d calls, want 2", calls.Load())
	}
	close(resume)
	if v := <-gotB; v != 1 {
		t.Fatalf("B's stale call got %d, want the stale 1", v)
	}
	waitFor(t, "B's refresh ends", func() bool { return cachier.Busy(hB) == 0 })
	if c := calls.Load(); c != 2 {
		t.Fatalf("%d calls: B refreshed again an entry A had just refreshed (want 2)", c)
	}
	if v, _ := fB(ctx, 1); v != 2 {
		t.Fatalf("B's next call got %d, want A's refreshed 2", v)
	}
}

// TestFutureEntryIsStale: an entry stamped more than a minute in the future
// (a writer with a skewed clock) is stale, even for a function whose
// entries never go stale; within a minute it is clock skew and fresh.
func TestFutureEntryIsStale(t *testing.T) {
	reset(t)
	st := newTweaked()
	var skew atomic.Int64
	st.afterGet = func(e *store.Entry) { e.Time = e.Time.Add(time.Duration(skew.Load())) }
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int64, error) { return calls.Add(1), nil }
	if err := cachier.Decorate(&f, runTag("backend=skewed,name=core.nexttime.future"), cachier.WithStore("skewed", st)); err != nil {
		t.Fatal(err)
	}
	f(ctx, 1)
	skew.Store(int64(30 * time.Second))
	if v, _ := f(ctx, 1); v != 1 {
		t.Fatalf("an entry 30s ahead: got %d, want the cached 1 (clock skew)", v)
	}
	skew.Store(int64(2 * time.Hour))
	if v, _ := f(ctx, 1); v != 2 {
		t.Fatalf("an entry 2h ahead: got %d, want a recomputation (2)", v)
	}
}
