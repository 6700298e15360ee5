// Package memstore is the per-process cachier store: the "memory" backend.
//
// It keeps results as Go values (store.ValueStore), so a hit costs a map
// lookup and no decoding. The values it returns are shared by every caller
// that hits the same key: a caller that modifies a returned slice, map or
// pointee modifies the cached result for everyone. Entries written through
// the byte-level Set are separate from those written with SetValue: Get
// reports a key that holds only a Go value as store.ErrNotFound, and GetValue
// a key that holds only bytes as absent.
package memstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachier-go/cachier/store"
)

// Store is an in-memory store.Store and store.ValueStore. The zero value is
// not usable; call New.
type Store struct {
	fns sync.Map // fn string -> *fnCache
}

var (
	_ store.ValueStore      = (*Store)(nil)
	_ store.SizedValueStore = (*Store)(nil)
	_ store.Bounder         = (*Store)(nil)
)

// New returns an empty memory store.
func New() *Store { return &Store{} }

type item struct {
	bytes []byte
	hasB  bool
	value any
	hasV  bool
	time  time.Time
	exp   time.Time     // store.Entry.Expires; zero: never
	size  int64         // bytes counted against maxBytes
	used  atomic.Uint64 // the fnCache's clock at the last write or hit, when bounded
}

type mark struct {
	owner   string
	expires time.Time
}

type fnCache struct {
	mu      sync.RWMutex
	entries map[string]*item
	marks   map[string]mark
	bounds  // zero unless Bound set one; see bound.go
}

func (s *Store) fn(name string) *fnCache {
	if c, ok := s.fns.Load(name); ok {
		return c.(*fnCache)
	}
	c, _ := s.fns.LoadOrStore(name, &fnCache{entries: map[string]*item{}, marks: map[string]mark{}})
	return c.(*fnCache)
}

// Get implements store.Store.
func (s *Store) Get(_ context.Context, fn, key string) (store.Entry, error) {
	c := s.fn(fn)
	c.mu.RLock()
	it, ok := c.entries[key]
	if ok && it.hasB && c.bounded {
		c.touch(it)
	}
	c.mu.RUnlock()
	if !ok || !it.hasB || (!it.exp.IsZero() && !it.exp.After(time.Now())) {
		return store.Entry{}, store.ErrNotFound
	}
	return store.Entry{Value: append([]byte{}, it.bytes...), Time: it.time, Expires: it.exp}, nil
}

// Set implements store.Store. It keeps a copy of e.Value.
func (s *Store) Set(_ context.Context, fn, key string, e store.Entry) error {
	it := &item{bytes: append([]byte{}, e.Value...), hasB: true, time: e.Time, exp: e.Expires, size: int64(len(e.Value))}
	c := s.fn(fn)
	c.mu.Lock()
	c.put(key, it)
	c.mu.Unlock()
	return nil
}

// GetValue implements store.ValueStore.
func (s *Store) GetValue(fn, key string) (any, time.Time, bool) {
	v, ok := s.fns.Load(fn)
	if !ok {
		return nil, time.Time{}, false
	}
	c := v.(*fnCache)
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

// SetValue implements store.ValueStore. Under a max_size bound (Bound)
// the value counts as zero bytes: use SetValueSized.
func (s *Store) SetValue(fn, key string, v any, t time.Time) {
	s.SetValueSized(fn, key, v, t, 0)
}

// SetValueSized implements store.SizedValueStore: it stores v as SetValue
// does, counting size bytes (the size of v encoded) against the function's
// max_size bound. A value larger than the bound by itself is not stored,
// and the key's earlier entry, if any, is kept.
func (s *Store) SetValueSized(fn, key string, v any, t time.Time, size int64) {
	it := &item{value: v, hasV: true, time: t, size: size}
	c := s.fn(fn)
	c.mu.Lock()
	c.put(key, it)
	c.mu.Unlock()
}

// Mark implements store.Store.
func (s *Store) Mark(_ context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	c := s.fn(fn)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.marks[key]; ok && m.owner != owner && now.Before(m.expires) {
		return false, nil
	}
	c.marks[key] = mark{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// Unmark implements store.Store.
func (s *Store) Unmark(_ context.Context, fn, key, owner string) error {
	c := s.fn(fn)
	c.mu.Lock()
	if m, ok := c.marks[key]; ok && m.owner == owner {
		delete(c.marks, key)
	}
	c.mu.Unlock()
	return nil
}

// Delete implements store.Store. It removes the key's entry, bytes and Go
// value alike, and keeps its mark.
func (s *Store) Delete(_ context.Context, fn, key string) error {
	v, ok := s.fns.Load(fn)
	if !ok {
		return nil
	}
	c := v.(*fnCache)
	c.mu.Lock()
	if it, ok := c.entries[key]; ok {
		c.remove(key, it)
	}
	c.mu.Unlock()
	return nil
}

// Clear implements store.Store.
func (s *Store) Clear(_ context.Context, fn string) error {
	c := s.fn(fn)
	c.mu.Lock()
	c.entries = map[string]*item{}
	c.marks = map[string]mark{}
	c.forgetAll()
	c.mu.Unlock()
	return nil
}

// ClearMarks implements store.Store.
func (s *Store) ClearMarks(_ context.Context, fn string) error {
	c := s.fn(fn)
	c.mu.Lock()
	c.marks = map[string]mark{}
	c.mu.Unlock()
	return nil
}

// DeleteStale implements store.Store.
func (s *Store) DeleteStale(_ context.Context, fn string, cutoff time.Time) error {
	c := s.fn(fn)
	c.mu.Lock()
	for k, it := range c.entries {
		if it.time.Before(cutoff) {
			c.remove(k, it)
		}
	}
	c.mu.Unlock()
	return nil
}

// Len reports how many entries function fn holds.
func (s *Store) Len(fn string) int {
	c := s.fn(fn)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
