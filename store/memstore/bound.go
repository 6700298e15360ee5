package memstore

import (
	"slices"
	"sync/atomic"
)

// Bounds (max_entries, max_size) evict the least recently used entries of
// a function, exactly.
//
// Recency is a per-function logical clock: every write and every hit of a
// bounded function stamps the entry with the next tick (an atomic add and
// an atomic store, under the read lock a hit takes anyway, so hits of one
// function never wait for each other). Eviction runs under the write lock,
// where no stamp can change: it picks, in one pass, the oldest sixteenth of
// the entries by stamp and keeps them, sorted, as the next victims. Each
// eviction then takes the first victim that is still in the map with its
// stamp unchanged. That victim is the least recently used entry: the
// untouched candidates are older than every entry left out of the pass,
// and every entry touched or written since the pass has a newer stamp than
// any candidate. When the victims run out the pass is made again, so an
// eviction costs O(1) amortized comparisons plus the sort.

// bounds is a function's bound and the bookkeeping it needs.
type bounds struct {
	bounded    bool
	maxEntries int   // 0: none
	maxBytes   int64 // 0: none
	bytes      int64 // sum of the entries' sizes
	clock      atomic.Uint64
	victims    []victim // the next entries to evict, oldest first
}

type victim struct {
	key   string
	it    *item
	stamp uint64
}

// Bound implements store.Bounder: function fn keeps at most maxEntries
// entries and maxBytes bytes of entries (each zero for no bound), evicting
// the least recently used beyond that. Entries written with Set count
// len(Value) bytes, those written with SetValueSized their given size, and
// those written with SetValue zero. Entries already there beyond the bound
// are evicted at once.
func (s *Store) Bound(fn string, maxEntries int, maxBytes int64) {
	c := s.fn(fn)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxEntries, c.maxBytes = max(maxEntries, 0), max(maxBytes, 0)
	c.bounded = c.maxEntries > 0 || c.maxBytes > 0
	c.victims = nil
	if c.bounded {
		for _, it := range c.entries {
			it.used.Store(c.clock.Add(1))
		}
	}
	c.evict("")
}

// touch records a hit of it. Called with c.mu read-locked.
func (c *fnCache) touch(it *item) {
	it.used.Store(c.clock.Add(1))
}

// put stores it as key's entry, clears the key's mark and evicts what the
// bounds require. A value larger than maxBytes by itself is not stored, and
// the key's earlier entry stays. Called with c.mu locked.
func (c *fnCache) put(key string, it *item) {
	if c.maxBytes > 0 && it.size > c.maxBytes {
		delete(c.marks, key)
		return
	}
	if old, ok := c.entries[key]; ok {
		c.bytes -= old.size
	}
	c.entries[key] = it
	c.bytes += it.size
	delete(c.marks, key)
	if c.bounded {
		it.used.Store(c.clock.Add(1))
		c.evict(key)
	}
}

// remove deletes key's entry it. Called with c.mu locked.
func (c *fnCache) remove(key string, it *item) {
	delete(c.entries, key)
	c.bytes -= it.size
}

// forgetAll resets the bookkeeping after every entry went. Called with c.mu
// locked.
func (c *fnCache) forgetAll() {
	c.bytes = 0
	c.victims = nil
}

// over reports whether the function holds more than its bounds allow.
func (c *fnCache) over() bool {
	return c.maxEntries > 0 && len(c.entries) > c.maxEntries ||
		c.maxBytes > 0 && c.bytes > c.maxBytes
}

// evict removes least recently used entries until the bounds hold, never
// the entry of keep (just written, so the most recently used, and within
// the bounds by itself). Called with c.mu locked.
func (c *fnCache) evict(keep string) {
	evicted := true // since the last pass
	for c.over() {
		if len(c.victims) == 0 {
			if !evicted || len(c.entries) == 0 {
				break // nothing left to evict but keep: never loop
			}
			c.pickVictims()
			evicted = false
		}
		v := c.victims[0]
		c.victims = c.victims[1:]
		if v.key == keep || c.entries[v.key] != v.it || v.it.used.Load() != v.stamp {
			continue // rewritten, deleted or used since the pass
		}
		c.remove(v.key, v.it)
		evicted = true
	}
	if len(c.victims) == 0 {
		c.victims = nil // let the array go
	}
}

// pickVictims fills c.victims with the oldest sixteenth of the entries (at
// least one), oldest first.
func (c *fnCache) pickVictims() {
	all := make([]victim, 0, len(c.entries))
	for k, it := range c.entries {
		all = append(all, victim{k, it, it.used.Load()})
	}
	slices.SortFunc(all, func(a, b victim) int {
		switch {
		case a.stamp < b.stamp:
			return -1
		case a.stamp > b.stamp:
			return 1
		}
		return 0
	})
	n := max(1, len(all)/16)
	c.victims = slices.Clip(all[:n])
}
