package testenv

import (
	"testing"
	"time"
)

// Paired runs ops in turn within each iteration of b.Loop, rotating their
// order, so that a load that changes during the run (other work on a shared
// machine) weighs on every op alike: comparing ops timed in separate
// benchmarks on such a machine measures the load, not the ops. It returns
// the total time spent in each op and the number of rounds; callers report
// per-op times and ratios with b.ReportMetric.
func Paired(b *testing.B, ops ...func()) (took []time.Duration, rounds int) {
	took = make([]time.Duration, len(ops))
	for b.Loop() {
		for j := range ops {
			k := (rounds + j) % len(ops)
			t0 := time.Now()
			ops[k]()
			took[k] += time.Since(t0)
		}
		rounds++
	}
	return took, rounds
}

// PerRound returns d divided over rounds, in nanoseconds, for
// b.ReportMetric.
func PerRound(d time.Duration, rounds int) float64 {
	if rounds == 0 {
		return 0
	}
	return float64(d.Nanoseconds()) / float64(rounds)
}
