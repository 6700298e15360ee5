package redisstore

import (
	"strings"
	"testing"
)

func TestSplitKey(t *testing.T) {
	s := New(nil, WithKeyPrefix("p:"))
	fn := "app:example.com/x.F#1"
	for _, tc := range []struct {
		key, base, kind string
		ok              bool
	}{
		{s.key(fn, "e:", "0123"), s.base(fn), "e", true},
		{s.key(fn, "m:", "0123"), s.base(fn), "m", true},
		{s.base(fn) + nameKind, s.base(fn), "n", true},
		{s.base(fn) + "c:0123", "", "", false},
		{"p:{nothex}:e:1", "", "", false},
		{"unrelated", "", "", false},
		{s.key(fn, "e:", "{"+strings.Repeat("b", 32)+"}:n"), s.base(fn), "e", true}, // braces in a custom key
		{"{" + strings.Repeat("a", 32) + "}", "", "", false},
	} {
		base, kind, ok := splitKey(tc.key)
		if base != tc.base || kind != tc.kind || ok != tc.ok {
			t.Errorf("splitKey(%q) = %q, %q, %v; want %q, %q, %v", tc.key, base, kind, ok, tc.base, tc.kind, tc.ok)
		}
	}
}

// FuzzSplitKey: any key a server holds splits without panicking, and a
// split base is a prefix of the key ending in "}:".
func FuzzSplitKey(f *testing.F) {
	s := New(nil)
	f.Add(s.key("f", "e:", "00"))
	f.Add(s.base("f") + nameKind)
	f.Add("{{{{")
	f.Add("x{" + strings.Repeat("f", 32) + "}:m:")
	f.Fuzz(func(t *testing.T, key string) {
		base, kind, ok := splitKey(key)
		if !ok {
			return
		}
		if !strings.HasPrefix(key, base) || !strings.HasSuffix(base, "}:") || kind == "" {
			t.Fatalf("splitKey(%q) = %q, %q", key, base, kind)
		}
	})
}
