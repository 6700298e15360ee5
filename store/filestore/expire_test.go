package filestore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// TestDeleteStaleDropsExpired: DeleteStale removes expired entries (an
// Expires in the past) even when their Time is after the cutoff, and keeps
// unexpired ones: the expired value's bytes leave the files.
func TestDeleteStaleDropsExpired(t *testing.T) {
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.Expiring"
			s := newStore(t, dir, l.o)
			now := time.Now()
			if err := s.Set(bg, fn, keyN(1), store.Entry{Value: []byte("EXPIRED-VALUE"), Time: now, Expires: now.Add(-time.Second)}); err != nil {
				t.Fatal(err)
			}
			if err := s.Set(bg, fn, keyN(2), store.Entry{Value: []byte("live"), Time: now, Expires: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteStale(bg, fn, now.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			}
			st := s.state(fn)
			if l.o.SeparateFiles {
				if _, err := os.Lstat(filepath.Join(st.entDir, entryName(keyN(1)))); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the expired entry's file is still there (%v)", err)
				}
			} else {
				r := newStore(t, dir, l.o)
				rst := r.state(fn)
				rst.mu.Lock()
				rst.refresh(false)
				_, kept := rst.index[keyN(1)]
				rst.mu.Unlock()
				if kept {
					t.Errorf("the expired entry is still in the log after DeleteStale")
				}
			}
			if got := value(t, s, fn, keyN(2)); got != "live" {
				t.Errorf("the unexpired entry reads %q", got)
			}
		})
	}
}

// TestCompactionDropsExpired: a compaction does not copy expired entries
// into the new log.
func TestCompactionDropsExpired(t *testing.T) {
	defer func(old int64) { compactMin = old }(compactMin)
	compactMin = 1 << 10
	dir := t.TempDir()
	const fn = "pkg.ExpiringCompacted"
	s := newStore(t, dir, Options{})
	now := time.Now()
	if err := s.Set(bg, fn, keyN(1), store.Entry{Value: []byte("EXPIRED-VALUE"), Time: now, Expires: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	st := s.state(fn)
	first, err := os.Stat(st.logPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ { // overwrites: garbage, until a compaction replaces the log
		mustSet(t, s, fn, keyN(2), string(bytes.Repeat([]byte{'x'}, 200)))
		fi, err := os.Stat(st.logPath)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(fi, first) {
			break
		}
		if i > 1000 {
			t.Fatal("no compaction after 1,000 overwrites")
		}
	}
	b, err := os.ReadFile(st.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("EXPIRED-VALUE")) {
		t.Errorf("the compacted log still holds the expired entry")
	}
}
