package memstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/memstore"
)

func has(s *memstore.Store, fn, key string) bool {
	_, _, ok := s.GetValue(fn, key)
	return ok
}

// mustHold checks that fn holds every key of want and none of gone; the
// lookups count as uses.
func mustHold(t *testing.T, s *memstore.Store, fn string, want, gone []string) {
	t.Helper()
	for _, k := range want {
		if !has(s, fn, k) {
			t.Errorf("%s was evicted; want it kept", k)
		}
	}
	for _, k := range gone {
		if has(s, fn, k) {
			t.Errorf("%s is still there; want it evicted", k)
		}
	}
}

func TestBoundEvictsLeastRecentlyUsed(t *testing.T) {
	s := memstore.New()
	s.Bound("f", 3, 0)
	now := time.Now()
	for _, k := range []string{"a", "b", "c"} {
		s.SetValue("f", k, k, now)
	}
	has(s, "f", "a") // a is now more recent than b and c
	s.SetValue("f", "d", "d", now)
	mustHold(t, s, "f", []string{"a", "c", "d"}, []string{"b"})
	// mustHold read a, c and d in that order: a is now the least recently used.
	s.SetValue("f", "e", "e", now)
	mustHold(t, s, "f", []string{"c", "d", "e"}, []string{"a"})
	if n := s.Len("f"); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
}

// lruModel is the reference: a slice, least recently used first.
type lruModel struct {
	keys     []string
	size     map[string]int64
	maxN     int
	maxBytes int64
}

func (m *lruModel) touch(k string) bool {
	i := slices.Index(m.keys, k)
	if i < 0 {
		return false
	}
	m.keys = append(slices.Delete(m.keys, i, i+1), k)
	return true
}

func (m *lruModel) total() (n int64) {
	for _, k := range m.keys {
		n += m.size[k]
	}
	return n
}

func (m *lruModel) set(k string, size int64) {
	if m.maxBytes > 0 && size > m.maxBytes {
		return
	}
	if i := slices.Index(m.keys, k); i >= 0 {
		m.keys = slices.Delete(m.keys, i, i+1)
	}
	m.keys = append(m.keys, k)
	m.size[k] = size
	for m.maxN > 0 && len(m.keys) > m.maxN || m.maxBytes > 0 && m.total() > m.maxBytes {
		m.keys = m.keys[1:]
	}
}

// TestBoundMatchesExactLRU runs random hits and writes, with differently
// sized values, against the store and a reference LRU, and compares every
// answer: eviction is exactly least recently used, by count and by bytes.
func TestBoundMatchesExactLRU(t *testing.T) {
	for _, tc := range []struct {
		maxN     int
		maxBytes int64
	}{{7, 0}, {100, 0}, {0, 500}, {40, 2000}} {
		t.Run(fmt.Sprintf("entries=%d,bytes=%d", tc.maxN, tc.maxBytes), func(t *testing.T) {
			s := memstore.New()
			s.Bound("f", tc.maxN, tc.maxBytes)
			m := &lruModel{size: map[string]int64{}, maxN: tc.maxN, maxBytes: tc.maxBytes}
			rng := rand.New(rand.NewPCG(1, uint64(tc.maxN)))
			ctx := context.Background()
			for i := range 20000 {
				k := fmt.Sprint(rng.IntN(300))
				switch rng.IntN(3) {
				case 0: // a hit or a miss
					_, err := s.Get(ctx, "f", k)
					if got, want := err == nil, m.touch(k); got != want {
						t.Fatalf("op %d: Get(%s) found=%v, reference LRU says %v", i, k, got, want)
					}
				default:
					size := 1 + rng.IntN(120)
					if err := s.Set(ctx, "f", k, store.Entry{Value: make([]byte, size), Time: time.Now()}); err != nil {
						t.Fatal(err)
					}
					m.set(k, int64(size))
				}
				if n := s.Len("f"); n != len(m.keys) {
					t.Fatalf("op %d: Len = %d, reference LRU holds %d", i, n, len(m.keys))
				}
			}
		})
	}
}

func TestBoundMaxSizeDifferentSizes(t *testing.T) {
	s := memstore.New()
	s.Bound("f", 0, 100)
	now := time.Now()
	for i, n := range []int64{10, 20, 30, 40} { // 100 bytes: all fit
		s.SetValueSized("f", fmt.Sprint("k", n), i, now, n)
	}
	mustHold(t, s, "f", []string{"k10", "k20", "k30", "k40"}, nil)
	// 25 more: 125 > 100, so the least recently used go until it fits:
	// k10 (115) and k20 (95).
	s.SetValueSized("f", "k25", 0, now, 25)
	mustHold(t, s, "f", []string{"k30", "k40", "k25"}, []string{"k10", "k20"})

	// A value larger than the whole bound is not stored, and evicts
	// nothing; the key's earlier value stays.
	s.SetValueSized("f", "k30", "big", now, 101)
	if v, _, ok := s.GetValue("f", "k30"); !ok || v != 2 {
		t.Errorf("k30 = %v, %v after an oversized write; want the earlier value 2 kept", v, ok)
	}
	mustHold(t, s, "f", []string{"k30", "k40", "k25"}, []string{"k101"})

	// Rewriting a key counts its new size, not both.
	s.SetValueSized("f", "k40", 0, now, 5)
	s.SetValueSized("f", "k60", 0, now, 60) // 30+5+25+60 = 120: evicts k30 (least recent)
	mustHold(t, s, "f", []string{"k40", "k25", "k60"}, []string{"k30"})
}

// TestBoundUnderConcurrentWriters: the bound holds at every moment while
// many goroutines write and read, as seen by a watcher.
func TestBoundUnderConcurrentWriters(t *testing.T) {
	s := memstore.New()
	const bound = 16
	s.Bound("f", bound, 0)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	over := make(chan int, 1)
	go func() { // the watcher
		for {
			select {
			case <-stop:
				close(over)
				return
			default:
			}
			if n := s.Len("f"); n > bound {
				select {
				case over <- n:
				default:
				}
			}
		}
	}()
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := fmt.Sprint(w, ":", i%97)
				if i%2 == 0 {
					s.SetValue("f", k, i, time.Now())
				} else {
					_ = s.Set(ctx, "f", k, store.Entry{Value: []byte("x"), Time: time.Now()})
				}
				s.GetValue("f", fmt.Sprint(w, ":", (i+1)%97))
			}
		}()
	}
	wg.Wait()
	close(stop)
	if n, ok := <-over; ok {
		t.Fatalf("the watcher saw %d entries, bound %d", n, bound)
	}
	if n := s.Len("f"); n != bound {
		t.Fatalf("Len = %d after the writers, want %d", n, bound)
	}
}

func TestBoundLaterEvictsAtOnce(t *testing.T) {
	s := memstore.New()
	for i := range 10 {
		s.SetValue("f", fmt.Sprint(i), i, time.Now())
	}
	s.Bound("f", 4, 0)
	if n := s.Len("f"); n != 4 {
		t.Fatalf("Len = %d after Bound(4), want 4", n)
	}
	s.Bound("g", 0, 0) // no bound: nothing changes for f or g
	s.SetValue("g", "x", 1, time.Now())
	if n := s.Len("f"); n != 4 {
		t.Fatalf("Len = %d, want 4", n)
	}
}

// TestBoundBytesAfterClearAndDeleteStale: entries removed by Clear and
// DeleteStale no longer count against max_size.
func TestBoundBytesAfterClearAndDeleteStale(t *testing.T) {
	s := memstore.New()
	s.Bound("f", 0, 100)
	ctx := context.Background()
	old := time.Now().Add(-time.Hour)
	s.SetValueSized("f", "a", 1, old, 60)
	s.SetValueSized("f", "b", 1, time.Now(), 30)
	if err := s.DeleteStale(ctx, "f", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.SetValueSized("f", "c", 1, time.Now(), 70) // 30+70 fits once a's 60 are gone
	mustHold(t, s, "f", []string{"b", "c"}, []string{"a"})
	if err := s.Clear(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	s.SetValueSized("f", "d", 1, time.Now(), 100)
	mustHold(t, s, "f", []string{"d"}, nil)
}

// TestBoundBytesAfterDelete: an entry removed by Delete no longer counts
// against max_size.
func TestBoundBytesAfterDelete(t *testing.T) {
	s := memstore.New()
	s.Bound("f", 0, 100)
	s.SetValueSized("f", "a", 1, time.Now(), 60)
	s.SetValueSized("f", "b", 1, time.Now(), 30)
	if err := s.Delete(context.Background(), "f", "a"); err != nil {
		t.Fatal(err)
	}
	s.SetValueSized("f", "c", 1, time.Now(), 70) // 30+70 fits once a's 60 are gone
	mustHold(t, s, "f", []string{"b", "c"}, []string{"a"})
}
