package filestore

import "github.com/cachier-go/cachier/store"

var _ store.Sizer = (*Store)(nil)

// Size implements store.Sizer for the single-file layout: the entries of
// fn and the framed bytes of their records, from the index as this process
// last read the log (no I/O: other processes' latest writes may be
// missing). The separate-files layout cannot tell without listing its
// directory, and reports ok false, but for a function with a bound
// (max_entries, max_size), whose entries it lists to keep the bound: it
// then reports them as of this process's last write (sizes of other
// processes' entries learnt at that write; bytes may count 8 bytes too
// many for an entry with an expiry).
func (s *Store) Size(fn string) (entries, bytes int64, ok bool) {
	if s.o.SeparateFiles {
		v, found := s.fns.Load(fn)
		if !found {
			return 0, 0, false
		}
		st := v.(*fnState)
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.b == nil || st.b.ents == nil || st.b.unknown > 0 {
			return 0, 0, false
		}
		return int64(len(st.b.ents)), st.b.bytes, true
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
