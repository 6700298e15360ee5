package filestore

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// held returns the entries and value bytes fn holds, as a fresh store
// lists them.
func held(t *testing.T, dir string, o Options, fn string) (entries, bytes int64) {
	t.Helper()
	fis, err := newStore(t, dir, o).Functions(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, fi := range fis {
		if fi.Function == fn {
			return fi.Entries, fi.Bytes
		}
	}
	return 0, 0
}

// TestBoundEntries: with max_entries 10, a function never holds more than
// 10 entries after any write, and the entries evicted are the least
// recently used: a key read between writes survives, the oldest unread
// ones go.
func TestBoundEntries(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.Bounded"
			s := newStore(t, dir, l.o)
			s.Bound(fn, 10, 0)
			for i := range 40 {
				mustSet(t, s, fn, keyN(i), fmt.Sprint("value ", i))
				if got := value(t, s, fn, keyN(0)); got != "value 0" {
					t.Fatalf("after %d writes, the key read after every write reads %q", i+1, got)
				}
				if n, _ := held(t, dir, l.o, fn); n > 10 {
					t.Fatalf("after %d writes the function holds %d entries, more than max_entries 10", i+1, n)
				}
			}
			if got := value(t, s, fn, keyN(1)); got != "<miss>" {
				t.Errorf("key 1, written early and never read, was not evicted: %q", got)
			}
			if got := value(t, s, fn, keyN(39)); got != "value 39" {
				t.Errorf("the last write reads %q", got)
			}
		})
	}
}

// TestBoundBytes: with max_size 1000, the values a function holds never
// add up to more than 1000 bytes, and a value larger than the whole bound
// is refused, keeping what was there.
func TestBoundBytes(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.BoundedBytes"
			s := newStore(t, dir, l.o)
			s.Bound(fn, 0, 1000)
			v := make([]byte, 100)
			for i := range 30 {
				if err := s.Set(bg, fn, keyN(i), store.Entry{Value: v, Time: time.Now()}); err != nil {
					t.Fatal(err)
				}
				if n, b := held(t, dir, l.o, fn); b > 1000 {
					t.Fatalf("after %d writes the function holds %d entries, %d bytes, more than max_size 1000", i+1, n, b)
				}
			}
			if err := s.Set(bg, fn, keyN(100), store.Entry{Value: make([]byte, 1001), Time: time.Now()}); err == nil {
				t.Errorf("a value larger than max_size was accepted")
			}
			if e, err := s.Get(bg, fn, keyN(29)); err != nil || len(e.Value) != 100 {
				t.Errorf("the last entry before the refused one: %v", err)
			}
		})
	}
}

// TestBoundAcrossProcesses: three processes write 60 keys each, at once,
// into a function bounded to 25 entries; a fourth is killed with SIGKILL
// mid-writing. Afterwards, and after one more write, the function holds
// at most 25 entries (plus one, the write of the killed process, until
// the next write), and what it holds reads back.
func TestBoundAcrossProcesses(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn, bound = "pkg.BoundedShared", 25
			var wg sync.WaitGroup
			errs := make(chan error, 3)
			for p := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := helper(t, "setmany", helperArgs{Dir: dir, Opts: l.o, Fn: fn, Keys: 60, Version: int64(1000 * (p + 1)), Value: "v", MaxEntries: bound})
					if err := cmd.Run(); err != nil {
						errs <- fmt.Errorf("writer %d: %v", p, err)
					}
				}()
			}
			// The one killed mid-write.
			k := helper(t, "setmany", helperArgs{Dir: dir, Opts: l.o, Fn: fn, Keys: 100000, Version: 100000, Value: "k", MaxEntries: bound, Owner: "report"})
			out, err := k.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := k.Start(); err != nil {
				t.Fatal(err)
			}
			lines := readLines(out)
			for range 30 {
				<-lines
			}
			k.Process.Kill()
			for range lines {
			}
			k.Wait()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n, _ := held(t, dir, l.o, fn); n > bound+1 {
				t.Fatalf("the function holds %d entries, bound %d", n, bound)
			}
			s := newStore(t, dir, l.o)
			s.Bound(fn, bound, 0)
			mustSet(t, s, fn, keyN(1), "after")
			if n, _ := held(t, dir, l.o, fn); n > bound {
				t.Fatalf("after one more write the function holds %d entries, bound %d", n, bound)
			}
			err = s.Entries(bg, fn, func(e store.EntryInfo) error {
				_, err := s.Get(bg, fn, e.Key)
				return err
			})
			if err != nil {
				t.Fatalf("an entry listed does not read back: %v", err)
			}
		})
	}
}

// TestSizeSeparateBounded: the separate-files layout reports the size of a
// bounded function (whose entries it lists to keep the bound), and not of
// an unbounded one.
func TestSizeSeparateBounded(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir, Options{SeparateFiles: true})
	const fn, free = "pkg.SizedBounded", "pkg.SizedFree"
	s.Bound(fn, 100, 0)
	for i := range 5 {
		if err := s.Set(bg, fn, keyN(i), store.Entry{Value: make([]byte, 10*(i+1)), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(t, s, free, keyN(1), "x")
	if n, b, ok := s.Size(fn); !ok || n != 5 || b != 10+20+30+40+50 {
		t.Errorf("Size(bounded) = %d, %d, %v; want 5, 150, true", n, b, ok)
	}
	if _, _, ok := s.Size(free); ok {
		t.Errorf("Size(unbounded) claims to know")
	}
}
