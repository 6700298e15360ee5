// Package defaults holds cachier's process-wide behaviour: the parameters
// every decorated function starts from (Python cachier's
// set_default_params), the global caching switch, and the registries of
// named stores and key functions.
//
// # Parameters
//
// Set takes the tag syntax and keys:
//
//	defaults.Set("stale_after=1h,next_time,cache_dir=/var/cache/app")
//
// backend, cache_dir, reload, separate_files, entry_size_limit, hash_func,
// key_prefix and mark_ttl are read when a function is decorated: a later Set
// does not move a decorated function to another store. allow_none,
// stale_after, next_time, wait_for_calc_timeout, cleanup_stale,
// cleanup_interval and the caching switch are read at every call, unless the
// function's own tag (or cachier.Tag) set them.
//
// # Registries
//
// Register names a store for tags (`cachier:"backend=sql"`),
// RegisterHashFunc a key function (`cachier:"hash_func=lower"`) and
// RegisterCodec a codec (`cachier:"codec=msgpack"`). Like
// database/sql.Register, they panic on programmer error: a nil value or a
// name registered twice.
package defaults

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/store"
)

var (
	current atomic.Pointer[Params] // never nil
	enabled atomic.Bool
)

func init() { Reset() }

// Get returns a copy of the current global parameters.
func Get() Params { return *current.Load() }

// CallParams are the global parameters read at every call (PerCall).
type CallParams struct {
	StaleAfter         time.Duration
	NextTime           bool
	WaitForCalcTimeout time.Duration
	AllowNone          bool
	CleanupStale       bool
	CleanupInterval    time.Duration
}

// GetCallParams returns the per-call part of the current global
// parameters, without copying the rest: decorated functions read it at
// every call.
func GetCallParams() CallParams {
	p := current.Load()
	return CallParams{p.StaleAfter, p.NextTime, p.WaitForCalcTimeout, p.AllowNone, p.CleanupStale, p.CleanupInterval}
}

// Set updates some global parameters; keys it does not name keep their
// values. On error nothing changes. name cannot be set globally: it is one
// function's identity.
func Set(spec string) error {
	s, err := Parse(spec)
	if err != nil {
		return err
	}
	if s.Has("name") {
		return &KeyError{Key: "name", Value: "", Err: errors.New("a function's own name cannot be a global default")}
	}
	for {
		old := current.Load()
		p, err := Apply(*old, s)
		if err != nil {
			return err
		}
		if current.CompareAndSwap(old, &p) {
			return nil
		}
	}
}

// Reset restores the built-in parameters and turns caching on. Registered
// stores and key functions stay registered.
func Reset() {
	p := Builtin()
	current.Store(&p)
	enabled.Store(true)
}

// EnableCaching turns caching on for every decorated function.
func EnableCaching() { enabled.Store(true) }

// DisableCaching turns caching off for every decorated function: calls go
// straight to the function, and the stores are neither read nor written.
func DisableCaching() { enabled.Store(false) }

// CachingEnabled reports the global switch; the core reads it at every call.
func CachingEnabled() bool { return enabled.Load() }

// DefaultCacheDir is the file backend's directory when no cache_dir is
// given: $XDG_CACHE_HOME/cachier when XDG_CACHE_HOME is set, else
// ~/.cachier.
func DefaultCacheDir() string {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "cachier")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cachier")
	}
	return filepath.Join(os.TempDir(), "cachier")
}

// Builtin backend names; Register refuses them.
const (
	Memory = "memory"
	File   = "file"
	Pickle = "pickle" // Python cachier's name for the file backend
)

var (
	mu         sync.RWMutex
	stores     = map[string]store.Store{}
	hashFuncs  = map[string]hashing.Func{}
	builtinSet = map[string]bool{Memory: true, File: true, Pickle: true}
)

// Register makes s available to tags as backend=name. It panics if s is
// nil, if name is empty or a built-in backend, or if name is registered
// twice.
func Register(name string, s store.Store) {
	if s == nil {
		panic("cachier: Register store is nil")
	}
	if name == "" || builtinSet[name] {
		panic("cachier: Register called with reserved store name " + `"` + name + `"`)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := stores[name]; dup {
		panic("cachier: Register called twice for store " + name)
	}
	stores[name] = s
}

// LookupStore returns the store registered as name.
func LookupStore(name string) (store.Store, bool) {
	mu.RLock()
	defer mu.RUnlock()
	s, ok := stores[name]
	return s, ok
}

// RegisterHashFunc makes f available to tags as hash_func=name. It panics
// if f is nil, name is empty, or name is registered twice.
func RegisterHashFunc(name string, f hashing.Func) {
	if f == nil {
		panic("cachier: RegisterHashFunc func is nil")
	}
	if name == "" {
		panic("cachier: RegisterHashFunc called with an empty name")
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := hashFuncs[name]; dup {
		panic("cachier: RegisterHashFunc called twice for " + name)
	}
	hashFuncs[name] = f
}

// LookupHashFunc returns the key function registered as name.
func LookupHashFunc(name string) (hashing.Func, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := hashFuncs[name]
	return f, ok
}

var logger atomic.Pointer[slog.Logger]

// SetLogger makes l the logger of every message the library writes:
// warnings, once-per-function notices and WithVerbose calls. nil restores
// slog.Default(), read at each message.
func SetLogger(l *slog.Logger) { logger.Store(l) }

// Logger returns the logger set with SetLogger, or slog.Default().
func Logger() *slog.Logger {
	if l := logger.Load(); l != nil {
		return l
	}
	return slog.Default()
}
