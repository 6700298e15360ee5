package store

import "strings"

// KeyPrefix returns the key_prefix part of a function identity fn, as the
// core writes identities:
//
//	[P ":"] Q ["@" V] "#" F
//
// where P, Q and V have every "%", ":", "@" and "#" escaped as "%25",
// "%3A", "%40" and "%23". An identity holds a ":" exactly when it has a
// key_prefix, so the prefix is everything before the first ":", still
// escaped (safe in Redis key names and ACL patterns); "" when fn has none.
func KeyPrefix(fn string) string {
	if p, _, ok := strings.Cut(fn, ":"); ok {
		return p
	}
	return ""
}
