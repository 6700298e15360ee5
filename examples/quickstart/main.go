// Command quickstart shows cachier's main job: a slow function computed
// once and reused by later runs of the program, from the embedded file
// store. Run it twice:
//
//	go run ./examples/quickstart   # slow: computes and stores
//	go run ./examples/quickstart   # instant: a new process reads the cache
//
// Pass -clear to forget the cache and start again.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/cachier-go/cachier"
)

// Forecast is a stand-in for a slow call: an API, a query, a computation.
type Forecast struct {
	City  string
	TempC float64
	At    time.Time
}

// computed counts the calls that reached the slow function.
var computed int

func slowForecast(ctx context.Context, city string, day int) (Forecast, error) {
	computed++
	select {
	case <-time.After(2 * time.Second): // the slow part
	case <-ctx.Done():
		return Forecast{}, ctx.Err()
	}
	return Forecast{City: city, TempC: 12.5 + float64(day), At: time.Now()}, nil
}

func main() {
	clear := flag.Bool("clear", false, "clear the cache first")
	flag.Parse()

	// The file backend is the default; stale_after bounds an entry's life.
	forecast := slowForecast
	if err := cachier.Decorate(&forecast, cachier.Tag("stale_after=1h,name=quickstart.forecast")); err != nil {
		log.Fatal(err)
	}
	h, err := cachier.Of(&forecast)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if *clear {
		if err := h.ClearCache(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("cache directory: %s\n", h.CacheDir())

	for _, day := range []int{1, 2, 1} {
		start := time.Now()
		f, err := forecast(ctx, "Lisbon", day)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("day %d: %.1f°C (computed at %s)  took %v\n", day, f.TempC, f.At.Format(time.TimeOnly), time.Since(start).Round(time.Microsecond))
	}
	fmt.Printf("the slow function ran %d times in this process\n", computed)
	if computed > 0 {
		fmt.Fprintln(os.Stderr, "run me again: a new process answers every call from the cache")
	}
}
