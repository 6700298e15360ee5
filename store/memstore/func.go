package memstore

import "time"

// A Func is one function's part of a Store. A caller that holds it reaches
// the function's entries without looking the function up by name: the
// memory backend's hit path. The zero Func is not usable.
type Func struct{ c *fnCache }

// Func returns the part of s that keeps function fn's entries. It stays
// valid for the life of s, across Clear.
func (s *Store) Func(fn string) Func { return Func{s.fn(fn)} }

// Usable reports whether f came from Store.Func (the zero Func did not).
func (f Func) Usable() bool { return f.c != nil }

// GetValue is s.GetValue(fn, key) for the Func of fn.
func (f Func) GetValue(key string) (any, time.Time, bool) {
	c := f.c
	c.mu.RLock()
	it, ok := c.entries[key]
	if ok && c.bounded && it.hasV {
		c.touch(it)
	}
	c.mu.RUnlock()
	if !ok || !it.hasV {
		return nil, time.Time{}, false
	}
	return it.value, it.time, true
}
