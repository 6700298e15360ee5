// Package store defines the contract between cachier and the places it keeps
// results: memory, files, SQL databases, Redis and MongoDB.
//
// A Store moves bytes. The cachier core hashes the arguments into a key,
// encodes results into Entry.Value, decides what is fresh and what is stale,
// and asks the store to keep, find and forget entries. The store never sees a
// Go value and never decides freshness.
//
// # Functions and keys
//
// One store serves many decorated functions. Every method takes the function's
// identity (fn, a printable string such as
// "example.com/app.Service.Fetch@v2#1f0c…") and, where it acts on one entry,
// the key (a lowercase hexadecimal string of at least 32 characters). A store
// must keep the entries of different functions apart: Delete, Clear,
// ClearMarks and DeleteStale of one function never touch another's.
//
// # Being-calculated marks
//
// Mark records that a caller is computing a key, so that callers in other
// processes and on other machines wait for it instead of computing it too.
// A mark belongs to an owner (a string unique to one calculation) and expires
// after its ttl, so that a process that dies mid-calculation blocks nobody
// for longer than that. The owner of a live mark may Mark again to extend it.
// Set clears the mark of the key it writes, whoever owns it.
//
// # Ownership of values
//
// The bytes of an Entry belong to whoever holds the Entry, never to two
// parties at once. The Value that Get returns belongs to the caller: the
// store keeps no reference to it and never changes it, and two Gets never
// return Values that share memory (up to their capacity), so the caller may
// modify it, append to it, or hand it to a decoder that keeps slices of it.
// Set keeps no reference to e.Value once it returns: it copies what it
// keeps, and the caller may then modify or reuse the slice. A store that
// keeps values in memory (a cache of recent reads) therefore copies them on
// the way in and on the way out.
//
// # Failures
//
// A store returns ErrNotFound from Get when the key has no entry, and any
// other error when it could not find out. Errors are reported, never
// panicked (the core takes a panic of a method for a failure of the store,
// but a store must not rely on it). A write that fails must leave the previous entry of the key
// intact. The core treats every error as "the store is unavailable for this
// call": it calls the function and returns its result anyway.
//
// # Conformance
//
// Package storetest holds the cases every Store must pass, run against the
// real server; see storetest.Run.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Store.Get when the key has no entry.
var ErrNotFound = errors.New("cachier: entry not found")

// An Entry is one stored result.
type Entry struct {
	// Value is the encoded result, as the core produced it. Stores keep it
	// byte for byte; a nil or empty Value is stored and returned as empty.
	// A Value that Get returns belongs to its caller, and Set keeps no
	// reference to the Value it is given (see "Ownership of values").
	Value []byte

	// Time is when the result was computed. Stores keep it to at least
	// millisecond precision; freshness is judged on it by the core.
	Time time.Time

	// Expires is when the entry stops being served (the function's
	// expire_after past Time); zero means never. Stores keep it to at least
	// millisecond precision and return it from Get. Get never returns an
	// entry whose Expires has passed (by the clock of the process calling
	// Get): it reports store.ErrNotFound. Stores that can delete an entry
	// at its expiry by themselves do so (a Redis key TTL, a MongoDB TTL
	// index); the others keep it until DeleteStale, Delete, Clear or an
	// overwrite removes it. A Set without Expires removes an earlier
	// entry's expiry with it.
	Expires time.Time
}

// Expired reports whether e has an expiry and it is not after now.
func (e Entry) Expired(now time.Time) bool {
	return !e.Expires.IsZero() && !e.Expires.After(now)
}

// Store is the contract every backend implements. All methods are safe for
// concurrent use by multiple goroutines.
type Store interface {
	// Get returns the entry of key in function fn, or ErrNotFound. The
	// entry's Value is the caller's own: the store keeps no reference to
	// it, never changes it, and never returns memory it shares with the
	// Value of another Get.
	Get(ctx context.Context, fn, key string) (Entry, error)

	// Set stores e as the entry of key in function fn, replacing any earlier
	// one, and clears the key's being-calculated mark. On error the previous
	// entry, if any, is left as it was. Set keeps no reference to e.Value
	// once it returns: the caller may modify or reuse it.
	Set(ctx context.Context, fn, key string, e Entry) error

	// Mark sets a being-calculated mark on key for owner, expiring after ttl.
	// It reports whether the mark is now owner's: true when there was no live
	// mark or owner already held it (the expiry is then extended), false when
	// another owner holds a live mark. Among concurrent callers in any number
	// of processes, at most one acquires a free mark. Mark does not touch
	// the entry of the key.
	Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (acquired bool, err error)

	// Unmark removes owner's mark from key. A mark held by another owner,
	// or no mark at all, is left alone and is not an error.
	Unmark(ctx context.Context, fn, key, owner string) error

	// Delete removes the entry of key in function fn, and keeps every other
	// entry. A key without an entry is not an error. A being-calculated mark
	// of key may stay or go with the entry, as is cheapest for the store:
	// the calculation that holds it still stores its result with Set, and
	// its owner's Unmark still succeeds. On a shared store Delete costs one
	// round trip.
	Delete(ctx context.Context, fn, key string) error

	// Clear removes every entry and every mark of function fn.
	Clear(ctx context.Context, fn string) error

	// ClearMarks removes every being-calculated mark of function fn and
	// keeps its entries.
	ClearMarks(ctx context.Context, fn string) error

	// DeleteStale removes every entry of function fn whose Time is before
	// cutoff, and keeps the rest.
	DeleteStale(ctx context.Context, fn string, cutoff time.Time) error
}

// A ValueStore keeps results as Go values in process memory, so a hit costs
// neither decoding nor copying. The core uses GetValue and SetValue in place
// of Get and Set when a store implements them; the values it hands back are
// shared by every caller that hits the key.
//
// The memory store implements it. A store that crosses process boundaries
// must not. Its keys never leave the process, so the core may key it by the
// arguments' canonical encoding instead of a digest: a ValueStore's keys
// (in every method) may be any bytes, not only hex digits.
type ValueStore interface {
	Store

	// GetValue returns the value stored for key in fn and when it was
	// computed, and whether there was one.
	GetValue(fn, key string) (v any, t time.Time, ok bool)

	// SetValue stores v for key in fn and clears the key's mark.
	SetValue(fn, key string, v any, t time.Time)
}

// A SizedValueStore is a ValueStore that can count the size of the values
// it keeps against a max_size bound (see Bounder). The core measures the
// size of a result by encoding it, which it does only for a function with
// a size bound, and then calls SetValueSized in place of SetValue.
type SizedValueStore interface {
	ValueStore

	// SetValueSized is SetValue for a value whose encoded form is size
	// bytes long.
	SetValueSized(fn, key string, v any, t time.Time, size int64)
}

// A Waiter can tell a caller when a key's mark or entry may have changed,
// so that a caller waiting for another process's calculation need not poll
// at a fixed pace. Stores that can (Redis pub/sub, PostgreSQL LISTEN) may
// implement it; the core polls with backoff otherwise.
type Waiter interface {
	// Wait returns when the entry or mark of key in fn may have changed, or
	// when ctx is done. Spurious returns are allowed; the caller checks.
	Wait(ctx context.Context, fn, key string) error
}

// An Expirer deletes entries at their Entry.Expires by itself (a key TTL,
// a TTL index), so that the core need not run DeleteStale to remove the
// entries of functions with expire_after. ExpiresEntries reports whether it
// does so now (a MongoDB TTL index, say, may have been refused).
type Expirer interface {
	ExpiresEntries() bool
}

// A Bounder keeps at most a number of entries, or of bytes of encoded
// values, per function, evicting the least valuable entries (least recently
// used, or better) beyond that. The core calls Bound once when it decorates
// a function with max_entries or max_size; a store that does not implement
// Bounder cannot take those keys (Decorate reports it). Zero means no bound.
type Bounder interface {
	Bound(fn string, maxEntries int, maxBytes int64)
}

// FuncInfo describes one function's entries in a store, as a Lister
// reports them.
type FuncInfo struct {
	Function string    // the function's identity
	Entries  int64     // number of entries
	Bytes    int64     // total size of their encoded values
	Oldest   time.Time // Time of the oldest entry; zero without entries
	Newest   time.Time // Time of the newest entry; zero without entries
	Marks    int64     // live being-calculated marks
}

// An EntryInfo describes one entry without its value.
type EntryInfo struct {
	Key  string
	Time time.Time
	Size int64 // bytes of the encoded value
}

// A Lister can tell which functions a store holds and what their entries
// are, for operators (the cachier command). It works with cursors (SCAN,
// SQL aggregates, Mongo aggregation, a directory walk), never by loading
// every entry at once.
type Lister interface {
	// Functions returns one FuncInfo per function that has entries or
	// marks in the store, in no fixed order.
	Functions(ctx context.Context) ([]FuncInfo, error)

	// Entries calls yield for every entry of fn, in no fixed order, and
	// stops at the first error yield returns, which Entries returns.
	Entries(ctx context.Context, fn string, yield func(EntryInfo) error) error
}

// A Sizer can tell, cheaply and without I/O, how many entries a function
// holds and how many bytes their encoded values take, as far as this
// process knows: the memory store, the file store from its index. The
// core reads it for Stats (Entries, SizeBytes). ok is false when the store
// cannot tell for fn; bytes is 0 when it knows the count but not the size.
type Sizer interface {
	Size(fn string) (entries, bytes int64, ok bool)
}
