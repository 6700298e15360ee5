package cachier

import (
	"bytes"
	"reflect"
	"time"

	"github.com/cachier-go/cachier/metrics"
)

// A flight is one calculation of a key under way in this process. Callers
// of the same key wait on done instead of computing again, and share what
// the calculation ended with (SPEC §5):
//
//   - it returned (success or error): every waiter gets its results, as
//     with singleflight; an error is shared too, and nothing was cached.
//     Where the store keeps bytes, each waiter gets a successful result
//     of its own, decoded from the result's encoding (see ownOut), so
//     that no two callers hold results that share memory;
//   - it panicked: the panic goes to the caller that ran it, and each
//     waiter computes itself, as if nobody had been computing;
//   - it ended without results for others (the leader's own context ended,
//     a refresh found another process at work) or ClearBeingCalculated
//     released it: the waiters start over, one of them computing.
type flight struct {
	done    chan struct{}
	waiters int // callers waiting on done; under fn.mu

	// Set under fn.mu before done closes; read by waiters after.
	closed bool
	end    flightEnd
	out    []reflect.Value // the results, when end is flightReturned
	entry  []byte          // out's encoding, when out is a success kept as bytes
}

// flightEnd is how a calculation ended, for its waiters.
type flightEnd uint8

const (
	flightPanicked flightEnd = iota // the zero value: nothing else was recorded
	flightReturned                  // out holds the function's results
	flightRetry                     // no results for others: start over
)

// join returns the key's flight and whether the caller leads it (a new
// flight) or waits on it (one under way).
func (f *fn) join(key string) (fl *flight, leader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl, ok := f.flights[key]; ok {
		fl.waiters++
		return fl, false
	}
	fl = &flight{done: make(chan struct{})}
	f.flights[key] = fl
	return fl, true
}

// begin starts a flight for key unless one is under way, and reports
// whether it did.
func (f *fn) begin(key string) (*flight, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.flights[key]; ok {
		return nil, false
	}
	fl := &flight{done: make(chan struct{})}
	f.flights[key] = fl
	return fl, true
}

// land ends fl with end and out and wakes its waiters, unless
// ClearBeingCalculated released them already. entry is out's encoding
// when the calculation made one to store it (nil otherwise): the waiters
// decode their results from it. When callers wait for a successful result
// that was not encoded (the store was being skipped), land encodes it for
// them, before the caller that computed it has it back.
func (f *fn) land(key string, fl *flight, end flightEnd, out []reflect.Value, entry []byte) {
	f.mu.Lock()
	if entry == nil && end == flightReturned && fl.waiters > 0 && !fl.closed && f.keepsBytes(out) {
		// Encode outside the lock; callers that join meanwhile get the
		// same entry. A result that cannot be encoded is nil: they share out.
		f.mu.Unlock()
		entry, _ = f.encode(f.values(out))
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if f.flights[key] == fl {
		delete(f.flights, key)
	}
	if !fl.closed {
		fl.closed, fl.end, fl.out = true, end, out
		if end == flightReturned && f.keepsBytes(out) {
			fl.entry = entry
		}
		close(fl.done)
	}
}

// keepsBytes reports whether out is a successful result that f's store
// keeps as encoded bytes (not as a Go value, not an error, not None).
func (f *fn) keepsBytes(out []reflect.Value) bool {
	return f.vs == nil && f.plan != nil && f.succeeded(out) && !f.isNone(out)
}

// ownOut returns the results of fl's calculation for one of its waiters:
// decoded from a copy of their encoding, so that the results of no two
// callers share memory (a decoded []byte or string may alias the bytes it
// was decoded from, see codec.Plan.Decode). Without an encoding (an error,
// a memory store's Go values, a result that cannot be encoded) the waiters
// share the calculation's own results, as with singleflight.
func (f *fn) ownOut(fl *flight) []reflect.Value {
	if fl.entry != nil {
		if out, err := f.decodeOut(bytes.Clone(fl.entry)); err == nil {
			return out
		}
	}
	return fl.out
}

// releaseFlights forgets every calculation under way in this process and
// sends their waiters to start over: ClearBeingCalculated. The calculations
// themselves go on; their results are still stored when they return.
func (f *fn) releaseFlights() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, fl := range f.flights {
		delete(f.flights, key)
		if !fl.closed {
			fl.closed, fl.end = true, flightRetry
			close(fl.done)
		}
	}
}

// shared computes the key once for every caller in this process: the
// first becomes the leader, the others wait for its result.
func (c *callState) shared(staleTime time.Time) []reflect.Value {
	c.ownKey() // the key goes into the flights
	f := c.f
	fl, leader := f.join(c.key)
	if !leader {
		return c.await(fl, staleTime)
	}
	c.fl = fl
	end, out := flightPanicked, []reflect.Value(nil)
	defer func() { f.land(c.key, fl, end, out, c.entry) }()

	out = c.computeMarked(staleTime)
	end = flightReturned
	if !f.succeeded(out) && c.ctx.Err() != nil {
		// Most likely the leader's own cancellation (its context's error,
		// or the function giving up on it): not the waiters' business.
		end = flightRetry
	}
	return out
}

// released returns a channel closed when the flight the call leads ends or
// is released by ClearBeingCalculated; nil (never closed) without one.
func (c *callState) released() <-chan struct{} {
	if c.fl == nil {
		return nil
	}
	return c.fl.done
}

// await waits for another caller's calculation in this process, within
// wait_for_calc_timeout and the caller's context.
func (c *callState) await(fl *flight, staleTime time.Time) []reflect.Value {
	c.say("being calculated in this process: waiting")
	var timeout <-chan time.Time
	if c.p.waitTimeout > 0 {
		t := time.NewTimer(c.p.waitTimeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-fl.done:
		switch fl.end {
		case flightReturned:
			c.waited() // its result or its error: neither a hit nor a miss
			if c.f.succeeded(fl.out) {
				c.say("waited: got the other caller's result")
			} else {
				c.say("waited: the other caller's calculation failed; sharing its error")
			}
			return c.f.ownOut(fl)
		case flightPanicked:
			c.say("waited: the other caller's calculation panicked; computing")
			out, _, _ := c.compute()
			return out
		default:
			c.say("waited: no result to share; starting over")
			return c.shared(staleTime)
		}
	case <-timeout:
		c.say("waited longer than wait_for_calc_timeout: computing", "timeout", c.p.waitTimeout)
		c.count(metrics.WaitTimeout)
		out, _, _ := c.compute()
		return out
	case <-c.ctx.Done():
		return c.cancelled(c.ctx.Err())
	}
}
