package filestore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// countHandler counts the records logged through it.
type countHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Message)
	h.mu.Unlock()
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
func (h *countHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

var bg = context.Background()

func mustSet(t *testing.T, s *Store, fn, key, v string) {
	t.Helper()
	if err := s.Set(bg, fn, key, entryOf(v)); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// value returns key's value, "<miss>" for ErrNotFound, and fails on any
// other error.
func value(t *testing.T, s *Store, fn, key string) string {
	t.Helper()
	e, err := s.Get(bg, fn, key)
	if errors.Is(err, store.ErrNotFound) {
		return "<miss>"
	}
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(e.Value)
}

// TestDamagedLog damages a function's log in the ways a crash, a disk or a
// person can, and checks that what survives reads back, what does not is a
// miss (never a wrong value, never an error or a panic), that the damage is
// logged once, and that the next write repairs the file.
func TestDamagedLog(t *testing.T) {
	const fn = "pkg.F"
	k := []string{keyN(1), keyN(2), keyN(3), keyN(4)}
	vals := []string{"first value", "second value", "third value"}
	recEnd := func(t *testing.T, path string, i int) int64 {
		// The end offset of record i (0-based).
		s := newStore(t, filepath.Dir(path), Options{})
		st := s.state(fn)
		st.mu.Lock()
		defer st.mu.Unlock()
		if err := st.refresh(false); err != nil {
			t.Fatal(err)
		}
		l := st.index[k[i]]
		return l.off + l.n
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, b []byte) []byte
		want   []string // what k[0..2] read back after the damage
	}{
		{"GarbageTail", func(_ *testing.T, _ string, b []byte) []byte {
			return append(b, "\x10\x00\x00\x00garbage after the last record"...)
		}, vals},
		{"TruncatedLastRecord", func(t *testing.T, p string, b []byte) []byte {
			return b[:recEnd(t, p, 2)-3]
		}, []string{vals[0], vals[1], "<miss>"}},
		{"TruncatedFrame", func(t *testing.T, p string, b []byte) []byte {
			return b[:recEnd(t, p, 1)+5]
		}, []string{vals[0], vals[1], "<miss>"}},
		{"FlippedByteInMiddleRecord", func(t *testing.T, p string, b []byte) []byte {
			b[recEnd(t, p, 1)-2] ^= 0x40
			return b
		}, []string{vals[0], "<miss>", "<miss>"}},
		{"HugeLength", func(t *testing.T, p string, b []byte) []byte {
			off := recEnd(t, p, 0)
			copy(b[off:], "\xff\xff\xff\x7f")
			return b
		}, []string{vals[0], "<miss>", "<miss>"}},
		{"DamagedHeader", func(_ *testing.T, _ string, b []byte) []byte {
			copy(b, "NOTCACHE")
			return b
		}, []string{"<miss>", "<miss>", "<miss>"}},
		{"Empty", func(_ *testing.T, _ string, b []byte) []byte {
			return nil
		}, []string{"<miss>", "<miss>", "<miss>"}},
		{"AllGarbage", func(_ *testing.T, _ string, b []byte) []byte {
			return bytes.Repeat([]byte("\x07garbage"), 100)
		}, []string{"<miss>", "<miss>", "<miss>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := newStore(t, dir, Options{})
			for i, v := range vals {
				mustSet(t, w, fn, k[i], v)
			}
			path := w.state(fn).logPath
			w.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(t, path, b), 0o600); err != nil {
				t.Fatal(err)
			}

			h := &countHandler{}
			s := newStore(t, dir, Options{Logger: slog.New(h)})
			for range 3 { // reading again logs nothing more
				for i, want := range tc.want {
					if got := value(t, s, fn, k[i]); got != want {
						t.Fatalf("after damage, key %d reads %q, want %q", i, got, want)
					}
				}
			}
			if n := h.count(); n > 1 {
				t.Fatalf("%d reports of the damage before a write, want at most 1: %q", n, h.msgs)
			}
			mustSet(t, s, fn, k[3], "the repair")
			if n := h.count(); n != 1 {
				t.Fatalf("%d reports of the damage after a write, want 1: %q", n, h.msgs)
			}
			// The file is whole again: a new reader finds what survived and
			// the new entry, and nothing to report.
			h2 := &countHandler{}
			r := newStore(t, dir, Options{Logger: slog.New(h2)})
			for i, want := range append(tc.want, "the repair") {
				if got := value(t, r, fn, k[i]); got != want {
					t.Fatalf("after the repair, key %d reads %q, want %q", i, got, want)
				}
			}
			mustSet(t, r, fn, k[0], "again")
			if h2.count() != 0 {
				t.Fatalf("the repaired file still reports damage: %q", h2.msgs)
			}
		})
	}
}

// TestDamagedAfterRead damages a record after a store indexed it: the Get
// is a miss, not a wrong value.
func TestDamagedAfterRead(t *testing.T) {
	const fn = "pkg.F"
	h := &countHandler{}
	s := newStore(t, t.TempDir(), Options{Logger: slog.New(h)})
	mustSet(t, s, fn, keyN(1), "a value that will be damaged")
	f, err := os.OpenFile(s.state(fn).logPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if _, err := f.WriteAt([]byte("X"), fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for range 2 {
		if got := value(t, s, fn, keyN(1)); got != "<miss>" {
			t.Fatalf("damaged entry reads %q, want a miss", got)
		}
	}
	if h.count() != 1 {
		t.Fatalf("%d reports, want 1: %q", h.count(), h.msgs)
	}
}

// TestDamagedEntryFile damages entry files of the separate-files layout.
func TestDamagedEntryFile(t *testing.T) {
	const fn = "pkg.F"
	for _, tc := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"Truncated", func(b []byte) []byte { return b[:len(b)-2] }},
		{"FlippedByte", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"Empty", func([]byte) []byte { return nil }},
		{"Garbage", func([]byte) []byte { return []byte("not an entry at all") }},
		{"OtherKey", func([]byte) []byte { return encodeEntry(fnSeed(fn), keyN(2), entryOf("another key's value")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			h := &countHandler{}
			s := newStore(t, dir, Options{SeparateFiles: true, Logger: slog.New(h)})
			mustSet(t, s, fn, keyN(1), "the value")
			mustSet(t, s, fn, keyN(3), "a neighbour")
			path := filepath.Join(s.state(fn).entDir, entryName(keyN(1)))
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			// A new store (no cache) meets the damage.
			r := newStore(t, dir, Options{SeparateFiles: true, Logger: slog.New(h)})
			for range 3 {
				if got := value(t, r, fn, keyN(1)); got != "<miss>" {
					t.Fatalf("damaged entry reads %q, want a miss", got)
				}
			}
			if h.count() != 1 {
				t.Fatalf("%d reports, want 1: %q", h.count(), h.msgs)
			}
			if got := value(t, r, fn, keyN(3)); got != "a neighbour" {
				t.Fatalf("neighbour reads %q", got)
			}
			mustSet(t, r, fn, keyN(1), "repaired")
			for _, x := range []*Store{r, s, newStore(t, dir, Options{SeparateFiles: true})} {
				if got := value(t, x, fn, keyN(1)); got != "repaired" {
					t.Fatalf("after the repair: %q", got)
				}
			}
		})
	}
}

// TestCompaction overwrites a few keys many times, from two stores, with a
// low compaction threshold: the log stays small, every store reads the
// latest values, and marks survive compactions.
func TestCompaction(t *testing.T) {
	defer func(v int64) { compactMin = v }(compactMin)
	compactMin = 4 << 10
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn = "pkg.F"
			a, b := newStore(t, dir, l.o), newStore(t, dir, l.o)
			if ok, err := a.Mark(bg, fn, keyN(99), "holder", time.Hour); err != nil || !ok {
				t.Fatalf("Mark = %v, %v", ok, err)
			}
			want := map[string]string{}
			for i := range 3000 {
				k := keyN(i % 20)
				v := string(bytes.Repeat([]byte{byte('a' + i%26)}, 50+i%70))
				w := a
				if i%3 == 0 {
					w = b
				}
				mustSet(t, w, fn, k, v)
				want[k] = v
				if i%97 == 0 {
					for k, v := range want {
						if got := value(t, b, fn, k); got != v {
							t.Fatalf("write %d: %s reads %q, want %q", i, k, got, v)
						}
					}
				}
			}
			for _, s := range []*Store{a, b, newStore(t, dir, l.o)} {
				for k, v := range want {
					if got := value(t, s, fn, k); got != v {
						t.Fatalf("%s reads %q, want %q", k, got, v)
					}
				}
				if ok, err := s.Mark(bg, fn, keyN(99), "other", time.Hour); err != nil || ok {
					t.Fatalf("the mark did not survive compaction: Mark = %v, %v", ok, err)
				}
			}
			fi, err := os.Stat(a.state(fn).logPath)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Size() > 64<<10 {
				t.Errorf("log is %d bytes after 3000 writes of 20 small keys: not compacted", fi.Size())
			}
			if tmps, _ := filepath.Glob(filepath.Join(dir, "*tmp*")); len(tmps) > 0 {
				t.Errorf("temporary files left: %v", tmps)
			}
		})
	}
}
