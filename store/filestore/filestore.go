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
// files of their function only. Nothing inside the directory is followed
// through a symbolic link (see paths.go): a link at an entry directory, a
// log, a journal or a lock file makes the operation fail. A directory the
// process may only read (a shared, pre-filled cache) serves hits; writes
// to it fail.
//
// # Expiry and bounds
//
// An entry past its Expires is never served, and DeleteStale and
// compaction drop it. Bound (max_entries, max_size) keeps a function
// within a number of entries or bytes of values, evicting the least
// recently used (see bound.go); Functions and Entries (store.Lister) list
// what a directory holds without reading values.
//
// # The log
//
// A log starts with an 8-byte magic number and a record naming the
// function it belongs to; each record is framed by its length and its
// CRC-32C, seeded (but for the first) with a hash of the function's
// identity, so that a log or entry file copied from another function is a
// miss, never that function's cache; a log of another function or of an
// older format is ignored and replaced by the next write. A write appends one record at the end of
// the file (never rewriting what is there) under an exclusive lock, so a
// write costs the same with ten entries or a million. Each process keeps an
// in-memory index, key → offset, and reads a value from a memory mapping of
// the log (with a positioned read where the system has no mmap), checking
// its checksum, into a buffer that is the caller's alone.
//
// Writers count their changes in the first 8 bytes of the lock file, which
// every process maps (see mapped.go): while the count has not moved, a Get
// knows that its view is current and makes no system call at all. When it
// moved (and at least once a second, for changes no writer counted, such
// as a file removed by hand), the store stats the log: when neither the
// file nor its size has changed, nothing is read; when it grew, only the
// new records are read; when it was replaced (another process compacted or
// cleared it), the new file is read from the start. Before reading on from where it stopped, and
// before every write, the store checks that the last record it read is
// still where it was, so that a log truncated in place and regrown by other
// writers is read again from the start, never from inside a record.
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
// lock. A writer that holds the lock checks that its lock file is still
// the one at its path: a lock file removed or replaced while processes run
// (the cache's files deleted by hand, say) is left for the new one, so
// that writers still exclude each other.
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
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	fns     sync.Map                // fn string -> *fnState
	first   atomic.Pointer[fnState] // the state of the first function used
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
		st.unmapSeq()
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
