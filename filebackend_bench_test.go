package cachier_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/cachier-go/cachier"
)

// BenchmarkSeparateFilesPrecached precaches 10,000 entries with
// separate_files and then times hits on keys 0–1,999, each read from its
// entry file the first time: the sequence that measured ≈300 µs per hit
// under testing.B against ≈14 µs in a plain program (issue 11).
func BenchmarkSeparateFilesPrecached(b *testing.B) {
	spec := "backend=file,name=bench.precached,separate_files,cache_dir=" + b.TempDir()
	f := func(s string) (string, error) { return s + "!", nil }
	mustDecorate(b, &f, spec)
	h, err := cachier.Of(&f)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10000 {
		if err := h.Precache(ctx, strconv.Itoa(i)+"!", strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, 2000)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := f(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}
