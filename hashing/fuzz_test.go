package hashing_test

import (
	"bytes"
	"maps"
	"testing"

	"github.com/cachier-go/cachier/hashing"
)

// fuzzArgs builds an argument list from fuzz input: a string, a []byte and
// a map whose entries come from splitting m at commas.
func fuzzArgs(s string, b []byte, m string) []any {
	mp := map[string]int{}
	for i, part := range bytes.Split([]byte(m), []byte(",")) {
		mp[string(part)] = i % 3
	}
	return []any{s, b, mp, []any{s, len(b)}}
}

// FuzzKeysInjective: two argument lists get one key exactly when they are
// equal (nil and empty []byte are different values).
func FuzzKeysInjective(f *testing.F) {
	f.Add("a", []byte("b"), "x,y", "a", []byte("b"), "y,x")
	f.Add("ab", []byte(""), "", "a", []byte("b"), "")
	f.Add("", []byte(nil), "k", "", []byte{}, "k")
	f.Add("x", []byte("1"), "a,b,c", "x", []byte("1"), "a,b,d")
	f.Fuzz(func(t *testing.T, s1 string, b1 []byte, m1 string, s2 string, b2 []byte, m2 string) {
		a1, a2 := fuzzArgs(s1, b1, m1), fuzzArgs(s2, b2, m2)
		k1, err1 := hashing.Default(a1)
		k2, err2 := hashing.Default(a2)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		equal := s1 == s2 && bytes.Equal(b1, b2) && (b1 == nil) == (b2 == nil) &&
			maps.Equal(a1[2].(map[string]int), a2[2].(map[string]int))
		if (k1 == k2) != equal {
			t.Fatalf("equal values %v, equal keys %v: %#v / %#v", equal, k1 == k2, a1, a2)
		}
	})
}
