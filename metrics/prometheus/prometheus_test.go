package prometheus_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cachier-go/cachier"
	cachierprom "github.com/cachier-go/cachier/metrics/prometheus"
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

// serve registers a Collector and serves promhttp on a real listener; it
// returns the /metrics URL.
func serve(t *testing.T) string {
	t.Helper()
	reg := prom.NewRegistry()
	reg.MustRegister(cachierprom.New())
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return "http://" + ln.Addr().String() + "/metrics"
}

// scrape fetches url over HTTP and parses the exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the exposition: %v", err)
	}
	return fams
}

// metric returns the metric of family name labelled function=fn, or nil.
func metric(fams map[string]*dto.MetricFamily, name, fn string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "function" && l.GetValue() == fn {
				return m
			}
		}
	}
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name, fn string) float64 {
	t.Helper()
	m := metric(fams, name, fn)
	if m == nil {
		t.Fatalf("no %s{function=%q} in the scrape", name, fn)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

// checkHistogram checks that fn's latency histogram is well formed, and
// returns its count.
func checkHistogram(t *testing.T, fams map[string]*dto.MetricFamily, fn string) uint64 {
	t.Helper()
	m := metric(fams, "cachier_call_duration_seconds", fn)
	if m == nil || m.Histogram == nil {
		t.Fatalf("no histogram for %s", fn)
	}
	h := m.Histogram
	var prev uint64
	var prevBound float64
	for _, b := range h.GetBucket() {
		if b.GetCumulativeCount() < prev || b.GetUpperBound() <= prevBound {
			t.Fatalf("histogram of %s not cumulative: %v", fn, h)
		}
		prev, prevBound = b.GetCumulativeCount(), b.GetUpperBound()
	}
	if prev > h.GetSampleCount() || h.GetSampleSum() < 0 {
		t.Fatalf("histogram of %s: buckets up to %d, count %d, sum %v", fn, prev, h.GetSampleCount(), h.GetSampleSum())
	}
	return h.GetSampleCount()
}

// TestScrapeAfterKnownCalls scrapes /metrics over HTTP after known calls
// of a memory and a file function, and checks every figure.
func TestScrapeAfterKnownCalls(t *testing.T) {
	ctx := context.Background()
	var fCalls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) { fCalls.Add(1); return x * 2, nil }
	fh := decorate(t, &f, "backend=memory,enable_metrics,name="+uniq("prom-mem"))
	g := func(ctx context.Context, x int) (string, error) { return fmt.Sprint(x), nil }
	gh := decorate(t, &g, "backend=file,cache_dir="+t.TempDir()+",enable_metrics,name="+uniq("prom-file"))
	off := func(x int) int { return x }
	offh := decorate(t, &off, "backend=memory,name="+uniq("prom-off"))

	for _, x := range []int{1, 1, 1, 2} {
		_, _ = f(ctx, x)
	}
	_, _ = f(cachier.WithMaxAge(ctx, -1), 1) // stale: a stale hit and a miss
	_, _ = g(ctx, 1)
	_, _ = g(ctx, 1)
	off(1)

	fams := scrape(t, serve(t))
	for name, want := range map[string]float64{
		"cachier_cache_hits_total":            2,
		"cachier_cache_misses_total":          3,
		"cachier_stale_hits_total":            1,
		"cachier_recalculations_total":        3,
		"cachier_waits_total":                 0,
		"cachier_wait_timeouts_total":         0,
		"cachier_size_limit_rejections_total": 0,
		"cachier_uncacheable_total":           0,
		"cachier_store_errors_total":          0,
		"cachier_entry_count":                 2,
	} {
		if got := value(t, fams, name, fh.Name()); got != want {
			t.Errorf("%s{function=memory} = %v, want %v", name, got, want)
		}
	}
	if n := checkHistogram(t, fams, fh.Name()); n == 0 {
		t.Error("memory function: no latency recorded (its first call is always timed)")
	}
	if got := value(t, fams, "cachier_cache_hits_total", gh.Name()); got != 1 {
		t.Errorf("file hits = %v, want 1", got)
	}
	if got := value(t, fams, "cachier_entry_count", gh.Name()); got != 1 {
		t.Errorf("file entry count = %v, want 1", got)
	}
	if got := value(t, fams, "cachier_cache_size_bytes", gh.Name()); got <= 0 {
		t.Errorf("file size bytes = %v, want > 0", got)
	}
	checkHistogram(t, fams, gh.Name())
	if m := metric(fams, "cachier_cache_hits_total", offh.Name()); m != nil {
		t.Errorf("a function without metrics is exported: %v", m)
	}
}

// TestScrapeConcurrentWithCallsClearsAndResets scrapes over HTTP while
// calls, ClearCache and ResetStats run (under -race in CI). Every scrape
// must come from one generation of counters: for a function whose every
// call is a computed miss (an overwrite), recalculations are counted just
// before the miss, so misses <= recalculations <= misses + callers in
// flight; a scrape mixing figures from before and after a ResetStats would
// break it.
func TestScrapeConcurrentWithCallsClearsAndResets(t *testing.T) {
	ctx := context.Background()
	f := func(ctx context.Context, x int) (int, error) { return x, nil }
	fh := decorate(t, &f, "backend=memory,enable_metrics,name="+uniq("prom-conc"))
	g := func(ctx context.Context, x int) (int, error) { return x, nil }
	gh := decorate(t, &g, "backend=memory,enable_metrics,name="+uniq("prom-conc-mixed"))
	url := serve(t)

	const writers = 4
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
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
				_, _ = g(ctx, (i+w)%13)
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
				gh.ResetStats()
			} else {
				_ = fh.ClearCache(ctx)
				_ = gh.ClearCache(ctx)
			}
		}
	}()
	for range 40 {
		fams := scrape(t, url)
		misses := value(t, fams, "cachier_cache_misses_total", fh.Name())
		recalcs := value(t, fams, "cachier_recalculations_total", fh.Name())
		if misses > recalcs || recalcs > misses+writers {
			t.Fatalf("a torn scrape: misses %v, recalculations %v", misses, recalcs)
		}
		if hits := value(t, fams, "cachier_cache_hits_total", fh.Name()); hits != 0 {
			t.Fatalf("overwrites counted as hits: %v", hits)
		}
		if s, m := value(t, fams, "cachier_stale_hits_total", gh.Name()), value(t, fams, "cachier_cache_misses_total", gh.Name()); s > m {
			t.Fatalf("stale hits %v > misses %v", s, m)
		}
		checkHistogram(t, fams, fh.Name())
		checkHistogram(t, fams, gh.Name())
	}
	close(stop)
	wg.Wait()

	// At rest, after a reset: exactly the calls made since.
	gh.ResetStats()
	_ = gh.ClearCache(ctx)
	for _, x := range []int{1, 2, 3, 1, 2} {
		_, _ = g(ctx, x)
	}
	fams := scrape(t, url)
	hits, misses := value(t, fams, "cachier_cache_hits_total", gh.Name()), value(t, fams, "cachier_cache_misses_total", gh.Name())
	if hits != 2 || misses != 3 {
		t.Errorf("at rest: hits %v, misses %v; want 2, 3", hits, misses)
	}
	if st := gh.Stats(); float64(st.Calls()) != hits+misses {
		t.Errorf("Stats().Calls() = %d, scrape hits+misses = %v", st.Calls(), hits+misses)
	}
}

// TestSharedIdentityReportedOnce: two functions decorated under one
// name= are one series, their figures added.
func TestSharedIdentityReportedOnce(t *testing.T) {
	name := uniq("prom-shared")
	a := func(x int) int { return x }
	b := func(x int) int { return x + 0 }
	ah := decorate(t, &a, "backend=memory,enable_metrics,name="+name)
	decorate(t, &b, "backend=memory,enable_metrics,name="+name)
	a(1)
	b(2)
	fams := scrape(t, serve(t))
	n := 0
	for _, m := range fams["cachier_cache_misses_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetValue() == ah.Name() {
				n++
				if m.Counter.GetValue() != 2 {
					t.Errorf("misses = %v, want 2 (both functions)", m.Counter.GetValue())
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("%d series for one identity", n)
	}
}

// BenchmarkScrape1000 is one /metrics request (gather and text encoding)
// with 1,000 decorated functions with metrics on. Target: under 50ms.
func BenchmarkScrape1000(b *testing.B) {
	benchOnce.Do(func() {
		benchFuncs = make([]func(int) int, 1000)
		for i := range benchFuncs {
			benchFuncs[i] = func(x int) int { return x + i }
			decorate(b, &benchFuncs[i], fmt.Sprintf("backend=memory,enable_metrics,name=%s", uniq("prom-bench")))
			for x := range 5 {
				benchFuncs[i](x % 3)
			}
		}
	})
	reg := prom.NewRegistry()
	reg.MustRegister(cachierprom.New())
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

var (
	benchOnce  sync.Once
	benchFuncs []func(int) int // decorated once, live for every run
)
