package store_test

import (
	"testing"

	"github.com/cachier-go/cachier/store"
)

func TestKeyPrefix(t *testing.T) {
	for fn, want := range map[string]string{
		"app:example.com/svc.Service.Fetch@v2#1f0c": "app",
		"example.com/svc.Service.Fetch#1f0c":        "",
		"a%3Ab:x%3Ay@1#f":                           "a%3Ab",
		"":                                          "",
	} {
		if got := store.KeyPrefix(fn); got != want {
			t.Errorf("KeyPrefix(%q) = %q, want %q", fn, got, want)
		}
	}
}
