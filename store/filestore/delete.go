package filestore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Delete implements store.Store. It removes the key's entry and keeps its
// being-calculated mark. In the single-file layout it appends one delete
// record; in the separate-files layout it announces the change, removes the
// entry file and reports it done, as DeleteStale does. A key without an
// entry writes nothing.
func (s *Store) Delete(ctx context.Context, fn, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	st := s.state(fn)
	return st.locked(ctx, func() error {
		if st.entDir == "" {
			if _, ok := st.index[key]; !ok {
				return nil
			}
			st.wbuf = appendSimple(st.wbuf[:0], st.seed, recDelete, key)
			return st.appendRecords(st.wbuf)
		}
		path := filepath.Join(st.entDir, entryName(key))
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recIntent, key)
		if err := st.appendRecords(st.wbuf); err != nil {
			return err
		}
		if err := removeAll([]string{path}); err != nil {
			return st.errorf("%w", err)
		}
		st.wbuf = appendSimple(st.wbuf[:0], st.seed, recDelete, key)
		return st.appendRecords(st.wbuf)
	})
}
