package codec

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// gen builds random types and random values of them.
type gen struct {
	r    *rand.Rand
	locs []*time.Location
}

var leafTypes = []reflect.Type{
	reflect.TypeOf(false), reflect.TypeOf(int8(0)), reflect.TypeOf(int16(0)), reflect.TypeOf(0),
	reflect.TypeOf(int64(0)), reflect.TypeOf(uint8(0)), reflect.TypeOf(uint16(0)), reflect.TypeOf(uint32(0)),
	reflect.TypeOf(uint64(0)), reflect.TypeOf(uintptr(0)), reflect.TypeOf(float32(0)), reflect.TypeOf(0.0),
	reflect.TypeOf(complex64(0)), reflect.TypeOf(complex128(0)), reflect.TypeOf(""), reflect.TypeOf([]byte(nil)),
	reflect.TypeOf(time.Time{}), reflect.TypeOf((*any)(nil)).Elem(), reflect.TypeOf(inner{}),
	reflect.TypeOf(time.Duration(0)), reflect.TypeOf(marshaled{}),
}

var keyTypes = []reflect.Type{
	reflect.TypeOf(""), reflect.TypeOf(0), reflect.TypeOf(int8(0)), reflect.TypeOf(uint64(0)),
	reflect.TypeOf(false), reflect.TypeOf([2]int16{}), reflect.TypeOf(pointKey{}), reflect.TypeOf((*any)(nil)).Elem(),
	reflect.TypeOf(time.Duration(0)),
}

func (g *gen) typ(depth int) reflect.Type {
	if depth <= 0 || g.r.IntN(5) == 0 {
		return leafTypes[g.r.IntN(len(leafTypes))]
	}
	switch g.r.IntN(5) {
	case 0:
		return reflect.SliceOf(g.typ(depth - 1))
	case 1:
		return reflect.ArrayOf(g.r.IntN(4), g.typ(depth-1))
	case 2:
		return reflect.MapOf(keyTypes[g.r.IntN(len(keyTypes))], g.typ(depth-1))
	case 3:
		return reflect.PointerTo(g.typ(depth - 1))
	}
	n := g.r.IntN(5)
	fields := make([]reflect.StructField, n)
	for i := range fields {
		fields[i] = reflect.StructField{Name: "F" + strconv.Itoa(i), Type: g.typ(depth - 1)}
		if g.r.IntN(2) == 0 { // unexported
			fields[i].Name = "f" + strconv.Itoa(i)
			fields[i].PkgPath = "example.com/prop"
		}
	}
	return reflect.StructOf(fields)
}

// settable returns v, made settable even when it is an unexported field.
func settable(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// fill sets v (settable) to a random value of its type: nils, empties and
// zeros often, as those are where codecs go wrong.
func (g *gen) fill(v reflect.Value, depth int) {
	t := v.Type()
	switch {
	case t == reflect.TypeOf(time.Time{}):
		tm := time.Unix(g.r.Int64N(1<<36)-1<<35, g.r.Int64N(1e9))
		v.Set(reflect.ValueOf(tm.In(g.locs[g.r.IntN(len(g.locs))])))
		if g.r.IntN(8) == 0 {
			v.Set(reflect.ValueOf(time.Time{}))
		}
		return
	case t == reflect.TypeOf(inner{}):
		x := inner{n: g.r.IntN(100)}
		if g.r.IntN(2) == 0 {
			x.s = make([]string, g.r.IntN(3))
		}
		if g.r.IntN(2) == 0 {
			x.m = map[string]int{}
		}
		if g.r.IntN(2) == 0 {
			x.p = new(int)
		}
		v.Set(reflect.ValueOf(x))
		return
	case t == reflect.TypeOf(marshaled{}):
		v.Set(reflect.ValueOf(marshaled{secret: strconv.Itoa(g.r.IntN(1000))}))
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(g.r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := t.Bits()
		x := int64(g.r.Uint64())
		if g.r.IntN(3) == 0 {
			x = int64(g.r.IntN(5)) - 2
		}
		v.SetInt(x << (64 - bits) >> (64 - bits))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		bits := t.Bits()
		v.SetUint(g.r.Uint64() << (64 - bits) >> (64 - bits))
	case reflect.Float32, reflect.Float64:
		v.SetFloat([]float64{0, -1.5, 1e-300, 3.25e10, g.r.NormFloat64()}[g.r.IntN(5)])
	case reflect.Complex64, reflect.Complex128:
		v.SetComplex(complex(float64(g.r.IntN(9)), -0.5))
	case reflect.String:
		v.SetString([]string{"", "a", "héllo", string([]byte{0, 255, 1})}[g.r.IntN(4)])
	case reflect.Slice:
		switch g.r.IntN(4) {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(t, 0, g.r.IntN(2)))
		default:
			n := g.r.IntN(4)
			s := reflect.MakeSlice(t, n, n)
			for i := range n {
				g.fill(s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Array:
		for i := range t.Len() {
			g.fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		switch g.r.IntN(4) {
		case 0:
		case 1:
			v.Set(reflect.MakeMap(t))
		default:
			m := reflect.MakeMap(t)
			for range g.r.IntN(4) {
				k := reflect.New(t.Key()).Elem()
				if t.Key().Kind() == reflect.Interface {
					k.Set(reflect.ValueOf([]any{1, "k", int8(2), pointKey{X: 1}}[g.r.IntN(4)]))
				} else {
					g.fill(k, depth+1)
				}
				e := reflect.New(t.Elem()).Elem()
				g.fill(e, depth+1)
				m.SetMapIndex(k, e)
			}
			v.Set(m)
		}
	case reflect.Pointer:
		if g.r.IntN(3) != 0 {
			p := reflect.New(t.Elem())
			if g.r.IntN(3) != 0 { // else a pointer to a zero value
				g.fill(p.Elem(), depth+1)
			}
			v.Set(p)
		}
	case reflect.Interface:
		if depth > 6 || g.r.IntN(4) == 0 {
			return // nil
		}
		choices := []func() any{
			func() any { return g.r.IntN(100) },
			func() any { return "s" },
			func() any { return []any{} },
			func() any { return []any{nil, 1.5} },
			func() any { return map[string]any{"k": nil} },
			func() any { return inner{n: 1} },
			func() any { return time.Duration(5) },
			func() any { return int8(-3) },
			func() any { return []byte{} },
		}
		v.Set(reflect.ValueOf(choices[g.r.IntN(len(choices))]()))
	case reflect.Struct:
		for i := range t.NumField() {
			g.fill(settable(v.Field(i)), depth+1)
		}
	}
}

// TestPropertyRoundTrip: for thousands of random types and values,
// reflect.DeepEqual(v, decode(encode(v))).
func TestPropertyRoundTrip(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(1, 2)), locs: []*time.Location{time.UTC, time.Local, time.FixedZone("PROP+5", 5*3600)}}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		g.locs = append(g.locs, ny)
	}
	types, values := 5000, 5
	if testing.Short() {
		types = 200
	}
	for i := range types {
		typ := g.typ(4)
		p, err := NewPlan(Default(), []reflect.Type{typ, reflect.TypeOf("")}, []string{"", "s2", "zstd"}[i%3])
		if err != nil {
			t.Fatalf("type %s: %v", typ, err)
		}
		if i%1000 == 0 {
			t.Logf("type %d: %s", i, typ)
		}
		for range values {
			v := reflect.New(typ).Elem()
			g.fill(v, 0)
			b, err := p.Encode([]reflect.Value{v, reflect.ValueOf("tail")})
			if err != nil {
				t.Fatalf("type %s: encode %#v: %v", typ, v, err)
			}
			out, err := p.Decode(b)
			if err != nil {
				t.Fatalf("type %s: decode of %#v: %v", typ, v, err)
			}
			if !reflect.DeepEqual(out[0].Interface(), v.Interface()) || out[1].String() != "tail" {
				t.Fatalf("type %s:\n got %#v\nwant %#v", typ, out[0], v)
			}
		}
	}
}
