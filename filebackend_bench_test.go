package cachier_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
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

// BenchmarkHitFilePaired times a decorated file hit with 1 and with 10,000
// entries in the function's cache in turn within each iteration (so that
// the load of a shared machine weighs on both alike), in both layouts, and
// reports their ratio: issue 11 keeps it at most 1.5.
func BenchmarkHitFilePaired(b *testing.B) {
	for _, layout := range []string{"log", "separate"} {
		b.Run("layout="+layout, func(b *testing.B) {
			hit := func(entries int) func() {
				spec := "backend=file,name=bench.paired" + layout + strconv.Itoa(entries) + ",cache_dir=" + b.TempDir()
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
				i := 0
				return func() {
					if _, err := f(keys[i%len(keys)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			}
			one, many := hit(1), hit(10000)
			took, rounds := testenv.Paired(b, one, many)
			b.ReportMetric(testenv.PerRound(took[0], rounds), "ns/hit-1")
			b.ReportMetric(testenv.PerRound(took[1], rounds), "ns/hit-10000")
			b.ReportMetric(float64(took[1])/float64(took[0]), "ratio")
		})
	}
}
