package codec_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cachier-go/cachier/codec"
)

// liar is a codec whose plans decode whatever values its decode returns,
// whatever the result types: a custom codec that breaks its contract.
type liar struct {
	decode func() []reflect.Value
}

func (l liar) Name() string { return "liar" }
func (l liar) Compile(types []reflect.Type) (codec.Compiled, error) {
	return liarPlan(l), nil
}

type liarPlan liar

func (p liarPlan) Encode(dst []byte, vals []reflect.Value) ([]byte, error) {
	return append(dst, 'x'), nil
}
func (p liarPlan) Decode(b []byte) ([]reflect.Value, error) { return p.decode(), nil }

// TestLyingCodecIsAnError: values of the wrong type, number or validity
// from a custom codec's Decode are an error of Plan.Decode and
// Plan.DecodeTo, never a panic nor a value the caller cannot return. Before
// the check DecodeTo panicked in reflect.Value.Set and Decode handed the
// wrong values on (the core then panicked returning them).
func TestLyingCodecIsAnError(t *testing.T) {
	type named int
	intT, anyT, errT := reflect.TypeFor[int](), reflect.TypeFor[any](), reflect.TypeFor[error]()
	for _, tc := range []struct {
		name  string
		types []reflect.Type
		vals  []reflect.Value
		ok    bool
	}{
		{"right", []reflect.Type{intT}, []reflect.Value{reflect.ValueOf(7)}, true},
		{"concrete in an interface", []reflect.Type{anyT}, []reflect.Value{reflect.ValueOf(7)}, true},
		{"nil interface", []reflect.Type{anyT}, []reflect.Value{reflect.Zero(anyT)}, true},
		{"wrong type", []reflect.Type{intT}, []reflect.Value{reflect.ValueOf("seven")}, false},
		{"named for its underlying", []reflect.Type{intT}, []reflect.Value{reflect.ValueOf(named(7))}, false},
		{"not implementing", []reflect.Type{errT}, []reflect.Value{reflect.ValueOf(7)}, false},
		{"invalid", []reflect.Type{intT}, []reflect.Value{{}}, false},
		{"read from an unexported field", []reflect.Type{intT}, []reflect.Value{reflect.ValueOf(struct{ n int }{7}).Field(0)}, false},
		{"too few", []reflect.Type{intT, intT}, []reflect.Value{reflect.ValueOf(7)}, false},
		{"too many", []reflect.Type{intT}, []reflect.Value{reflect.ValueOf(7), reflect.ValueOf(8)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := codec.NewPlan(liar{func() []reflect.Value { return tc.vals }}, tc.types, "")
			if err != nil {
				t.Fatal(err)
			}
			b, err := p.Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, got []reflect.Value, err error) {
				t.Helper()
				if !tc.ok {
					if err == nil {
						t.Fatalf("%s: no error for %v as %v", what, tc.vals, tc.types)
					}
					if !errors.Is(err, codec.ErrCorrupt) {
						t.Errorf("%s: error %v, want one wrapping ErrCorrupt", what, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				for i, v := range got {
					if !v.IsValid() || !v.Type().AssignableTo(tc.types[i]) {
						t.Fatalf("%s: value %d is %v, not a %v", what, i, v, tc.types[i])
					}
				}
			}
			got, err := p.Decode(b)
			check("Decode", got, err)
			into := make([]reflect.Value, len(tc.types))
			for i, typ := range tc.types {
				into[i] = reflect.New(typ).Elem()
			}
			check("DecodeTo settable", into, p.DecodeTo(b, into))
			loose := make([]reflect.Value, len(tc.types))
			check("DecodeTo new", loose, p.DecodeTo(b, loose))
		})
	}
}
