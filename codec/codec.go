// Package codec turns the results of cached calls into bytes and back, for
// every cachier store that keeps bytes (all but memory).
//
// # Codecs and plans
//
// A Codec compiles, once per decorated function, a Compiled plan for the
// function's result types; the plan then encodes and decodes result lists
// without looking at the types again, as encoding/json caches its encoders
// per type. NewPlan wraps a Compiled plan in the entry header every stored
// entry carries, and compresses large entries:
//
//	p, err := codec.NewPlan(codec.Default(), []reflect.Type{reflect.TypeOf(Rows{})}, "zstd")
//	b, err := p.Encode([]reflect.Value{reflect.ValueOf(rows)})
//	vals, err := p.Decode(b) // vals[0].Interface().(Rows)
//
// # The entry header
//
// Every entry starts with
//
//	2 bytes   magic 0xCA 0xC4
//	1 byte    format version (1)
//	1 byte    compression: 0 none, 1 s2, 2 zstd
//	1 byte    n, the length of the codec's name (at most 64)
//	n bytes   the codec's name ("cachier", "gob", "json", ...)
//	8 bytes   fingerprint of the codec's name and the result types, little-endian
//	uvarint   the payload's decoded length (only when compressed)
//	...       the payload, as the codec wrote it (compressed or not)
//
// An entry whose header does not match the plan (another codec, another
// format version, other result types, bytes cachier did not write) is not
// decoded: Decode reports ErrMismatch, and cachier treats the entry as a miss.
// A program in another language that reads entries written with codec=json
// skips the header and reads the JSON array of results after it.
//
// # The default codec
//
// Default, named "cachier", is a compact binary codec that round-trips
// exactly every value it accepts (reflect.DeepEqual of the value and its
// round trip):
//
//   - struct fields at any depth, unexported ones included;
//   - nil versus empty slices and maps, and nil versus non-nil pointers and
//     interfaces, at any depth; pointers to zero values;
//   - arrays, and maps with any comparable key (structs, arrays and
//     interfaces included);
//   - time.Time (and types defined on it) with its instant and location:
//     a location loaded by name (time.LoadLocation) comes back loaded by
//     name, a fixed zone comes back as the same fixed zone; the monotonic
//     clock reading is dropped, as time.Time.Round(0) does;
//   - types implementing both encoding.BinaryMarshaler and
//     encoding.BinaryUnmarshaler (on the pointer), through those methods;
//   - values in interfaces whose dynamic types are registered with Register
//     or RegisterName (the basic types, []any and map[string]any are
//     registered already).
//
// It does not preserve aliasing: two pointers to one value come back as
// pointers to two equal values. It rejects when compiling a type that holds
// a func, a channel or an unsafe.Pointer (outside of a BinaryMarshaler),
// since those cannot be kept; a cyclic value, or one nested more than
// MaxDepth levels deep, is an encoding error; an interface value whose
// dynamic type is not registered is an encoding error wrapping
// ErrUnregistered.
//
// Decoding copies little: a []byte or string that takes at least a quarter
// of the payload is the payload's own memory (with its capacity clipped to
// its length, so that an append never writes over what follows it), and a
// smaller one is copied, so that it never keeps a much larger entry alive.
// The entry decoded must therefore not be modified afterwards, and two
// callers must not be given values decoded from one entry (see Plan.Decode).
//
// Decoding is bounded: every length is checked against the bytes left
// before anything is allocated (at the smallest encoded size of an
// element), nesting is limited to MaxDepth, and the memory a decode
// allocates is at most 64 times the decoded payload (empty maps, 56 bytes
// for each encoded byte, are the worst case).
// Any input decodes or fails with an error; none panics.
//
// # Gob and JSON
//
// Gob ("gob") is encoding/gob, for entries written by earlier versions of a
// program; it loses what gob loses (unexported fields, nil versus empty
// below the top level, pointers to zero values, location names) and its
// decoder is not bounded: use it only with a store nobody else writes. JSON
// ("json") is encoding/json, for entries that programs in other languages
// read; it keeps only exported fields, turns interface values into
// map[string]any/[]any/float64/string/bool, keeps a time's offset but not
// its location name, and cannot encode NaN or infinities.
//
// # Compression
//
// With compression "s2" or "zstd" (github.com/klauspost/compress), a
// payload of MinCompressSize bytes or more is compressed when that makes it
// smaller; the header says so. A compressed payload declares its decoded
// length, which is checked (at most MaxRatio times the compressed size)
// before decompressing into exactly that many bytes: a zip bomb is a
// mismatch, not an allocation.
package codec

import (
	"errors"
	"fmt"
	"reflect"
)

// A Codec turns the results of calls into bytes and back. Register one with
// defaults.RegisterCodec to use it as codec=name.
type Codec interface {
	// Name identifies the codec in every entry's header; it must be stable
	// across program versions, at most 64 bytes, and not a built-in
	// codec's name ("cachier", "gob", "json"), which a codec embedding a
	// built-in one inherits unless it names itself.
	Name() string
	// Compile returns the plan for result lists of the given types, or an
	// error naming the type it cannot keep (an *UnsupportedTypeError for
	// the built-in codecs). It is called once per decorated function.
	Compile(types []reflect.Type) (Compiled, error)
}

// A Compiled plan encodes and decodes result lists of the types it was
// compiled for. It is safe for concurrent use.
type Compiled interface {
	// Encode appends the encoding of vals, which have the plan's types, to
	// dst and returns the extended slice.
	Encode(dst []byte, vals []reflect.Value) ([]byte, error)
	// Decode decodes b, which the plan's Encode wrote, into values of the
	// plan's types. On any other input it must fail with an error, never
	// panic, and allocate no more than a small multiple of len(b).
	//
	// The values may alias b (the default codec slices large []byte and
	// string values out of it rather than copying them): b is the
	// caller's, and the caller must not modify it, nor decode it again
	// for another owner, once Decode returned. A Decode must not keep b
	// itself beyond that, nor return memory shared with anything but b.
	Decode(b []byte) ([]reflect.Value, error)
}

var (
	// ErrMismatch reports an entry whose header does not match the plan:
	// another codec, another format version, other result types, another
	// compression than it declares, or bytes cachier did not write.
	ErrMismatch = errors.New("codec: entry not written by this codec for these result types")
	// ErrCorrupt reports an entry whose payload is malformed: truncated, a
	// length beyond what is left, a value out of range, trailing bytes.
	ErrCorrupt = errors.New("codec: corrupt entry")
	// ErrTooDeep reports a value nested more than MaxDepth levels deep, in
	// an entry being decoded or a value being encoded.
	ErrTooDeep = errors.New("codec: value nested too deep")
	// ErrCycle reports a cyclic value being encoded (a pointer, slice or
	// map that contains itself).
	ErrCycle = errors.New("codec: cyclic value")
	// ErrUnregistered reports an interface value whose dynamic type was
	// not registered with Register or RegisterName.
	ErrUnregistered = errors.New("codec: type not registered (forgotten codec.Register?)")
)

// MaxDepth bounds the nesting of pointers, slices, maps and interfaces in
// a value the default codec encodes or decodes.
const MaxDepth = 10000

// An UnsupportedTypeError reports a result type that a codec cannot keep
// faithfully, and where inside it the offending type sits.
type UnsupportedTypeError struct {
	Type reflect.Type // the result type
	Path string       // the path to Bad inside Type: ".Handler", ".Items[]", "[key]", "" for Type itself
	Bad  reflect.Type // the func, chan or unsafe.Pointer type found there
}

func (e *UnsupportedTypeError) Error() string {
	what := "a " + e.Bad.Kind().String()
	if e.Bad.Kind() == reflect.UnsafePointer {
		what = "an unsafe.Pointer"
	}
	at := ""
	if e.Path != "" {
		at = " at " + e.Path
	}
	return fmt.Sprintf("codec: result type %s cannot be stored: %s%s is %s (funcs, channels and unsafe pointers cannot be kept; use backend=memory)",
		e.Type, e.Bad, at, what)
}

// A DecodeError is a failure to decode an entry, with the result it
// stopped at.
type DecodeError struct {
	Result int          // index in the result list
	Type   reflect.Type // that result's type
	Err    error        // ErrCorrupt, ErrTooDeep, or a BinaryUnmarshaler's error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("codec: decoding result %d (%s): %v", e.Result, e.Type, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// An EncodeError is a failure to encode a result.
type EncodeError struct {
	Result int          // index in the result list
	Type   reflect.Type // that result's type
	Err    error        // ErrCycle, ErrTooDeep, ErrUnregistered (wrapped), or a BinaryMarshaler's error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("codec: encoding result %d (%s): %v", e.Result, e.Type, e.Err)
}

func (e *EncodeError) Unwrap() error { return e.Err }
