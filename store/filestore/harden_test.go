package filestore

import (
	"fmt"
	"os"
	"testing"
)

// countEntries counts the keys 0..n-1 a fresh store finds in fn.
func countEntries(t *testing.T, dir string, o Options, fn string, n int) (found int) {
	t.Helper()
	s := newStore(t, dir, o)
	for i := range n {
		if value(t, s, fn, keyN(i)) != "<miss>" {
			found++
		}
	}
	return found
}

// TestTruncatedThenRegrownLog: a log truncated in place (by a tool, a
// restore, a full disk) and then regrown by another process's writes past
// the offset a store remembers must not make that store read from inside
// another's record and truncate the log there, losing what was written
// after the truncation. The other writer is a real child process.
func TestTruncatedThenRegrownLog(t *testing.T) {
	dir := t.TempDir()
	const fn = "pkg.Truncated"
	a := newStore(t, dir, Options{})
	for i := range 10 {
		mustSet(t, a, fn, keyN(i), fmt.Sprint("a", i, "-padding-padding-padding"))
	}
	st := a.state(fn)
	st.mu.Lock()
	cut := st.index[keyN(2)].off + st.index[keyN(2)].n // keep records 0..2
	st.mu.Unlock()
	if err := os.Truncate(st.logPath, cut); err != nil {
		t.Fatal(err)
	}
	// Another process regrows the log well past a's remembered offset.
	if err := helper(t, "setmany", helperArgs{Dir: dir, Fn: fn, Keys: 31, Version: 100, Value: "b"}).Run(); err != nil {
		t.Fatal(err)
	}
	// a writes again: it must notice the log is not what it read.
	mustSet(t, a, fn, keyN(200), "a-after")
	s := newStore(t, dir, Options{})
	lost := 0
	for i := 100; i < 131; i++ {
		if got, want := value(t, s, fn, keyN(i)), fmt.Sprint("b", i); got != want {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of the 31 entries written after the truncation are lost", lost)
	}
	if got := value(t, s, fn, keyN(200)); got != "a-after" {
		t.Errorf("the write after the regrowth reads %q", got)
	}
	for i := range 3 {
		if got, want := value(t, s, fn, keyN(i)), fmt.Sprint("a", i, "-padding-padding-padding"); got != want {
			t.Errorf("key %d, kept by the truncation, reads %q", i, got)
		}
	}
	// And a, which remembers the old offsets, reads the other process's
	// entries, not garbage.
	for i := 100; i < 131; i++ {
		if got, want := value(t, a, fn, keyN(i)), fmt.Sprint("b", i); got != want {
			t.Fatalf("the store that saw the truncation reads key %d as %q, want %q", i, got, want)
		}
	}
}

// TestTruncatedThenRegrownToSameSize: a log truncated in place and
// regrown by another process to exactly the size a reader last saw looks
// unchanged to a stat; the reader's Get, finding another record where it
// expects its entry, reads the log again instead of losing the entry.
func TestTruncatedThenRegrownToSameSize(t *testing.T) {
	dir := t.TempDir()
	const fn = "pkg.SameSize"
	a := newStore(t, dir, Options{})
	for i := range 4 {
		mustSet(t, a, fn, keyN(i), fmt.Sprint("v", i))
	}
	st := a.state(fn)
	if err := os.Truncate(st.logPath, logHeader); err != nil {
		t.Fatal(err)
	}
	// Same-sized records in another order, written by another process.
	for _, i := range []int{3, 2, 1, 0} {
		if err := helper(t, "set", helperArgs{Dir: dir, Fn: fn, Key: keyN(i), Value: fmt.Sprint("w", i)}).Run(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if got, want := value(t, a, fn, keyN(i)), fmt.Sprint("w", i); got != want {
			t.Errorf("key %d reads %q, want %q", i, got, want)
		}
	}
}
