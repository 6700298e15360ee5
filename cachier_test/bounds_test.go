package cachier_test

import (
	"errors"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

// TestBoundsOnEveryBackend: on a backend whose store keeps bounds
// (store.Bounder), a function with max_entries=2 never holds more than two
// entries and loses the least recently used first; on every other backend
// the key is a TagError naming the key, its value and the backend, and
// pointing at expire_after and the server's own eviction.
func TestBoundsOnEveryBackend(t *testing.T) {
	names := make([]string, 0, len(backends))
	for name := range backends {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			defaults.Reset()
			t.Cleanup(defaults.Reset)
			e := &env{t: t, b: backends[name].open(t, t.TempDir()), ns: uniq()}
			probe := func(x int) int { return x }
			h := e.decorate(&probe, "")
			_, bounds := h.Store().(store.Bounder)

			var c counter
			f := func(x int) int { c.n.Add(1); return x * 10 }
			spec := e.b.tag + ",name=" + e.ns + "-bounded,max_entries=2"
			err := cachier.Decorate(&f, append([]cachier.Option{cachier.Tag(spec)}, e.b.opts...)...)
			if !bounds {
				var te *cachier.TagError
				if !errors.As(err, &te) || te.Key != "max_entries" || te.Value != "2" {
					t.Fatalf("Decorate with max_entries=2: err = %v, want a *TagError for max_entries=\"2\"", err)
				}
				for _, want := range []string{"expire_after", "maxmemory-policy", "backend"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %q", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decorate with max_entries=2: %v", err)
			}
			fh, _ := cachier.Of(&f)
			t.Cleanup(func() { _ = fh.ClearCache(bg) })
			f(1)
			f(2)
			f(1) // a hit: 2 is now the least recently used
			e.wantCalls(&c, 2)
			f(3) // evicts 2
			f(1)
			f(3)
			e.wantCalls(&c, 3)
			f(2) // evicted: computed again
			e.wantCalls(&c, 4)
		})
	}
}

// TestBoundsGlobalDefault: max_entries set with defaults.Set bounds the
// functions whose store can keep it, and does not stop the others from
// being decorated.
func TestBoundsGlobalDefault(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	if err := defaults.Set("max_entries=3"); err != nil {
		t.Fatal(err)
	}
	f := func(x int) int { return x }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=bounds.global."+uniq())); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		f(i)
	}
	h, _ := cachier.Of(&f)
	if n := h.Store().(*memstore.Store).Len(h.Name()); n != 3 {
		t.Fatalf("the memory store holds %d entries, want 3 (global max_entries)", n)
	}
	g := func(x int) int { return x }
	if err := cachier.Decorate(&g, cachier.Tag("backend=noBounds,name=bounds.global2."+uniq()),
		cachier.WithStore("noBounds", unbounded{memstore.New()})); err != nil {
		t.Fatalf("a global max_entries refused a store that cannot bound: %v", err)
	}
}

// unbounded hides every optional interface of a store but store.Store.
type unbounded struct{ store.Store }

// TestBoundsMaxSizeMemory: with max_size, a decorated memory function keeps
// results whose encoded sizes add up to at most the bound, evicting the
// least recently used, and does not store a result larger than the bound
// by itself.
func TestBoundsMaxSizeMemory(t *testing.T) {
	var calls atomic.Int64
	f := func(n int) string { calls.Add(1); return strings.Repeat("x", n) }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,max_size=1000,name=bounds.size."+uniq())); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	ms := h.Store().(*memstore.Store)
	f(300)
	f(400)
	f(250) // about 950 bytes encoded
	if n := ms.Len(h.Name()); n != 3 {
		t.Fatalf("%d entries after 3 results of ~950 bytes in all, want 3", n)
	}
	f(300) // a hit: 400 is now the least recently used
	f(200) // ~1150 bytes: 400 goes
	if n := ms.Len(h.Name()); n != 3 {
		t.Fatalf("%d entries, want 3 (300, 250, 200)", n)
	}
	before := calls.Load()
	f(300)
	f(250)
	f(200)
	if calls.Load() != before {
		t.Fatalf("a kept result was computed again")
	}
	f(400)
	if calls.Load() != before+1 {
		t.Fatalf("the least recently used result (400) was not the one evicted")
	}
	f(5000) // larger than max_size by itself: returned, not stored
	f(5000)
	if calls.Load() != before+3 {
		t.Fatalf("a result larger than max_size was stored")
	}
	// Precache measures too.
	if err := h.Precache(bg, strings.Repeat("y", 2000), 7); err == nil {
		t.Errorf("Precache of a value larger than max_size reported success")
	}
	if err := h.Precache(bg, "small", 8); err != nil {
		t.Fatal(err)
	}
	if got := f(8); got != "small" {
		t.Errorf("f(8) = %q after Precache, want %q", got, "small")
	}
}

// TestBoundsBadValues: max_entries and max_size that cannot be parsed or
// are not positive are TagErrors naming the key and the value.
func TestBoundsBadValues(t *testing.T) {
	for _, kv := range []string{"max_entries=0", "max_entries=-3", "max_entries=ten", "max_size=0", "max_size=-1KB", "max_size=lots"} {
		f := func(x int) int { return x }
		err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=bounds.bad,"+kv))
		var te *cachier.TagError
		k, v, _ := strings.Cut(kv, "=")
		if !errors.As(err, &te) || te.Key != k || te.Value != v {
			t.Errorf("%s: err = %v, want a *TagError for %s=%q", kv, err, k, v)
		}
	}
}
