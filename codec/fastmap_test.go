package codec

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"
)

type namedCounts map[string]int

// stringMapTypes are the map types stringMapDecoder decodes.
var stringMapTypes = []struct {
	t    reflect.Type
	vals []any
}{
	{reflect.TypeFor[map[string]int](), []any{map[string]int(nil), map[string]int{}, map[string]int{"views": 1200, "": -1, "min": math.MinInt64}}},
	{reflect.TypeFor[namedCounts](), []any{namedCounts(nil), namedCounts{"a": 1, "b": 2}}},
	{reflect.TypeFor[map[string]int64](), []any{map[string]int64{"x": math.MaxInt64, "y": 0}}},
	{reflect.TypeFor[map[string]string](), []any{map[string]string(nil), map[string]string{"k": "v", "": ""}}},
	{reflect.TypeFor[map[string]bool](), []any{map[string]bool{"t": true, "f": false}}},
	{reflect.TypeFor[map[string]float64](), []any{map[string]float64{"pi": math.Pi, "inf": math.Inf(-1), "z": math.Copysign(0, -1)}}},
}

// TestStringMapDecoder: the maps with a decoder of their own round-trip,
// and every input, valid or mutated, decodes with it exactly as with the
// general (reflect) decoder of maps, or fails with it too.
func TestStringMapDecoder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range stringMapTypes {
		fast, err := codecFor(tc.t)
		if err != nil {
			t.Fatal(err)
		}
		kc, _ := codecFor(tc.t.Key())
		vc, _ := codecFor(tc.t.Elem())
		if stringMapDecoder(tc.t, satAdd(kc.min, vc.min)) == nil {
			t.Fatalf("%s: no decoder of its own", tc.t)
		}
		general := &typeCodec{}
		fillMapReflect(general, tc.t, kc, vc)
		decode := func(c *typeCodec, b []byte) (any, error) {
			d := decoder{b: b}
			v := reflect.New(tc.t)
			err := c.dec(&d, v.UnsafePointer())
			if err == nil && d.left() != 0 {
				err = ErrCorrupt
			}
			return v.Elem().Interface(), err
		}
		for _, val := range tc.vals {
			e := encoder{}
			v := reflect.New(tc.t)
			v.Elem().Set(reflect.ValueOf(val))
			if err := fast.enc(&e, v.UnsafePointer()); err != nil {
				t.Fatal(err)
			}
			got, err := decode(fast, e.buf)
			if err != nil || !reflect.DeepEqual(got, val) {
				t.Fatalf("%s: %#v round-trips as %#v, %v", tc.t, val, got, err)
			}
			for range 3000 {
				b := append([]byte(nil), e.buf...)
				switch rng.IntN(3) {
				case 0:
					if len(b) > 0 {
						b[rng.IntN(len(b))] = byte(rng.Uint32())
					}
				case 1:
					b = b[:rng.IntN(len(b)+1)]
				default:
					if len(b) > 0 {
						b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
						b = append(b, byte(rng.Uint32()))
					}
				}
				gv, gerr := decode(general, b)
				fv, ferr := decode(fast, b)
				if (gerr == nil) != (ferr == nil) || gerr == nil && !reflect.DeepEqual(gv, fv) && !hasNaN(gv) {
					t.Fatalf("%s: %x decodes as %#v, %v; the general decoder: %#v, %v", tc.t, b, fv, ferr, gv, gerr)
				}
				if ferr != nil && !errors.Is(ferr, ErrCorrupt) && !errors.Is(ferr, ErrTooDeep) {
					t.Fatalf("%s: %x fails with %v, want ErrCorrupt", tc.t, b, ferr)
				}
			}
		}
	}
}

func hasNaN(m any) bool {
	if f, ok := m.(map[string]float64); ok {
		for _, x := range f {
			if math.IsNaN(x) {
				return true
			}
		}
	}
	return false
}

// TestStringMapDecoderAllocates: a small map[string]int costs the map's own
// allocations, nothing per entry.
func TestStringMapDecoderAllocates(t *testing.T) {
	c, _ := codecFor(reflect.TypeFor[map[string]int]())
	e := encoder{}
	m := map[string]int{"views": 1200, "likes": 34}
	if err := c.enc(&e, unsafe.Pointer(&m)); err != nil {
		t.Fatal(err)
	}
	var out map[string]int
	d := &decoder{}
	allocs := testing.AllocsPerRun(100, func() {
		*d = decoder{b: e.buf}
		if err := c.dec(d, unsafe.Pointer(&out)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("decoding a map[string]int of 2: %v allocations, want at most 2 (the map's)", allocs)
	}
}
