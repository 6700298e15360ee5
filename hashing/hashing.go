// Package hashing turns a call's arguments into a cache key.
//
// # The default key
//
// The default key is structural: two argument lists get the same key when
// they hold equal values of the same types, in any process on any machine,
// and different keys otherwise. It covers what Python cachier cannot hash:
//
//   - structs, field by field, unexported fields included (where
//     github.com/mitchellh/hashstructure/v2 alone skips them, so that
//     priv{1} and priv{2} would share a key);
//   - maps, independently of iteration order;
//   - slices and arrays, element by element; a nil slice, map or pointer is
//     not the same key as an empty or zero one;
//   - pointers, by what they point to;
//   - interfaces, by the dynamic type and value;
//   - time.Time, by instant and location (never the monotonic reading).
//
// It follows hashstructure/v2's conventions: a struct field tagged
// `hash:"ignore"` or `hash:"-"` takes no part, a slice field tagged
// `hash:"set"` is hashed independently of order, and a type implementing
// hashstructure.Hashable is hashed by its Hash method.
//
// Funcs, channels and unsafe pointers cannot be hashed: NewKeyer rejects a
// parameter of such a type, and a key computation that meets one inside an
// interface fails.
//
// # The encoding and the digest
//
// Arguments are first written in a canonical encoding: injective (two
// different argument lists never have one encoding), fixed-width and
// little-endian, so that it does not depend on the machine's word size or
// byte order. Maps and hash:"set" slices are written with their items in
// sorted order. Named types are written by import path and name.
//
// Keys are SHA-256 digests of the encoding, written as 64 lowercase hex
// digits: callers who choose arguments cannot make two argument lists share
// a key (128-bit collision resistance). A store that keeps Go values in
// this process may key by the encoding itself (Keyer.ValueKeyFrom), which
// costs no hashing.
//
// # Cycles and depth
//
// A value that contains itself (a slice holding itself through an
// interface, a struct pointing to itself) cannot be keyed: the key
// computation fails with an error wrapping ErrCyclic (and ErrUnhashable)
// instead of recursing. Values nested deeper than 1,000 levels fail alike.
//
// Time values, and values of types defined on time.Time (type Day
// time.Time), are keyed by instant and location, never by the monotonic
// clock reading.
package hashing

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/mitchellh/hashstructure/v2"
)

// Func computes the key of a call from its arguments (context and receiver
// left out). Equal arguments must give equal keys in every process that
// shares a store; a key must be a non-empty printable string. A store of
// bytes (every backend but memory) gets a key that is not 32 to 128
// lowercase hex digits as its hex SHA-256 digest. An error, or a panic,
// makes the call uncached: the function is called, its result returned
// and not stored.
type Func func(args []any) (string, error)

// Default is the structural key function, on boxed arguments. The cachier
// core uses a Keyer, which gives the same keys without boxing.
func Default(args []any) (string, error) {
	s := getState()
	defer putState(s)
	for _, a := range args {
		if err := s.iface(reflect.ValueOf(&a).Elem()); err != nil {
			return "", err
		}
	}
	return s.key(), nil
}

// A Keyer computes the default key for argument lists of fixed types. It is
// built once per signature and safe for concurrent use.
type Keyer struct {
	args []argEncoder
}

type argEncoder struct {
	id  string  // type identity of a concrete parameter type
	enc encoder // nil for an interface parameter: resolved per call
}

// NewKeyer returns a Keyer for arguments of the given types. It fails when
// a type cannot be hashed (a func, channel or unsafe pointer, anywhere
// inside it).
func NewKeyer(types []reflect.Type) (*Keyer, error) {
	k := &Keyer{args: make([]argEncoder, len(types))}
	for i, t := range types {
		if t.Kind() == reflect.Interface {
			continue
		}
		if err := Hashable(t); err != nil {
			return nil, err
		}
		k.args[i] = argEncoder{id: typeID(t), enc: encoderFor(t)}
	}
	return k, nil
}

// Key returns the key of args, which must have the types given to NewKeyer.
// Key(args) equals Default of the same values boxed in interfaces.
func (k *Keyer) Key(args []reflect.Value) (string, error) {
	s := getState()
	defer putState(s)
	for i, a := range k.args {
		if a.enc == nil {
			if err := s.iface(args[i]); err != nil {
				return "", err
			}
			continue
		}
		s.str(a.id)
		if err := a.enc(s, args[i]); err != nil {
			return "", err
		}
	}
	return s.key(), nil
}

// ErrUnhashable is wrapped by the errors of types that cannot be hashed.
var ErrUnhashable = errors.New("cannot be hashed")

// Hashable reports, with an error naming the offending part, whether values
// of type t can be hashed by the default key function. Interface types are
// accepted: their dynamic values are checked per call.
func Hashable(t reflect.Type) error {
	return hashable(t, map[reflect.Type]bool{})
}

func hashable(t reflect.Type, seen map[reflect.Type]bool) error {
	if seen[t] {
		return nil
	}
	seen[t] = true
	if isTime(t) || t.Implements(hashableType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Invalid:
		return fmt.Errorf("type %s: %w (use hash_func to key it yourself)", t, ErrUnhashable)
	case reflect.Pointer, reflect.Slice, reflect.Array:
		if err := hashable(t.Elem(), seen); err != nil {
			return wrapIn(t, err)
		}
	case reflect.Map:
		if err := hashable(t.Key(), seen); err != nil {
			return wrapIn(t, err)
		}
		if err := hashable(t.Elem(), seen); err != nil {
			return wrapIn(t, err)
		}
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if skipField(f) {
				continue
			}
			if err := hashable(f.Type, seen); err != nil {
				return fmt.Errorf("field %s.%s: %w", t, f.Name, err)
			}
		}
	}
	return nil
}

func wrapIn(t reflect.Type, err error) error {
	return fmt.Errorf("in %s: %w", t, err)
}

func skipField(f reflect.StructField) bool {
	if f.Name == "_" {
		return true
	}
	tag := f.Tag.Get("hash")
	return tag == "ignore" || tag == "-"
}

// isTime reports whether t is time.Time or a type defined on it.
func isTime(t reflect.Type) bool {
	return t == timeType || t.Kind() == reflect.Struct && t.ConvertibleTo(timeType)
}

var (
	timeType     = reflect.TypeOf(time.Time{})
	hashableType = reflect.TypeOf((*hashstructure.Hashable)(nil)).Elem()
)

// state is the byte stream being built for one key.
type state struct {
	b     []byte
	depth int
	path  map[visit]struct{} // the references being encoded, past cycleDepth
	items []span             // scratch of the unordered encoders
}

// A visit is one reference (pointer, slice or map) on the path from the
// argument to the value being encoded: meeting it again is a cycle.
type visit struct {
	ptr uintptr
	n   int
	typ reflect.Type
}

// A span is one item of an unordered collection in state.b.
type span struct{ from, to int }

var statePool = sync.Pool{New: func() any { return &state{b: make([]byte, 0, 256)} }}

func getState() *state { return statePool.Get().(*state) }

func putState(s *state) {
	if cap(s.b) > 64<<10 {
		return // let a huge buffer go
	}
	s.b, s.depth, s.items = s.b[:0], 0, s.items[:0]
	clear(s.path)
	statePool.Put(s)
}

// key is the SHA-256 digest of the encoding, in hex.
func (s *state) key() string {
	raw := sha256.Sum256(s.b)
	var out [2 * sha256.Size]byte
	return string(hexAppend(out[:0], &raw))
}

// Value keys (Keyer.ValueKeyFrom, BorrowValueKey) are a 0 byte and the
// encoding, for an encoding of at most maxValueKey bytes, else a 1 byte and
// the 32 bytes of its SHA-256: the first byte keeps the two kinds apart.
const maxValueKey = 256

func (s *state) u64(x uint64) { s.b = binary.LittleEndian.AppendUint64(s.b, x) }
func (s *state) byte1(x byte) { s.b = append(s.b, x) }
func (s *state) str(x string) {
	s.b = binary.AppendUvarint(s.b, uint64(len(x)))
	s.b = append(s.b, x...)
}

// maxDepth bounds nesting. cycleDepth is the depth past which references
// are tracked, so that a cyclic value fails at once with ErrCyclic: values
// nested less deeply cost no tracking.
const (
	maxDepth   = 1000
	cycleDepth = 16
)

// iface encodes v, a value of interface type, as its dynamic type and value.
func (s *state) iface(v reflect.Value) error {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			s.str("") // no type is named ""
			return nil
		}
		v = v.Elem()
	}
	t := v.Type()
	if err := cachedHashable(t); err != nil {
		return err
	}
	s.str(typeID(t))
	return encoderFor(t)(s, v)
}

// cachedHashable is Hashable, remembered per type: interface arguments
// check their dynamic type on every call.
func cachedHashable(t reflect.Type) error {
	if err, ok := okTypes.Load(t); ok {
		if err == nil {
			return nil
		}
		return err.(error)
	}
	err := Hashable(t)
	if err == nil {
		okTypes.Store(t, nil)
	} else {
		okTypes.Store(t, err)
	}
	return err
}

// An encoder appends the canonical encoding of v, of its type, to s.
type encoder func(s *state, v reflect.Value) error

var (
	encoders sync.Map // reflect.Type -> encoder
	typeIDs  sync.Map // reflect.Type -> string
	okTypes  sync.Map // reflect.Type -> error (nil when hashable)
)

// typeID identifies t across processes: by import path and name for named
// types, by structure otherwise.
func typeID(t reflect.Type) string {
	if id, ok := typeIDs.Load(t); ok {
		return id.(string)
	}
	name := t.String()
	if t.Name() != "" && t.PkgPath() != "" {
		name = t.PkgPath() + "." + t.Name()
	}
	typeIDs.Store(t, name)
	return name
}

func encoderFor(t reflect.Type) encoder {
	if e, ok := encoders.Load(t); ok {
		return e.(encoder)
	}
	// Recursive types: publish an indirect encoder first, as encoding/json
	// does, so that building t's encoder can refer to t.
	var (
		wg sync.WaitGroup
		f  encoder
	)
	wg.Add(1)
	indirect := encoder(func(s *state, v reflect.Value) error {
		wg.Wait()
		return f(s, v)
	})
	if e, loaded := encoders.LoadOrStore(t, indirect); loaded {
		return e.(encoder)
	}
	f = newEncoder(t)
	wg.Done()
	encoders.Store(t, f)
	return f
}

func newEncoder(t reflect.Type) encoder {
	if t == timeType {
		return encodeTime
	}
	if isTime(t) { // type Day time.Time: as the time.Time it holds
		return func(s *state, v reflect.Value) error { return encodeTime(s, v.Convert(timeType)) }
	}
	if t.Implements(hashableType) && t.Kind() != reflect.Interface {
		return encodeHashable(t)
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(s *state, v reflect.Value) error {
			if v.Bool() {
				s.byte1(1)
			} else {
				s.byte1(0)
			}
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(s *state, v reflect.Value) error { s.u64(uint64(v.Int())); return nil }
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(s *state, v reflect.Value) error { s.u64(v.Uint()); return nil }
	case reflect.Float32, reflect.Float64:
		return func(s *state, v reflect.Value) error { s.u64(math.Float64bits(v.Float())); return nil }
	case reflect.Complex64, reflect.Complex128:
		return func(s *state, v reflect.Value) error {
			c := v.Complex()
			s.u64(math.Float64bits(real(c)))
			s.u64(math.Float64bits(imag(c)))
			return nil
		}
	case reflect.String:
		return func(s *state, v reflect.Value) error { s.str(v.String()); return nil }
	case reflect.Interface:
		return func(s *state, v reflect.Value) error {
			if err := s.enter(); err != nil {
				return err
			}
			err := s.iface(v)
			s.depth--
			return err
		}
	case reflect.Pointer:
		return pointerEncoder(encoderFor(t.Elem()))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && t.Elem() == reflect.TypeOf(byte(0)) {
			return func(s *state, v reflect.Value) error {
				if v.IsNil() {
					s.byte1(0)
					return nil
				}
				s.byte1(1)
				b := v.Bytes()
				s.b = binary.AppendUvarint(s.b, uint64(len(b)))
				s.b = append(s.b, b...)
				return nil
			}
		}
		elem := encoderFor(t.Elem())
		return func(s *state, v reflect.Value) error {
			if v.IsNil() {
				s.byte1(0)
				return nil
			}
			s.byte1(1)
			leave, err := s.visit(v)
			if err != nil {
				return err
			}
			err = s.sequence(v, elem)
			leave()
			return err
		}
	case reflect.Array:
		elem := encoderFor(t.Elem())
		return func(s *state, v reflect.Value) error { return s.sequence(v, elem) }
	case reflect.Map:
		return mapEncoder(t)
	case reflect.Struct:
		return structEncoder(t)
	}
	return func(s *state, v reflect.Value) error {
		return fmt.Errorf("type %s: %w", t, ErrUnhashable)
	}
}

// pointerEncoder encodes a pointer as nil or as what it points to.
func pointerEncoder(elem encoder) encoder {
	return func(s *state, v reflect.Value) error {
		if v.IsNil() {
			s.byte1(0)
			return nil
		}
		s.byte1(1)
		if err := s.enter(); err != nil {
			return err
		}
		leave, err := s.visit(v)
		if err == nil {
			err = elem(s, v.Elem())
			leave()
		}
		s.depth--
		return err
	}
}

// enter goes one level deeper; the caller decrements s.depth when done.
func (s *state) enter() error {
	s.depth++
	if s.depth > maxDepth {
		s.depth--
		return errTooDeep
	}
	return nil
}

var errTooDeep = fmt.Errorf("value nested deeper than %d levels: %w", maxDepth, ErrUnhashable)

// ErrCyclic is wrapped by the error of a value that contains itself. Such
// an error also wraps ErrUnhashable.
var ErrCyclic = errors.New("cyclic value")

var errCyclic = fmt.Errorf("%w: it contains itself, so no finite key describes it: %w", ErrCyclic, ErrUnhashable)

func nothing() {}

// visit records reference v (a non-nil pointer, slice or map) on the path
// being encoded, past cycleDepth, and fails with errCyclic when it is on
// the path already. The caller calls leave when done with v.
func (s *state) visit(v reflect.Value) (leave func(), err error) {
	if s.depth < cycleDepth {
		return nothing, nil
	}
	k := visit{ptr: v.Pointer(), typ: v.Type()}
	if v.Kind() == reflect.Slice {
		k.n = v.Len()
	}
	if _, ok := s.path[k]; ok {
		return nil, errCyclic
	}
	if s.path == nil {
		s.path = map[visit]struct{}{}
	}
	s.path[k] = struct{}{}
	return func() { delete(s.path, k) }, nil
}

func (s *state) sequence(v reflect.Value, elem encoder) error {
	n := v.Len()
	s.b = binary.AppendUvarint(s.b, uint64(n))
	for i := range n {
		if err := elem(s, v.Index(i)); err != nil {
			return err
		}
	}
	return nil
}

// An unordered collection (a map, a hash:"set" slice) is encoded
// independently of its order: each item is encoded on its own, and the
// items are written sorted by their encodings, each with its length. The
// encoding stays injective; no item digest is involved.
type unordered struct {
	s     *state
	start int // where the items' encodings begin in s.b
	first int // the first of this collection's spans in s.items
	n     int
}

func (s *state) beginUnordered() (*unordered, error) {
	if s.depth+1 > maxDepth {
		return nil, errTooDeep
	}
	s.depth++
	return &unordered{s: s, start: len(s.b), first: len(s.items)}, nil
}

// item starts the next item; the caller then encodes it into u.s.
func (u *unordered) item() {
	u.close()
	u.s.items = append(u.s.items, span{from: len(u.s.b)})
	u.n++
}

// close ends the current item, if any.
func (u *unordered) close() {
	if u.n > 0 {
		u.s.items[len(u.s.items)-1].to = len(u.s.b)
	}
}

// abort gives up the collection after an error.
func (u *unordered) abort() {
	u.s.depth--
	u.s.items = u.s.items[:u.first]
}

// end writes the items sorted, in place of their encodings in order.
func (u *unordered) end() {
	u.close()
	s := u.s
	s.depth--
	items := s.items[u.first:]
	enc := s.b[u.start:]
	slices.SortFunc(items, func(a, b span) int {
		return bytes.Compare(s.b[a.from:a.to], s.b[b.from:b.to])
	})
	// The sorted copy goes after the encodings, then replaces them.
	out := binary.AppendUvarint(s.b, uint64(u.n))
	for _, it := range items {
		out = binary.AppendUvarint(out, uint64(it.to-it.from))
		out = append(out, out[it.from:it.to]...)
	}
	s.b = append(s.b[:u.start], out[u.start+len(enc):]...)
	s.items = s.items[:u.first]
}

func mapEncoder(t reflect.Type) encoder {
	kt, vt := t.Key(), t.Elem()
	kenc, venc := encoderFor(kt), encoderFor(vt)
	return func(s *state, v reflect.Value) error {
		if v.IsNil() {
			s.byte1(0)
			return nil
		}
		s.byte1(1)
		u, err := s.beginUnordered()
		if err != nil {
			return err
		}
		leave, err := s.visit(v)
		if err != nil {
			u.abort()
			return err
		}
		defer leave()
		var it reflect.MapIter
		it.Reset(v)
		// Reuse one key and one value for every entry where reflect allows
		// (SetIterKey refuses maps reached through unexported fields).
		var k, e reflect.Value
		reuse := v.CanInterface()
		if reuse {
			k, e = reflect.New(kt).Elem(), reflect.New(vt).Elem()
		}
		for it.Next() {
			u.item()
			if reuse {
				k.SetIterKey(&it)
				e.SetIterValue(&it)
			} else {
				k, e = it.Key(), it.Value()
			}
			if err := kenc(s, k); err != nil {
				u.abort()
				return err
			}
			if err := venc(s, e); err != nil {
				u.abort()
				return err
			}
		}
		if u.n != v.Len() {
			u.abort()
			return errors.New("map changed while being hashed")
		}
		u.end()
		return nil
	}
}

func setEncoder(t reflect.Type) encoder {
	elem := encoderFor(t.Elem())
	return func(s *state, v reflect.Value) error {
		if v.Kind() == reflect.Slice && v.IsNil() {
			s.byte1(0)
			return nil
		}
		s.byte1(1)
		u, err := s.beginUnordered()
		if err != nil {
			return err
		}
		for i := range v.Len() {
			u.item()
			if err := elem(s, v.Index(i)); err != nil {
				u.abort()
				return err
			}
		}
		u.end()
		return nil
	}
}

func structEncoder(t reflect.Type) encoder {
	type field struct {
		index int
		enc   encoder
	}
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		if skipField(f) {
			continue
		}
		enc := encoderFor(f.Type)
		if f.Tag.Get("hash") == "set" && (f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Array) {
			enc = setEncoder(f.Type)
		}
		fields = append(fields, field{i, enc})
	}
	return func(s *state, v reflect.Value) error {
		for _, f := range fields {
			if err := f.enc(s, v.Field(f.index)); err != nil {
				return err
			}
		}
		return nil
	}
}

func encodeTime(s *state, v reflect.Value) error {
	t := timeOf(v)
	name, offset := t.Zone()
	s.u64(uint64(t.Unix()))
	s.u64(uint64(t.Nanosecond()))
	s.u64(uint64(int64(offset)))
	s.str(name)
	return nil
}

// timeOf returns the time.Time in v, which may be an unexported field that
// reflect will not hand out through Interface.
func timeOf(v reflect.Value) time.Time {
	switch {
	case v.CanInterface():
		return v.Interface().(time.Time)
	case v.CanAddr():
		return *(*time.Time)(unsafe.Pointer(v.UnsafeAddr()))
	}
	// Neither: read the fields of time.Time's layout, unchanged since Go 1.9
	// (wall uint64; ext int64; loc *Location). TestTimeLayout guards it.
	const (
		hasMonotonic   = 1 << 63
		nsecMask       = 1<<30 - 1
		nsecShift      = 30
		secondsPerDay  = 86400
		wallToInternal = (1884*365 + 1884/4 - 1884/100 + 1884/400) * secondsPerDay
		unixToInternal = (1969*365 + 1969/4 - 1969/100 + 1969/400) * secondsPerDay
	)
	wall, ext := v.Field(0).Uint(), v.Field(1).Int()
	sec := ext
	if wall&hasMonotonic != 0 {
		sec = wallToInternal + int64(wall<<1>>(nsecShift+1))
	}
	t := time.Unix(sec-unixToInternal, int64(wall&nsecMask))
	if loc := (*time.Location)(v.Field(2).UnsafePointer()); loc != nil {
		return t.In(loc)
	}
	return t.UTC()
}

func encodeHashable(t reflect.Type) encoder {
	fallback := newStructural(t)
	return func(s *state, v reflect.Value) error {
		if !v.CanInterface() {
			return fallback(s, v)
		}
		if v.Kind() == reflect.Pointer && v.IsNil() {
			s.byte1(0)
			return nil
		}
		h, err := callHash(v.Interface().(hashstructure.Hashable))
		if err != nil {
			return fmt.Errorf("%s.Hash: %w", t, err)
		}
		s.byte1(1)
		s.u64(h)
		return nil
	}
}

// callHash calls a Hash method, the user's code: a panic in it is an
// error, so that the call is made uncached rather than failed.
func callHash(h hashstructure.Hashable) (sum uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return h.Hash()
}

// newStructural is newEncoder ignoring the Hashable interface, for values
// whose Hash method cannot be reached (unexported fields).
func newStructural(t reflect.Type) encoder {
	switch t.Kind() {
	case reflect.Struct:
		return structEncoder(t)
	case reflect.Map:
		return mapEncoder(t)
	case reflect.Pointer:
		return pointerEncoder(newStructural(t.Elem()))
	}
	return func(s *state, v reflect.Value) error {
		return fmt.Errorf("type %s implements hashstructure.Hashable but is unexported here: %w", t, ErrUnhashable)
	}
}

// KeyFrom is Key of the arguments all[i] for i in pos, without copying them
// out: the core passes a call's whole argument list and the positions of
// the key arguments.
func (k *Keyer) KeyFrom(all []reflect.Value, pos []int) (string, error) {
	s := getState()
	defer putState(s)
	if err := k.encode(s, all, pos); err != nil {
		return "", err
	}
	return s.key(), nil
}

// BorrowKey is KeyFrom without allocating: key lives in a pooled buffer,
// valid until s.Release. The caller clones key (strings.Clone) to keep it
// longer: the file store's hit path looks the key up and is done with it.
func (k *Keyer) BorrowKey(all []reflect.Value, pos []int) (key string, s *Scratch, err error) {
	st := getState()
	if err := k.encode(st, all, pos); err != nil {
		putState(st)
		return "", nil, err
	}
	sum := sha256.Sum256(st.b)
	st.b = hexAppend(st.b[:0], &sum)
	return unsafe.String(unsafe.SliceData(st.b), len(st.b)), (*Scratch)(st), nil
}

// hexPairs holds the two lowercase hexadecimal digits of every byte.
var hexPairs = func() (t [256][2]byte) {
	const digits = "0123456789abcdef"
	for i := range t {
		t[i] = [2]byte{digits[i>>4], digits[i&15]}
	}
	return t
}()

// hexAppend appends the lowercase hexadecimal digits of sum to dst.
func hexAppend(dst []byte, sum *[sha256.Size]byte) []byte {
	for _, b := range sum {
		dst = append(dst, hexPairs[b][0], hexPairs[b][1])
	}
	return dst
}

// ValueKeyFrom is KeyFrom for a store that keeps Go values in this process
// (store.ValueStore): the canonical encoding itself, tagged, where it is at
// most 256 bytes, which costs no hashing, else its SHA-256, tagged
// otherwise. Such keys must not leave the process: they are not printable.
func (k *Keyer) ValueKeyFrom(all []reflect.Value, pos []int) (string, error) {
	key, s, err := k.BorrowValueKey(all, pos)
	if s != nil {
		key = strings.Clone(key)
		s.Release()
	}
	return key, err
}

// A Scratch holds the buffer of a borrowed key (BorrowValueKey) until
// Release.
type Scratch state

// Release returns the buffer of a borrowed key: the key must not be used
// afterwards.
func (s *Scratch) Release() { putState((*state)(s)) }

// BorrowValueKey is ValueKeyFrom without allocating: key lives in a pooled
// buffer, valid until s.Release (s is nil when key is its own string, a
// digest). The caller clones key (strings.Clone) to keep it longer: the
// memory backend's hit path looks the key up and is done with it.
func (k *Keyer) BorrowValueKey(all []reflect.Value, pos []int) (key string, s *Scratch, err error) {
	st := getState()
	st.byte1(0)
	for i, a := range k.args {
		v := all[pos[i]]
		if a.enc == nil {
			err = st.iface(v)
		} else {
			err = a.enc(st, v)
		}
		if err != nil {
			putState(st)
			return "", nil, err
		}
	}
	if len(st.b) > 1+maxValueKey {
		sum := sha256.Sum256(st.b[1:])
		st.b = append(st.b[:0], 1)
		key = string(append(st.b, sum[:]...))
		putState(st)
		return key, nil, nil
	}
	return unsafe.String(unsafe.SliceData(st.b), len(st.b)), (*Scratch)(st), nil
}

func (k *Keyer) encode(s *state, all []reflect.Value, pos []int) error {
	for i, a := range k.args {
		v := all[pos[i]]
		if a.enc == nil {
			if err := s.iface(v); err != nil {
				return err
			}
			continue
		}
		s.str(a.id)
		if err := a.enc(s, v); err != nil {
			return err
		}
	}
	return nil
}
