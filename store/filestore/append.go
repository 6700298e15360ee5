// Writing the log: appending records, and replacing the whole file
// (temporary file, sync, rename).

package filestore

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
)

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
