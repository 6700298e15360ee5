package hashing_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cachier-go/cachier/hashing"
)

// XXH3Colliding returns two 4 KiB byte slices that differ in 8 bytes and
// that shared one key when keys were XXH3-128 digests of the encoding
// (8-byte type id, a non-nil byte, the length as a 2-byte uvarint, then the
// bytes).
//
// XXH3 adds each 8-byte lane d of a 64-byte stripe to one accumulator and
// the product of the two 32-bit halves of d^secret to another. A lane
// whose low half equals the secret's makes that product zero whatever its
// high half, so adding 1 to the high half of such a lane in one stripe and
// taking 1 from it in the next stripe of the same block leaves every
// accumulator, hence the digest, unchanged. The secret is XXH3's published
// default; stripe s uses it from byte 8s.
func XXH3Colliding() (a, b []byte) {
	const prefix = 11 // the encoding's bytes before the slice's
	mk := func(h1, h2 byte) []byte {
		p := make([]byte, 4096)
		copy(p[64-prefix:], []byte{0x7c, 0x01, 0x81, 0x2c, h1, 0, 0, 0})  // stripe 1, lane 0: secret[8:12]
		copy(p[128-prefix:], []byte{0xde, 0xd4, 0x6d, 0xe9, h2, 0, 0, 0}) // stripe 2, lane 0: secret[16:20]
		return p
	}
	return mk(5, 5), mk(6, 4)
}

func TestCraftedXXH3CollisionGetsTwoKeys(t *testing.T) {
	a, b := XXH3Colliding()
	diff := 0
	for i := range a {
		if a[i] != b[i] {
			diff++
		}
	}
	if diff != 2 || len(a) != 4096 { // two bytes changed, within 8
		t.Fatalf("the inputs differ in %d bytes", diff)
	}
	ka, kb := key(t, a), key(t, b)
	if ka == kb {
		t.Fatalf("two different 4 KiB arguments share the key %s", ka)
	}
	// As strings too, and through a Keyer.
	if key(t, string(a)) == key(t, string(b)) {
		t.Fatal("two different strings share a key")
	}
	k, err := hashing.NewKeyer([]reflect.Type{reflect.TypeOf(a)})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := k.KeyFrom([]reflect.Value{reflect.ValueOf(a)}, []int{0})
	y, _ := k.KeyFrom([]reflect.Value{reflect.ValueOf(b)}, []int{0})
	if x == y {
		t.Fatal("Keyer: two different arguments share a key")
	}
}

type self struct {
	Name string
	Next *self
}

type tree struct {
	Kids []any
	M    map[string]any
}

func TestCyclicArgumentsFail(t *testing.T) {
	s := []any{nil}
	s[0] = s // a slice containing itself through an interface
	p := &self{Name: "p"}
	p.Next = p // a struct pointing to itself
	q := &self{Name: "q", Next: &self{Name: "r"}}
	q.Next.Next = q // a longer loop
	m := map[string]any{}
	m["me"] = m // a map containing itself
	tr := &tree{M: map[string]any{}}
	tr.Kids = []any{tr}
	for name, arg := range map[string]any{"slice": s, "pointer": p, "loop": q, "map": m, "tree": tr} {
		_, err := hashing.Default([]any{arg})
		if !errors.Is(err, hashing.ErrCyclic) || !errors.Is(err, hashing.ErrUnhashable) {
			t.Errorf("%s: %v, want ErrCyclic and ErrUnhashable", name, err)
		}
	}
}

// Deep values that are not cyclic key normally, up to the depth limit;
// one value reached twice through different paths is not a cycle.
func TestDeepAndSharedValuesAreNotCycles(t *testing.T) {
	var head *self
	for i := range 500 {
		head = &self{Name: string(rune('a' + i%26)), Next: head}
	}
	if _, err := hashing.Default([]any{head}); err != nil {
		t.Errorf("a list of 500: %v", err)
	}
	shared := &self{Name: "shared"}
	var deep any = shared
	for range 40 {
		deep = []any{deep, shared}
	}
	if _, err := hashing.Default([]any{deep}); err != nil {
		t.Errorf("a shared value reached twice: %v", err)
	}
	var long *self
	for range 5000 {
		long = &self{Next: long}
	}
	if _, err := hashing.Default([]any{long}); !errors.Is(err, hashing.ErrUnhashable) {
		t.Errorf("a list of 5000: %v, want a depth error", err)
	}
}

// Day is defined on time.Time, as an application might.
type Day time.Time

type dated struct {
	D Day
	d Day
}

func TestTimeDefinedTypeIgnoresMonotonicReading(t *testing.T) {
	now := time.Now() // with a monotonic reading
	wall := now.Round(0)
	if now == wall {
		t.Skip("no monotonic reading on this platform")
	}
	if a, b := key(t, Day(now)), key(t, Day(wall)); a != b {
		t.Errorf("Day: keys %s and %s for one instant", a, b)
	}
	if a, b := key(t, dated{Day(now), Day(now)}), key(t, dated{Day(wall), Day(wall)}); a != b {
		t.Errorf("Day fields: keys %s and %s for one instant", a, b)
	}
	if a, b := key(t, Day(now)), key(t, Day(now.Add(time.Nanosecond))); a == b {
		t.Error("two instants share a key")
	}
}

// ValueKeyFrom keys small argument lists by their encoding and large ones
// by digest; the two kinds never meet, and equal values agree.
func TestValueKeys(t *testing.T) {
	k, err := hashing.NewKeyer([]reflect.Type{reflect.TypeOf(""), reflect.TypeOf(0)})
	if err != nil {
		t.Fatal(err)
	}
	vk := func(s string, n int) string {
		key, err := k.ValueKeyFrom([]reflect.Value{reflect.ValueOf(s), reflect.ValueOf(n)}, []int{0, 1})
		if err != nil {
			t.Fatal(err)
		}
		return key
	}
	small, large := vk("a", 1), vk(string(make([]byte, 300)), 1)
	if small[0] != 0 || len(small) > 257 || large[0] != 1 || len(large) != 33 {
		t.Errorf("value keys %q and %q: want a tagged encoding and a tagged digest", small, large)
	}
	if vk(string(make([]byte, 300)), 1) != large || vk(string(make([]byte, 301)), 1) == large {
		t.Error("digest value keys do not follow the values")
	}
	if vk("a", 1) != small || vk("a", 2) == small || vk("b", 1) == small {
		t.Error("value keys do not follow the values")
	}
}
