package otel_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/cachier-go/cachier"
	cachierotel "github.com/cachier-go/cachier/metrics/otel"
)

var seq atomic.Int64

func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1))
}

func decorate(t testing.TB, target any, tag string) *cachier.Handle {
	t.Helper()
	if err := cachier.Decorate(target, cachier.Tag(tag)); err != nil {
		t.Fatal(err)
	}
	h, err := cachier.Of(target)
	if err != nil {
		t.Fatal(err)
	}
	// The registry holds decorated functions weakly: one the test no
	// longer calls may be collected, and vanish from what is exported,
	// before the test looks.
	t.Cleanup(func() { runtime.KeepAlive(target) })
	return h
}

// register makes a MeterProvider with a ManualReader and registers the
// instruments on it.
func register(t *testing.T) *sdkmetric.ManualReader {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	if err := cachierotel.Register(mp); err != nil {
		t.Fatal(err)
	}
	return reader
}

func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != cachierotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func isFn(set attribute.Set, fn string) bool {
	v, ok := set.Value(cachierotel.FunctionKey)
	return ok && v.AsString() == fn
}

// point returns the value of instrument name for function fn; ok is false
// when there is no such data point.
func point(t *testing.T, ms map[string]metricdata.Metrics, name, fn string) (v int64, ok bool) {
	t.Helper()
	m, found := ms[name]
	if !found {
		t.Fatalf("no instrument %s", name)
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		if !d.IsMonotonic {
			t.Errorf("%s is not monotonic", name)
		}
		for _, p := range d.DataPoints {
			if isFn(p.Attributes, fn) {
				return p.Value, true
			}
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			if isFn(p.Attributes, fn) {
				return p.Value, true
			}
		}
	default:
		t.Fatalf("%s: unexpected data %T", name, m.Data)
	}
	return 0, false
}

func histogram(t *testing.T, ms map[string]metricdata.Metrics, fn string) (metricdata.HistogramDataPoint[float64], bool) {
	t.Helper()
	m, found := ms["cachier.call.duration"]
	if !found {
		return metricdata.HistogramDataPoint[float64]{}, false
	}
	if m.Unit != "s" {
		t.Errorf("cachier.call.duration unit %q, want s", m.Unit)
	}
	for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
		if isFn(p.Attributes, fn) {
			return p, true
		}
	}
	return metricdata.HistogramDataPoint[float64]{}, false
}

// TestRegisterPublishesKnownCalls collects with a ManualReader after known
// calls and checks every figure against them.
func TestRegisterPublishesKnownCalls(t *testing.T) {
	reader := register(t)
	ctx := context.Background()
	f := func(ctx context.Context, x int) (int, error) { return x * 2, nil }
	fh := decorate(t, &f, "backend=memory,enable_metrics,name="+uniq("otel-mem"))
	g := func(ctx context.Context, x int) (string, error) { return fmt.Sprint(x), nil }
	gh := decorate(t, &g, "backend=file,cache_dir="+t.TempDir()+",enable_metrics,name="+uniq("otel-file"))
	off := func(x int) int { return x }
	offh := decorate(t, &off, "backend=memory,name="+uniq("otel-off"))

	for _, x := range []int{1, 1, 1, 2} {
		_, _ = f(ctx, x)
	}
	_, _ = f(cachier.WithMaxAge(ctx, -1), 1)
	_, _ = g(ctx, 1)
	_, _ = g(ctx, 1)
	off(1)

	ms := collect(t, reader)
	for name, want := range map[string]int64{
		"cachier.cache.hits":            2,
		"cachier.cache.misses":          3,
		"cachier.stale_hits":            1,
		"cachier.recalculations":        3,
		"cachier.waits":                 0,
		"cachier.wait_timeouts":         0,
		"cachier.size_limit_rejections": 0,
		"cachier.uncacheable":           0,
		"cachier.store_errors":          0,
		"cachier.entry_count":           2,
	} {
		if got, ok := point(t, ms, name, fh.Name()); !ok || got != want {
			t.Errorf("%s{memory} = %d (found %v), want %d", name, got, ok, want)
		}
	}
	if got, _ := point(t, ms, "cachier.cache.hits", gh.Name()); got != 1 {
		t.Errorf("file hits = %d, want 1", got)
	}
	if got, _ := point(t, ms, "cachier.cache.size", gh.Name()); got <= 0 {
		t.Errorf("file cache.size = %d, want > 0", got)
	}
	if _, ok := point(t, ms, "cachier.cache.hits", offh.Name()); ok {
		t.Error("a function without metrics is published")
	}
	// The histogram holds exactly the (weighted) timed calls the function's
	// own figures hold, since Register came before every call.
	p, ok := histogram(t, ms, fh.Name())
	if !ok {
		t.Fatal("no histogram point for the memory function")
	}
	snap, _ := fh.Metrics()
	if p.Count != snap.Timed() || p.Count == 0 {
		t.Errorf("histogram count %d, the function's timed calls %d (want equal, > 0)", p.Count, snap.Timed())
	}
	var inBuckets uint64
	for _, n := range p.BucketCounts {
		inBuckets += n
	}
	if inBuckets != p.Count {
		t.Errorf("buckets hold %d, count %d", inBuckets, p.Count)
	}
}

// TestCollectConcurrentWithCallsAndResets collects while calls, clears and
// ResetStats run (under -race in CI); each collection sees one generation
// of a function's counters (see the Prometheus test of the same name).
func TestCollectConcurrentWithCallsAndResets(t *testing.T) {
	reader := register(t)
	ctx := context.Background()
	f := func(ctx context.Context, x int) (int, error) { return x, nil }
	fh := decorate(t, &f, "backend=memory,enable_metrics,name="+uniq("otel-conc"))
	const writers = 4
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = f(cachier.WithOverwriteCache(ctx), i%7)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				fh.ResetStats()
			} else {
				_ = fh.ClearCache(ctx)
			}
		}
	}()
	for range 40 {
		ms := collect(t, reader)
		misses, _ := point(t, ms, "cachier.cache.misses", fh.Name())
		recalcs, _ := point(t, ms, "cachier.recalculations", fh.Name())
		if misses > recalcs || recalcs > misses+writers {
			t.Fatalf("a torn collection: misses %d, recalculations %d", misses, recalcs)
		}
	}
	close(stop)
	wg.Wait()
}

func TestRegisterNil(t *testing.T) {
	if err := cachierotel.Register(nil); err == nil {
		t.Error("Register(nil) = nil")
	}
}
