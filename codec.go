package cachier

import (
	"errors"
	"reflect"

	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/defaults"
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
