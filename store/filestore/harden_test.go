package filestore

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
	if err := os.Truncate(st.logPath, st.start); err != nil { // keep the record naming fn
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

// snapshotTree records every path under root with its mode and content, to
// tell whether anything there was created or changed.
func snapshotTree(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		c := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c += " " + string(b)
		}
		m[p] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPlantedSymlinks plants a symbolic link, pointing outside cache_dir,
// at each path the store opens, creates or renames into: the entry
// directory, the journal and the lock of the separate-files layout, and
// the log and the lock of the single-file layout. Every operation must
// then fail (the core takes it for a failing store) or miss, never serve
// what the link points to, and never write or create anything outside
// cache_dir. What it proves: the store opens no path inside cache_dir
// through a link (O_NOFOLLOW and Lstat checks), whoever planted it.
func TestPlantedSymlinks(t *testing.T) {
	const fn = "pkg.Planted"
	cases := []struct {
		name string
		o    Options
		at   func(st *fnState) string // where the link goes
		dir  bool                     // the link points to a directory
	}{
		{"separate/entry-dir", Options{SeparateFiles: true}, func(st *fnState) string { return st.entDir }, true},
		{"separate/journal", Options{SeparateFiles: true}, func(st *fnState) string { return st.logPath }, false},
		{"separate/lock", Options{SeparateFiles: true}, func(st *fnState) string { return st.lockPath }, false},
		{"single/log", Options{}, func(st *fnState) string { return st.logPath }, false},
		{"single/lock", Options{}, func(st *fnState) string { return st.lockPath }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "cache")
			outside := filepath.Join(root, "outside")
			if err := os.MkdirAll(outside, 0o700); err != nil {
				t.Fatal(err)
			}
			// Something worth stealing or clobbering outside: a file named
			// like the journal, holding a valid log of this function
			// written by a store over another directory.
			other := newStore(t, filepath.Join(root, "other"), c.o)
			mustSet(t, other, fn, keyN(1), "from outside")
			ost := other.state(fn)
			logBytes, err := os.ReadFile(ost.logPath)
			if err != nil {
				t.Fatal(err)
			}
			s := newStore(t, dir, c.o)
			st := s.state(fn)
			if c.o.SeparateFiles && !c.dir {
				if err := os.MkdirAll(st.entDir, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(outside, "journal")
			if c.dir {
				target = outside
				if err := os.WriteFile(filepath.Join(outside, "journal"), logBytes, 0o600); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(filepath.Dir(ost.logPath), entryName(keyN(1))))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(outside, entryName(keyN(1))), b, 0o600); err != nil {
					t.Fatal(err)
				}
			} else if !strings.HasSuffix(c.name, "lock") {
				if err := os.WriteFile(target, logBytes, 0o600); err != nil {
					t.Fatal(err)
				}
			} // a lock link dangles: the store must not create its target
			if err := os.Symlink(target, c.at(st)); err != nil {
				t.Fatal(err)
			}
			before := snapshotTree(t, outside)

			if got, err := s.Get(bg, fn, keyN(1)); err == nil {
				t.Errorf("Get served %q through the link", got.Value)
			}
			if err := s.Set(bg, fn, keyN(2), entryOf("written")); err == nil {
				t.Errorf("Set succeeded through the link")
			}
			if _, err := s.Mark(bg, fn, keyN(3), "me", time.Minute); err == nil {
				t.Errorf("Mark succeeded through the link")
			}
			s.DeleteStale(bg, fn, time.Now().Add(time.Hour))
			s.Clear(bg, fn)
			s.ClearMarks(bg, fn)
			if after := snapshotTree(t, outside); !maps.Equal(before, after) {
				t.Errorf("the store changed what is outside cache_dir:\nbefore %q\nafter  %q", before, after)
			}
			if fi, err := os.Lstat(c.at(st)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("the planted link is gone or replaced (%v): the store acted on it", err)
			}
		})
	}
}

// copyFile copies src to dst, replacing dst.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLogOfAnotherFunction copies one function's files over another's
// (a log, or a journal with its entry files) and appends one function's
// records to another's log: the copied entries must be a miss for the
// other function, never its cache, and its next write must work.
func TestLogOfAnotherFunction(t *testing.T) {
	const fa, fb = "pkg.A", "pkg.B"
	for _, l := range twoLayouts {
		t.Run(l.name+"/copied", func(t *testing.T) {
			dir := t.TempDir()
			s := newStore(t, dir, l.o)
			mustSet(t, s, fa, keyN(1), "a's value")
			mustSet(t, s, fb, keyN(2), "b's value")
			a, b := s.state(fa), s.state(fb)
			copyFile(t, a.logPath, b.logPath)
			if l.o.SeparateFiles {
				copyFile(t, filepath.Join(a.entDir, entryName(keyN(1))), filepath.Join(b.entDir, entryName(keyN(1))))
			}
			for _, r := range []*Store{s, newStore(t, dir, l.o)} {
				if got := value(t, r, fb, keyN(1)); got != "<miss>" {
					t.Fatalf("B serves %q, copied from A's files", got)
				}
			}
			mustSet(t, s, fb, keyN(3), "b again")
			r := newStore(t, dir, l.o)
			if got := value(t, r, fb, keyN(3)); got != "b again" {
				t.Fatalf("B's write after the copy reads %q", got)
			}
			if got := value(t, r, fb, keyN(1)); got != "<miss>" {
				t.Fatalf("B serves %q after its next write", got)
			}
			if got := value(t, r, fa, keyN(1)); got != "a's value" {
				t.Fatalf("A's own entry reads %q", got)
			}
		})
	}
	t.Run("single/spliced", func(t *testing.T) {
		dir := t.TempDir()
		s := newStore(t, dir, Options{})
		mustSet(t, s, fa, keyN(1), "a's value")
		mustSet(t, s, fb, keyN(2), "b's value")
		a, b := s.state(fa), s.state(fb)
		la, err := os.ReadFile(a.logPath)
		if err != nil {
			t.Fatal(err)
		}
		// A's records, without its file header, appended to B's log.
		recs := la[a.start:]
		f, err := os.OpenFile(b.logPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(recs); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := value(t, newStore(t, dir, Options{}), fb, keyN(1)); got != "<miss>" {
			t.Fatalf("B serves %q, a record spliced from A's log", got)
		}
		if got := value(t, newStore(t, dir, Options{}), fb, keyN(2)); got != "b's value" {
			t.Fatalf("B's own entry reads %q", got)
		}
	})
}

// TestLogOfTheFirstFormat: a log of the first format (magic
// "CACHIER\x01", records without the function's seed) is ignored, never
// misread, and replaced by the next write.
func TestLogOfTheFirstFormat(t *testing.T) {
	const fn = "pkg.Old"
	dir := t.TempDir()
	s := newStore(t, dir, Options{})
	st := s.state(fn)
	old := append([]byte("CACHIER\x01"), appendSet(nil, 0, keyN(1), time.Now(), 0, []byte("old value"))...)
	if err := os.WriteFile(st.logPath, old, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := value(t, s, fn, keyN(1)); got != "<miss>" {
		t.Fatalf("an old-format log serves %q", got)
	}
	mustSet(t, s, fn, keyN(2), "new value")
	r := newStore(t, dir, Options{})
	if got := value(t, r, fn, keyN(2)); got != "new value" {
		t.Fatalf("the write after an old-format log reads %q", got)
	}
	if got := value(t, r, fn, keyN(1)); got != "<miss>" {
		t.Fatalf("the old-format entry reads %q after the rewrite", got)
	}
}
