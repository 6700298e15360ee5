package cachier_test

import (
	"testing"

	"github.com/cachier-go/cachier/internal/testenv"
)

// BenchmarkHitMemoryBounded is a memory hit with max_entries, paired in one
// loop with the unbounded hit (BenchmarkHitMemory's function): the
// "bounded/unbounded" metric is their ratio.
func BenchmarkHitMemoryBounded(b *testing.B) {
	plain, bounded := add, add
	mustDecorate(b, &plain, "backend=memory,name=bench.hit.unbounded")
	mustDecorate(b, &bounded, "backend=memory,max_entries=100000,name=bench.hit.bounded")
	for i := range 1024 {
		plain(i, 7)
		bounded(i, 7)
	}
	b.ReportAllocs()
	var i, j int
	took, rounds := testenv.Paired(b,
		func() { _ = plain(i&1023, 7); i++ },
		func() { _ = bounded(j&1023, 7); j++ })
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(rounds), "unbounded-ns/hit")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(rounds), "bounded-ns/hit")
	b.ReportMetric(float64(took[1])/float64(took[0]), "bounded/unbounded")
}
