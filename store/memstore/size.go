package memstore

import "github.com/cachier-go/cachier/store"

var _ store.Sizer = (*Store)(nil)

// Size implements store.Sizer: the number of entries of fn. Their size in
// bytes is not known (values are kept as Go values, not encoded), so bytes
// is 0.
func (s *Store) Size(fn string) (entries, bytes int64, ok bool) {
	v, found := s.fns.Load(fn)
	if !found {
		return 0, 0, true
	}
	c := v.(*fnCache)
	c.mu.RLock()
	defer c.mu.RUnlock()
	return int64(len(c.entries)), 0, true
}
