// Package storetest checks that a store.Store keeps the contract the cachier
// core relies on. Every backend runs it against its real server:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			return redisstore.New(client) // a fresh, empty store for each case
//		})
//	}
//
// newStore is called once per case and must return a store in which the
// function identities used by the case have no entries and no marks; the
// cases use identities unique to the run, so a shared server need not be
// emptied between runs.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// Run runs every conformance case as a subtest of t.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"SetOverwrites", testSetOverwrites},
		{"EmptyValue", testEmptyValue},
		{"BinaryValue", testBinaryValue},
		{"LargeValue", testLargeValue},
		{"ValueOwnership", testValueOwnership},
		{"FunctionsApart", testFunctionsApart},
		{"OddFunctionNames", testOddFunctionNames},
		{"ManyKeys", testManyKeys},
		{"MarkAcquire", testMarkAcquire},
		{"MarkExpires", testMarkExpires},
		{"MarkOneWinner", testMarkOneWinner},
		{"MarkKeepsEntry", testMarkKeepsEntry},
		{"UnmarkOwnerOnly", testUnmarkOwnerOnly},
		{"SetClearsMark", testSetClearsMark},
		{"Clear", testClear},
		{"ClearMarks", testClearMarks},
		{"DeleteStale", testDeleteStale},
		{"DeletePresent", testDeletePresent},
		{"DeleteAbsent", testDeleteAbsent},
		{"DeleteOnlyThatEntry", testDeleteOnlyThatEntry},
		{"DeleteMarked", testDeleteMarked},
		{"ExpiresKept", testExpiresKept},
		{"ExpiredNotServed", testExpiredNotServed},
		{"ExpiresLapses", testExpiresLapses},
		{"SetWithoutExpiresKeepsEntry", testSetWithoutExpiresKeepsEntry},
		{"ConcurrentUse", testConcurrentUse},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
	runLister(t, newStore)
}

// fnName returns a function identity unique to this run and case.
func fnName(t *testing.T, suffix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := strings.ReplaceAll(t.Name(), "/", ".")
	return fmt.Sprintf("storetest.%s.%s@%x", name, suffix, b)
}

// key returns a key of the shape the core makes: 32 hex digits.
func key(i int) string {
	var b [16]byte
	copy(b[:], fmt.Sprintf("k%015d", i))
	return hex.EncodeToString(b[:])
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// now returns the current time at millisecond precision, the precision every
// store must keep.
func now() time.Time { return time.Now().Truncate(time.Millisecond) }

func mustSet(t *testing.T, s store.Store, fn, k string, e store.Entry) {
	t.Helper()
	if err := s.Set(ctx(t), fn, k, e); err != nil {
		t.Fatalf("Set(%q, %q): %v", fn, k, err)
	}
}

func mustGet(t *testing.T, s store.Store, fn, k string) store.Entry {
	t.Helper()
	e, err := s.Get(ctx(t), fn, k)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", fn, k, err)
	}
	return e
}

func mustMissing(t *testing.T, s store.Store, fn, k string) {
	t.Helper()
	e, err := s.Get(ctx(t), fn, k)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q, %q) = %q, %v; want ErrNotFound", fn, k, e.Value, err)
	}
}

func mustMark(t *testing.T, s store.Store, fn, k, owner string, ttl time.Duration, want bool) {
	t.Helper()
	got, err := s.Mark(ctx(t), fn, k, owner, ttl)
	if err != nil {
		t.Fatalf("Mark(%q, %q, %q): %v", fn, k, owner, err)
	}
	if got != want {
		t.Fatalf("Mark(%q, %q, %q) acquired = %v, want %v", fn, k, owner, got, want)
	}
}

func checkEntry(t *testing.T, got store.Entry, want store.Entry) {
	t.Helper()
	if !bytes.Equal(got.Value, want.Value) {
		t.Errorf("Value = %q, want %q", trim(got.Value), trim(want.Value))
	}
	if d := got.Time.Sub(want.Time); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Time = %v, want %v (off by %v)", got.Time, want.Time, d)
	}
}

func trim(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "…"...)
	}
	return b
}

func testGetMissing(t *testing.T, s store.Store) {
	mustMissing(t, s, fnName(t, "f"), key(1))
}

func testSetGet(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	want := store.Entry{Value: []byte("hello, cachier"), Time: now()}
	mustSet(t, s, fn, key(1), want)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
	mustMissing(t, s, fn, key(2))
}

func testSetOverwrites(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustSet(t, s, fn, key(1), store.Entry{Value: []byte("first, and longer than the second"), Time: now().Add(-time.Hour)})
	want := store.Entry{Value: []byte("second"), Time: now()}
	mustSet(t, s, fn, key(1), want)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

func testEmptyValue(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	want := store.Entry{Value: []byte{}, Time: now()}
	mustSet(t, s, fn, key(1), want)
	got := mustGet(t, s, fn, key(1))
	if len(got.Value) != 0 {
		t.Errorf("Value = %q, want empty", got.Value)
	}
	checkEntry(t, got, want)
}

func testBinaryValue(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	v := make([]byte, 512)
	for i := range v {
		v[i] = byte(i) // every byte value, NUL and invalid UTF-8 included
	}
	want := store.Entry{Value: v, Time: now()}
	mustSet(t, s, fn, key(1), want)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

func testLargeValue(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	v := make([]byte, 4<<20)
	if _, err := rand.Read(v); err != nil {
		t.Fatal(err)
	}
	want := store.Entry{Value: v, Time: now()}
	mustSet(t, s, fn, key(1), want)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

// testValueOwnership checks the ownership contract of store.Entry.Value:
// Set keeps no reference to the slice it is given, and the Value of a Get
// is the caller's alone (not shared with the store, nor with another Get),
// for a value small enough to sit in a store's cache of reads and for a
// large one.
func testValueOwnership(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	for i, size := range []int{100, 256 << 10} {
		orig := make([]byte, size)
		if _, err := rand.Read(orig); err != nil {
			t.Fatal(err)
		}
		k := key(i)
		v := bytes.Clone(orig)
		mustSet(t, s, fn, k, store.Entry{Value: v, Time: now()})
		scribble(v) // the caller reuses the slice it passed to Set
		if got := mustGet(t, s, fn, k).Value; !bytes.Equal(got, orig) {
			t.Fatalf("%d bytes: after the slice passed to Set was overwritten, Get = %q, want the bytes as Set (Set kept a reference to e.Value)",
				size, trim(got))
		}
		g1 := mustGet(t, s, fn, k).Value
		g2 := mustGet(t, s, fn, k).Value
		scribble(g1[:cap(g1)]) // the caller owns g1 up to its capacity
		if !bytes.Equal(g2, orig) {
			t.Fatalf("%d bytes: after one Get's Value was overwritten, another Get's Value = %q, want the bytes as Set (two Gets share memory)",
				size, trim(g2))
		}
		if got := mustGet(t, s, fn, k).Value; !bytes.Equal(got, orig) {
			t.Fatalf("%d bytes: after a Get's Value was overwritten, Get = %q, want the bytes as Set (the store handed out its own copy)",
				size, trim(got))
		}
		scribble(g2[:cap(g2)])
		if got := mustGet(t, s, fn, k).Value; !bytes.Equal(got, orig) {
			t.Fatalf("%d bytes: after a Get's Value was overwritten, Get = %q, want the bytes as Set (the store handed out its own copy)",
				size, trim(got))
		}
	}
}

// scribble overwrites every byte of b.
func scribble(b []byte) {
	for i := range b {
		b[i] = 'X' ^ byte(i)
	}
}

func testFunctionsApart(t *testing.T, s store.Store) {
	f, g := fnName(t, "f"), fnName(t, "g")
	ef := store.Entry{Value: []byte("of f"), Time: now()}
	eg := store.Entry{Value: []byte("of g"), Time: now()}
	mustSet(t, s, f, key(1), ef)
	mustSet(t, s, g, key(1), eg)
	checkEntry(t, mustGet(t, s, f, key(1)), ef)
	checkEntry(t, mustGet(t, s, g, key(1)), eg)

	// A function whose name extends another's is still apart from it.
	fx := f + "x"
	mustMissing(t, s, fx, key(1))
	mustSet(t, s, fx, key(2), ef)
	if err := s.Clear(ctx(t), fx); err != nil {
		t.Fatal(err)
	}
	checkEntry(t, mustGet(t, s, f, key(1)), ef)
}

func testOddFunctionNames(t *testing.T, s store.Store) {
	base := fnName(t, "odd")
	names := []string{
		base + "/with/slashes/../and\\backslashes",
		base + " spaces:colons*stars?\"quotes\"<>|",
		base + ".ünïcödé.函数.🙂",
		base + "." + strings.Repeat("long", 100),
		base + "." + strings.Repeat("long", 100) + "2", // same prefix as the one above
		base + "{hash}tag",
	}
	for i, fn := range names {
		mustSet(t, s, fn, key(1), store.Entry{Value: []byte{byte(i)}, Time: now()})
	}
	for i, fn := range names {
		got := mustGet(t, s, fn, key(1))
		if !bytes.Equal(got.Value, []byte{byte(i)}) {
			t.Errorf("function %d (%.40q…) reads back %v, want [%d]", i, fn, got.Value, i)
		}
	}
}

func testManyKeys(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	const n = 300
	for i := range n {
		mustSet(t, s, fn, key(i), store.Entry{Value: []byte(fmt.Sprint(i)), Time: now()})
	}
	for i := range n {
		if got := mustGet(t, s, fn, key(i)); string(got.Value) != fmt.Sprint(i) {
			t.Fatalf("key %d reads back %q", i, got.Value)
		}
	}
}

func testMarkAcquire(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustMark(t, s, fn, key(1), "a", time.Minute, true)
	mustMark(t, s, fn, key(1), "b", time.Minute, false)
	mustMark(t, s, fn, key(1), "a", time.Minute, true) // the owner extends its mark
	mustMark(t, s, fn, key(2), "b", time.Minute, true) // marks are per key
	mustMark(t, s, fnName(t, "g"), key(1), "b", time.Minute, true)
	mustMissing(t, s, fn, key(1)) // a mark is not an entry
}

func testMarkExpires(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	const ttl = 300 * time.Millisecond
	start := time.Now()
	mustMark(t, s, fn, key(1), "dead", ttl, true)
	// Wait for the mark to lapse: another owner must get it within a bound.
	deadline := start.Add(ttl + 5*time.Second)
	for {
		got, err := s.Mark(ctx(t), fn, key(1), "alive", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if got {
			if el := time.Since(start); el < ttl-10*time.Millisecond {
				t.Fatalf("mark with ttl %v taken over after %v", ttl, el)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mark with ttl %v still held after %v", ttl, time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustMark(t, s, fn, key(1), "dead", time.Minute, false)
}

func testMarkOneWinner(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	const n = 16
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []string
		errs   []error
		starts = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-starts
			owner := fmt.Sprintf("owner-%d", i)
			got, err := s.Mark(context.Background(), fn, key(1), owner, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if got {
				wins = append(wins, owner)
			}
		}()
	}
	close(starts)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("Mark errors: %v", errs)
	}
	if len(wins) != 1 {
		t.Fatalf("%d of %d concurrent Marks acquired the mark (%v), want exactly 1", len(wins), n, wins)
	}
}

func testMarkKeepsEntry(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	want := store.Entry{Value: []byte("old value"), Time: now().Add(-time.Hour)}
	mustSet(t, s, fn, key(1), want)
	mustMark(t, s, fn, key(1), "a", time.Minute, true)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
	if err := s.Unmark(ctx(t), fn, key(1), "a"); err != nil {
		t.Fatal(err)
	}
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

func testUnmarkOwnerOnly(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustMark(t, s, fn, key(1), "a", time.Minute, true)
	if err := s.Unmark(ctx(t), fn, key(1), "b"); err != nil {
		t.Fatalf("Unmark by a non-owner: %v", err)
	}
	mustMark(t, s, fn, key(1), "b", time.Minute, false) // still a's
	if err := s.Unmark(ctx(t), fn, key(1), "a"); err != nil {
		t.Fatal(err)
	}
	mustMark(t, s, fn, key(1), "b", time.Minute, true)
	if err := s.Unmark(ctx(t), fn, key(9), "nobody"); err != nil {
		t.Fatalf("Unmark of an unmarked key: %v", err)
	}
}

func testSetClearsMark(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustMark(t, s, fn, key(1), "a", time.Minute, true)
	want := store.Entry{Value: []byte("v"), Time: now()}
	mustSet(t, s, fn, key(1), want)
	mustMark(t, s, fn, key(1), "b", time.Minute, true)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

func testClear(t *testing.T, s store.Store) {
	f, g := fnName(t, "f"), fnName(t, "g")
	for i := range 5 {
		mustSet(t, s, f, key(i), store.Entry{Value: []byte("f"), Time: now()})
		mustSet(t, s, g, key(i), store.Entry{Value: []byte("g"), Time: now()})
	}
	mustMark(t, s, f, key(7), "a", time.Minute, true)
	mustMark(t, s, g, key(7), "a", time.Minute, true)
	if err := s.Clear(ctx(t), f); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustMissing(t, s, f, key(i))
		mustGet(t, s, g, key(i))
	}
	mustMark(t, s, f, key(7), "b", time.Minute, true)  // f's mark is gone
	mustMark(t, s, g, key(7), "b", time.Minute, false) // g's is not
	// The function is usable after a clear.
	mustSet(t, s, f, key(1), store.Entry{Value: []byte("again"), Time: now()})
	mustGet(t, s, f, key(1))
}

func testClearMarks(t *testing.T, s store.Store) {
	f, g := fnName(t, "f"), fnName(t, "g")
	want := store.Entry{Value: []byte("kept"), Time: now()}
	mustSet(t, s, f, key(1), want)
	mustMark(t, s, f, key(1), "a", time.Minute, true)
	mustMark(t, s, f, key(2), "a", time.Minute, true)
	mustMark(t, s, g, key(1), "a", time.Minute, true)
	if err := s.ClearMarks(ctx(t), f); err != nil {
		t.Fatal(err)
	}
	checkEntry(t, mustGet(t, s, f, key(1)), want)
	mustMark(t, s, f, key(1), "b", time.Minute, true)
	mustMark(t, s, f, key(2), "b", time.Minute, true)
	mustMark(t, s, g, key(1), "b", time.Minute, false)
}

func testDeleteStale(t *testing.T, s store.Store) {
	f, g := fnName(t, "f"), fnName(t, "g")
	cutoff := now().Add(-time.Hour)
	old := store.Entry{Value: []byte("old"), Time: cutoff.Add(-time.Minute)}
	fresh := store.Entry{Value: []byte("fresh"), Time: cutoff.Add(time.Minute)}
	mustSet(t, s, f, key(1), old)
	mustSet(t, s, f, key(2), fresh)
	mustSet(t, s, f, key(3), old)
	mustSet(t, s, g, key(1), old)
	if err := s.DeleteStale(ctx(t), f, cutoff); err != nil {
		t.Fatal(err)
	}
	mustMissing(t, s, f, key(1))
	checkEntry(t, mustGet(t, s, f, key(2)), fresh)
	mustMissing(t, s, f, key(3))
	checkEntry(t, mustGet(t, s, g, key(1)), old)
}

func mustDelete(t *testing.T, s store.Store, fn, k string) {
	t.Helper()
	if err := s.Delete(ctx(t), fn, k); err != nil {
		t.Fatalf("Delete(%q, %q): %v", fn, k, err)
	}
}

func testDeletePresent(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustSet(t, s, fn, key(1), store.Entry{Value: []byte("doomed"), Time: now()})
	mustDelete(t, s, fn, key(1))
	mustMissing(t, s, fn, key(1))
	// The key is usable afterwards, and a second Delete is harmless.
	want := store.Entry{Value: []byte("again"), Time: now()}
	mustSet(t, s, fn, key(1), want)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
	mustDelete(t, s, fn, key(1))
	mustDelete(t, s, fn, key(1))
	mustMissing(t, s, fn, key(1))
}

func testDeleteAbsent(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustDelete(t, s, fn, key(1)) // a function never written
	mustSet(t, s, fn, key(2), store.Entry{Value: []byte("other"), Time: now()})
	mustDelete(t, s, fn, key(1)) // a key never written in a function that has entries
	mustMissing(t, s, fn, key(1))
	mustGet(t, s, fn, key(2))
}

func testDeleteOnlyThatEntry(t *testing.T, s store.Store) {
	f, g := fnName(t, "f"), fnName(t, "g")
	fx := f + "x" // a function whose name extends f's
	entries := map[string]store.Entry{}
	for _, fn := range []string{f, g, fx} {
		for i := range 4 {
			e := store.Entry{Value: []byte(fmt.Sprintf("%s/%d", fn, i)), Time: now().Add(-time.Duration(i) * time.Hour)}
			mustSet(t, s, fn, key(i), e)
			entries[fn+"/"+key(i)] = e
		}
	}
	mustDelete(t, s, f, key(2))
	for _, fn := range []string{f, g, fx} {
		for i := range 4 {
			if fn == f && i == 2 {
				mustMissing(t, s, fn, key(i))
				continue
			}
			checkEntry(t, mustGet(t, s, fn, key(i)), entries[fn+"/"+key(i)])
		}
	}
	// Another function's marks are left alone too.
	mustMark(t, s, g, key(5), "a", time.Minute, true)
	mustDelete(t, s, f, key(5))
	mustMark(t, s, g, key(5), "b", time.Minute, false)
}

// testDeleteMarked deletes an entry whose key a calculation has marked. The
// mark may stay or go (store.Store.Delete), but the entry goes, the owner
// can still unmark, and the calculation's result is stored.
func testDeleteMarked(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	mustSet(t, s, fn, key(1), store.Entry{Value: []byte("old"), Time: now().Add(-time.Hour)})
	mustMark(t, s, fn, key(1), "a", time.Minute, true)
	mustDelete(t, s, fn, key(1))
	mustMissing(t, s, fn, key(1))
	if err := s.Unmark(ctx(t), fn, key(1), "a"); err != nil {
		t.Fatalf("Unmark after Delete: %v", err)
	}
	mustMark(t, s, fn, key(1), "b", time.Minute, true) // free again
	mustMissing(t, s, fn, key(1))                      // and a mark is no entry

	// A mark without an entry: Delete keeps the store consistent.
	mustDelete(t, s, fn, key(1))
	mustMissing(t, s, fn, key(1))
	want := store.Entry{Value: []byte("new"), Time: now()}
	mustSet(t, s, fn, key(1), want) // the calculation ends
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
	mustMark(t, s, fn, key(1), "c", time.Minute, true) // Set cleared the mark, if any
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

func checkExpires(t *testing.T, got, want time.Time) {
	t.Helper()
	if want.IsZero() || got.IsZero() {
		if !got.Equal(want) {
			t.Errorf("Expires = %v, want %v", got, want)
		}
		return
	}
	if d := got.Sub(want); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("Expires = %v, want %v (off by %v)", got, want, d)
	}
}

func testExpiresKept(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	want := store.Entry{Value: []byte("for an hour"), Time: now(), Expires: now().Add(time.Hour)}
	mustSet(t, s, fn, key(1), want)
	got := mustGet(t, s, fn, key(1))
	checkEntry(t, got, want)
	checkExpires(t, got.Expires, want.Expires)

	never := store.Entry{Value: []byte("for ever"), Time: now()}
	mustSet(t, s, fn, key(2), never)
	checkExpires(t, mustGet(t, s, fn, key(2)).Expires, time.Time{})

	// An overwrite without Expires drops the earlier one.
	mustSet(t, s, fn, key(1), never)
	checkExpires(t, mustGet(t, s, fn, key(1)).Expires, time.Time{})
}

func testExpiredNotServed(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	kept := store.Entry{Value: []byte("kept"), Time: now()}
	mustSet(t, s, fn, key(2), kept)
	for i, exp := range []time.Time{
		now().Add(-time.Second),
		now().Add(-24 * time.Hour),
		time.Unix(0, 0).Add(-time.Hour), // before 1970
	} {
		mustSet(t, s, fn, key(1), store.Entry{Value: []byte("expired"), Time: now().Add(-2 * time.Second), Expires: exp})
		if e, err := s.Get(ctx(t), fn, key(1)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("case %d: Get of an entry expired at %v = %q, %v; want ErrNotFound", i, exp, e.Value, err)
		}
	}
	checkEntry(t, mustGet(t, s, fn, key(2)), kept)
	// The key takes a new entry.
	want := store.Entry{Value: []byte("new"), Time: now(), Expires: now().Add(time.Hour)}
	mustSet(t, s, fn, key(1), want)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

// sleepPast sleeps until the wall clock is past t by a margin.
func sleepPast(t time.Time) {
	time.Sleep(time.Until(t) + 20*time.Millisecond)
}

func testExpiresLapses(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	exp := now().Add(500 * time.Millisecond)
	mustSet(t, s, fn, key(1), store.Entry{Value: []byte("brief"), Time: now(), Expires: exp})
	sleepPast(exp)
	mustMissing(t, s, fn, key(1))
}

func testSetWithoutExpiresKeepsEntry(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	exp := now().Add(500 * time.Millisecond)
	mustSet(t, s, fn, key(1), store.Entry{Value: []byte("brief"), Time: now(), Expires: exp})
	want := store.Entry{Value: []byte("lasting"), Time: now()}
	mustSet(t, s, fn, key(1), want)
	sleepPast(exp)
	checkEntry(t, mustGet(t, s, fn, key(1)), want)
}

func testConcurrentUse(t *testing.T, s store.Store) {
	fn := fnName(t, "f")
	const workers, rounds = 4, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := context.Background()
			for r := range rounds {
				k := key(r % 5)
				v := []byte(fmt.Sprintf("w%d-r%d", w, r))
				if err := s.Set(c, fn, k, store.Entry{Value: v, Time: now()}); err != nil {
					errc <- fmt.Errorf("calling Set: %w", err)
					return
				}
				e, err := s.Get(c, fn, k)
				if err != nil {
					errc <- fmt.Errorf("calling Get after Set: %w", err)
					return
				}
				if !bytes.HasPrefix(e.Value, []byte("w")) {
					errc <- fmt.Errorf("get returned a torn value %q", e.Value)
					return
				}
				owner := fmt.Sprintf("w%d", w)
				if _, err := s.Mark(c, fn, k, owner, time.Minute); err != nil {
					errc <- fmt.Errorf("calling Mark: %w", err)
					return
				}
				if err := s.Unmark(c, fn, k, owner); err != nil {
					errc <- fmt.Errorf("calling Unmark: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
