package cachier_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

// slowSet is a memory store whose Set, once armed, tells entered and then
// waits for release: a refresh whose function has returned (and been
// counted) but whose entry is not written yet.
type slowSet struct {
	store.Store
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *slowSet) Set(ctx context.Context, fn, key string, e store.Entry) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.entered)
		<-s.release
	}
	return s.Store.Set(ctx, fn, key, e)
}

// TestWaitBackground: WaitBackground returns only once a next_time refresh
// has written its entry, not when its function returned. Before it, a test
// could see the refresh counted, end, and have its cache directory removed
// while the refresh was still writing into it (CI failed on "directory not
// empty").
func TestWaitBackground(t *testing.T) {
	reset(t)
	if err := cachier.WaitBackground(ctx); err != nil {
		t.Fatalf("WaitBackground with nothing running: %v", err)
	}
	st := &slowSet{Store: memstore.New(), entered: make(chan struct{}), release: make(chan struct{})}
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int64, error) { return calls.Add(1), nil }
	if err := cachier.Decorate(&f, runTag("backend=slowset,name=core.workers.wait,next_time,enable_metrics"), cachier.WithStore("slowset", st)); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	f(ctx, 1)
	st.armed.Store(true)
	if v, _ := f(cachier.WithMaxAge(ctx, -1), 1); v != 1 {
		t.Fatalf("the stale call got %d, want the stale 1", v)
	}
	<-st.entered // the refresh computed and is writing
	if n := h.Stats().Recalculations; n != 2 {
		t.Fatalf("Recalculations = %d while the refresh writes, want 2", n)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := cachier.WaitBackground(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitBackground while the refresh writes = %v, want context.DeadlineExceeded", err)
	}
	done := make(chan error, 1)
	go func() { done <- cachier.WaitBackground(ctx) }()
	close(st.release)
	if err := <-done; err != nil {
		t.Fatalf("WaitBackground: %v", err)
	}
	// The refreshed entry is in the store now: a plain call hits it.
	if v, _ := f(ctx, 1); v != 2 {
		t.Fatalf("after WaitBackground: got %d, want the refreshed 2", v)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("function called %d times, want 2", n)
	}
}
