package cachier

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/metrics"
	reflectx "github.com/cachier-go/cachier/reflect"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/filestore"
	"github.com/cachier-go/cachier/store/memstore"
)

// A TagError reports configuration that Decorate cannot use: a tag, a Tag
// option or a global default, for one function.
type TagError struct {
	Field string // "Service.Fetch", or the func variable's name
	Key   string // "stale_afer"; empty when the problem is not one key's
	Value string // "72h"
	Err   error  // unknown key; did you mean "stale_after"?
}

func (e *TagError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("cachier: %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("cachier: %s: %s=%q: %v", e.Field, e.Key, e.Value, e.Err)
}

func (e *TagError) Unwrap() error { return e.Err }

// An Option adjusts one Decorate call.
type Option func(*options)

type options struct {
	tag      string
	hash     hashing.Func
	stores   map[string]store.Store
	tagGiven bool
	err      error // an Option given a value it cannot use
}

// Tag configures Decorate in tag syntax. For a func variable it is the
// configuration; for a struct it is the base that each field's own tag
// overrides.
func Tag(spec string) Option {
	return func(o *options) { o.tag, o.tagGiven = spec, true }
}

// WithHashFunc makes f the key function of the functions this Decorate call
// decorates, unless a tag names another with hash_func.
func WithHashFunc(f hashing.Func) Option {
	return func(o *options) { o.hash = f }
}

// WithStore makes s available, for this Decorate call only, as backend=name,
// in place of any store given the same name with defaults.Register.
func WithStore(name string, s store.Store) Option {
	return func(o *options) {
		if s == nil {
			o.err = fmt.Errorf("cachier: WithStore(%q, nil): the store is nil", name)
			return
		}
		if o.stores == nil {
			o.stores = map[string]store.Store{}
		}
		o.stores[name] = s
	}
}

// Decorate replaces functions with caching wrappers of the same type.
//
// target is a pointer to a struct, whose func-typed exported fields with a
// cachier tag are replaced (fields without the tag, and `cachier:"-"`, are
// left alone), or a pointer to a func variable, configured with Tag. The
// func fields of embedded structs (by value, or by a non-nil pointer) are
// decorated like the struct's own. Every configuration problem is reported
// here, as a *TagError (several of them joined with errors.Join) or a plain
// error for a target of the wrong shape; nothing is replaced unless
// everything is valid.
//
// # Identities
//
// Each function's cache is named by an identity (Handle.Name): the
// struct's import path, type and field ("example.com/app.Service.Fetch"),
// or for a func variable the function's own name, or name= when given;
// with key_prefix, version and a fingerprint of its types folded in. A
// function of package main takes the program's main package path in place
// of "main". A func literal (closure) or method value in a func variable
// has no stable name, so it needs name=. A second, different function
// that would take an identity held by a live decorated function is an
// error, unless name= gives the identity explicitly (the functions then
// share one cache deliberately): two instances of one struct type holding
// different funcs need distinct key_prefix (or name=) values.
func Decorate(target any, opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.err != nil {
		return o.err
	}
	if target == nil {
		return errors.New("cachier: Decorate(nil): want a pointer to a struct or to a func variable")
	}
	pv := reflect.ValueOf(target)
	if pv.Kind() != reflect.Pointer {
		return fmt.Errorf("cachier: Decorate(%s): want a pointer to a struct or to a func variable", pv.Type())
	}
	if pv.IsNil() {
		return fmt.Errorf("cachier: Decorate(nil %s)", pv.Type())
	}
	v := pv.Elem()
	var base defaults.Spec
	if o.tagGiven {
		var err error
		if base, err = defaults.Parse(o.tag); err != nil {
			return tagErr("cachier.Tag", err)
		}
	}
	switch v.Kind() {
	case reflect.Func:
		name := funcName(v)
		// For a func variable, Tag is the function's own configuration.
		f, err := build(v, nil, name, qualifyMain(name), defaults.Spec{}, base, &o)
		if err != nil {
			return err
		}
		if isClosure(name) && !f.explicit {
			return &TagError{Field: name, Key: "name", Err: errors.New(
				"a func literal or method value has no stable name (two closures of one factory, or two receivers, would share one cache): give it an identity with name=")}
		}
		return installAll([]pending{f.pending(v)})
	case reflect.Struct:
		return decorateStruct(v, base, &o)
	}
	return fmt.Errorf("cachier: Decorate(%s): want a pointer to a struct or to a func variable", pv.Type())
}

func decorateStruct(v reflect.Value, base defaults.Spec, o *options) error {
	var (
		ps   []pending
		errs []error
	)
	// seen holds the structs walked, so that one embedding itself (through
	// a pointer, at any distance) is walked once.
	seen := map[uintptr]bool{v.Addr().Pointer(): true}
	walkStruct(v, structLabel(v.Type()), base, o, &ps, &errs, seen)
	if len(errs) == 1 {
		return errs[0]
	}
	if len(errs) > 1 {
		return errors.Join(errs...)
	}
	return installAll(ps)
}

// walkStruct builds the func fields of struct v, labelled prefix.Field,
// and those of the structs it embeds, collecting every error.
func walkStruct(v reflect.Value, prefix string, base defaults.Spec, o *options, ps *[]pending, errs *[]error, seen map[uintptr]bool) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		label := prefix + "." + sf.Name
		tag, tagged := sf.Tag.Lookup("cachier")
		if tag == "-" {
			continue
		}
		if sf.Anonymous && sf.Type.Kind() != reflect.Func {
			if tagged {
				*errs = append(*errs, &TagError{Field: label, Key: "", Err: errors.New(
					"a cachier tag belongs on func fields; the func fields of an embedded struct take their own tags")})
				continue
			}
			ev := v.Field(i)
			if ev.Kind() == reflect.Pointer && ev.Type().Elem().Kind() == reflect.Struct && !ev.IsNil() {
				if seen[ev.Pointer()] {
					continue
				}
				seen[ev.Pointer()] = true
				ev = ev.Elem()
			}
			if ev.Kind() == reflect.Struct {
				walkStruct(ev, prefix+"."+structLabel(ev.Type()), base, o, ps, errs, seen)
			}
			continue
		}
		if !tagged {
			continue
		}
		switch {
		case !sf.IsExported():
			*errs = append(*errs, &TagError{Field: label, Err: errors.New(
				"the field is unexported: Decorate can only replace exported fields (export it, or drop the tag)")})
			continue
		case sf.Type.Kind() != reflect.Func:
			*errs = append(*errs, &TagError{Field: label, Err: fmt.Errorf(
				"the field is a %s, not a func: only func fields are cached", sf.Type)})
			continue
		}
		spec, err := defaults.Parse(tag)
		if err != nil {
			*errs = append(*errs, tagErr(label, err))
			continue
		}
		qual := typeName(t) + "." + sf.Name
		f, err := build(v.Field(i), t, label, qual, base, spec, o)
		if err != nil {
			*errs = append(*errs, err)
			continue
		}
		*ps = append(*ps, f.pending(v.Field(i)))
	}
}

// structLabel names struct type t in messages: its name, or for an
// anonymous struct its field names ("struct{Get, Put}").
func structLabel(t reflect.Type) string {
	if t.Name() != "" {
		return t.Name()
	}
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = t.Field(i).Name
	}
	return "struct{" + strings.Join(names, ", ") + "}"
}

// typeName is t's qualified name in identities; package main stands for
// the program's main package path.
func typeName(t reflect.Type) string {
	if t.Name() == "" {
		return t.String()
	}
	if t.PkgPath() == "main" {
		return mainPath() + "." + t.Name()
	}
	return t.PkgPath() + "." + t.Name()
}

func funcName(v reflect.Value) string {
	if !v.IsNil() {
		if rf := runtime.FuncForPC(v.Pointer()); rf != nil {
			return rf.Name()
		}
	}
	return v.Type().String()
}

func tagErr(field string, err error) error {
	var ke *defaults.KeyError
	if errors.As(err, &ke) {
		return &TagError{Field: field, Key: ke.Key, Value: ke.Value, Err: ke.Err}
	}
	return &TagError{Field: field, Err: err}
}

// build resolves one function's configuration and makes its fn.
func build(v reflect.Value, recv reflect.Type, label, qual string, base, own defaults.Spec, o *options) (*fn, error) {
	fail := func(key, value string, err error) (*fn, error) {
		return nil, &TagError{Field: label, Key: key, Value: value, Err: err}
	}
	if v.IsNil() {
		return fail("", "", errors.New("func is nil: assign the function before Decorate"))
	}
	if lookupHandle(funcPtr(v)) != nil {
		return fail("", "", errors.New("already decorated"))
	}
	p, err := defaults.Apply(defaults.Get(), base)
	if err == nil {
		p, err = defaults.Apply(p, own)
	}
	if err != nil {
		return nil, tagErr(label, err)
	}
	set := func(k string) bool { return own.Has(k) || base.Has(k) }
	valueOf := func(k string) string {
		for _, s := range []defaults.Spec{own, base} {
			for _, pair := range s.Pairs {
				if pair.Key == k {
					return pair.Value
				}
			}
		}
		return ""
	}

	sig, err := reflectx.Analyze(v.Type(), recv)
	if err != nil {
		return fail("", "", err)
	}
	if sig, err = ignoreArgs(sig, p.IgnoreArgs); err != nil {
		return fail("ignore_args", p.IgnoreArgs, err)
	}
	orig := reflect.New(v.Type()).Elem() // a copy: v itself gets the wrapper
	orig.Set(v)
	f := &fn{field: label, sig: sig, orig: orig, p: p, flights: map[string]*flight{}}
	for k, bit := range perCallKeys {
		if set(k) {
			f.own |= bit
		}
	}

	// The store.
	backend := p.Backend
	isFile := backend == defaults.File || backend == defaults.Pickle
	if !isFile {
		// A struct-wide Tag may carry file keys for its file-backed fields;
		// a field's own tag (or a func variable's Tag) may not.
		for _, k := range []string{"cache_dir", "reload", "separate_files"} {
			if own.Has(k) {
				return fail(k, valueOf(k), fmt.Errorf("only the file backend takes it, and backend is %q", backend))
			}
		}
	}
	switch s, ok := o.stores[backend]; {
	case ok:
		f.st = s
	case backend == defaults.Memory:
		f.st = memoryStore
	case isFile:
		if !set("cache_dir") && p.CacheDir == startupCacheDir {
			// The built-in default, which defaults computed at start-up:
			// read XDG_CACHE_HOME now, at decoration.
			p.CacheDir = defaults.DefaultCacheDir()
			f.p.CacheDir = p.CacheDir
		}
		dir, err := expandHome(p.CacheDir)
		if err == nil {
			f.st, err = fileStore(dir, p.SeparateFiles, !p.Reload)
		}
		if err != nil {
			return fail("cache_dir", p.CacheDir, err)
		}
		f.cacheDir = dir
	default:
		s, ok := defaults.LookupStore(backend)
		if !ok {
			return fail("backend", backend, errors.New("unknown backend (forgotten defaults.Register or cachier.WithStore?)"))
		}
		f.st = s
	}
	f.vs, _ = f.st.(store.ValueStore)
	_, f.borrowGet = f.st.(*filestore.Store)
	if k, err := checkCodecKeys(f.vs != nil, p, set); err != nil {
		return fail(k, valueOf(k), err)
	}
	if f.plan, err = newPlan(p, sig.ValueTypes); err != nil {
		// The memory store encodes only to measure: there, only a size
		// bound of the function's own needs the codec.
		if f.vs == nil || set("entry_size_limit") || set("max_size") || set("codec") {
			return fail("codec", p.Codec, err)
		}
		f.planErr = err
	}
	if f.plan != nil && f.vs == nil {
		f.results = resultsType(sig)
	}

	// The key.
	// The function's own hash_func, then WithHashFunc, then a global one.
	switch {
	case p.HashFunc != "" && (set("hash_func") || o.hash == nil):
		h, ok := defaults.LookupHashFunc(p.HashFunc)
		if !ok {
			return fail("hash_func", p.HashFunc, errors.New("unknown key function (forgotten defaults.RegisterHashFunc?)"))
		}
		f.hash = h
	case o.hash != nil:
		f.hash = o.hash
	default:
		k, err := hashing.NewKeyer(sig.KeyTypes)
		if err != nil {
			return fail("", "", fmt.Errorf("an argument type cannot be hashed: %w", err))
		}
		f.keyer = k
	}

	// The identity.
	if p.Name != "" && set("name") {
		qual, f.explicit = p.Name, true
	}
	f.name = identity(p.KeyPrefix, qual, p.Version, sig.Fingerprint)
	if ms, ok := f.st.(*memstore.Store); ok {
		f.mem = ms.Func(f.name)
	}
	if p.EnableMetrics {
		f.metrics = metrics.New(f.name, p.MetricsSamplingRate)
	}
	if err := checkBounds(f, label, p, set, valueOf); err != nil {
		return nil, err
	}
	if err := checkExpiry(label, p, valueOf); err != nil {
		return nil, err
	}
	return f, nil
}

// funcPtr returns the closure pointer of the func in v: unique to each
// wrapper reflect.MakeFunc makes, unlike v.Pointer, which is the code address.
func funcPtr(v reflect.Value) unsafe.Pointer {
	if v.CanAddr() {
		return *(*unsafe.Pointer)(unsafe.Pointer(v.UnsafeAddr()))
	}
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return *(*unsafe.Pointer)(p.UnsafePointer())
}

// startupCacheDir is the default cache_dir as package defaults computed it
// when the program started.
var startupCacheDir = defaults.Get().CacheDir

// memoryStore is the process's one memory backend.
var memoryStore = memstore.New()

var (
	fileStoresMu sync.Mutex
	fileStores   = map[fileStoreKey]store.Store{}
)

type fileStoreKey struct {
	dir                string
	separate, noReload bool
}

// fileStore returns the file store of one (dir, layout, reload) setting,
// shared by every function that uses it.
func fileStore(dir string, separate, noReload bool) (store.Store, error) {
	k := fileStoreKey{dir, separate, noReload}
	fileStoresMu.Lock()
	defer fileStoresMu.Unlock()
	if s, ok := fileStores[k]; ok {
		return s, nil
	}
	s, err := openFileStore(dir, separate, noReload)
	if err != nil {
		return nil, err
	}
	fileStores[k] = s
	return s, nil
}

// openFileStore opens a file store; set by filebackend.go.
var openFileStore = func(dir string, separate, noReload bool) (store.Store, error) {
	return nil, errors.New("the file backend is not built in")
}

func expandHome(dir string) (string, error) {
	if dir == "~" || strings.HasPrefix(dir, "~/") || strings.HasPrefix(dir, `~\`) {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("expanding ~: %w", err)
		}
		dir = filepath.Join(h, dir[1:])
	}
	return filepath.Abs(dir)
}
