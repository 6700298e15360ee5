package cachier_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
)

// TestWithStaleAfter: a call's WithStaleAfter replaces the function's
// stale_after (Python cachier's per-call stale_after), both ways, and
// WithMaxAge still applies on top.
func TestWithStaleAfter(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	type svc struct {
		Never func(ctx context.Context, x int) int64 `cachier:"backend=memory,name=core.percall.never"`
		Short func(ctx context.Context, x int) int64 `cachier:"backend=memory,name=core.percall.short,stale_after=1ms"`
	}
	count := func(ctx context.Context, x int) int64 { return calls.Add(1) }
	s := svc{Never: count, Short: count}
	if err := cachier.Decorate(&s, runTag("")); err != nil {
		t.Fatal(err)
	}
	s.Never(ctx, 1)                  // 1
	s.Short(ctx, 1)                  // 2
	time.Sleep(5 * time.Millisecond) // both entries are now older than 1ms

	if v := s.Never(cachier.WithStaleAfter(ctx, time.Millisecond), 1); v != 3 {
		t.Errorf("WithStaleAfter(1ms) on a never-stale function: got %d, want a recomputation (3)", v)
	}
	if v := s.Short(cachier.WithStaleAfter(ctx, time.Hour), 1); v != 2 {
		t.Errorf("WithStaleAfter(1h) on a stale_after=1ms function: got %d, want the cached 2", v)
	}
	if v := s.Short(cachier.WithStaleAfter(ctx, 0), 1); v != 2 {
		t.Errorf("WithStaleAfter(0) (never stale): got %d, want the cached 2", v)
	}
	if v := s.Short(cachier.WithMaxAge(cachier.WithStaleAfter(ctx, time.Hour), time.Millisecond), 1); v != 4 {
		t.Errorf("WithMaxAge(1ms) over WithStaleAfter(1h): got %d, want a recomputation (4)", v)
	}
}

// TestWithNextTime: a call's WithNextTime replaces the function's next_time.
func TestWithNextTime(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	refreshed := make(chan int64, 4)
	type svc struct {
		Off func(ctx context.Context, x int) int64 `cachier:"backend=memory,name=core.percall.ntoff"`
		On  func(ctx context.Context, x int) int64 `cachier:"backend=memory,name=core.percall.nton,next_time"`
	}
	count := func(ctx context.Context, x int) int64 {
		n := calls.Add(1)
		refreshed <- n
		return n
	}
	s := svc{Off: count, On: count}
	if err := cachier.Decorate(&s, runTag("")); err != nil {
		t.Fatal(err)
	}
	s.Off(ctx, 1) // 1
	s.On(ctx, 1)  // 2
	<-refreshed
	<-refreshed
	stale := cachier.WithMaxAge(ctx, -1)

	if v := s.Off(cachier.WithNextTime(stale, true), 1); v != 1 {
		t.Errorf("WithNextTime(true) on a stale entry: got %d, want the stale 1 at once", v)
	}
	if n := <-refreshed; n != 3 { // the background refresh
		t.Errorf("refresh was call %d, want 3", n)
	}
	if v := s.On(cachier.WithNextTime(stale, false), 1); v != 4 {
		t.Errorf("WithNextTime(false) on a next_time function: got %d, want a recomputation (4)", v)
	}
	<-refreshed
}
