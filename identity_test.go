package cachier_test

import (
	"errors"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/store"
)

// adder is a factory of closures: every closure it returns has the same
// runtime name (…adder.func1) but adds a different n.
func adder(n int) func(int) int {
	return func(x int) int { return x + n }
}

func TestTwoClosuresOfOneFactoryDoNotShareACache(t *testing.T) {
	reset(t)
	plus1, plus2 := adder(1), adder(2)
	err := cachier.Decorate(&plus1, cachier.Tag("backend=memory"))
	var te *cachier.TagError
	if !errors.As(err, &te) || te.Key != "name" || !strings.Contains(err.Error(), "name=") {
		t.Fatalf("decorating a closure without name=: %v, want a TagError on name saying why", err)
	}
	// With names they are two functions with two caches.
	if err := cachier.Decorate(&plus1, cachier.Tag("backend=memory,name=test.plus1")); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&plus2, cachier.Tag("backend=memory,name=test.plus2")); err != nil {
		t.Fatal(err)
	}
	if a, b := plus1(10), plus2(10); a != 11 || b != 12 {
		t.Fatalf("plus1(10)=%d plus2(10)=%d, want 11 and 12", a, b)
	}
}

// Method values (receiver bound) have no stable name either: two clients'
// Get methods share the name client.Get-fm.
type client struct{ tenant string }

func (c *client) Get(id int) string { return c.tenant + ":" + strconv.Itoa(id) }

func TestMethodValueNeedsName(t *testing.T) {
	reset(t)
	a := &client{"A"}
	get := a.Get
	err := cachier.Decorate(&get, cachier.Tag("backend=memory"))
	var te *cachier.TagError
	if !errors.As(err, &te) || te.Key != "name" {
		t.Fatalf("decorating a method value without name=: %v, want a TagError on name", err)
	}
}

type tenantClient struct {
	Get func(id int) string `cachier:"backend=memory"`
}

func TestTwoInstancesWithDifferentFuncsNeedDistinctIdentities(t *testing.T) {
	reset(t)
	a := tenantClient{Get: func(id int) string { return "tenant A's document" }}
	b := tenantClient{Get: func(id int) string { return "tenant B's document" }}
	if err := cachier.Decorate(&a); err != nil {
		t.Fatal(err)
	}
	a.Get(1)
	err := cachier.Decorate(&b)
	if err == nil {
		t.Fatalf("B decorated under A's identity; B.Get(1) = %q", b.Get(1))
	}
	for _, want := range []string{"tenantClient.Get", "key_prefix=", "name="} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	var te *cachier.TagError
	if !errors.As(err, &te) {
		t.Errorf("error %v is not a *TagError", err)
	}
	if err := cachier.Decorate(&b, cachier.Tag("key_prefix=tenantB")); err != nil {
		t.Fatal(err)
	}
	if got := b.Get(1); got != "tenant B's document" {
		t.Fatalf("B.Get(1) = %q", got)
	}
	// name= shares deliberately.
	c := tenantClient{Get: func(id int) string { return "c" }}
	if err := cachier.Decorate(&c, cachier.Tag("name=test.shared")); err != nil {
		t.Fatal(err)
	}
	d := tenantClient{Get: func(id int) string { return "d" }}
	if err := cachier.Decorate(&d, cachier.Tag("name=test.shared")); err != nil {
		t.Fatalf("sharing deliberately with name=: %v", err)
	}
	runtime.KeepAlive(&a)
	runtime.KeepAlive(&c)
}

func TestSameTopLevelFunctionDecoratedAgain(t *testing.T) {
	reset(t)
	f1, f2 := add, add
	if err := cachier.Decorate(&f1, cachier.Tag("backend=memory")); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&f2, cachier.Tag("backend=memory")); err != nil {
		t.Fatalf("the same function again: %v", err)
	}
	s1, s2 := tenantClient{Get: itoaDoc}, tenantClient{Get: itoaDoc}
	if err := cachier.Decorate(&s1); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&s2); err != nil {
		t.Fatalf("two instances holding the same function: %v", err)
	}
	runtime.KeepAlive(&f1)
	runtime.KeepAlive(&s1)
}

func itoaDoc(id int) string { return "doc" + strconv.Itoa(id) }

func TestIdentityPartsNeverRunTogether(t *testing.T) {
	reset(t)
	name := func(spec string) string {
		f := add
		if err := cachier.Decorate(&f, cachier.Tag("backend=memory,"+spec)); err != nil {
			t.Fatal(err)
		}
		h, err := cachier.Of(&f)
		if err != nil {
			t.Fatal(err)
		}
		return h.Name()
	}
	for _, pair := range [][2]string{
		{"key_prefix=app,name=X:x", "key_prefix=app:X,name=x"},
		{"name=x@1,version=2", "name=x,version=1@2"},
		{"name=x#1", "name=x,version=#1"},
		{"name=a%3Ab", "name=a:b"},
		{"key_prefix=a@b,name=c", "key_prefix=a,name=@b:c"},
	} {
		a, b := name(pair[0]), name(pair[1])
		if a == b {
			t.Errorf("%q and %q give one identity %q", pair[0], pair[1], a)
		}
	}
	// The agreed format: the escaped key_prefix is everything before the
	// first ':', and plain names are unchanged.
	got := name("key_prefix='ap:p',name=example.com/svc.Service.Fetch,version=v2")
	if pre, rest, _ := strings.Cut(got, ":"); pre != "ap%3Ap" || !strings.HasPrefix(rest, "example.com/svc.Service.Fetch@v2#") {
		t.Errorf("identity %q: want ap%%3Ap:example.com/svc.Service.Fetch@v2#…", got)
	}
	if got := name("name=plain"); strings.Contains(got, ":") {
		t.Errorf("identity %q without key_prefix holds a ':'", got)
	}
}

// A program's package main is replaced by its main package path, so that
// two programs' main.Service.Fetch never share entries; and func literals
// need name= whether the program is built with inlining or without.
func TestMainPackageIsQualified(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	for _, flags := range []string{"", "-l"} {
		out, err := exec.Command("go", "run", "-gcflags="+flags, "./testdata/mainident").CombinedOutput()
		if err != nil {
			t.Fatalf("go run -gcflags=%s: %v\n%s", flags, err, out)
		}
		const pkg = "github.com/cachier-go/cachier/testdata/mainident"
		for _, want := range []string{pkg + ".Service.Fetch#", pkg + ".fetch#"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("-gcflags=%s: identities %q: want one starting %q", flags, out, want)
			}
		}
		if strings.Contains(string(out), "\nmain.") || strings.HasPrefix(string(out), "main.") {
			t.Errorf("-gcflags=%s: identities %q still say main.", flags, out)
		}
		if n := strings.Count(string(out), "literal: true"); n != 2 {
			t.Errorf("-gcflags=%s: %d of 2 func literals refused without name=:\n%s", flags, n, out)
		}
	}
}

// TestDroppedFunctionsAreCollected decorates 20,000 closures, each holding
// a buffer, drops them, and checks that the garbage collector takes the
// buffers back and that their identities are free again.
func TestDroppedFunctionsAreCollected(t *testing.T) {
	reset(t)
	const n = 20000
	var freed atomic.Int64
	dropped := func() (k int) { // live handles of this test's functions
		for _, h := range cachier.Handles() {
			if strings.HasPrefix(h.Name(), "test.dropped.") {
				k++
			}
		}
		return k
	}
	func() {
		fs := make([]func(int) int, n) // all live until this func returns
		for i := range fs {
			buf := make([]byte, 1024)
			runtime.AddCleanup(&buf[0], func(*atomic.Int64) { freed.Add(1) }, &freed)
			fs[i] = func(x int) int { return x + int(buf[0]) }
			if err := cachier.Decorate(&fs[i], cachier.Tag("backend=memory,name=test.dropped."+strconv.Itoa(i))); err != nil {
				t.Fatal(err)
			}
			fs[i](1)
		}
		if got := dropped(); got != n {
			t.Fatalf("Handles lists %d of the %d live functions", got, n)
		}
	}()
	for i := 0; i < 50 && freed.Load() < n; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if got := freed.Load(); got < n {
		t.Fatalf("%d of %d captured buffers collected after 50 GCs: dropped decorated functions are kept alive", got, n)
	}
	for i := 0; i < 50 && dropped() > 0; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if got := dropped(); got > 0 {
		t.Errorf("Handles lists %d dropped functions", got)
	}

	// An identity held by a dropped function is free again.
	func() {
		a := tenantClient{Get: func(id int) string { return "A" }}
		if err := cachier.Decorate(&a); err != nil {
			t.Fatal(err)
		}
	}()
	b := tenantClient{Get: func(id int) string { return "B" }}
	if err := cachier.Decorate(&b); err != nil {
		t.Fatalf("the identity of a dropped function: %v", err)
	}
	c := tenantClient{Get: func(id int) string { return "C" }}
	if err := cachier.Decorate(&c); err == nil {
		t.Fatal("a live function's identity was taken by another")
	}
	runtime.KeepAlive(&b)
}

func TestHandlesListsLiveFunctions(t *testing.T) {
	reset(t)
	f := add
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=test.handles")); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	found := false
	for _, g := range cachier.Handles() {
		found = found || g == h
	}
	if !found {
		t.Error("Handles does not list a live decorated function")
	}
	runtime.KeepAlive(&f)
}

// store.KeyPrefix reads back the escaped key_prefix of an identity.
func TestKeyPrefixOfIdentities(t *testing.T) {
	reset(t)
	for prefix, want := range map[string]string{"": "", "app": "app", "a:b@c#d%e": "a%3Ab%40c%23d%25e"} {
		f := add
		spec := "backend=memory,name=x:y"
		if prefix != "" {
			spec += ",key_prefix='" + prefix + "'"
		}
		if err := cachier.Decorate(&f, cachier.Tag(spec)); err != nil {
			t.Fatal(err)
		}
		h, _ := cachier.Of(&f)
		if got := store.KeyPrefix(h.Name()); got != want {
			t.Errorf("key_prefix %q: identity %q, KeyPrefix %q, want %q", prefix, h.Name(), got, want)
		}
	}
}
