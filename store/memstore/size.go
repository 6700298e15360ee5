package memstore

import "github.com/cachier-go/cachier/store"

var _ store.Sizer = (*Store)(nil)

// Size implements store.Sizer: the number of entries of fn, and their
// encoded size where it is known: under a max_size bound (Bound), when the
// core measures every value it stores. Otherwise values are kept as Go
// values, never encoded, and bytes is 0.
func (s *Store) Size(fn string) (entries, bytes int64, ok bool) {
	v, found := s.fns.Load(fn)
	if !found {
		return 0, 0, true
	}
	c := v.(*fnCache)
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.maxBytes > 0 {
		bytes = c.bytes
	}
	return int64(len(c.entries)), bytes, true
}
