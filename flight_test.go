package cachier_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
)

// waitFor polls cond until it holds, failing the test after 10s: a guard
// against a hang, never a measure of speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waiting is how many callers of the function at p wait on a flight.
func waiting(t *testing.T, p any) func() int {
	h, err := cachier.Of(p)
	if err != nil {
		t.Fatal(err)
	}
	return func() int { return cachier.Waiting(h) }
}

// TestFailureSharedWithWaiters: callers that waited for a calculation that
// failed get its error, as with singleflight: one call, not one per caller
// in turn. Before the fix, 10 callers made 10 calls one after another.
func TestFailureSharedWithWaiters(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	gate := make(chan struct{})
	boom := errors.New("boom")
	f := func(ctx context.Context, x int) (int, error) {
		calls.Add(1)
		<-gate
		return 0, fmt.Errorf("call %d: %w", calls.Load(), boom)
	}
	if err := cachier.Decorate(&f, runTag("backend=memory,name=core.flight.fail")); err != nil {
		t.Fatal(err)
	}
	const n = 10
	errs := make(chan error, n)
	for range n {
		go func() { _, err := f(ctx, 1); errs <- err }()
	}
	w := waiting(t, &f)
	waitFor(t, "9 callers wait on the first", func() bool { return w() == n-1 })
	close(gate)
	for range n {
		if err := <-errs; !errors.Is(err, boom) || err.Error() != "call 1: boom" {
			t.Errorf("caller got %v, want the one call's error", err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("%d calls for %d concurrent callers of a failing function, want 1", c, n)
	}
}

// TestStoreOutageStillDeduplicates: while the store fails, concurrent
// callers of one key in this process still cause one calculation. Before
// the fix, a failed lookup went straight to the function: 20 calls.
func TestStoreOutageStillDeduplicates(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	gate := make(chan struct{})
	f := func(ctx context.Context, x int) (int, error) {
		calls.Add(1)
		<-gate
		return x * 2, nil
	}
	if err := cachier.Decorate(&f, runTag("backend=down,name=core.flight.outage"), cachier.WithStore("down", &failing{})); err != nil {
		t.Fatal(err)
	}
	const n = 20
	got := make(chan int, n)
	for range n {
		go func() { v, _ := f(ctx, 21); got <- v }()
	}
	w := waiting(t, &f)
	waitFor(t, "19 callers wait on the first", func() bool { return w() == n-1 })
	close(gate)
	for range n {
		if v := <-got; v != 42 {
			t.Errorf("got %d, want 42", v)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("%d calls for %d concurrent callers during a store outage, want 1", c, n)
	}
}

// TestPanicWaitersComputeThemselves: a panic propagates to the caller that
// ran the calculation; the callers that waited for it compute themselves
// (each calls the function), as if nobody had been computing.
func TestPanicWaitersComputeThemselves(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	gate := make(chan struct{})
	f := func(ctx context.Context, x int) (int, error) {
		if calls.Add(1) == 1 {
			<-gate
			panic("first call panics")
		}
		return x, nil
	}
	if err := cachier.Decorate(&f, runTag("backend=memory,name=core.flight.panic")); err != nil {
		t.Fatal(err)
	}
	leader := make(chan any)
	go func() {
		defer func() { leader <- recover() }()
		f(ctx, 7)
	}()
	waitFor(t, "the first call runs", func() bool { return calls.Load() == 1 })
	const n = 5
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := f(ctx, 7); v != 7 || err != nil {
				t.Errorf("waiter got %d, %v, want 7", v, err)
			}
		}()
	}
	w := waiting(t, &f)
	waitFor(t, "5 callers wait on the first", func() bool { return w() == n })
	close(gate)
	if r := <-leader; r != "first call panics" {
		t.Fatalf("the leader recovered %v, want its panic", r)
	}
	wg.Wait()
	if c := calls.Load(); c != 1+n {
		t.Fatalf("%d calls, want %d (the panicking one, then one per waiter)", c, 1+n)
	}
}

// TestLeaderCancelledNotShared: an error the leader got because its own
// context ended is not handed to the callers that waited: they compute.
func TestLeaderCancelledNotShared(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return x, nil
	}
	if err := cachier.Decorate(&f, runTag("backend=memory,name=core.flight.cancel")); err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	leader := make(chan error)
	go func() { _, err := f(lctx, 3); leader <- err }()
	waitFor(t, "the first call runs", func() bool { return calls.Load() == 1 })
	got := make(chan int)
	go func() { v, _ := f(ctx, 3); got <- v }()
	w := waiting(t, &f)
	waitFor(t, "a caller waits on the first", func() bool { return w() == 1 })
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader got %v", err)
	}
	if v := <-got; v != 3 {
		t.Fatalf("the waiter got %d, want its own result 3, not the leader's cancellation", v)
	}
}

// TestClearBeingCalculatedReleasesWaiters: with no wait_for_calc_timeout, a
// caller waiting in this process on a hung calculation is released by
// ClearBeingCalculated and computes itself. Before the fix it waited
// forever.
func TestClearBeingCalculatedReleasesWaiters(t *testing.T) {
	for _, backend := range []string{"memory", "file"} {
		t.Run(backend, func(t *testing.T) {
			reset(t)
			tag := "backend=" + backend + ",name=core.flight.clear." + backend
			if backend == "file" {
				tag += ",cache_dir=" + t.TempDir()
			}
			var calls atomic.Int64
			hung, hungDone := make(chan struct{}), make(chan struct{})
			// Release the hung call and wait for it to end (it writes its
			// result) before t.TempDir is removed.
			defer func() { close(hung); <-hungDone }()
			f := func(ctx context.Context, x int) (int, error) {
				if calls.Add(1) == 1 {
					<-hung
					return -1, nil
				}
				return x, nil
			}
			if err := cachier.Decorate(&f, runTag(tag)); err != nil {
				t.Fatal(err)
			}
			go func() { defer close(hungDone); f(ctx, 5) }() // hangs until the test ends
			waitFor(t, "the first call runs", func() bool { return calls.Load() == 1 })
			got := make(chan int)
			go func() { v, _ := f(ctx, 5); got <- v }()
			w := waiting(t, &f)
			waitFor(t, "a caller waits on the hung one", func() bool { return w() == 1 })
			h, _ := cachier.Of(&f)
			if err := h.ClearBeingCalculated(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case v := <-got:
				if v != 5 {
					t.Fatalf("released caller got %d, want 5", v)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ClearBeingCalculated did not release the caller waiting in this process")
			}
		})
	}
}

// TestClearBeingCalculatedStopsRenewal: ClearBeingCalculated also stops
// this process's hung calculation from renewing its mark, so that another
// process (here a second decorated function sharing the identity and the
// file store) computes instead of waiting on a mark taken again. Before the
// fix the hung calculation's heartbeat re-marked the key within mark_ttl/3.
func TestClearBeingCalculatedStopsRenewal(t *testing.T) {
	reset(t)
	tag := runTag("backend=file,name=core.flight.renewal,mark_ttl=90ms,cache_dir=" + t.TempDir())
	var calls atomic.Int64
	hung, hungDone := make(chan struct{}), make(chan struct{})
	defer func() { close(hung); <-hungDone }() // the hung call ends before t.TempDir goes
	body := func(ctx context.Context, x int) (int, error) {
		if calls.Add(1) == 1 {
			<-hung
			return -1, nil
		}
		return x, nil
	}
	fA, fB := body, body
	if err := cachier.Decorate(&fA, tag); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&fB, tag); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(hungDone); fA(ctx, 5) }() // hangs until the test ends, renewing its mark every 30ms
	waitFor(t, "the first call runs", func() bool { return calls.Load() == 1 })
	h, _ := cachier.Of(&fA)
	if err := h.ClearBeingCalculated(ctx); err != nil {
		t.Fatal(err)
	}
	// Give a heartbeat that was not stopped several periods to mark again.
	time.Sleep(200 * time.Millisecond)
	got := make(chan int)
	go func() { v, _ := fB(ctx, 5); got <- v }()
	select {
	case v := <-got:
		if v != 5 {
			t.Fatalf("the other caller got %d, want 5", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the other caller still waits on the mark of the released calculation")
	}
}

var runSeq atomic.Int64

// runTag is cachier.Tag(spec) with a key_prefix of its own, so that a test
// run again in one process (go test -count=N) never finds the entries of
// its previous run in the process's memory store.
func runTag(spec string) cachier.Option {
	prefix := runPrefix()
	if spec == "" {
		return cachier.Tag(prefix)
	}
	return cachier.Tag(spec + "," + prefix)
}

// runPrefix is the key_prefix=... option runTag adds, for a test that
// gives several functions the same one.
func runPrefix() string { return fmt.Sprintf("key_prefix=run%d", runSeq.Add(1)) }
