package cachier_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier/internal/testenv"
)

// BenchmarkHitMemoryMetrics pairs a memory hit of func(a, b int) int with
// metrics off and on, in turn within one run, batches of 64 hits per op so
// that reading the clock around each op costs little. Metrics: ns/hit of
// each, and on/off (target ≤ 1.15).
func BenchmarkHitMemoryMetrics(b *testing.B) {
	off, on := add, add
	mustDecorate(b, &off, "backend=memory,name=bench.metrics.off")
	mustDecorate(b, &on, "backend=memory,name=bench.metrics.on,enable_metrics")
	for i := range 1024 {
		off(i, 7)
		on(i, 7)
	}
	const batch = 64
	i := 0
	b.ReportAllocs()
	took, rounds := testenv.Paired(b,
		func() {
			for j := range batch {
				_ = off((i+j)&1023, 7)
			}
		},
		func() {
			for j := range batch {
				_ = on((i+j)&1023, 7)
			}
			i += batch
		})
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(testenv.PerRound(took[0], rounds*batch), "off-ns/hit")
	b.ReportMetric(testenv.PerRound(took[1], rounds*batch), "on-ns/hit")
	if took[0] > 0 {
		b.ReportMetric(float64(took[1])/float64(took[0]), "on/off")
	}
}

// BenchmarkHitMemoryMetricsParallel is the same pairing from every core at
// once: each goroutine alternates batches of hits with metrics off and on,
// so contention on the function's counters would show in on/off.
func BenchmarkHitMemoryMetricsParallel(b *testing.B) {
	off, on := add, add
	mustDecorate(b, &off, "backend=memory,name=bench.metrics.par.off")
	mustDecorate(b, &on, "backend=memory,name=bench.metrics.par.on,enable_metrics")
	for i := range 1024 {
		off(i, 7)
		on(i, 7)
	}
	const batch = 64
	var tookOff, tookOn, hits atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			t0 := time.Now()
			for j := range batch {
				_ = off((i+j)&1023, 7)
			}
			t1 := time.Now()
			for j := range batch {
				_ = on((i+j)&1023, 7)
			}
			tookOn.Add(int64(time.Since(t1)))
			tookOff.Add(int64(t1.Sub(t0)))
			hits.Add(batch)
			i += batch
		}
	})
	b.ReportMetric(0, "ns/op")
	if n := hits.Load(); n > 0 {
		b.ReportMetric(float64(tookOff.Load())/float64(n), "off-ns/hit")
		b.ReportMetric(float64(tookOn.Load())/float64(n), "on-ns/hit")
		b.ReportMetric(float64(tookOn.Load())/float64(tookOff.Load()), "on/off")
	}
}
