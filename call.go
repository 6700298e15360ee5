package cachier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/metrics"
	reflectx "github.com/cachier-go/cachier/reflect"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

// fn is one decorated function: what Decorate decided, and the state its
// calls share.
type fn struct {
	field string // "Service.Fetch", for messages
	name  string // the cache identity
	sig   *reflectx.Signature
	orig  reflect.Value

	keyer    *hashing.Keyer // the default key; nil when hash is set
	hash     hashing.Func   // a custom key function
	st       store.Store
	vs       store.ValueStore      // st, when it keeps Go values
	svs      store.SizedValueStore // vs, when it counts sizes for max_size
	bounded  bool                  // max_entries or max_size reach st (bounds.go)
	metrics  *metrics.Func         // nil unless enable_metrics (stats.go)
	plan     *codec.Plan           // results <-> entries (codec.go)
	results  reflect.Type          // a hit's results in one allocation (codec.go)
	planErr  error                 // why plan is nil: a memory function's result type the codec cannot keep
	cacheDir string
	explicit bool          // name= gave the identity, so sharing it is deliberate
	mem      memstore.Func // st's part for this function, when st is a memory store
	// borrowGet: st is the file store, whose Get keeps no reference to
	// the key, so that a hit may look up a borrowed key (keys.go).
	borrowGet bool

	p   defaults.Params // resolved at decoration
	own ownMask         // per-call keys the function's own configuration set

	mu      sync.Mutex
	flights map[string]*flight // calculations under way in this process

	lastCleanup atomic.Int64 // unix nanoseconds of the last cleanup start
	br          breaker      // skips a failing store for a growing window
	logged      sync.Map     // reasons already logged once
}

// ownMask records which per-call keys a function's own configuration set.
type ownMask uint8

const (
	ownStaleAfter ownMask = 1 << iota
	ownNextTime
	ownWaitTimeout
	ownAllowNone
	ownCleanupStale
	ownCleanupInterval
)

var perCallKeys = map[string]ownMask{
	"stale_after":           ownStaleAfter,
	"next_time":             ownNextTime,
	"wait_for_calc_timeout": ownWaitTimeout,
	"allow_none":            ownAllowNone,
	"cleanup_stale":         ownCleanupStale,
	"cleanup_interval":      ownCleanupInterval,
}

// params are the per-call parameters in force for one call.
type params struct {
	staleAfter      time.Duration // 0: never
	nextTime        bool
	waitTimeout     time.Duration // 0: no limit
	allowNone       bool
	cleanupStale    bool
	cleanupInterval time.Duration
}

const allOwn = ownStaleAfter | ownNextTime | ownWaitTimeout | ownAllowNone | ownCleanupStale | ownCleanupInterval

func (f *fn) params() params {
	p := &f.p // read in place: Params is large, and this runs at every call
	c := params{p.StaleAfter, p.NextTime, p.WaitForCalcTimeout, p.AllowNone, p.CleanupStale, p.CleanupInterval}
	if f.own != allOwn {
		g := defaults.GetCallParams()
		pick := func(bit ownMask) bool { return f.own&bit == 0 }
		if pick(ownStaleAfter) {
			c.staleAfter = g.StaleAfter
		}
		if pick(ownNextTime) {
			c.nextTime = g.NextTime
		}
		if pick(ownWaitTimeout) {
			c.waitTimeout = g.WaitForCalcTimeout
		}
		if pick(ownAllowNone) {
			c.allowNone = g.AllowNone
		}
		if pick(ownCleanupStale) {
			c.cleanupStale = g.CleanupStale
		}
		if pick(ownCleanupInterval) {
			c.cleanupInterval = g.CleanupInterval
		}
	}
	return c
}

// call is the body of every wrapper: SPEC §5.
func (f *fn) call(args []reflect.Value) []reflect.Value {
	var ctx context.Context
	if f.sig.Ctx >= 0 {
		ctx, _ = args[f.sig.Ctx].Interface().(context.Context)
	}
	o := optsFrom(ctx)
	if ctx == nil {
		ctx = context.Background()
	}
	if !defaults.CachingEnabled() || o != nil && o.skip {
		if o != nil && o.verbose {
			f.verbose(ctx, "", "caching off for this call: calling the function")
		}
		return f.callOrig(args)
	}
	c := &callState{f: f, ctx: ctx, o: o, args: args, p: f.params()}
	if m := f.metrics; m != nil { // stats.go
		if mc, ok := m.Begin(); ok {
			c.mc = mc
			defer func() { m.End(c.outcome, c.mc) }()
		}
	}
	key, scratch, err := f.borrowKey(args, o) // keys.go
	if scratch != nil {
		defer scratch.Release()
	}
	if err != nil {
		c.count(metrics.Uncacheable)
		f.logOnce("key", "cachier: cannot compute the key; calling the function uncached", err)
		c.say("no key: calling the function uncached", "error", err)
		return f.callOrig(args)
	}
	c.key, c.borrowed = key, scratch != nil
	f.maybeCleanup(c) // under the function's stale_after, not this call's
	if o != nil {
		o.applyTo(&c.p)
	}
	if o != nil && o.overwrite {
		c.say("overwrite: computing without reading the cache")
		c.outcome = metrics.Miss
		out, _, _ := c.compute()
		return out
	}
	return c.run()
}

// callState is one call on its way through the algorithm.
type callState struct {
	f    *fn
	ctx  context.Context
	o    *callOpts
	args []reflect.Value
	p    params
	key  string

	borrowed bool // key lives in a pooled buffer until ownKey (keys.go)

	entry   []byte  // the encoding of the result this call computed, when it made one to store it
	noStore bool    // the store failed during this call, or is skipped: leave it alone
	probe   bool    // this call probes a store whose circuit is open
	fl      *flight // the flight this call leads, if any

	mc      metrics.Call    // the call's counters, when it is counted (stats.go)
	outcome metrics.Outcome // hit, miss or stale hit, once known
}

func (c *callState) verbose() bool { return c.o != nil && c.o.verbose }

func (c *callState) say(msg string, attrs ...any) {
	if c.verbose() {
		c.f.verbose(c.ctx, c.key, msg, attrs...)
	}
}

func (f *fn) verbose(ctx context.Context, key, msg string, attrs ...any) {
	attrs = append([]any{"func", f.name, "key", key}, attrs...)
	defaults.Logger().InfoContext(ctx, "cachier: "+msg, attrs...)
}

// maxAge is how old an entry may be and still be fresh; ok is false when
// entries never go stale.
func (c *callState) maxAge() (d time.Duration, ok bool) {
	d, ok = c.p.staleAfter, c.p.staleAfter != 0 // negative only per call: stale now
	if c.o != nil && c.o.hasMaxAge && (!ok || c.o.maxAge < d) {
		d, ok = c.o.maxAge, true
	}
	return d, ok
}

func (c *callState) fresh(t time.Time) bool {
	d, ok := c.maxAge()
	if !ok {
		// Entries never go stale, unless stamped in the future (see
		// maxSkew); in-process entries carry this process's clock.
		return c.f.vs != nil || !aheadOfClock(t)
	}
	age := time.Since(t)
	if age < -maxSkew { // stamped in the future: a skewed or hostile writer
		return false
	}
	return !ok || d >= 0 && age <= d
}

// applyTo puts the call's own per-call controls over p.
func (o *callOpts) applyTo(p *params) {
	if o.allowNone {
		p.allowNone = true
	}
	if o.hasStaleAfter {
		p.staleAfter = o.staleAfter
		if o.staleAfter < 0 { // every entry stale; 0 means never, as in the tag
			p.staleAfter = -1
		}
	}
	if o.hasNextTime {
		p.nextTime = o.nextTime
	}
}

// lookup finds the key's entry. found is false on a miss; err is a store
// failure (the call then bypasses the store).
func (c *callState) lookup() (out []reflect.Value, t time.Time, found bool, err error) {
	f := c.f
	if f.vs != nil {
		out, t, ok := f.getValue(c.key)
		if !ok || f.expired(t) {
			return nil, time.Time{}, false, nil
		}
		return out, t, true, nil
	}
	e, err := f.get(c.ctx, c.key)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			f.storeOK()
			return nil, time.Time{}, false, nil
		}
		return nil, time.Time{}, false, err
	}
	f.storeOK()
	if f.expired(e.Time) {
		return nil, time.Time{}, false, nil
	}
	out, err = f.decodeOut(e.Value)
	if err != nil {
		f.logOnce("decode", "cachier: cannot decode a cached entry; recomputing and overwriting it", err)
		c.say("entry undecodable: treated as a miss", "error", err)
		return nil, time.Time{}, false, nil
	}
	return out, e.Time, true, nil
}

func (c *callState) run() []reflect.Value {
	f := c.f
	if f.vs == nil {
		ok, probe := f.br.pass()
		if !ok {
			c.noStore = true
			c.say("store failed recently: skipping it, calling the function uncached")
			c.outcome = metrics.Miss
			return c.shared(time.Time{}) // one calculation for this process's callers
		}
		c.probe = probe
	}
	out, t, found, err := c.lookup()
	if err != nil {
		c.storeFailed("get", err)
		c.say("store failed: calling the function uncached", "error", err)
		c.outcome = metrics.Miss
		return c.shared(time.Time{}) // one calculation for this process's callers
	}
	if found && !c.p.allowNone && f.isNone(out) {
		c.say("cached nil ignored: allow_none is off")
		found = false
	}
	if found && c.fresh(t) {
		if c.verbose() { // guarded: boxing the age would cost every hit an allocation
			c.say("found: fresh", "age", time.Since(t))
		}
		c.outcome = metrics.Hit
		return out
	}
	c.ownKey()
	if found {
		c.outcome = metrics.StaleHit
		c.say("found: stale", "age", time.Since(t))
		if c.p.nextTime {
			c.refreshInBackground(t)
			c.say("next_time: returning the stale value")
			return out
		}
	} else {
		c.outcome = metrics.Miss
		c.say("not found")
	}
	return c.shared(t)
}

// cancelled is the result of a wait cut short by the caller's context: the
// context's error where the function returns an error, else the function's
// own result.
func (c *callState) cancelled(err error) []reflect.Value {
	c.outcome = metrics.None // neither served by the cache nor computed for it
	sig := c.f.sig
	if sig.Err < 0 {
		c.say("context ended while waiting: calling the function")
		return c.f.callOrig(c.args)
	}
	c.say("context ended while waiting", "error", err)
	out := make([]reflect.Value, sig.Type.NumOut())
	for i := range out {
		out[i] = reflect.Zero(sig.Type.Out(i))
	}
	out[sig.Err] = reflect.ValueOf(&err).Elem()
	return out
}

// computeMarked computes the key under the store's being-calculated mark,
// so that other processes wait for it.
func (c *callState) computeMarked(staleTime time.Time) []reflect.Value {
	f := c.f
	if f.vs != nil { // in-process store: the flight is the mark
		out, _, _ := c.compute()
		return out
	}
	if !c.storeUp() { // failing: compute, leave the store alone
		c.count(metrics.Recalculation)
		return f.callOrig(c.args)
	}
	owner := newOwner()
	acquired, err := f.mark(c.ctx, c.key, owner)
	if err != nil {
		c.storeFailed("mark", err)
		c.say("store failed: calling the function uncached", "error", err)
		c.count(metrics.Recalculation)
		return f.callOrig(c.args)
	}
	waited := !acquired
	if waited {
		out, got, done := c.waitOther(owner, staleTime)
		if done {
			return out
		}
		acquired = got
	}
	stored := false
	if acquired {
		// Another process may have stored the key between our lookup and
		// our mark (or, when we waited for its mark, between our last look
		// and the mark it released by storing): look again before
		// computing.
		if out, ok := c.newerEntry(staleTime); ok {
			_ = f.unmark(c.ctx, c.key, owner)
			c.say("stored by another process meanwhile")
			if waited {
				c.waited() // the result we waited for, found a step late
			}
			return out
		}
		stop := f.heartbeat(c.key, owner, c.released())
		defer func() {
			stop()
			if !stored && c.storeUp() { // failed, panicking or not stored: let others compute
				_ = f.unmark(context.WithoutCancel(c.ctx), c.key, owner)
			}
		}()
	}
	out, _, stored := c.compute()
	return out
}

// waitOther waits for another process's calculation of the key: it polls
// the entry and retries the mark, with backoff, until the entry is newer
// than staleTime (done), the mark is ours (acquired), wait_for_calc_timeout
// passes or the context ends.
func (c *callState) waitOther(owner string, staleTime time.Time) (out []reflect.Value, acquired, done bool) {
	f := c.f
	c.say("being calculated by another process: waiting")
	start := time.Now()
	delay := 5 * time.Millisecond // the polling pace, growing to 250ms
	w, _ := f.st.(store.Waiter)
	for {
		if !c.storeUp() { // the store failed meanwhile: stop waiting on it
			return nil, false, false
		}
		began := time.Now()
		if w != nil {
			// A Waiter returns when something may have changed: give it a
			// long window (one subscription, one watch), within the
			// caller's limits.
			window := waiterWindow
			if c.p.waitTimeout > 0 {
				window = min(window, max(c.p.waitTimeout-time.Since(start), time.Millisecond))
			}
			wctx, cancel := context.WithTimeout(c.ctx, window)
			err := f.wait(wctx, w, c.key)
			cancel()
			if err != nil && c.ctx.Err() == nil && wctx.Err() == nil {
				c.storeFailed("wait", err)
			}
		}
		// Never check faster than the polling pace: a Waiter that returns at
		// once (a failing one, a spurious wake-up) must not make a busy loop.
		if rest := delay - time.Since(began); rest > 0 {
			t := time.NewTimer(rest)
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
			t.Stop()
		}
		if err := c.ctx.Err(); err != nil {
			return c.cancelled(err), false, true
		}
		if out, ok := c.newerEntry(staleTime); ok {
			c.say("waited: got the other process's result", "waited", time.Since(start))
			c.waited()
			return out, false, true
		}
		got, err := f.mark(c.ctx, c.key, owner)
		if err == nil && got {
			c.say("the other process finished without a result, or died: computing")
			return nil, true, false
		}
		if err != nil {
			c.storeFailed("mark", err)
			return nil, false, false
		}
		if c.p.waitTimeout > 0 && time.Since(start) >= c.p.waitTimeout {
			c.say("waited longer than wait_for_calc_timeout: computing", "timeout", c.p.waitTimeout)
			c.count(metrics.WaitTimeout)
			return nil, false, false
		}
		delay = min(delay*3/2, 250*time.Millisecond)
	}
}

// newerEntry returns the key's entry if it is usable and newer than
// staleTime (the time of the stale entry the call found; zero on a miss).
func (c *callState) newerEntry(staleTime time.Time) ([]reflect.Value, bool) {
	f := c.f
	if !c.storeUp() {
		return nil, false
	}
	e, err := f.get(c.ctx, c.key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.storeFailed("get", err)
	}
	if err != nil || !replaced(e.Time, staleTime) || f.expired(e.Time) {
		return nil, false
	}
	out, err := f.decodeOut(e.Value)
	if err != nil || !c.p.allowNone && f.isNone(out) {
		return nil, false
	}
	return out, true
}

// waiterWindow is how long one store.Waiter.Wait may last.
const waiterWindow = 5 * time.Second

// heartbeat renews the key's mark every MarkTTL/3 until stop is called, so
// that a long calculation keeps its mark and a dead process loses it. It
// also stops when released closes (ClearBeingCalculated released the
// calculation's flight), so that a mark cleared by ClearBeingCalculated is
// not taken again by a calculation that may hang.
func (f *fn) heartbeat(key, owner string, released <-chan struct{}) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.p.MarkTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-released:
				return
			case <-t.C:
				if !f.br.open.Load() { // a failing store is left alone
					_, _ = f.mark(context.Background(), key, owner)
				}
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}

// compute calls the function and stores a successful result. ok reports
// that the function succeeded, stored that its result was written (which
// also cleared the key's mark).
func (c *callState) compute() (out []reflect.Value, ok, stored bool) {
	f := c.f
	c.count(metrics.Recalculation)
	out = f.callOrig(c.args)
	if !f.succeeded(out) {
		c.say("function returned an error: not stored", "error", out[f.sig.Err].Interface())
		return out, false, false
	}
	if !c.p.allowNone && f.isNone(out) {
		c.say("nil result: not stored (allow_none is off)")
		return out, true, false
	}
	return out, true, c.store(out)
}

// store keeps out as the key's result, unless it is too large or cannot
// be encoded, and reports whether it did; failures are logged, never
// returned.
func (c *callState) store(out []reflect.Value) bool {
	f := c.f
	limit := int64(f.p.EntrySizeLimit)
	var b []byte
	if f.vs == nil || limit > 0 || f.svs != nil { // the memory store encodes only to measure
		var err error
		if b, err = f.encode(f.values(out)); err != nil {
			c.count(metrics.Uncacheable)
			f.logOnce("encode", "cachier: cannot encode a result; returned but not cached", err)
			c.say("result cannot be encoded: not stored", "error", err)
			return false
		}
		if f.vs == nil {
			c.entry = b // for the waiters of the call's flight (flight.go)
		}
		if limit > 0 && int64(len(b)) > limit {
			c.count(metrics.SizeLimitRejection)
			c.say("result larger than entry_size_limit: not stored", "size", len(b), "limit", limit)
			return false
		}
	}
	if f.vs != nil {
		if !f.setValue(c.key, out, b) {
			c.say("not stored: larger than max_size by itself, or the store failed", "size", len(b))
			return false
		}
		c.say("stored")
		return true
	}
	if !c.storeUp() {
		c.say("store failing: result not stored")
		return false
	}
	if err := f.set(context.WithoutCancel(c.ctx), c.key, f.entry(b)); err != nil {
		c.storeFailed("set", err)
		c.say("store failed: result not stored", "error", err)
		return false
	}
	f.storeOK()
	c.say("stored", "size", len(b))
	return true
}

// maybeCleanup starts a background deletion of stale entries when
// cleanup_stale is on and cleanup_interval has passed since the last one.
func (f *fn) maybeCleanup(c *callState) {
	cutoff, due := f.cleanupCutoff(c.p) // expire.go
	if !due || f.br.open.Load() {
		return
	}
	now := time.Now().UnixNano()
	last := f.lastCleanup.Load()
	if last != 0 && now-last < int64(c.p.cleanupInterval) || !f.lastCleanup.CompareAndSwap(last, now) {
		return
	}
	ctx := context.WithoutCancel(c.ctx)
	mc := c.mc // not c: capturing it would move every call's state to the heap
	if !background.try(func() {
		if err := f.deleteStale(ctx, cutoff); err != nil {
			mc.Add(metrics.StoreError)
			f.storeFailed("delete stale", err, false)
		}
	}) {
		f.lastCleanup.CompareAndSwap(now, last) // try again on a later call
	}
}

// key computes the call's key from its key arguments.
func (f *fn) key(args []reflect.Value) (string, error) {
	if f.hash == nil {
		if f.vs != nil { // keys that never leave the process: no digest
			return f.keyer.ValueKeyFrom(args, f.sig.KeyArgs)
		}
		return f.keyer.KeyFrom(args, f.sig.KeyArgs)
	}
	boxed := make([]any, len(f.sig.KeyArgs))
	for i, j := range f.sig.KeyArgs {
		boxed[i] = args[j].Interface()
	}
	return f.customKey(boxed)
}

// customKey calls the custom key function f.hash. It is the user's code:
// a panic in it is an error, which makes the call uncached (or fails
// Precache and Forget), as an error it returned would. A store of bytes
// takes keys of lowercase hex digits (store.Store): any other key becomes
// the hex SHA-256 digest of itself there, so that a key too long for a
// database column, or with bytes a database refuses, is not a store
// failure for every call of the function.
func (f *fn) customKey(args []any) (k string, err error) {
	defer func() {
		if r := recover(); r != nil {
			k, err = "", fmt.Errorf("hash_func panicked: %v", r)
		}
	}()
	k, err = f.hash(args)
	if err == nil && k == "" {
		err = errors.New("hash_func returned an empty key")
	}
	if err == nil && f.vs == nil && !isStoreKey(k) {
		sum := sha256.Sum256([]byte(k))
		k = hex.EncodeToString(sum[:])
	}
	return k, err
}

// isStoreKey reports whether k is a key as the default key function makes
// them for a store of bytes: 32 to 128 lowercase hex digits.
func isStoreKey(k string) bool {
	if len(k) < 32 || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// callOrig calls the original function with args as the wrapper received
// them: a variadic function gets its variadic arguments spread again
// (reflect hands the wrapper them as one slice). Every path that calls the
// function goes through it.
func (f *fn) callOrig(args []reflect.Value) []reflect.Value {
	if f.sig.Type.IsVariadic() {
		return f.orig.CallSlice(args)
	}
	return f.orig.Call(args)
}

// succeeded reports whether out is a success: no error result, or a nil one.
func (f *fn) succeeded(out []reflect.Value) bool {
	return f.sig.Err < 0 || out[f.sig.Err].IsNil()
}

// values returns the cached part of out: every result but the error.
func (f *fn) values(out []reflect.Value) []reflect.Value {
	if f.sig.Err < 0 {
		return out
	}
	vals := make([]reflect.Value, 0, len(f.sig.Values))
	for _, i := range f.sig.Values {
		vals = append(vals, out[i])
	}
	return vals
}

// decodeOut decodes an entry into a full result list, error slot nil.
func (f *fn) decodeOut(b []byte) ([]reflect.Value, error) {
	n := len(f.sig.Values)
	if f.sig.Err < 0 || f.sig.Err == n { // (values...) or (values..., error)
		out := f.newResults()
		if err := f.plan.DecodeTo(b, out[:n]); err != nil {
			return nil, err
		}
		if f.sig.Err == n {
			out[n] = nilError
		}
		return out, nil
	}
	vals, err := f.plan.Decode(b) // the error comes before a value
	if err != nil {
		return nil, err
	}
	out := make([]reflect.Value, n+1)
	for i, j := range f.sig.Values {
		out[j] = vals[i]
	}
	out[f.sig.Err] = nilError
	return out, nil
}

// nilError is the nil error result of a hit.
var nilError = reflect.Zero(reflectx.ErrorType())

// isNone reports whether a result is "None": every cached result is nil.
// A function without results besides an optional error returns None
// whenever it succeeds (as a Python function without a return value); one
// with a result that cannot be nil never does.
func (f *fn) isNone(out []reflect.Value) bool {
	for _, i := range f.sig.Values {
		if !isNil(out[i]) {
			return false
		}
	}
	return true
}

// isNil is v.IsNil for a value of a kind that can be nil, else false (a
// result of a type that cannot be nil is never None). It asks the value's
// kind, not its declared type: a codec may give an interface result as a
// value of its concrete type.
func isNil(v reflect.Value) bool { return reflectx.NilableKind(v.Kind()) && v.IsNil() }

// logOnce logs err under msg the first time reason happens for f.
func (f *fn) logOnce(reason, msg string, err error) {
	if _, dup := f.logged.LoadOrStore(reason, true); !dup {
		defaults.Logger().Warn(msg, "func", f.name, "error", err, "note", "logged once per function")
	}
}

var (
	ownerHost, _ = os.Hostname()
	ownerSeq     atomic.Uint64
)

// newOwner names one calculation, uniquely across processes and machines.
func newOwner() string {
	return fmt.Sprintf("%s/%d/%d/%d", ownerHost, os.Getpid(), time.Now().UnixNano(), ownerSeq.Add(1))
}
