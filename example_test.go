package cachier_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/cachier-go/cachier"
)

// A service struct: each tagged func field becomes a caching wrapper.
func ExampleDecorate() {
	type Service struct {
		Square func(x int) int                `cachier:"backend=memory"`
		Upper  func(s string) (string, error) `cachier:"backend=memory,stale_after=1h"`
		Plain  func(x int) int                // no tag: left alone
	}
	calls := 0
	svc := Service{
		Square: func(x int) int { calls++; return x * x },
		Upper:  func(s string) (string, error) { return strings.ToUpper(s), nil },
		Plain:  func(x int) int { return x },
	}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err)
	}
	fmt.Println(svc.Square(4), svc.Square(4), calls)
	// Output: 16 16 1
}

// A func variable is configured with Tag.
func ExampleTag() {
	calls := 0
	double := func(x int) int { calls++; return 2 * x }
	if err := cachier.Decorate(&double, cachier.Tag("backend=memory,name=example.double")); err != nil {
		log.Fatal(err)
	}
	fmt.Println(double(21), double(21), calls)
	// Output: 42 42 1
}

// Configuration errors name the field, the key and the value.
func ExampleTagError() {
	type Service struct {
		Fetch func(url string) ([]byte, error) `cachier:"stale_afer=72h"`
	}
	svc := Service{Fetch: func(string) ([]byte, error) { return nil, nil }}
	err := cachier.Decorate(&svc)
	var te *cachier.TagError
	fmt.Println(errors.As(err, &te), te.Key)
	fmt.Println(err)
	// Output:
	// true stale_afer
	// cachier: Service.Fetch: stale_afer="72h": unknown key; did you mean "stale_after"?
}

// Of returns the management handle of a decorated function.
func ExampleOf() {
	calls := 0
	lookup := func(ctx context.Context, id int) (string, error) { calls++; return fmt.Sprint("user-", id), nil }
	if err := cachier.Decorate(&lookup, cachier.Tag("backend=memory,name=example.lookup")); err != nil {
		log.Fatal(err)
	}
	h, err := cachier.Of(&lookup)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	_ = h.Precache(ctx, "admin", 0) // stored without calling the function
	v, _ := lookup(ctx, 0)
	fmt.Println(v, calls)
	_ = h.ClearCache(ctx)
	v, _ = lookup(ctx, 0)
	fmt.Println(v, calls)
	// Output:
	// admin 0
	// user-0 1
}

func counted() (func(ctx context.Context, x int) (int, error), *int) {
	calls := new(int)
	return func(ctx context.Context, x int) (int, error) { *calls++; return *calls, nil }, calls
}

// WithMaxAge makes entries older than the given age stale for one call.
func ExampleWithMaxAge() {
	f, _ := counted()
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=example.maxage")); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	a, _ := f(ctx, 1)
	b, _ := f(cachier.WithMaxAge(ctx, time.Hour), 1) // young enough
	c, _ := f(cachier.WithMaxAge(ctx, -1), 1)        // negative: stale now
	fmt.Println(a, b, c)
	// Output: 1 1 2
}

// With next_time a stale entry is returned at once and refreshed in the
// background; WaitBackground waits for the refresh to be stored.
func ExampleWaitBackground() {
	f, _ := counted()
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=example.wait,next_time")); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	a, _ := f(ctx, 1)
	b, _ := f(cachier.WithMaxAge(ctx, -1), 1) // stale: the old value, a refresh behind
	if err := cachier.WaitBackground(ctx); err != nil {
		log.Fatal(err)
	}
	c, _ := f(ctx, 1) // the refreshed entry
	fmt.Println(a, b, c)
	// Output: 1 1 2
}

// WithSkipCache bypasses the cache for one call.
func ExampleWithSkipCache() {
	f, _ := counted()
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=example.skip")); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	a, _ := f(ctx, 1)
	b, _ := f(cachier.WithSkipCache(ctx), 1)
	c, _ := f(ctx, 1)
	fmt.Println(a, b, c)
	// Output: 1 2 1
}

// WithOverwriteCache recomputes and replaces the cached result.
func ExampleWithOverwriteCache() {
	f, _ := counted()
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=example.overwrite")); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	a, _ := f(ctx, 1)
	b, _ := f(cachier.WithOverwriteCache(ctx), 1)
	c, _ := f(ctx, 1)
	fmt.Println(a, b, c)
	// Output: 1 2 2
}

// WithAllowNone caches a nil result for one call.
func ExampleWithAllowNone() {
	calls := 0
	find := func(ctx context.Context, id int) (*string, error) { calls++; return nil, nil }
	if err := cachier.Decorate(&find, cachier.Tag("backend=memory,name=example.none")); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	find(ctx, 1)
	find(ctx, 1) // nil is not cached by default
	find(cachier.WithAllowNone(ctx), 1)
	find(cachier.WithAllowNone(ctx), 1) // cached, and served, under WithAllowNone
	fmt.Println(calls)
	// Output: 3
}

// WithVerbose logs every decision of one call through log/slog.
func ExampleWithVerbose() {
	old := slog.Default()
	defer slog.SetDefault(old)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == "time" || a.Key == "key" || a.Key == "func" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	})))
	f, _ := counted()
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=example.verbose")); err != nil {
		log.Fatal(err)
	}
	ctx := cachier.WithVerbose(context.Background())
	f(ctx, 1)
	// Output:
	// level=INFO msg="cachier: not found"
	// level=INFO msg="cachier: stored"
}
