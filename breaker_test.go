package cachier_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

// switchable is a plain store over a memory store that a test can take
// down, and that counts every operation that reaches it.
type switchable struct {
	store.Store
	down atomic.Bool
	ops  atomic.Int64
}

func (s *switchable) op() error {
	s.ops.Add(1)
	if s.down.Load() {
		return errDown
	}
	return nil
}

func (s *switchable) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	if err := s.op(); err != nil {
		return store.Entry{}, err
	}
	return s.Store.Get(ctx, fn, key)
}

func (s *switchable) Set(ctx context.Context, fn, key string, e store.Entry) error {
	if err := s.op(); err != nil {
		return err
	}
	return s.Store.Set(ctx, fn, key, e)
}

func (s *switchable) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	if err := s.op(); err != nil {
		return false, err
	}
	return s.Store.Mark(ctx, fn, key, owner, ttl)
}

func (s *switchable) Unmark(ctx context.Context, fn, key, owner string) error {
	if err := s.op(); err != nil {
		return err
	}
	return s.Store.Unmark(ctx, fn, key, owner)
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestBreakerSkipsFailingStore: after a store failure the function leaves
// the store alone for a window (1s), then one call probes it; each failed
// probe doubles the window up to a minute; a probe that gets an answer
// closes the circuit. Opening and closing are each logged once. Before the
// fix, every call asked the failing store again.
func TestBreakerSkipsFailingStore(t *testing.T) {
	reset(t)
	logs := testenv.CaptureLogs(t)
	st := &switchable{Store: memstore.New()}
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) { calls.Add(1); return x * 2, nil }
	if err := cachier.Decorate(&f, runTag("backend=ctl,name=core.breaker.unit"), cachier.WithStore("ctl", st)); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	clock := &fakeClock{now: time.Now()}
	cachier.SetBreakerClock(h, clock.Now)

	// call calls f(ctx, 1) and reports how many store operations it made
	// and whether the function ran.
	call := func() (ops int64, ran bool) {
		t.Helper()
		o, c := st.ops.Load(), calls.Load()
		if v, err := f(ctx, 1); v != 2 || err != nil {
			t.Fatalf("f(1) = %d, %v", v, err)
		}
		return st.ops.Load() - o, calls.Load() != c
	}
	if _, ran := call(); !ran {
		t.Fatal("first call did not run the function")
	}
	if ops, ran := call(); ran || ops != 1 {
		t.Fatalf("hit: %d ops, ran %v", ops, ran)
	}

	st.down.Store(true)
	if ops, ran := call(); ops != 1 || !ran {
		t.Fatalf("first call of the outage: %d store ops (want 1: the look-up), ran %v", ops, ran)
	}
	for i := range 10 {
		if ops, ran := call(); ops != 0 || !ran {
			t.Fatalf("call %d within the first window: %d store ops (want 0), ran %v", i, ops, ran)
		}
	}
	// Each window: a call just before its end leaves the store alone, one
	// just after probes it (one operation) and, failing, doubles it.
	windows := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for _, w := range windows {
		clock.Advance(w - time.Millisecond)
		if ops, ran := call(); ops != 0 || !ran {
			t.Fatalf("window %v, before its end: %d store ops, ran %v", w, ops, ran)
		}
		clock.Advance(2 * time.Millisecond)
		if ops, ran := call(); ops != 1 || !ran {
			t.Fatalf("window %v, after its end: %d store ops (want 1 probe), ran %v", w, ops, ran)
		}
		clock.Advance(-time.Millisecond) // the next window starts at the probe
	}

	st.down.Store(false)
	clock.Advance(time.Minute + time.Millisecond)
	if ops, ran := call(); ops != 1 || ran {
		t.Fatalf("the probe after the outage: %d store ops, ran %v (want a hit from the store)", ops, ran)
	}
	if ops, ran := call(); ops != 1 || ran {
		t.Fatalf("after the outage: %d store ops, ran %v (want a hit)", ops, ran)
	}
	l := logs.String()
	if n := strings.Count(l, "store failed"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, l)
	}
	if n := strings.Count(l, "store answers again"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once:\n%s", n, l)
	}
}

// TestBreakerProbeIsOne: while a probe is under way, the other calls leave
// the store alone.
func TestBreakerProbeIsOne(t *testing.T) {
	reset(t)
	_ = testenv.CaptureLogs(t)
	inner := &switchable{Store: memstore.New()}
	entered, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool
	hang := &hangingGet{switchable: inner, hold: &hold, entered: entered, release: release}
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) { calls.Add(1); return x, nil }
	if err := cachier.Decorate(&f, runTag("backend=ctl,name=core.breaker.probe"), cachier.WithStore("ctl", hang)); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	clock := &fakeClock{now: time.Now()}
	cachier.SetBreakerClock(h, clock.Now)

	inner.down.Store(true)
	f(ctx, 1) // opens the circuit
	clock.Advance(2 * time.Second)
	inner.down.Store(false)
	hold.Store(true)
	probed := make(chan int)
	go func() { v, _ := f(ctx, 1); probed <- v }()
	<-entered // the probe is in the store
	before := inner.ops.Load()
	for x := range 5 {
		if v, _ := f(ctx, 10+x); v != 10+x {
			t.Fatalf("got %d", v)
		}
	}
	if n := inner.ops.Load() - before; n != 0 {
		t.Fatalf("%d store operations while a probe was under way, want 0", n)
	}
	close(release)
	if v := <-probed; v != 1 {
		t.Fatalf("probe got %d", v)
	}
}

// hangingGet holds the first Get after hold is set until release closes.
type hangingGet struct {
	*switchable
	hold    *atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *hangingGet) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	if s.hold.CompareAndSwap(true, false) {
		close(s.entered)
		<-s.release
	}
	return s.switchable.Get(ctx, fn, key)
}

// panicky is a plain store over a memory store whose method named in
// panics panics (a custom store that breaks its contract), counting the
// panics.
type panicky struct {
	store.Store
	panics string
	n      atomic.Int64
	marks  atomic.Int64
}

func (s *panicky) maybe(op string) {
	if op == s.panics {
		s.n.Add(1)
		panic("the store's " + op + " broke")
	}
}

func (s *panicky) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	s.maybe("Get")
	return s.Store.Get(ctx, fn, key)
}

func (s *panicky) Set(ctx context.Context, fn, key string, e store.Entry) error {
	s.maybe("Set")
	return s.Store.Set(ctx, fn, key, e)
}

func (s *panicky) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	if s.marks.Add(1) > 1 { // the heartbeat's renewals, past a call's own mark
		s.maybe("renewing Mark")
	}
	s.maybe("Mark")
	return s.Store.Mark(ctx, fn, key, owner, ttl)
}

func (s *panicky) Unmark(ctx context.Context, fn, key, owner string) error {
	s.maybe("Unmark")
	return s.Store.Unmark(ctx, fn, key, owner)
}

func (s *panicky) DeleteStale(ctx context.Context, fn string, cutoff time.Time) error {
	s.maybe("DeleteStale")
	return s.Store.DeleteStale(ctx, fn, cutoff)
}

func (s *panicky) Delete(ctx context.Context, fn, key string) error {
	s.maybe("Delete")
	return s.Store.Delete(ctx, fn, key)
}

func (s *panicky) Clear(ctx context.Context, fn string) error {
	s.maybe("Clear")
	return s.Store.Clear(ctx, fn)
}

func (s *panicky) ClearMarks(ctx context.Context, fn string) error {
	s.maybe("ClearMarks")
	return s.Store.ClearMarks(ctx, fn)
}

func (s *panicky) Size(fn string) (entries, bytes int64, ok bool) {
	s.maybe("Size")
	return 1, 2, true
}

// TestPanickingStoreFailsNoCall: a store whose method panics is a failing
// store: the call returns the function's result, the failure is logged,
// and a panic in the heartbeat's renewal of a mark or in a cleanup, which
// no caller could recover, does not take the process down. Before, the
// panic went to the caller (Get, Mark, Set, Unmark) or ended the process
// (the heartbeat).
func TestPanickingStoreFailsNoCall(t *testing.T) {
	for _, op := range []string{"Get", "Mark", "Set", "Unmark", "renewing Mark", "DeleteStale"} {
		// Failures of Unmark and of the heartbeat's renewals are ignored:
		// they leave a mark to expire.
		logged := op != "Unmark" && op != "renewing Mark"
		t.Run(op, func(t *testing.T) {
			reset(t)
			buf := testenv.CaptureLogs(t)
			st := &panicky{Store: memstore.New(), panics: op}
			var calls atomic.Int64
			f := func(x int) (int, error) {
				if calls.Add(1) == 1 && op == "renewing Mark" {
					waitFor(t, "the heartbeat to renew the mark", func() bool { return st.n.Load() > 0 })
				}
				if op == "Unmark" { // a failure is not stored: the mark is removed
					return 0, errDown
				}
				return x * 2, nil
			}
			tag := "name=test.panicky,backend=panicky,mark_ttl=30ms,stale_after=1h,cleanup_stale,cleanup_interval=1ns"
			if err := cachier.Decorate(&f, runTag(tag), cachier.WithStore("panicky", st)); err != nil {
				t.Fatal(err)
			}
			if got, err := f(21); got != 42 && err != errDown {
				t.Fatalf("%d, %v: want 42 or the function's error", got, err)
			}
			if err := cachier.WaitBackground(ctx); err != nil {
				t.Fatal(err)
			}
			if st.n.Load() == 0 {
				t.Fatalf("the store's %s was never called", op)
			}
			if logged && !strings.Contains(buf.String(), "the store's "+op+" broke") {
				t.Errorf("the log does not say why:\n%s", buf)
			}
		})
	}
}

// lyingValues is a ValueStore over a memory store (not the memory store
// itself, so the core calls its methods) whose GetValue returns get's
// value, or panics, and whose SetValue panics when told to.
type lyingValues struct {
	*memstore.Store
	get      func() any
	setPanic bool
}

func (s lyingValues) GetValue(fn, key string) (any, time.Time, bool) {
	return s.get(), time.Now(), true
}

func (s lyingValues) SetValue(fn, key string, v any, t time.Time) {
	if s.setPanic {
		panic("SetValue broke")
	}
	s.Store.SetValue(fn, key, v, t)
}

// TestLyingValueStoreIsAMiss: a ValueStore other than the memory store
// whose GetValue panics, or returns anything but a successful result list
// of the function's types (another type, too few or too many results, a
// value of another type, a non-nil error), is a miss: the function is
// called and its result returned. One whose SetValue panics leaves the
// result uncached. Before, each panicked in the caller (a type assertion,
// an index, reflect.MakeFunc's checks), and a stored error was returned as
// a hit.
func TestLyingValueStoreIsAMiss(t *testing.T) {
	for name, get := range map[string]func() any{
		"not a result list": func() any { return "42" },
		"too few":           func() any { return []reflect.Value{} },
		"too many":          func() any { return []reflect.Value{reflect.ValueOf(1), reflect.ValueOf(errDown), reflect.ValueOf(2)} },
		"wrong type":        func() any { return []reflect.Value{reflect.ValueOf("s"), reflect.Zero(reflect.TypeFor[error]())} },
		"invalid":           func() any { return []reflect.Value{{}, reflect.Zero(reflect.TypeFor[error]())} },
		"an error":          func() any { return []reflect.Value{reflect.ValueOf(1), reflect.ValueOf(errDown)} },
		"panics":            func() any { panic("GetValue broke") },
	} {
		t.Run(name, func(t *testing.T) {
			reset(t)
			testenv.CaptureLogs(t)
			f := func(x int) (int, error) { return x * 2, nil }
			st := lyingValues{Store: memstore.New(), get: get}
			if err := cachier.Decorate(&f, runTag("name=test.lyingvalues,backend=lying"), cachier.WithStore("lying", st)); err != nil {
				t.Fatal(err)
			}
			if got, err := f(21); got != 42 || err != nil {
				t.Fatalf("got %d, %v; want 42, nil", got, err)
			}
		})
	}
	t.Run("SetValue panics", func(t *testing.T) {
		reset(t)
		buf := testenv.CaptureLogs(t)
		var calls atomic.Int64
		f := func(x int) (int, error) { calls.Add(1); return x * 2, nil }
		st := lyingValues{Store: memstore.New(), get: func() any { return nil }, setPanic: true}
		if err := cachier.Decorate(&f, runTag("name=test.lyingvalues.set,backend=lying"), cachier.WithStore("lying", st)); err != nil {
			t.Fatal(err)
		}
		if got, err := f(21); got != 42 || err != nil {
			t.Fatalf("got %d, %v; want 42, nil", got, err)
		}
		if !strings.Contains(buf.String(), "SetValue broke") {
			t.Errorf("the log does not say why:\n%s", buf)
		}
	})
}

// TestFunctionPanicOverStorePanic: a function that panics has its mark
// removed on the way out; a store whose Unmark panics then does not
// replace the function's panic: the caller recovers the function's own
// value, as from a plain call. Before the store's panics were recovered,
// the caller got the store's.
func TestFunctionPanicOverStorePanic(t *testing.T) {
	reset(t)
	testenv.CaptureLogs(t)
	st := &panicky{Store: memstore.New(), panics: "Unmark"}
	f := func(x int) int { panic("the function's own") }
	if err := cachier.Decorate(&f, runTag("name=test.unmarkpanic,backend=unmarkpanics"), cachier.WithStore("unmarkpanics", st)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != "the function's own" {
			t.Errorf("recovered %v, want the function's own panic", r)
		}
		if st.n.Load() == 0 {
			t.Error("Unmark was not called")
		}
	}()
	f(1)
}

// panickyExpirer is a store.Expirer whose ExpiresEntries panics.
type panickyExpirer struct{ store.Store }

func (panickyExpirer) ExpiresEntries() bool { panic("ExpiresEntries broke") }

// TestPanickingExpirerFailsNoCall: a store whose ExpiresEntries panics
// (asked at every call of a function with expire_after) fails no call:
// its entries are taken for ones that cleanup deletes. Before, every call
// panicked.
func TestPanickingExpirerFailsNoCall(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	f := func(x int) int { calls.Add(1); return x * 2 }
	st := panickyExpirer{&switchable{Store: memstore.New()}}
	if err := cachier.Decorate(&f, runTag("name=test.panickyexpirer,backend=expirer,expire_after=1h"), cachier.WithStore("expirer", st)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := f(21); got != 42 {
			t.Fatalf("%d, want 42", got)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1: the second hits", n)
	}
	if err := cachier.WaitBackground(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPanickingStoreFailsNoHandleMethod: a store method that panics under
// a Handle method is that method's error, and a store.Sizer that panics
// leaves Stats without the store's figures. Before, the panic went to the
// caller, and a Prometheus scrape (which reads them on a goroutine of its
// own) would have ended the process.
func TestPanickingStoreFailsNoHandleMethod(t *testing.T) {
	for op, call := range map[string]func(h *cachier.Handle) error{
		"Clear":       func(h *cachier.Handle) error { return h.ClearCache(ctx) },
		"ClearMarks":  func(h *cachier.Handle) error { return h.ClearBeingCalculated(ctx) },
		"DeleteStale": func(h *cachier.Handle) error { return h.DeleteStale(ctx) },
		"Delete":      func(h *cachier.Handle) error { return h.Forget(ctx, 1) },
		"Set":         func(h *cachier.Handle) error { return h.Precache(ctx, 2, 1) },
		"Size": func(h *cachier.Handle) error {
			if s := h.Stats(); s.Entries != 0 || s.SizeBytes != 0 {
				return fmt.Errorf("Stats has the store's figures: %+v", s)
			}
			return errors.New("Stats: the Sizer panicked, and Stats left its figures out")
		},
	} {
		t.Run(op, func(t *testing.T) {
			reset(t)
			st := &panicky{Store: memstore.New(), panics: op}
			f := func(x int) int { return x * 2 }
			if err := cachier.Decorate(&f, runTag("name=test.panicky.handle,backend=panicky,stale_after=1h,enable_metrics"), cachier.WithStore("panicky", st)); err != nil {
				t.Fatal(err)
			}
			h, err := cachier.Of(&f)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panicked: %v", r)
				}
			}()
			if err := call(h); err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("error %v, want one that says the store panicked", err)
			}
			if st.n.Load() == 0 {
				t.Errorf("the store's %s was not called", op)
			}
		})
	}
}
