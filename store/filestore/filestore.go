// Package filestore is the cachier store that keeps results in files: the
// "file" backend (alias "pickle"), the default, which needs no setup.
//
// A Store serves one directory (cache_dir). Processes that share the
// directory share the cache: they see each other's entries and wait for
// each other's calculations.
//
// # Layouts
//
// In the default layout every function has one append-only log file,
// <name>.<hash>.log, beside a lock file <name>.<hash>.lock. <name> is the
// function's identity with every character other than ASCII letters, digits,
// '-', '_' and '.' replaced by '_', cut to 64 bytes, for people to read;
// <hash> is 128 bits of the identity's SHA-256, so that two identities never
// share a file whatever their names (slashes, unicode, any length).
//
// With Options.SeparateFiles every function has a directory
// <name>.<hash>.d holding one file per entry (<key>.entry, written to a
// temporary file, synced and renamed into place), a lock file, and a
// journal: a log like the one above, holding the being-calculated marks and
// a record per written entry, by which other processes learn which entries
// changed.
//
// Directories are created with mode 0700 and files with mode 0600, since
// cached results can be private. Clear, ClearMarks and DeleteStale touch the
// files of their function only.
//
// # The log
//
// A log starts with an 8-byte magic number; each record after it is framed
// by its length and its CRC-32C. A write appends one record at the end of
// the file (never rewriting what is there) under an exclusive lock, so a
// write costs the same with ten entries or a million. Each process keeps an
// in-memory index, key → offset, and reads a value with one positioned read.
// Before a Get the store stats the log: when neither the file nor its size
// has changed, nothing is read; when it grew, only the new records are read;
// when it was replaced (another process compacted or cleared it), the new
// file is read from the start.
//
// When the records that no longer count (overwritten entries, released
// marks) outweigh the live ones, and pass 256 KiB, a writer compacts the log:
// it writes the live records to a temporary file, syncs it and renames it
// over the log. The cost is proportional to the live data, and happens once
// the same amount of garbage has accumulated, so it adds a constant to each
// write on average.
//
// # Crashes
//
// A process killed at any moment, SIGKILL included, loses at most the record
// it was writing, never an earlier one: records are only ever appended, and
// files are only ever replaced by a rename of a complete, synced temporary
// file. A record that is incomplete or fails its checksum ends what a reader
// accepts; the next writer (which, holding the lock, knows nobody else is
// writing) logs it once through log/slog and truncates it. A damaged file,
// or damaged entry, is a miss, never a wrong value, and the next write
// repairs it.
//
// Appends are not synced by default: the bytes a process has written are in
// the kernel and survive the process, whatever kills it. What a power
// failure may take is the last records before it, which the checksums then
// drop. Options.Sync adds an fsync to every append for those who need
// durability across power failures, at the cost of the disk's sync latency
// on every write.
//
// # Locks and marks
//
// Writers of one function exclude each other, across processes, with an
// exclusive flock(2) (LockFileEx on Windows) on the function's lock file,
// which the operating system releases when the process dies, however it
// dies. Waiting for the lock is bounded by Options.Timeout. Readers take no
// lock.
//
// Being-calculated marks are log records carrying their owner and their
// expiry time, so every process sees them, and a mark left by a process that
// died mid-calculation blocks nobody past its expiry: the ttl the core
// passes to Mark.
//
// # Reload
//
// With Options.NoReload (the tag reload=false) a Get looks at the file only
// the first time a function is used; after that it answers from the
// in-memory view, which the process's own writes keep up to date. A write
// (Set, Mark, Clear...) always brings the view up to date with the other
// processes' writes first, since it must append after them and keep their
// entries and marks; so does Wait, by which a caller waits for another
// process's calculation, whose result it is waiting to read.
package filestore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachier-go/cachier/store"
)

// DefaultTimeout bounds how long one operation waits for another writer of
// the same function, in this process or another, when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// compactMin is the least garbage (bytes of records that no longer count)
// that makes a writer compact a log. A variable so that tests can lower it.
var compactMin int64 = 256 << 10

// cacheMax is the largest value the separate-files layout keeps in memory
// between Gets (with reload on); larger ones are read from their file at
// every Get, where the read costs little beside decoding them.
const cacheMax = 16 << 10

// cacheBudget bounds the bytes of values the separate-files layout keeps in
// memory per function (with reload on); past it, values are read from their
// files.
const cacheBudget = 32 << 20

// syncEntries makes the separate-files layout sync an entry file before
// renaming it into place. Only benchmarks turn it off, to fill a cache fast.
var syncEntries = true

// maxWait bounds one Wait, so that a caller checks again even when nothing
// it can see changed.
const maxWait = 500 * time.Millisecond

// Options configure a Store. The zero value gives the defaults: one file per
// function, and every process seeing the others' writes.
type Options struct {
	// SeparateFiles keeps every entry in a file of its own (the tag
	// separate_files) instead of one log per function.
	SeparateFiles bool

	// NoReload makes Get answer from the process's in-memory view, without
	// looking at the files again after a function's first use (the tag
	// reload=false).
	NoReload bool

	// Sync makes every append to a log wait for fsync: durable across a
	// power failure, at the cost of a disk sync per write. Without it, what
	// is written survives any crash of the process but not of the machine.
	// Entry files of the separate-files layout, and compacted logs, are
	// synced before they are renamed into place either way.
	Sync bool

	// Timeout bounds how long an operation waits for the lock held by
	// another writer of the same function; 0 means DefaultTimeout.
	Timeout time.Duration

	// Logger receives the reports of damaged files; nil means slog.Default().
	Logger *slog.Logger
}

// Store is a store.Store (and store.Waiter) over the files of one
// directory. It is safe for concurrent use, by goroutines and by processes
// sharing the directory. The zero value is not usable; call New.
type Store struct {
	dir     string
	o       Options
	timeout time.Duration
	fns     sync.Map // fn string -> *fnState
	closed  atomic.Bool
}

var (
	_ store.Store  = (*Store)(nil)
	_ store.Waiter = (*Store)(nil)
)

// New returns a Store over the directory dir, creating it (mode 0700) if it
// is missing. dir is used as given: New expands neither "~" nor variables.
func New(dir string, o Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("cachier: file store: empty directory name")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cachier: file store: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("cachier: file store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("cachier: file store: %s is not a directory", dir)
	}
	s := &Store{dir: dir, o: o, timeout: o.Timeout}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	return s, nil
}

// Dir returns the directory the store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// Close releases the files the store holds open. The files stay; using the
// store after Close is an error.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.fns.Range(func(_, v any) bool {
		st := v.(*fnState)
		st.wsem <- struct{}{}
		st.mu.Lock()
		st.reset(nil, nil)
		st.loaded = false
		if st.lockf != nil {
			st.lockf.Close()
			st.lockf = nil
		}
		st.mu.Unlock()
		<-st.wsem
		return true
	})
	return nil
}

var errClosed = errors.New("cachier: file store: closed")

func (s *Store) logger() *slog.Logger {
	if s.o.Logger != nil {
		return s.o.Logger
	}
	return slog.Default()
}

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
	noComp     int64 // no compaction attempt below this log size (after a failed one)
}

// loc is where an entry's record is in the log, and its time.
type loc struct {
	off, n int64
	sec    int64
	nsec   uint32
}

// centry is an entry of the separate-files layout as this process last read
// it: absent, present with its value, or present but too large to keep.
type centry struct {
	present  bool
	hasValue bool
	value    []byte
	t        time.Time
}

type mark struct {
	owner string
	exp   int64 // Unix nanoseconds
	n     int64
}

func (s *Store) state(fn string) *fnState {
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
	return v.(*fnState)
}

// reset forgets what was read from the old log and starts over on f.
func (st *fnState) reset(f *os.File, fi os.FileInfo) {
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
	switch r.typ {
	case recSet:
		if old, ok := st.index[r.key]; ok {
			st.live -= old.n
		}
		st.index[r.key] = loc{off: off, n: n, sec: r.sec, nsec: r.nsec}
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

// acquire takes the function's write lock: first this process's, then the
// file lock that excludes other processes. The wait is bounded by the
// store's timeout and by ctx.
func (st *fnState) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, st.errorf("%w", err)
	}
	cancel := context.CancelFunc(func() {})
	bounded := false
	bound := func() {
		if !bounded {
			ctx, cancel = context.WithTimeout(ctx, st.s.timeout)
			bounded = true
		}
	}
	defer func() { cancel() }()
	select {
	case st.wsem <- struct{}{}:
	default:
		bound()
		select {
		case st.wsem <- struct{}{}:
		case <-ctx.Done():
			return nil, st.errorf("waiting for the lock: %w", context.Cause(ctx))
		}
	}
	if st.lockf == nil {
		if err := st.openLock(); err != nil {
			<-st.wsem
			return nil, err
		}
	}
	delay := 50 * time.Microsecond
	for {
		ok, err := tryLock(st.lockf)
		if err != nil {
			<-st.wsem
			return nil, st.errorf("locking %s: %w", st.lockPath, err)
		}
		if ok {
			break
		}
		bound()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-st.wsem
			return nil, st.errorf("waiting for the lock on %s: %w", st.lockPath, context.Cause(ctx))
		}
		delay = min(2*delay, 5*time.Millisecond)
	}
	return func() {
		if unlock(st.lockf) != nil {
			// Closing the file drops the lock for sure.
			st.lockf.Close()
			st.lockf = nil
		}
		<-st.wsem
	}, nil
}

func (st *fnState) openLock() error {
	if err := st.ensureDir(); err != nil {
		return err
	}
	if err := notLink(st.lockPath); err != nil {
		return st.errorf("%w", err)
	}
	f, err := os.OpenFile(st.lockPath, os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return st.errorf("%w", err)
	}
	st.lockf = f
	return nil
}

// locked runs op holding the function's lock and st.mu, with the view up to
// date, then compacts the log if it is due.
func (st *fnState) locked(ctx context.Context, op func() error) error {
	release, err := st.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	if err := st.checkEntDir(); err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.refresh(true); err != nil {
		return err
	}
	if err := st.finishPending(); err != nil {
		return err
	}
	if err := op(); err != nil {
		return err
	}
	st.maybeCompact()
	return nil
}

// finishPending completes the announcements of entry-file changes that
// writers which died left open: holding the lock, this process knows that
// nobody is making them. An entry record for each key (a clear for
// "every key") makes every process read those files again.
func (st *fnState) finishPending() error {
	if len(st.pending) == 0 && !st.pendingAll {
		return nil
	}
	st.s.logger().Warn("cachier: file store: completing entry writes interrupted by a process that died",
		"dir", st.entDir, "function", st.fn, "keys", len(st.pending), "all", st.pendingAll)
	b := st.wbuf[:0]
	if st.pendingAll {
		b = appendSimple(b, st.seed, recClear, "")
	}
	for k := range st.pending {
		b = appendSimple(b, st.seed, recEntry, k)
	}
	st.wbuf = b
	return st.appendRecords(b)
}

// appendRecords writes the framed records in b at the end of the log,
// creating (or replacing a damaged) log first, and applies them. The lock
// and st.mu are held and the view is up to date.
func (st *fnState) appendRecords(b []byte) error {
	if st.f == nil || st.bad {
		if err := st.replace(nil); err != nil {
			return err
		}
	}
	if _, err := st.f.WriteAt(b, st.off); err != nil {
		_ = st.f.Truncate(st.off) // leave no torn record behind
		return st.errorf("writing %s: %w", st.logPath, err)
	}
	if st.s.o.Sync {
		if err := st.f.Sync(); err != nil {
			return st.errorf("syncing %s: %w", st.logPath, err)
		}
	}
	for off := st.off; len(b) > 0; {
		n := frameLen + int64(binary.LittleEndian.Uint32(b))
		if r, err := parseRecord(b[frameLen:n]); err == nil {
			st.apply(off, n, r)
		}
		st.lastOff = off
		copy(st.lastFrame[:], b[:frameLen])
		off += n
		b = b[n:]
		st.off = off
	}
	return nil
}

// replace writes a new log, holding the magic number and whatever body
// writes, to a temporary file, syncs it and renames it over the log, then
// reads it. The lock and st.mu are held.
func (st *fnState) replace(body func(w io.Writer) error) error {
	dir := filepath.Dir(st.logPath)
	if err := st.ensureDir(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(st.logPath)+".tmp-*")
	if err != nil {
		return st.errorf("%w", err)
	}
	err = func() error {
		w := &bufWriter{f: tmp, b: make([]byte, 0, 64<<10)}
		w.Write([]byte(logMagic))
		w.Write(appendFunc(nil, st.fn))
		if body != nil {
			if err := body(w); err != nil {
				return err
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		if err := tmp.Sync(); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		return renameInto(tmp.Name(), st.logPath)
	}()
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return st.errorf("writing %s: %w", st.logPath, err)
	}
	_ = syncDir(dir) // the rename is done; its durability is best effort
	return st.refresh(true)
}

// bufWriter is a minimal buffered writer with a sticky error.
type bufWriter struct {
	f   *os.File
	b   []byte
	err error
}

func (w *bufWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if len(w.b)+len(p) > cap(w.b) {
		if w.err = w.flush(); w.err != nil {
			return 0, w.err
		}
		if len(p) > cap(w.b) {
			_, w.err = w.f.Write(p)
			return len(p), w.err
		}
	}
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *bufWriter) flush() error {
	if w.err == nil && len(w.b) > 0 {
		_, w.err = w.f.Write(w.b)
		w.b = w.b[:0]
	}
	return w.err
}

// maybeCompact rewrites the log without its garbage once the garbage
// outweighs the live records and passes compactMin. A failed compaction
// (say, Windows refusing to rename over a file another process has open)
// costs nothing but the attempt: the log stays as it was.
func (st *fnState) maybeCompact() {
	if st.f == nil || st.bad {
		return
	}
	data := st.off - st.start
	garbage := data - st.live
	if garbage <= st.live || garbage < compactMin || st.off < st.noComp {
		return
	}
	old, end := st.f, st.off
	now := time.Now().UnixNano()
	err := st.replace(func(w io.Writer) error {
		var buf []byte
		_, damaged, err := st.sc.scan(old, st.seed, st.start, end, func(off, _ int64, r record) {
			if r.typ == recSet {
				if l, ok := st.index[r.key]; ok && l.off == off {
					buf = appendSet(buf[:0], st.seed, r.key, time.Unix(r.sec, int64(r.nsec)), r.value)
					w.Write(buf)
				}
			}
		})
		if err == nil && damaged {
			err = errDamaged
		}
		if err != nil {
			return err
		}
		for k, m := range st.marks {
			if m.exp > now {
				buf = appendMark(buf[:0], st.seed, k, m.owner, m.exp)
				w.Write(buf)
			}
		}
		return nil
	})
	if err != nil {
		st.noComp = 2 * end
		st.s.logger().Warn("cachier: file store: could not compact the log; it keeps growing until the next attempt",
			"file", st.logPath, "function", st.fn, "error", err)
	}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	if err := ctx.Err(); err != nil {
		return store.Entry{}, fmt.Errorf("cachier: file store: %w", err)
	}
	st := s.state(fn)
	if s.o.SeparateFiles {
		return st.getSeparate(key)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.loaded || !s.o.NoReload {
		if err := st.refresh(false); err != nil {
			return store.Entry{}, err
		}
	}
	for retried := false; ; retried = true {
		l, ok := st.index[key]
		if !ok {
			return store.Entry{}, store.ErrNotFound
		}
		r, err := readRecordAt(st.f, st.seed, l.off, l.n)
		if err == nil && (r.typ != recSet || r.key != key) {
			err = errDamaged
		}
		if errors.Is(err, errDamaged) && !retried && !st.tailIntact() {
			// The log was rewritten in place since it was read: read it
			// again from the start.
			st.fi = nil
			if err := st.refresh(false); err != nil {
				return store.Entry{}, err
			}
			continue
		}
		if errors.Is(err, errDamaged) {
			// Only damage to the file since it was read gets here.
			s.logger().Warn("cachier: file store: damaged entry ignored; the next write replaces it",
				"file", st.logPath, "function", fn, "key", key, "offset", l.off)
			st.live -= l.n
			delete(st.index, key)
			return store.Entry{}, store.ErrNotFound
		}
		if err != nil {
			return store.Entry{}, st.errorf("reading %s: %w", st.logPath, err)
		}
		return store.Entry{Value: r.value, Time: time.Unix(r.sec, int64(r.nsec))}, nil
	}
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, fn, key string, e store.Entry) error {
	if err := checkKey(key); err != nil {
		return err
	}
	st := s.state(fn)
	if s.o.SeparateFiles {
		return st.setSeparate(ctx, key, e)
	}
	return st.locked(ctx, func() error {
		st.wbuf = appendSet(st.wbuf[:0], st.seed, key, e.Time, e.Value)
		err := st.appendRecords(st.wbuf)
		if cap(st.wbuf) > 1<<20 {
			st.wbuf = nil
		}
		return err
	})
}

// Mark implements store.Store.
func (s *Store) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (acquired bool, err error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	st := s.state(fn)
	err = st.locked(ctx, func() error {
		now := time.Now().UnixNano()
		if m, ok := st.marks[key]; ok && m.owner != owner && now < m.exp {
			return nil
		}
		acquired = true
		exp := now + int64(ttl)
		if ttl > 0 && exp < now {
			exp = math.MaxInt64 // a ttl past the year 2262
		}
		st.wbuf = appendMark(st.wbuf[:0], st.seed, key, owner, exp)
		return st.appendRecords(st.wbuf)
	})
	if err != nil {
		return false, err
	}
	return acquired, nil
}

// maxKey is the longest key the log format holds.
const maxKey = 1<<16 - 1

func checkKey(key string) error {
	if len(key) > maxKey {
		return fmt.Errorf("cachier: file store: key of %d bytes, longer than %d", len(key), maxKey)
	}
	return nil
}

// Unmark implements store.Store.
func (s *Store) Unmark(ctx context.Context, fn, key, owner string) error {
	st := s.state(fn)
	return st.locked(ctx, func() error {
		if m, ok := st.marks[key]; !ok || m.owner != owner {
			return nil
		}
		st.wbuf = appendUnmark(st.wbuf[:0], st.seed, key, owner)
		return st.appendRecords(st.wbuf)
	})
}

// ClearMarks implements store.Store.
func (s *Store) ClearMarks(ctx context.Context, fn string) error {
	st := s.state(fn)
	return st.locked(ctx, func() error {
		if len(st.marks) == 0 {
			return nil
		}
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recClearMarks, "")
		return st.appendRecords(st.wbuf)
	})
}

// Clear implements store.Store.
func (s *Store) Clear(ctx context.Context, fn string) error {
	st := s.state(fn)
	return st.locked(ctx, func() error {
		if st.entDir == "" {
			st.removeStaleTemps()
			if st.f == nil && !st.bad {
				return nil
			}
			return st.replace(nil) // an empty log
		}
		// Announce, remove the entry files, report done (see setSeparate).
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recIntent, "")
		if err := st.appendRecords(st.wbuf); err != nil {
			return err
		}
		paths, err := st.entryFiles(true)
		if err != nil {
			return err
		}
		if err := removeAll(paths); err != nil {
			return st.errorf("%w", err)
		}
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recClear, "")
		return st.appendRecords(st.wbuf)
	})
}

// DeleteStale implements store.Store.
func (s *Store) DeleteStale(ctx context.Context, fn string, cutoff time.Time) error {
	st := s.state(fn)
	return st.locked(ctx, func() error {
		st.wbuf = st.wbuf[:0]
		if st.entDir == "" {
			for k, l := range st.index {
				if time.Unix(l.sec, int64(l.nsec)).Before(cutoff) {
					st.wbuf = appendSimple(st.wbuf, st.seed, recDelete, k)
				}
			}
		} else {
			paths, err := st.entryFiles(false)
			if err != nil {
				return err
			}
			var doomed, keys []string
			for _, p := range paths {
				key, t, ok := readEntryHead(p)
				ok = ok && entryName(key) == filepath.Base(p)
				if ok && !t.Before(cutoff) {
					continue
				}
				doomed = append(doomed, p) // stale, or damaged
				if ok {
					keys = append(keys, key)
				}
			}
			// Announce, remove, report done (see setSeparate).
			for _, k := range keys {
				st.wbuf = appendSimple(st.wbuf, st.seed, recIntent, k)
			}
			if len(st.wbuf) > 0 {
				if err := st.appendRecords(st.wbuf); err != nil {
					return err
				}
			}
			if err := removeAll(doomed); err != nil {
				return st.errorf("%w", err)
			}
			st.wbuf = st.wbuf[:0]
			for _, k := range keys {
				st.wbuf = appendSimple(st.wbuf, st.seed, recDelete, k)
			}
		}
		if len(st.wbuf) == 0 {
			return nil
		}
		return st.appendRecords(st.wbuf)
	})
}

// Wait implements store.Waiter: it returns when the function's log changes,
// when the mark on key expires, after at most half a second, or when ctx is
// done. It watches the file with a stat every few milliseconds, and brings
// the in-memory view up to date before it returns, with NoReload too: a
// caller waiting for another process's result then finds it.
func (s *Store) Wait(ctx context.Context, fn, key string) error {
	st := s.state(fn)
	st.mu.Lock()
	fi, off := st.fi, st.off
	until := time.Now().Add(maxWait)
	if m, ok := st.marks[key]; ok {
		if exp := time.Unix(0, m.exp); exp.Before(until) {
			until = exp
		}
	}
	st.mu.Unlock()
	// A waiter reads what changed even under NoReload, as cachier does
	// while it waits: the result it waits for is another process's.
	done := func() error {
		st.mu.Lock()
		defer st.mu.Unlock()
		return st.refresh(false)
	}
	delay := time.Millisecond
	for {
		nfi, err := os.Lstat(st.logPath)
		if (err == nil) != (fi != nil) || (err == nil && (!os.SameFile(nfi, fi) || nfi.Size() != off)) {
			return done()
		}
		left := time.Until(until)
		if left <= 0 {
			return done()
		}
		t := time.NewTimer(min(delay, left))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
}

// The entry files of the separate-files layout hold
//
//	[8] entryMagic
//	[4] CRC-32C of everything after it, seeded with the function's seed
//	    (see the log format), so that an entry file copied from another
//	    function's directory is a miss
//	[2] key length, [k] key
//	[8] seconds, [4] nanoseconds
//	[n] value
const entryMagic = "CACHENT\x02"

const entryFixed = len(entryMagic) + 4 + 2

func encodeEntry(seed uint32, key string, e store.Entry) []byte {
	b := make([]byte, 0, entryFixed+len(key)+12+len(e.Value))
	b = append(b, entryMagic...)
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Time.Nanosecond()))
	b = append(b, e.Value...)
	binary.LittleEndian.PutUint32(b[len(entryMagic):], crc32.Update(seed, castagnoli, b[len(entryMagic)+4:]))
	return b
}

// decodeEntry checks and decodes an entry file's content; ok is false when
// it is damaged. When full is false b may be only the file's beginning, and
// the checksum and value are not checked.
func decodeEntry(b []byte, seed uint32, full bool) (key string, t time.Time, value []byte, ok bool) {
	if len(b) < entryFixed || string(b[:len(entryMagic)]) != entryMagic {
		return "", time.Time{}, nil, false
	}
	if full && binary.LittleEndian.Uint32(b[len(entryMagic):]) != crc32.Update(seed, castagnoli, b[len(entryMagic)+4:]) {
		return "", time.Time{}, nil, false
	}
	kl := int(binary.LittleEndian.Uint16(b[len(entryMagic)+4:]))
	rest := b[entryFixed:]
	if len(rest) < kl+12 {
		return "", time.Time{}, nil, false
	}
	key = string(rest[:kl])
	sec := int64(binary.LittleEndian.Uint64(rest[kl:]))
	nsec := binary.LittleEndian.Uint32(rest[kl+8:])
	if nsec >= 1e9 {
		return "", time.Time{}, nil, false
	}
	return key, time.Unix(sec, int64(nsec)), rest[kl+12:], true
}

// readEntryHead reads the key and time of the entry file at path.
func readEntryHead(path string) (key string, t time.Time, ok bool) {
	f, err := openFile(path, false)
	if err != nil {
		return "", time.Time{}, false
	}
	defer f.Close()
	var b [4096]byte
	n, _ := io.ReadFull(f, b[:])
	key, t, _, ok = decodeEntry(b[:n], 0, false)
	return key, t, ok
}

func (st *fnState) getSeparate(key string) (store.Entry, error) {
	noReload := st.s.o.NoReload
	st.mu.Lock()
	if !st.loaded || !noReload {
		if err := st.refresh(false); err != nil {
			st.mu.Unlock()
			return store.Entry{}, err
		}
	}
	pending := st.pendingAll || st.pending[key]
	if c, ok := st.cache[key]; ok && !pending && (!c.present || c.hasValue) {
		st.mu.Unlock()
		if !c.present {
			return store.Entry{}, store.ErrNotFound
		}
		return store.Entry{Value: bytes.Clone(c.value), Time: c.t}, nil
	}
	epoch := st.epoch
	st.mu.Unlock()

	path := filepath.Join(st.entDir, entryName(key))
	var c centry
	b, err := readFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return store.Entry{}, st.errorf("%w", err)
	default:
		k, t, v, ok := decodeEntry(b, st.seed, true)
		if !ok || k != key {
			st.s.logger().Warn("cachier: file store: damaged entry file ignored; the next write replaces it",
				"file", path, "function", st.fn, "key", key)
		} else {
			c = centry{present: true, hasValue: true, value: v, t: t}
			if v == nil {
				c.value = []byte{}
			}
		}
	}
	st.mu.Lock()
	if st.epoch == epoch && !pending {
		kc := c
		big := len(kc.value) > cacheMax || st.cacheBytes+int64(len(kc.value)) > cacheBudget
		if kc.present && big && !noReload {
			kc.hasValue, kc.value = false, nil
		}
		if old, ok := st.cache[key]; ok {
			st.cacheBytes -= int64(len(old.value))
		}
		st.cache[key] = kc
		st.cacheBytes += int64(len(kc.value))
	}
	st.mu.Unlock()
	if !c.present {
		return store.Entry{}, store.ErrNotFound
	}
	// c.value is shared with the cache now: hand out a copy.
	return store.Entry{Value: bytes.Clone(c.value), Time: c.t}, nil
}

func (st *fnState) setSeparate(ctx context.Context, key string, e store.Entry) error {
	if err := ctx.Err(); err != nil {
		return st.errorf("%w", err)
	}
	if err := st.ensureDir(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(st.entDir, "tmp-*"+tmpSuffix)
	if err != nil {
		return st.errorf("%w", err)
	}
	_, err = tmp.Write(encodeEntry(st.seed, key, e))
	if err == nil && syncEntries {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return st.errorf("writing %s: %w", tmp.Name(), err)
	}
	err = st.locked(ctx, func() error {
		// Announce the change, make it, report it done: a process that
		// read the file between the first two keeps nothing, and if this
		// one dies before the last, the next writer reports it for us.
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recIntent, key)
		if err := st.appendRecords(st.wbuf); err != nil {
			return err
		}
		if err := renameInto(tmp.Name(), filepath.Join(st.entDir, entryName(key))); err != nil {
			return st.errorf("%w", err)
		}
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recEntry, key)
		return st.appendRecords(st.wbuf)
	})
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// tmpSuffix ends the names of temporary entry files.
const tmpSuffix = ".tmp"

// staleTemp is the age past which a temporary file is taken for the
// leftover of a writer that died, and removed by Clear.
const staleTemp = 10 * time.Minute

// entryFiles lists the entry files of the separate-files layout, and with
// temps also the temporary files old enough to be left over by writers that
// died. It lists nothing else.
func (st *fnState) entryFiles(temps bool) ([]string, error) {
	ds, err := os.ReadDir(st.entDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, st.errorf("%w", err)
	}
	var paths []string
	for _, d := range ds {
		name := d.Name()
		switch {
		case !d.Type().IsRegular():
			continue
		case strings.HasSuffix(name, entrySuffix):
		case temps && strings.HasPrefix(name, "tmp-") && strings.HasSuffix(name, tmpSuffix):
			if info, err := d.Info(); err != nil || time.Since(info.ModTime()) < staleTemp {
				continue
			}
		default:
			continue
		}
		paths = append(paths, filepath.Join(st.entDir, name))
	}
	return paths, nil
}

func removeAll(paths []string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// removeStaleTemps removes the temporary files that compactions of the
// function's log by dead processes left behind.
func (st *fnState) removeStaleTemps() {
	names, _ := filepath.Glob(st.logPath + ".tmp-*") // the stem has no metacharacters
	for _, p := range names {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && time.Since(fi.ModTime()) >= staleTemp {
			os.Remove(p)
		}
	}
}

// readFile reads a whole file, opened with openFile.
func readFile(path string) ([]byte, error) {
	f, err := openFile(path, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, fi.Size()+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
