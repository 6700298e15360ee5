package testenv

import (
	"bytes"
	"testing"
)

// OwnResults checks that every caller's result in got equals want, and
// that each is the caller's own: overwriting one, up to its capacity,
// changes no other.
func OwnResults(t testing.TB, got [][]byte, want []byte) {
	t.Helper()
	for i, g := range got {
		if !bytes.Equal(g, want) {
			t.Fatalf("caller %d got another result", i)
		}
	}
	for i, g := range got {
		g = g[:cap(g)]
		for j := range g {
			g[j] ^= 0xFF
		}
		for j, h := range got[i+1:] {
			if !bytes.Equal(h, want) {
				t.Fatalf("overwriting caller %d's result changed caller %d's: they share memory", i, i+1+j)
			}
		}
	}
}
