// The store.Store operations on entries: Get, Set, Clear, DeleteStale.

package filestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachier-go/cachier/store"
)

// Get implements store.Store. It keeps no reference to key once it
// returns: cachier passes it keys in buffers it reuses.
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
	if !st.loaded || (!s.o.NoReload && !st.current()) {
		if err := st.check(time.Now()); err != nil {
			return store.Entry{}, err
		}
	}
	for retried := false; ; retried = true {
		l, ok := st.index[key]
		if !ok {
			return store.Entry{}, store.ErrNotFound
		}
		var r record
		if err := st.readRecord(&r, key, l.off, l.n); err != nil {
			if !errors.Is(err, errDamaged) {
				return store.Entry{}, st.errorf("reading %s: %w", st.logPath, err)
			}
			if !retried && !st.tailIntact() {
				// The log was rewritten in place since it was read: read
				// it again from the start.
				st.fi = nil
				if err := st.refresh(false); err != nil {
					return store.Entry{}, err
				}
				continue
			}
			// Only damage to the file since it was read gets here.
			s.logger().Warn("cachier: file store: damaged entry ignored; the next write replaces it",
				"file", st.logPath, "function", fn, "key", strings.Clone(key), "offset", l.off)
			st.live -= l.n
			delete(st.index, key)
			return store.Entry{}, store.ErrNotFound
		}
		if r.exp != 0 && r.exp <= time.Now().UnixNano() {
			return store.Entry{}, store.ErrNotFound // expired
		}
		e := store.Entry{Value: r.value, Time: time.Unix(r.sec, int64(r.nsec)), Expires: expTime(r.exp)}
		st.boundHit(key)
		return e, nil
	}
}

// Set implements store.Store.
func (s *Store) Set(ctx context.Context, fn, key string, e store.Entry) error {
	if err := checkKey(key); err != nil {
		return err
	}
	st := s.state(fn)
	if err := st.checkBound(len(e.Value)); err != nil {
		return err
	}
	if s.o.SeparateFiles {
		return st.setSeparate(ctx, key, e)
	}
	return st.locked(ctx, func() error {
		st.wbuf = appendSet(st.wbuf[:0], st.seed, key, e.Time, expNanos(e.Expires), e.Value)
		err := st.appendRecords(st.wbuf)
		if cap(st.wbuf) > 1<<20 {
			st.wbuf = nil
		}
		return err
	})
}

// maxKey is the longest key the log format holds.
const maxKey = 1<<16 - 1

func checkKey(key string) error {
	if len(key) > maxKey {
		return fmt.Errorf("cachier: file store: key of %d bytes, longer than %d", len(key), maxKey)
	}
	return nil
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
		now := time.Now()
		if st.entDir == "" {
			for k, l := range st.index {
				if time.Unix(l.sec, int64(l.nsec)).Before(cutoff) || expired(l.exp, now.UnixNano()) {
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
				key, t, exp, _, ok := entryHead(p, st.seed)
				ok = ok && entryName(key) == filepath.Base(p)
				if ok && !t.Before(cutoff) && (exp.IsZero() || exp.After(now)) {
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
