package codec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
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

// TestDecodeSmallResultsCopied: a small string or []byte in an entry is a
// copy, not a slice of the entry.
func TestDecodeSmallResultsCopied(t *testing.T) {
	type small struct {
		S string
		B []byte
	}
	v := small{S: "hello", B: []byte("tiny")}
	pad := struct {
		V   small
		Pad [64]int64
	}{V: v}
	for i := range pad.Pad {
		pad.Pad[i] = int64(i) << 40
	}
	p, err := NewPlan(Default(), []reflect.Type{reflect.TypeOf(pad)}, "")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := p.Encode([]reflect.Value{reflect.ValueOf(pad)})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := p.Decode(entry)
	if err != nil {
		t.Fatal(err)
	}
	got := vals[0].Field(0).Interface().(small)
	if within(entry, unsafe.Pointer(unsafe.StringData(got.S)), len(got.S)) ||
		within(entry, unsafe.Pointer(unsafe.SliceData(got.B)), len(got.B)) {
		t.Error("a small string or []byte aliases the entry, want copies")
	}
}
