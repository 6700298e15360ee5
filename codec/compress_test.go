package codec

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

var stringsType = []reflect.Type{reflect.TypeOf([]string(nil))}

func compressPlan(t *testing.T, c string) *Plan {
	t.Helper()
	p, err := NewPlan(Default(), stringsType, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompressLargeResults(t *testing.T) {
	big := []string{strings.Repeat("cachier ", 400), strings.Repeat("x", 3000)}
	small := []string{"tiny"}
	random := make([]byte, 4000)
	rand.Read(random)
	for _, c := range []string{"s2", "zstd"} {
		p := compressPlan(t, c)
		b, err := p.Encode([]reflect.Value{reflect.ValueOf(big)})
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := compressPlan(t, "").Encode([]reflect.Value{reflect.ValueOf(big)})
		if b[3] == compressNone || len(b) >= len(plain)/4 {
			t.Errorf("%s: %d bytes (flag %d), plain %d", c, len(b), b[3], len(plain))
		}
		out, err := p.Decode(b)
		if err != nil || !reflect.DeepEqual(out[0].Interface(), big) {
			t.Fatalf("%s: round trip: %v", c, err)
		}
		// An entry compressed or not decodes alike, whatever the plan's own setting.
		if out, err := compressPlan(t, "").Decode(b); err != nil || !reflect.DeepEqual(out[0].Interface(), big) {
			t.Fatalf("%s entry read by an uncompressed plan: %v", c, err)
		}
		for name, v := range map[string][]string{"small": small, "incompressible": {string(random)}} {
			b, err := p.Encode([]reflect.Value{reflect.ValueOf(v)})
			if err != nil {
				t.Fatal(err)
			}
			if b[3] != compressNone {
				t.Errorf("%s %s result compressed", c, name)
			}
		}
	}
}

// allocDuring returns the bytes allocated while f ran.
func allocDuring(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}

// TestZipBombsAreRefused: a compressed entry that claims, or turns out, to
// be far larger than its size is corrupt, and decoding it allocates little.
func TestZipBombsAreRefused(t *testing.T) {
	p := compressPlan(t, "zstd")
	hdr := append([]byte(nil), p.header...)
	zeros := make([]byte, 64<<20)
	zb, _ := zstd.NewWriter(nil)
	zbomb := zb.EncodeAll(zeros, nil)
	sbomb := s2.Encode(nil, zeros)
	entry := func(kind byte, declared uint64, z []byte) []byte {
		b := append([]byte(nil), hdr...)
		b[3] = kind
		b = binary.AppendUvarint(b, declared)
		return append(b, z...)
	}
	for name, b := range map[string][]byte{
		"zstd, honest 64 MB claim": entry(compressZstd, 64<<20, zbomb),
		"zstd, lying 1 KB claim":   entry(compressZstd, 1<<10, zbomb),
		"s2, honest 64 MB claim":   entry(compressS2, 64<<20, sbomb),
		"s2, lying 1 KB claim":     entry(compressS2, 1<<10, sbomb),
		"zstd, 2^62 claim":         entry(compressZstd, 1<<62, zbomb[:64]),
		"zstd, garbage":            entry(compressZstd, 100, []byte("not zstd at all")),
		"s2, garbage":              entry(compressS2, 100, []byte("not s2 at all")),
		"unknown compression":      entry(7, 10, []byte("xxxxxxxxxx")),
		"truncated length":         append(append([]byte(nil), hdr[:3]...), append([]byte{compressZstd}, append(hdr[4:], 0x80)...)...),
	} {
		var err error
		alloc := allocDuring(func() { _, err = p.Decode(b) })
		if err == nil {
			t.Errorf("%s: decoded", name)
		}
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: err = %v", name, err)
		}
		if limit := uint64(len(b))*MaxRatio + 1<<20; alloc > limit {
			t.Errorf("%s: %d bytes allocated for a %d-byte entry", name, alloc, len(b))
		}
	}
	if !bytes.Equal(hdr, p.header) {
		t.Fatal("header changed")
	}
}
