package cachier_test

import (
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
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
