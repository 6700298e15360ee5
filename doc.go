// Package cachier memoizes Go functions in persistent, stale-aware stores:
// a slow call (an API, a query, a computation) is computed once and reused
// across calls, restarts, processes and machines. It is a Go port of the
// Python library cachier.
//
// # Tags
//
// A service declares func-typed fields with a cachier tag and decorates
// them once, at start-up:
//
//	type Service struct {
//		Fetch func(ctx context.Context, url string) ([]byte, error) `cachier:"stale_after=72h"`
//		Sum   func(a, b int) int                                     `cachier:"backend=memory"`
//		Plain func(x int) int                                         // no tag: left alone
//	}
//
//	svc := Service{Fetch: fetch, Sum: sum, Plain: plain}
//	if err := cachier.Decorate(&svc); err != nil { … }
//
// `cachier:""` takes every default; `cachier:"-"` leaves the field alone.
// A tag is comma-separated key=value pairs, a bare key meaning key=true; the
// keys are those of package defaults (backend, stale_after, next_time,
// wait_for_calc_timeout, allow_none, cache_dir, reload, separate_files,
// entry_size_limit, cleanup_stale, cleanup_interval, hash_func, key_prefix,
// name, version, mark_ttl). Unknown keys and malformed values are errors
// from Decorate, as a *TagError naming the field, key and value.
//
// # Keys
//
// The key of a call is a structural hash of its arguments (package
// hashing): equal values give equal keys in any process on any machine. A
// context.Context argument never takes part in the key, nor does a first
// argument of the decorated struct's type (a receiver).
//
// # A call
//
// A fresh entry is returned without calling the function. A missing or
// stale one is computed once, however many callers ask at the same time, in
// this process or in others sharing the store; with next_time a stale value
// is returned at once and refreshed in the background (one refresh per
// stale period; a panic in it is recovered and logged; WaitBackground waits
// for refreshes under way to write their entries). Results are stored
// only when the function succeeds (a non-nil error as its last result is
// returned and never cached), and a nil result only with allow_none; a
// function with no result besides an optional error returns "None" when it
// succeeds, so it is cached only with allow_none. A variadic function is
// called as it was called.
//
// Callers that wait for another caller's calculation in this process get
// its results, its error included (as with singleflight); if it panics,
// the panic goes to the caller that ran it and each waiter calls the
// function itself. Handle.ClearBeingCalculated releases them too. With a
// store that keeps bytes (every backend but memory), each caller gets
// results of its own, decoded from their encoding as a hit's are, so that
// no two callers hold results that share memory; the memory backend hands
// every caller the same Go values.
//
// A failing store never fails a call: the function is called and its
// result returned. After a failure, the function leaves its store alone for
// a window of a second, doubling up to a minute while probes keep failing,
// so that a hung store costs one timeout per window, not one per call.
//
// Per-call controls travel in the context that is the function's first
// argument: WithMaxAge, WithStaleAfter, WithNextTime, WithSkipCache,
// WithOverwriteCache, WithAllowNone and WithVerbose. Of returns the Handle
// that clears, pre-fills and inspects one function's cache.
//
// # Stores
//
// memory and file (the default) are built in. SQL (store/sqlstore), Redis
// (store/redisstore) and MongoDB (store/mongostore) stores live in their own
// packages, so a program that does not import them compiles none of their
// drivers; register one with defaults.Register or pass it with WithStore.
//
// # Results
//
// The memory store keeps results as Go values. Every other store keeps
// bytes made by a codec (package codec), compiled once per function at
// Decorate: by default the library's own, which round-trips results exactly
// (unexported fields, nil versus empty, pointers to zero values, time.Time
// with its location), decodes within bounds whatever bytes a store hands
// back, and refuses at Decorate, as a *TagError on key codec, a result type
// holding a func or a channel. codec=gob and codec=json are there for older
// entries and for other programs; compress=s2 or zstd compresses results of
// 1 KiB or more. Concrete types inside interface results are registered
// with codec.Register, as with gob. An entry that cannot be decoded (another
// codec's, a damaged one) is a miss: the function computes and overwrites
// it.
//
// # Metrics and logs
//
// With enable_metrics a function counts its calls, lock-free: Handle.Stats
// returns hits, misses, stale hits, recalculations, waits, wait timeouts,
// size-limit rejections, uncacheable calls, store errors, entries and
// latency (see Stats for the counting rules). The exporters are modules of
// their own: metrics/prometheus (a prometheus.Collector) and metrics/otel
// (OpenTelemetry instruments). Every message the library writes goes to
// the logger given to defaults.SetLogger.
package cachier
