// Package metrics counts the calls of one decorated function: the lock-free
// counters and latency histogram behind cachier's enable_metrics
// (cachier.Handle's Stats and Metrics, and the exporters in
// metrics/prometheus and metrics/otel).
//
// The core owns one Func per decorated function with metrics on. A call it
// decides to count begins with Begin and ends with End, naming its outcome:
// a hit, a miss, a stale hit (which is also a miss), or none (a caller
// that waited for another's calculation). Everything else that happens to
// a call is an Event. Recording is a few atomic additions: no lock, no
// allocation.
//
// # Consistency
//
// Reset swaps in fresh counters at once, so no snapshot mixes figures from
// before and after it; between resets every figure only grows. A call under
// way during a Reset counts whole in the figures before it: everything it
// records goes to the counters current when it began.
//
// # Latency
//
// Reading the clock twice costs more than a memory hit on some machines
// (about 90ns a reading on a virtual machine without a fast clock), so not
// every call is timed. While a function's timed calls take 16µs or more,
// every call is timed; while they are faster, one call in 16, chosen at
// random, is timed and counts 16 times in the histogram. The histogram,
// its sum and the quantiles are therefore unbiased estimates for fast
// functions and exact for slow ones; Hits, Misses and the events are
// always exact.
//
// Latencies go into fixed log-linear buckets: four per power of two from
// 64ns to about 68.7s, with one bucket below and one above. Bucket i holds
// the latencies d with BucketUpper(i-1) < d <= BucketUpper(i), so the
// bounds read as Prometheus "le" bounds. Quantiles interpolate within a
// bucket, so they are exact to within a quarter of a power of two (±12%).
package metrics

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// An Outcome is how a counted call went through the cache.
type Outcome uint8

const (
	None     Outcome = iota // neither a hit nor a miss: a caller that waited for another's calculation
	Hit                     // a fresh entry was returned
	Miss                    // no usable entry: computed (an overwrite too)
	StaleHit                // a stale entry was found: a miss as well
	numOutcomes
)

// An Event is something that happened to a counted call, besides its
// outcome.
type Event uint8

const (
	Recalculation      Event = iota // the function was computed: foreground, overwrite, background refresh
	Wait                            // the call waited for another's calculation and got its result
	WaitTimeout                     // the call waited for another's calculation and gave up
	SizeLimitRejection              // a result was larger than entry_size_limit
	Uncacheable                     // arguments could not be keyed, or a result not encoded
	StoreError                      // a store operation failed
	numEvents
)

const (
	subBits = 2  // 4 buckets per power of two
	minExp  = 6  // the first bucket holds up to 2^6 ns
	maxExp  = 36 // the last holds more than 2^36 ns
)

// NumBuckets is the number of latency buckets: one up to 64ns, four per
// power of two up to 2^36ns (about 68.7s), and one above.
const NumBuckets = 1 + (maxExp-minExp)<<subBits + 1 // 122

// bucketOf returns the bucket of a latency of d nanoseconds: the bucket i
// with BucketUpper(i-1) < d <= BucketUpper(i).
func bucketOf(d int64) int {
	v := uint64(d - 1)
	if d <= 0 || v < 1<<minExp {
		return 0
	}
	e := bits.Len64(v) - 1
	if e >= maxExp {
		return NumBuckets - 1
	}
	return 1 + (e-minExp)<<subBits + int(v>>(e-subBits)&(1<<subBits-1))
}

// BucketUpper returns the inclusive upper bound of bucket i; that of the
// last bucket is math.MaxInt64.
func BucketUpper(i int) time.Duration {
	if i >= NumBuckets-1 {
		return math.MaxInt64
	}
	if i < 0 {
		return 0
	}
	// Bucket i holds up to the lower bound of bucket i+1.
	j := i // i+1 - 1
	e := minExp + j>>subBits
	s := uint64(j & (1<<subBits - 1))
	return time.Duration((1<<subBits + s) << (e - subBits))
}

// counters is one generation of a Func's figures; Reset replaces it.
type counters struct {
	outcomes [numOutcomes]atomic.Int64
	events   [numEvents]atomic.Int64
	sum      atomic.Int64 // weighted nanoseconds of the timed calls
	buckets  [NumBuckets]atomic.Uint64
}

// A Func holds the figures of one decorated function. Its methods are safe
// for concurrent use; the zero value is not usable (call New).
type Func struct {
	name      string
	all       bool   // count every call
	threshold uint64 // else count when a random uint64 is below it
	cur       atomic.Pointer[counters]
	fast      atomic.Bool // the last timed call took less than slowCall
}

const (
	slowCall    = 16 * time.Microsecond // time every call of functions this slow
	timeOneIn   = 16                    // else time one call in this many
	timeOneMask = timeOneIn - 1
)

// New returns the figures of function name, counting each call with
// probability rate (clamped to [0, 1]).
func New(name string, rate float64) *Func {
	m := &Func{name: name}
	switch {
	case rate >= 1 || math.IsNaN(rate):
		m.all = true
	case rate > 0:
		m.threshold = uint64(rate * (1 << 64))
	}
	m.cur.Store(new(counters))
	return m
}

// Name returns the function's identity, as given to New.
func (m *Func) Name() string { return m.name }

// A Call is one counted call under way, from Begin to End. Everything it
// records goes to the generation of counters current at Begin, so that a
// call under way during a Reset counts whole in the figures before it.
type Call struct {
	cs     *counters // nil when the call is not counted
	start  time.Time // zero when the call is not timed
	weight uint64
}

// Add records one event of the call; nothing when Begin did not count it.
func (c Call) Add(e Event) {
	if c.cs != nil {
		c.cs.events[e].Add(1)
	}
}

// Begin decides whether to count one call (always at rate 1, never at 0,
// else at random with the rate's probability) and, if so, whether to time
// it. Every record of a call should follow one Begin that reported
// counted, so that a call counts whole or not at all.
func (m *Func) Begin() (c Call, counted bool) {
	if !m.all && (m.threshold == 0 || rand.Uint64() >= m.threshold) {
		return Call{}, false
	}
	cs := m.cur.Load()
	if !m.fast.Load() {
		return Call{cs: cs, start: time.Now(), weight: 1}, true
	}
	if rand.Uint32()&timeOneMask == 0 {
		return Call{cs: cs, start: time.Now(), weight: timeOneIn}, true
	}
	return Call{cs: cs}, true
}

// End records the outcome of a call that Begin counted, and its latency if
// it was timed.
func (m *Func) End(o Outcome, c Call) {
	cs := c.cs
	if cs == nil {
		return
	}
	if o != None {
		cs.outcomes[o].Add(1)
	}
	if c.weight == 0 {
		return
	}
	d := time.Since(c.start)
	if fast := d < slowCall; fast != m.fast.Load() {
		m.fast.Store(fast)
	}
	if o != None {
		m.time(cs, d, c.weight)
	}
}

// time records a latency of d with weight w.
func (m *Func) time(cs *counters, d time.Duration, w uint64) {
	cs.buckets[bucketOf(int64(d))].Add(w)
	cs.sum.Add(int64(d) * int64(w))
	if obs := observers.Load(); obs != nil {
		for _, ob := range *obs {
			ob.ObserveLatency(m, d, w)
		}
	}
}

// Add records one event in the current generation of counters; an event
// of a call under way goes through its Call.
func (m *Func) Add(e Event) {
	m.cur.Load().events[e].Add(1)
}

// Reset zeroes every figure at once.
func (m *Func) Reset() { m.cur.Store(new(counters)) }

// Snapshot is a copy of one function's figures at one moment.
type Snapshot struct {
	Hits, Misses, StaleHits int64 // a stale hit is also a miss
	Recalculations          int64
	Waits, WaitTimeouts     int64
	SizeLimitRejections     int64
	Uncacheable             int64
	StoreErrors             int64
	Entries, SizeBytes      int64 // filled in by the caller that knows the store; 0 here

	// Buckets holds the (weighted) number of timed hits and misses per
	// bucket, not cumulative, and LatencySum their total latency.
	LatencySum time.Duration
	Buckets    [NumBuckets]uint64
}

// Snapshot returns the current figures.
func (m *Func) Snapshot() Snapshot {
	c := m.cur.Load()
	var s Snapshot
	s.Hits = c.outcomes[Hit].Load()
	s.StaleHits = c.outcomes[StaleHit].Load()
	s.Misses = c.outcomes[Miss].Load() + s.StaleHits
	s.Recalculations = c.events[Recalculation].Load()
	s.Waits = c.events[Wait].Load()
	s.WaitTimeouts = c.events[WaitTimeout].Load()
	s.SizeLimitRejections = c.events[SizeLimitRejection].Load()
	s.Uncacheable = c.events[Uncacheable].Load()
	s.StoreErrors = c.events[StoreError].Load()
	s.LatencySum = time.Duration(c.sum.Load())
	for i := range c.buckets {
		s.Buckets[i] = c.buckets[i].Load()
	}
	return s
}

// Timed returns the (weighted) number of latencies in Buckets.
func (s *Snapshot) Timed() uint64 {
	var n uint64
	for _, b := range s.Buckets {
		n += b
	}
	return n
}

// Calls returns Hits + Misses.
func (s *Snapshot) Calls() int64 { return s.Hits + s.Misses }

// LatencyAvg returns the mean latency of the timed calls, 0 without any.
func (s *Snapshot) LatencyAvg() time.Duration {
	n := s.Timed()
	if n == 0 {
		return 0
	}
	return s.LatencySum / time.Duration(n)
}

// Quantile returns the latency below which a fraction q (in [0, 1]) of
// the calls fall, interpolated within its bucket; 0 without calls.
func (s *Snapshot) Quantile(q float64) time.Duration {
	var total uint64
	for _, n := range s.Buckets {
		total += n
	}
	if total == 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	var seen uint64
	for i, n := range s.Buckets {
		if n == 0 {
			continue
		}
		if float64(seen+n) >= rank {
			lo, hi := BucketUpper(i-1), BucketUpper(i)
			if i == NumBuckets-1 {
				return lo
			}
			frac := (rank - float64(seen)) / float64(n)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += n
	}
	return BucketUpper(NumBuckets - 2)
}

// An Observer is told every latency any Func records, with the weight it
// counts with (see Latency): a way for an exporter to feed a histogram of
// its own. ObserveLatency runs on the caller's goroutine, on its hot path.
type Observer interface {
	ObserveLatency(m *Func, d time.Duration, weight uint64)
}

var (
	observersMu sync.Mutex
	observers   atomic.Pointer[[]Observer]
)

// AddObserver makes ob an Observer of every Func from now on.
func AddObserver(ob Observer) {
	observersMu.Lock()
	defer observersMu.Unlock()
	var list []Observer
	if old := observers.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, ob)
	observers.Store(&list)
}

// RemoveObserver undoes AddObserver(ob).
func RemoveObserver(ob Observer) {
	observersMu.Lock()
	defer observersMu.Unlock()
	old := observers.Load()
	if old == nil {
		return
	}
	var list []Observer
	for _, o := range *old {
		if o != ob {
			list = append(list, o)
		}
	}
	if len(list) == 0 {
		observers.Store(nil)
		return
	}
	observers.Store(&list)
}

// Add adds o's figures to s: for exporters that report several decorated
// functions sharing one identity (name=) as one.
func (s *Snapshot) Add(o Snapshot) {
	s.Hits += o.Hits
	s.Misses += o.Misses
	s.StaleHits += o.StaleHits
	s.Recalculations += o.Recalculations
	s.Waits += o.Waits
	s.WaitTimeouts += o.WaitTimeouts
	s.SizeLimitRejections += o.SizeLimitRejections
	s.Uncacheable += o.Uncacheable
	s.StoreErrors += o.StoreErrors
	s.LatencySum += o.LatencySum
	for i, n := range o.Buckets {
		s.Buckets[i] += n
	}
	// Functions sharing an identity share its entries: count them once.
	s.Entries = max(s.Entries, o.Entries)
	s.SizeBytes = max(s.SizeBytes, o.SizeBytes)
}
