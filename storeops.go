package cachier

import (
	"context"
	"fmt"
	"reflect"
	"time"

	reflectx "github.com/cachier-go/cachier/reflect"
	"github.com/cachier-go/cachier/store"
)

// The store's methods as a call uses them. A store may be the user's code
// (WithStore, defaults.Register), and its contract says it reports errors
// and never panics; one that panics anyway fails no call: the panic is an
// error of the operation, so the store is skipped for a while like any
// failing store (SPEC §5), and the heartbeat and the background tasks,
// which no caller could recover, never take the process down.

// recoverStore, deferred around one call of the store's method op, turns
// a panic in it into *err.
func recoverStore(op string, err *error) {
	if r := recover(); r != nil {
		*err = storePanic(op, r)
	}
}

// storePanic is the error of the store's method op that panicked with r.
func storePanic(op string, r any) error {
	return fmt.Errorf("cachier: the store's %s panicked: %v", op, r)
}

func (f *fn) get(ctx context.Context, key string) (e store.Entry, err error) {
	defer recoverStore("Get", &err)
	return f.st.Get(ctx, f.name, key)
}

func (f *fn) set(ctx context.Context, key string, e store.Entry) (err error) {
	defer recoverStore("Set", &err)
	return f.st.Set(ctx, f.name, key, e)
}

func (f *fn) mark(ctx context.Context, key, owner string) (acquired bool, err error) {
	defer recoverStore("Mark", &err)
	return f.st.Mark(ctx, f.name, key, owner, f.p.MarkTTL)
}

func (f *fn) unmark(ctx context.Context, key, owner string) (err error) {
	defer recoverStore("Unmark", &err)
	return f.st.Unmark(ctx, f.name, key, owner)
}

func (f *fn) wait(ctx context.Context, w store.Waiter, key string) (err error) {
	defer recoverStore("Wait", &err)
	return w.Wait(ctx, f.name, key)
}

func (f *fn) deleteStale(ctx context.Context, cutoff time.Time) (err error) {
	defer recoverStore("DeleteStale", &err)
	return f.st.DeleteStale(ctx, f.name, cutoff)
}

// The methods of Handle and what the exporters read call these: a panic
// is an error for Handle's caller, and no count for a scrape.

func (f *fn) delete(ctx context.Context, key string) (err error) {
	defer recoverStore("Delete", &err)
	return f.st.Delete(ctx, f.name, key)
}

func (f *fn) clear(ctx context.Context) (err error) {
	defer recoverStore("Clear", &err)
	return f.st.Clear(ctx, f.name)
}

func (f *fn) clearMarks(ctx context.Context) (err error) {
	defer recoverStore("ClearMarks", &err)
	return f.st.ClearMarks(ctx, f.name)
}

// size is the store's store.Sizer figures for f, if it has them.
func (f *fn) size() (entries, bytes int64, ok bool) {
	sz, ok := f.st.(store.Sizer)
	if !ok {
		return 0, 0, false
	}
	defer func() {
		if recover() != nil {
			entries, bytes, ok = 0, 0, false
		}
	}()
	return sz.Size(f.name)
}

// getValue returns the results f's ValueStore keeps for key, and when they
// were computed. The memory store keeps what SetValue was given. Another
// ValueStore is the user's code: a panic in its GetValue, or a value that
// is not a successful result list of f's types, is a miss (logged), not a
// panic where the results are returned, nor a result the function did not
// return.
func (f *fn) getValue(key string) (out []reflect.Value, t time.Time, ok bool) {
	if f.mem.Usable() { // no lookup by name
		v, t, ok := f.mem.GetValue(key)
		if !ok {
			return nil, time.Time{}, false
		}
		return v.([]reflect.Value), t, true
	}
	var v any
	err := func() (err error) {
		defer recoverStore("GetValue", &err)
		v, t, ok = f.vs.GetValue(f.name, key)
		return nil
	}()
	if err == nil && ok {
		if out, ok = v.([]reflect.Value); !ok || !f.isResults(out) {
			err = fmt.Errorf("cachier: the store's GetValue returned a %T that is not a successful result list of %v", v, f.sig.Type)
		}
	}
	if err != nil {
		f.logOnce("getvalue", "cachier: cannot use a value the store kept; calling the function", err)
		return nil, time.Time{}, false
	}
	return out, t, ok
}

// isResults reports whether out is a successful result list of f's
// function: one value of each result type (a concrete type implementing
// an interface result will do), that a function made by reflect.MakeFunc
// may return, and a nil error if the function returns one.
func (f *fn) isResults(out []reflect.Value) bool {
	typ := f.sig.Type
	if len(out) != typ.NumOut() {
		return false
	}
	for i, v := range out {
		if reflectx.CheckValue(typ.Out(i), v) != nil {
			return false
		}
	}
	return f.succeeded(out)
}
