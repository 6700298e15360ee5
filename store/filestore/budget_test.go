package filestore

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/cachier-go/cachier/store"
)

// withMappingBudget lets the file store hold only n more mappings than it
// holds now, for the test.
func withMappingBudget(t *testing.T, n int64) {
	t.Helper()
	old := maxMappings
	maxMappings = mappings.Load() + n
	t.Cleanup(func() { maxMappings = old })
}

// processMappings counts this process's memory mappings (Linux).
func processMappings(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	return bytes.Count(b, []byte{'\n'})
}

// TestMappingBudget: however many functions a process uses, the file store
// holds at most its budget of memory mappings (Linux refuses a process
// more than vm.max_map_count, and the Go runtime needs mappings to grow
// its heap); functions past the budget still read and write every entry,
// through system calls.
func TestMappingBudget(t *testing.T) {
	if !canMap || runtime.GOOS != "linux" {
		t.Skip("counts the mappings of /proc/self/maps")
	}
	const budget, fns = 20, 60
	for _, l := range layouts[:2] {
		t.Run(l.name, func(t *testing.T) {
			withMappingBudget(t, budget)
			before := processMappings(t)
			s := newStore(t, t.TempDir(), l.o)
			for i := range fns {
				fn := fmt.Sprintf("pkg.F%d", i)
				if err := s.Set(bg, fn, "k", store.Entry{Value: []byte(fn)}); err != nil {
					t.Fatal(err)
				}
				if got := value(t, s, fn, "k"); got != fn {
					t.Fatalf("%s: %q", fn, got)
				}
			}
			for i := range fns { // and again, every function already open
				fn := fmt.Sprintf("pkg.F%d", i)
				if got := value(t, s, fn, "k"); got != fn {
					t.Fatalf("%s, read again: %q", fn, got)
				}
			}
			// Slack for the runtime's own mappings as the heap grows.
			if grew := processMappings(t) - before; grew > budget+10 {
				t.Errorf("%d functions took %d more mappings, budget %d", fns, grew, budget)
			}
		})
	}
}

// TestUnmappedWriterCounts: a writer that cannot map its function's change
// counter (the budget is spent) still counts its change, so that a reader
// that mapped the counter, and trusts it, sees the write on its next Get
// instead of up to a recheck later.
func TestUnmappedWriterCounts(t *testing.T) {
	if !canMap {
		t.Skip("no change counter on this system")
	}
	trustCounter(t)
	for _, l := range layouts[:2] {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn, key = "pkg.F", "0123456789abcdef0123456789abcdef"
			reader := newStore(t, dir, l.o)
			writer := newStore(t, dir, l.o)
			if err := writer.Set(bg, fn, key, store.Entry{Value: []byte("one")}); err != nil {
				t.Fatal(err)
			}
			if got := value(t, reader, fn, key); got != "one" {
				t.Fatalf("first read: %q", got)
			}
			if reader.state(fn).seq == nil {
				t.Fatal("the reader did not map the counter")
			}
			// The writer's own mapping goes when it finds the lock file
			// replaced; with no budget left it cannot map it again.
			writer.state(fn).unmapSeq()
			withMappingBudget(t, 0)
			if err := writer.Set(bg, fn, key, store.Entry{Value: []byte("two")}); err != nil {
				t.Fatal(err)
			}
			if writer.state(fn).seq != nil {
				t.Fatal("the writer mapped its counter past the budget")
			}
			if got := value(t, reader, fn, key); got != "two" {
				t.Fatalf("after a write by a writer without its counter mapped: %q, want two", got)
			}
		})
	}
}
