// Package opctx bounds one store operation: a per-operation timeout on top
// of the caller's context, cheap on the hot path.
//
// A context.WithTimeout per call costs a timer, a context and its
// cancellation, a measurable part of a cache hit on a nearby server. So
//
//   - a caller's context that already ends within the timeout is used as
//     it is;
//   - calls with context.Background or context.TODO (no deadline, no
//     values, never cancelled: what the core passes for a function without
//     a context argument) share one deadline context with the others
//     started in the same tenth of the timeout, so that their bound is
//     more than nine tenths of the timeout and at most the timeout;
//   - any other context gets a context.WithTimeout of its own.
//
// A timeout of zero or less adds nothing: the caller's context is used as
// it is.
package opctx

import (
	"context"
	"sync/atomic"
	"time"
)

// A Timeout bounds operations to a fixed duration on top of their callers'
// contexts. Create it with New; it is safe for concurrent use. A nil
// *Timeout adds no bound.
type Timeout struct {
	d      time.Duration
	shared atomic.Pointer[sharedDeadline] // for Background and TODO callers
}

// A sharedDeadline is the context that calls with context.Background or
// context.TODO share until renewAt, a tenth of the timeout after it was
// made.
type sharedDeadline struct {
	ctx     context.Context
	cancel  context.CancelFunc // never called: the context ends at its deadline
	renewAt time.Time
}

// New returns a Timeout of d. d <= 0 adds no bound.
func New(d time.Duration) *Timeout { return &Timeout{d: d} }

// Context returns the context one operation runs under: ctx, ended at most
// the timeout after the call (and, for context.Background or context.TODO,
// more than nine tenths of the timeout after it). The caller calls the
// returned cancel when the operation is done, as with context.WithTimeout;
// for a ctx used as it is, and for the shared context, it does nothing.
func (t *Timeout) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	if t == nil || t.d <= 0 {
		return ctx, noCancel
	}
	if ctx == context.Background() || ctx == context.TODO() {
		now := time.Now()
		s := t.shared.Load()
		if s == nil || !now.Before(s.renewAt) {
			// Several callers may renew at once; each uses its own
			// context, which is as good, and the last one stored stays.
			c, cancel := context.WithDeadline(context.Background(), now.Add(t.d))
			s = &sharedDeadline{ctx: c, cancel: cancel, renewAt: now.Add(t.d / 10)}
			t.shared.Store(s)
		}
		return s.ctx, noCancel
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= t.d {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, t.d)
}

func noCancel() {}
