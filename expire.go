package cachier

import (
	"fmt"
	"time"

	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/store"
)

// checkExpiry refuses at Decorate an expire_after below stale_after: an
// entry would then vanish while still fresh.
func checkExpiry(label string, p defaults.Params, valueOf func(string) string) error {
	if p.ExpireAfter > 0 && p.StaleAfter > 0 && p.ExpireAfter < p.StaleAfter {
		return &TagError{Field: label, Key: "expire_after", Value: valueOf("expire_after"),
			Err: fmt.Errorf("below stale_after (%v): entries must stay until they are stale", p.StaleAfter)}
	}
	return nil
}

// expired reports whether an entry computed at t is past the function's
// expire_after, and so must never be served.
func (f *fn) expired(t time.Time) bool {
	return f.p.ExpireAfter > 0 && time.Since(t) > f.p.ExpireAfter
}

// entry is the store entry of encoded result b computed now, expiring
// after the function's expire_after.
func (f *fn) entry(b []byte) store.Entry {
	e := store.Entry{Value: b, Time: time.Now()}
	if f.p.ExpireAfter > 0 {
		e.Expires = e.Time.Add(f.p.ExpireAfter)
	}
	return e
}

// cleanupCutoff is the time before which a cleanup run deletes entries
// (cutoff) and whether one is due at all: entries stale under
// cleanup_stale, and entries past expire_after where the store does not
// delete them by itself (store.Expirer).
func (f *fn) cleanupCutoff(p params) (cutoff time.Time, ok bool) {
	var d time.Duration
	if p.cleanupStale && p.staleAfter > 0 {
		d = p.staleAfter
	}
	if e := f.p.ExpireAfter; e > 0 && (d == 0 || e < d) && !selfExpiring(f.st) {
		d = e
	}
	if d <= 0 {
		return time.Time{}, false
	}
	return time.Now().Add(-d), true
}

// selfExpiring reports whether s deletes expired entries by itself. A
// store's ExpiresEntries that panics (the user's code) says no: cleanup
// then deletes them.
func selfExpiring(s store.Store) (yes bool) {
	x, ok := s.(store.Expirer)
	if !ok {
		return false
	}
	defer func() {
		if recover() != nil {
			yes = false
		}
	}()
	return x.ExpiresEntries()
}
