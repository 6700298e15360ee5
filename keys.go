package cachier

import (
	"reflect"
	"strings"

	"github.com/cachier-go/cachier/hashing"
)

// borrowKey is f.key for a call without per-call options on the memory
// backend: there the key may live in a pooled buffer (s non-nil) until
// s.Release, so that a hit allocates no key. The call makes it its own
// (callState.ownKey) before anything may keep it.
func (f *fn) borrowKey(args []reflect.Value, o *callOpts) (key string, s *hashing.Scratch, err error) {
	if o == nil && f.hash == nil && f.mem.Usable() {
		return f.keyer.BorrowValueKey(args, f.sig.KeyArgs)
	}
	if o == nil && f.hash == nil && f.borrowGet {
		return f.keyer.BorrowKey(args, f.sig.KeyArgs)
	}
	key, err = f.key(args)
	return key, nil, err
}

// ownKey makes a borrowed key the call's own: past the lookup, the key goes
// into flights, stores and logs.
func (c *callState) ownKey() {
	if c.borrowed {
		c.key, c.borrowed = strings.Clone(c.key), false
	}
}
