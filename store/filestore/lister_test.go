package filestore

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// TestLister: Functions and Entries in both layouts, read by a store other
// than the writer's (another process's view), counting entries, value
// bytes, oldest and newest, and live marks; deleted, overwritten, cleared
// and expired entries and released or expired marks do not count, and a
// log copied under another function's name is skipped.
func TestLister(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			w := newStore(t, dir, l.o)
			const fa, fb, fc = "pkg.A", "example.com/x.Service.B@v2#1f0c", "pkg.Cleared"
			t0 := time.Unix(1_700_000_000, 0)
			set := func(fn string, k int, v string, at time.Time, exp time.Time) {
				t.Helper()
				if err := w.Set(bg, fn, keyN(k), store.Entry{Value: []byte(v), Time: at, Expires: exp}); err != nil {
					t.Fatal(err)
				}
			}
			set(fa, 1, "1234", t0, time.Time{})
			set(fa, 2, "old value, overwritten", t0.Add(time.Minute), time.Time{})
			set(fa, 2, "12", t0.Add(2*time.Minute), time.Time{})
			set(fa, 3, "deleted", t0.Add(3*time.Minute), time.Time{})
			if err := w.Delete(bg, fa, keyN(3)); err != nil {
				t.Fatal(err)
			}
			set(fa, 4, "expired", t0.Add(4*time.Minute), time.Now().Add(-time.Second))
			set(fa, 5, "later", t0.Add(5*time.Minute), time.Now().Add(time.Hour))
			set(fb, 1, "b", t0.Add(time.Hour), time.Time{})
			for i, owner := range []string{"x", "y"} {
				if _, err := w.Mark(bg, fb, keyN(10+i), owner, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			w.Mark(bg, fb, keyN(20), "gone", time.Hour)
			w.Unmark(bg, fb, keyN(20), "gone")
			w.Mark(bg, fb, keyN(21), "expired", time.Nanosecond)
			set(fc, 1, "cleared", t0, time.Time{})
			if err := w.Clear(bg, fc); err != nil {
				t.Fatal(err)
			}
			// A log (or journal) of fa copied under a name of its own: not fa's.
			if l.o.SeparateFiles {
				if err := copyDir(w.state(fa).entDir, w.state("pkg.Copy").entDir); err != nil {
					t.Fatal(err)
				}
			} else {
				copyFile(t, w.state(fa).logPath, w.state("pkg.Copy").logPath)
			}

			r := newStore(t, dir, l.o)
			fis, err := r.Functions(bg)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]store.FuncInfo{}
			for _, fi := range fis {
				got[fi.Function] = fi
			}
			want := map[string]store.FuncInfo{
				fa: {Function: fa, Entries: 3, Bytes: 4 + 2 + 5, Oldest: t0, Newest: t0.Add(5 * time.Minute)},
				fb: {Function: fb, Entries: 1, Bytes: 1, Oldest: t0.Add(time.Hour), Newest: t0.Add(time.Hour), Marks: 2},
			}
			if len(got) != len(want) {
				t.Fatalf("Functions = %+v, want %+v", fis, want)
			}
			for fn, w := range want {
				g := got[fn]
				if g.Entries != w.Entries || g.Bytes != w.Bytes || g.Marks != w.Marks || !g.Oldest.Equal(w.Oldest) || !g.Newest.Equal(w.Newest) {
					t.Errorf("%s: %+v, want %+v", fn, g, w)
				}
			}
			var keys []string
			err = r.Entries(bg, fa, func(e store.EntryInfo) error {
				keys = append(keys, e.Key)
				if e.Key == keyN(2) && (e.Size != 2 || !e.Time.Equal(t0.Add(2*time.Minute))) {
					t.Errorf("entry 2: %+v", e)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(keys)
			if want := []string{keyN(1), keyN(2), keyN(5)}; len(keys) != 3 || keys[0] != want[0] || keys[1] != want[1] || keys[2] != want[2] {
				t.Errorf("Entries(%s) = %v, want %v", fa, keys, want)
			}
			stop := errors.New("stop")
			n := 0
			if err := r.Entries(bg, fa, func(store.EntryInfo) error { n++; return stop }); err != stop || n != 1 {
				t.Errorf("Entries with a failing yield: %v after %d calls, want %v after 1", err, n, stop)
			}
			if err := r.Entries(bg, "pkg.Absent", func(e store.EntryInfo) error { return errors.New("called") }); err != nil {
				t.Errorf("Entries of an absent function: %v", err)
			}
		})
	}
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(src, dst string) error {
	ds, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	for _, d := range ds {
		b, err := os.ReadFile(filepath.Join(src, d.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, d.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
