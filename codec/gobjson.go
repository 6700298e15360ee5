package codec

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
)

// Gob returns the codec named "gob": encoding/gob, as cachier used before
// it had its own codec. It loses what gob loses (unexported fields, nil
// versus empty below the top level, pointers to zero values, time zone
// names), needs gob.Register for interface values, and its decoder is not
// bounded: a crafted entry can make it allocate far more than its size.
// Use it only with stores that nobody else writes.
func Gob() Codec { return gobCodec{} }

// JSON returns the codec named "json": the results as one JSON array
// (encoding/json), for entries that programs in other languages read after
// the header (see the package documentation). It keeps only exported
// fields (and what their json tags say), decodes interface values as
// map[string]any, []any, float64, string or bool, keeps a time's offset but
// not its location name, and cannot encode NaN or infinite floats.
func JSON() Codec { return jsonCodec{} }

type gobCodec struct{}

func (gobCodec) Name() string { return "gob" }

func (gobCodec) Compile(types []reflect.Type) (Compiled, error) {
	for _, t := range types {
		if err := Check(t); err != nil {
			return nil, err
		}
	}
	return gobPlan(types), nil
}

type gobPlan []reflect.Type

// Encode writes one presence byte per result (0 nil, 1 present), then the
// present results as gob values: the bytes keep nil and empty apart at the
// top level, which gob alone does not.
func (p gobPlan) Encode(dst []byte, vals []reflect.Value) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	for _, v := range vals {
		if nilable(v.Kind()) && v.IsNil() {
			buf.WriteByte(0)
		} else {
			buf.WriteByte(1)
		}
	}
	flags := buf.Bytes()[len(dst):]
	flags = append([]byte(nil), flags...)
	enc := gob.NewEncoder(buf)
	for i, v := range vals {
		if flags[i] == 0 {
			continue
		}
		// Through a pointer, so that interface-typed results carry their
		// dynamic type (gob.Register) instead of failing at top level.
		ptr := reflect.New(v.Type())
		ptr.Elem().Set(v)
		if err := enc.EncodeValue(ptr); err != nil {
			return dst, &EncodeError{Result: i, Type: v.Type(), Err: err}
		}
	}
	return buf.Bytes(), nil
}

func (p gobPlan) Decode(b []byte) (vals []reflect.Value, err error) {
	if len(b) < len(p) {
		return nil, ErrCorrupt
	}
	defer func() {
		if r := recover(); r != nil { // gob's own guard missed something
			vals, err = nil, fmt.Errorf("%w: gob: %v", ErrCorrupt, r)
		}
	}()
	flags := b[:len(p)]
	dec := gob.NewDecoder(bytes.NewReader(b[len(p):]))
	vals = make([]reflect.Value, len(p))
	for i, t := range p {
		switch flags[i] {
		case 0:
			vals[i] = reflect.Zero(t)
		case 1:
			ptr := reflect.New(t)
			if err := dec.DecodeValue(ptr); err != nil {
				return nil, &DecodeError{Result: i, Type: t, Err: fmt.Errorf("%w: gob: %v", ErrCorrupt, err)}
			}
			v := ptr.Elem()
			switch { // gob sends no empty slices or maps; the flag says not nil
			case t.Kind() == reflect.Slice && v.IsNil():
				v = reflect.MakeSlice(t, 0, 0)
			case t.Kind() == reflect.Map && v.IsNil():
				v = reflect.MakeMap(t)
			}
			vals[i] = v
		default:
			return nil, ErrCorrupt
		}
	}
	return vals, nil
}

func nilable(k reflect.Kind) bool {
	switch k {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan:
		return true
	}
	return false
}

type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }

func (jsonCodec) Compile(types []reflect.Type) (Compiled, error) {
	for _, t := range types {
		if err := Check(t); err != nil {
			return nil, err
		}
	}
	return jsonPlan(types), nil
}

type jsonPlan []reflect.Type

func (p jsonPlan) Encode(dst []byte, vals []reflect.Value) ([]byte, error) {
	dst = append(dst, '[')
	for i, v := range vals {
		if i > 0 {
			dst = append(dst, ',')
		}
		b, err := json.Marshal(v.Interface())
		if err != nil {
			return dst, &EncodeError{Result: i, Type: v.Type(), Err: err}
		}
		dst = append(dst, b...)
	}
	return append(dst, ']'), nil
}

func (p jsonPlan) Decode(b []byte) ([]reflect.Value, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: json: %v", ErrCorrupt, err)
	}
	if len(raw) != len(p) {
		return nil, fmt.Errorf("%w: %d results, want %d", ErrCorrupt, len(raw), len(p))
	}
	vals := make([]reflect.Value, len(p))
	for i, t := range p {
		ptr := reflect.New(t)
		if err := json.Unmarshal(raw[i], ptr.Interface()); err != nil {
			return nil, &DecodeError{Result: i, Type: t, Err: fmt.Errorf("%w: json: %v", ErrCorrupt, err)}
		}
		vals[i] = ptr.Elem()
	}
	return vals, nil
}
