package cachier

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/cachier-go/cachier/store"
)

// A Handle manages the cache of one decorated function. Get it with Of.
type Handle struct {
	f *fn
}

// Of returns the handle of a decorated function, given a pointer to the
// struct field or func variable that holds it:
//
//	h, err := cachier.Of(&svc.Fetch)
//
// The handle follows the function, not the variable: a copy of a decorated
// struct has the same handles.
func Of(target any) (*Handle, error) {
	pv := reflect.ValueOf(target)
	if !pv.IsValid() || pv.Kind() != reflect.Pointer || pv.IsNil() || pv.Elem().Kind() != reflect.Func {
		return nil, fmt.Errorf("cachier: Of(%T): want a pointer to a decorated func field or variable", target)
	}
	if pv.Elem().IsNil() {
		return nil, errors.New("cachier: Of: the func is nil")
	}
	h := lookupHandle(funcPtr(pv.Elem()))
	if h == nil {
		return nil, fmt.Errorf("cachier: Of(%T): not a decorated function (Decorate it first)", target)
	}
	return h, nil
}

// Name returns the function's cache identity: key_prefix, the qualified
// name (or name=), version, and a fingerprint of its argument and result
// types. Stores keep the function's entries under it.
func (h *Handle) Name() string { return h.f.name }

// Store returns the store that keeps the function's entries, under Name.
func (h *Handle) Store() store.Store { return h.f.st }

// CacheDir returns the directory of the file backend, or "" for others.
func (h *Handle) CacheDir() string { return h.f.cacheDir }

// ClearCache forgets every entry of the function.
func (h *Handle) ClearCache(ctx context.Context) error {
	return h.f.clear(ctx)
}

// ClearBeingCalculated drops every being-calculated mark of the function,
// so that callers waiting on a calculation that will never finish compute
// themselves: those in other processes, through the store's marks, and
// those in this process, released at once (one of them computes, the
// others wait for it). The calculations under way in this process go on,
// and their results are still stored when they return, but they no longer
// renew their marks. (A hung calculation in another process keeps renewing
// its own until that process ends or calls ClearBeingCalculated too.)
func (h *Handle) ClearBeingCalculated(ctx context.Context) error {
	err := h.f.clearMarks(ctx) // first: the released callers mark again
	h.f.releaseFlights()
	return err
}

// DeleteStale deletes the entries older than the function's stale_after.
// With no stale_after (entries never go stale) it deletes nothing.
func (h *Handle) DeleteStale(ctx context.Context) error {
	p := h.f.params()
	if p.staleAfter <= 0 {
		return nil
	}
	return h.f.deleteStale(ctx, time.Now().Add(-p.staleAfter))
}

// Precache stores value as the function's result for args, without calling
// it. args are the function's arguments, either all of them (a context and
// a receiver among them are ignored) or only those that make the key.
// value is the function's result for a function with one result besides
// an optional error, or a []any of its results in order for several.
func (h *Handle) Precache(ctx context.Context, value any, args ...any) error {
	f := h.f
	sig := f.sig
	key, err := f.keyOfArgs("Precache", args)
	if err != nil {
		return err
	}
	out := make([]reflect.Value, sig.Type.NumOut())
	var vals []any
	switch len(sig.Values) {
	case 0:
	case 1:
		vals = []any{value}
	default:
		var ok bool
		if vals, ok = value.([]any); !ok || len(vals) != len(sig.Values) {
			return fmt.Errorf("cachier: %s: Precache value: want a []any of %d results", f.field, len(sig.Values))
		}
	}
	for i, j := range sig.Values {
		v, err := convert(vals[i], sig.Type.Out(j))
		if err != nil {
			return fmt.Errorf("cachier: %s: Precache value: %w", f.field, err)
		}
		out[j] = v
	}
	if sig.Err >= 0 {
		out[sig.Err] = reflect.Zero(sig.Type.Out(sig.Err))
	}
	if f.vs != nil {
		if !f.setValue(key, out, nil) {
			return fmt.Errorf("cachier: %s: Precache: the value was not stored: it cannot be measured for max_size, is larger than max_size, or the store failed (see the log)", f.field)
		}
		return nil
	}
	b, err := f.encode(f.values(out))
	if err != nil {
		return fmt.Errorf("cachier: %s: Precache: encoding the value: %w", f.field, err)
	}
	return f.set(ctx, key, f.entry(b))
}

// convert returns a as a value of type t; nil is t's zero value.
func convert(a any, t reflect.Type) (reflect.Value, error) {
	if a == nil {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan:
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("nil is not a %s", t)
	}
	v := reflect.ValueOf(a)
	if !v.Type().AssignableTo(t) {
		return reflect.Value{}, fmt.Errorf("%T is not assignable to %s", a, t)
	}
	r := reflect.New(t).Elem()
	r.Set(v)
	return r, nil
}
