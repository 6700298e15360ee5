package cachier_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cachier-go/cachier"
)

// benchResult is a small struct result, the shape a decorated-hit benchmark
// decodes on every hit.
type benchResult struct {
	Name  string
	Score float64
	Tags  []string
}

// benchLookup decorates a lookup with tag (plus a fixed name) and opts, and
// calls it once for id 42, so that lookup(ctx, 42) is a hit from then on.
func benchLookup(b *testing.B, tag string, opts ...cachier.Option) func(context.Context, int) (benchResult, error) {
	b.Helper()
	lookup := func(ctx context.Context, id int) (benchResult, error) {
		return benchResult{Name: fmt.Sprint("item-", id), Score: float64(id) / 3, Tags: []string{"a", "b", "c"}}, nil
	}
	if err := cachier.Decorate(&lookup, append([]cachier.Option{cachier.Tag(tag + ",name=bench.lookup")}, opts...)...); err != nil {
		b.Fatal(err)
	}
	if _, err := lookup(context.Background(), 42); err != nil {
		b.Fatal(err)
	}
	return lookup
}
