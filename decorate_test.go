package cachier_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

var ctx = context.Background()

// reset restores the global defaults for the test, and again at its end,
// after the background tasks the test started (next_time refreshes,
// cleanups) have ended: one still running would hold a worker of the
// process-wide pool that the next test's refresh needs, or write into the
// test's t.TempDir while it is removed.
func reset(t *testing.T) {
	defaults.Reset()
	t.Cleanup(func() {
		wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cachier.WaitBackground(wctx); err != nil {
			t.Errorf("background tasks still running at the end of the test: %v", err)
		}
		defaults.Reset()
	})
}

func TestDecorateErrors(t *testing.T) {
	reset(t)
	type badKey struct {
		F func(int) int `cachier:"stale_afer=72h"`
	}
	type badValue struct {
		F func(int) int `cachier:"stale_after=soon"`
	}
	type badBackend struct {
		F func(int) int `cachier:"backend=nosuch"`
	}
	type unhashable struct {
		F func(func()) int `cachier:"backend=memory"`
	}
	type fileOnly struct {
		F func(int) int `cachier:"backend=memory,separate_files"`
	}
	type nilFunc struct {
		F func(int) int `cachier:""`
	}
	type badHash struct {
		F func(int) int `cachier:"backend=memory,hash_func=nosuch"`
	}
	id := func(x int) int { return x }
	for _, tc := range []struct {
		target            any
		field, key, value string
		msg               string
	}{
		{&badKey{F: id}, "badKey.F", "stale_afer", "72h", `did you mean "stale_after"`},
		{&badValue{F: id}, "badValue.F", "stale_after", "soon", "invalid duration"},
		{&badBackend{F: id}, "badBackend.F", "backend", "nosuch", "forgotten defaults.Register"},
		{&unhashable{F: func(func()) int { return 0 }}, "unhashable.F", "", "", "cannot be hashed"},
		{&fileOnly{F: id}, "fileOnly.F", "separate_files", "true", "only the file backend"},
		{&nilFunc{}, "nilFunc.F", "", "", "func is nil"},
		{&badHash{F: id}, "badHash.F", "hash_func", "nosuch", "unknown key function"},
	} {
		err := cachier.Decorate(tc.target)
		var te *cachier.TagError
		if !errors.As(err, &te) {
			t.Errorf("%T: error %v, want a *TagError", tc.target, err)
			continue
		}
		if te.Field != tc.field || te.Key != tc.key || tc.value != "" && te.Value != tc.value ||
			!strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%T: %#v (%v); want field %q key %q value %q, message with %q",
				tc.target, te, err, tc.field, tc.key, tc.value, tc.msg)
		}
	}
	// The key is named even when the value is the fault.
	type v struct {
		F func(int) int `cachier:"entry_size_limit=lots"`
	}
	err := cachier.Decorate(&v{F: id})
	if want := `cachier: v.F: entry_size_limit="lots": `; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want prefix %q", err, want)
	}

	// Targets of the wrong shape.
	var n int
	var nilPtr *struct{}
	for _, target := range []any{nil, 5, &n, nilPtr, struct{}{}} {
		if err := cachier.Decorate(target); err == nil {
			t.Errorf("Decorate(%#v) succeeded", target)
		}
	}
	f := id
	if err := cachier.Decorate(&f, cachier.Tag("bogus")); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("Decorate with a bad Tag: %v", err)
	}
}

func TestDecorateLeavesOthersAlone(t *testing.T) {
	reset(t)
	type svc struct {
		Tagged   func(int) int `cachier:"backend=memory"`
		Untagged func(int) int
		Skipped  func(int) int `cachier:"-"`
		NotFunc  int
		private  func(int) int
	}
	var calls atomic.Int64
	count := func(x int) int { calls.Add(1); return x }
	s := svc{Tagged: count, Untagged: count, Skipped: count, NotFunc: 3, private: count}
	if err := cachier.Decorate(&s, runTag("")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s.Tagged(1)
		s.Untagged(1)
		s.Skipped(1)
		s.private(1)
	}
	if got := calls.Load(); got != 7 { // only Tagged's second call was cached
		t.Fatalf("%d calls, want 7", got)
	}
	for _, p := range []any{&s.Untagged, &s.Skipped, &s.private} {
		if _, err := cachier.Of(p); err == nil {
			t.Errorf("Of(%T) found a handle for an undecorated field", p)
		}
	}
	// Nothing is half-done: a bad field leaves every field as it was.
	type mixed struct {
		Good func(int) int `cachier:"backend=memory"`
		Bad  func(int) int `cachier:"nope"`
	}
	m := mixed{Good: count, Bad: count}
	if cachier.Decorate(&m) == nil {
		t.Fatal("want an error")
	}
	if _, err := cachier.Of(&m.Good); err == nil {
		t.Error("a failed Decorate replaced a field")
	}
	if err := cachier.Decorate(&s); err == nil || !strings.Contains(err.Error(), "already decorated") {
		t.Errorf("decorating twice: %v", err)
	}
}

type Repo struct {
	calls atomic.Int64
	Find  func(r *Repo, ctx context.Context, id int) (string, error) `cachier:"backend=memory"`
}

func TestReceiverNotInKey(t *testing.T) {
	reset(t)
	var r1 Repo
	r1.Find = func(r *Repo, ctx context.Context, id int) (string, error) {
		r.calls.Add(1)
		return fmt.Sprint("row", id), nil
	}
	if err := cachier.Decorate(&r1, runTag("")); err != nil {
		t.Fatal(err)
	}
	r2 := &Repo{} // another receiver: same key
	if v, _ := r1.Find(&r1, ctx, 1); v != "row1" {
		t.Fatal(v)
	}
	if v, _ := r1.Find(r2, ctx, 1); v != "row1" {
		t.Fatal(v)
	}
	if r1.calls.Load() != 1 || r2.calls.Load() != 0 {
		t.Fatalf("calls %d, %d: the receiver took part in the key", r1.calls.Load(), r2.calls.Load())
	}
}

func TestIdentity(t *testing.T) {
	reset(t)
	type svc struct {
		A func(int) int    `cachier:"backend=memory"`
		B func(int64) int  `cachier:"backend=memory"`
		C func(int) int    `cachier:"backend=memory,name=custom,version=3,key_prefix=app"`
		D func(int) string `cachier:"backend=memory"`
	}
	id := func(x int) int { return x }
	s := svc{A: id, B: func(x int64) int { return 0 }, C: id, D: func(int) string { return "" }}
	if err := cachier.Decorate(&s); err != nil {
		t.Fatal(err)
	}
	name := func(p any) string {
		h, err := cachier.Of(p)
		if err != nil {
			t.Fatal(err)
		}
		return h.Name()
	}
	a, b, c, d := name(&s.A), name(&s.B), name(&s.C), name(&s.D)
	if !strings.HasPrefix(a, "github.com/cachier-go/cachier_test.svc.A#") {
		t.Errorf("A's identity %q", a)
	}
	if !strings.HasPrefix(c, "app:custom@3#") {
		t.Errorf("C's identity %q", c)
	}
	fp := func(s string) string { return s[strings.LastIndex(s, "#"):] }
	if fp(a) == fp(b) || fp(a) == fp(d) || fp(a) != fp(c) {
		t.Errorf("fingerprints: A %s B %s C %s D %s; a signature change must change it", fp(a), fp(b), fp(c), fp(d))
	}
	// A copy of the struct has the same handles.
	cp := s
	if name(&cp.A) != a {
		t.Error("Of on a copy found another handle")
	}
	// A func variable is named after its function.
	f := strings.ToUpper
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory")); err != nil {
		t.Fatal(err)
	}
	if n := name(&f); !strings.HasPrefix(n, "strings.ToUpper#") {
		t.Errorf("func variable identity %q", n)
	}
}

// TestPerCallDefaults: per-call keys follow defaults.Set at every call
// unless the function's own tag set them; decoration-time keys do not move.
func TestPerCallDefaults(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	type svc struct {
		Global func(int) int64 `cachier:"backend=memory"`
		Own    func(int) int64 `cachier:"backend=memory,stale_after=1h"`
	}
	count := func(int) int64 { return calls.Add(1) }
	s := svc{Global: count, Own: count}
	if err := cachier.Decorate(&s, runTag("")); err != nil {
		t.Fatal(err)
	}
	s.Global(1)
	s.Own(1)
	time.Sleep(20 * time.Millisecond) // age both entries past the stale_after set next
	if err := defaults.Set("stale_after=10ms,backend=nosuch"); err != nil {
		t.Fatal(err)
	}
	if v := s.Global(1); v != 3 {
		t.Errorf("Global: got %d, want a recomputation under the new global stale_after", v)
	}
	if v := s.Own(1); v != 2 {
		t.Errorf("Own: got %d, want the cached 2 (its tag's stale_after wins)", v)
	}
}

func TestBaseTagAndFieldTag(t *testing.T) {
	reset(t)
	type svc struct {
		F func(int) int `cachier:"stale_after=2h"`
	}
	s := svc{F: func(x int) int { return x }}
	if err := cachier.Decorate(&s, cachier.Tag("backend=memory,stale_after=1h,key_prefix=base")); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&s.F)
	if !strings.HasPrefix(h.Name(), "base:") || h.CacheDir() != "" {
		t.Errorf("name %q dir %q", h.Name(), h.CacheDir())
	}
}

func TestWithStoreAndHashFunc(t *testing.T) {
	reset(t)
	ms := memstore.New()
	var keys []string
	lower := func(args []any) (string, error) {
		k := strings.ToLower(fmt.Sprint(args...))
		keys = append(keys, k)
		return k, nil
	}
	var calls atomic.Int64
	f := func(s string) string { calls.Add(1); return strings.ToLower(s) }
	if err := cachier.Decorate(&f, cachier.Tag("name=test.store,backend=mine"), cachier.WithStore("mine", ms), cachier.WithHashFunc(lower)); err != nil {
		t.Fatal(err)
	}
	f("ABC")
	f("abc")
	if calls.Load() != 1 || len(keys) != 2 || keys[0] != "abc" {
		t.Fatalf("calls %d keys %v: the custom key function was not used", calls.Load(), keys)
	}
	h, _ := cachier.Of(&f)
	if h.Store() != ms {
		t.Error("WithStore's store not used")
	}
	// A func argument is fine with a hash_func.
	g := func(cb func() int, n int) int { return n }
	if err := cachier.Decorate(&g, cachier.Tag("name=test.hashfunc,backend=memory"), cachier.WithHashFunc(func(a []any) (string, error) { return fmt.Sprint(a[1]), nil })); err != nil {
		t.Fatalf("func argument with a hash func: %v", err)
	}
}

func TestVerbose(t *testing.T) {
	reset(t)
	buf := testenv.CaptureLogs(t)
	f := func(ctx context.Context, x int) (*int, error) {
		if x == 0 {
			return nil, nil
		}
		return &x, nil
	}
	if err := cachier.Decorate(&f, cachier.Tag("name=test.verbose,backend=memory,entry_size_limit=1B")); err != nil {
		t.Fatal(err)
	}
	vctx := cachier.WithVerbose(ctx)
	f(vctx, 0)
	f(vctx, 1)
	f(ctx, 2) // not verbose: says nothing
	out := buf.String()
	for _, want := range []string{"not found", "nil result: not stored", "larger than entry_size_limit"} {
		if !strings.Contains(out, want) {
			t.Errorf("verbose log lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "not found") != 2 {
		t.Errorf("a call without WithVerbose logged:\n%s", out)
	}
}

func TestCallTimeFailuresRunUncached(t *testing.T) {
	reset(t)
	buf := testenv.CaptureLogs(t)
	var calls atomic.Int64
	f := func(x any) int { calls.Add(1); return 1 }
	if err := cachier.Decorate(&f, cachier.Tag("name=test.uncached,backend=memory")); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if f(func() {}) != 1 { // a func hidden in an any cannot be hashed
			t.Fatal("wrong result")
		}
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (uncached)", calls.Load())
	}
	if n := strings.Count(buf.String(), "cannot compute the key"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, buf)
	}

	// A result the codec cannot encode (an interface holding a type that
	// was never registered with codec.Register) is returned, not cached.
	type hidden struct{ x int }
	var gcalls atomic.Int64
	g := func(x int) any { gcalls.Add(1); return hidden{x} }
	if err := cachier.Decorate(&g, cachier.Tag("name=test.uncachedfile,backend=file,cache_dir="+t.TempDir())); err != nil {
		t.Fatal(err)
	}
	r1, r2 := g(5), g(5)
	if r1 != (hidden{5}) || r2 != (hidden{5}) || gcalls.Load() != 2 {
		t.Errorf("unencodable result: %d calls, want 2", gcalls.Load())
	}
	if !strings.Contains(buf.String(), "cannot encode a result") {
		t.Errorf("no log of the encoding failure:\n%s", buf)
	}
}

// failing is a store whose every operation fails, as during an outage.
type failing struct{ ops atomic.Int64 }

var errDown = errors.New("store down")

func (f *failing) Get(context.Context, string, string) (store.Entry, error) {
	f.ops.Add(1)
	return store.Entry{}, errDown
}
func (f *failing) Set(context.Context, string, string, store.Entry) error {
	f.ops.Add(1)
	return errDown
}
func (f *failing) Mark(context.Context, string, string, string, time.Duration) (bool, error) {
	f.ops.Add(1)
	return false, errDown
}
func (f *failing) Unmark(context.Context, string, string, string) error { return errDown }
func (f *failing) Clear(context.Context, string) error                  { return errDown }
func (f *failing) ClearMarks(context.Context, string) error             { return errDown }
func (f *failing) Delete(context.Context, string, string) error         { return errDown }
func (f *failing) DeleteStale(context.Context, string, time.Time) error { return errDown }

func TestFailingStoreFailsOpen(t *testing.T) {
	reset(t)
	buf := testenv.CaptureLogs(t)
	st := &failing{}
	var calls atomic.Int64
	f := func(ctx context.Context, x int) (int, error) { calls.Add(1); return x * 2, nil }
	if err := cachier.Decorate(&f, cachier.Tag("name=test.failopen,backend=down"), cachier.WithStore("down", st)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		v, err := f(ctx, i)
		if err != nil || v != i*2 {
			t.Fatalf("f(%d) = %d, %v during an outage", i, v, err)
		}
	}
	if calls.Load() != 5 {
		t.Errorf("%d calls", calls.Load())
	}
	if n := strings.Count(buf.String(), "store failed"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, buf)
	}
}

func TestPanicPropagates(t *testing.T) {
	reset(t)
	f := func(x int) int { panic(fmt.Sprint("boom ", x)) }
	if err := cachier.Decorate(&f, cachier.Tag("name=test.panic,backend=memory")); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != "boom 1" {
			t.Fatalf("recovered %v", r)
		}
	}()
	f(1)
}

func TestMaxWorkersBoundsRefreshes(t *testing.T) {
	if os.Getenv("CACHIER_MAX_WORKERS") != "" {
		t.Skip("assumes the default CACHIER_MAX_WORKERS")
	}
	reset(t)
	// With every worker busy on blocked refreshes, further stale keys get
	// their stale value and no refresh, and nothing deadlocks.
	release := make(chan struct{})
	defer close(release) // also on failure: reset's cleanup waits for the refreshes
	var started atomic.Int64
	var first sync.Map
	f := func(ctx context.Context, x int) (int, error) {
		if _, again := first.LoadOrStore(x, true); again {
			started.Add(1)
			<-release
		}
		return x, nil
	}
	if err := cachier.Decorate(&f, runTag("name=test.workers,backend=memory,next_time")); err != nil {
		t.Fatal(err)
	}
	const keys = cachier.DefaultMaxWorkers + 4
	for i := range keys {
		f(ctx, i)
	}
	stale := cachier.WithMaxAge(ctx, -1)
	for i := range keys {
		if v, _ := f(stale, i); v != i {
			t.Fatalf("stale value %d, want %d", v, i)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for started.Load() < cachier.DefaultMaxWorkers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := started.Load(); got != cachier.DefaultMaxWorkers {
		t.Fatalf("%d refreshes running, want the bound %d", got, cachier.DefaultMaxWorkers)
	}
}

// TestHashFuncPanicIsUncached: a custom key function that panics makes the
// call uncached (the function is called, its result returned, the reason
// logged) and Precache and Forget fail with an error. Before, the panic
// went to the caller of the decorated function.
func TestHashFuncPanicIsUncached(t *testing.T) {
	reset(t)
	buf := testenv.CaptureLogs(t)
	boom := func([]any) (string, error) { panic("key function broke") }
	var calls atomic.Int64
	f := func(x int) int { calls.Add(1); return x * 2 }
	if err := cachier.Decorate(&f, runTag("name=test.hashpanic,backend=memory"), cachier.WithHashFunc(boom)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got := f(21); got != 42 {
			t.Fatalf("call %d: %d, want 42", i, got)
		}
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2 (uncached)", calls.Load())
	}
	if !strings.Contains(buf.String(), "key function broke") {
		t.Errorf("the log does not say why:\n%s", buf)
	}
	h, err := cachier.Of(&f)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Precache(ctx, 1, 2); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Precache: %v, want an error that says the key function panicked", err)
	}
	if err := h.Forget(ctx, 2); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Forget: %v, want an error that says the key function panicked", err)
	}
}

// keysSeen is a plain store (bytes, not Go values) over a memory store
// that records the keys it is given.
type keysSeen struct {
	store.Store
	mu   sync.Mutex
	keys []string
}

func (s *keysSeen) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.Store.Get(ctx, fn, key)
}

// TestHashFuncKeysFitStores: a store of bytes takes keys of lowercase hex
// digits (store.Store), and a custom key function's keys that are not
// (too long for a database column, or with bytes a database refuses)
// reach it as their hex digest: distinct keys stay distinct, equal ones
// hit. A key already in that form, and every key of the memory store,
// which takes any bytes, is left as it is. Before, such a key went to the
// store as it was: sqlstore refuses a key longer than 255 bytes, which
// then counted as a failure of the store, skipped for every call of the
// function for a while.
func TestHashFuncKeysFitStores(t *testing.T) {
	reset(t)
	hexKey := strings.Repeat("ab", 16)
	custom := func(args []any) (string, error) {
		if args[0] == "hex" {
			return hexKey, nil
		}
		return fmt.Sprint(args[0]), nil
	}
	st := &keysSeen{Store: memstore.New()}
	var calls atomic.Int64
	f := func(s string) string { calls.Add(1); return strings.ToUpper(s) }
	if err := cachier.Decorate(&f, runTag("name=test.hashfunc.keys,backend=seen"), cachier.WithStore("seen", st), cachier.WithHashFunc(custom)); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300)
	args := []string{long, long + "y", "Key With\x00Bytes/..", "hex"}
	for range 2 {
		for _, a := range args {
			if got := f(a); got != strings.ToUpper(a) {
				t.Fatalf("f(%.20q) = %.20q", a, got)
			}
		}
	}
	if n := calls.Load(); n != int64(len(args)) {
		t.Errorf("%d calls, want %d: the second round hits", n, len(args))
	}
	seen := map[string]bool{}
	for _, k := range st.keys {
		if len(k) < 32 || strings.Trim(k, "0123456789abcdef") != "" {
			t.Errorf("the store got the key %.40q", k)
		}
		seen[k] = true
	}
	if len(seen) != len(args) || !seen[hexKey] {
		t.Errorf("keys %q: want %d distinct, %q among them", st.keys, len(args), hexKey)
	}
}
