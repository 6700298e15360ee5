package cachier_test

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/store"
)

// checkHitShape decorates fn (a func variable) on the file store and checks that
// its hit returns what its first call returned, without calling it.
func checkHitShape[F any](t *testing.T, name string, fn F, call func(F) []any) {
	t.Helper()
	calls := new(atomic.Int64)
	counted := reflect.MakeFunc(reflect.TypeOf(fn), func(in []reflect.Value) []reflect.Value {
		calls.Add(1)
		return reflect.ValueOf(fn).Call(in)
	}).Interface().(F)
	if err := cachier.Decorate(&counted, runTag("backend=file,allow_none,name=core.shape."+name+",cache_dir="+t.TempDir())); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	miss := call(counted)
	hit := call(counted)
	if calls.Load() != 1 {
		t.Fatalf("%s: the function ran %d times for a miss and a hit", name, calls.Load())
	}
	if !reflect.DeepEqual(miss, hit) {
		t.Errorf("%s: the hit returned %#v, the function %#v", name, hit, miss)
	}
}

type shapeStruct struct {
	N    int64
	Tags []string
	M    map[string]int
	p    *int
}

// TestHitResultShapes: a file hit decodes each kind of result list (one
// allocation holding the list and the values, see newResults) into what
// the function returned: one or several values, with or without an error,
// pointer-shaped, empty and large values, and an error before a value.
func TestHitResultShapes(t *testing.T) {
	reset(t)
	seven := 7
	checkHitShape(t, "struct-err", func(x int) (shapeStruct, error) {
		return shapeStruct{N: int64(x), Tags: []string{"a"}, M: map[string]int{"k": x}, p: &seven}, nil
	}, func(f func(int) (shapeStruct, error)) []any { v, err := f(3); return []any{v, err} })
	checkHitShape(t, "value", func(x int) string { return "v" },
		func(f func(int) string) []any { return []any{f(1)} })
	checkHitShape(t, "three-err", func(x int) (int, []byte, *shapeStruct, error) {
		return x, []byte("b"), &shapeStruct{N: 2}, nil
	}, func(f func(int) (int, []byte, *shapeStruct, error)) []any {
		a, b, c, err := f(4)
		return []any{a, b, c, err}
	})
	checkHitShape(t, "pointer-shaped", func(x int) (map[string]int, *int, error) {
		return map[string]int{"a": x}, &seven, nil
	}, func(f func(int) (map[string]int, *int, error)) []any { a, b, err := f(5); return []any{a, b, err} })
	checkHitShape(t, "empty", func(x int) (struct{}, [0]int, error) { return struct{}{}, [0]int{}, nil },
		func(f func(int) (struct{}, [0]int, error)) []any { a, b, err := f(6); return []any{a, b, err} })
	checkHitShape(t, "large", func(x int) ([4096]int64, error) {
		var a [4096]int64
		a[4095] = int64(x)
		return a, nil
	}, func(f func(int) ([4096]int64, error)) []any { a, err := f(8); return []any{a, err} })
	//lint:ignore ST1008 an error result that is not last is cached like any value
	checkHitShape(t, "error-first", func(x int) (error, string) { return nil, "s" },
		func(f func(int) (error, string)) []any { err, s := f(9); return []any{err, s} })
	checkHitShape(t, "interface", func(x int) (any, error) { return "boxed", nil },
		func(f func(int) (any, error)) []any { v, err := f(10); return []any{v, err} })

	// A hit's results are the caller's own: changing one changes no other.
	var calls atomic.Int64
	get := func(x int) (shapeStruct, error) {
		calls.Add(1)
		return shapeStruct{Tags: []string{"a"}, M: map[string]int{"k": 1}}, nil
	}
	if err := cachier.Decorate(&get, runTag("backend=file,name=core.shape.own,cache_dir="+t.TempDir())); err != nil {
		t.Fatal(err)
	}
	get(1)
	a, _ := get(1)
	a.Tags[0], a.M["k"] = "changed", 2
	if b, err := get(1); err != nil || b.Tags[0] != "a" || b.M["k"] != 1 || calls.Load() != 1 {
		t.Errorf("a hit after another hit's results were changed: %+v, %v (%d calls)", b, err, calls.Load())
	}
}

// TestHitHalfDecoded: an entry whose first result decodes (in place, into
// the hit's one allocation) and whose second does not is a miss: the
// function runs, its caller gets its results whole, and the entry is
// written again.
func TestHitHalfDecoded(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	f := func(x int) (shapeStruct, string, error) {
		calls.Add(1)
		return shapeStruct{N: 1, Tags: []string{"a"}}, "tail", nil
	}
	if err := cachier.Decorate(&f, runTag("backend=file,name=core.halfdecoded,cache_dir="+t.TempDir())); err != nil {
		t.Fatal(err)
	}
	f(1)
	h, _ := cachier.Of(&f)
	ctx := context.Background()
	var key string
	if err := h.Store().(store.Lister).Entries(ctx, h.Name(), func(e store.EntryInfo) error { key = e.Key; return nil }); err != nil || key == "" {
		t.Fatalf("no entry to damage (%v)", err)
	}
	e, err := h.Store().Get(ctx, h.Name(), key)
	if err != nil {
		t.Fatal(err)
	}
	// The first result left whole, the second (the string, last) cut by a
	// byte: its length claims more than is left.
	e.Value = e.Value[:len(e.Value)-1]
	if err := h.Store().Set(ctx, h.Name(), key, e); err != nil {
		t.Fatal(err)
	}
	v, s, err := f(1)
	if err != nil || v.N != 1 || len(v.Tags) != 1 || v.Tags[0] != "a" || s != "tail" || calls.Load() != 2 {
		t.Fatalf("after a half-decodable entry: %+v, %q, %v (%d calls, want 2)", v, s, err, calls.Load())
	}
	if v, s, _ := f(1); v.N != 1 || s != "tail" || calls.Load() != 2 {
		t.Fatalf("the half-decodable entry was not written again: %+v, %q (%d calls)", v, s, calls.Load())
	}
}

// finalized is a result whose UnmarshalBinary sets a finalizer on its
// receiver, which the runtime allows only at the start of an allocation
// (for a value of 16 bytes or more).
type finalized struct{ N, Pad1, Pad2 int64 }

func (f finalized) MarshalBinary() ([]byte, error) { return []byte{byte(f.N)}, nil }

func (f *finalized) UnmarshalBinary(b []byte) error {
	if len(b) != 1 {
		return errors.New("finalized: want 1 byte")
	}
	f.N = int64(b[0])
	runtime.SetFinalizer(f, func(*finalized) {})
	return nil
}

// TestHitUnmarshalerOwnAllocation: a result decoded by its own
// UnmarshalBinary is decoded in an allocation of its own, not inside the
// one that holds a hit's result list: the method may take its receiver
// for the start of an allocation (runtime.SetFinalizer throws, killing
// the process, when it is not).
func TestHitUnmarshalerOwnAllocation(t *testing.T) {
	reset(t)
	get := func(n int) (finalized, error) { return finalized{N: int64(n)}, nil }
	if err := cachier.Decorate(&get, runTag("backend=file,name=core.finalized,cache_dir="+t.TempDir())); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if v, err := get(7); err != nil || v.N != 7 {
			t.Fatalf("%+v, %v", v, err)
		}
	}
}
