package cachier_test

import (
	"context"
	"testing"
)

func init() {
	scenarios = append(scenarios,
		struct {
			name string
			run  func(t *testing.T, e *env)
		}{"Forget", scForget},
		struct {
			name string
			run  func(t *testing.T, e *env)
		}{"ForgetBadArguments", scForgetBadArguments},
	)
}

// scForget: Forget drops the one entry of its arguments, given all of them
// or only the key ones, as Precache takes them; the function's other
// entries stay, and forgetting what is not cached is no error.
func scForget(t *testing.T, e *env) {
	var c counter
	f := func(ctx context.Context, a string, b int) (int64, error) { return c.n.Add(1), nil }
	h := e.decorate(&f, "")
	for _, a := range []string{"x", "y", "z"} {
		f(bg, a, 1)
	}
	e.wantCalls(&c, 3)

	if err := h.Forget(bg, "x", 1); err != nil { // the key arguments only
		t.Fatalf("Forget(key arguments): %v", err)
	}
	if err := h.Forget(bg, bg, "y", 1); err != nil { // all arguments
		t.Fatalf("Forget(all arguments): %v", err)
	}
	if err := h.Forget(bg, "never", 9); err != nil {
		t.Fatalf("Forget of an argument list never cached: %v", err)
	}
	f(bg, "z", 1) // still cached
	e.wantCalls(&c, 3)
	if v, _ := f(bg, "x", 1); v != 4 {
		t.Fatalf("f(x, 1) after Forget = %d, want a fresh result (4)", v)
	}
	if v, _ := f(bg, "y", 1); v != 5 {
		t.Fatalf("f(y, 1) after Forget = %d, want a fresh result (5)", v)
	}
	f(bg, "x", 1)
	f(bg, "y", 1)
	e.wantCalls(&c, 5) // the fresh results are cached again

	// A precached value is forgotten like a computed one.
	if err := h.Precache(bg, int64(100), "p", 2); err != nil {
		t.Fatal(err)
	}
	if v, _ := f(bg, "p", 2); v != 100 {
		t.Fatalf("precached value not served: %d", v)
	}
	if err := h.Forget(bg, "p", 2); err != nil {
		t.Fatal(err)
	}
	if v, _ := f(bg, "p", 2); v != 6 {
		t.Fatalf("f(p, 2) after Forget of a precached value = %d, want 6", v)
	}
}

// scForgetBadArguments: arguments that cannot make the key are an error
// naming the problem, and forget nothing.
func scForgetBadArguments(t *testing.T, e *env) {
	var c counter
	f := func(a string, b int) int64 { return c.n.Add(1) }
	h := e.decorate(&f, "")
	f("x", 1)
	if err := h.Forget(bg, "x"); err == nil {
		t.Error("Forget with too few arguments succeeded")
	}
	if err := h.Forget(bg, "x", 1, 2); err == nil {
		t.Error("Forget with too many arguments succeeded")
	}
	if err := h.Forget(bg, 1, "x"); err == nil {
		t.Error("Forget with arguments of the wrong types succeeded")
	}
	f("x", 1)
	e.wantCalls(&c, 1)
}
