// Package otel publishes cachier's per-function metrics (enable_metrics)
// as OpenTelemetry instruments.
//
//	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
//	if err := cachierotel.Register(provider); err != nil { … }
//
// Register publishes, for every live decorated function with metrics on,
// data points carrying the attribute cachier.function (its identity,
// cachier.Handle.Name):
//
//	cachier.cache.hits             counter
//	cachier.cache.misses           counter (stale hits included, as in cachier)
//	cachier.stale_hits             counter
//	cachier.recalculations         counter
//	cachier.waits                  counter
//	cachier.wait_timeouts          counter
//	cachier.size_limit_rejections  counter
//	cachier.uncacheable            counter
//	cachier.store_errors           counter
//	cachier.entry_count            gauge (memory and file stores; 0 elsewhere)
//	cachier.cache.size             gauge, bytes (file store, memory under max_size; 0 elsewhere)
//	cachier.call.duration          histogram, seconds, of the calls through the cache
//
// The counters and gauges are observed at each collection from the
// functions' own figures (cachier.Handle.Metrics), so they count from
// decoration or the last ResetStats, which reads as a counter reset. The
// histogram is fed as calls are timed, from Register on: OpenTelemetry has
// no asynchronous histogram. Like the functions' own latency figures, it
// holds every call of slow functions and, for fast ones, one call in 16
// recorded 16 times (see package github.com/cachier-go/cachier/metrics).
//
// This package is its own Go module, so that a program that does not
// import it compiles no OpenTelemetry code.
package otel

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/metrics"
)

// ScopeName is the instrumentation scope of the instruments.
const ScopeName = "github.com/cachier-go/cachier/metrics/otel"

// FunctionKey is the attribute naming a data point's function.
const FunctionKey = attribute.Key("cachier.function")

// Register creates the instruments on a Meter of mp and publishes every
// decorated function's figures through them. Call it once per
// MeterProvider.
func Register(mp metric.MeterProvider) error {
	if mp == nil {
		return errors.New("cachier: otel.Register: nil MeterProvider")
	}
	meter := mp.Meter(ScopeName)
	r := &registration{}
	var errs []error
	counter := func(name, desc string, value func(*metrics.Snapshot) int64) {
		c, err := meter.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit("{call}"))
		errs = append(errs, err)
		r.obs = append(r.obs, observed{c, value})
	}
	gauge := func(name, desc, unit string, value func(*metrics.Snapshot) int64) {
		g, err := meter.Int64ObservableGauge(name, metric.WithDescription(desc), metric.WithUnit(unit))
		errs = append(errs, err)
		r.obs = append(r.obs, observed{g, value})
	}
	counter("cachier.cache.hits", "Calls served a fresh entry.", func(s *metrics.Snapshot) int64 { return s.Hits })
	counter("cachier.cache.misses", "Calls not served a fresh entry (stale hits and overwrites included).", func(s *metrics.Snapshot) int64 { return s.Misses })
	counter("cachier.stale_hits", "Calls that found a stale entry (also misses).", func(s *metrics.Snapshot) int64 { return s.StaleHits })
	counter("cachier.recalculations", "Calculations of the function: foreground, overwrite and background refresh.", func(s *metrics.Snapshot) int64 { return s.Recalculations })
	counter("cachier.waits", "Calls that waited for another caller's calculation and got its result.", func(s *metrics.Snapshot) int64 { return s.Waits })
	counter("cachier.wait_timeouts", "Calls that gave up waiting for another caller's calculation.", func(s *metrics.Snapshot) int64 { return s.WaitTimeouts })
	counter("cachier.size_limit_rejections", "Results not stored for being larger than entry_size_limit.", func(s *metrics.Snapshot) int64 { return s.SizeLimitRejections })
	counter("cachier.uncacheable", "Calls whose arguments could not be keyed or whose result could not be encoded.", func(s *metrics.Snapshot) int64 { return s.Uncacheable })
	counter("cachier.store_errors", "Failed store operations.", func(s *metrics.Snapshot) int64 { return s.StoreErrors })
	gauge("cachier.entry_count", "Entries the function's store holds, where it can tell cheaply; else 0.", "{entry}", func(s *metrics.Snapshot) int64 { return s.Entries })
	gauge("cachier.cache.size", "Bytes of the function's encoded entries, where the store can tell cheaply; else 0.", "By", func(s *metrics.Snapshot) int64 { return s.SizeBytes })
	hist, err := meter.Float64Histogram("cachier.call.duration",
		metric.WithDescription("Latency of the calls that went through the cache (hits and misses)."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(bounds...))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	insts := make([]metric.Observable, len(r.obs))
	for i, o := range r.obs {
		insts[i] = o.inst
	}
	if _, err := meter.RegisterCallback(r.observe, insts...); err != nil {
		return err
	}
	metrics.AddObserver(&latencies{hist: hist})
	return nil
}

// bounds are the histogram's bucket bounds in seconds: every fourth power
// of two of the nanoseconds from 2^6 (64ns) to 2^36 (about 68.7s).
var bounds = func() []float64 {
	var b []float64
	for i := 0; i < metrics.NumBuckets-1; i += 8 {
		b = append(b, metrics.BucketUpper(i).Seconds())
	}
	return b
}()

type observed struct {
	inst  metric.Int64Observable
	value func(*metrics.Snapshot) int64
}

type registration struct {
	obs []observed
}

// attrs caches one attribute option per identity.
var attrs sync.Map // string -> metric.MeasurementOption

func attrOf(name string) metric.MeasurementOption {
	if o, ok := attrs.Load(name); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := attrs.LoadOrStore(name, metric.WithAttributeSet(attribute.NewSet(FunctionKey.String(name))))
	return o.(metric.MeasurementOption)
}

// observe is the collection callback: one snapshot of every function with
// metrics on, those sharing an identity added together.
func (r *registration) observe(_ context.Context, o metric.Observer) error {
	var snaps []metrics.Snapshot
	var names []string
	at := map[string]int{}
	for _, h := range cachier.Handles() {
		s, ok := h.Metrics()
		if !ok {
			continue
		}
		name := h.Name()
		if i, dup := at[name]; dup {
			snaps[i].Add(s)
			continue
		}
		at[name] = len(snaps)
		snaps = append(snaps, s)
		names = append(names, name)
	}
	for i := range snaps {
		opt := attrOf(names[i])
		for _, ob := range r.obs {
			o.ObserveInt64(ob.inst, ob.value(&snaps[i]), opt)
		}
	}
	return nil
}

// latencies feeds the histogram with each timed call.
type latencies struct {
	hist metric.Float64Histogram
}

func (l *latencies) ObserveLatency(m *metrics.Func, d time.Duration, weight uint64) {
	opt := attrOf(m.Name())
	for range weight {
		l.hist.Record(context.Background(), d.Seconds(), opt)
	}
}
