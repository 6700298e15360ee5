package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"sync"

	reflectx "github.com/cachier-go/cachier/reflect"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

const (
	magic0, magic1 = 0xCA, 0xC4
	formatVersion  = 1
	maxNameLen     = 64

	compressNone = 0
	compressS2   = 1
	compressZstd = 2
)

// MinCompressSize is the smallest payload that compression applies to.
const MinCompressSize = 1 << 10

// MaxRatio bounds a compressed payload's declared decoded length, as a
// multiple of its compressed length; an entry that compresses better is
// stored uncompressed. MaxDecoded bounds it absolutely.
const (
	MaxRatio   = 1024
	MaxDecoded = 1 << 30
)

// A Plan encodes and decodes the results of one function as stored
// entries: a header naming the codec, the format version and the result
// types, then the codec's payload, compressed when asked and worth it.
// Make one per decorated function with NewPlan; it is safe for concurrent
// use.
type Plan struct {
	codec    Codec
	c        Compiled
	to       decoderTo // c, when it is the default codec's plan, which decodes into lists of the caller's
	types    []reflect.Type
	header   []byte // with compression 0
	compress byte
}

// NewPlan compiles c for results of the given types. compress is "", "none",
// "s2" or "zstd".
func NewPlan(c Codec, types []reflect.Type, compress string) (*Plan, error) {
	name := c.Name()
	if name == "" || len(name) > maxNameLen {
		return nil, fmt.Errorf("codec: codec name %q: want 1 to %d bytes", name, maxNameLen)
	}
	p := &Plan{codec: c, types: types}
	switch compress {
	case "", "none":
	case "s2":
		p.compress = compressS2
	case "zstd":
		p.compress = compressZstd
	default:
		return nil, fmt.Errorf("codec: compression %q: want none, s2 or zstd", compress)
	}
	compiled, err := compile(c, types)
	if err != nil {
		return nil, err
	}
	p.c = compiled
	// Only the default codec's plan decodes into the caller's list: the
	// values of another codec's are checked (checkDecoded) before they are
	// set, which a DecodeTo of its own would bypass.
	if bp, ok := compiled.(*binaryPlan); ok {
		p.to = bp
	}
	h := []byte{magic0, magic1, formatVersion, compressNone, byte(len(name))}
	h = append(h, name...)
	h = binary.LittleEndian.AppendUint64(h, Fingerprint(name, types))
	p.header = h
	return p, nil
}

// compile is c.Compile, with a panic or a nil plan as an error: a custom
// codec is the user's code.
func compile(c Codec, types []reflect.Type) (compiled Compiled, err error) {
	defer func() {
		if r := recover(); r != nil {
			compiled, err = nil, fmt.Errorf("codec: codec %s: Compile panicked: %v", c.Name(), r)
		}
	}()
	compiled, err = c.Compile(types)
	if err == nil && compiled == nil {
		err = fmt.Errorf("codec: codec %s: Compile returned no plan", c.Name())
	}
	return compiled, err
}

// recovered turns a panic of the codec's plan, deferred around a call of
// it, into *err: a custom codec, and the methods a codec calls (a result
// type's MarshalJSON, GobEncode, UnmarshalJSON, ...), are the user's code,
// and a failure to encode or decode an entry must not fail the call.
// Decoding panics are ErrCorrupt, since bytes a store handed back may
// cause them.
func (p *Plan) recovered(op string, err *error) {
	if r := recover(); r != nil {
		if op == "Encode" {
			*err = fmt.Errorf("codec: codec %s: Encode panicked: %v", p.codec.Name(), r)
		} else {
			*err = fmt.Errorf("%w: codec %s: %s panicked: %v", ErrCorrupt, p.codec.Name(), op, r)
		}
	}
}

// Codec returns the plan's codec.
func (p *Plan) Codec() Codec { return p.codec }

// Encode returns the entry of vals, results of the plan's types.
func (p *Plan) Encode(vals []reflect.Value) ([]byte, error) {
	return p.Append(nil, vals)
}

// Payload returns the codec's encoding of vals alone, without the header
// and uncompressed: the size of a result where no entry is stored (the
// memory store measures results with it).
func (p *Plan) Payload(vals []reflect.Value) (b []byte, err error) {
	defer p.recovered("Encode", &err)
	return p.c.Encode(nil, vals)
}

// Append appends the entry of vals to dst. A failure of the codec to
// encode them, a panic in its code (or in a method it calls, such as a
// result's MarshalJSON) included, is an error, and dst is returned as it
// was.
func (p *Plan) Append(dst []byte, vals []reflect.Value) ([]byte, error) {
	start := len(dst)
	b := append(dst, p.header...)
	hl := len(b)
	b, err := p.encode(b, vals)
	if err != nil {
		return dst[:start], err
	}
	if len(b) < hl || !bytes.Equal(b[start:hl], p.header) {
		return dst[:start], fmt.Errorf("codec: codec %s: Encode did not append to the slice it was given", p.codec.Name())
	}
	payload := b[hl:]
	if p.compress == compressNone || len(payload) < MinCompressSize {
		return b, nil
	}
	var z []byte
	switch p.compress {
	case compressS2:
		z = s2.Encode(nil, payload)
	case compressZstd:
		z = zstdEncoder().EncodeAll(payload, nil)
	}
	if len(z) >= len(payload) || uint64(len(payload)) > uint64(len(z))*MaxRatio {
		return b, nil // not worth it, or beyond what a reader accepts
	}
	out := append(dst[:start:start], p.header...)
	out[start+3] = p.compress
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, z...), nil
}

// encode is p.c.Encode, a panic in it an error.
func (p *Plan) encode(dst []byte, vals []reflect.Value) (b []byte, err error) {
	defer p.recovered("Encode", &err)
	return p.c.Encode(dst, vals)
}

// decode is p.c.Decode, a panic in it an error.
func (p *Plan) decode(payload []byte) (out []reflect.Value, err error) {
	defer p.recovered("Decode", &err)
	return p.c.Decode(payload)
}

// Decode decodes an entry that Encode wrote. An entry of another codec,
// format version or set of result types fails with ErrMismatch; a
// malformed one with an error (ErrCorrupt, ErrTooDeep, ...), and so do
// values of a custom codec that are not one of each result type (ErrCorrupt).
// It never panics: a panic in the codec's code, or in a method it calls
// (a result's UnmarshalJSON, say), is ErrCorrupt. It allocates at most a
// small multiple of the decoded payload.
//
// The values may alias b: large []byte and string values of the default
// codec are slices of b, not copies (a Compiled plan of another codec may
// alias b as well). Once Decode returned, b belongs to the values: the
// caller must not modify or reuse it, and must not decode it again for
// another owner (decode a copy for each), or the values would change, or
// be shared, behind their owners' backs. A compressed entry decodes into
// memory of its own, which b does not share.
func (p *Plan) Decode(b []byte) ([]reflect.Value, error) {
	payload, err := p.payload(b)
	if err != nil {
		return nil, err
	}
	out, err := p.decode(payload)
	if err != nil {
		return nil, err
	}
	if err := p.checkDecoded(out); err != nil {
		return nil, err
	}
	return out, nil
}

// DecodeTo is Decode into vals, which holds one value per result type: for
// callers that place the results in a list of their own (a function's
// results, say) and so need no list from the plan. Where vals[i] is a
// settable value of result type i (such as reflect.New(t).Elem(), or a
// field of a struct just allocated), the result is decoded into it in
// place, so that a caller can allocate its values together with memory of
// its own: whatever it held is replaced, as by Set. Any other vals[i] is
// replaced by a new value. On error, vals, and the memory of its settable
// values, are left in an unspecified state. b belongs to the values as
// with Decode.
func (p *Plan) DecodeTo(b []byte, vals []reflect.Value) error {
	if len(vals) != len(p.types) {
		return fmt.Errorf("codec: DecodeTo into %d values, want %d", len(vals), len(p.types))
	}
	payload, err := p.payload(b)
	if err != nil {
		return err
	}
	if p.to != nil {
		return p.decodeTo(payload, vals)
	}
	out, err := p.decode(payload)
	if err != nil {
		return err
	}
	if err := p.checkDecoded(out); err != nil {
		return err
	}
	for i, v := range out {
		if settableAs(vals[i], p.types[i]) {
			vals[i].Set(v)
		} else {
			vals[i] = v
		}
	}
	return nil
}

// decodeTo is p.to.DecodeTo, a panic in it an error.
func (p *Plan) decodeTo(payload []byte, vals []reflect.Value) (err error) {
	defer p.recovered("DecodeTo", &err)
	return p.to.DecodeTo(payload, vals)
}

// checkDecoded reports values of a Compiled plan's Decode that are not one
// value of each result type, as ErrCorrupt: a codec that breaks its
// contract gets a miss, not a panic where the values are set or returned.
// A value of an interface result may be of a concrete type implementing
// it; any other value must be of its result's exact type; and no value may
// be one reflect read from an unexported field, which neither Set nor a
// reflect.MakeFunc function accepts.
func (p *Plan) checkDecoded(out []reflect.Value) error {
	if len(out) != len(p.types) {
		return fmt.Errorf("%w: codec %s decoded %d values, want %d", ErrCorrupt, p.codec.Name(), len(out), len(p.types))
	}
	for i, v := range out {
		if err := reflectx.CheckValue(p.types[i], v); err != nil {
			return fmt.Errorf("%w: codec %s decoded result %d (%v) as %v", ErrCorrupt, p.codec.Name(), i, p.types[i], err)
		}
	}
	return nil
}

// settableAs reports whether v is a settable value of type t: DecodeTo
// decodes into such a value in place.
func settableAs(v reflect.Value, t reflect.Type) bool {
	return v.CanSet() && v.Type() == t
}

// decoderTo is a Compiled plan that decodes into a list of the caller's.
type decoderTo interface {
	DecodeTo(b []byte, vals []reflect.Value) error
}

// payload checks the header of the entry b and returns its payload,
// decompressed.
func (p *Plan) payload(b []byte) ([]byte, error) {
	hl := len(p.header)
	if len(b) < hl || b[0] != magic0 || b[1] != magic1 || b[2] != formatVersion ||
		!bytes.Equal(b[4:hl], p.header[4:]) {
		return nil, ErrMismatch
	}
	payload := b[hl:]
	switch b[3] {
	case compressNone:
	case compressS2, compressZstd:
		var err error
		if payload, err = decompress(b[3], payload); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: compression %d", ErrMismatch, b[3])
	}
	return payload, nil
}

func decompress(kind byte, b []byte) ([]byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, fmt.Errorf("%w: compressed length", ErrCorrupt)
	}
	z := b[k:]
	if n > MaxDecoded || n > uint64(len(z))*MaxRatio {
		return nil, fmt.Errorf("%w: %d bytes compressed claim %d decoded", ErrCorrupt, len(z), n)
	}
	switch kind {
	case compressS2:
		dl, err := s2.DecodedLen(z)
		if err != nil || uint64(dl) != n {
			return nil, fmt.Errorf("%w: s2 length", ErrCorrupt)
		}
		out := make([]byte, n)
		d, err := s2.Decode(out, z)
		if err != nil || len(d) != int(n) || (n > 0 && &d[0] != &out[0]) {
			return nil, fmt.Errorf("%w: s2: %v", ErrCorrupt, err)
		}
		return d, nil
	default:
		d, err := zstdDecoder().DecodeAll(z, make([]byte, 0, n))
		if err != nil || uint64(len(d)) != n {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		return d, nil
	}
}

var (
	zstdOnce sync.Once
	zEnc     *zstd.Encoder
	zDec     *zstd.Decoder
)

const zstdWindow = 8 << 20

func zstdInit() {
	var err error
	zEnc, err = zstd.NewWriter(nil, zstd.WithWindowSize(zstdWindow), zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err) // constant options
	}
	zDec, err = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxWindow(zstdWindow),
		zstd.WithDecoderMaxMemory(MaxDecoded),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(err)
	}
}

func zstdEncoder() *zstd.Encoder { zstdOnce.Do(zstdInit); return zEnc }
func zstdDecoder() *zstd.Decoder { zstdOnce.Do(zstdInit); return zDec }

// Fingerprint returns the 64-bit fingerprint of a codec's name and result
// types that entries carry: it changes when a type, or any type inside it,
// gains, loses, renames or retypes a field.
func Fingerprint(codecName string, types []reflect.Type) uint64 {
	var sb strings.Builder
	sb.WriteString(codecName)
	seen := map[reflect.Type]bool{}
	for _, t := range types {
		sb.WriteByte(';')
		reflectx.Describe(&sb, t, seen)
	}
	h := fnv.New64a()
	h.Write([]byte(sb.String()))
	return h.Sum64()
}

// A Header is what an entry says of itself.
type Header struct {
	Codec       string // the name of the codec that wrote it
	Version     int    // the entry format's version
	Compression string // "none", "s2" or "zstd"
	Fingerprint uint64 // of the codec's name and the result types (Fingerprint)
}

// ReadHeader parses the header of an entry, for tools that inspect stores,
// and returns the payload after it: compressed as the header says, and
// starting, when compressed, with the uvarint of its decoded length. It
// fails with ErrMismatch on bytes that do not start with an entry header of
// a known format version.
func ReadHeader(b []byte) (Header, []byte, error) {
	if len(b) < 5 || b[0] != magic0 || b[1] != magic1 || b[2] != formatVersion {
		return Header{}, nil, ErrMismatch
	}
	n := int(b[4])
	if n == 0 || n > maxNameLen || len(b) < 5+n+8 {
		return Header{}, nil, ErrMismatch
	}
	h := Header{Codec: string(b[5 : 5+n]), Version: int(b[2]), Fingerprint: binary.LittleEndian.Uint64(b[5+n:])}
	switch b[3] {
	case compressNone:
		h.Compression = "none"
	case compressS2:
		h.Compression = "s2"
	case compressZstd:
		h.Compression = "zstd"
	default:
		return Header{}, nil, fmt.Errorf("%w: compression %d", ErrMismatch, b[3])
	}
	return h, b[5+n+8:], nil
}
