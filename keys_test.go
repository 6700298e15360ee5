package cachier_test

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
)

// xxh3Colliding is hashing's XXH3Colliding (see collision_test.go there):
// two 4 KiB arguments, 8 bytes apart, that shared one XXH3-128 key.
func xxh3Colliding() (a, b []byte) {
	const prefix = 11
	mk := func(h1, h2 byte) []byte {
		p := make([]byte, 4096)
		copy(p[64-prefix:], []byte{0x7c, 0x01, 0x81, 0x2c, h1, 0, 0, 0})
		copy(p[128-prefix:], []byte{0xde, 0xd4, 0x6d, 0xe9, h2, 0, 0, 0})
		return p
	}
	return mk(5, 5), mk(6, 4)
}

// A caller who chooses arguments cannot make another caller's arguments
// hit its entry.
func TestCraftedCollisionDoesNotServeAnotherResult(t *testing.T) {
	for _, backend := range []string{"memory", "file"} {
		t.Run(backend, func(t *testing.T) {
			reset(t)
			tag := "backend=" + backend + ",name=test.collision." + backend
			if backend == "file" {
				tag += ",cache_dir=" + t.TempDir()
			}
			f := func(b []byte) int { return int(b[64-11+4]) } // 5 for a, 6 for b
			if err := cachier.Decorate(&f, cachier.Tag(tag)); err != nil {
				t.Fatal(err)
			}
			a, b := xxh3Colliding()
			if got := f(a); got != 5 {
				t.Fatalf("f(a) = %d", got)
			}
			if got := f(b); got != 6 {
				t.Fatalf("f(b) = %d, want 6: b was served a's result", got)
			}
		})
	}
}

type cyclic struct {
	Name string
	Next *cyclic
}

// A cyclic argument cannot be keyed: the call runs uncached, logged once,
// and the process survives.
func TestCyclicArgumentRunsUncached(t *testing.T) {
	reset(t)
	logs := testenv.CaptureLogs(t)
	var calls atomic.Int64
	f := func(x any) int { calls.Add(1); return 1 }
	g := func(c *cyclic) int { calls.Add(1); return 2 }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=test.cyclic.any")); err != nil {
		t.Fatal(err)
	}
	if err := cachier.Decorate(&g, cachier.Tag("backend=memory,name=test.cyclic.ptr")); err != nil {
		t.Fatal(err)
	}
	s := []any{nil}
	s[0] = s
	c := &cyclic{Name: "c"}
	c.Next = c
	for range 3 {
		if f(s) != 1 || g(c) != 2 {
			t.Fatal("wrong result")
		}
	}
	if n := calls.Load(); n != 6 {
		t.Errorf("%d calls, want 6 (every call uncached)", n)
	}
	if n := strings.Count(logs.String(), "cannot compute the key"); n != 2 {
		t.Errorf("%d log lines name the cycle, want one per function:\n%s", n, logs)
	}
	runtime.KeepAlive(&f)
}

// Memory hits borrow their key from a pooled buffer: concurrent hits and
// misses of many keys each get their own result, and the keys kept by
// misses are not overwritten by later calls' buffers.
func TestBorrowedKeysStayApart(t *testing.T) {
	reset(t)
	f := func(a, b int) int { return a*1000 + b }
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=test.borrowed")); err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for i := range 2000 {
				a, b := (i+g)%97, i%13
				ok = ok && f(a, b) == a*1000+b
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Fatal("a call got another key's result")
		}
	}
	for a := range 97 {
		for b := range 13 {
			if got := f(a, b); got != a*1000+b {
				t.Fatalf("f(%d, %d) = %d", a, b, got)
			}
		}
	}
}
