package filestore

import (
	"bytes"
	"encoding/binary"
	"math"
	"time"

	"github.com/cachier-go/cachier/store"
)

// expNanos is the files' form of an entry's Expires: Unix nanoseconds, 0
// for none, and otherwise clamped to [1, MaxInt64] (an expiry before 1970
// is long past; one after 2262 is kept as the latest the form holds).
func expNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Unix() <= 0:
		return 1
	case t.Unix() >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// expTime is the inverse of expNanos.
func expTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// decodeEntryExp is decodeEntry that also returns the entry's Expires
// (zero for none).
func decodeEntryExp(b []byte, seed uint32, full bool) (key string, t, exp time.Time, value []byte, ok bool) {
	if len(b) < entryFixed {
		return "", time.Time{}, time.Time{}, nil, false
	}
	hasExp := false
	switch string(b[:len(entryMagic)]) {
	case entryMagic:
	case entryMagicExp:
		hasExp = true
	default:
		return "", time.Time{}, time.Time{}, nil, false
	}
	key, t, value, ok = decodeEntryBody(b, seed, full)
	if !ok || !hasExp {
		return key, t, time.Time{}, value, ok
	}
	if len(value) < 8 {
		return "", time.Time{}, time.Time{}, nil, false
	}
	n := int64(binary.LittleEndian.Uint64(value))
	if n <= 0 {
		return "", time.Time{}, time.Time{}, nil, false
	}
	return key, t, expTime(n), value[8:], true
}

// entry returns a present centry's entry, with a copy of its value, or
// store.ErrNotFound once it has expired.
func (c centry) entry() (store.Entry, error) {
	e := store.Entry{Time: c.t, Expires: c.exp}
	if e.Expired(time.Now()) {
		return store.Entry{}, store.ErrNotFound
	}
	e.Value = bytes.Clone(c.value)
	return e, nil
}
