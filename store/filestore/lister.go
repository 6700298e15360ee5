// The store.Lister of the file store: what functions a directory holds
// and their entries, read from the files without taking locks, for
// operators (the cachier command).

package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachier-go/cachier/store"
)

var _ store.Lister = (*Store)(nil)

// Functions implements store.Lister. It lists the functions of both
// layouts, whichever the store was opened with: one log per function, or
// one entry directory per function, each named by the first record of its
// log or journal (files that are not the store's, or whose name does not
// match the function they name, are skipped). Values are never read; the
// keys of one function at a time are held in memory. Expired entries and
// marks are not counted.
func (s *Store) Functions(ctx context.Context) ([]store.FuncInfo, error) {
	ds, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("cachier: file store: %w", err)
	}
	byFn := map[string]*store.FuncInfo{}
	var order []string
	for _, d := range ds {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cachier: file store: %w", err)
		}
		name := d.Name()
		var fn string
		var info store.FuncInfo
		var ok bool
		switch {
		case d.Type().IsRegular() && strings.HasSuffix(name, ".log"):
			fn, ok, err = s.listLog(filepath.Join(s.dir, name), strings.TrimSuffix(name, ".log"), &info, nil)
		case d.IsDir() && strings.HasSuffix(name, ".d"):
			fn, ok, err = s.listSeparate(ctx, filepath.Join(s.dir, name), strings.TrimSuffix(name, ".d"), &info, nil)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		fi := byFn[fn]
		if fi == nil {
			fi = &store.FuncInfo{Function: fn}
			byFn[fn] = fi
			order = append(order, fn)
		}
		mergeInfo(fi, info)
	}
	out := make([]store.FuncInfo, 0, len(order))
	for _, fn := range order {
		if fi := byFn[fn]; fi.Entries > 0 || fi.Marks > 0 {
			out = append(out, *fi)
		}
	}
	return out, nil
}

// Entries implements store.Lister: every unexpired entry of fn, in either
// layout, without its value.
func (s *Store) Entries(ctx context.Context, fn string, yield func(store.EntryInfo) error) error {
	base := baseName(fn)
	var info store.FuncInfo
	if _, _, err := s.listLog(filepath.Join(s.dir, base+".log"), base, &info, yield); err != nil {
		return err
	}
	_, _, err := s.listSeparate(ctx, filepath.Join(s.dir, base+".d"), base, &info, yield)
	return err
}

func mergeInfo(dst *store.FuncInfo, src store.FuncInfo) {
	dst.Entries += src.Entries
	dst.Bytes += src.Bytes
	dst.Marks += src.Marks
	if !src.Oldest.IsZero() && (dst.Oldest.IsZero() || src.Oldest.Before(dst.Oldest)) {
		dst.Oldest = src.Oldest
	}
	if src.Newest.After(dst.Newest) {
		dst.Newest = src.Newest
	}
}

func addEntry(fi *store.FuncInfo, t time.Time, size int64) {
	fi.Entries++
	fi.Bytes += size
	if fi.Oldest.IsZero() || t.Before(fi.Oldest) {
		fi.Oldest = t
	}
	if t.After(fi.Newest) {
		fi.Newest = t
	}
}

// listed is an entry as a listing reads it from a log.
type listed struct {
	t    time.Time
	exp  int64
	size int64
}

// readLogView reads the log (or journal) at path and returns the function
// it names, its entries (single-file layout) and its live marks. ok is
// false when there is no log, or it is not a log of the function whose
// file name it has (base).
func readLogView(path, base string) (fn string, entries map[string]listed, marks int64, ok bool, err error) {
	f, err := openFile(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, 0, false, nil
	}
	if err != nil {
		return "", nil, 0, false, fmt.Errorf("cachier: file store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", nil, 0, false, fmt.Errorf("cachier: file store: %w", err)
	}
	var magic [logHeader]byte
	if n, _ := f.ReadAt(magic[:], 0); n < len(magic) || string(magic[:]) != logMagic {
		return "", nil, 0, false, nil
	}
	fn, _, next, ok, err := readHead(f, fi.Size())
	if err != nil {
		return "", nil, 0, false, fmt.Errorf("cachier: file store: reading %s: %w", path, err)
	}
	if !ok || baseName(fn) != base {
		return "", nil, 0, false, nil
	}
	entries = map[string]listed{}
	live := map[string]mark{}
	var sc scanner
	_, _, err = sc.scan(f, fnSeed(fn), next, fi.Size(), func(_, _ int64, r record) {
		switch r.typ {
		case recSet:
			entries[r.key] = listed{t: time.Unix(r.sec, int64(r.nsec)), exp: r.exp, size: int64(len(r.value))}
			delete(live, r.key)
		case recEntry:
			delete(live, r.key)
		case recDelete:
			delete(entries, r.key)
		case recClear:
			clear(entries)
			clear(live)
		case recMark:
			live[r.key] = mark{owner: r.owner, exp: r.exp}
		case recUnmark:
			if m, ok := live[r.key]; ok && m.owner == r.owner {
				delete(live, r.key)
			}
		case recClearMarks:
			clear(live)
		}
	})
	if err != nil {
		return "", nil, 0, false, fmt.Errorf("cachier: file store: reading %s: %w", path, err)
	}
	now := time.Now().UnixNano()
	for _, m := range live {
		if m.exp > now {
			marks++
		}
	}
	return fn, entries, marks, true, nil
}

// listLog adds the single-file layout's log at path to info, and yields
// its entries when yield is not nil.
func (s *Store) listLog(path, base string, info *store.FuncInfo, yield func(store.EntryInfo) error) (string, bool, error) {
	fn, entries, marks, ok, err := readLogView(path, base)
	if err != nil || !ok {
		return "", false, err
	}
	now := time.Now().UnixNano()
	info.Marks += marks
	for k, e := range entries {
		if e.exp != 0 && e.exp <= now {
			continue
		}
		addEntry(info, e.t, e.size)
		if yield != nil {
			if err := yield(store.EntryInfo{Key: k, Time: e.t, Size: e.size}); err != nil {
				return "", false, err
			}
		}
	}
	return fn, true, nil
}

// listSeparate adds the separate-files layout's directory dir to info,
// and yields its entries when yield is not nil. It reads the head of each
// entry file, never its value.
func (s *Store) listSeparate(ctx context.Context, dir, base string, info *store.FuncInfo, yield func(store.EntryInfo) error) (string, bool, error) {
	if err := checkDir(dir); err != nil {
		return "", false, fmt.Errorf("cachier: file store: %w", err)
	}
	fn, _, marks, ok, err := readLogView(filepath.Join(dir, "journal"), base)
	if err != nil || !ok {
		return "", false, err
	}
	info.Marks += marks
	d, err := os.Open(dir)
	if err != nil {
		return "", false, fmt.Errorf("cachier: file store: %w", err)
	}
	defer d.Close()
	seed := fnSeed(fn)
	now := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return "", false, fmt.Errorf("cachier: file store: %w", err)
		}
		ds, err := d.ReadDir(256)
		for _, de := range ds {
			name := de.Name()
			if !de.Type().IsRegular() || !strings.HasSuffix(name, entrySuffix) {
				continue
			}
			key, t, exp, size, ok := entryHead(filepath.Join(dir, name), seed)
			if !ok || entryName(key) != name || (!exp.IsZero() && !exp.After(now)) {
				continue
			}
			addEntry(info, t, size)
			if yield != nil {
				if err := yield(store.EntryInfo{Key: key, Time: t, Size: size}); err != nil {
					return "", false, err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", false, fmt.Errorf("cachier: file store: %w", err)
		}
	}
	return fn, true, nil
}

// entryHead reads the key, time and expiry of the entry file at path, and
// the size of its value, without reading the value.
func entryHead(path string, seed uint32) (key string, t, exp time.Time, size int64, ok bool) {
	f, err := openFile(path, false)
	if err != nil {
		return "", time.Time{}, time.Time{}, 0, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", time.Time{}, time.Time{}, 0, false
	}
	var b [4096]byte
	n, _ := io.ReadFull(f, b[:])
	key, t, exp, v, ok := decodeEntryExp(b[:n], seed, false)
	if !ok {
		return "", time.Time{}, time.Time{}, 0, false
	}
	head := int64(n - len(v))
	return key, t, exp, fi.Size() - head, true
}
