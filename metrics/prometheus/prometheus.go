// Package prometheus exports cachier's per-function metrics
// (enable_metrics) to Prometheus, as a prometheus.Collector of the
// client_golang library.
//
//	reg := prometheus.NewRegistry() // client_golang's
//	reg.MustRegister(cachierprom.New())
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The figures are read at scrape time from every live decorated function
// with metrics on, labelled function (its identity, cachier.Handle.Name):
//
//	cachier_cache_hits_total             counter
//	cachier_cache_misses_total           counter (stale hits included, as in cachier)
//	cachier_stale_hits_total             counter
//	cachier_recalculations_total         counter
//	cachier_waits_total                  counter
//	cachier_wait_timeouts_total          counter
//	cachier_size_limit_rejections_total  counter
//	cachier_uncacheable_total            counter
//	cachier_store_errors_total           counter
//	cachier_entry_count                  gauge (memory and file stores; 0 elsewhere)
//	cachier_cache_size_bytes             gauge (file store, memory under max_size; 0 elsewhere)
//	cachier_call_duration_seconds        histogram of the calls through the cache
//
// Functions that share one identity (name=) are reported as one.
// ResetStats resets the function's counters, which Prometheus reads as a
// counter reset. The histogram's buckets grow fourfold from 64ns to about
// 68.7s (16 of them);
// for fast functions its figures are unbiased estimates (see package
// github.com/cachier-go/cachier/metrics), so its _count may differ from
// hits + misses.
//
// This package is its own Go module, so that a program that does not
// import it compiles no Prometheus code.
package prometheus

import (
	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/metrics"
)

// A Collector is a prometheus.Collector of every decorated function with
// metrics on. It is safe for concurrent use; one is enough per registry.
type Collector struct {
	counters []counter
	entries  *prom.Desc
	size     *prom.Desc
	duration *prom.Desc
}

type counter struct {
	desc  *prom.Desc
	value func(*metrics.Snapshot) int64
}

var _ prom.Collector = (*Collector)(nil)

// every is how many of the metrics package's buckets make one exported
// bucket: 8, two powers of two, so that a scrape of many functions stays
// small (16 buckets each).
const every = 8

// bounds are the histogram's upper bounds in seconds: every fourth power
// of two of the nanoseconds, from 2^6 (64ns) to 2^36 (about 68.7s), each
// an upper bound of the metrics package's buckets.
var bounds = func() []float64 {
	var b []float64
	for i := 0; i < metrics.NumBuckets-1; i += every {
		b = append(b, metrics.BucketUpper(i).Seconds())
	}
	return b
}()

// New returns a Collector; register it with a prometheus.Registerer.
func New() *Collector {
	label := []string{"function"}
	desc := func(name, help string) *prom.Desc {
		return prom.NewDesc(name, help, label, nil)
	}
	c := &Collector{
		entries:  desc("cachier_entry_count", "Entries the function's store holds, where it can tell cheaply (memory, file); else 0."),
		size:     desc("cachier_cache_size_bytes", "Bytes of the function's encoded entries, where the store can tell cheaply; else 0."),
		duration: desc("cachier_call_duration_seconds", "Latency of the calls that went through the cache (hits and misses)."),
	}
	for _, k := range []struct {
		name, help string
		value      func(*metrics.Snapshot) int64
	}{
		{"cachier_cache_hits_total", "Calls served a fresh entry.", func(s *metrics.Snapshot) int64 { return s.Hits }},
		{"cachier_cache_misses_total", "Calls not served a fresh entry (stale hits and overwrites included).", func(s *metrics.Snapshot) int64 { return s.Misses }},
		{"cachier_stale_hits_total", "Calls that found a stale entry (also misses).", func(s *metrics.Snapshot) int64 { return s.StaleHits }},
		{"cachier_recalculations_total", "Calculations of the function: foreground, overwrite and background refresh.", func(s *metrics.Snapshot) int64 { return s.Recalculations }},
		{"cachier_waits_total", "Calls that waited for another caller's calculation and got its result.", func(s *metrics.Snapshot) int64 { return s.Waits }},
		{"cachier_wait_timeouts_total", "Calls that gave up waiting for another caller's calculation (wait_for_calc_timeout).", func(s *metrics.Snapshot) int64 { return s.WaitTimeouts }},
		{"cachier_size_limit_rejections_total", "Results not stored for being larger than entry_size_limit.", func(s *metrics.Snapshot) int64 { return s.SizeLimitRejections }},
		{"cachier_uncacheable_total", "Calls whose arguments could not be keyed or whose result could not be encoded.", func(s *metrics.Snapshot) int64 { return s.Uncacheable }},
		{"cachier_store_errors_total", "Failed store operations.", func(s *metrics.Snapshot) int64 { return s.StoreErrors }},
	} {
		c.counters = append(c.counters, counter{desc(k.name, k.help), k.value})
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	for _, k := range c.counters {
		ch <- k.desc
	}
	ch <- c.entries
	ch <- c.size
	ch <- c.duration
}

// Collect implements prometheus.Collector: one snapshot of every decorated
// function with metrics on.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	for _, fs := range snapshots() {
		s := &fs.s
		for _, k := range c.counters {
			ch <- prom.MustNewConstMetric(k.desc, prom.CounterValue, float64(k.value(s)), fs.name)
		}
		ch <- prom.MustNewConstMetric(c.entries, prom.GaugeValue, float64(s.Entries), fs.name)
		ch <- prom.MustNewConstMetric(c.size, prom.GaugeValue, float64(s.SizeBytes), fs.name)
		buckets := make(map[float64]uint64, len(bounds))
		var cum uint64
		for i, n := range s.Buckets[:metrics.NumBuckets-1] {
			cum += n
			if i%every == 0 {
				buckets[bounds[i/every]] = cum
			}
		}
		ch <- prom.MustNewConstHistogram(c.duration, s.Timed(), s.LatencySum.Seconds(), buckets, fs.name)
	}
}

type funcSnapshot struct {
	name string
	s    metrics.Snapshot
}

// snapshots returns one snapshot per identity of the live decorated
// functions with metrics on.
func snapshots() []funcSnapshot {
	var out []funcSnapshot
	at := map[string]int{}
	for _, h := range cachier.Handles() {
		s, ok := h.Metrics()
		if !ok {
			continue
		}
		name := h.Name()
		if i, dup := at[name]; dup {
			out[i].s.Add(s)
			continue
		}
		at[name] = len(out)
		out = append(out, funcSnapshot{name, s})
	}
	return out
}
