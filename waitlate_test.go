package cachier_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

// lateStore plays another process that holds the mark of every key and
// stores its result just as the waiter, having looked once more and found
// nothing, tries the mark again: the waiter's mark then succeeds, and the
// entry is there.
type lateStore struct {
	store.Store
	mu     sync.Mutex
	held   bool        // the other process holds the mark
	tries  int         // the waiter's tries at the mark while held
	result store.Entry // what the other process stores when it finishes
}

func (s *lateStore) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		if s.tries++; s.tries == 1 { // the waiter's first try: the other holds it
			return false, nil
		}
		// The waiter's next try: the other process finished meanwhile.
		s.held = false
		if err := s.Store.Set(ctx, fn, key, s.result); err != nil {
			return false, err
		}
	}
	return s.Store.Mark(ctx, fn, key, owner, ttl)
}

// TestWaitedResultFoundLate: a caller that waited for another process's
// mark, and takes the mark only because that process stored its result and
// released it between the caller's last look and its next try, returns
// that result without computing, and counts a wait, not a miss.
func TestWaitedResultFoundLate(t *testing.T) {
	reset(t)
	st := &lateStore{Store: &tweaked{Store: memstore.New()}}
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) { calls.Add(1); return x * 2, nil }
	if err := cachier.Decorate(&f, runTag("backend=late,enable_metrics,name=core.waitlate"), cachier.WithStore("late", st)); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	// The other process's result: what the function stores for 21.
	if v, _ := f(ctx, 21); v != 42 {
		t.Fatal(v)
	}
	var stored store.Entry
	st.Store.(*tweaked).afterGet = func(e *store.Entry) { stored = *e }
	if v, _ := f(ctx, 21); v != 42 { // a hit, which captures the entry
		t.Fatal(v)
	}
	st.Store.(*tweaked).afterGet = nil
	if err := h.ClearCache(ctx); err != nil {
		t.Fatal(err)
	}
	h.ResetStats()
	calls.Store(0)

	st.mu.Lock()
	st.held, st.result = true, stored
	st.mu.Unlock()
	if v, _ := f(ctx, 21); v != 42 { // waits; the mark is held until it stores
		t.Fatalf("got %d", v)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the function ran %d times; want 0 (the other process's result)", n)
	}
	if s := h.Stats(); s.Waits != 1 || s.Misses != 0 {
		t.Errorf("Stats: %d waits, %d misses; want 1 wait, 0 misses", s.Waits, s.Misses)
	}
}
