package cachier_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/filestore"
)

// fileStore opens a file store in a temporary directory of t's.
func fileStore(t *testing.T) store.Store {
	t.Helper()
	st, err := filestore.New(t.TempDir(), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// byteBackends lists the backends that keep bytes: all but memory.
func byteBackends() []string {
	var names []string
	for name := range backends {
		if name != "memory" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

type exactInner struct {
	n     int
	names []string
	flags map[string]*bool
}

type exactResult struct {
	Public string
	priv   exactInner
	zero   *int
	off    *bool
	empty  []exactInner
	nested [][]int
	when   time.Time
}

// TestStoredResultIsExact: what gob lost (unexported fields, pointers to
// zero values, empty slices below the top level, the time zone's name) a
// hit from every byte store returns as the function returned it.
// (These failed on the gob code.)
func TestStoredResultIsExact(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	f := false
	want := exactResult{
		Public: "p",
		priv:   exactInner{n: 7, names: []string{}, flags: map[string]*bool{"off": &f, "nil": nil}},
		zero:   new(int),
		off:    new(bool),
		empty:  []exactInner{},
		nested: [][]int{{}, nil, {1}},
		when:   time.Date(2024, 11, 3, 1, 30, 0, 0, ny),
	}
	for _, name := range byteBackends() {
		t.Run(name, func(t *testing.T) {
			b := backends[name].open(t, t.TempDir())
			var calls atomic.Int32
			svc := struct {
				Get func(ctx context.Context, id int) (exactResult, error)
			}{Get: func(ctx context.Context, id int) (exactResult, error) {
				calls.Add(1)
				return want, nil
			}}
			if err := cachier.Decorate(&svc.Get, append([]cachier.Option{cachier.Tag(b.tag + ",name=codec.exact." + uniq())}, b.opts...)...); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := svc.Get(ctx, 1); err != nil {
				t.Fatal(err)
			}
			got, err := svc.Get(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if calls.Load() != 1 {
				t.Fatalf("%d calls, want 1 (the second was to be a hit)", calls.Load())
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("hit differs from the result:\n got %#v\nwant %#v", got, want)
			}
			if got.when.Location().String() != "America/New_York" {
				t.Fatalf("location %q", got.when.Location())
			}
		})
	}
}

type cyclicNode struct {
	Val    int
	Parent *cyclicNode
	Kids   []*cyclicNode
}

// TestCyclicResultRunsUncached: a tree with parent pointers is returned to
// the caller, not stored, and the writer does not crash.
func TestCyclicResultRunsUncached(t *testing.T) {
	logs := testenv.CaptureLogs(t)
	var calls atomic.Int32
	svc := struct {
		Tree func(n int) *cyclicNode `cachier:"backend=codecstore"`
	}{Tree: func(n int) *cyclicNode {
		calls.Add(1)
		root := &cyclicNode{Val: n}
		root.Kids = []*cyclicNode{{Val: n + 1, Parent: root}}
		return root
	}}
	st := fileStore(t)
	if err := cachier.Decorate(&svc, cachier.WithStore("codecstore", st)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := svc.Tree(1); r.Kids[0].Parent != r {
			t.Fatal("wrong result")
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3 (uncached)", calls.Load())
	}
	if n := strings.Count(logs.String(), "cannot encode"); n != 1 {
		t.Fatalf("%d 'cannot encode' log lines, want 1:\n%s", n, logs)
	}
}

type hostileResult struct {
	Next *hostileResult // first: one byte per nesting level
	M    map[string]int
	S    []string
}

func uvar(x uint64) []byte { return binary.AppendUvarint(nil, x) }

// hostileEntries returns, by name, entries that no hit may decode, for a
// function whose single cached result is a hostileResult.
func hostileEntries(t *testing.T, valid []byte) map[string][]byte {
	t.Helper()
	types := []reflect.Type{reflect.TypeOf(hostileResult{})}
	hdr := valid[:5+int(valid[4])+8]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	deep := bytes.Repeat([]byte{1}, 2_000_000) // Next present, 2M levels deep
	gobEntry, _ := mustPlan(t, codec.Gob(), types).Encode([]reflect.Value{reflect.ValueOf(hostileResult{S: []string{"x"}})})
	otherFn, _ := mustPlan(t, codec.Default(), []reflect.Type{reflect.TypeOf("")}).Encode([]reflect.Value{reflect.ValueOf("hello")})
	random := make([]byte, 512)
	rand.Read(random)
	zbomb := cat(hdr[:3], []byte{2}, hdr[4:], uvar(1<<30), []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0})
	e := map[string][]byte{
		"map claiming 2^22":     cat(hdr, []byte{0}, uvar(1<<22+1)),
		"map claiming 2^33":     cat(hdr, []byte{0}, uvar(1<<33+1), []byte{1, 'a', 2}),
		"slice claiming 2^40":   cat(hdr, []byte{0, 0}, uvar(1<<40+1), []byte{1, 'a'}),
		"string claiming 4GB":   cat(hdr, []byte{0, 0, 2}, uvar(1<<32), []byte("abc")),
		"2M nesting levels":     cat(hdr, deep, []byte{0, 0, 0}),
		"another codec (gob)":   gobEntry,
		"another function":      otherFn,
		"random bytes":          random,
		"zstd bomb":             zbomb,
		"empty":                 {},
		"old gob format":        {1, 1, 0x0c, 0xff, 0x81},
		"trailing bytes":        cat(valid, []byte{0}),
		"header only":           hdr,
		"future format version": cat(hdr[:2], []byte{2}, hdr[3:], valid[len(hdr):]),
	}
	for _, n := range []int{1, 3, len(hdr) - 1, len(hdr) + 1, len(valid) - 1} {
		e["truncated to "+strconv.Itoa(n)] = valid[:n]
	}
	return e
}

func mustPlan(t *testing.T, c codec.Codec, types []reflect.Type) *codec.Plan {
	t.Helper()
	p, err := codec.NewPlan(c, types, "")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostileEntriesAreMisses: whatever bytes a store hands back (lengths
// claiming gigabytes, millions of nesting levels, truncations, another
// codec's or function's entry, a zip bomb) the call computes, returns the
// right result and overwrites the entry, allocates little beyond reading
// the bytes, and the function logs one line about it. On every byte store.
func TestHostileEntriesAreMisses(t *testing.T) {
	for _, name := range byteBackends() {
		t.Run(name, func(t *testing.T) {
			b := backends[name].open(t, t.TempDir())
			logs := testenv.CaptureLogs(t)
			var calls atomic.Int32
			want := hostileResult{M: map[string]int{"a": 1}, S: []string{"x", "y"}}
			get := func(ctx context.Context, id int) (hostileResult, error) {
				calls.Add(1)
				return want, nil
			}
			if err := cachier.Decorate(&get, append([]cachier.Option{cachier.Tag(b.tag + ",name=codec.hostile." + uniq())}, b.opts...)...); err != nil {
				t.Fatal(err)
			}
			h, err := cachier.Of(&get)
			if err != nil {
				t.Fatal(err)
			}
			st := h.Store()
			ctx := context.Background()
			key, err := hashing.Default([]any{1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := get(ctx, 1); err != nil {
				t.Fatal(err)
			}
			valid, err := st.Get(ctx, h.Name(), key)
			if err != nil {
				t.Fatal(err)
			}
			for what, bad := range hostileEntries(t, valid.Value) {
				if err := st.Set(ctx, h.Name(), key, store.Entry{Value: bad, Time: time.Now()}); err != nil {
					t.Fatalf("%s: set: %v", what, err)
				}
				before := calls.Load()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				got, err := get(ctx, 1)
				runtime.ReadMemStats(&m1)
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: got %#v, %v", what, got, err)
				}
				if calls.Load() != before+1 {
					t.Fatalf("%s: not recomputed", what)
				}
				// The store reads the bytes (a few copies in a driver); the
				// codec adds little: never the gigabytes the bytes claim.
				if alloc, limit := m1.TotalAlloc-m0.TotalAlloc, uint64(8*len(bad)+4<<20); alloc > limit {
					t.Fatalf("%s: the call allocated %d bytes for a %d-byte entry", what, alloc, len(bad))
				}
				e, err := st.Get(ctx, h.Name(), key)
				if err != nil || len(e.Value) != len(valid.Value) {
					t.Fatalf("%s: entry not overwritten: %v, %d bytes; logs:\n%s", what, err, len(e.Value), logs)
				}
				if _, err := get(ctx, 1); err != nil || calls.Load() != before+1 {
					t.Fatalf("%s: the overwritten entry is not a hit", what)
				}
			}
			if n := strings.Count(logs.String(), "cannot decode"); n != 1 {
				t.Fatalf("%d 'cannot decode' log lines, want 1:\n%s", n, logs)
			}
		})
	}
}

// TestUnkeepableResultIsTagError: a result type holding a func is refused
// at Decorate for a byte store, naming the key, the type and the field.
func TestUnkeepableResultIsTagError(t *testing.T) {
	type withFunc struct {
		Name string
		cb   func()
	}
	_ = withFunc{}.cb // there to be refused
	svc := struct {
		Get func(id int) withFunc `cachier:"backend=codecstore"`
	}{Get: func(id int) withFunc { return withFunc{} }}
	err := cachier.Decorate(&svc, cachier.WithStore("codecstore", fileStore(t)))
	var te *cachier.TagError
	if !errors.As(err, &te) || te.Key != "codec" || !strings.Contains(err.Error(), ".cb") || !strings.Contains(err.Error(), "withFunc") {
		t.Fatalf("err = %v, want a TagError on codec naming withFunc and .cb", err)
	}
	mem := struct {
		Get func(id int) withFunc `cachier:"backend=memory"`
	}{Get: func(id int) withFunc { return withFunc{} }}
	if err := cachier.Decorate(&mem); err != nil {
		t.Fatalf("memory backend: %v", err)
	}
}

// countingCodec is the default codec under another name, counting its
// plans' compilations.
type countingCodec struct{ compiles *atomic.Int32 }

func (c countingCodec) Name() string { return "counting" }
func (c countingCodec) Compile(types []reflect.Type) (codec.Compiled, error) {
	c.compiles.Add(1)
	p, err := codec.Default().Compile(types)
	return countingPlan{p}, err
}

// countingPlan counts every Encode and Decode of the counting codec.
type countingPlan struct{ codec.Compiled }

func (p countingPlan) Encode(dst []byte, vals []reflect.Value) ([]byte, error) {
	encodes.Add(1)
	return p.Compiled.Encode(dst, vals)
}

func (p countingPlan) Decode(b []byte) ([]reflect.Value, error) {
	decodes.Add(1)
	return p.Compiled.Decode(b)
}

var compiles, encodes, decodes atomic.Int32

// TestMemoryHitsDecodeNothing: the memory backend keeps Go values; with
// entry_size_limit it measures a result once with the function's codec,
// and its hits neither encode nor decode.
func TestMemoryHitsDecodeNothing(t *testing.T) {
	var calls atomic.Int32
	f := func(n int) string { calls.Add(1); return strings.Repeat("x", n) }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,codec=counting,entry_size_limit=100,name=codec.memory-"+uniq())); err != nil {
		t.Fatal(err)
	}
	e0, d0 := encodes.Load(), decodes.Load()
	for range 3 {
		f(50)
	}
	if calls.Load() != 1 || encodes.Load()-e0 != 1 || decodes.Load() != d0 {
		t.Fatalf("%d calls, %d encodes, %d decodes; want 1, 1 (to measure), 0", calls.Load(), encodes.Load()-e0, decodes.Load()-d0)
	}
	for range 2 {
		f(200) // measured larger than the limit: returned, not stored
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3: a result over entry_size_limit was stored", calls.Load())
	}
}

func init() { defaults.RegisterCodec("counting", countingCodec{&compiles}) }

// TestCodecTag: codec= picks json, gob, a registered codec, and compress=
// compresses; each is compiled once at Decorate; an unknown name is a
// TagError; the entry's header names the codec.
func TestCodecTag(t *testing.T) {
	type pub struct {
		Name string
		Tags []string
	}
	want := pub{Name: strings.Repeat("n", 2000), Tags: []string{"a"}}
	ctx := context.Background()
	for _, tc := range []struct{ tag, name string }{
		{"codec=json", "json"}, {"codec=gob", "gob"}, {"codec=counting", "counting"},
		{"compress=zstd", "cachier"}, {"codec=json,compress=s2", "json"}, {"", "cachier"},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			st, err := filestore.New(t.TempDir(), filestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			f := func(id int) (pub, error) { calls.Add(1); return want, nil }
			before := compiles.Load()
			if err := cachier.Decorate(&f, cachier.Tag(tc.tag+",backend=s,name=codec.tag."+strings.NewReplacer("=", "", ",", "").Replace(tc.tag)), cachier.WithStore("s", st)); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if got, err := f(1); err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("got %#v, %v", got, err)
				}
			}
			if calls.Load() != 1 {
				t.Fatalf("%d calls, want 1", calls.Load())
			}
			if tc.name == "counting" && compiles.Load() != before+1 {
				t.Fatalf("compiled %d times, want once", compiles.Load()-before)
			}
			h, _ := cachier.Of(&f)
			key, _ := hashing.Default([]any{1})
			e, err := st.Get(ctx, h.Name(), key)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(e.Value[5 : 5+int(e.Value[4])]); got != tc.name {
				t.Fatalf("entry names codec %q, want %q", got, tc.name)
			}
			if compressed := e.Value[3] != 0; compressed != strings.Contains(tc.tag, "compress") {
				t.Fatalf("compression byte %d for %q", e.Value[3], tc.tag)
			}
		})
	}
	f := func(id int) int { return id }
	err := cachier.Decorate(&f, cachier.Tag("backend=file,cache_dir="+t.TempDir()+",codec=nosuch"))
	var te *cachier.TagError
	if !errors.As(err, &te) || te.Key != "codec" || te.Value != "nosuch" {
		t.Fatalf("unknown codec: err = %v", err)
	}
}

// TestCodecKeysOnMemory: compress, and codec without a size bound, make no
// sense for the memory backend's own tag; as global defaults they are
// ignored there.
func TestCodecKeysOnMemory(t *testing.T) {
	for tag, key := range map[string]string{
		"backend=memory,compress=zstd": "compress",
		"backend=memory,codec=json":    "codec",
	} {
		f := func(x int) int { return x }
		err := cachier.Decorate(&f, cachier.Tag(tag+",name=codec.mem."+uniq()))
		var te *cachier.TagError
		if !errors.As(err, &te) || te.Key != key {
			t.Errorf("%s: err = %v, want a TagError on %s", tag, err, key)
		}
	}
	for _, tag := range []string{"backend=memory,compress=none", "backend=memory,codec=json,entry_size_limit=1KB"} {
		f := func(x int) int { return x }
		if err := cachier.Decorate(&f, cachier.Tag(tag+",name=codec.mem."+uniq())); err != nil {
			t.Errorf("%s: %v", tag, err)
		}
	}
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	if err := defaults.Set("compress=zstd,codec=json"); err != nil {
		t.Fatal(err)
	}
	f := func(x int) int { return x }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=codec.mem."+uniq())); err != nil {
		t.Errorf("global compress and codec refused on memory: %v", err)
	}
}

// wrongCodec is the default codec under another name, whose plans decode
// every entry as the string "wrong", whatever the result types: a custom
// codec that breaks its contract.
type wrongCodec struct{}

func (wrongCodec) Name() string { return "wrong" }
func (wrongCodec) Compile(types []reflect.Type) (codec.Compiled, error) {
	p, err := codec.Default().Compile(types)
	return wrongPlan{p}, err
}

type wrongPlan struct{ codec.Compiled }

func (wrongPlan) Decode([]byte) ([]reflect.Value, error) {
	return []reflect.Value{reflect.ValueOf("wrong")}, nil
}

func init() { defaults.RegisterCodec("wrong", wrongCodec{}) }

// TestWrongCodecIsAMiss: a custom codec whose Decode returns values of
// other types than the function's results makes a hit a miss (the function
// is called, its result returned and stored again), never a panic. Before
// the codec checked them, the hit panicked in reflect.Value.Set.
func TestWrongCodecIsAMiss(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	buf := testenv.CaptureLogs(t)
	var calls atomic.Int32
	f := func(ctx context.Context, id int) (int, error) { calls.Add(1); return id * 3, nil }
	if err := cachier.Decorate(&f, cachier.Tag("backend=file,codec=wrong,name=codec.wrong,cache_dir="+t.TempDir())); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got, err := f(context.Background(), 5); got != 15 || err != nil {
			t.Fatalf("call %d: got %d, %v; want 15", i, got, err)
		}
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3: every entry is undecodable", calls.Load())
	}
	if !strings.Contains(buf.String(), "cannot decode a cached entry") || !strings.Contains(buf.String(), "as a string") {
		t.Errorf("the log does not say why:\n%s", buf)
	}
}

// panicsUnmarshal is a result type whose UnmarshalJSON panics, as a user's
// may on input it did not expect; panicsMarshal one whose MarshalJSON does.
type panicsUnmarshal struct{ N int }

func (*panicsUnmarshal) UnmarshalJSON([]byte) error { panic("UnmarshalJSON") }

type panicsMarshal struct{ N int }

func (panicsMarshal) MarshalJSON() ([]byte, error) { panic("MarshalJSON") }

// TestPanickingCodecIsAMiss: a panic in the codec's code or in a method it
// calls on a result (here encoding/json calling MarshalJSON and
// UnmarshalJSON) fails no call: an entry that panics decoding is a miss,
// a result that panics encoding is returned and not stored. Before,
// every hit of the first function and every call of the second panicked
// (the panic passes through encoding/json).
func TestPanickingCodecIsAMiss(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	buf := testenv.CaptureLogs(t)
	var calls atomic.Int32
	un := func(ctx context.Context, id int) (panicsUnmarshal, error) {
		calls.Add(1)
		return panicsUnmarshal{id}, nil
	}
	m := func(ctx context.Context, id int) (panicsMarshal, error) { calls.Add(1); return panicsMarshal{id}, nil }
	dir := t.TempDir()
	if err := cachier.Decorate(&un, cachier.Tag("backend=file,codec=json,name=codec.panics.un,cache_dir="+dir)); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&m, cachier.Tag("backend=file,codec=json,name=codec.panics.m,cache_dir="+dir)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if got, err := un(context.Background(), 5); got.N != 5 || err != nil {
			t.Fatalf("call %d: got %v, %v; want {5}", i, got, err)
		}
		if got, err := m(context.Background(), 5); got.N != 5 || err != nil {
			t.Fatalf("call %d: got %v, %v; want {5}", i, got, err)
		}
	}
	if calls.Load() != 6 {
		t.Fatalf("%d calls, want 6: no entry decodes, and none is written", calls.Load())
	}
	if s := buf.String(); !strings.Contains(s, "UnmarshalJSON") || !strings.Contains(s, "MarshalJSON") || !strings.Contains(s, "panicked") {
		t.Errorf("the log does not say why:\n%s", s)
	}
}
