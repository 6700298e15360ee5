package filestore

import (
	"fmt"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// benchValue is about what the core stores for a small struct result.
var benchValue = store.Entry{Value: make([]byte, 100), Time: time.Now()}

func benchStore(b *testing.B, o Options, n int) (*Store, string) {
	b.Helper()
	s := newStore(b, b.TempDir(), o)
	const fn = "example.com/app.Service.Fetch"
	syncEntries = false // fill fast; what is measured syncs
	defer func() { syncEntries = true }()
	for i := range n {
		if err := s.Set(bg, fn, keyN(i), benchValue); err != nil {
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
					if _, err := s.Get(bg, fn, keyN(i)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := s.Get(bg, fn, keyN(i%n)); err != nil {
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
					if err := s.Set(bg, fn, keyN(i%n), benchValue); err != nil {
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
					if err := s.Set(bg, fn, keyN(n+i), benchValue); err != nil {
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
					k := keyN(n + i)
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
