// What a Store knows of one function's files, and how it keeps that view
// up to date with the log on disk: refresh, readTail, apply.

package filestore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fnState is what a Store knows of one function's files.
type fnState struct {
	s        *Store
	fn       string
	seed     uint32 // the checksum seed of fn's records
	logPath  string // the log, or the journal of the separate-files layout
	lockPath string
	entDir   string // the separate-files layout's directory, else ""

	wsem  chan struct{} // held by this process's writer of the function
	lockf *os.File      // the lock file, opened by the first writer; under wsem
	// lockFi is lockf's identity, by which a writer checks, holding the
	// lock, that the file is still the one at lockPath; under wsem.
	lockFi os.FileInfo
	// lockShort says that lockf, when the lock was taken, was too short to
	// hold the change counter (truncated by someone); under wsem.
	lockShort bool

	mu  sync.Mutex // guards everything below
	f   *os.File   // the log as last opened, nil when there is none
	fi  os.FileInfo
	off int64 // end of the last record applied
	// start is the end of the log's first record, which names fn.
	start int64
	// lastOff is the offset of the last record applied (0 when none: the
	// magic number is checked instead), and lastFrame its frame (length and
	// checksum), by which refresh checks that the file still holds what was
	// read before trusting st.off.
	lastOff    int64
	lastFrame  [frameLen]byte
	loaded     bool // the log was looked at once
	bad        bool // f has a damaged header; the next writer replaces it
	badFi      os.FileInfo
	index      map[string]loc    // single-file layout: where each entry is
	cache      map[string]centry // separate-files layout: entries read
	cacheBytes int64             // bytes of the values in cache
	marks      map[string]mark
	// pending holds the keys whose entry files a writer announced it was
	// about to change (pendingAll: every key) and has not reported done:
	// such a key is read from its file at every Get, never cached.
	pending    map[string]bool
	pendingAll bool
	live       int64  // framed bytes of the records that still count
	epoch      uint64 // bumped whenever cache entries are invalidated
	sc         scanner
	wbuf       []byte
	noComp     int64   // no compaction attempt below this log size (after a failed one)
	b          *bounds // max_entries and max_size; nil without

	// The change counter and the mapped log (see mapped.go).
	seq      []byte        // the lock file's change counter, mapped; nil when not
	seqFi    os.FileInfo   // the lock file seq maps
	seqOf    *os.File      // the lock file seq is mapped writable from; nil when read-only
	seqSeen  uint64        // the counter when the view was last brought up to date
	tickSeen uint64        // the recheck clock then
	seqTried time.Time     // when the lock file was last looked at for its counter
	data     []byte        // st.f mapped for reading; nil when not
	noMap    bool          // mapping the log failed once: read with ReadAt
	head     [headMax]byte // entryFrom's copy of a record's head
	checks   int           // views brought up to date by readers (for tests)
	faults   int           // mapped reads that faulted (for tests)
}

// loc is where an entry's record is in the log, and its time.
type loc struct {
	off, n int64
	sec    int64
	nsec   uint32
	exp    int64 // the entry's expiry, Unix nanoseconds; 0 for none
}

// expired reports whether an entry expiring at exp (Unix nanoseconds, 0
// for never) has expired at now.
func expired(exp, now int64) bool { return exp != 0 && exp <= now }

// centry is an entry of the separate-files layout as this process last read
// it: absent, present with its value, or present but too large to keep.
type centry struct {
	present  bool
	hasValue bool
	value    []byte
	t        time.Time
	exp      time.Time // the entry's Expires
}

type mark struct {
	owner string
	exp   int64 // Unix nanoseconds
	n     int64
}

func (s *Store) state(fn string) *fnState {
	if st := s.first.Load(); st != nil && st.fn == fn {
		return st // the store's first function: no map lookup
	}
	if v, ok := s.fns.Load(fn); ok {
		return v.(*fnState)
	}
	base := baseName(fn)
	st := &fnState{s: s, fn: fn, seed: fnSeed(fn), wsem: make(chan struct{}, 1)}
	if s.o.SeparateFiles {
		st.entDir = filepath.Join(s.dir, base+".d")
		st.logPath = filepath.Join(st.entDir, "journal")
		st.lockPath = filepath.Join(st.entDir, "lock")
	} else {
		st.logPath = filepath.Join(s.dir, base+".log")
		st.lockPath = filepath.Join(s.dir, base+".lock")
	}
	st.reset(nil, nil)
	v, _ := s.fns.LoadOrStore(fn, st)
	st = v.(*fnState)
	// Set once, never moved: with several functions in turns, a pointer
	// to the last one used would be written at every Get, from every core.
	s.first.CompareAndSwap(nil, st)
	return st
}

// reset forgets what was read from the old log and starts over on f.
func (st *fnState) reset(f *os.File, fi os.FileInfo) {
	if st.f != f {
		st.unmapData()
	}
	if st.f != nil && st.f != f {
		st.f.Close()
	}
	st.f, st.fi, st.off, st.bad = f, fi, 0, false
	st.lastOff, st.start = 0, 0
	st.index = map[string]loc{}
	st.cache, st.cacheBytes = map[string]centry{}, 0
	st.marks = map[string]mark{}
	st.pending, st.pendingAll = map[string]bool{}, false
	st.live = 0
	st.epoch++
	if st.b != nil {
		st.b.reset(st.entDir == "")
	}
}

func (st *fnState) errorf(format string, args ...any) error {
	return fmt.Errorf("cachier: file store: %s: "+format, append([]any{st.fn}, args...)...)
}

// refresh brings the in-memory view up to date with the log on disk,
// reading only what changed. locked says whether the caller holds the
// function's lock, and so may repair a damaged tail. st.mu is held.
func (st *fnState) refresh(locked bool) error {
	if st.s.closed.Load() {
		return errClosed
	}
	fi, err := os.Lstat(st.logPath)
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: st.logPath, Err: errLink}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if st.f != nil || !st.loaded {
				st.reset(nil, nil)
			}
			st.loaded = true
			return nil
		}
		return st.errorf("%w", err)
	}
	if st.f != nil && os.SameFile(fi, st.fi) {
		// A reader that finds the size it knows reads nothing; a writer,
		// and a reader that finds the file grew, first checks that the
		// last record it read is still there: a log truncated in place and
		// regrown by others' writes holds other records at that offset.
		switch size := fi.Size(); {
		case size == st.off && !locked:
			return nil
		case size >= st.off && st.bad:
			return nil
		case size >= st.off && st.tailIntact():
			if size == st.off {
				return nil
			}
			return st.readTail(locked, size)
		}
		// The file shrank below what was read, or was rewritten in place:
		// read it again.
	}
	if err := st.checkEntDir(); err != nil {
		return err
	}
	f, err := openFile(st.logPath, true)
	if err != nil && readOnly(err) {
		// A shared cache this process may only read (a read-only
		// directory or file system): serve it; writes fail later.
		f, err = openFile(st.logPath, false)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			st.reset(nil, nil)
			st.loaded = true
			return nil
		}
		return st.errorf("%w", err)
	}
	ofi, err := f.Stat()
	if err != nil {
		f.Close()
		return st.errorf("%w", err)
	}
	st.reset(f, ofi)
	st.loaded = true
	var magic [logHeader]byte
	if n, err := f.ReadAt(magic[:], 0); n < len(magic) || string(magic[:]) != logMagic {
		if err != nil && !errors.Is(err, io.EOF) {
			return st.errorf("%w", err)
		}
		st.markBad(ofi, "cachier: file store: damaged log file, or one of an older format, ignored; the next write replaces it")
		return nil
	}
	owner, frame, next, ok, err := readHead(f, ofi.Size())
	if err != nil {
		return st.errorf("reading %s: %w", st.logPath, err)
	}
	if !ok {
		st.markBad(ofi, "cachier: file store: damaged log file ignored; the next write replaces it")
		return nil
	}
	if owner != st.fn {
		st.markBad(ofi, "cachier: file store: log file of another function ignored; the next write replaces it",
			"owner", owner)
		return nil
	}
	st.off, st.start = next, next
	st.lastOff, st.lastFrame = logHeader, frame
	return st.readTail(locked, ofi.Size())
}

// markBad takes the log just opened for one the store cannot use, and
// logs it once per file.
func (st *fnState) markBad(fi os.FileInfo, msg string, attrs ...any) {
	st.bad, st.off = true, fi.Size()
	if st.badFi == nil || !os.SameFile(st.badFi, fi) {
		st.badFi = fi
		st.s.logger().Warn(msg, append([]any{"file", st.logPath, "function", st.fn}, attrs...)...)
	}
}

// tailIntact reports whether the log still holds, at st.lastOff, the last
// record read from it (the magic number when none was).
func (st *fnState) tailIntact() bool {
	var b [frameLen]byte
	if st.lastOff == 0 {
		n, _ := st.f.ReadAt(b[:len(logMagic)], 0)
		return n == len(logMagic) && string(b[:n]) == logMagic
	}
	n, _ := st.f.ReadAt(b[:], st.lastOff)
	return n == frameLen && b == st.lastFrame
}

// readTail applies the records between st.off and size.
func (st *fnState) readTail(locked bool, size int64) error {
	next, damaged, err := st.sc.scan(st.f, st.seed, st.off, size, st.apply)
	st.off = next
	if st.sc.lastOff >= 0 {
		st.lastOff, st.lastFrame = st.sc.lastOff, st.sc.last
	}
	if err != nil {
		return st.errorf("reading %s: %w", st.logPath, err)
	}
	if damaged && locked {
		st.s.logger().Warn("cachier: file store: dropping a torn or damaged log tail",
			"file", st.logPath, "function", st.fn, "offset", next, "bytes", size-next)
		if err := st.f.Truncate(next); err != nil {
			return st.errorf("truncating %s: %w", st.logPath, err)
		}
	}
	return nil
}

// apply folds one record into the in-memory view.
func (st *fnState) apply(off, n int64, r record) {
	if st.b != nil {
		st.boundApply(r)
	}
	switch r.typ {
	case recSet:
		if old, ok := st.index[r.key]; ok {
			st.live -= old.n
		}
		st.index[r.key] = loc{off: off, n: n, sec: r.sec, nsec: r.nsec, exp: r.exp}
		st.live += n
		st.invalidate(r.key)
		st.dropMark(r.key)
	case recIntent:
		if r.key == "" {
			st.pendingAll = true
			st.cache, st.cacheBytes = map[string]centry{}, 0
			st.epoch++
		} else {
			st.pending[r.key] = true
			st.invalidate(r.key)
		}
	case recEntry:
		delete(st.pending, r.key)
		st.invalidate(r.key)
		st.dropMark(r.key)
	case recDelete:
		if old, ok := st.index[r.key]; ok {
			st.live -= old.n
			delete(st.index, r.key)
		}
		delete(st.pending, r.key)
		st.invalidate(r.key)
	case recMark:
		st.dropMark(r.key)
		st.marks[r.key] = mark{owner: r.owner, exp: r.exp, n: n}
		st.live += n
	case recUnmark:
		if m, ok := st.marks[r.key]; ok && m.owner == r.owner {
			st.dropMark(r.key)
		}
	case recClear:
		st.index = map[string]loc{}
		st.marks = map[string]mark{}
		st.cache, st.cacheBytes = map[string]centry{}, 0
		st.pending, st.pendingAll = map[string]bool{}, false
		st.live = 0
		st.epoch++
	case recClearMarks:
		for k := range st.marks {
			st.dropMark(k)
		}
	}
}

func (st *fnState) invalidate(key string) {
	if c, ok := st.cache[key]; ok {
		st.cacheBytes -= int64(len(c.value))
		delete(st.cache, key)
	}
	st.epoch++
}

func (st *fnState) dropMark(key string) {
	if m, ok := st.marks[key]; ok {
		st.live -= m.n
		delete(st.marks, key)
	}
}
