// The separate-files layout: entry files, and the journal's announcements
// of their changes.

package filestore

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachier-go/cachier/store"
)

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

// The entry files of the separate-files layout hold
//
//	[8] entryMagic
//	[4] CRC-32C of everything after it, seeded with the function's seed
//	    (see the log format), so that an entry file copied from another
//	    function's directory is a miss
//	[2] key length, [k] key
//	[8] seconds, [4] nanoseconds
//	[8] expiry in Unix nanoseconds, positive (only after entryMagicExp)
//	[n] value
const entryMagic = "CACHENT\x02"

// entryMagicExp starts the entry files of entries with an Expires.
const entryMagicExp = "CACHENX\x02"

const entryFixed = len(entryMagic) + 4 + 2

func encodeEntry(seed uint32, key string, e store.Entry) []byte {
	exp := expNanos(e.Expires)
	b := make([]byte, 0, entryFixed+len(key)+20+len(e.Value))
	if exp != 0 {
		b = append(b, entryMagicExp...)
	} else {
		b = append(b, entryMagic...)
	}
	b = append(b, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.Time.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(e.Time.Nanosecond()))
	if exp != 0 {
		b = binary.LittleEndian.AppendUint64(b, uint64(exp))
	}
	b = append(b, e.Value...)
	binary.LittleEndian.PutUint32(b[len(entryMagic):], crc32.Update(seed, castagnoli, b[len(entryMagic)+4:]))
	return b
}

// decodeEntry checks and decodes an entry file's content; ok is false when
// it is damaged. When full is false b may be only the file's beginning, and
// the checksum and value are not checked.
func decodeEntry(b []byte, seed uint32, full bool) (key string, t time.Time, value []byte, ok bool) {
	key, t, _, value, ok = decodeEntryExp(b, seed, full)
	return key, t, value, ok
}

// decodeEntryBody decodes an entry file whose magic number has been
// checked (decodeEntryExp).
func decodeEntryBody(b []byte, seed uint32, full bool) (key string, t time.Time, value []byte, ok bool) {
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

func (st *fnState) getSeparate(key string) (store.Entry, error) {
	noReload := st.s.o.NoReload
	st.mu.Lock()
	if !st.loaded || (!noReload && !st.current()) {
		if err := st.check(time.Now()); err != nil {
			st.mu.Unlock()
			return store.Entry{}, err
		}
	}
	pending := st.pendingAll || st.pending[key]
	if c, ok := st.cache[key]; ok && !pending && (!c.present || c.hasValue) {
		if c.present {
			st.boundHit(key)
		}
		st.mu.Unlock()
		if !c.present {
			return store.Entry{}, store.ErrNotFound
		}
		return c.entry()
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
		k, t, exp, v, ok := decodeEntryExp(b, st.seed, true)
		if !ok || k != key {
			st.s.logger().Warn("cachier: file store: damaged entry file ignored; the next write replaces it",
				"file", path, "function", st.fn, "key", strings.Clone(key))
		} else {
			c = centry{present: true, hasValue: true, value: v, t: t, exp: exp}
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
		st.cache[strings.Clone(key)] = kc // key is the caller's (Get)
		st.cacheBytes += int64(len(kc.value))
	}
	if c.present {
		st.boundHit(key)
	}
	st.mu.Unlock()
	if !c.present {
		return store.Entry{}, store.ErrNotFound
	}
	// c.value is shared with the cache now: hand out a copy.
	return c.entry()
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
