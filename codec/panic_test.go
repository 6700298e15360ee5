package codec_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cachier-go/cachier/codec"
)

// user is a custom codec built of funcs: the user's code, which may panic
// or break its contract.
type user struct {
	compile func() (codec.Compiled, error)
	encode  func(dst []byte) ([]byte, error)
	decode  func() ([]reflect.Value, error)
}

func (u user) Name() string { return "user" }
func (u user) Compile([]reflect.Type) (codec.Compiled, error) {
	if u.compile != nil {
		return u.compile()
	}
	return userPlan(u), nil
}

type userPlan user

func (p userPlan) Encode(dst []byte, _ []reflect.Value) ([]byte, error) { return p.encode(dst) }
func (p userPlan) Decode([]byte) ([]reflect.Value, error)               { return p.decode() }

// lyingTo is a plan with a DecodeTo method of the shape the default
// codec's has, which puts a string where an int belongs.
type lyingTo struct{ userPlan }

func (lyingTo) DecodeTo(_ []byte, vals []reflect.Value) error {
	vals[0] = reflect.ValueOf("wrong")
	return nil
}

func appendOne(dst []byte) ([]byte, error) { return append(dst, 1), nil }

// TestPanickingCodecIsAnError: a custom codec that panics in Compile, or
// returns no plan, is an error of NewPlan; one that panics encoding is an
// error of Encode and Payload; one that panics decoding, or decodes
// through a DecodeTo of its own values of the wrong type, is ErrCorrupt
// from Decode and DecodeTo. Before, each panicked (through the cachier
// call that hit or stored the entry), and a plan's DecodeTo was trusted
// unchecked.
func TestPanickingCodecIsAnError(t *testing.T) {
	types := []reflect.Type{reflect.TypeFor[int]()}
	vals := []reflect.Value{reflect.ValueOf(7)}
	ok := func() ([]reflect.Value, error) { return []reflect.Value{reflect.ValueOf(7)}, nil }

	for name, u := range map[string]user{
		"Compile panics":      {compile: func() (codec.Compiled, error) { panic("compile") }},
		"Compile returns nil": {compile: func() (codec.Compiled, error) { return nil, nil }},
	} {
		if _, err := codec.NewPlan(u, types, ""); err == nil {
			t.Errorf("%s: NewPlan succeeded", name)
		}
	}

	for name, u := range map[string]user{
		"Encode panics":           {encode: func([]byte) ([]byte, error) { panic("encode") }, decode: ok},
		"Encode drops the header": {encode: func([]byte) ([]byte, error) { return []byte{1}, nil }, decode: ok},
	} {
		p, err := codec.NewPlan(u, types, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Encode(vals); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
		if name == "Encode panics" {
			if _, err := p.Payload(vals); err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("%s: Payload: %v, want an error that says it panicked", name, err)
			}
		}
	}

	for name, u := range map[string]user{
		"Decode panics": {encode: appendOne, decode: func() ([]reflect.Value, error) { panic("decode") }},
		"DecodeTo lies": {compile: func() (codec.Compiled, error) {
			return lyingTo{userPlan{encode: appendOne, decode: func() ([]reflect.Value, error) {
				return []reflect.Value{reflect.ValueOf("wrong")}, nil
			}}}, nil
		}},
	} {
		p, err := codec.NewPlan(u, types, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Encode(vals)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Decode(b); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s: Decode: %v, want ErrCorrupt", name, err)
		}
		for _, into := range [][]reflect.Value{{reflect.New(types[0]).Elem()}, {{}}} {
			if err := p.DecodeTo(b, into); !errors.Is(err, codec.ErrCorrupt) {
				t.Errorf("%s: DecodeTo: %v, want ErrCorrupt", name, err)
			} else if into[0].IsValid() && into[0].Type() != types[0] {
				t.Errorf("%s: DecodeTo left a %v in the list", name, into[0].Type())
			}
		}
	}
}

type panicsJSON struct{ N int }

func (panicsJSON) MarshalJSON() ([]byte, error) { panic("MarshalJSON") }

type panicsUnJSON struct{ N int }

func (*panicsUnJSON) UnmarshalJSON([]byte) error { panic("UnmarshalJSON") }

type panicsGob struct{ N int }

func (panicsGob) GobEncode() ([]byte, error) { panic("GobEncode") }
func (*panicsGob) GobDecode([]byte) error    { return nil }

type panicsBinary struct{ N int }

func (panicsBinary) MarshalBinary() ([]byte, error) { panic("MarshalBinary") }
func (*panicsBinary) UnmarshalBinary([]byte) error  { return nil }

type panicsUnBinary struct{ N int }

func (panicsUnBinary) MarshalBinary() ([]byte, error) { return []byte{1}, nil }
func (*panicsUnBinary) UnmarshalBinary([]byte) error  { panic("UnmarshalBinary") }

// TestPanickingMethodIsAnError: the codecs call methods of the result
// types (MarshalJSON, UnmarshalJSON, GobEncode, MarshalBinary,
// UnmarshalBinary), which are the user's code; a panic in one is an error
// of Encode or Decode. Before, the panic went through encoding/json and
// encoding/gob (which recover only their own) to the cachier call; the
// default codec recovered its own already.
func TestPanickingMethodIsAnError(t *testing.T) {
	for _, tc := range []struct {
		c       codec.Codec
		v       any
		decodes bool // the panic is in decoding: Encode succeeds
	}{
		{codec.JSON(), panicsJSON{1}, false},
		{codec.JSON(), panicsUnJSON{1}, true},
		{codec.Gob(), panicsGob{1}, false},
		{codec.Default(), panicsBinary{1}, false},
		{codec.Default(), panicsUnBinary{1}, true},
	} {
		v := reflect.ValueOf(tc.v)
		p, err := codec.NewPlan(tc.c, []reflect.Type{v.Type()}, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Encode([]reflect.Value{v})
		if !tc.decodes {
			if err == nil || !strings.Contains(err.Error(), "panicked") {
				t.Errorf("%s %T: Encode: %v, want an error that says it panicked", tc.c.Name(), tc.v, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Decode(b); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s %T: Decode: %v, want ErrCorrupt", tc.c.Name(), tc.v, err)
		}
		if err := p.DecodeTo(b, []reflect.Value{reflect.New(v.Type()).Elem()}); !errors.Is(err, codec.ErrCorrupt) {
			t.Errorf("%s %T: DecodeTo: %v, want ErrCorrupt", tc.c.Name(), tc.v, err)
		}
	}
}
