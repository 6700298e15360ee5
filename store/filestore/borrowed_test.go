package filestore

import (
	"testing"
	"unsafe"
)

// TestGetKeepsNoKey: cachier hands Get keys that live in buffers it reuses
// once Get returns (a borrowed key, see the root's keys.go). A store that
// kept such a key (in its index, value cache or bounds) would find its
// maps' keys changing under it. After hits, misses and damaged reads in
// every layout, bounded or not, no key the store holds points into the
// caller's buffer.
func TestGetKeepsNoKey(t *testing.T) {
	for _, l := range layouts {
		for _, bounded := range []bool{false, true} {
			name := l.name
			if bounded {
				name += "/bounded"
			}
			t.Run(name, func(t *testing.T) {
				const fn = "pkg.F"
				s := newStore(t, t.TempDir(), l.o)
				if bounded {
					s.Bound(fn, 100, 0)
				}
				mustSet(t, s, fn, keyN(1), "one")
				buf := []byte(keyN(1))
				borrowed := unsafe.String(&buf[0], len(buf))
				for range 3 { // a miss that fills caches, then hits
					if got := value(t, s, fn, borrowed); got != "one" {
						t.Fatalf("hit: %q", got)
					}
				}
				copy(buf, keyN(2)) // not set: a miss
				if got := value(t, s, fn, borrowed); got != "<miss>" {
					t.Fatalf("miss: %q", got)
				}
				copy(buf, keyN(1))
				st := s.state(fn)
				st.mu.Lock()
				defer st.mu.Unlock()
				lo, hi := uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&buf[0]))+uintptr(len(buf))
				check := func(what string, k string) {
					if len(k) == 0 {
						return
					}
					if p := uintptr(unsafe.Pointer(unsafe.StringData(k))); p >= lo && p < hi {
						t.Errorf("%s holds a key in the caller's buffer", what)
					}
				}
				for k := range st.index {
					check("the index", k)
				}
				for k := range st.cache {
					check("the value cache", k)
				}
				for k := range st.pending {
					check("the pending set", k)
				}
				for k := range st.marks {
					check("the marks", k)
				}
				if st.b != nil {
					for k := range st.b.use {
						check("the bounds' use stamps", k)
					}
					for k := range st.b.ents {
						check("the bounds' entries", k)
					}
				}
			})
		}
	}
}
