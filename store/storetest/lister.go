package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// runLister runs the store.Lister cases, as subtests of "Lister", when the
// stores newStore returns implement it. The cases look only at the
// functions they write, so other functions on a shared server do not
// disturb them.
func runLister(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	t.Run("Lister", func(t *testing.T) {
		if _, ok := newStore(t).(store.Lister); !ok {
			t.Skip("the store does not implement store.Lister")
		}
		for _, tc := range []struct {
			name string
			run  func(t *testing.T, s store.Store, l store.Lister)
		}{
			{"Functions", testListFunctions},
			{"FunctionsAfterClear", testListAfterClear},
			{"FunctionsOddNames", testListOddNames},
			{"Entries", testListEntries},
			{"EntriesManyPages", testListEntriesMany},
			{"EntriesStopsAtYieldError", testListEntriesStop},
			{"EntriesUnknownFunction", testListEntriesUnknown},
			{"SkipsExpired", testListSkipsExpired},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				tc.run(t, s, s.(store.Lister))
			})
		}
	})
}

// listed returns the FuncInfo of each of fns that Functions reports.
func listed(t *testing.T, l store.Lister, fns ...string) map[string]store.FuncInfo {
	t.Helper()
	all, err := l.Functions(ctx(t))
	if err != nil {
		t.Fatalf("Functions: %v", err)
	}
	want := map[string]bool{}
	for _, fn := range fns {
		want[fn] = true
	}
	got := map[string]store.FuncInfo{}
	for _, fi := range all {
		if want[fi.Function] {
			if _, dup := got[fi.Function]; dup {
				t.Errorf("Functions lists %q twice", fi.Function)
			}
			got[fi.Function] = fi
		}
	}
	return got
}

func sameMilli(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -time.Millisecond && d < time.Millisecond
}

func checkInfo(t *testing.T, got store.FuncInfo, want store.FuncInfo) {
	t.Helper()
	if got.Entries != want.Entries || got.Bytes != want.Bytes || got.Marks != want.Marks {
		t.Errorf("%s: entries %d, bytes %d, marks %d; want %d, %d, %d",
			want.Function, got.Entries, got.Bytes, got.Marks, want.Entries, want.Bytes, want.Marks)
	}
	if !sameMilli(got.Oldest, want.Oldest) || !sameMilli(got.Newest, want.Newest) {
		t.Errorf("%s: oldest %v, newest %v; want %v, %v", want.Function, got.Oldest, got.Newest, want.Oldest, want.Newest)
	}
}

// testListFunctions: counts, bytes, oldest and newest entry and live
// marks, per function; a function with only a mark is listed; a lapsed
// mark is not counted.
func testListFunctions(t *testing.T, s store.Store, l store.Lister) {
	a, b, c, d := fnName(t, "a"), fnName(t, "b"), fnName(t, "c"), fnName(t, "d")
	t0 := now().Add(-time.Hour)
	for i, size := range []int{10, 20, 30} {
		mustSet(t, s, a, key(i), store.Entry{Value: make([]byte, size), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	mustSet(t, s, b, key(0), store.Entry{Value: []byte("x"), Time: t0})
	mustMark(t, s, b, key(0), "owner", time.Minute, true) // a mark on an entry
	mustMark(t, s, b, key(1), "owner", time.Minute, true) // a mark alone
	mustMark(t, s, c, key(0), "owner", time.Minute, true)
	mustSet(t, s, d, key(0), store.Entry{Value: []byte{}, Time: t0})
	mustMark(t, s, d, key(1), "owner", 30*time.Millisecond, true)
	time.Sleep(100 * time.Millisecond) // d's mark lapses

	got := listed(t, l, a, b, c, d)
	for _, want := range []store.FuncInfo{
		{Function: a, Entries: 3, Bytes: 60, Oldest: t0, Newest: t0.Add(2 * time.Second)},
		{Function: b, Entries: 1, Bytes: 1, Oldest: t0, Newest: t0, Marks: 2},
		{Function: c, Marks: 1},
		{Function: d, Entries: 1, Oldest: t0, Newest: t0},
	} {
		fi, ok := got[want.Function]
		if !ok {
			t.Errorf("Functions does not list %s", want.Function)
			continue
		}
		checkInfo(t, fi, want)
	}
}

func testListAfterClear(t *testing.T, s store.Store, l store.Lister) {
	a, b := fnName(t, "a"), fnName(t, "b")
	mustSet(t, s, a, key(0), store.Entry{Value: []byte("x"), Time: now()})
	mustMark(t, s, a, key(1), "owner", time.Minute, true)
	mustSet(t, s, b, key(0), store.Entry{Value: []byte("y"), Time: now()})
	if err := s.Clear(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	got := listed(t, l, a, b)
	if fi, ok := got[a]; ok {
		t.Errorf("a cleared function is still listed: %+v", fi)
	}
	if _, ok := got[b]; !ok {
		t.Errorf("Clear of another function took %s off the list", b)
	}
}

// testListOddNames: identities come back byte for byte.
func testListOddNames(t *testing.T, s store.Store, l store.Lister) {
	var fns []string
	for _, odd := range []string{"with space", "{braces}", "a:b:c", "ünïcødé/✓", "star*?[x]", "back\\slash"} {
		fn := fnName(t, odd)
		fns = append(fns, fn)
		mustSet(t, s, fn, key(0), store.Entry{Value: []byte("v"), Time: now()})
	}
	got := listed(t, l, fns...)
	for _, fn := range fns {
		if fi, ok := got[fn]; !ok || fi.Entries != 1 {
			t.Errorf("Functions: %q listed %v with %d entries; want listed with 1", fn, ok, fi.Entries)
		}
	}
}

func testListEntries(t *testing.T, s store.Store, l store.Lister) {
	a, b := fnName(t, "a"), fnName(t, "b")
	t0 := now().Add(-time.Minute)
	want := map[string]store.EntryInfo{}
	for i := range 5 {
		e := store.EntryInfo{Key: key(i), Time: t0.Add(time.Duration(i) * time.Second), Size: int64(i * 7)}
		want[e.Key] = e
		mustSet(t, s, a, e.Key, store.Entry{Value: make([]byte, e.Size), Time: e.Time})
	}
	mustMark(t, s, a, key(99), "owner", time.Minute, true) // a mark is not an entry
	mustSet(t, s, b, key(0), store.Entry{Value: []byte("other"), Time: t0})
	seen := map[string]bool{}
	err := l.Entries(ctx(t), a, func(e store.EntryInfo) error {
		w, ok := want[e.Key]
		switch {
		case !ok:
			t.Errorf("Entries yielded %s, which is not an entry of the function", e.Key)
		case seen[e.Key]:
			t.Errorf("Entries yielded %s twice", e.Key)
		case e.Size != w.Size || !sameMilli(e.Time, w.Time):
			t.Errorf("Entries: %s size %d time %v; want %d, %v", e.Key, e.Size, e.Time, w.Size, w.Time)
		}
		seen[e.Key] = true
		return nil
	})
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
	if len(seen) != len(want) {
		t.Errorf("Entries yielded %d entries, want %d", len(seen), len(want))
	}
}

// testListEntriesMany: more entries than one page or scan batch holds.
func testListEntriesMany(t *testing.T, s store.Store, l store.Lister) {
	fn := fnName(t, "many")
	const n = 1100
	for i := range n {
		mustSet(t, s, fn, key(i), store.Entry{Value: []byte("v"), Time: now()})
	}
	seen := map[string]bool{}
	if err := l.Entries(ctx(t), fn, func(e store.EntryInfo) error {
		if seen[e.Key] {
			return fmt.Errorf("%s yielded twice", e.Key)
		}
		seen[e.Key] = true
		return nil
	}); err != nil {
		t.Fatalf("Entries: %v", err)
	}
	if len(seen) != n {
		t.Fatalf("Entries yielded %d distinct entries, want %d", len(seen), n)
	}
	if fi := listed(t, l, fn)[fn]; fi.Entries != n || fi.Bytes != n {
		t.Fatalf("Functions: %d entries, %d bytes; want %d, %d", fi.Entries, fi.Bytes, n, n)
	}
}

func testListEntriesStop(t *testing.T, s store.Store, l store.Lister) {
	fn := fnName(t, "stop")
	for i := range 20 {
		mustSet(t, s, fn, key(i), store.Entry{Value: []byte("v"), Time: now()})
	}
	errStop := errors.New("enough")
	calls := 0
	err := l.Entries(ctx(t), fn, func(store.EntryInfo) error {
		calls++
		if calls == 5 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 5 {
		t.Fatalf("Entries returned %v after %d calls; want yield's error after 5", err, calls)
	}
}

func testListEntriesUnknown(t *testing.T, s store.Store, l store.Lister) {
	err := l.Entries(ctx(t), fnName(t, "none"), func(e store.EntryInfo) error {
		t.Errorf("Entries of a function without entries yielded %+v", e)
		return nil
	})
	if err != nil {
		t.Fatalf("Entries: %v", err)
	}
}

// testListSkipsExpired: an expired entry is neither counted nor listed,
// as Get does not serve it.
func testListSkipsExpired(t *testing.T, s store.Store, l store.Lister) {
	fn := fnName(t, "expired")
	mustSet(t, s, fn, key(0), store.Entry{Value: []byte("live"), Time: now()})
	mustSet(t, s, fn, key(1), store.Entry{Value: []byte("gone"), Time: now().Add(-time.Hour), Expires: now().Add(-time.Minute)})
	if fi := listed(t, l, fn)[fn]; fi.Entries != 1 || fi.Bytes != 4 {
		t.Errorf("Functions: %d entries, %d bytes; want the live entry only (1, 4)", fi.Entries, fi.Bytes)
	}
	n := 0
	if err := l.Entries(ctx(t), fn, func(e store.EntryInfo) error {
		if e.Key != key(0) {
			t.Errorf("Entries yielded the expired entry %s", e.Key)
		}
		n++
		return nil
	}); err != nil || n != 1 {
		t.Errorf("Entries: %d entries, %v; want 1", n, err)
	}
}
