package filestore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// trustCounter makes readers trust the change counter for the whole test:
// a change they see is one the counter told them of, not a periodic stat.
func trustCounter(t *testing.T) {
	old := recheckEvery
	setRecheck(time.Hour)
	t.Cleanup(func() { setRecheck(old) })
}

// TestCounterSeesOtherProcesses: with the counter trusted, a reader in this
// process sees every kind of change another process makes (a write, an
// overwrite, a delete, a Clear, a compaction that replaces the log) on its
// next Get, and Gets between changes look at no file (no view refresh).
func TestCounterSeesOtherProcesses(t *testing.T) {
	if !canMap {
		t.Skip("no change counter on this system")
	}
	trustCounter(t)
	for _, l := range layouts[:2] { // the reloading layouts
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn, key = "pkg.F", "0123456789abcdef0123456789abcdef"
			run := func(mode string, a helperArgs) {
				t.Helper()
				a.Dir, a.Opts, a.Fn = dir, l.o, fn
				if err := helper(t, mode, a).Run(); err != nil {
					t.Fatalf("helper %s: %v", mode, err)
				}
			}
			run("set", helperArgs{Key: key, Value: "one"})
			s := newStore(t, dir, l.o)
			st := s.state(fn)
			if got := value(t, s, fn, key); got != "one" {
				t.Fatalf("first read: %q, want one", got)
			}
			quiet := func() {
				t.Helper()
				before := st.checks
				for range 50 {
					value(t, s, fn, key)
				}
				if st.checks != before {
					t.Fatalf("%d views brought up to date in 50 Gets with nothing changed, want 0", st.checks-before)
				}
			}
			quiet()
			steps := []struct {
				mode string
				a    helperArgs
				want string
			}{
				{"set", helperArgs{Key: key, Value: "two"}, "two"},
				{"delete", helperArgs{Key: key}, "<miss>"},
				{"set", helperArgs{Key: key, Value: "three"}, "three"},
				{"clear", helperArgs{}, "<miss>"},
				{"set", helperArgs{Key: key, Value: "four"}, "four"},
			}
			for _, step := range steps {
				run(step.mode, step.a)
				if got := value(t, s, fn, key); got != step.want {
					t.Fatalf("after another process's %s: %q, want %q", step.mode, got, step.want)
				}
				quiet()
			}
			// Another process overwrites keys until it compacts the log,
			// replacing the file this one has mapped.
			before, err := os.Lstat(st.logPath)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []string{"u", "v", "w"} {
				run("setmany", helperArgs{Keys: 100, Version: 0, Value: strings.Repeat(v, 100), CompactMin: 4 << 10})
			}
			after, err := os.Lstat(st.logPath)
			if err != nil || os.SameFile(before, after) {
				t.Fatalf("the log was not replaced by a compaction (%v)", err)
			}
			for i := range 100 {
				if got, want := value(t, s, fn, keyN(i)), fmt.Sprint(strings.Repeat("w", 100), i); got != want {
					t.Fatalf("key %d after a compaction elsewhere: %.20q..., want %.20q...", i, got, want)
				}
			}
		})
	}
}

// TestMappedLogTruncated: another process (here, a person) truncates the
// log under this process's mapping of it, without telling the counter; a
// Get of an entry beyond the new end faults, and the fault is a miss, not a
// crash.
func TestMappedLogTruncated(t *testing.T) {
	if !canMap {
		t.Skip("no mappings on this system")
	}
	trustCounter(t)
	const fn = "pkg.F"
	s := newStore(t, t.TempDir(), Options{})
	for i := range 64 {
		mustSet(t, s, fn, keyN(i), strings.Repeat("x", 1000))
	}
	last := keyN(63)
	if got := value(t, s, fn, last); len(got) != 1000 {
		t.Fatalf("before: %d bytes", len(got))
	}
	st := s.state(fn)
	if st.data == nil {
		t.Fatal("the log is not mapped")
	}
	if err := os.Truncate(st.logPath, 0); err != nil {
		t.Fatal(err)
	}
	if got := value(t, s, fn, last); got != "<miss>" {
		t.Fatalf("after truncation: %.20q, want a miss", got)
	}
	if st.faults != 1 {
		t.Fatalf("%d faults recovered, want 1 (the read should have faulted)", st.faults)
	}
	mustSet(t, s, fn, last, "again") // the next write repairs the file
	if got := value(t, newStore(t, s.Dir(), Options{}), fn, last); got != "again" {
		t.Fatalf("after the repair: %q", got)
	}
}

// TestMappedHostileBytes: bytes written over the mapped log without the
// counter (another function's record, another key's record, garbage) are
// a miss, never the bytes.
func TestMappedHostileBytes(t *testing.T) {
	trustCounter(t)
	const fn = "pkg.F"
	k1, k2 := keyN(1), keyN(2)
	cases := []struct {
		name  string
		bytes func(t *testing.T, dir string) []byte // k1's record replaced by these
	}{
		{"garbage", func(t *testing.T, dir string) []byte {
			return []byte(strings.Repeat("\xff", 8) + "XX")
		}},
		{"another key's record", func(t *testing.T, dir string) []byte {
			return appendSet(nil, fnSeed(fn), k2, time.Now(), 0, []byte("value of 2"))
		}},
		{"another function's record", func(t *testing.T, dir string) []byte {
			return appendSet(nil, fnSeed("pkg.G"), k1, time.Now(), 0, []byte("value of G"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &countHandler{}
			s := newStore(t, t.TempDir(), Options{Logger: slog.New(h)})
			mustSet(t, s, fn, k1, "value of 1")
			mustSet(t, s, fn, k2, "value of 2")
			if got := value(t, s, fn, k1); got != "value of 1" {
				t.Fatal(got)
			}
			st := s.state(fn)
			l := st.index[k1]
			b := c.bytes(t, s.Dir())
			if int64(len(b)) > l.n {
				t.Fatalf("hostile record of %d bytes over one of %d", len(b), l.n)
			}
			f, err := os.OpenFile(st.logPath, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(b, l.off); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := value(t, s, fn, k1); got != "<miss>" {
				t.Fatalf("k1 reads %q, want a miss", got)
			}
			if got := value(t, s, fn, k2); got != "value of 2" {
				t.Fatalf("k2 reads %q", got)
			}
		})
	}
}

// TestChangesBehindTheCounter: a change no writer counted (a log removed by
// hand, or written by an older version of this package) is seen within
// recheckEvery.
func TestChangesBehindTheCounter(t *testing.T) {
	old := recheckEvery
	setRecheck(10 * time.Millisecond)
	t.Cleanup(func() { setRecheck(old) })
	for _, l := range layouts[:2] {
		t.Run(l.name, func(t *testing.T) {
			const fn, key = "pkg.F", "0123456789abcdef0123456789abcdef"
			s := newStore(t, t.TempDir(), l.o)
			mustSet(t, s, fn, key, "one")
			if got := value(t, s, fn, key); got != "one" {
				t.Fatal(got)
			}
			st := s.state(fn)
			gone := st.logPath
			if l.o.SeparateFiles {
				gone = st.entDir
			}
			if err := os.RemoveAll(gone); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for value(t, s, fn, key) != "<miss>" {
				if time.Now().After(deadline) {
					t.Fatal("a removed cache is still served after 10 s")
				}
				time.Sleep(recheckEvery / 2)
			}
		})
	}
}

// TestGetValueIsFresh: the Value a Get returns is the caller's: changing it
// changes neither the store nor another Get's Value.
func TestGetValueIsFresh(t *testing.T) {
	const fn, key = "pkg.F", "0123456789abcdef0123456789abcdef"
	s := newStore(t, t.TempDir(), Options{})
	mustSet(t, s, fn, key, "original")
	a, err := s.Get(bg, fn, key)
	if err != nil {
		t.Fatal(err)
	}
	copy(a.Value, "XXXXXXXX")
	b, err := s.Get(bg, fn, key)
	if err != nil || string(b.Value) != "original" {
		t.Fatalf("second Get: %q, %v", b.Value, err)
	}
	if errors.Is(err, store.ErrNotFound) {
		t.Fatal("miss")
	}
}

// TestGetWithoutMapping: the positioned-read path (a system without mmap,
// or a log that could not be mapped) verifies as the mapped one does, for
// short and long keys (whose record heads do not fit fnState.head), with
// and without an expiry, and damage to a record is a miss.
func TestGetWithoutMapping(t *testing.T) {
	for _, noMap := range []bool{false, true} {
		t.Run(fmt.Sprint("noMap=", noMap), func(t *testing.T) {
			const fn = "pkg.F"
			s := newStore(t, t.TempDir(), Options{Logger: slog.New(&countHandler{})})
			long := strings.Repeat("ab", 100)
			mustSet(t, s, fn, keyN(1), "short key")
			mustSet(t, s, fn, long, "long key")
			exp := entryOf("expiring")
			exp.Expires = time.Now().Add(time.Hour)
			if err := s.Set(bg, fn, keyN(2), exp); err != nil {
				t.Fatal(err)
			}
			st := s.state(fn)
			st.mu.Lock()
			st.noMap = noMap
			st.mu.Unlock()
			for k, want := range map[string]string{keyN(1): "short key", long: "long key", keyN(2): "expiring"} {
				if got := value(t, s, fn, k); got != want {
					t.Errorf("%.8s...: %q, want %q", k, got, want)
				}
			}
			st.mu.Lock()
			l := st.index[long]
			st.mu.Unlock()
			f, err := os.OpenFile(st.logPath, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("X"), l.off+l.n-1); err != nil { // the value's last byte
				t.Fatal(err)
			}
			f.Close()
			if got := value(t, s, fn, long); got != "<miss>" {
				t.Errorf("damaged long-key record reads %q, want a miss", got)
			}
			if got := value(t, s, fn, keyN(1)); got != "short key" {
				t.Errorf("after damage elsewhere: %q", got)
			}
		})
	}
}
