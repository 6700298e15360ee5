package cachier

import (
	"fmt"
	"reflect"
	"time"

	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/store"
)

// checkBounds decides at Decorate how max_entries and max_size apply to f.
// A store that cannot bound its entries (not a store.Bounder) refuses the
// keys when the function's own configuration (its tag, or Tag) sets them;
// a bound set only as a global default (defaults.Set) applies to the
// functions whose store can keep it, and the others ignore it.
func checkBounds(f *fn, label string, p defaults.Params, set func(string) bool, valueOf func(string) string) error {
	if p.MaxEntries <= 0 && p.MaxSize <= 0 {
		return nil
	}
	if _, ok := f.st.(store.Bounder); !ok {
		for _, k := range []string{"max_entries", "max_size"} {
			if set(k) {
				return &TagError{Field: label, Key: k, Value: valueOf(k), Err: fmt.Errorf(
					"backend %q cannot bound its entries (only memory and file can): "+
						"use expire_after, and the server's own eviction (for Redis, maxmemory-policy allkeys-lru)", p.Backend)}
			}
		}
		return nil
	}
	f.bounded = true
	if svs, ok := f.st.(store.SizedValueStore); ok && p.MaxSize > 0 {
		f.svs = svs
	}
	return nil
}

// applyBounds hands f's bounds to its store, once f is installed.
func (f *fn) applyBounds() {
	if f.bounded {
		f.st.(store.Bounder).Bound(f.name, f.p.MaxEntries, int64(f.p.MaxSize))
	}
}

// setValue stores out as key's result in f's ValueStore, with its encoded
// size b (encoded here when nil) where a max_size bound needs it. It
// reports false when the result was not stored: it could not be measured,
// it is larger than max_size by itself, or the store's SetValue panicked
// (a ValueStore other than the memory store is the user's code: the panic
// is logged, and the result returned uncached).
func (f *fn) setValue(key string, out []reflect.Value, b []byte) (stored bool) {
	if !f.mem.Usable() {
		defer func() {
			if r := recover(); r != nil {
				f.logOnce("setvalue", "cachier: cannot store a result; returned but not cached",
					storePanic("SetValue", r))
				stored = false
			}
		}()
	}
	if f.svs == nil {
		f.vs.SetValue(f.name, key, out, time.Now())
		return true
	}
	if b == nil {
		var err error
		if b, err = f.encode(f.values(out)); err != nil {
			f.logOnce("encode", "cachier: cannot encode a result to measure it for max_size; returned but not cached", err)
			return false
		}
	}
	if int64(len(b)) > int64(f.p.MaxSize) {
		return false // larger than the whole bound: storing it would evict everything else
	}
	f.svs.SetValueSized(f.name, key, out, time.Now(), int64(len(b)))
	return true
}
