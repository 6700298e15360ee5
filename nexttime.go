package cachier

import (
	"context"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/cachier-go/cachier/defaults"
)

// maxSkew is how far in the future an entry may be stamped and still be
// fresh: clock skew between the machines sharing a store. An entry stamped
// further ahead is stale, so that a wrong clock (or a hostile writer)
// cannot pin an entry forever.
const maxSkew = time.Minute

// skew keeps a past reading of the clock plus maxSkew, in whole Unix
// seconds rounded down: a stamp before it is not ahead of the clock, which
// aheadOfClock then knows without reading the clock.
//
// A bound lives at most skewLife, measured by the monotonic clock (a
// timer), then the next stamp reads the clock again: a wall clock stepped
// back leaves a bound too high by the step, under which a stamp up to the
// step further ahead would pass as not ahead, for no longer than that.
var skew = skewCheck{now: time.Now, life: skewLife}

// skewLife is how long a bound read from the clock is trusted.
const skewLife = time.Second

// A skewCheck tells stamps more than maxSkew ahead of its clock.
type skewCheck struct {
	bound atomic.Int64     // a reading of now, plus maxSkew, in Unix seconds; 0 when none lives
	armed atomic.Bool      // a timer will discard bound
	now   func() time.Time // the clock (tests step it)
	life  time.Duration    // how long a bound lives
}

// aheadOfClock reports whether t is more than maxSkew in the future.
func aheadOfClock(t time.Time) bool { return skew.ahead(t) }

func (s *skewCheck) ahead(t time.Time) bool {
	if t.Unix() < s.bound.Load() {
		return false
	}
	return s.read(t)
}

// read reads the clock for a stamp that reached the bound, and makes sure
// that the bound it sets is discarded within s.life.
func (s *skewCheck) read(t time.Time) bool {
	limit := s.now().Add(maxSkew)
	s.bound.Store(limit.Unix())
	if s.armed.CompareAndSwap(false, true) {
		// A timer already armed fires sooner; one armed now after this
		// bound. The timer disarms before it discards, so that a bound set
		// in between arms another.
		time.AfterFunc(s.life, func() {
			s.armed.Store(false)
			s.bound.Store(0)
		})
	}
	return t.After(limit)
}

// replaced reports whether an entry stamped t replaces the one stamped
// stale that a caller found stale (zero: the caller found none): it is
// newer, or the stale one was stamped in the future and t is another.
func replaced(t, stale time.Time) bool {
	if t.After(stale) {
		return !t.After(time.Now().Add(maxSkew))
	}
	return !t.Equal(stale) && time.Until(stale) > maxSkew
}

// refreshInBackground starts one background recalculation of a key found
// stale with the entry stamped staleTime, unless one is under way in this
// process (or, under a store mark, in another), or every background worker
// is busy.
func (c *callState) refreshInBackground(staleTime time.Time) {
	f := c.f
	fl, ok := f.begin(c.key)
	if !ok {
		c.say("next_time: a refresh is already under way")
		return
	}
	bg := *c
	bg.ctx = context.WithoutCancel(c.ctx)
	bg.probe = false // the call that started it probed already
	bg.fl = fl
	started := background.try(func() {
		end, out := flightPanicked, []reflect.Value(nil)
		defer func() {
			f.land(bg.key, fl, end, out, bg.entry)
			if r := recover(); r != nil { // never take the process down
				defaults.Logger().Error("cachier: a background refresh panicked; the stale entry stays",
					"func", f.name, "key", bg.key, "panic", r, "stack", string(debug.Stack()))
			}
		}()
		end, out = bg.refresh(staleTime)
	})
	if !started {
		f.land(c.key, fl, flightRetry, nil, nil)
		c.say("next_time: every background worker is busy; no refresh this time")
		return
	}
	c.say("next_time: refresh started in the background")
}

// refresh recalculates a key found stale with the entry stamped staleTime,
// in the background, and says what the callers waiting on it get. It
// computes only if the entry is still the stale one: one refresh per stale
// period, also across processes.
func (c *callState) refresh(staleTime time.Time) (flightEnd, []reflect.Value) {
	f := c.f
	if f.vs != nil {
		if out, t, ok := f.getValue(c.key); ok && replaced(t, staleTime) {
			c.say("next_time: already refreshed")
			return flightReturned, out
		}
		out, _, _ := c.compute()
		return flightReturned, out
	}
	if !c.storeUp() {
		return flightRetry, nil
	}
	owner := newOwner()
	acquired, err := f.mark(c.ctx, c.key, owner)
	if err != nil {
		c.storeFailed("mark", err)
		return flightRetry, nil
	}
	if !acquired {
		c.say("next_time: another process is refreshing")
		return flightRetry, nil
	}
	if out, ok := c.newerEntry(staleTime); ok {
		_ = f.unmark(c.ctx, c.key, owner)
		c.say("next_time: already refreshed by another process")
		return flightReturned, out
	}
	stop := f.heartbeat(c.key, owner, c.released())
	stored := false
	defer func() {
		stop()
		if !stored && c.storeUp() {
			_ = f.unmark(context.Background(), c.key, owner)
		}
	}()
	out, _, stored := c.compute()
	return flightReturned, out
}
