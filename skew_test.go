package cachier

import (
	"sync/atomic"
	"testing"
	"time"
)

// steppedClock is a wall clock off by a settable offset, counting its
// readings: tests step it back as an administrator or NTP steps a real one.
type steppedClock struct {
	offset atomic.Int64 // nanoseconds
	reads  atomic.Int64
}

func (c *steppedClock) now() time.Time {
	c.reads.Add(1)
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// TestSkewBoundClockSteppedBack: a wall clock stepped back does not leave
// the bound read from it before the step in force: within the bound's life
// (measured by the monotonic clock), a stamp ahead of the clock as it now
// reads counts as ahead again, however far the clock went back.
func TestSkewBoundClockSteppedBack(t *testing.T) {
	var clock steppedClock
	s := &skewCheck{now: clock.now, life: time.Millisecond}
	clock.offset.Store(int64(time.Hour)) // the clock runs an hour fast...
	stamp := time.Now().Add(30 * time.Minute)
	if s.ahead(stamp) {
		t.Fatal("a stamp 30m ahead of the true time counts as ahead of a clock an hour fast")
	}
	clock.offset.Store(0) // ...and is stepped back to the true time
	deadline := time.Now().Add(10 * time.Second)
	for !s.ahead(stamp) {
		if time.Now().After(deadline) {
			t.Fatalf("10s after the clock was stepped back an hour, a stamp 30m ahead of it is not ahead (bound %s, life %v)",
				time.Unix(s.bound.Load(), 0).UTC(), s.life)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSkewBoundSparesClockReads: while the bound lives, a stamp before it
// is answered without reading the clock (the hit path of a function whose
// entries never go stale reads no clock).
func TestSkewBoundSparesClockReads(t *testing.T) {
	var clock steppedClock
	s := &skewCheck{now: clock.now, life: time.Hour}
	now := time.Now()
	if s.ahead(now) || clock.reads.Load() != 1 {
		t.Fatalf("first stamp: %d clock reads, want 1 (and not ahead)", clock.reads.Load())
	}
	for range 3 {
		if s.ahead(now) {
			t.Fatal("a stamp at the current time counts as ahead")
		}
	}
	if n := clock.reads.Load(); n != 1 {
		t.Fatalf("%d clock reads after three more stamps below the bound, want still 1", n)
	}
	if !s.ahead(now.Add(time.Hour)) {
		t.Fatal("a stamp an hour ahead does not count as ahead")
	}
}
