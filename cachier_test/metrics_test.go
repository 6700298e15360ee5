package cachier_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/redisstore"
)

// TestMetrics checks each counting rule of SPEC §8 with real calls on
// every registered backend.
func TestMetrics(t *testing.T) {
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def := backends[name]
		t.Run(name, func(t *testing.T) {
			for _, r := range metricRules {
				t.Run(r.name, func(t *testing.T) {
					defaults.Reset()
					t.Cleanup(defaults.Reset)
					b := def.open(t, t.TempDir())
					r.run(t, &env{t: t, b: b, ns: uniq()}, name)
				})
			}
		})
	}
}

var metricRules = []struct {
	name string
	run  func(t *testing.T, e *env, backend string)
}{
	{"HitAndMiss", mrHitAndMiss},
	{"StaleHitIsAMiss", mrStaleHitIsAMiss},
	{"NextTimeStaleHitAndOneRefresh", mrNextTime},
	{"OverwriteIsAMissAndARecalculation", mrOverwrite},
	{"WaitIsNeitherHitNorMiss", mrWait},
	{"WaitTimeoutThenMiss", mrWaitTimeout},
	{"WaitOnTheStoreMark", mrWaitOnMark},
	{"WaitSharingAFailure", mrWaitSharingFailure},
	{"SkippedAndDisabledCountNothing", mrSkipped},
	{"SizeLimitRejection", mrSizeLimit},
	{"UncacheableKey", mrUncacheableKey},
	{"UncacheableResult", mrUncacheableResult},
	{"ResetStats", mrReset},
	{"MetricsOffIsZero", mrOff},
}

// countingFunc is a function of the shape the rules use, and its call
// counter.
func countingFunc(c *counter) func(ctx context.Context, x int) (int, error) {
	return func(ctx context.Context, x int) (int, error) {
		c.n.Add(1)
		return x * 2, nil
	}
}

func wantStats(t *testing.T, h *cachier.Handle, want cachier.Stats) {
	t.Helper()
	got := h.Stats()
	// Latency and size are checked where they are known; compare counts.
	got.LatencyAvg, got.LatencyP50, got.LatencyP99 = 0, 0, 0
	got.Entries, got.SizeBytes = 0, 0
	if got != want {
		t.Fatalf("Stats()\n got %+v\nwant %+v", got, want)
	}
}

func call(t *testing.T, f func(context.Context, int) (int, error), ctx context.Context, x int) {
	t.Helper()
	if v, err := f(ctx, x); err != nil || v != 2*x {
		t.Fatalf("f(%d) = %d, %v", x, v, err)
	}
}

// sizeKnown reports whether a backend's store tells Entries (SPEC §8:
// memory and file).
func sizeKnown(backend string) bool { return backend == "memory" || backend == "file" }

func mrHitAndMiss(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "enable_metrics")
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	call(t, f, bg, 2)
	wantStats(t, h, cachier.Stats{Hits: 2, Misses: 2, Recalculations: 2})
	s := h.Stats()
	if s.Calls() != 4 || s.HitRate() != 0.5 {
		t.Errorf("Calls %d, HitRate %v; want 4, 0.5", s.Calls(), s.HitRate())
	}
	// The first call of a function is always timed.
	if s.LatencyAvg <= 0 || s.LatencyP50 <= 0 || s.LatencyP99 < s.LatencyP50 {
		t.Errorf("latency avg %v p50 %v p99 %v", s.LatencyAvg, s.LatencyP50, s.LatencyP99)
	}
	if sizeKnown(backend) {
		if s.Entries != 2 {
			t.Errorf("Entries = %d, want 2", s.Entries)
		}
		if backend == "file" && s.SizeBytes <= 0 {
			t.Errorf("SizeBytes = %d on the file store", s.SizeBytes)
		}
	} else if s.Entries != 0 || s.SizeBytes != 0 {
		t.Errorf("Entries %d, SizeBytes %d on %s: want 0", s.Entries, s.SizeBytes, backend)
	}
}

func mrStaleHitIsAMiss(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "enable_metrics")
	call(t, f, bg, 1)
	call(t, f, cachier.WithMaxAge(bg, -1), 1) // stale now: recomputed
	e.wantCalls(&c, 2)
	wantStats(t, h, cachier.Stats{Misses: 2, StaleHits: 1, Recalculations: 2})
}

func mrNextTime(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "enable_metrics,next_time")
	call(t, f, bg, 1)
	call(t, f, cachier.WithMaxAge(bg, -1), 1) // the stale value at once, a refresh behind
	e.eventually("the background refresh", func() bool { return c.calls() == 2 && h.Stats().Recalculations == 2 })
	wantStats(t, h, cachier.Stats{Misses: 2, StaleHits: 1, Recalculations: 2})
}

func mrOverwrite(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "enable_metrics")
	call(t, f, bg, 1)
	call(t, f, cachier.WithOverwriteCache(bg), 1)
	call(t, f, bg, 1)
	wantStats(t, h, cachier.Stats{Hits: 1, Misses: 2, Recalculations: 2})
}

// logSignal makes the library's logger close the returned channel at the
// first message containing substr: a way to know that a call reached a
// point (with WithVerbose) without sleeping. It also checks SetLogger.
func logSignal(t *testing.T, substr string) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	defaults.SetLogger(slog.New(&signalHandler{substr: substr, fire: func() { once.Do(func() { close(ch) }) }}))
	t.Cleanup(func() { defaults.SetLogger(nil) })
	return ch
}

type signalHandler struct {
	substr string
	fire   func()
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.fire()
	}
	return nil
}
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *signalHandler) WithGroup(string) slog.Handler      { return h }

// blockingFunc's first call blocks until release is closed, after closing
// started.
func blockingFunc(c *counter, started, release chan struct{}) func(ctx context.Context, x int) (int, error) {
	return func(ctx context.Context, x int) (int, error) {
		if c.n.Add(1) == 1 {
			close(started)
			<-release
		}
		return x * 2, nil
	}
}

func mrWait(t *testing.T, e *env, backend string) {
	var c counter
	started, release := make(chan struct{}), make(chan struct{})
	f := blockingFunc(&c, started, release)
	h := e.decorate(&f, "enable_metrics")
	waiting := logSignal(t, "being calculated in this process: waiting")
	done := make(chan struct{})
	go func() { defer close(done); call(t, f, bg, 1) }()
	<-started
	waiter := make(chan struct{})
	go func() { defer close(waiter); call(t, f, cachier.WithVerbose(bg), 1) }()
	<-waiting
	close(release)
	<-done
	<-waiter
	e.wantCalls(&c, 1)
	wantStats(t, h, cachier.Stats{Misses: 1, Recalculations: 1, Waits: 1})
}

// mrWaitOnMark: a caller that waits on another's mark in the store (as a
// caller in another process does: here a second function sharing the
// identity, which has flights of its own) and gets its result counts one
// Waits, neither a hit nor a miss.
func mrWaitOnMark(t *testing.T, e *env, backend string) {
	if backend == "memory" {
		t.Skip("the memory store has no marks: its callers wait on in-process flights")
	}
	var c counter
	started, release := make(chan struct{}), make(chan struct{})
	a := blockingFunc(&c, started, release)
	b := blockingFunc(&c, started, release) // its calls never block: c is past 1
	spec := e.b.tag + ",enable_metrics,name=" + e.ns + "-shared"
	for _, f := range []*func(context.Context, int) (int, error){&a, &b} {
		if err := cachier.Decorate(f, append([]cachier.Option{cachier.Tag(spec)}, e.b.opts...)...); err != nil {
			t.Fatal(err)
		}
	}
	ah, _ := cachier.Of(&a)
	bh, _ := cachier.Of(&b)
	t.Cleanup(func() { _ = ah.ClearCache(context.Background()) })
	waiting := logSignal(t, "being calculated by another process: waiting")
	done := make(chan struct{})
	go func() { defer close(done); call(t, a, bg, 1) }()
	<-started
	waiter := make(chan struct{})
	go func() { defer close(waiter); call(t, b, cachier.WithVerbose(bg), 1) }()
	<-waiting
	close(release)
	<-done
	<-waiter
	e.wantCalls(&c, 1)
	wantStats(t, ah, cachier.Stats{Misses: 1, Recalculations: 1})
	wantStats(t, bh, cachier.Stats{Waits: 1})
}

// mrWaitSharingFailure: a waiter that gets the failed calculation's error
// counts one Waits too; the failed calculation is a miss and a
// recalculation, and nothing is stored.
func mrWaitSharingFailure(t *testing.T, e *env, backend string) {
	var c counter
	started, release := make(chan struct{}), make(chan struct{})
	boom := errors.New("boom")
	f := func(ctx context.Context, x int) (int, error) {
		c.n.Add(1)
		close(started)
		<-release
		return 0, boom
	}
	h := e.decorate(&f, "enable_metrics")
	waiting := logSignal(t, "being calculated in this process: waiting")
	errs := make(chan error, 2)
	go func() { _, err := f(bg, 1); errs <- err }()
	<-started
	go func() { _, err := f(cachier.WithVerbose(bg), 1); errs <- err }()
	<-waiting
	close(release)
	for range 2 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
	}
	e.wantCalls(&c, 1)
	wantStats(t, h, cachier.Stats{Misses: 1, Recalculations: 1, Waits: 1})
}

func mrWaitTimeout(t *testing.T, e *env, backend string) {
	var c counter
	started, release := make(chan struct{}), make(chan struct{})
	f := blockingFunc(&c, started, release)
	h := e.decorate(&f, "enable_metrics,wait_for_calc_timeout=50ms")
	done := make(chan struct{})
	go func() { defer close(done); call(t, f, bg, 1) }()
	<-started
	call(t, f, bg, 1) // gives up waiting and computes itself
	close(release)
	<-done
	e.wantCalls(&c, 2)
	wantStats(t, h, cachier.Stats{Misses: 2, Recalculations: 2, WaitTimeouts: 1})
}

func mrSkipped(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "enable_metrics")
	call(t, f, cachier.WithSkipCache(bg), 1)
	defaults.DisableCaching()
	call(t, f, bg, 1)
	defaults.EnableCaching()
	e.wantCalls(&c, 2)
	if s := h.Stats(); s != (cachier.Stats{Entries: s.Entries}) || s.Entries != 0 {
		t.Fatalf("skipped and disabled calls counted: %+v", s)
	}
}

func mrSizeLimit(t *testing.T, e *env, backend string) {
	var c counter
	f := func(ctx context.Context, x int) (string, error) {
		c.n.Add(1)
		return strings.Repeat("x", 1000), nil
	}
	h := e.decorate(&f, "enable_metrics,entry_size_limit=100B")
	for range 2 {
		if _, err := f(bg, 1); err != nil {
			t.Fatal(err)
		}
	}
	e.wantCalls(&c, 2)
	wantStats(t, h, cachier.Stats{Misses: 2, Recalculations: 2, SizeLimitRejections: 2})
}

func mrUncacheableKey(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	failing := func(args []any) (string, error) { return "", errors.New("no key for you") }
	h := e.decorate(&f, "enable_metrics", cachier.WithHashFunc(failing))
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	e.wantCalls(&c, 2)
	wantStats(t, h, cachier.Stats{Uncacheable: 2})
}

func mrUncacheableResult(t *testing.T, e *env, backend string) {
	if backend == "memory" {
		t.Skip("the memory store keeps Go values: it encodes nothing")
	}
	var c counter
	f := func(ctx context.Context, x int) (any, error) {
		c.n.Add(1)
		return func() {}, nil // no codec keeps a func
	}
	h := e.decorate(&f, "enable_metrics")
	for range 2 {
		if _, err := f(bg, 1); err != nil {
			t.Fatal(err)
		}
	}
	e.wantCalls(&c, 2)
	wantStats(t, h, cachier.Stats{Misses: 2, Recalculations: 2, Uncacheable: 2})
}

func mrReset(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "enable_metrics")
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	h.ResetStats()
	wantStats(t, h, cachier.Stats{})
	if s := h.Stats(); s.LatencyAvg != 0 || s.LatencyP99 != 0 {
		t.Errorf("latency after ResetStats: %+v", s)
	}
	call(t, f, bg, 1)
	wantStats(t, h, cachier.Stats{Hits: 1})
}

func mrOff(t *testing.T, e *env, backend string) {
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "")
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	if s := h.Stats(); s != (cachier.Stats{}) {
		t.Fatalf("metrics off: Stats() = %+v, want the zero value", s)
	}
	if _, ok := h.Metrics(); ok {
		t.Error("Metrics() ok with metrics off")
	}
	h.ResetStats() // harmless
}

// TestMetricsGlobalDefault: enable_metrics through defaults.Set.
func TestMetricsGlobalDefault(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	if err := defaults.Set("enable_metrics,metrics_sampling_rate=1"); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, b: backend{tag: "backend=memory"}, ns: uniq()}
	var c counter
	f := countingFunc(&c)
	h := e.decorate(&f, "")
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	wantStats(t, h, cachier.Stats{Hits: 1, Misses: 1, Recalculations: 1})

	// metrics_sampling_rate through defaults.Set: read at decoration.
	if err := defaults.Set("metrics_sampling_rate=0"); err != nil {
		t.Fatal(err)
	}
	g := countingFunc(&c)
	gh := e.decorate(&g, "")
	call(t, g, bg, 1)
	wantStats(t, gh, cachier.Stats{})
	call(t, f, bg, 2) // decorated before: still counts every call
	wantStats(t, h, cachier.Stats{Hits: 1, Misses: 2, Recalculations: 2})
}

// TestMetricsSampling: rate 0 counts nothing, rate 0.25 about a quarter of
// the calls, each whole (a counted miss with its recalculation).
func TestMetricsSampling(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	e := &env{t: t, b: backend{tag: "backend=memory"}, ns: uniq()}
	var c counter
	f := countingFunc(&c)
	h0 := e.decorate(&f, "enable_metrics,metrics_sampling_rate=0")
	for i := range 100 {
		call(t, f, bg, i)
	}
	if s := h0.Stats(); s != (cachier.Stats{Entries: s.Entries}) {
		t.Errorf("rate 0 counted: %+v", s)
	}

	g := countingFunc(&c)
	h := e.decorate(&g, "enable_metrics,metrics_sampling_rate=0.25")
	const n = 4000
	for i := range n {
		call(t, g, bg, i) // all misses
	}
	s := h.Stats()
	if s.Hits != 0 || s.Recalculations != s.Misses {
		t.Errorf("sampled calls not counted whole: %+v", s)
	}
	// Binomial(4000, 0.25): 6 standard deviations either way.
	if sd := math.Sqrt(n * 0.25 * 0.75); math.Abs(float64(s.Misses)-n*0.25) > 6*sd {
		t.Errorf("%d of %d calls counted at rate 0.25", s.Misses, n)
	}
}

func TestMetricsSamplingRateOutOfRange(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	for _, v := range []string{"2", "-0.1", "NaN", "x"} {
		f := func(x int) int { return x }
		err := cachier.Decorate(&f, cachier.Tag("backend=memory,enable_metrics,name=rate-"+uniq()+",metrics_sampling_rate="+v))
		var te *cachier.TagError
		if !errors.As(err, &te) || te.Key != "metrics_sampling_rate" || te.Value != v {
			t.Errorf("metrics_sampling_rate=%s: %v, want a TagError naming the key and value", v, err)
		}
	}
	if err := defaults.Set("metrics_sampling_rate=1.5"); err == nil {
		t.Error("defaults.Set(metrics_sampling_rate=1.5) accepted")
	}
}

// TestMetricsStoreErrors: with the real Redis behind a proxy that stops, a
// call cannot read the store: it counts the failed operation, and is a miss
// (the function computes) rather than a hit.
func TestMetricsStoreErrors(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	probe := redis.NewClient(&redis.Options{Addr: addr})
	err := probe.Ping(bg).Err()
	probe.Close()
	if err != nil {
		testenv.Unavailable(t, "redis", addr, err)
	}
	proxy := testenv.StartProxy(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	prefix := "cachiertest:metrics:" + uniq() + ":"
	t.Cleanup(func() { expireRedisPrefix(t, redis.NewClient(&redis.Options{Addr: addr}), prefix) })
	st := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix), redisstore.WithTimeout(2*time.Second))
	logs := testenv.CaptureLogs(t) // the outage warning, kept out of the test output

	var c counter
	f := countingFunc(&c)
	if err := cachier.Decorate(&f, cachier.Tag("backend=redis,enable_metrics,name=metrics-store-errors-"+uniq()), cachier.WithStore("redis", st)); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	call(t, f, bg, 1)
	call(t, f, bg, 1)
	wantStats(t, h, cachier.Stats{Hits: 1, Misses: 1, Recalculations: 1})

	proxy.Stop()
	call(t, f, bg, 1)
	e := &env{t: t}
	e.wantCalls(&c, 2)
	s := h.Stats()
	if s.StoreErrors < 1 || s.Hits != 1 || s.Misses != 2 || s.Recalculations != 2 {
		t.Fatalf("after a call with the store down: %+v; want StoreErrors >= 1, Hits 1, Misses 2, Recalculations 2", s)
	}
	t.Logf("store errors: %d; log:\n%s", s.StoreErrors, logs.String())
}
