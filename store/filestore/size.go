package filestore

import "github.com/cachier-go/cachier/store"

var _ store.Sizer = (*Store)(nil)

// Size implements store.Sizer for the single-file layout: the entries of
// fn and the framed bytes of their records, from the index as this process
// last read the log (no I/O: other processes' latest writes may be
// missing). The separate-files layout cannot tell without listing its
// directory, and reports ok false.
func (s *Store) Size(fn string) (entries, bytes int64, ok bool) {
	if s.o.SeparateFiles {
		return 0, 0, false
	}
	v, found := s.fns.Load(fn)
	if !found {
		return 0, 0, true
	}
	st := v.(*fnState)
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, l := range st.index {
		bytes += l.n
	}
	return int64(len(st.index)), bytes, true
}
