package cachier

import (
	"context"
	"os"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/cachier-go/cachier/defaults"
)

// DefaultMaxWorkers bounds the background goroutines (next_time refreshes,
// stale cleanups) when CACHIER_MAX_WORKERS is unset or invalid.
const DefaultMaxWorkers = 8

// background runs next_time refreshes and cleanups on at most
// CACHIER_MAX_WORKERS goroutines at once.
var background = newPool(maxWorkers())

func maxWorkers() int {
	if n, err := strconv.Atoi(os.Getenv("CACHIER_MAX_WORKERS")); err == nil && n > 0 {
		return n
	}
	return DefaultMaxWorkers
}

// WaitBackground blocks until every background task (a next_time refresh,
// a cleanup_stale sweep) running in this process when it was called has
// ended, or ctx ends, and returns ctx's error in that case. A refresh
// writes its new entry to the store before it ends, so after WaitBackground
// returns the store holds every refresh started before the call.
//
// Use it before removing a cache directory (a test's t.TempDir, say) and
// at shutdown, to let refreshes under way finish writing. Tasks started
// after the call are not waited for, so it returns under constant traffic
// too.
func WaitBackground(ctx context.Context) error { return background.wait(ctx) }

type pool struct {
	sem chan struct{}

	mu    sync.Mutex
	next  uint64              // the number of the next task started
	live  map[uint64]struct{} // the numbers of the tasks running
	ended chan struct{}       // closed, and replaced, when a task ends
}

func newPool(n int) *pool {
	return &pool{sem: make(chan struct{}, n), live: map[uint64]struct{}{}, ended: make(chan struct{})}
}

// try runs task on a new goroutine if fewer than the pool's bound are
// running, and reports whether it did. A task refused is not queued: the
// caller's work (a refresh, a cleanup) is retried by a later call.
func (p *pool) try(task func()) bool {
	select {
	case p.sem <- struct{}{}:
		p.mu.Lock()
		id := p.next
		p.next++
		p.live[id] = struct{}{}
		p.mu.Unlock()
		go func() {
			defer func() {
				if r := recover(); r != nil { // a background task never takes the process down
					defaults.Logger().Error("cachier: a background task panicked", "panic", r, "stack", string(debug.Stack()))
				}
				p.mu.Lock()
				delete(p.live, id)
				close(p.ended)
				p.ended = make(chan struct{})
				p.mu.Unlock()
				<-p.sem
			}()
			task()
		}()
		return true
	default:
		return false
	}
}

// wait blocks until every task started before the call has ended, or ctx
// ends.
func (p *pool) wait(ctx context.Context) error {
	p.mu.Lock()
	limit := p.next
	p.mu.Unlock()
	return p.waitBefore(ctx, limit)
}

// waitBefore blocks until every task numbered below limit has ended, or
// ctx ends.
func (p *pool) waitBefore(ctx context.Context, limit uint64) error {
	p.mu.Lock()
	for {
		older := false
		for id := range p.live { // at most the pool's bound of them
			if id < limit {
				older = true
				break
			}
		}
		if !older {
			p.mu.Unlock()
			return nil
		}
		ended := p.ended
		p.mu.Unlock()
		select {
		case <-ended:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
}
