package cachier_test

import (
	"context"
	"fmt"

	"github.com/cachier-go/cachier"
)

// With enable_metrics a function counts its calls; Stats reads them.
func ExampleHandle_Stats() {
	square := func(ctx context.Context, x int) (int, error) { return x * x, nil }
	if err := cachier.Decorate(&square, cachier.Tag("backend=memory,enable_metrics,name=example.square.stats")); err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, x := range []int{2, 2, 2, 3} {
		square(ctx, x)
	}
	h, _ := cachier.Of(&square)
	st := h.Stats()
	fmt.Printf("%d calls: %d hits, %d misses (hit rate %.2f), %d entries\n",
		st.Calls(), st.Hits, st.Misses, st.HitRate(), st.Entries)
	// Output: 4 calls: 2 hits, 2 misses (hit rate 0.50), 2 entries
}
