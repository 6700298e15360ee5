package filestore

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// inChild runs the test named name again in a child process, with
// FILESTORE_CHILD set, and fails when the child fails: what the test does
// may crash the process (a fault outside the store's guards), and a crash
// must fail this test, not take every other test down with it. It reports
// whether the caller is the child, which then runs the test's body.
func inChild(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv("FILESTORE_CHILD") == name {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), "FILESTORE_CHILD="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the test's process failed (%v):\n%s", err, out)
	}
	return false
}

// TestLockFileTruncated: a lock file truncated under the mappings of its
// change counter (by a person, a clean-up tool, another program), to
// nothing or to part of the counter, makes neither a reader's Get nor a
// writer's Set fault: both go on serving the right values, and the
// writer's next write puts a counter back that readers use again.
func TestLockFileTruncated(t *testing.T) {
	if !canMap {
		t.Skip("no change counter on this system")
	}
	if !inChild(t, "TestLockFileTruncated") {
		return
	}
	trustCounter(t)
	for _, size := range []int64{0, 1, 3, seqLen - 1} {
		t.Run(fmt.Sprintf("to%d", size), func(t *testing.T) {
			testLockFileTruncated(t, size)
		})
	}
}

func testLockFileTruncated(t *testing.T, size int64) {
	dir := t.TempDir()
	const fn = "pkg.F"
	w := newStore(t, dir, Options{}) // writes, and reads through its writable mapping
	r := newStore(t, dir, Options{}) // only reads, through a read-only mapping
	mustSet(t, w, fn, keyN(1), "one")
	for _, s := range []*Store{w, r} {
		if got := value(t, s, fn, keyN(1)); got != "one" {
			t.Fatalf("before: %q, want one", got)
		}
		if s.state(fn).seq == nil {
			t.Fatal("the counter is not mapped")
		}
	}
	lockPath := w.state(fn).lockPath
	truncate := func() {
		t.Helper()
		if err := os.Truncate(lockPath, size); err != nil {
			t.Fatal(err)
		}
	}
	restored := func(when string) {
		t.Helper()
		fi, err := os.Stat(lockPath)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() < seqLen {
			t.Fatalf("%s: the lock file has %d bytes: the writer did not put the %d of the counter back", when, fi.Size(), seqLen)
		}
	}
	// A write with the counter still mapped: counting through the mapping
	// would reach no byte of the file beyond its end.
	truncate()
	mustSet(t, w, fn, keyN(3), "zero")
	restored("a write through the writer's mapping")
	for _, s := range []*Store{w, r} {
		if got := value(t, s, fn, keyN(3)); got != "zero" {
			t.Fatalf("after a write through the writer's mapping: %q, want zero", got)
		}
	}
	truncate()
	for _, s := range []*Store{w, r} {
		if got := value(t, s, fn, keyN(1)); got != "one" {
			t.Fatalf("after the truncation: %q, want one", got)
		}
	}
	truncate()
	mustSet(t, w, fn, keyN(1), "two")
	mustSet(t, w, fn, keyN(2), "three")
	for _, s := range []*Store{w, r} {
		if got := value(t, s, fn, keyN(1)); got != "two" {
			t.Fatalf("after a write: %q, want two", got)
		}
	}
	restored("a write after the readers dropped their mappings")
	// A reader that maps the counter again sees the writer's changes
	// through it.
	r2 := newStore(t, dir, Options{})
	if got := value(t, r2, fn, keyN(2)); got != "three" {
		t.Fatalf("new reader: %q, want three", got)
	}
	st := r2.state(fn)
	if st.seq == nil {
		t.Fatal("the new reader did not map the counter")
	}
	mustSet(t, w, fn, keyN(2), "four")
	if got := value(t, r2, fn, keyN(2)); got != "four" {
		t.Fatalf("new reader after a write: %q, want four", got)
	}
}

// TestLockFileCutWhileWriting: a lock file cut again and again (to part of
// the counter, and grown back to 8 bytes, zeros after the first) while
// two writers take turns and every store reads after each write: no store
// ever serves the value a write replaced. A writer counting on from what a
// cut left of the counter went through the same small values again, and a
// store that had seen one of them took its old view for current.
func TestLockFileCutWhileWriting(t *testing.T) {
	if !canMap {
		t.Skip("no change counter on this system")
	}
	if !inChild(t, "TestLockFileCutWhileWriting") {
		return
	}
	trustCounter(t)
	dir := t.TempDir()
	const fn = "pkg.F"
	w1 := newStore(t, dir, Options{})
	w2 := newStore(t, dir, Options{})
	r := newStore(t, dir, Options{})
	mustSet(t, w1, fn, keyN(1), "v0")
	lockPath := w1.state(fn).lockPath
	stop := make(chan struct{})
	cutter := make(chan struct{})
	go func() {
		defer close(cutter)
		// Never to 0: the page stays, so that no access faults. (Under the
		// race detector, a cut racing an atomic access to the counter can
		// fault inside the detector's own code, which no guard recovers.)
		sizes := []int64{1, 3, seqLen - 1, seqLen}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.Truncate(lockPath, sizes[i%len(sizes)])
		}
	}()
	defer func() { close(stop); <-cutter }()
	stores := []*Store{w1, w2, r}
	for i := 1; i <= 2000; i++ {
		v := fmt.Sprint("v", i)
		mustSet(t, stores[i%2], fn, keyN(1), v)
		for j, s := range stores {
			if got := value(t, s, fn, keyN(1)); got != v {
				t.Fatalf("write %d: store %d (w1, w2, r) read %q after %q was written", i, j, got, v)
			}
		}
	}
}

// TestLockFileCutCounterRestarts: a writer that finds the counter cut
// (the lock file cut to a byte and grown back to 8, zeros after the first)
// starts a new counter rather than count on from what the cut left, which
// no reader trusts: a reader that maps it trusts it again. The writer has
// its counter mapped, or not (the mapping budget is spent).
func TestLockFileCutCounterRestarts(t *testing.T) {
	if !canMap {
		t.Skip("no change counter on this system")
	}
	trustCounter(t)
	for _, mapped := range []bool{true, false} {
		t.Run(fmt.Sprint("mapped=", mapped), func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.F"
			w := newStore(t, dir, Options{})
			mustSet(t, w, fn, keyN(1), "one")
			if !mapped {
				w.state(fn).unmapSeq()
				withMappingBudget(t, 0)
			}
			lockPath := w.state(fn).lockPath
			for _, size := range []int64{1, seqLen} {
				if err := os.Truncate(lockPath, size); err != nil {
					t.Fatal(err)
				}
			}
			mustSet(t, w, fn, keyN(1), "two")
			b, err := os.ReadFile(lockPath)
			if err != nil || len(b) < seqLen {
				t.Fatalf("lock file after the write: %d bytes, %v", len(b), err)
			}
			if c := binary.LittleEndian.Uint64(b); c < seqFloor {
				t.Fatalf("the writer counted on from the cut counter: %d", c)
			}
			if !mapped {
				if w.state(fn).seq != nil {
					t.Fatal("the writer mapped its counter past the budget")
				}
				withMappingBudget(t, 2) // the reader's counter and log
			}
			r := newStore(t, dir, Options{})
			if got := value(t, r, fn, keyN(1)); got != "two" {
				t.Fatalf("reader: %q, want two", got)
			}
			st := r.state(fn)
			st.mu.Lock()
			current := st.seq != nil && st.current()
			st.mu.Unlock()
			if !current {
				t.Fatal("a reader does not trust the counter the writer put back")
			}
		})
	}
}

// TestCutCounterNotTrusted: a reader never trusts what a cut left of the
// counter, so that the same small value coming back (counted up again by a
// writer that does not start a new counter, an older version of this
// package, say) cannot pass for the count it saw before a change.
func TestCutCounterNotTrusted(t *testing.T) {
	if !canMap {
		t.Skip("no change counter on this system")
	}
	trustCounter(t)
	dir := t.TempDir()
	const fn = "pkg.F"
	w := newStore(t, dir, Options{})
	r := newStore(t, dir, Options{})
	mustSet(t, w, fn, keyN(1), "one")
	value(t, r, fn, keyN(1))
	lockPath := w.state(fn).lockPath
	for _, size := range []int64{1, seqLen} { // one byte of the counter left
		if err := os.Truncate(lockPath, size); err != nil {
			t.Fatal(err)
		}
	}
	cut, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, r, fn, keyN(1)); got != "one" { // the reader sees the cut counter
		t.Fatalf("after the cut: %q, want one", got)
	}
	mustSet(t, w, fn, keyN(1), "two")
	f, err := os.OpenFile(lockPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(cut, 0) // the cut value again
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, r, fn, keyN(1)); got != "two" {
		t.Fatalf("after a write, with the counter back at the cut value: %q, want two", got)
	}
}

// TestClosedHoldsNothing: a Store used after Close (by mistake, or by a
// goroutine still running) fails every operation and holds nothing for it:
// no lock file open, no mapping of a counter or a log, for a function it
// served before Close or one it never saw.
func TestClosedHoldsNothing(t *testing.T) {
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const old, fresh = "pkg.Old", "pkg.Fresh"
			mustSet(t, newStore(t, dir, Options{}), fresh, keyN(1), "other") // a lock file with a counter
			s := newStore(t, dir, l.o)
			mustSet(t, s, old, keyN(1), "one")
			if got := value(t, s, old, keyN(1)); got != "one" {
				t.Fatalf("before Close: %q", got)
			}
			s.Close()
			for _, fn := range []string{old, fresh} {
				s.state(fn).seqTried = time.Time{} // as if a while had passed
				if _, err := s.Get(bg, fn, keyN(1)); err == nil {
					t.Errorf("%s: Get after Close: no error", fn)
				}
				if err := s.Set(bg, fn, keyN(2), entryOf("x")); err == nil {
					t.Errorf("%s: Set after Close: no error", fn)
				}
				if err := s.Clear(bg, fn); err == nil {
					t.Errorf("%s: Clear after Close: no error", fn)
				}
				st := s.state(fn)
				st.mu.Lock()
				if st.lockf != nil || st.seq != nil || st.data != nil || st.f != nil {
					t.Errorf("%s: after Close, the store holds lock file %v, counter mapped %v, log mapped %v, log %v",
						fn, st.lockf != nil, st.seq != nil, st.data != nil, st.f != nil)
				}
				st.mu.Unlock()
			}
		})
	}
}

// TestLockFileRemoved: a lock file removed (rm -rf of the cache directory's
// contents while processes run) or replaced by another file is not
// trusted to exclude anyone: a writer that held the old one takes the
// lock on the file now at its path, so that writers still exclude each
// other, and its changes reach readers through the counter there.
func TestLockFileRemoved(t *testing.T) {
	for _, l := range layouts[:2] {
		t.Run(l.name, func(t *testing.T) {
			trustCounter(t)
			dir := t.TempDir()
			const fn = "pkg.F"
			a := newStore(t, dir, l.o)
			mustSet(t, a, fn, keyN(1), "one") // a opens the lock file
			lockPath := a.state(fn).lockPath
			last := "one"
			for _, replace := range []bool{false, true} {
				if err := os.Remove(lockPath); err != nil {
					t.Fatal(err)
				}
				if replace {
					if err := os.WriteFile(lockPath, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				b := newStore(t, dir, Options{SeparateFiles: l.o.SeparateFiles, Timeout: 50 * time.Millisecond})
				mustSet(t, b, fn, keyN(2), "two") // b opens the file now at the path
				if got := value(t, b, fn, keyN(1)); got != last {
					t.Fatalf("b reads %q, want %q", got, last)
				}
				release, err := a.state(fn).acquire(bg)
				if err != nil {
					t.Fatal(err)
				}
				releaseB, err := b.state(fn).acquire(bg)
				release()
				if err == nil {
					releaseB()
					t.Fatalf("replaced %v: b took the lock while a held it", replace)
				}
				last = fmt.Sprint("three", replace)
				mustSet(t, a, fn, keyN(1), last)
				if got := value(t, b, fn, keyN(1)); got != last {
					t.Fatalf("replaced %v: b reads %q after a's write, want %q", replace, got, last)
				}
			}
		})
	}
}
