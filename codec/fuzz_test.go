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

// fuzzKeyed is a struct key that holds an interface: its decoded value
// may not be comparable.
type fuzzKeyed struct {
	K any
	N int8
}

// fuzzTypes are the result lists FuzzDecode decodes: a recursive type that
// holds every kind the codec decodes; and maps whose keys hold interfaces,
// which a hostile entry can fill with incomparable values. Each has seed
// values.
func fuzzTypes() [][]reflect.Value {
	ny, _ := time.LoadLocation("America/New_York")
	if ny == nil {
		ny = time.UTC
	}
	return [][]reflect.Value{
		{reflect.ValueOf(fuzzNode{}), reflect.ValueOf([]any(nil))},
		{reflect.ValueOf(fuzzNode{
			M: map[string]int{"a": 1}, Next: &fuzzNode{S: []string{}}, S: []string{"x", ""},
			T: time.Date(2020, 1, 2, 3, 4, 5, 6, ny), A: []any{1, "s", map[string]any{}},
			K: map[pointKey][]byte{{1, 2, "k"}: nil, {}: {}}, F: [2]float32{1.5, -2},
			priv: &inner{n: 1, s: []string{"p"}},
		}), reflect.ValueOf([]any{nil, int8(1), time.Duration(3)})},
		{reflect.ValueOf(fuzzNode{S: make([]string, 600), T: time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("Z", -60))}),
			reflect.ValueOf([]any{make([]byte, 2000)})},
		{reflect.ValueOf(map[any]int{nil: 0, "a": 1, int8(2): 2, 3.5: 3}),
			reflect.ValueOf(map[fuzzKeyed][1]any{{K: "k", N: 1}: {1}, {}: {nil}})},
		{reflect.ValueOf(map[any]int(nil)), reflect.ValueOf(map[fuzzKeyed][1]any{})},
	}
}

// fuzzPlans are the plans FuzzDecode feeds: for each list of result types
// of fuzzTypes, one per compression.
func fuzzPlans(tb testing.TB) []*Plan {
	var ps []*Plan
	seen := map[string]bool{}
	for _, vals := range fuzzTypes() {
		types := make([]reflect.Type, len(vals))
		for i, v := range vals {
			types[i] = v.Type()
		}
		if id := fmtTypes(types); seen[id] {
			continue
		} else {
			seen[id] = true
		}
		for _, c := range []string{"", "s2", "zstd"} {
			p, err := NewPlan(Default(), types, c)
			if err != nil {
				tb.Fatal(err)
			}
			ps = append(ps, p)
		}
	}
	return ps
}

func fmtTypes(types []reflect.Type) string {
	var b bytes.Buffer
	for _, t := range types {
		b.WriteString(t.String())
		b.WriteByte(';')
	}
	return b.String()
}

func fuzzSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, p := range fuzzPlans(tb) {
		for _, v := range fuzzTypes() {
			if len(v) != len(p.types) || v[0].Type() != p.types[0] || v[1].Type() != p.types[1] {
				continue
			}
			b, err := p.Encode(v)
			if err != nil {
				tb.Fatal(err)
			}
			seeds = append(seeds, b)
		}
		if p.types[0] == reflect.TypeFor[map[any]int]() && p.compress == compressNone {
			seeds = append(seeds, incomparableKeySeed(tb, p))
		}
	}
	return seeds
}

// incomparableKeySeed is an entry of p (results map[any]int and a map)
// whose first map's one key decodes to a []any: no Go program can encode
// it, only a hostile store can hold it. A map of one entry encodes as
// uvarint(1+1), then the key and the value: the encoding of a struct{K
// any; V int} after a 2.
func incomparableKeySeed(tb testing.TB, p *Plan) []byte {
	pair := reflect.StructOf([]reflect.StructField{
		{Name: "K", Type: reflect.TypeFor[any]()}, {Name: "V", Type: reflect.TypeFor[int]()},
	})
	pv := reflect.New(pair).Elem()
	pv.Field(0).Set(reflect.ValueOf([]any{}))
	pp, err := Default().Compile([]reflect.Type{pair, p.types[1]})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := pp.Encode(append(bytes.Clone(p.header), 2), []reflect.Value{pv, reflect.Zero(p.types[1])})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

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
			// Values are compared only where two decodes of their own agree:
			// one holding a NaN (a value, or a map key) is DeepEqual to
			// nothing decoded apart, though DeepEqual to itself where it is
			// the very same map. Such inputs are compared for errors only.
			comparable := false
			if err == nil {
				again, _ := p.Decode(bytes.Clone(b))
				comparable = reflect.DeepEqual(valuesOf(vals), valuesOf(again))
			}
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
				} else if comparable && !reflect.DeepEqual(valuesOf(vals), valuesOf(list)) {
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
