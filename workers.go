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

// WaitBackground blocks until no background task (a next_time refresh, a
// cleanup_stale sweep) is running in this process, or ctx ends, and
// returns ctx's error in that case. A refresh writes its new entry to the
// store before it ends, so after WaitBackground returns the store holds
// every refresh started before the call.
//
// Use it before removing a cache directory (a test's t.TempDir, say) and
// at shutdown, to let refreshes under way finish writing. Tasks started
// after it returns are not waited for.
func WaitBackground(ctx context.Context) error { return background.wait(ctx) }

type pool struct {
	sem chan struct{}

	mu      sync.Mutex
	running int
	idle    chan struct{} // closed when running drops to 0
}

func newPool(n int) *pool { return &pool{sem: make(chan struct{}, n)} }

// try runs task on a new goroutine if fewer than the pool's bound are
// running, and reports whether it did. A task refused is not queued: the
// caller's work (a refresh, a cleanup) is retried by a later call.
func (p *pool) try(task func()) bool {
	select {
	case p.sem <- struct{}{}:
		p.mu.Lock()
		if p.running == 0 {
			p.idle = make(chan struct{})
		}
		p.running++
		p.mu.Unlock()
		go func() {
			defer func() {
				if r := recover(); r != nil { // a background task never takes the process down
					defaults.Logger().Error("cachier: a background task panicked", "panic", r, "stack", string(debug.Stack()))
				}
				p.mu.Lock()
				if p.running--; p.running == 0 {
					close(p.idle)
				}
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

// wait blocks until no task of the pool is running, or ctx ends.
func (p *pool) wait(ctx context.Context) error {
	p.mu.Lock()
	if p.running == 0 {
		p.mu.Unlock()
		return nil
	}
	idle := p.idle
	p.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
