package metrics

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	if got := bucketOf(0); got != 0 {
		t.Errorf("bucketOf(0) = %d", got)
	}
	if got := bucketOf(-5); got != 0 {
		t.Errorf("bucketOf(-5) = %d", got)
	}
	for i := 0; i < NumBuckets-1; i++ {
		up := BucketUpper(i)
		if up <= BucketUpper(i-1) {
			t.Fatalf("bounds not increasing at %d: %v <= %v", i, up, BucketUpper(i-1))
		}
		if got := bucketOf(int64(up)); got != i {
			t.Errorf("bucketOf(%d) = %d, want %d (its upper bound is inclusive)", up, got, i)
		}
		if got := bucketOf(int64(up) + 1); got != i+1 {
			t.Errorf("bucketOf(%d) = %d, want %d", up+1, got, i+1)
		}
	}
	if got := bucketOf(math.MaxInt64); got != NumBuckets-1 {
		t.Errorf("bucketOf(max) = %d", got)
	}
	if BucketUpper(0) != 64 || BucketUpper(NumBuckets-2) != 1<<36 {
		t.Errorf("range: %v .. %v", BucketUpper(0), BucketUpper(NumBuckets-2))
	}
}

func FuzzBucketOf(f *testing.F) {
	for _, d := range []int64{0, 1, 63, 64, 65, 80, 81, 1000, 1 << 36, 1<<36 + 1, math.MaxInt64, -1} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d int64) {
		i := bucketOf(d)
		if i < 0 || i >= NumBuckets {
			t.Fatalf("bucketOf(%d) = %d", d, i)
		}
		if d > 0 && (time.Duration(d) > BucketUpper(i) || time.Duration(d) <= BucketUpper(i-1) && i > 0) {
			t.Fatalf("bucketOf(%d) = %d, bounds (%v, %v]", d, i, BucketUpper(i-1), BucketUpper(i))
		}
	})
}

// observe records a call of outcome o that took d, timed with weight 1.
func (m *Func) observe(o Outcome, d time.Duration) {
	cs := m.cur.Load()
	if o != None {
		cs.outcomes[o].Add(1)
		m.time(cs, d, 1)
	}
}

func TestOutcomesAndEvents(t *testing.T) {
	m := New("f", 1)
	m.observe(Hit, time.Microsecond)
	m.observe(Hit, 2*time.Microsecond)
	m.observe(Miss, time.Millisecond)
	m.observe(StaleHit, 3*time.Millisecond)
	for _, e := range []Event{Recalculation, Recalculation, Wait, WaitTimeout, SizeLimitRejection, Uncacheable, StoreError, StoreError, StoreError} {
		m.Add(e)
	}
	s := m.Snapshot()
	want := Snapshot{Hits: 2, Misses: 2, StaleHits: 1, Recalculations: 2, Waits: 1, WaitTimeouts: 1,
		SizeLimitRejections: 1, Uncacheable: 1, StoreErrors: 3,
		LatencySum: 3*time.Microsecond + 4*time.Millisecond}
	want.Buckets = s.Buckets
	if s != want {
		t.Errorf("snapshot\n got %+v\nwant %+v", s, want)
	}
	if s.Calls() != 4 {
		t.Errorf("Calls = %d", s.Calls())
	}
	if avg := s.LatencyAvg(); avg != want.LatencySum/4 {
		t.Errorf("avg = %v", avg)
	}
	m.Reset()
	if s := m.Snapshot(); s != (Snapshot{}) {
		t.Errorf("after Reset: %+v", s)
	}
}

func TestQuantile(t *testing.T) {
	m := New("f", 1)
	if q := m.Snapshot(); q.Quantile(0.5) != 0 || q.LatencyAvg() != 0 {
		t.Errorf("empty: p50 %v avg %v", q.Quantile(0.5), q.LatencyAvg())
	}
	// 1..1000 µs, uniformly: p50 ≈ 500µs, p99 ≈ 990µs, within a bucket's
	// width (a quarter of a power of two: 12.5% either way at most).
	for i := 1; i <= 1000; i++ {
		m.observe(Miss, time.Duration(i)*time.Microsecond)
	}
	s := m.Snapshot()
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {0.01, 10 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := s.Quantile(c.q)
		if r := float64(got) / float64(c.want); r < 0.875 || r > 1.125 {
			t.Errorf("Quantile(%v) = %v, want about %v", c.q, got, c.want)
		}
	}
	if got := s.Quantile(math.NaN()); got != 0 {
		t.Errorf("Quantile(NaN) = %v", got)
	}
	// Everything in the overflow bucket: its lower bound.
	m.Reset()
	m.observe(Hit, time.Hour)
	if s := m.Snapshot(); s.Quantile(0.99) != BucketUpper(NumBuckets-2) {
		t.Errorf("overflow p99 = %v", s.Quantile(0.99))
	}
}

func TestSampling(t *testing.T) {
	const n = 100000
	for _, rate := range []float64{0, 0.1, 0.5, 1} {
		m := New("f", rate)
		k := 0
		for range n {
			if _, ok := m.Begin(); ok {
				k++
			}
		}
		// Binomial: 6 standard deviations either way never happens by chance.
		sd := math.Sqrt(n * rate * (1 - rate))
		if want := rate * n; math.Abs(float64(k)-want) > 6*sd {
			t.Errorf("rate %v: %d of %d sampled", rate, k, n)
		}
	}
}

// TestSnapshotConsistentUnderLoad: snapshots taken while calls are recorded
// and the figures reset never go backwards between resets, and never show
// more stale hits than misses.
func TestSnapshotConsistentUnderLoad(t *testing.T) {
	m := New("f", 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c, _ := m.Begin()
				m.Add(Recalculation)
				m.End(Outcome((i+w)%int(numOutcomes)), c)
			}
		}()
	}
	var prev Snapshot
	for i := range 2000 {
		if i%200 == 0 {
			m.Reset()
			prev = Snapshot{}
		}
		s := m.Snapshot()
		if s.StaleHits > s.Misses {
			t.Fatalf("stale hits %d > misses %d", s.StaleHits, s.Misses)
		}
		if s.Hits < prev.Hits || s.Misses < prev.Misses || s.Recalculations < prev.Recalculations || s.Timed() < prev.Timed() {
			t.Fatalf("went backwards: %+v after %+v", s, prev)
		}
		prev = s
	}
	close(stop)
	wg.Wait()
}

type countObserver struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countObserver) ObserveLatency(m *Func, d time.Duration, w uint64) {
	c.mu.Lock()
	c.n[m.Name()] += int(w)
	c.mu.Unlock()
}

func TestObserver(t *testing.T) {
	ob := &countObserver{n: map[string]int{}}
	AddObserver(ob)
	a, b := New("a", 1), New("b", 1)
	a.observe(Hit, 1)
	b.observe(Miss, 1)
	a.observe(StaleHit, 1)
	RemoveObserver(ob)
	a.observe(Hit, 1)
	if ob.n["a"] != 2 || ob.n["b"] != 1 {
		t.Errorf("observed %v", ob.n)
	}
}

// BenchmarkCountedCall is what metrics add to one fast call: Begin and End.
func BenchmarkCountedCall(b *testing.B) {
	for _, rate := range []float64{1, 0.1} {
		m := New("f", rate)
		b.Run(map[float64]string{1: "rate=1", 0.1: "rate=0.1"}[rate], func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if c, ok := m.Begin(); ok {
						m.End(Hit, c)
					}
				}
			})
		})
	}
}

// TestTimingWeights: a slow function has every call timed with weight 1; a
// fast one has about one call in 16 timed, each weighing 16, so that the
// weighted count estimates the calls.
func TestTimingWeights(t *testing.T) {
	m := New("f", 1)
	c, ok := m.Begin()
	if !ok || c.weight != 1 {
		t.Fatalf("first call: counted %v, weight %d; want timed with weight 1", ok, c.weight)
	}
	m.End(Miss, c)
	// Pretend the last timed call was fast.
	m.fast.Store(true)
	const n = 64000
	for range n {
		c, _ := m.Begin()
		if c.weight != 0 && c.weight != timeOneIn {
			t.Fatalf("weight %d", c.weight)
		}
		cs := m.cur.Load()
		cs.outcomes[Hit].Add(1)
		if c.weight != 0 {
			m.time(cs, 100, c.weight)
		}
	}
	s := m.Snapshot()
	if s.Hits != n {
		t.Errorf("Hits = %d, want %d", s.Hits, n)
	}
	// Binomial(n, 1/16) timed calls, 6 standard deviations either way.
	got := float64(s.Buckets[bucketOf(100)]) / timeOneIn
	sd := math.Sqrt(n * (1.0 / timeOneIn) * (1 - 1.0/timeOneIn))
	if want := float64(n) / timeOneIn; math.Abs(got-want) > 6*sd {
		t.Errorf("%v of %d calls timed, want about %v", got, n, want)
	}
}

func TestSnapshotAdd(t *testing.T) {
	a, b := New("a", 1), New("b", 1)
	a.observe(Hit, time.Microsecond)
	b.observe(Miss, time.Millisecond)
	b.Add(StoreError)
	s := a.Snapshot()
	bs := b.Snapshot()
	bs.Entries, s.Entries = 3, 3
	s.Add(bs)
	if s.Hits != 1 || s.Misses != 1 || s.StoreErrors != 1 || s.Timed() != 2 || s.Entries != 3 ||
		s.LatencySum != time.Microsecond+time.Millisecond {
		t.Errorf("sum: %+v", s)
	}
}

// TestCallStraddlingReset: a call that began before a Reset records its
// events and outcome in the old figures, never half in the new ones.
func TestCallStraddlingReset(t *testing.T) {
	m := New("f", 1)
	c, _ := m.Begin()
	c.Add(Recalculation)
	m.Reset()
	c.Add(StoreError)
	m.End(Miss, c)
	if s := m.Snapshot(); s != (Snapshot{}) {
		t.Errorf("the new figures hold part of an older call: %+v", s)
	}
	var none Call
	none.Add(Recalculation) // an uncounted call records nothing, and does not panic
	m.End(Hit, none)
	if s := m.Snapshot(); s != (Snapshot{}) {
		t.Errorf("an uncounted call was recorded: %+v", s)
	}
}
