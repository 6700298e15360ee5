package filestore

import (
	"fmt"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// benchValue is about what the core stores for a small struct result.
var benchValue = store.Entry{Value: make([]byte, 100), Time: time.Now()}

// benchKeys holds keys made in advance, so that benchmarks measure the store
// and not the formatting of keys.
var benchKeys = func() []string {
	k := make([]string, 40000)
	for i := range k {
		k[i] = keyN(i)
	}
	return k
}()

func bkey(i int) string {
	if i < len(benchKeys) {
		return benchKeys[i]
	}
	return keyN(i)
}

func benchStore(b *testing.B, o Options, n int) (*Store, string) {
	b.Helper()
	s := newStore(b, b.TempDir(), o)
	const fn = "example.com/app.Service.Fetch"
	syncEntries = false // fill fast; what is measured syncs
	defer func() { syncEntries = true }()
	for i := range n {
		if err := s.Set(bg, fn, bkey(i), benchValue); err != nil {
			b.Fatal(err)
		}
	}
	return s, fn
}

var benchLayouts = []struct {
	name string
	o    Options
}{
	{"single", Options{}},
	{"separate", Options{SeparateFiles: true}},
	{"single-noreload", Options{NoReload: true}},
	{"separate-noreload", Options{SeparateFiles: true, NoReload: true}},
}

// BenchmarkGet is a hit, with 1 and with 10,000 entries in the function's
// cache: it must not grow with the number of entries.
func BenchmarkGet(b *testing.B) {
	for _, l := range benchLayouts {
		for _, n := range []int{1, 10000} {
			b.Run(fmt.Sprintf("%s/entries=%d", l.name, n), func(b *testing.B) {
				s, fn := benchStore(b, l.o, n)
				for i := range n { // a steady state: every entry read once
					if _, err := s.Get(bg, fn, bkey(i)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := s.Get(bg, fn, bkey(i%n)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSet overwrites entries of a cache of 1 and of 10,000 entries;
// the cost includes the compactions the overwrites cause.
func BenchmarkSet(b *testing.B) {
	for _, l := range benchLayouts[:2] {
		for _, n := range []int{1, 10000} {
			b.Run(fmt.Sprintf("%s/entries=%d", l.name, n), func(b *testing.B) {
				s, fn := benchStore(b, l.o, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.Set(bg, fn, bkey(i%n), benchValue); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSetNew writes new keys (a miss's write) into a cache that holds
// 1 and 10,000 entries to begin with.
func BenchmarkSetNew(b *testing.B) {
	for _, l := range benchLayouts[:2] {
		for _, n := range []int{1, 10000} {
			b.Run(fmt.Sprintf("%s/entries=%d", l.name, n), func(b *testing.B) {
				s, fn := benchStore(b, l.o, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.Set(bg, fn, bkey(n+i), benchValue); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMiss is the whole store side of a miss as the core makes it:
// Get (not found), Mark, Set.
func BenchmarkMiss(b *testing.B) {
	for _, l := range benchLayouts[:2] {
		for _, n := range []int{1, 10000} {
			b.Run(fmt.Sprintf("%s/entries=%d", l.name, n), func(b *testing.B) {
				s, fn := benchStore(b, l.o, n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					k := bkey(n + i)
					if _, err := s.Get(bg, fn, k); err == nil {
						b.Fatal("hit")
					}
					if _, err := s.Mark(bg, fn, k, "owner", time.Minute); err != nil {
						b.Fatal(err)
					}
					if err := s.Set(bg, fn, k, benchValue); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
