package cachier

import (
	"os"
	"runtime/debug"
	"strconv"

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

type pool struct{ sem chan struct{} }

func newPool(n int) *pool { return &pool{sem: make(chan struct{}, n)} }

// try runs task on a new goroutine if fewer than the pool's bound are
// running, and reports whether it did. A task refused is not queued: the
// caller's work (a refresh, a cleanup) is retried by a later call.
func (p *pool) try(task func()) bool {
	select {
	case p.sem <- struct{}{}:
		go func() {
			defer func() {
				<-p.sem
				if r := recover(); r != nil { // a background task never takes the process down
					defaults.Logger().Error("cachier: a background task panicked", "panic", r, "stack", string(debug.Stack()))
				}
			}()
			task()
		}()
		return true
	default:
		return false
	}
}
