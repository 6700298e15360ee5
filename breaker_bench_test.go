package cachier_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
)

// slowFailing is a store whose every operation fails after a delay, as a
// server that times out does.
type slowFailing struct {
	failing
	delay time.Duration
}

func (s *slowFailing) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	time.Sleep(s.delay)
	return s.failing.Get(ctx, fn, key)
}

// BenchmarkOutageCall: a call while the store fails (each operation after
// 200µs, a short timeout) against the same call with WithSkipCache, paired
// in one run. With the circuit breaker a call during an outage costs about
// the function's own time: the store is asked once per backoff window.
func BenchmarkOutageCall(b *testing.B) {
	_ = testenv.CaptureLogs(b)
	work := func(ctx context.Context, n int) (int, error) {
		s := 0
		for i := range 1000 {
			s += i * n
		}
		return s, nil
	}
	f := work
	if err := cachier.Decorate(&f, runTag("backend=slow,name=core.bench.outage"), cachier.WithStore("slow", &slowFailing{delay: 200 * time.Microsecond})); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	skip := cachier.WithSkipCache(ctx)
	took, rounds := testenv.Paired(b,
		func() { f(ctx, 3) },
		func() { f(skip, 3) },
	)
	b.ReportMetric(testenv.PerRound(took[0], rounds), "outage-ns/op")
	b.ReportMetric(testenv.PerRound(took[1], rounds), "skip-ns/op")
	if took[1] > 0 {
		b.ReportMetric(float64(took[0])/float64(took[1]), "outage/skip")
	}
}
