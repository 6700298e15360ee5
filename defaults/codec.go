package defaults

import (
	"github.com/cachier-go/cachier/codec"
)

var codecs = map[string]codec.Codec{}

// Built-in codec names; RegisterCodec refuses them.
const (
	CodecDefault = "cachier" // the library's own (codec.Default); also what "" means
	CodecGob     = "gob"
	CodecJSON    = "json"
)

// RegisterCodec makes c available to tags as codec=name. It panics if c is
// nil, if name is empty or a built-in codec's name, if c.Name() is a
// built-in codec's name (a codec that embeds codec.Default() and does not
// name itself, say: its entries would carry the built-in's name, and each
// would decode the other's), or if name is registered twice.
func RegisterCodec(name string, c codec.Codec) {
	if c == nil {
		panic("cachier: RegisterCodec codec is nil")
	}
	switch name {
	case "", CodecDefault, CodecGob, CodecJSON:
		panic("cachier: RegisterCodec called with reserved codec name " + `"` + name + `"`)
	}
	switch n := c.Name(); n {
	case CodecDefault, CodecGob, CodecJSON:
		panic("cachier: RegisterCodec(" + `"` + name + `"` + "): the codec's Name is the built-in codec name " + `"` + n + `"` + ": entries of either would be decoded by the other")
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := codecs[name]; dup {
		panic("cachier: RegisterCodec called twice for " + name)
	}
	codecs[name] = c
}

// LookupCodec returns the codec of a tag's codec=name: the built-in ones
// ("" or "cachier", "gob", "json") or one given to RegisterCodec.
func LookupCodec(name string) (codec.Codec, bool) {
	switch name {
	case "", CodecDefault:
		return codec.Default(), true
	case CodecGob:
		return codec.Gob(), true
	case CodecJSON:
		return codec.JSON(), true
	}
	mu.RLock()
	defer mu.RUnlock()
	c, ok := codecs[name]
	return c, ok
}
