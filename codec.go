package cachier

import (
	"encoding"
	"errors"
	"reflect"
	"strconv"
	"unsafe"

	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/defaults"
	reflectx "github.com/cachier-go/cachier/reflect"
)

// newPlan compiles, once per function at Decorate, how its results become
// the bytes of a store entry: the tag's codec (package codec), with its
// compression. The error says what the TagError of key codec reports.
func newPlan(p defaults.Params, types []reflect.Type) (*codec.Plan, error) {
	c, ok := defaults.LookupCodec(p.Codec)
	if !ok {
		return nil, errors.New("unknown codec (forgotten defaults.RegisterCodec?)")
	}
	return codec.NewPlan(c, types, p.Compress)
}

// checkCodecKeys refuses, for a store of Go values (memory), the codec
// keys of the function's own configuration that would do nothing there:
// compress always, codec unless a size bound measures results with it.
// Global defaults (defaults.Set) apply where they can and are ignored
// elsewhere, as max_entries is.
func checkCodecKeys(values bool, p defaults.Params, set func(string) bool) (key string, err error) {
	if !values {
		return "", nil
	}
	if set("compress") && p.Compress != "" && p.Compress != "none" {
		return "compress", errors.New("the memory backend keeps Go values: nothing is compressed")
	}
	if set("codec") && p.EntrySizeLimit <= 0 && p.MaxSize <= 0 {
		return "codec", errors.New("the memory backend keeps Go values: a codec only measures results for entry_size_limit or max_size")
	}
	return "", nil
}

// encode encodes vals, the cached part of a call's results, with f's plan:
// as an entry, or, for a store of Go values that only measures results
// (entry_size_limit, max_size), as the payload alone.
func (f *fn) encode(vals []reflect.Value) ([]byte, error) {
	switch {
	case f.plan == nil:
		return nil, f.planErr
	case f.vs != nil:
		return f.plan.Payload(vals)
	}
	return f.plan.Encode(vals)
}

var binaryUnmarshaler = reflect.TypeFor[encoding.BinaryUnmarshaler]()

// resultsType is the type of one allocation that holds a hit's result
// list and the cached values it points to, which the codec decodes in
// place: struct{ Out [NumOut]reflect.Value; V0 T0; V1 T1; ... }, one V
// per cached result. A hit then allocates one object where it would
// allocate the list and one per value. Nil (a list and values allocated
// apart) where reflect cannot build the type, or where a value's own
// UnmarshalBinary decodes it: that method may take its receiver for the
// start of an allocation (runtime.SetFinalizer does), which a value in
// this struct is not.
func resultsType(sig *reflectx.Signature) (t reflect.Type) {
	for _, vt := range sig.ValueTypes {
		if vt.Kind() != reflect.Interface && reflect.PointerTo(vt).Implements(binaryUnmarshaler) {
			return nil
		}
	}
	defer func() {
		if recover() != nil {
			t = nil
		}
	}()
	fields := []reflect.StructField{{Name: "Out", Type: reflect.ArrayOf(sig.Type.NumOut(), reflect.TypeFor[reflect.Value]())}}
	for k, vt := range sig.ValueTypes {
		fields = append(fields, reflect.StructField{Name: "V" + strconv.Itoa(k), Type: vt})
	}
	return reflect.StructOf(fields)
}

// newResults returns a result list for a hit whose cached results are
// settable zero values (filled in by codec.Plan.DecodeTo), and whose
// error, if any, is unset.
func (f *fn) newResults() []reflect.Value {
	n := f.sig.Type.NumOut()
	if f.results == nil {
		out := make([]reflect.Value, n)
		for k, i := range f.sig.Values {
			out[i] = reflect.New(f.sig.ValueTypes[k]).Elem()
		}
		return out
	}
	h := reflect.New(f.results)
	out := unsafe.Slice((*reflect.Value)(h.UnsafePointer()), n) // field Out, at offset 0
	e := h.Elem()
	for k, i := range f.sig.Values {
		out[i] = e.Field(k + 1)
	}
	return out
}
