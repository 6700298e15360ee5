package cachier

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/metrics"
)

// The backoff of a failing store: after a failure a function leaves its
// store alone for breakerMin, then lets one call probe it; each failed
// probe doubles the window, up to breakerMax.
const (
	breakerMin = time.Second
	breakerMax = time.Minute
)

// A breaker is the circuit breaker between one decorated function and its
// store (SPEC §5: a failing or hanging store costs one timeout per backoff
// window, not one per call).
//
// It is per function, not per store shared by the functions that use it:
// it then lives and dies with the function (no process-wide table that
// would keep stores and dropped functions alive), and a failure that is
// one function's own (a result the server refuses, one function's file)
// does not turn a healthy store off for every other function. The price is
// that N functions on one hung store pay up to N timeouts per window, one
// each, rather than one in all.
type breaker struct {
	open atomic.Bool // the fast path of every call reads only this

	mu      sync.Mutex
	until   time.Time     // while open: no call uses the store before then
	window  time.Duration // the current window
	probing bool          // one call is probing the store
	now     func() time.Time
}

func (b *breaker) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}

// pass reports whether a call may use the store, and whether it is the one
// call that probes an open circuit.
func (b *breaker) pass() (ok, probe bool) {
	if !b.open.Load() {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return true, false
	}
	if b.probing || b.clock().Before(b.until) {
		return false, false
	}
	b.probing = true
	return true, true
}

// failed records a store failure and reports whether it opened the
// circuit, and for how long. A failed probe doubles the window; failures
// of calls that began before the circuit opened change nothing.
func (b *breaker) failed(probe bool) (opened bool, window time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.open.Load():
		b.window = breakerMin
		b.open.Store(true)
		opened = true
	case probe && b.probing:
		b.probing = false
		b.window = min(2*b.window, breakerMax)
	default:
		return false, b.window
	}
	b.until = b.clock().Add(b.window)
	return opened, b.window
}

// answered records that the store answered and reports whether that
// closed the circuit.
func (b *breaker) answered() (closed bool) {
	if !b.open.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return false
	}
	b.open.Store(false)
	b.probing, b.window = false, 0
	return true
}

// abandoned records that a probe ended without an answer either way (its
// caller's context ended): the next call probes instead.
func (b *breaker) abandoned(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// storeUp reports whether the call may still use the store: it did not
// fail during this call, and the circuit is closed or this call probes it.
func (c *callState) storeUp() bool {
	return !c.noStore && (c.probe || !c.f.br.open.Load())
}

// storeFailed counts a failure of the store during op and records it,
// logged once when it opens the circuit; the rest of the call leaves the
// store alone. A
// failure caused by the caller's own context ending is not the store's.
func (c *callState) storeFailed(op string, err error) {
	c.count(metrics.StoreError)
	c.noStore = true
	if cerr := c.ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		c.f.br.abandoned(c.probe)
		return
	}
	c.f.storeFailed(op, err, c.probe)
}

// storeFailed records a failure of the store, as storeFailed of a call.
func (f *fn) storeFailed(op string, err error, probe bool) {
	if opened, window := f.br.failed(probe); opened {
		defaults.Logger().Warn("cachier: store failed; calls go to the function, and the store is tried again after a growing pause until it answers",
			"func", f.name, "op", op, "error", err, "retry_in", window)
	}
}

// storeOK records that the store answered, logged once when it closes the
// circuit.
func (f *fn) storeOK() {
	if f.br.answered() {
		defaults.Logger().Info("cachier: store answers again", "func", f.name)
	}
}
