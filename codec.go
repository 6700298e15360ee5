package cachier

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"time"

	reflectx "github.com/cachier-go/cachier/reflect"
	"github.com/cachier-go/cachier/store"
)

// The encoded form of a call's results, as stores keep it:
//
//	byte     codecVersion
//	byte*n   one per cached result: 0 nil, 1 present
//	gob      the present results, in order, each as one gob value
//
// The presence bytes keep nil and empty apart, which gob alone does not.
const codecVersion = 1

var errCodec = errors.New("cachier: undecodable entry")

// encode gob-encodes vals, the cached results of one call.
func encode(vals []reflect.Value) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(codecVersion)
	for _, v := range vals {
		if reflectx.Nilable(v.Type()) && v.IsNil() {
			buf.WriteByte(0)
		} else {
			buf.WriteByte(1)
		}
	}
	enc := gob.NewEncoder(&buf)
	for i, v := range vals {
		if buf.Bytes()[1+i] == 0 {
			continue
		}
		// Through a pointer, so that interface-typed results carry their
		// dynamic type (gob.Register) instead of failing at top level.
		p := reflect.New(v.Type())
		p.Elem().Set(v)
		if err := enc.EncodeValue(p); err != nil {
			return nil, fmt.Errorf("result %d (%s): %w", i, v.Type(), err)
		}
	}
	return buf.Bytes(), nil
}

// decode is the inverse of encode for results of the given types. It
// fails, never panics, on bytes it did not write.
func decode(b []byte, types []reflect.Type) (vals []reflect.Value, err error) {
	if len(b) < 1+len(types) || b[0] != codecVersion {
		return nil, errCodec
	}
	defer func() {
		if r := recover(); r != nil { // gob on adversarial input
			vals, err = nil, fmt.Errorf("%w: %v", errCodec, r)
		}
	}()
	flags := b[1 : 1+len(types)]
	dec := gob.NewDecoder(bytes.NewReader(b[1+len(types):]))
	vals = make([]reflect.Value, len(types))
	for i, t := range types {
		switch flags[i] {
		case 0:
			vals[i] = reflect.Zero(t)
		case 1:
			p := reflect.New(t)
			if err := dec.DecodeValue(p); err != nil {
				return nil, fmt.Errorf("%w: result %d (%s): %v", errCodec, i, t, err)
			}
			v := p.Elem()
			// gob sends no empty slices or maps; the flag says it was not nil.
			switch {
			case t.Kind() == reflect.Slice && v.IsNil():
				v = reflect.MakeSlice(t, 0, 0)
			case t.Kind() == reflect.Map && v.IsNil():
				v = reflect.MakeMap(t)
			}
			vals[i] = v
		default:
			return nil, errCodec
		}
	}
	return vals, nil
}

func storeEntry(b []byte) store.Entry { return store.Entry{Value: b, Time: time.Now()} }
