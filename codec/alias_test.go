package codec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// within reports whether the n bytes at p lie inside b's memory (up to its
// capacity).
func within(b []byte, p unsafe.Pointer, n int) bool {
	if n == 0 || cap(b) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	hi := lo + uintptr(cap(b))
	q := uintptr(p)
	return q < hi && q+uintptr(n) > lo
}

type aliasMix struct {
	Big, Small   []byte
	BigS, SmallS string
}

// TestDecodeAliasesLargeValues: a []byte or string that is a large part of
// the payload is a slice of the entry, with its capacity clipped; a small
// one is a copy, so that it does not keep the entry alive; a compressed
// entry decodes into memory of its own.
func TestDecodeAliasesLargeValues(t *testing.T) {
	v := aliasMix{
		Big:    noise(64 << 10),
		Small:  bytes.Repeat([]byte{1}, 100),
		BigS:   strings.Repeat("s", 48<<10),
		SmallS: strings.Repeat("t", 100),
	}
	types := []reflect.Type{reflect.TypeOf(v)}
	p, err := NewPlan(Default(), types, "")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := p.Encode([]reflect.Value{reflect.ValueOf(v)})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := p.Decode(entry)
	if err != nil {
		t.Fatal(err)
	}
	got := vals[0].Interface().(aliasMix)
	if !reflect.DeepEqual(got, v) {
		t.Fatal("round trip differs")
	}
	if !within(entry, unsafe.Pointer(unsafe.SliceData(got.Big)), len(got.Big)) {
		t.Error("a []byte of 64 KiB in a 112 KiB entry was copied, want a slice of the entry")
	}
	if cap(got.Big) != len(got.Big) {
		t.Errorf("cap of the aliased []byte = %d, want its length %d (an append would write into the entry)", cap(got.Big), len(got.Big))
	}
	if !within(entry, unsafe.Pointer(unsafe.StringData(got.BigS)), len(got.BigS)) {
		t.Error("a string of 48 KiB in a 112 KiB entry was copied, want a slice of the entry")
	}
	if within(entry, unsafe.Pointer(unsafe.SliceData(got.Small)), len(got.Small)) {
		t.Error("a []byte of 100 bytes aliases a 112 KiB entry, want a copy")
	}
	if within(entry, unsafe.Pointer(unsafe.StringData(got.SmallS)), len(got.SmallS)) {
		t.Error("a string of 100 bytes aliases a 112 KiB entry, want a copy")
	}
	grown := append(got.Big, 1, 2, 3)
	if within(entry, unsafe.Pointer(unsafe.SliceData(grown)), len(grown)) {
		t.Error("appending to the aliased []byte wrote into the entry")
	}
	vals2, err := p.Decode(entry)
	if err != nil || !reflect.DeepEqual(vals2[0].Interface(), v) {
		t.Fatalf("decoding again after an append to the first result: %v", err)
	}

	for _, c := range []string{"s2", "zstd"} {
		pc, err := NewPlan(Default(), types, c)
		if err != nil {
			t.Fatal(err)
		}
		ce, err := pc.Encode([]reflect.Value{reflect.ValueOf(v)})
		if err != nil {
			t.Fatal(err)
		}
		if h, _, _ := ReadHeader(ce); h.Compression != c {
			t.Fatalf("entry compressed with %q, want %q", h.Compression, c)
		}
		vals, err := pc.Decode(ce)
		if err != nil {
			t.Fatal(err)
		}
		got := vals[0].Interface().(aliasMix)
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("%s: round trip differs", c)
		}
		if within(ce, unsafe.Pointer(unsafe.SliceData(got.Big)), len(got.Big)) {
			t.Errorf("%s: a decoded []byte aliases the compressed entry", c)
		}
	}
}

// noise returns n bytes that compress about twofold, not a thousandfold.
func noise(n int) []byte {
	b := make([]byte, n)
	x := uint32(1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x>>24) & 0x0F
	}
	return b
}

// TestDecodeSmallValues: in an entry of more than 4 KiB, a small string or
// []byte is a copy, not a slice of the entry, so that it does not keep the
// entry alive; in a small entry, it is a slice of the entry (which it keeps
// alive, but that is at most 4 KiB).
func TestDecodeSmallValues(t *testing.T) {
	type small struct {
		S string
		B []byte
	}
	v := small{S: "hello", B: []byte("tiny")}
	for _, tc := range []struct {
		pad     int
		aliases bool
	}{{0, true}, {1 << 10, false}} {
		padded := struct {
			V   small
			Pad []int64
		}{V: v, Pad: make([]int64, tc.pad)}
		for i := range padded.Pad {
			padded.Pad[i] = int64(i) << 40
		}
		p, err := NewPlan(Default(), []reflect.Type{reflect.TypeOf(padded)}, "")
		if err != nil {
			t.Fatal(err)
		}
		entry, err := p.Encode([]reflect.Value{reflect.ValueOf(padded)})
		if err != nil {
			t.Fatal(err)
		}
		vals, err := p.Decode(entry)
		if err != nil {
			t.Fatal(err)
		}
		got := vals[0].Field(0).Interface().(small)
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("round trip: %+v, want %+v", got, v)
		}
		s := within(entry, unsafe.Pointer(unsafe.StringData(got.S)), len(got.S))
		b := within(entry, unsafe.Pointer(unsafe.SliceData(got.B)), len(got.B))
		if s != tc.aliases || b != tc.aliases {
			t.Errorf("entry of %d bytes: the string aliases it: %v, the []byte: %v; want %v", len(entry), s, b, tc.aliases)
		}
		if b && cap(got.B) != len(got.B) {
			t.Errorf("entry of %d bytes: cap of the []byte = %d, want its length %d", len(entry), cap(got.B), len(got.B))
		}
	}
}

// TestDecodedZoneNameNotCached: a time zone name decoded from an entry is
// cached (with the location loaded for it) as a copy, never as the entry's
// own memory, which the cache would keep alive, and changed with it.
func TestDecodedZoneNameNotCached(t *testing.T) {
	ny, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	v := time.Date(2026, 1, 2, 3, 4, 5, 0, ny)
	p, err := NewPlan(Default(), []reflect.Type{reflect.TypeOf(v)}, "")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := p.Encode([]reflect.Value{reflect.ValueOf(v)})
	if err != nil {
		t.Fatal(err)
	}
	loadedLocs.Delete("America/Los_Angeles")
	if _, err := p.Decode(entry); err != nil {
		t.Fatal(err)
	}
	loadedLocs.Range(func(k, _ any) bool {
		name := k.(string)
		if within(entry, unsafe.Pointer(unsafe.StringData(name)), len(name)) {
			t.Errorf("the zone cache keeps %q in the entry's memory", name)
		}
		return true
	})
	r, ok := loadedLocs.Load("America/Los_Angeles")
	if !ok {
		t.Fatal("the zone was not cached")
	}
	if name := r.(locResult).loc.String(); within(entry, unsafe.Pointer(unsafe.StringData(name)), len(name)) {
		t.Errorf("the cached location's name is the entry's memory")
	}
}
