// The function's write lock: this process's semaphore, then the lock file
// that excludes other processes.

package filestore

import (
	"context"
	"os"
	"time"
)

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
	if st.s.closed.Load() {
		// Close has passed, or passes once it gets wsem: open nothing
		// that it would not close.
		<-st.wsem
		return nil, errClosed
	}
	if st.lockf == nil {
		if err := st.openLock(); err != nil {
			<-st.wsem
			return nil, err
		}
	}
	delay := 50 * time.Microsecond
	for reopened := 0; ; {
		ok, err := tryLock(st.lockf)
		if err != nil {
			<-st.wsem
			return nil, st.errorf("locking %s: %w", st.lockPath, err)
		}
		if ok && st.lockCurrent() {
			break
		}
		if ok {
			// The lock file was removed (or replaced) since this process
			// opened it: a lock on it excludes nobody who opens the file
			// now at lockPath. Lock that one instead.
			unlock(st.lockf)
			st.lockf.Close()
			st.lockf = nil
			if reopened++; reopened > 100 {
				<-st.wsem
				return nil, st.errorf("locking %s: the file keeps being replaced", st.lockPath)
			}
			if err := st.openLock(); err != nil {
				<-st.wsem
				return nil, err
			}
			continue
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
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return st.errorf("%w", err)
	}
	st.lockf, st.lockFi = f, fi
	return nil
}

// lockCurrent reports whether the lock file this process holds open is
// still the file at lockPath, and notes whether it is too short to hold
// the change counter (lockShort). Under wsem.
func (st *fnState) lockCurrent() bool {
	if linked, size, ok := stillLinked(st.lockf); ok {
		// Removed, or replaced (which unlinks the file replaced): no link
		// left. One fstat, cheaper than a look-up of the path.
		st.lockShort = size < seqLen
		return linked
	}
	fi, err := os.Lstat(st.lockPath)
	if err != nil || !os.SameFile(fi, st.lockFi) {
		return false
	}
	st.lockShort = fi.Size() < seqLen
	return true
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
	// Whatever happened to the log, other processes learn of it through the
	// change counter; when all went well the view is the log's state.
	err = st.lockedOp(op)
	st.bump(err == nil)
	return err
}

func (st *fnState) lockedOp(op func() error) error {
	if err := st.refresh(true); err != nil {
		return err
	}
	if err := st.finishPending(); err != nil {
		return err
	}
	if err := op(); err != nil {
		return err
	}
	if err := st.enforceBounds(); err != nil {
		return err
	}
	st.maybeCompact()
	return nil
}
