package cachier_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
)

// TestNoResultIsNone: a function with no result besides an optional error
// returns "None" when it succeeds, so by default it is not cached and its
// side effect runs at every call; allow_none (tag or WithAllowNone) caches
// it. Before the fix the side effect silently ran once for two calls.
func TestNoResultIsNone(t *testing.T) {
	for _, backend := range []string{"memory", "file"} {
		t.Run(backend, func(t *testing.T) {
			reset(t)
			tag := func(name string, extra ...string) cachier.Option {
				s := "backend=" + backend + ",name=core.none." + backend + "." + name
				for _, e := range extra {
					s += "," + e
				}
				if backend == "file" {
					s += ",cache_dir=" + t.TempDir()
				}
				return runTag(s)
			}
			var sent atomic.Int64
			send := func(ctx context.Context, x int) error { sent.Add(1); return nil }
			if err := cachier.Decorate(&send, tag("send")); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := send(ctx, 1); err != nil {
					t.Fatal(err)
				}
			}
			if sent.Load() != 2 {
				t.Fatalf("func(ctx, int) error: side effect ran %d times for 2 calls, want 2", sent.Load())
			}

			var touched atomic.Int64
			touch := func(x int) { touched.Add(1) }
			if err := cachier.Decorate(&touch, tag("touch")); err != nil {
				t.Fatal(err)
			}
			touch(1)
			touch(1)
			if touched.Load() != 2 {
				t.Fatalf("func(int): side effect ran %d times for 2 calls, want 2", touched.Load())
			}

			// allow_none in the tag caches the success.
			var kept atomic.Int64
			keep := func(x int) { kept.Add(1) }
			if err := cachier.Decorate(&keep, tag("keep", "allow_none")); err != nil {
				t.Fatal(err)
			}
			keep(1)
			keep(1)
			if kept.Load() != 1 {
				t.Fatalf("func(int) with allow_none: ran %d times for 2 calls, want 1", kept.Load())
			}

			// WithAllowNone caches it per call; an error is never cached.
			var tried atomic.Int64
			fail := errors.New("nope")
			try := func(ctx context.Context, x int) error {
				tried.Add(1)
				if x < 0 {
					return fail
				}
				return nil
			}
			if err := cachier.Decorate(&try, tag("try")); err != nil {
				t.Fatal(err)
			}
			an := cachier.WithAllowNone(ctx)
			for range 2 {
				if err := try(an, 1); err != nil {
					t.Fatal(err)
				}
				if err := try(an, -1); !errors.Is(err, fail) {
					t.Fatalf("got %v, want the function's error", err)
				}
			}
			if tried.Load() != 3 {
				t.Fatalf("WithAllowNone: %d calls, want 3 (the success cached, the error not)", tried.Load())
			}
		})
	}
}
