package memstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/store/memstore"
)

// A memory store of one's own, registered under a name of one's choosing:
// the functions that name it share it (and can be cleared together by
// dropping it), apart from the built-in "memory" backend.
func Example() {
	st := memstore.New()
	defaults.Register("example-mem", st) // then `cachier:"backend=example-mem"`

	type Service struct {
		Square func(ctx context.Context, x int) (int, error) `cachier:"backend=example-mem"`
	}
	calls := 0
	svc := Service{Square: func(_ context.Context, x int) (int, error) { calls++; return x * x, nil }}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	a, _ := svc.Square(ctx, 12) // computed
	b, _ := svc.Square(ctx, 12) // from the store
	fmt.Println(a, b, "calls:", calls)
	// Output: 144 144 calls: 1
}
