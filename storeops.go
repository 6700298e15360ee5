package cachier

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cachier-go/cachier/store"
)

// The store's methods as a call uses them. A store may be the user's code
// (WithStore, defaults.Register), and its contract says it reports errors
// and never panics; one that panics anyway fails no call: the panic is an
// error of the operation, so the store is skipped for a while like any
// failing store (SPEC §5), and the heartbeat and the background tasks,
// which no caller could recover, never take the process down.

// A storePanic is a panic of a store's method, as an error.
type storePanic struct {
	op    string
	value any
	stack []byte
}

func (e *storePanic) Error() string {
	return fmt.Sprintf("cachier: the store's %s panicked: %v\n%s", e.op, e.value, e.stack)
}

// recoverStore, deferred around one call of the store's method op, turns
// a panic in it into *err.
func recoverStore(op string, err *error) {
	if r := recover(); r != nil {
		*err = &storePanic{op: op, value: r, stack: debug.Stack()}
	}
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
