package codec

import (
	"reflect"
	"sync"
	"time"
)

// registered is a concrete type that may travel inside an interface.
type registered struct {
	name  string
	t     reflect.Type
	codec *typeCodec
}

var (
	regMu  sync.RWMutex
	byType = map[reflect.Type]*registered{}
	byName = map[string]*registered{}
)

// Register makes the dynamic type of value storable inside interface-typed
// results (an `any` result, a field of type error or io.Reader, ...), under
// the name gob.Register would give it: the import path and name for a
// defined type ("example.com/app.Rows", "*example.com/app.Rows"), the type
// itself for an unnamed one ("[]int"). The name is written in the entries,
// so it must not change: use RegisterName for a type that may be moved or
// renamed.
//
// Like gob.Register it is meant for init functions, and panics on a
// programmer error: a nil value, a type the codec cannot keep, or a type or
// name registered twice differently.
func Register(value any) {
	if value == nil {
		panic("codec: Register of a nil value")
	}
	RegisterName(defaultName(reflect.TypeOf(value)), value)
}

// RegisterName is Register under a name of one's choosing.
func RegisterName(name string, value any) {
	if value == nil {
		panic("codec: RegisterName of a nil value")
	}
	if name == "" || len(name) > 255 {
		panic("codec: RegisterName needs a name of 1 to 255 bytes")
	}
	t := reflect.TypeOf(value)
	c, err := codecFor(t)
	if err != nil {
		panic("codec: Register: " + err.Error())
	}
	regMu.Lock()
	defer regMu.Unlock()
	if r, ok := byType[t]; ok {
		if r.name == name {
			return
		}
		panic("codec: registering type " + t.String() + " as " + name + ", already registered as " + r.name)
	}
	if r, ok := byName[name]; ok {
		panic("codec: registering name " + name + " for type " + t.String() + ", already taken by " + r.t.String())
	}
	r := &registered{name: name, t: t, codec: c}
	byType[t] = r
	byName[name] = r
}

func defaultName(t reflect.Type) string {
	star := ""
	if t.Name() == "" && t.Kind() == reflect.Pointer {
		star, t = "*", t.Elem()
	}
	if t.Name() == "" {
		return star + t.String()
	}
	if t.PkgPath() == "" {
		return star + t.Name()
	}
	return star + t.PkgPath() + "." + t.Name()
}

func registeredType(t reflect.Type) (*registered, bool) {
	regMu.RLock()
	r, ok := byType[t]
	regMu.RUnlock()
	return r, ok
}

func registeredName(name []byte) (*registered, bool) {
	regMu.RLock()
	r, ok := byName[string(name)]
	regMu.RUnlock()
	return r, ok
}

func init() {
	for _, v := range []any{
		false, 0, int8(0), int16(0), int32(0), int64(0),
		uint(0), uint8(0), uint16(0), uint32(0), uint64(0), uintptr(0),
		float32(0), float64(0), complex64(0), complex128(0), "",
		[]byte(nil), []string(nil), []int(nil), []int64(nil), []float64(nil), []bool(nil),
		[]any(nil), map[string]any(nil), map[string]string(nil), map[string]int(nil),
		time.Time{}, time.Duration(0),
	} {
		Register(v)
	}
}
