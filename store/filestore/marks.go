// Being-calculated marks: Mark, Unmark, ClearMarks, and Wait.

package filestore

import (
	"context"
	"math"
	"os"
	"time"
)

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
