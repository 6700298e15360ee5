package cachier_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/mitchellh/hashstructure/v2"
)

func add(a, b int) int { return a + b }

// BenchmarkDirect is the bare function, for scale.
func BenchmarkDirect(b *testing.B) {
	f := add
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = f(i&1023, 7)
	}
}

func mustDecorate(b *testing.B, target any, spec string) {
	b.Helper()
	if err := cachier.Decorate(target, cachier.Tag(spec)); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHitMemory is a memory-backend hit of func(a, b int) int.
func BenchmarkHitMemory(b *testing.B) {
	f := add
	mustDecorate(b, &f, "backend=memory,name=bench.hit")
	for i := range 1024 {
		f(i, 7)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = f(i&1023, 7)
	}
}

// BenchmarkHitMemoryParallel is the same hit from every core at once.
func BenchmarkHitMemoryParallel(b *testing.B) {
	f := add
	mustDecorate(b, &f, "backend=memory,name=bench.hitpar")
	for i := range 1024 {
		f(i, 7)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = f(i&1023, 7)
			i++
		}
	})
}

type benchQuery struct {
	Table  string
	IDs    []int
	Params map[string]string
}

// BenchmarkHitMemoryStruct is a hit whose argument is a struct holding a
// string, a slice and a map.
func BenchmarkHitMemoryStruct(b *testing.B) {
	f := func(ctx context.Context, q benchQuery) (int, error) { return len(q.IDs), nil }
	mustDecorate(b, &f, "backend=memory,name=bench.struct")
	q := benchQuery{Table: "users", IDs: []int{1, 2, 3, 4, 5, 6, 7, 8}, Params: map[string]string{"active": "true", "region": "eu", "tier": "gold"}}
	ctx := context.Background()
	f(ctx, q)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f(ctx, q)
	}
}

// BenchmarkMissMemory is the overhead of a miss (hash, lookup, compute,
// store) over the bare function: every call has new arguments.
func BenchmarkMissMemory(b *testing.B) {
	f := add
	mustDecorate(b, &f, "backend=memory,name=bench.miss")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = f(i, 7)
	}
}

// BenchmarkHitFile is a hit on the embedded file store, decoding included,
// with 1 and 10,000 entries in the function's cache, in both layouts: a hit
// must not grow with the cache.
func BenchmarkHitFile(b *testing.B) {
	for _, layout := range []string{"log", "separate"} {
		for _, entries := range []int{1, 10000} {
			b.Run(fmt.Sprintf("layout=%s/entries=%d", layout, entries), func(b *testing.B) {
				spec := "backend=file,name=bench.file" + layout + ",cache_dir=" + b.TempDir()
				if layout == "separate" {
					spec += ",separate_files"
				}
				f := func(s string) (string, error) { return s + "!", nil }
				mustDecorate(b, &f, spec)
				h, err := cachier.Of(&f)
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				for i := range entries {
					if err := h.Precache(ctx, strconv.Itoa(i)+"!", strconv.Itoa(i)); err != nil {
						b.Fatal(err)
					}
				}
				keys := make([]string, 100)
				for i := range keys {
					keys[i] = strconv.Itoa(i * entries / len(keys))
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := f(keys[i%len(keys)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkToyHit is the obvious toy the memory backend must beat: a
// MakeFunc wrapper, hashstructure over the boxed arguments, and a
// mutex-guarded map.
func BenchmarkToyHit(b *testing.B) {
	var (
		mu    sync.Mutex
		cache = map[uint64][]reflect.Value{}
	)
	orig := reflect.ValueOf(add)
	var f func(a, b int) int
	reflect.ValueOf(&f).Elem().Set(reflect.MakeFunc(orig.Type(), func(args []reflect.Value) []reflect.Value {
		boxed := make([]any, len(args))
		for i, a := range args {
			boxed[i] = a.Interface()
		}
		k, err := hashstructure.Hash(boxed, hashstructure.FormatV2, nil)
		if err != nil {
			panic(err)
		}
		mu.Lock()
		out, ok := cache[k]
		mu.Unlock()
		if ok {
			return out
		}
		out = orig.Call(args)
		mu.Lock()
		cache[k] = out
		mu.Unlock()
		return out
	}))
	for i := range 1024 {
		f(i, 7)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = f(i&1023, 7)
	}
}
