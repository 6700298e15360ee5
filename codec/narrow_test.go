package codec

import (
	"errors"
	"math"
	"testing"
	"unsafe"
)

// TestNarrowIntegersRefuseOverflow: a varint that does not fit the
// integer it decodes into is corrupt, never silently truncated.
func TestNarrowIntegersRefuseOverflow(t *testing.T) {
	signed := []struct {
		size    uintptr
		lo, hi  int64
		outside []int64
	}{
		{1, math.MinInt8, math.MaxInt8, []int64{math.MaxInt8 + 1, math.MinInt8 - 1}},
		{2, math.MinInt16, math.MaxInt16, []int64{math.MaxInt16 + 1, math.MinInt16 - 1}},
		{4, math.MinInt32, math.MaxInt32, []int64{math.MaxInt32 + 1, math.MinInt32 - 1}},
	}
	for _, c := range signed {
		enc, dec, _ := intCodec(c.size)
		var out [8]byte
		for _, x := range []int64{c.lo, -1, 0, c.hi} {
			var e encoder
			var in [8]byte
			switch c.size {
			case 1:
				*(*int8)(unsafe.Pointer(&in)) = int8(x)
			case 2:
				*(*int16)(unsafe.Pointer(&in)) = int16(x)
			case 4:
				*(*int32)(unsafe.Pointer(&in)) = int32(x)
			}
			if err := enc(&e, unsafe.Pointer(&in)); err != nil {
				t.Fatal(err)
			}
			if err := dec(&decoder{b: e.buf}, unsafe.Pointer(&out)); err != nil || out != in {
				t.Errorf("int of %d bytes: %d round-trips as %v, %v", c.size, x, out, err)
			}
		}
		for _, x := range c.outside {
			var e encoder
			e.varint(x)
			if err := dec(&decoder{b: e.buf}, unsafe.Pointer(&out)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("int of %d bytes: decoding %d gave %v, want ErrCorrupt", c.size, x, err)
			}
		}
	}
	for _, c := range []struct {
		size uintptr
		over uint64
	}{{2, math.MaxUint16 + 1}, {4, math.MaxUint32 + 1}} {
		_, dec, _ := uintCodec(c.size)
		var e encoder
		e.uvarint(c.over)
		var out [8]byte
		if err := dec(&decoder{b: e.buf}, unsafe.Pointer(&out)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("uint of %d bytes: decoding %d gave %v, want ErrCorrupt", c.size, c.over, err)
		}
	}
}
