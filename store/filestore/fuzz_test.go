package filestore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// fuzzFn is the function the fuzz targets' files belong to.
const fuzzFn = "pkg.Fuzz"

// validLog is a well-formed log of fuzzFn, the fuzz targets' seed.
func validLog() []byte {
	seed := fnSeed(fuzzFn)
	b := append([]byte(logMagic), appendFunc(nil, fuzzFn)...)
	b = appendSet(b, seed, keyN(1), time.Unix(1_700_000_000, 5), 0, []byte("one"))
	b = appendMark(b, seed, keyN(2), "owner", time.Now().Add(time.Hour).UnixNano())
	b = appendSet(b, seed, keyN(2), time.Unix(1_700_000_001, 0), 0, []byte("two"))
	b = appendSimple(b, seed, recDelete, keyN(1))
	b = appendUnmark(b, seed, keyN(3), "x")
	return b
}

// FuzzLogFile hands arbitrary bytes to the store as a function's log: it
// must never panic or fail, serve only values the bytes hold in valid
// records, and take the next write as if the log were sound.
func FuzzLogFile(f *testing.F) {
	f.Add(validLog())
	f.Add([]byte(logMagic))
	f.Add([]byte("CACHIER\x01"))
	f.Add(validLog()[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		s, err := New(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st := s.state(fuzzFn)
		if err := os.WriteFile(st.logPath, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{keyN(1), keyN(2), keyN(3)} {
			e, err := s.Get(bg, fuzzFn, k)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get(%s): %v", k, err)
			}
			if err == nil && !containsRecordValue(data, e.Value) {
				t.Fatalf("Get(%s) = %q, which the file does not hold", k, e.Value)
			}
		}
		if err := s.Set(bg, fuzzFn, keyN(4), store.Entry{Value: []byte("four"), Time: time.Unix(1, 0)}); err != nil {
			t.Fatalf("Set after the fuzzed log: %v", err)
		}
		r, err := New(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if e, err := r.Get(bg, fuzzFn, keyN(4)); err != nil || string(e.Value) != "four" {
			t.Fatalf("the write after the fuzzed log reads %q, %v", e.Value, err)
		}
	})
}

func containsRecordValue(data, v []byte) bool {
	return bytes.Contains(data, v)
}

// FuzzEntryFile hands arbitrary bytes to the separate-files layout as an
// entry file: never a panic or an error, and a hit only for an entry file
// of this function and this key.
func FuzzEntryFile(f *testing.F) {
	good := encodeEntry(fnSeed(fuzzFn), keyN(1), store.Entry{Value: []byte("one"), Time: time.Unix(1_700_000_000, 0)})
	f.Add(good)
	f.Add(good[:20])
	f.Add(encodeEntry(fnSeed("pkg.Other"), keyN(1), store.Entry{Value: []byte("other"), Time: time.Unix(1, 0)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		s, err := New(dir, Options{SeparateFiles: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		st := s.state(fuzzFn)
		if err := os.MkdirAll(st.entDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(st.entDir, entryName(keyN(1))), data, 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := s.Get(bg, fuzzFn, keyN(1))
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if k, _, v, ok := decodeEntry(data, fnSeed(fuzzFn), true); !ok || k != keyN(1) || string(v) != string(e.Value) {
			t.Fatalf("Get served %q from an entry file that is not this key's", e.Value)
		}
	})
}

// FuzzLister hands arbitrary bytes to Functions and Entries as a
// function's log, and as its journal with an entry file beside it: never
// a panic, and never an entry the bytes do not hold.
func FuzzLister(f *testing.F) {
	f.Add(validLog(), encodeEntry(fnSeed(fuzzFn), keyN(1), store.Entry{Value: []byte("one"), Time: time.Unix(1_700_000_000, 0)}))
	f.Add([]byte(logMagic), []byte(entryMagic))
	f.Fuzz(func(t *testing.T, log, entry []byte) {
		dir := t.TempDir()
		s, err := New(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		single := s.state(fuzzFn)
		entDir := filepath.Join(dir, baseName(fuzzFn)+".d") // the separate-files layout's
		if err := os.WriteFile(single.logPath, log, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(entDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(entDir, "journal"), log, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(entDir, entryName(keyN(1))), entry, 0o600); err != nil {
			t.Fatal(err)
		}
		fis, err := s.Functions(bg)
		if err != nil {
			t.Fatalf("Functions: %v", err)
		}
		for _, fi := range fis {
			if fi.Function != fuzzFn || fi.Entries < 0 || fi.Bytes < 0 || fi.Marks < 0 {
				t.Fatalf("Functions reports %+v", fi)
			}
		}
		err = s.Entries(bg, fuzzFn, func(e store.EntryInfo) error {
			if e.Size < 0 || e.Size > int64(len(log)+len(entry)) {
				t.Fatalf("entry %+v larger than the files", e)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Entries: %v", err)
		}
	})
}
