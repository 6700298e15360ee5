package cachier

import (
	"time"

	"github.com/cachier-go/cachier/metrics"
)

// Stats is a snapshot of one function's counters (enable_metrics), since
// it was decorated or since the last ResetStats. With metrics off it is
// the zero value.
//
// The counting follows Python cachier's: a call that found a fresh entry
// is a hit; one that found none, or a stale one, or overwrote it
// (WithOverwriteCache), is a miss; a stale hit (returned at once with
// next_time, or recomputed) is also a miss; every calculation of the
// function, foreground, overwrite or background refresh, is a
// recalculation; a caller that waited for another's calculation and got
// its result (or, when it failed, its error) counts one Waits and neither a
// hit nor a miss, and one that
// gave up (wait_for_calc_timeout) counts a WaitTimeouts and then, as it
// computes, a miss. Calls that skip the cache (WithSkipCache, caching
// disabled) count nothing. The Go additions: a call whose arguments cannot
// be keyed, or whose result cannot be encoded, counts Uncacheable (a call
// without a key is neither a hit nor a miss); every failed store operation
// counts StoreErrors, and a call that could not read the store is a miss.
//
// With metrics_sampling_rate below 1, a random share of the calls is
// counted, whole: the figures are those of the sampled calls, not scaled.
// Latencies come from the timed calls (see package metrics: fast functions
// time one call in 16, and the figures are unbiased estimates).
type Stats struct {
	Hits, Misses, StaleHits            int64         // a stale hit is also a miss, as in cachier
	Recalculations                     int64         // every calculation: foreground, overwrite, background refresh
	Waits, WaitTimeouts                int64         // callers that waited for another's calculation; those that gave up
	SizeLimitRejections                int64         // results larger than entry_size_limit
	Uncacheable                        int64         // calls whose arguments could not be keyed or results not encoded
	StoreErrors                        int64         // failed store operations
	Entries, SizeBytes                 int64         // where the store can tell cheaply (memory, file); else 0
	LatencyAvg, LatencyP50, LatencyP99 time.Duration // of calls that went through the cache
}

// Calls returns Hits + Misses.
func (s Stats) Calls() int64 { return s.Hits + s.Misses }

// HitRate returns Hits / Calls, a fraction in [0, 1]; 0 without calls.
func (s Stats) HitRate() float64 {
	if n := s.Calls(); n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}

// Stats returns the function's counters (the zero value with metrics off).
func (h *Handle) Stats() Stats {
	m, ok := h.Metrics()
	if !ok {
		return Stats{}
	}
	return Stats{
		Hits: m.Hits, Misses: m.Misses, StaleHits: m.StaleHits,
		Recalculations: m.Recalculations,
		Waits:          m.Waits, WaitTimeouts: m.WaitTimeouts,
		SizeLimitRejections: m.SizeLimitRejections,
		Uncacheable:         m.Uncacheable,
		StoreErrors:         m.StoreErrors,
		Entries:             m.Entries, SizeBytes: m.SizeBytes,
		LatencyAvg: m.LatencyAvg(), LatencyP50: m.Quantile(0.5), LatencyP99: m.Quantile(0.99),
	}
}

// Metrics returns the function's full metrics snapshot, the latency
// histogram included, as the exporters in metrics/prometheus and
// metrics/otel read it; ok is false with metrics off.
func (h *Handle) Metrics() (s metrics.Snapshot, ok bool) {
	m := h.f.metrics
	if m == nil {
		return metrics.Snapshot{}, false
	}
	s = m.Snapshot()
	if n, b, ok := h.f.size(); ok {
		s.Entries, s.SizeBytes = n, b
	}
	return s, true
}

// ResetStats zeroes the function's counters, all at once: no Stats mixes
// figures from before and after it.
func (h *Handle) ResetStats() {
	if m := h.f.metrics; m != nil {
		m.Reset()
	}
}

// count records one event of a counted call.
func (c *callState) count(e metrics.Event) {
	c.mc.Add(e)
}

// waited records that the call got another caller's result: one Waits,
// neither a hit nor a miss.
func (c *callState) waited() {
	c.outcome = metrics.None
	c.count(metrics.Wait)
}
