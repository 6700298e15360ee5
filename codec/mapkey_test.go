package codec_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cachier-go/cachier/codec"
)

// TestIncomparableMapKeyIsCorrupt: an entry whose map key, of a type that
// holds an interface, decodes to a value that is not comparable (a []any,
// which the codec registers) is ErrCorrupt. Before the check, inserting the
// key panicked with "hash of unhashable type", on bytes a store handed back.
func TestIncomparableMapKeyIsCorrupt(t *testing.T) {
	type wrapped struct{ K any }
	for _, tc := range []struct {
		name string
		key  any // a key holding []any{}, in the map's key type's shape
		typ  reflect.Type
	}{
		{"interface", any([]any{}), reflect.TypeFor[map[any]int]()},
		{"array", [1]any{[]any{}}, reflect.TypeFor[map[[1]any]int]()},
		{"struct", wrapped{[]any{}}, reflect.TypeFor[map[wrapped]int]()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A map of one entry encodes as uvarint(1+1), the key, the
			// value: the encoding of struct{K; V int} after a 2.
			pair := reflect.StructOf([]reflect.StructField{
				{Name: "K", Type: tc.typ.Key()}, {Name: "V", Type: reflect.TypeFor[int]()},
			})
			pv := reflect.New(pair).Elem()
			pv.Field(0).Set(reflect.ValueOf(tc.key))
			pv.Field(1).SetInt(1)
			pp, err := codec.Default().Compile([]reflect.Type{pair})
			if err != nil {
				t.Fatal(err)
			}
			b, err := pp.Encode([]byte{2}, []reflect.Value{pv})
			if err != nil {
				t.Fatal(err)
			}
			mp, err := codec.Default().Compile([]reflect.Type{tc.typ})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mp.Decode(b); !errors.Is(err, codec.ErrCorrupt) {
				t.Fatalf("Decode: %v, want ErrCorrupt", err)
			}
			// A comparable key in the same shape still decodes.
			pv.Field(0).Set(reflect.Zero(tc.typ.Key()))
			if b, err = pp.Encode([]byte{2}, []reflect.Value{pv}); err != nil {
				t.Fatal(err)
			}
			vals, err := mp.Decode(b)
			if err != nil || vals[0].Len() != 1 {
				t.Fatalf("Decode of a comparable key: %v, %v", vals, err)
			}
		})
	}
}
