package defaults_test

import (
	"fmt"
	"log"

	"github.com/cachier-go/cachier/defaults"
)

// Set changes the global parameters every decorated function starts from.
func ExampleSet() {
	defer defaults.Reset()
	if err := defaults.Set("stale_after=3d,next_time,entry_size_limit=10MB"); err != nil {
		log.Fatal(err)
	}
	p := defaults.Get()
	fmt.Println(p.StaleAfter, p.NextTime, p.EntrySizeLimit)

	err := defaults.Set("stale_after=soon")
	fmt.Println(err)
	// Output:
	// 72h0m0s true 10MB
	// stale_after="soon": invalid duration "soon": want Go syntax (90s, 72h) or d and w units (3d, 2w)
}
