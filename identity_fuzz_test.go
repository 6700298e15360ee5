package cachier

import (
	"strings"
	"testing"
)

// FuzzIdentityInjective: two different (key_prefix, name, version) triples
// never give one identity, and the escaped key_prefix is everything before
// the first ':'.
func FuzzIdentityInjective(f *testing.F) {
	f.Add("app", "X:x", "", "app:X", "x", "")
	f.Add("", "x@1", "2", "", "x", "1@2")
	f.Add("a%3Ab", "n", "", "a:b", "n", "")
	f.Add("", "x#1", "", "", "x", "#1")
	f.Fuzz(func(t *testing.T, p1, q1, v1, p2, q2, v2 string) {
		a, b := identity(p1, q1, v1, "fp"), identity(p2, q2, v2, "fp")
		if (a == b) != (p1 == p2 && q1 == q2 && v1 == v2) {
			t.Fatalf("(%q, %q, %q) -> %q; (%q, %q, %q) -> %q", p1, q1, v1, a, p2, q2, v2, b)
		}
		pre, _, has := strings.Cut(a, ":")
		if has != (p1 != "") || has && pre != escapePart(p1) {
			t.Fatalf("identity %q of prefix %q", a, p1)
		}
	})
}

// FuzzIsClosure: isClosure never panics, and names of top-level functions
// and methods are not closures.
func FuzzIsClosure(f *testing.F) {
	for _, s := range []string{"main.f", "example.com/a.B.func1", "p.T.M-fm", "p.F[...].func2.1", "p.(*T).M", "a/b.c[x/y.z].d", "[", "]]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		_ = isClosure(name)
	})
}
