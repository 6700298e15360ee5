// Command service shows cachier on a service struct: several functions,
// each with its own policy in its tag, decorated once at start-up, with
// per-call controls and the management handle.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
)

// Query is a structured argument: cachier keys it by value, map order and
// all.
type Query struct {
	Table   string
	Filters map[string]string
	Limit   int
}

// Service groups the slow calls of an application.
type Service struct {
	// Cached in files for 72 hours: survives restarts.
	Fetch func(ctx context.Context, url string) ([]byte, error) `cachier:"stale_after=72h"`
	// Cached per process, in memory.
	Sum func(a, b int) int `cachier:"backend=memory"`
	// Stale after 10 minutes; a stale value is returned at once while a
	// fresh one is computed in the background.
	Search func(ctx context.Context, q Query) ([]string, error) `cachier:"backend=memory,stale_after=10m,next_time"`
	// No tag: left alone.
	Plain func(x int) int
}

func main() {
	dir, cleanup := tempDir()
	defer cleanup()
	// Global defaults, like Python cachier's set_default_params.
	if err := defaults.Set("cache_dir=" + dir); err != nil {
		log.Fatal(err)
	}

	var fetches, searches int
	svc := Service{
		Fetch: func(ctx context.Context, url string) ([]byte, error) {
			fetches++
			if strings.HasPrefix(url, "bad:") {
				return nil, errors.New("unreachable") // errors are never cached
			}
			return []byte("<html>" + url + "</html>"), nil
		},
		Sum: func(a, b int) int { return a + b },
		Search: func(ctx context.Context, q Query) ([]string, error) {
			searches++
			return []string{q.Table + ":1", q.Table + ":2"}, nil
		},
		Plain: func(x int) int { return x * x },
	}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err) // every configuration problem surfaces here
	}

	ctx := context.Background()
	svc.Fetch(ctx, "https://example.com")
	svc.Fetch(ctx, "https://example.com")
	svc.Fetch(ctx, "bad:host")
	svc.Fetch(ctx, "bad:host")
	fmt.Println("fetches (2 URLs, one failing, each asked twice):", fetches)

	q1 := Query{Table: "users", Filters: map[string]string{"a": "1", "b": "2"}, Limit: 10}
	q2 := Query{Table: "users", Filters: map[string]string{"b": "2", "a": "1"}, Limit: 10}
	svc.Search(ctx, q1)
	svc.Search(ctx, q2) // the same query: maps compare by content
	fmt.Println("searches for two equal queries:", searches)

	svc.Search(cachier.WithSkipCache(ctx), q1)         // bypass the cache
	svc.Search(cachier.WithOverwriteCache(ctx), q1)    // recompute and store
	svc.Search(cachier.WithMaxAge(ctx, time.Hour), q1) // fresh enough: cached
	fmt.Println("searches after skip and overwrite:", searches)

	h, _ := cachier.Of(&svc.Fetch)
	fmt.Println("Fetch's cache identity:", h.Name())
	if err := h.ClearCache(ctx); err != nil {
		log.Fatal(err)
	}
	svc.Fetch(ctx, "https://example.com")
	fmt.Println("fetches after ClearCache:", fetches)
}
