package codec

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

type fuzzNode struct {
	M    map[string]int
	Next *fuzzNode
	S    []string
	T    time.Time
	A    any
	K    map[pointKey][]byte
	F    [2]float32
	priv *inner
}

// fuzzPlans are the plans FuzzDecode feeds: one per compression, over a
// recursive type that holds every kind the codec decodes.
func fuzzPlans(tb testing.TB) []*Plan {
	types := []reflect.Type{reflect.TypeOf(fuzzNode{}), reflect.TypeOf([]any(nil))}
	var ps []*Plan
	for _, c := range []string{"", "s2", "zstd"} {
		p, err := NewPlan(Default(), types, c)
		if err != nil {
			tb.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func fuzzSeeds(tb testing.TB) [][]byte {
	ny, _ := time.LoadLocation("America/New_York")
	if ny == nil {
		ny = time.UTC
	}
	vals := [][]reflect.Value{
		{reflect.ValueOf(fuzzNode{}), reflect.ValueOf([]any(nil))},
		{reflect.ValueOf(fuzzNode{
			M: map[string]int{"a": 1}, Next: &fuzzNode{S: []string{}}, S: []string{"x", ""},
			T: time.Date(2020, 1, 2, 3, 4, 5, 6, ny), A: []any{1, "s", map[string]any{}},
			K: map[pointKey][]byte{{1, 2, "k"}: nil, {}: {}}, F: [2]float32{1.5, -2},
			priv: &inner{n: 1, s: []string{"p"}},
		}), reflect.ValueOf([]any{nil, int8(1), time.Duration(3)})},
		{reflect.ValueOf(fuzzNode{S: make([]string, 600), T: time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("Z", -60))}),
			reflect.ValueOf([]any{make([]byte, 2000)})},
	}
	var seeds [][]byte
	for _, p := range fuzzPlans(tb) {
		for _, v := range vals {
			b, err := p.Encode(v)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// FuzzDecode: any bytes decode or fail; none panics; what decodes encodes
// again and decodes to the same.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	plans := fuzzPlans(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, rest, err := ReadHeader(b); err == nil && (h.Codec == "" || len(rest) > len(b)) {
			t.Fatalf("ReadHeader(%x) = %+v", b, h)
		}
		for _, p := range plans {
			vals, err := p.Decode(b)
			// DecodeTo into a list of its own and in place, into settable
			// zero values as a hit's results are (the core's newResults).
			to := make([]reflect.Value, len(p.types))
			inPlace := make([]reflect.Value, len(p.types))
			for i, typ := range p.types {
				inPlace[i] = reflect.New(typ).Elem()
			}
			for _, list := range [][]reflect.Value{to, inPlace} {
				if errTo := p.DecodeTo(bytes.Clone(b), list); (errTo == nil) != (err == nil) {
					t.Fatalf("Decode(%x) fails with %v, DecodeTo with %v", b, err, errTo)
				} else if a := valuesOf(vals); err == nil && reflect.DeepEqual(a, valuesOf(vals)) && !reflect.DeepEqual(a, valuesOf(list)) {
					// (A value holding a NaN is not DeepEqual to itself, nor
					// then to anything: such inputs are compared for errors only.)
					t.Fatalf("Decode(%x) and DecodeTo differ", b)
				}
			}
			if err != nil {
				continue
			}
			again, err := p.Encode(vals)
			if err != nil {
				t.Fatalf("decoded %x, but encoding it again: %v", b, err)
			}
			if _, err := p.Decode(again); err != nil {
				t.Fatalf("decoded %x, re-encoded, and that fails: %v", b, err)
			}
		}
	})
}

// valuesOf unwraps vals for reflect.DeepEqual.
func valuesOf(vals []reflect.Value) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v.Interface()
	}
	return out
}
