package cachier

import (
	"context"
	"time"
)

// callOpts are the per-call controls carried by a context. Each With*
// function adds to a copy of the ones already in the context, so a call
// reads them all with one ctx.Value lookup.
type callOpts struct {
	skip, overwrite, allowNone, verbose bool
	hasMaxAge                           bool
	maxAge                              time.Duration
	hasStaleAfter                       bool
	staleAfter                          time.Duration
	hasNextTime, nextTime               bool
}

type optsKey struct{}

func optsFrom(ctx context.Context) *callOpts {
	if ctx == nil {
		return nil
	}
	o, _ := ctx.Value(optsKey{}).(*callOpts)
	return o
}

func with(ctx context.Context, set func(*callOpts)) context.Context {
	var o callOpts
	if old := optsFrom(ctx); old != nil {
		o = *old
	}
	set(&o)
	return context.WithValue(ctx, optsKey{}, &o)
}

// WithMaxAge returns a context under which a cached result older than d is
// stale for this call. The stricter of d and the function's stale_after
// wins; a negative d makes every entry stale (with next_time, the stale
// value is still returned and refreshed in the background).
func WithMaxAge(ctx context.Context, d time.Duration) context.Context {
	return with(ctx, func(o *callOpts) { o.hasMaxAge, o.maxAge = true, d })
}

// WithSkipCache returns a context under which a call neither reads nor
// writes the cache: the function is simply called.
func WithSkipCache(ctx context.Context) context.Context {
	return with(ctx, func(o *callOpts) { o.skip = true })
}

// WithOverwriteCache returns a context under which a call does not read the
// cache: it computes, stores the result over any earlier one, and returns it.
func WithOverwriteCache(ctx context.Context) context.Context {
	return with(ctx, func(o *callOpts) { o.overwrite = true })
}

// WithAllowNone returns a context under which a nil result of the call is
// cached even where the function's allow_none is off (Python cachier's
// per-call allow_none=True).
func WithAllowNone(ctx context.Context) context.Context {
	return with(ctx, func(o *callOpts) { o.allowNone = true })
}

// WithVerbose returns a context under which a call logs every decision it
// makes (found, fresh, stale, waited, stored, not stored and why) through
// log/slog's default logger at Info level.
func WithVerbose(ctx context.Context) context.Context {
	return with(ctx, func(o *callOpts) { o.verbose = true })
}

// WithStaleAfter returns a context under which the call uses d as its
// stale_after in place of the function's own or the global one (Python
// cachier's per-call stale_after): entries older than d are stale. As in
// the tag, d == 0 means entries never go stale; a negative d makes every
// entry stale. WithMaxAge still applies on top: the stricter one wins.
func WithStaleAfter(ctx context.Context, d time.Duration) context.Context {
	return with(ctx, func(o *callOpts) { o.hasStaleAfter, o.staleAfter = true, d })
}

// WithNextTime returns a context under which the call uses on as its
// next_time in place of the function's own or the global one (Python
// cachier's per-call next_time): with on, a stale hit returns the stale
// value at once and refreshes it in the background; without, it computes
// and returns a fresh value.
func WithNextTime(ctx context.Context, on bool) context.Context {
	return with(ctx, func(o *callOpts) { o.hasNextTime, o.nextTime = true, on })
}
