// How a Get learns, without a system call, that nothing changed: the
// change counter in the lock file, and the log read through a memory
// mapping.

package filestore

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// The change counter.
//
// The first 8 bytes of a function's lock file count the changes to its log.
// A writer, holding the lock, adds one after every operation (an append, a
// truncated torn tail, a log replaced by Clear or by a compaction), through
// a shared, writable mapping of the file; the kernel makes the store
// visible to every process that maps the file. A reader maps the same
// bytes for reading and keeps the counter's value from when it last
// brought its view up to date: while the counter has not moved, the view
// is current and a Get reads no file metadata at all. It then reads the
// record through a mapping of the log, checks its checksum and copies the
// value out for the caller (the store keeps no reference to what it
// returns).
//
// Changes that bypass the counter (a file removed by hand, a writer of an
// older version of this package) are still seen: at most recheckEvery
// after the last check, a Get stats the log (and the lock file) as it does
// without a counter. Where there is no counter to map (no writer has run,
// a read-only cache without a lock file, a system without mmap), every Get
// stats the log.
//
// A mapping of a log that another process truncates faults on access
// (SIGBUS) beyond the new end; the copy runs with debug.SetPanicOnFault,
// so the fault becomes a recovered panic, the mapping is dropped and the
// record is read with a positioned read, which sees the truncation. The
// counter is read and written under the same guard: a lock file truncated
// under its mappings (or a full file system under a writer's) makes
// readers drop the mapping and stat the log, and the next writer write a
// counter again, never a crash. A file cut to part of the counter faults
// nobody (its first page is still there), but what is counted beyond its
// end never reaches the file: the writer, which learns the file's size as
// it takes the lock, writes the counter again too.
//
// A cut counter must not count again from what is left of it: cut again,
// it would go through the same small values twice, and a reader that saw
// one of them before would take the view it had then for current. Every
// counter a writer starts is a time in nanoseconds, at least seqFloor, and
// only grows; what a cut leaves of one (at most 7 of its 8 bytes, or
// zeros where the file was grown again) is below seqFloor. No reader
// trusts a counter below it, and a writer whose count lands below it
// starts the counter again.

// seqLen is the size of the change counter at the start of the lock file.
const seqLen = 8

// seqFloor is the least counter a reader trusts: above every value that
// 7 bytes or fewer of a counter hold, below every time in nanoseconds since
// 1973, where a writer starts one.
const seqFloor = 1 << 56

// recheckEvery bounds how long a reader trusts the change counter alone.
// Tests change it with setRecheck.
var recheckEvery = time.Second

// The recheck clock ticks recheckEvery after a reader brings its view up to
// date, so that a Get compares two counters instead of reading the time: a
// reader trusts the change counter only while the clock has not ticked
// since its last check. The clock is a timer armed by the checks (never
// left running when nobody reads).
var recheck struct {
	tick  atomic.Uint64
	armed atomic.Bool
	mu    sync.Mutex
	timer *time.Timer
}

// armRecheck makes sure the recheck clock ticks within recheckEvery.
func armRecheck() {
	if recheck.armed.Load() {
		return
	}
	recheck.mu.Lock()
	defer recheck.mu.Unlock()
	if recheck.armed.Load() {
		return
	}
	recheck.armed.Store(true)
	recheck.timer = time.AfterFunc(recheckEvery, func() {
		recheck.mu.Lock()
		defer recheck.mu.Unlock()
		recheck.tick.Add(1)
		recheck.armed.Store(false)
	})
}

// setRecheck sets recheckEvery and restarts the clock, for tests.
func setRecheck(d time.Duration) {
	recheck.mu.Lock()
	defer recheck.mu.Unlock()
	recheckEvery = d
	if recheck.timer != nil {
		recheck.timer.Stop()
	}
	recheck.tick.Add(1)
	recheck.armed.Store(false)
}

// mapMin is the smallest mapping of a log; mappings grow to twice the log
// size, so that a growing log is mapped again only now and then.
const mapMin = 1 << 20

// mapMax bounds the mapping of a log; records beyond it are read with
// positioned reads.
const mapMax = 1 << 40

// noFault, deferred as
//
//	defer noFault(debug.SetPanicOnFault(true), &ok)
//
// by a function that reads or writes a mapping, turns a fault on the
// mapping (a page beyond the end of a file truncated under it: SIGBUS,
// which debug.SetPanicOnFault makes a panic) into ok = false, and restores
// the goroutine's setting. The function's other results keep whatever a
// return statement set, which the fault prevented.
func noFault(old bool, ok *bool) {
	debug.SetPanicOnFault(old)
	if recover() != nil {
		*ok = false
	}
}

// seqLoad reads the counter m maps, and seqAdd adds one to it. ok is false
// when the access faulted (noFault): the lock file was truncated under the
// mapping (by hand, or by another program), and the page is gone; the
// store then looks at the files again rather than crash the process.
//
// Built with the race detector, the atomic access runs in the detector's
// own code after a one-byte probe in Go's: a truncation between the two
// faults there, where no guard recovers, and the process dies. Only race
// builds; tests that cut a lock file while it is in use leave it a byte.
func seqLoad(m []byte) (c uint64, ok bool) {
	defer noFault(debug.SetPanicOnFault(true), &ok)
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&m[0]))), true
}

func seqAdd(m []byte) (c uint64, ok bool) {
	defer noFault(debug.SetPanicOnFault(true), &ok)
	return atomic.AddUint64((*uint64)(unsafe.Pointer(&m[0])), 1), true
}

// current reports whether the view is known to be up to date without a
// look at the files: the change counter has not moved since the view was
// last brought up to date, and the recheck clock has not ticked (that was
// less than recheckEvery ago). st.mu is held.
func (st *fnState) current() bool {
	if st.seq == nil || recheck.tick.Load() != st.tickSeen {
		return false
	}
	c, ok := seqLoad(st.seq)
	if !ok {
		st.seqFaulted()
		return false
	}
	return c == st.seqSeen && c >= seqFloor
}

// seqFaulted drops the mapping of a counter whose page faulted, and has
// the next check look at the lock file again at once.
func (st *fnState) seqFaulted() {
	st.unmapSeq()
	st.seqTried = time.Time{}
}

// check brings a reader's view up to date (refresh), noting the counter it
// is current with. st.mu is held.
func (st *fnState) check(now time.Time) error {
	if st.s.closed.Load() {
		return errClosed // before mapping anything that Close would not unmap
	}
	if canMap && now.Sub(st.seqTried) >= recheckEvery {
		st.seqTried = now
		st.mapSeq()
	}
	var c uint64
	if st.seq != nil {
		var ok bool
		c, ok = seqLoad(st.seq) // before the refresh: a change after it is seen next time
		if !ok {
			st.seqFaulted()
		}
	}
	tick := recheck.tick.Load()
	armRecheck() // after reading the tick: the next one comes after this check
	st.checks++
	if err := st.refresh(false); err != nil {
		return err
	}
	st.seqSeen, st.tickSeen = c, tick
	return nil
}

// mapSeq maps the counter of the lock file for reading, unless the lock
// file already mapped is still the one at lockPath; without a lock file
// holding a counter, it drops the mapping. st.mu is held.
func (st *fnState) mapSeq() {
	fi, err := os.Lstat(st.lockPath)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < seqLen {
		st.unmapSeq()
		return
	}
	if st.seq != nil && os.SameFile(fi, st.seqFi) {
		return
	}
	f, err := openFile(st.lockPath, false)
	if err != nil {
		st.unmapSeq()
		return
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil || !os.SameFile(fi, ofi) || ofi.Size() < seqLen {
		st.unmapSeq()
		return
	}
	m, err := mapFile(f, seqLen, false)
	st.unmapSeq()
	if err == nil {
		st.seq, st.seqFi = m, ofi
	}
}

// bump adds one to the counter, as a writer holding the lock does after
// every operation; ok says the operation succeeded, so that the view is
// the log's state and current with the new count. st.mu is held.
func (st *fnState) bump(ok bool) {
	if !canMap || st.lockf == nil {
		return
	}
	if st.seqOf != st.lockf || st.lockShort {
		// Not mapped yet, or the file was cut short of the counter since:
		// within the mapped page, a count beyond the end of the file never
		// reaches the file (and faults on no access), so put it back.
		st.lockShort = false
		st.mapSeqRW(false)
	}
	if st.seqOf == nil {
		st.bumpFile()
		return
	}
	c, added := seqAdd(st.seq)
	if !added || c <= seqFloor {
		// The lock file was truncated under the mapping (readers that
		// mapped it drop their mappings as they fault), or cut and grown
		// again, or cut to part of the counter since the lock was taken
		// (the add found a count below seqFloor): start a counter again.
		st.mapSeqRW(true)
		if st.seqOf == nil {
			return
		}
		if c, added = seqAdd(st.seq); !added || c <= seqFloor {
			st.unmapSeq() // still being cut: no count to trust
			return
		}
	}
	if ok {
		st.seqSeen, st.tickSeen = c, recheck.tick.Load()
		armRecheck()
	}
}

// bumpFile adds one to the counter with positioned I/O, for a writer that
// could not map it (the mapping budget is spent), so that readers that
// did map it see the change at once. A reader's load racing with the
// write may see some bytes of each count: a count it did not see before,
// which has it bring its view up to date, as the count does. A file too
// short to hold a counter, or holding what a cut left of one (below
// seqFloor), gets one that starts at the time in nanoseconds (mapSeqRW
// says why). st.mu and the lock are held.
func (st *fnState) bumpFile() {
	var b [seqLen]byte
	c := newSeq()
	if n, _ := st.lockf.ReadAt(b[:], 0); n == seqLen {
		if v := binary.LittleEndian.Uint64(b[:]); v >= seqFloor {
			c = v + 1
		}
	}
	_ = st.writeSeq(c) // a failed write leaves readers to the recheck, as without a counter
}

// newSeq is the first count of a counter a writer starts: the time in
// nanoseconds (see seqFloor and mapSeqRW).
func newSeq() uint64 { return uint64(time.Now().UnixNano()) }

// writeSeq writes c over the counter of the lock file the writer holds.
func (st *fnState) writeSeq(c uint64) error {
	var b [seqLen]byte
	binary.LittleEndian.PutUint64(b[:], c)
	_, err := st.lockf.WriteAt(b[:], 0)
	return err
}

// mapSeqRW maps the counter of the lock file the writer holds for writing,
// growing the file to hold it; restart says that the counter there was cut
// (see seqFloor), so that a new one is written whatever the file's size.
// st.mu and the lock are held.
//
// A counter it puts in a file too short to hold one starts at the time in
// nanoseconds, not at 0: a lock file truncated under readers' mappings
// gets a counter that none of them saw before, so that they do not take it
// for the count they last checked. The bytes are written, not a hole left
// by growing the file: a full file system then fails this write, which
// leaves the function without a counter, rather than the page fault of a
// later store through the mapping.
func (st *fnState) mapSeqRW(restart bool) {
	st.unmapSeq()
	fi, err := st.lockf.Stat()
	if err != nil {
		return
	}
	if restart || fi.Size() < seqLen {
		if err := st.writeSeq(newSeq()); err != nil {
			return
		}
		if fi, err = st.lockf.Stat(); err != nil || fi.Size() < seqLen {
			return
		}
	}
	m, err := mapFile(st.lockf, seqLen, true)
	if err != nil {
		return
	}
	st.seq, st.seqFi, st.seqOf = m, fi, st.lockf
}

func (st *fnState) unmapSeq() {
	if st.seq != nil {
		unmapFile(st.seq)
	}
	st.seq, st.seqFi, st.seqOf = nil, nil, nil
}

// faulted drops the mapping of the log after a read from it faulted: the
// file shrank under it.
func (st *fnState) faulted() {
	st.faults++
	st.unmapData()
}

// mapData maps st.f far enough to cover end, and beyond, so that the log
// can grow without a new mapping for a while. It reports whether it did.
func (st *fnState) mapData(end int64) bool {
	size := max(2*end, mapMin)
	if size > mapMax {
		return false
	}
	st.unmapData() // first: the new mapping may take its place in the budget
	m, err := mapFile(st.f, int(size), false)
	if errors.Is(err, errMapBudget) {
		// Read with ReadAt until a mapping is freed.
		if budgetLogged.CompareAndSwap(false, true) {
			st.s.logger().Warn("cachier: file store: memory mapping budget spent; logs of further functions are read with system calls",
				"budget", maxMappings, "function", st.fn, "note", "logged once per process")
		}
		return false
	}
	if err != nil {
		st.noMap = true // reads go through ReadAt from now on
		st.s.logger().Warn("cachier: file store: cannot map the log; reading it with system calls",
			"file", st.logPath, "function", st.fn, "error", err)
		return false
	}
	st.data = m
	return true
}

func (st *fnState) unmapData() {
	if st.data != nil {
		unmapFile(st.data)
		st.data = nil
	}
}

// maxMappings bounds the memory mappings the file store holds at once in
// a process: two per function in use, its change counter and its log.
// Linux refuses a process more than vm.max_map_count mappings (65,530 by
// default), and the Go runtime needs mappings of its own to grow the
// heap: past the budget, a function's log is read with system calls, and
// its counter read by stat and counted with positioned writes.
var maxMappings int64 = 16384

// mappings counts the memory mappings the file store holds.
var mappings atomic.Int64

// errMapBudget is mapFile's error when the budget is spent.
var errMapBudget = errors.New("the file store's budget of memory mappings is spent")

// budgetLogged is set once the first function past the budget was logged.
var budgetLogged atomic.Bool

// mapFile maps the first size bytes of f (sysMap), within maxMappings.
func mapFile(f *os.File, size int, rw bool) ([]byte, error) {
	if mappings.Add(1) > maxMappings {
		mappings.Add(-1)
		return nil, errMapBudget
	}
	m, err := sysMap(f, size, rw)
	if err != nil {
		mappings.Add(-1)
		return nil, err
	}
	return m, nil
}

// unmapFile undoes mapFile.
func unmapFile(b []byte) {
	sysUnmap(b)
	mappings.Add(-1)
}
