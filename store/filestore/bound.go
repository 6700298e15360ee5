// Bounds (max_entries, max_size): at most so many entries, or bytes of
// values, per function, evicting the least recently used beyond that.

package filestore

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cachier-go/cachier/store"
)

var _ store.Bounder = (*Store)(nil)

// bounds is what a Store keeps for a function with a bound: the bound,
// the entries it knows of with the sizes of their values, and when each
// was last used as this process saw it.
//
// Recency is this process's: its own hits and every process's writes (a
// write is a use), as it reads them from the log. Hits in other processes
// are not recorded in the files, which would make every hit a locked
// write; so each process evicts the entries least recently used as far as
// it knows. Every writer enforces the bound under the function's lock,
// right after its own write, by ordinary delete records (and, in the
// separate-files layout, the removal of entry files announced in the
// journal, as DeleteStale does): an eviction is as cross-process safe and
// as crash-safe as any delete. A writer killed between its write and its
// eviction leaves one entry too many, which the next write evicts.
type bounds struct {
	maxEntries int
	maxBytes   int64

	clock uint64
	use   map[string]stamp // key -> last use

	// ents maps each entry's key to the size of its value, -1 when not
	// yet known (another process's entry file); nil when the entries must
	// be listed again (separate-files layout: the journal does not hold
	// them all).
	ents    map[string]int64
	bytes   int64 // sum of the known sizes in ents
	unknown int   // entries of unknown size in ents
}

// stamp is a use of an entry: the use clock, and the entry's time, by
// which a log read again from the start (after another process compacted
// it) is told from a new write of the key.
type stamp struct {
	n    uint64
	sec  int64
	nsec uint32
}

// Bound implements store.Bounder: fn holds at most maxEntries entries and
// maxBytes bytes of values (0: no bound), from this process's next write
// on. Every process that writes fn should bound it alike (the core does,
// from the function's tag).
func (s *Store) Bound(fn string, maxEntries int, maxBytes int64) {
	st := s.state(fn)
	st.mu.Lock()
	defer st.mu.Unlock()
	if maxEntries <= 0 && maxBytes <= 0 {
		st.b = nil
		return
	}
	st.b = &bounds{maxEntries: max(maxEntries, 0), maxBytes: max(maxBytes, 0), use: map[string]stamp{}}
	st.b.reset(st.entDir == "")
	if st.loaded && st.entDir == "" {
		for k, l := range st.index {
			st.b.add(k, valueSize(k, l))
		}
	}
}

// valueSize is the size of the value of the entry of key at l.
func valueSize(key string, l loc) int64 {
	n := l.n - frameLen - 3 - int64(len(key)) - 12
	if l.exp != 0 {
		n -= 8
	}
	return n
}

func (b *bounds) reset(single bool) {
	b.ents, b.bytes, b.unknown = nil, 0, 0
	if single {
		b.ents = map[string]int64{}
	}
}

func (b *bounds) add(key string, size int64) {
	b.remove(key)
	if b.ents == nil {
		return
	}
	b.ents[key] = size
	if size < 0 {
		b.unknown++
	} else {
		b.bytes += size
	}
}

func (b *bounds) remove(key string) {
	if old, ok := b.ents[key]; ok {
		if old < 0 {
			b.unknown--
		} else {
			b.bytes -= old
		}
		delete(b.ents, key)
	}
}

// touch records a use of key's entry of time (sec, nsec); a re-read of
// the same entry keeps its last use.
func (b *bounds) touch(key string, sec int64, nsec uint32, hit bool) {
	if old, ok := b.use[key]; ok && !hit && old.sec == sec && old.nsec == nsec {
		return
	}
	b.clock++
	b.use[key] = stamp{n: b.clock, sec: sec, nsec: nsec}
}

// boundApply folds a record into the bounds, before apply does. st.mu is
// held.
func (st *fnState) boundApply(r record) {
	b := st.b
	switch r.typ {
	case recSet:
		b.add(r.key, int64(len(r.value)))
		b.touch(r.key, r.sec, r.nsec, false)
	case recEntry:
		b.add(r.key, -1)
		b.touch(r.key, 0, 0, true)
	case recDelete:
		b.remove(r.key)
		delete(b.use, r.key)
	case recClear:
		b.reset(st.entDir == "")
	}
}

// boundHit records a hit on key. st.mu is held.
func (st *fnState) boundHit(key string) {
	if st.b != nil {
		u := st.b.use[key]
		st.b.touch(strings.Clone(key), u.sec, u.nsec, true) // key is the caller's (Get)
	}
}

// checkBound refuses a value larger than the whole max_size: storing it
// would evict every other entry and still hold too much.
func (st *fnState) checkBound(size int) error {
	st.mu.Lock()
	b := st.b
	st.mu.Unlock()
	if b != nil && b.maxBytes > 0 && int64(size) > b.maxBytes {
		return st.errorf("a value of %d bytes is larger than max_size (%d bytes); not stored", size, b.maxBytes)
	}
	return nil
}

// enforceBounds evicts the least recently used entries while the function
// holds more than its bounds, down to a sixteenth below them so that the
// next writes need not evict again at once. The lock and st.mu are held
// and the view is up to date.
func (st *fnState) enforceBounds() error {
	b := st.b
	if b == nil {
		return nil
	}
	if b.ents == nil {
		if err := st.listEntries(); err != nil {
			return err
		}
	}
	over := func(n int, bytes int64) bool {
		return (b.maxEntries > 0 && n > b.maxEntries) || (b.maxBytes > 0 && bytes > b.maxBytes)
	}
	if !over(len(b.ents), b.bytes) && b.unknown == 0 {
		return nil
	}
	if b.unknown > 0 {
		st.sizeUnknown()
		if !over(len(b.ents), b.bytes) {
			return nil
		}
	}
	if len(b.ents) < 2 {
		return nil // never the only entry: Set refused values larger than max_size
	}
	keys := make([]string, 0, len(b.ents))
	for k := range b.ents {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y string) int {
		ux, uy := b.use[x].n, b.use[y].n
		switch {
		case ux < uy:
			return -1
		case ux > uy:
			return 1
		}
		return strings.Compare(x, y)
	})
	targetN, targetB := b.maxEntries-b.maxEntries/16, b.maxBytes-b.maxBytes/16
	n, bytes := len(b.ents), b.bytes
	var victims []string
	for _, k := range keys[:len(keys)-1] { // never the most recent
		if (b.maxEntries == 0 || n <= targetN) && (b.maxBytes == 0 || bytes <= targetB) {
			break
		}
		victims = append(victims, k)
		n--
		bytes -= b.ents[k]
	}
	return st.evict(victims)
}

// evict deletes the entries of keys, as Delete does.
func (st *fnState) evict(keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	st.wbuf = st.wbuf[:0]
	if st.entDir != "" {
		for _, k := range keys {
			st.wbuf = appendSimple(st.wbuf, st.seed, recIntent, k)
		}
		if err := st.appendRecords(st.wbuf); err != nil {
			return err
		}
		paths := make([]string, len(keys))
		for i, k := range keys {
			paths[i] = filepath.Join(st.entDir, entryName(k))
		}
		if err := removeAll(paths); err != nil {
			return st.errorf("evicting: %w", err)
		}
		st.wbuf = st.wbuf[:0]
	}
	for _, k := range keys {
		st.wbuf = appendSimple(st.wbuf, st.seed, recDelete, k)
	}
	return st.appendRecords(st.wbuf)
}

// entryHeadLen is the size of an entry file's head for key, without an
// expiry (8 bytes more with one: sizes read this way may count 8 bytes
// too many, never too few).
func entryHeadLen(key string) int64 { return int64(entryFixed + len(key) + 12) }

// listEntries lists the separate-files layout's entry files into the
// bounds: their keys and sizes, from their names and file sizes. Keys that
// are not their own file names (not lowercase hex) are read from the
// file's head.
func (st *fnState) listEntries() error {
	b := st.b
	b.ents, b.bytes, b.unknown = map[string]int64{}, 0, 0
	ds, err := os.ReadDir(st.entDir)
	if err != nil && !os.IsNotExist(err) {
		return st.errorf("%w", err)
	}
	for _, d := range ds {
		name := d.Name()
		if !d.Type().IsRegular() || !strings.HasSuffix(name, entrySuffix) {
			continue
		}
		key := strings.TrimSuffix(name, entrySuffix)
		if strings.HasPrefix(name, "x~") {
			k, _, _, _, ok := entryHead(filepath.Join(st.entDir, name), st.seed)
			if !ok {
				continue
			}
			key = k
		}
		fi, err := d.Info()
		if err != nil {
			continue
		}
		b.add(key, max(fi.Size()-entryHeadLen(key), 0))
		if _, ok := b.use[key]; !ok {
			b.use[key] = stamp{} // used before anything this process saw
		}
	}
	return nil
}

// sizeUnknown learns the sizes of the entries written by other processes
// from their files; an entry whose file is gone is dropped.
func (st *fnState) sizeUnknown() {
	b := st.b
	for k, size := range b.ents {
		if size >= 0 {
			continue
		}
		fi, err := os.Lstat(filepath.Join(st.entDir, entryName(k)))
		if err != nil {
			b.remove(k)
			continue
		}
		b.add(k, max(fi.Size()-entryHeadLen(k), 0))
	}
}
