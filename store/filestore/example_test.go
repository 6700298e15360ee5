package filestore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/store/filestore"
)

// A file store on a directory of one's choosing, registered under a name:
// every process that opens the same directory shares its entries, and they
// outlive the process.
func Example() {
	dir, err := os.MkdirTemp("", "cachier-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	st, err := filestore.New(dir, filestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defaults.Register("example-files", st) // then `cachier:"backend=example-files"`

	type Service struct {
		Square func(ctx context.Context, x int) (int, error) `cachier:"backend=example-files,stale_after=24h"`
	}
	calls := 0
	svc := Service{Square: func(_ context.Context, x int) (int, error) { calls++; return x * x, nil }}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	a, _ := svc.Square(ctx, 12) // computed, and written under dir
	b, _ := svc.Square(ctx, 12) // read back from the file
	fmt.Println(a, b, "calls:", calls)
	// Output: 144 144 calls: 1
}
