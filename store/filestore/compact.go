// Compaction of the log, and the removal of what dead compactions left.

package filestore

import (
	"io"
	"os"
	"path/filepath"
	"time"
)

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
				if l, ok := st.index[r.key]; ok && l.off == off && !expired(r.exp, now) {
					buf = appendSet(buf[:0], st.seed, r.key, time.Unix(r.sec, int64(r.nsec)), r.exp, r.value)
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
