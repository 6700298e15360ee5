package cachier_test

import (
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
)

// tagErrors returns every *TagError in err, joined or not.
func tagErrors(err error) []*cachier.TagError {
	var out []*cachier.TagError
	var te *cachier.TagError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, tagErrors(e)...)
		}
	} else if errors.As(err, &te) {
		out = append(out, te)
	}
	return out
}

func TestTagOnUnexportedOrNonFuncFieldIsAnError(t *testing.T) {
	reset(t)
	type svc struct {
		Good    func(int) int `cachier:"backend=memory"`
		NotFunc int           `cachier:"backend=memory"`
		private func(int) int `cachier:"backend=memory"`
		Bad     func(int) int `cachier:"stale_after=soon"`
	}
	s := svc{Good: add1, private: add1, Bad: add1}
	err := cachier.Decorate(&s)
	fields := map[string]bool{}
	for _, te := range tagErrors(err) {
		fields[te.Field] = true
	}
	for _, want := range []string{"svc.NotFunc", "svc.private", "svc.Bad"} {
		if !fields[want] {
			t.Errorf("error %v: no TagError for %s (all errors at once)", err, want)
		}
	}
	if _, err := cachier.Of(&s.Good); err == nil {
		t.Error("a failed Decorate replaced a field")
	}
	// cachier:"-" stays a way to say "not this one".
	type skipped struct {
		Good    func(int) int `cachier:"backend=memory"`
		private func(int) int `cachier:"-"`
	}
	if err := cachier.Decorate(&skipped{Good: add1, private: add1}); err != nil {
		t.Error(err)
	}
}

func add1(x int) int { return x + 1 }

// Inner is embedded in the structs of TestEmbeddedStructsAreDecorated.
type Inner struct {
	Get func(int) int `cachier:"backend=memory"`
}

// PInner is embedded by pointer.
type PInner struct {
	Put func(int) int `cachier:"backend=memory"`
}

func TestEmbeddedStructsAreDecorated(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	count := func(x int) int { calls.Add(1); return x }
	type outer struct {
		Inner
		*PInner
		Own func(int) int `cachier:"backend=memory"`
	}
	s := outer{Inner: Inner{Get: count}, PInner: &PInner{Put: count}, Own: count}
	if err := cachier.Decorate(&s, runTag("")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s.Get(1)
		s.Put(2)
		s.Own(3)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("%d calls, want 3: an embedded struct's func was not cached", got)
	}
	for _, p := range []any{&s.Get, &s.Put, &s.Own} {
		if _, err := cachier.Of(p); err != nil {
			t.Error(err)
		}
	}
	// A nil embedded pointer is left alone.
	type outerNil struct {
		*PInner
		Own2 func(int) int `cachier:"backend=memory"`
	}
	if err := cachier.Decorate(&outerNil{Own2: add1}); err != nil {
		t.Error(err)
	}
	runtime.KeepAlive(&s)
}

func TestAnonymousStructLabel(t *testing.T) {
	reset(t)
	s := struct {
		Get func(int) int `cachier:"stale_after=soon"`
	}{Get: add1}
	err := cachier.Decorate(&s)
	var te *cachier.TagError
	if !errors.As(err, &te) || te.Field != "struct{Get}.Get" {
		t.Fatalf("error %v: want a TagError on field struct{Get}.Get", err)
	}
}

func TestStructWideFileKeysApplyToFileFields(t *testing.T) {
	reset(t)
	type svc struct {
		Mem  func(int) int `cachier:"backend=memory"`
		File func(int) int `cachier:"backend=file"`
	}
	dir := t.TempDir()
	s := svc{Mem: add1, File: add1}
	if err := cachier.Decorate(&s, cachier.Tag("cache_dir="+dir+",separate_files")); err != nil {
		t.Fatalf("a struct-wide cache_dir failed on a memory field: %v", err)
	}
	hm, _ := cachier.Of(&s.Mem)
	hf, _ := cachier.Of(&s.File)
	if hm.CacheDir() != "" || hf.CacheDir() != dir {
		t.Errorf("cache dirs %q and %q, want \"\" and %q", hm.CacheDir(), hf.CacheDir(), dir)
	}
	// A field's own tag still may not.
	type own struct {
		Mem func(int) int `cachier:"backend=memory,cache_dir=/x"`
	}
	var te *cachier.TagError
	if err := cachier.Decorate(&own{Mem: add1}); !errors.As(err, &te) || te.Key != "cache_dir" {
		t.Errorf("cache_dir on a memory field: %v", err)
	}
}

func TestWithStoreNilIsAnError(t *testing.T) {
	reset(t)
	f := add
	err := cachier.Decorate(&f, cachier.Tag("backend=mine"), cachier.WithStore("mine", nil))
	if err == nil || !strings.Contains(err.Error(), "mine") {
		t.Fatalf("WithStore(name, nil): %v; want an error naming the store", err)
	}
}

func TestXDGCacheHomeReadAtDecoration(t *testing.T) {
	reset(t)
	x := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", x)
	f := add
	if err := cachier.Decorate(&f, cachier.Tag("backend=file")); err != nil {
		t.Fatal(err)
	}
	h, _ := cachier.Of(&f)
	if want := filepath.Join(x, "cachier"); h.CacheDir() != want {
		t.Errorf("cache dir %q, want %q: XDG_CACHE_HOME must be read at decoration", h.CacheDir(), want)
	}
}

// Loop embeds a pointer to its own type.
type Loop struct {
	*Loop
	Get func(int) int `cachier:"backend=memory"`
}

func TestSelfEmbeddingStructDecoratedOnce(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	l := &Loop{Get: func(x int) int { calls.Add(1); return x }}
	l.Loop = l
	if err := cachier.Decorate(l, runTag("")); err != nil {
		t.Fatal(err)
	}
	l.Get(1)
	l.Get(1)
	if calls.Load() != 1 {
		t.Errorf("%d calls, want 1", calls.Load())
	}
	n := 0
	for _, h := range cachier.Handles() {
		if strings.Contains(h.Name(), "cachier_test.Loop.Get#") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d handles for Loop.Get, want 1: the struct was walked twice", n)
	}
	runtime.KeepAlive(l)
}
