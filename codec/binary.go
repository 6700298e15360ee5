package codec

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"
)

// Default returns the library's own codec, named "cachier": exact, bounded
// and compiled per type (see the package documentation).
func Default() Codec { return binaryCodec{} }

type binaryCodec struct{}

func (binaryCodec) Name() string { return "cachier" }

func (binaryCodec) Compile(types []reflect.Type) (Compiled, error) {
	p := &binaryPlan{types: types, codecs: make([]*typeCodec, len(types))}
	for i, t := range types {
		c, err := codecFor(t)
		if err != nil {
			return nil, err
		}
		p.codecs[i] = c
	}
	return p, nil
}

type binaryPlan struct {
	types  []reflect.Type
	codecs []*typeCodec
}

func (p *binaryPlan) Encode(dst []byte, vals []reflect.Value) ([]byte, error) {
	if len(vals) != len(p.types) {
		return dst, fmt.Errorf("codec: %d results, want %d", len(vals), len(p.types))
	}
	e := encoder{buf: dst}
	for i, v := range vals {
		var ptr unsafe.Pointer
		if v.CanAddr() {
			ptr = unsafe.Pointer(v.UnsafeAddr())
		} else {
			tmp := reflect.New(p.types[i])
			tmp.Elem().Set(v)
			ptr = tmp.UnsafePointer()
		}
		if err := p.codecs[i].enc(&e, ptr); err != nil {
			return dst, &EncodeError{Result: i, Type: p.types[i], Err: err}
		}
	}
	return e.buf, nil
}

// decodeState is what one Decode allocates besides the values: the
// decoder, and the result list of a plan of one result.
type decodeState struct {
	d   decoder
	one [1]reflect.Value
}

// decoders pools the decoders of DecodeTo, whose caller holds the result
// list: a decode then allocates only for the values themselves.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

// DecodeTo is Decode into vals, of len(p.types) (checked by Plan.DecodeTo).
func (p *binaryPlan) DecodeTo(b []byte, vals []reflect.Value) error {
	d := decoders.Get().(*decoder)
	*d = decoder{b: b}
	err := p.decodeInto(d, vals)
	*d = decoder{} // keep nothing of b
	decoders.Put(d)
	return err
}

// decodeInto decodes d's bytes into vals, one value per result type.
func (p *binaryPlan) decodeInto(d *decoder, vals []reflect.Value) error {
	for i, c := range p.codecs {
		if d.left() < c.min {
			return &DecodeError{Result: i, Type: p.types[i], Err: ErrCorrupt}
		}
		v := vals[i]
		if !settableAs(v, p.types[i]) {
			v = reflect.New(p.types[i]).Elem()
			vals[i] = v
		}
		if err := c.dec(d, unsafe.Pointer(v.UnsafeAddr())); err != nil {
			return &DecodeError{Result: i, Type: p.types[i], Err: err}
		}
	}
	if d.left() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, d.left())
	}
	return nil
}

func (p *binaryPlan) Decode(b []byte) ([]reflect.Value, error) {
	st := &decodeState{d: decoder{b: b}}
	d := &st.d
	var vals []reflect.Value
	if len(p.types) == 1 {
		vals = st.one[:]
	} else {
		vals = make([]reflect.Value, len(p.types))
	}
	if err := p.decodeInto(d, vals); err != nil {
		return nil, err
	}
	*d = decoder{} // vals may share st: it must not keep b alive
	return vals, nil
}

// A typeCodec encodes and decodes values of one type in place, by address.
type typeCodec struct {
	enc func(e *encoder, p unsafe.Pointer) error
	dec func(d *decoder, p unsafe.Pointer) error
	// min is the smallest encoding of a value of the type, in bytes: the
	// decoder checks it against what is left before allocating one.
	min int
}

var typeCodecs sync.Map // reflect.Type -> *typeCodec, complete

// codecFor returns the codec of t, compiling it (and every type it needs)
// the first time.
func codecFor(t reflect.Type) (*typeCodec, error) {
	if c, ok := typeCodecs.Load(t); ok {
		return c.(*typeCodec), nil
	}
	b := builder{root: t, building: map[reflect.Type]*typeCodec{}}
	c, err := b.build(t, "")
	if err != nil {
		return nil, err
	}
	for bt, bc := range b.building {
		typeCodecs.LoadOrStore(bt, bc)
	}
	return c, nil
}

// Check reports, with an *UnsupportedTypeError, whether the default codec
// can keep values of type t.
func Check(t reflect.Type) error {
	_, err := codecFor(t)
	return err
}

type builder struct {
	root     reflect.Type
	building map[reflect.Type]*typeCodec // this build's codecs, some still incomplete
}

var (
	timeType          = reflect.TypeOf(time.Time{})
	marshalerType     = reflect.TypeOf((*encoding.BinaryMarshaler)(nil)).Elem()
	unmarshalerType   = reflect.TypeOf((*encoding.BinaryUnmarshaler)(nil)).Elem()
	maxMin            = math.MaxInt32
	zeroLenSliceLimit = math.MaxInt32 // elements of a zero-size type a slice may claim
)

func satAdd(a, b int) int {
	if a+b > maxMin || a+b < 0 {
		return maxMin
	}
	return a + b
}

func satMul(a, n int) int {
	if a == 0 || n == 0 {
		return 0
	}
	if a > maxMin/n {
		return maxMin
	}
	return a * n
}

func (b *builder) build(t reflect.Type, path string) (*typeCodec, error) {
	if c, ok := typeCodecs.Load(t); ok {
		return c.(*typeCodec), nil
	}
	if c, ok := b.building[t]; ok {
		return c, nil // a recursive type: complete by the time it runs
	}
	c := &typeCodec{}
	b.building[t] = c
	if err := b.fill(c, t, path); err != nil {
		return nil, err
	}
	return c, nil
}

func (b *builder) unsupported(t reflect.Type, path string) error {
	return &UnsupportedTypeError{Type: b.root, Path: path, Bad: t}
}

func (b *builder) fill(c *typeCodec, t reflect.Type, path string) error {
	if t.Kind() == reflect.Struct && t.ConvertibleTo(timeType) {
		c.enc, c.dec, c.min = encTime, decTime, 3
		return nil
	}
	if isMarshaler(t) {
		fillMarshaler(c, t)
		return nil
	}
	switch k := t.Kind(); k {
	case reflect.Bool:
		c.enc, c.dec, c.min = encBool, decBool, 1
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		c.enc, c.dec, c.min = intCodec(t.Size())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		c.enc, c.dec, c.min = uintCodec(t.Size())
	case reflect.Float32:
		c.enc, c.dec, c.min = encF32, decF32, 4
	case reflect.Float64:
		c.enc, c.dec, c.min = encF64, decF64, 8
	case reflect.Complex64:
		c.enc, c.dec, c.min = encC64, decC64, 8
	case reflect.Complex128:
		c.enc, c.dec, c.min = encC128, decC128, 16
	case reflect.String:
		c.enc, c.dec, c.min = encString, decString, 1
	case reflect.Pointer:
		ec, err := b.build(t.Elem(), path+"*")
		if err != nil {
			return err
		}
		fillPointer(c, t, ec)
	case reflect.Slice:
		ec, err := b.build(t.Elem(), path+"[]")
		if err != nil {
			return err
		}
		fillSlice(c, t, ec)
	case reflect.Array:
		ec, err := b.build(t.Elem(), path+"[]")
		if err != nil {
			return err
		}
		fillArray(c, t, ec)
	case reflect.Map:
		kc, err := b.build(t.Key(), path+"[key]")
		if err != nil {
			return err
		}
		vc, err := b.build(t.Elem(), path+"[value]")
		if err != nil {
			return err
		}
		fillMap(c, t, kc, vc)
	case reflect.Interface:
		fillInterface(c, t)
	case reflect.Struct:
		fields := make([]fieldCodec, 0, t.NumField())
		for i := range t.NumField() {
			f := t.Field(i)
			fc, err := b.build(f.Type, path+"."+f.Name)
			if err != nil {
				return err
			}
			fields = append(fields, fieldCodec{off: f.Offset, c: fc})
			c.min = satAdd(c.min, fc.min)
		}
		fillStruct(c, fields)
	default: // Func, Chan, UnsafePointer
		return b.unsupported(t, path)
	}
	return nil
}

// isMarshaler reports whether t is kept through its BinaryMarshaler and
// BinaryUnmarshaler methods. A struct that only inherits them from an
// embedded field is kept field by field instead, so that its other fields
// are not lost.
func isMarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	if t.Kind() == reflect.Interface || t.Kind() == reflect.Pointer ||
		!pt.Implements(marshalerType) || !pt.Implements(unmarshalerType) {
		return false
	}
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && (reflect.PointerTo(f.Type).Implements(marshalerType) || f.Type.Implements(marshalerType)) {
				return false
			}
		}
	}
	return true
}

// The encoder appends to buf; depth counts the pointers, slices, maps and
// interfaces it is inside of, and path, beyond cycleCheckDepth, the ones on
// the current path.
type encoder struct {
	buf   []byte
	depth int
	path  map[visit]struct{}
}

type visit struct {
	p unsafe.Pointer
	t reflect.Type
}

// cycleCheckDepth is the depth from which the encoder tracks what it is
// inside of: a cycle is found within one turn beyond it.
const cycleCheckDepth = 500

// enter is called on entering a reference (a pointer, slice, map or
// interface) to p of type t; leave must follow when enter succeeds.
func (e *encoder) enter(p unsafe.Pointer, t reflect.Type) error {
	e.depth++
	if e.depth <= cycleCheckDepth {
		return nil
	}
	if e.depth > MaxDepth {
		e.depth--
		return ErrTooDeep
	}
	if e.path == nil {
		e.path = map[visit]struct{}{}
	}
	k := visit{p, t}
	if _, ok := e.path[k]; ok {
		e.depth--
		return fmt.Errorf("%w: a %s contains itself", ErrCycle, t)
	}
	e.path[k] = struct{}{}
	return nil
}

func (e *encoder) leave(p unsafe.Pointer, t reflect.Type) {
	if e.depth > cycleCheckDepth {
		delete(e.path, visit{p, t})
	}
	e.depth--
}

func (e *encoder) uvarint(x uint64) {
	for x >= 0x80 {
		e.buf = append(e.buf, byte(x)|0x80)
		x >>= 7
	}
	e.buf = append(e.buf, byte(x))
}

func (e *encoder) varint(x int64) { e.uvarint(uint64(x<<1) ^ uint64(x>>63)) }

func (e *encoder) u32(x uint32) {
	e.buf = append(e.buf, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
}

func (e *encoder) u64(x uint64) {
	e.buf = append(e.buf, byte(x), byte(x>>8), byte(x>>16), byte(x>>24),
		byte(x>>32), byte(x>>40), byte(x>>48), byte(x>>56))
}

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// aliasDiv and aliasAll set which decoded []byte and string values alias
// the payload instead of being copied out of it: every one in a payload of
// at most aliasAll bytes, and in a larger payload those of at least
// 1/aliasDiv of its length. Copying a large one would double the cost of
// decoding it; a small one in a large payload is copied, so that it never
// keeps a much larger entry alive: an aliasing value keeps at most
// max(aliasAll, aliasDiv times its own size) bytes alive.
const (
	aliasDiv = 4
	aliasAll = 4 << 10
)

// The decoder reads b from i.
type decoder struct {
	b     []byte
	i     int
	depth int
}

func (d *decoder) left() int { return len(d.b) - d.i }

func (d *decoder) byte1() (byte, error) {
	if d.i >= len(d.b) {
		return 0, ErrCorrupt
	}
	c := d.b[d.i]
	d.i++
	return c, nil
}

func (d *decoder) uvarint() (uint64, error) {
	var x uint64
	var s uint
	for n := 0; n < 10; n++ {
		if d.i >= len(d.b) {
			return 0, ErrCorrupt
		}
		c := d.b[d.i]
		d.i++
		if c < 0x80 {
			if n == 9 && c > 1 {
				return 0, ErrCorrupt
			}
			return x | uint64(c)<<s, nil
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, ErrCorrupt
}

func (d *decoder) varint() (int64, error) {
	u, err := d.uvarint()
	return int64(u>>1) ^ -int64(u&1), err
}

// length reads a length whose elements take at least min bytes each, and
// checks it against what is left.
func (d *decoder) length(min int) (int, error) {
	u, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	if min < 1 {
		min = 1
	}
	if u > uint64(d.left()/min) {
		return 0, fmt.Errorf("%w: a length of %d at offset %d, with %d bytes left", ErrCorrupt, u, d.i, d.left())
	}
	return int(u), nil
}

// nilOrLength reads 0 for nil or n+1 for a length n, checked as length is.
// zeroOK allows any length up to zeroLenSliceLimit when elements take no
// bytes at all.
func (d *decoder) nilOrLength(min int, zeroOK bool) (n int, isNil bool, err error) {
	u, err := d.uvarint()
	if err != nil {
		return 0, false, err
	}
	if u == 0 {
		return 0, true, nil
	}
	u--
	if min == 0 && zeroOK {
		if u > uint64(zeroLenSliceLimit) {
			return 0, false, fmt.Errorf("%w: %d elements of a zero-size type", ErrCorrupt, u)
		}
		return int(u), false, nil
	}
	if min < 1 {
		min = 1
	}
	if u > uint64(d.left()/min) {
		return 0, false, fmt.Errorf("%w: a length of %d at offset %d, with %d bytes left", ErrCorrupt, u, d.i, d.left())
	}
	return int(u), false, nil
}

func (d *decoder) bytes(n int) []byte {
	b := d.b[d.i : d.i+n : d.i+n]
	d.i += n
	return b
}

// aliases reports whether a []byte or string of n bytes is sliced from the
// payload rather than copied out of it (see aliasDiv).
func (d *decoder) aliases(n int) bool {
	return n > 0 && (len(d.b) <= aliasAll || n >= len(d.b)/aliasDiv)
}

// byteSlice returns the next n > 0 bytes as a []byte of the decoded value:
// the payload's own bytes, capacity clipped, when large (aliases), a copy
// otherwise.
func (d *decoder) byteSlice(n int) []byte {
	if d.aliases(n) {
		return d.bytes(n)
	}
	// append, unlike make, does not zero what it copies over
	return append([]byte(nil), d.bytes(n)...)
}

func (d *decoder) str(n int) string {
	var s string
	if d.aliases(n) {
		s = unsafe.String(&d.b[d.i], n)
	} else {
		s = string(d.b[d.i : d.i+n])
	}
	d.i += n
	return s
}

func (d *decoder) enter() error {
	if d.depth++; d.depth > MaxDepth {
		return ErrTooDeep
	}
	return nil
}

// Basic kinds.

func encBool(e *encoder, p unsafe.Pointer) error {
	if *(*bool)(p) {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
	return nil
}

func decBool(d *decoder, p unsafe.Pointer) error {
	c, err := d.byte1()
	if err != nil {
		return err
	}
	if c > 1 {
		return fmt.Errorf("%w: bool byte %d", ErrCorrupt, c)
	}
	*(*bool)(p) = c == 1
	return nil
}

type encFn = func(e *encoder, p unsafe.Pointer) error
type decFn = func(d *decoder, p unsafe.Pointer) error

func intCodec(size uintptr) (encFn, decFn, int) {
	switch size {
	case 1:
		return narrowIntCodec[int8](math.MinInt8, math.MaxInt8, "int8")
	case 2:
		return narrowIntCodec[int16](math.MinInt16, math.MaxInt16, "int16")
	case 4:
		return narrowIntCodec[int32](math.MinInt32, math.MaxInt32, "int32")
	}
	return func(e *encoder, p unsafe.Pointer) error { e.varint(*(*int64)(p)); return nil },
		func(d *decoder, p unsafe.Pointer) error {
			x, err := d.varint()
			*(*int64)(p) = x
			return err
		}, 1
}

// narrowIntCodec codes a signed integer narrower than 64 bits as a varint;
// a decoded value outside [lo, hi] is corrupt.
func narrowIntCodec[T int8 | int16 | int32](lo, hi int64, name string) (encFn, decFn, int) {
	return func(e *encoder, p unsafe.Pointer) error { e.varint(int64(*(*T)(p))); return nil },
		func(d *decoder, p unsafe.Pointer) error {
			x, err := d.varint()
			if err == nil && (x < lo || x > hi) {
				err = fmt.Errorf("%w: %d overflows %s", ErrCorrupt, x, name)
			}
			*(*T)(p) = T(x)
			return err
		}, 1
}

func uintCodec(size uintptr) (encFn, decFn, int) {
	switch size {
	case 1:
		return func(e *encoder, p unsafe.Pointer) error { e.buf = append(e.buf, *(*uint8)(p)); return nil },
			func(d *decoder, p unsafe.Pointer) error {
				c, err := d.byte1()
				*(*uint8)(p) = c
				return err
			}, 1
	case 2:
		return narrowUintCodec[uint16](math.MaxUint16, "uint16")
	case 4:
		return narrowUintCodec[uint32](math.MaxUint32, "uint32")
	}
	return func(e *encoder, p unsafe.Pointer) error { e.uvarint(*(*uint64)(p)); return nil },
		func(d *decoder, p unsafe.Pointer) error {
			x, err := d.uvarint()
			*(*uint64)(p) = x
			return err
		}, 1
}

// narrowUintCodec codes an unsigned integer of 16 or 32 bits as a uvarint;
// a decoded value above hi is corrupt.
func narrowUintCodec[T uint16 | uint32](hi uint64, name string) (encFn, decFn, int) {
	return func(e *encoder, p unsafe.Pointer) error { e.uvarint(uint64(*(*T)(p))); return nil },
		func(d *decoder, p unsafe.Pointer) error {
			x, err := d.uvarint()
			if err == nil && x > hi {
				err = fmt.Errorf("%w: %d overflows %s", ErrCorrupt, x, name)
			}
			*(*T)(p) = T(x)
			return err
		}, 1
}

func (d *decoder) fixed(n int) ([]byte, error) {
	if d.left() < n {
		return nil, ErrCorrupt
	}
	return d.bytes(n), nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func encF32(e *encoder, p unsafe.Pointer) error { e.u32(*(*uint32)(p)); return nil }
func encF64(e *encoder, p unsafe.Pointer) error { e.u64(*(*uint64)(p)); return nil }
func encC64(e *encoder, p unsafe.Pointer) error {
	e.u32(*(*uint32)(p))
	e.u32(*(*uint32)(unsafe.Add(p, 4)))
	return nil
}
func encC128(e *encoder, p unsafe.Pointer) error {
	e.u64(*(*uint64)(p))
	e.u64(*(*uint64)(unsafe.Add(p, 8)))
	return nil
}

func decF32(d *decoder, p unsafe.Pointer) error {
	b, err := d.fixed(4)
	if err == nil {
		*(*uint32)(p) = le32(b)
	}
	return err
}

func decF64(d *decoder, p unsafe.Pointer) error {
	b, err := d.fixed(8)
	if err == nil {
		*(*uint64)(p) = le64(b)
	}
	return err
}

func decC64(d *decoder, p unsafe.Pointer) error {
	b, err := d.fixed(8)
	if err == nil {
		*(*uint32)(p) = le32(b)
		*(*uint32)(unsafe.Add(p, 4)) = le32(b[4:])
	}
	return err
}

func decC128(d *decoder, p unsafe.Pointer) error {
	b, err := d.fixed(16)
	if err == nil {
		*(*uint64)(p) = le64(b)
		*(*uint64)(unsafe.Add(p, 8)) = le64(b[8:])
	}
	return err
}

func encString(e *encoder, p unsafe.Pointer) error {
	e.str(*(*string)(p))
	return nil
}

func decString(d *decoder, p unsafe.Pointer) error {
	n, err := d.length(1)
	if err != nil {
		return err
	}
	*(*string)(p) = d.str(n)
	return nil
}

// References.

func fillPointer(c *typeCodec, t reflect.Type, ec *typeCodec) {
	elem := t.Elem()
	c.min = 1
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		q := *(*unsafe.Pointer)(p)
		if q == nil {
			e.buf = append(e.buf, 0)
			return nil
		}
		e.buf = append(e.buf, 1)
		if err := e.enter(q, t); err != nil {
			return err
		}
		err := ec.enc(e, q)
		e.leave(q, t)
		return err
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		flag, err := d.byte1()
		if err != nil {
			return err
		}
		switch {
		case flag == 0:
			*(*unsafe.Pointer)(p) = nil
			return nil
		case flag != 1:
			return fmt.Errorf("%w: pointer flag %d", ErrCorrupt, flag)
		case d.left() < ec.min:
			return ErrCorrupt
		}
		if err := d.enter(); err != nil {
			return err
		}
		q := reflect.New(elem).UnsafePointer()
		if err := ec.dec(d, q); err != nil {
			return err
		}
		d.depth--
		*(*unsafe.Pointer)(p) = q
		return nil
	}
}

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// pointerFree reports whether values of t hold no pointers, so that their
// memory may come from a []uint64.
func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return t.Len() == 0 || pointerFree(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

// makeArray returns zeroed memory for n elements of type elem, of size
// esize each (n*esize already known not to overflow the input's bounds).
func makeArray(t reflect.Type, elem reflect.Type, esize uintptr, n int) unsafe.Pointer {
	switch {
	case esize == 0:
		return reflect.MakeSlice(t, 0, 0).UnsafePointer()
	case elem.Kind() == reflect.String:
		return unsafe.Pointer(unsafe.SliceData(make([]string, n)))
	case pointerFree(elem):
		words := (uintptr(n)*esize + 7) / 8
		return unsafe.Pointer(unsafe.SliceData(make([]uint64, words)))
	}
	return reflect.MakeSlice(t, n, n).UnsafePointer()
}

func fillSlice(c *typeCodec, t reflect.Type, ec *typeCodec) {
	elem := t.Elem()
	esize := elem.Size()
	c.min = 1
	if elem.Kind() == reflect.Uint8 && !isMarshaler(elem) {
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			s := *(*[]byte)(p)
			if s == nil {
				e.buf = append(e.buf, 0)
				return nil
			}
			e.uvarint(uint64(len(s)) + 1)
			e.buf = append(e.buf, s...)
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			n, isNil, err := d.nilOrLength(1, false)
			switch {
			case err != nil:
				return err
			case isNil:
				*(*[]byte)(p) = nil
			case n == 0:
				*(*[]byte)(p) = []byte{}
			default:
				*(*[]byte)(p) = d.byteSlice(n)
			}
			return nil
		}
		return
	}
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		h := (*sliceHeader)(p)
		if h.data == nil {
			e.buf = append(e.buf, 0)
			return nil
		}
		e.uvarint(uint64(h.len) + 1)
		if h.len == 0 {
			return nil
		}
		if err := e.enter(h.data, t); err != nil {
			return err
		}
		for i := range h.len {
			if err := ec.enc(e, unsafe.Add(h.data, uintptr(i)*esize)); err != nil {
				return err
			}
		}
		e.leave(h.data, t)
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		n, isNil, err := d.nilOrLength(ec.min, true)
		if err != nil {
			return err
		}
		h := (*sliceHeader)(p)
		if isNil {
			*h = sliceHeader{}
			return nil
		}
		if err := d.enter(); err != nil {
			return err
		}
		data := makeArray(t, elem, esize, n)
		if ec.min > 0 || esize > 0 {
			for i := range n {
				if err := ec.dec(d, unsafe.Add(data, uintptr(i)*esize)); err != nil {
					return err
				}
			}
		}
		d.depth--
		*h = sliceHeader{data: data, len: n, cap: n}
		return nil
	}
}

func fillArray(c *typeCodec, t reflect.Type, ec *typeCodec) {
	n := t.Len()
	esize := t.Elem().Size()
	c.min = satMul(ec.min, n)
	if t.Elem().Kind() == reflect.Uint8 && !isMarshaler(t.Elem()) {
		c.enc = func(e *encoder, p unsafe.Pointer) error {
			e.buf = append(e.buf, unsafe.Slice((*byte)(p), n)...)
			return nil
		}
		c.dec = func(d *decoder, p unsafe.Pointer) error {
			b, err := d.fixed(n)
			if err == nil {
				copy(unsafe.Slice((*byte)(p), n), b)
			}
			return err
		}
		return
	}
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		for i := range n {
			if err := ec.enc(e, unsafe.Add(p, uintptr(i)*esize)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		for i := range n {
			if err := ec.dec(d, unsafe.Add(p, uintptr(i)*esize)); err != nil {
				return err
			}
		}
		return nil
	}
}

func fillMap(c *typeCodec, t reflect.Type, kc, vc *typeCodec) {
	fillMapReflect(c, t, kc, vc)
	if dec := stringMapDecoder(t, satAdd(kc.min, vc.min)); dec != nil {
		c.dec = dec
	}
}

// fillMapReflect fills c with the codec of any map type, through reflect.
func fillMapReflect(c *typeCodec, t reflect.Type, kc, vc *typeCodec) {
	kt, vt := t.Key(), t.Elem()
	c.min = 1
	entryMin := satAdd(kc.min, vc.min)
	temps := &mapTemps{kt: kt, vt: vt}
	// A key holding an interface may decode to a value of a type that is
	// not comparable (a []any, say): inserting it would panic.
	checkKey := holdsInterface(kt)
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			e.buf = append(e.buf, 0)
			return nil
		}
		e.uvarint(uint64(m.Len()) + 1)
		if m.Len() == 0 {
			return nil
		}
		mp := m.UnsafePointer()
		if err := e.enter(mp, t); err != nil {
			return err
		}
		tmp := temps.get()
		defer temps.put(tmp)
		it := m.MapRange()
		for it.Next() {
			tmp.k.SetIterKey(it)
			tmp.v.SetIterValue(it)
			if err := kc.enc(e, tmp.kp); err != nil {
				return err
			}
			if err := vc.enc(e, tmp.vp); err != nil {
				return err
			}
		}
		e.leave(mp, t)
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		n, isNil, err := d.nilOrLength(entryMin, false)
		if err != nil {
			return err
		}
		dst := reflect.NewAt(t, p).Elem()
		if isNil {
			dst.SetZero()
			return nil
		}
		if entryMin == 0 && n > 1 {
			return fmt.Errorf("%w: %d keys of a type with one value", ErrCorrupt, n)
		}
		if err := d.enter(); err != nil {
			return err
		}
		m := reflect.MakeMapWithSize(t, n)
		if n > 0 {
			tmp := temps.get()
			defer temps.put(tmp)
			for range n {
				tmp.k.SetZero()
				tmp.v.SetZero()
				if err := kc.dec(d, tmp.kp); err != nil {
					return err
				}
				if checkKey && !tmp.k.Comparable() {
					return fmt.Errorf("%w: a map key of a type that is not comparable", ErrCorrupt)
				}
				if err := vc.dec(d, tmp.vp); err != nil {
					return err
				}
				m.SetMapIndex(tmp.k, tmp.v)
			}
			if m.Len() != n { // NaN keys never collide: a shorter map had duplicates
				return fmt.Errorf("%w: duplicate map keys", ErrCorrupt)
			}
		}
		d.depth--
		dst.Set(m)
		return nil
	}
}

// holdsInterface reports whether a value of the comparable type t may hold
// an interface value, whose dynamic type need not be comparable.
func holdsInterface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Array:
		return holdsInterface(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsInterface(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// mapTemps pools the key and value variables a map's entries go through,
// so that a map costs no allocation for them once warm.
type mapTemps struct {
	kt, vt reflect.Type
	pool   sync.Pool // *mapTemp
}

type mapTemp struct {
	k, v   reflect.Value // settable
	kp, vp unsafe.Pointer
}

func (m *mapTemps) get() *mapTemp {
	if t, ok := m.pool.Get().(*mapTemp); ok {
		return t
	}
	k, v := reflect.New(m.kt), reflect.New(m.vt)
	return &mapTemp{k: k.Elem(), v: v.Elem(), kp: k.UnsafePointer(), vp: v.UnsafePointer()}
}

// put returns t zeroed, holding nothing of the value it went through.
func (m *mapTemps) put(t *mapTemp) {
	t.k.SetZero()
	t.v.SetZero()
	m.pool.Put(t)
}

type fieldCodec struct {
	off uintptr
	c   *typeCodec
}

func fillStruct(c *typeCodec, fields []fieldCodec) {
	switch len(fields) {
	case 0:
		c.enc = func(*encoder, unsafe.Pointer) error { return nil }
		c.dec = func(*decoder, unsafe.Pointer) error { return nil }
		return
	}
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		for i := range fields {
			f := &fields[i]
			if err := f.c.enc(e, unsafe.Add(p, f.off)); err != nil {
				return err
			}
		}
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		for i := range fields {
			f := &fields[i]
			if err := f.c.dec(d, unsafe.Add(p, f.off)); err != nil {
				return err
			}
		}
		return nil
	}
}

func fillInterface(c *typeCodec, t reflect.Type) {
	c.min = 1
	c.enc = func(e *encoder, p unsafe.Pointer) error {
		v := reflect.NewAt(t, p).Elem()
		if v.IsNil() {
			e.buf = append(e.buf, 0)
			return nil
		}
		dv := v.Elem()
		r, ok := registeredType(dv.Type())
		if !ok {
			return fmt.Errorf("%w: %s in a %s", ErrUnregistered, dv.Type(), t)
		}
		e.uvarint(uint64(len(r.name)) + 1)
		e.buf = append(e.buf, r.name...)
		tmp := reflect.New(r.t)
		tmp.Elem().Set(dv)
		q := tmp.UnsafePointer()
		if err := e.enter(p, t); err != nil {
			return err
		}
		err := r.codec.enc(e, q)
		e.leave(p, t)
		return err
	}
	c.dec = func(d *decoder, p unsafe.Pointer) error {
		n, isNil, err := d.nilOrLength(1, false)
		if err != nil {
			return err
		}
		dst := reflect.NewAt(t, p).Elem()
		if isNil {
			dst.SetZero()
			return nil
		}
		name := d.bytes(n)
		r, ok := registeredName(name)
		if !ok {
			return fmt.Errorf("%w: unknown type name %q", ErrCorrupt, name)
		}
		if !r.t.Implements(t) {
			return fmt.Errorf("%w: %s does not implement %s", ErrCorrupt, r.t, t)
		}
		if d.left() < r.codec.min {
			return ErrCorrupt
		}
		if err := d.enter(); err != nil {
			return err
		}
		tmp := reflect.New(r.t)
		if err := r.codec.dec(d, tmp.UnsafePointer()); err != nil {
			return err
		}
		d.depth--
		dst.Set(tmp.Elem())
		return nil
	}
}

// Types kept through their own methods.

func fillMarshaler(c *typeCodec, t reflect.Type) {
	c.min = 1
	c.enc = func(e *encoder, p unsafe.Pointer) (err error) {
		m := reflect.NewAt(t, p).Interface().(encoding.BinaryMarshaler)
		defer func() { // the method is the user's code; a panic in it is an error here
			if r := recover(); r != nil {
				err = fmt.Errorf("codec: %s.MarshalBinary panicked: %v", t, r)
			}
		}()
		b, err := m.MarshalBinary()
		if err != nil {
			return fmt.Errorf("codec: %s.MarshalBinary: %w", t, err)
		}
		e.uvarint(uint64(len(b)))
		e.buf = append(e.buf, b...)
		return nil
	}
	c.dec = func(d *decoder, p unsafe.Pointer) (err error) {
		n, err := d.length(1)
		if err != nil {
			return err
		}
		b := append([]byte(nil), d.bytes(n)...)
		v := reflect.NewAt(t, p)
		// The method may add to what it finds (a set, a log): start it
		// from the zero value, as in memory just allocated, also where
		// DecodeTo decodes in place over a value that held something.
		v.Elem().SetZero()
		u := v.Interface().(encoding.BinaryUnmarshaler)
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %s.UnmarshalBinary panicked: %v", ErrCorrupt, t, r)
			}
		}()
		if err := u.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("%w: %s.UnmarshalBinary: %v", ErrCorrupt, t, err)
		}
		return nil
	}
}
