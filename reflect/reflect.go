// Package reflectx analyses the signatures of the functions cachier wraps and
// builds their wrappers. Everything here runs once per function type, at
// decoration time, never per call.
//
// Import it under its package name, beside the standard library's:
//
//	import reflectx "github.com/cachier-go/cachier/reflect"
package reflectx

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

var (
	contextType = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType   = reflect.TypeOf((*error)(nil)).Elem()
)

// A Signature is what cachier needs to know of a function type.
type Signature struct {
	Type reflect.Type // the func type

	// Ctx is the index of the first context.Context parameter, or -1.
	Ctx int
	// Receiver is 0 when the first parameter is the decorated struct type
	// or a pointer to it (a method-expression-shaped field), else -1.
	Receiver int
	// KeyArgs are the indexes of the parameters that make the key: all but
	// context.Context parameters and the receiver.
	KeyArgs []int
	// KeyTypes are the types of KeyArgs, in order.
	KeyTypes []reflect.Type

	// Err is the index of the error result when the last result is of type
	// error, else -1.
	Err int
	// Values are the indexes of the results that are cached: all but Err.
	Values []int
	// ValueTypes are the types of Values, in order.
	ValueTypes []reflect.Type

	// Fingerprint identifies the parameter and result types, deeply: it
	// changes when a signature changes or when a struct, map or slice type
	// used in it gains, loses, renames or retypes a field.
	Fingerprint string
}

type sigKey struct{ fn, recv reflect.Type }

var sigCache sync.Map // sigKey -> *Signature

// Analyze returns the signature of func type fn. recv is the struct type
// being decorated (nil for a func variable): a first parameter of that type
// or a pointer to it is the receiver. The result is cached per (fn, recv).
func Analyze(fn, recv reflect.Type) (*Signature, error) {
	k := sigKey{fn, recv}
	if s, ok := sigCache.Load(k); ok {
		return s.(*Signature), nil
	}
	if fn.Kind() != reflect.Func {
		return nil, fmt.Errorf("type %s is not a func", fn)
	}
	s := &Signature{Type: fn, Ctx: -1, Receiver: -1, Err: -1}
	if recv != nil && fn.NumIn() > 0 {
		if in := fn.In(0); in == recv || in.Kind() == reflect.Pointer && in.Elem() == recv {
			s.Receiver = 0
		}
	}
	for i := range fn.NumIn() {
		in := fn.In(i)
		switch {
		case i == s.Receiver:
		case in == contextType:
			if s.Ctx < 0 {
				s.Ctx = i
			}
		default:
			s.KeyArgs = append(s.KeyArgs, i)
			s.KeyTypes = append(s.KeyTypes, in)
		}
	}
	n := fn.NumOut()
	if n > 0 && fn.Out(n-1) == errorType {
		s.Err = n - 1
	}
	for i := range n {
		if i != s.Err {
			s.Values = append(s.Values, i)
			s.ValueTypes = append(s.ValueTypes, fn.Out(i))
		}
	}
	s.Fingerprint = fingerprint(fn)
	v, _ := sigCache.LoadOrStore(k, s)
	return v.(*Signature), nil
}

// fingerprint hashes a deep description of t.
func fingerprint(t reflect.Type) string {
	var b strings.Builder
	Describe(&b, t, map[reflect.Type]bool{})
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// Describe writes t with every named type expanded once: a type's identity
// is its name and import path plus its structure. seen holds the named
// types already expanded, so that a description of several types (shared
// seen) expands each once. Fingerprints of types hash what it writes.
func Describe(b *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	if t.Name() != "" {
		b.WriteString(t.PkgPath())
		b.WriteByte('.')
		b.WriteString(t.Name())
		if seen[t] || t.PkgPath() == "" { // predeclared, or already expanded
			return
		}
		seen[t] = true
		b.WriteByte('=')
	}
	switch t.Kind() {
	case reflect.Pointer:
		b.WriteByte('*')
		Describe(b, t.Elem(), seen)
	case reflect.Slice:
		b.WriteString("[]")
		Describe(b, t.Elem(), seen)
	case reflect.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		Describe(b, t.Elem(), seen)
	case reflect.Map:
		b.WriteString("map[")
		Describe(b, t.Key(), seen)
		b.WriteByte(']')
		Describe(b, t.Elem(), seen)
	case reflect.Chan:
		fmt.Fprintf(b, "chan(%d)", t.ChanDir())
		Describe(b, t.Elem(), seen)
	case reflect.Struct:
		b.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			b.WriteString(f.Name)
			b.WriteByte(' ')
			Describe(b, f.Type, seen)
			if f.Tag != "" {
				fmt.Fprintf(b, " %q", f.Tag)
			}
			b.WriteByte(';')
		}
		b.WriteByte('}')
	case reflect.Func:
		b.WriteString("func(")
		for i := range t.NumIn() {
			Describe(b, t.In(i), seen)
			b.WriteByte(',')
		}
		b.WriteString(")(")
		for i := range t.NumOut() {
			Describe(b, t.Out(i), seen)
			b.WriteByte(',')
		}
		b.WriteByte(')')
		if t.IsVariadic() {
			b.WriteString("...")
		}
	case reflect.Interface:
		b.WriteString("interface{")
		methods := make([]string, t.NumMethod())
		for i := range methods {
			methods[i] = t.Method(i).Name + t.Method(i).Type.String()
		}
		sort.Strings(methods)
		b.WriteString(strings.Join(methods, ";"))
		b.WriteByte('}')
	default:
		b.WriteString(t.Kind().String())
	}
}

// IsContext reports whether t is context.Context.
func IsContext(t reflect.Type) bool { return t == contextType }

// ErrorType is the type of the error interface.
func ErrorType() reflect.Type { return errorType }

// Nilable reports whether values of type t can be nil.
func Nilable(t reflect.Type) bool { return NilableKind(t.Kind()) }

// NilableKind reports whether values of kind k can be nil.
func NilableKind(k reflect.Kind) bool {
	switch k {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	}
	return false
}

// CheckValue reports, as an error saying what v is, why v cannot stand
// for a value of type t where reflect sets it or a function made by
// MakeFunc returns it: v is invalid, read from an unexported field, or of
// another type than t (for an interface t, of a type not implementing
// it). It returns nil when v can.
func CheckValue(t reflect.Type, v reflect.Value) error {
	if !v.IsValid() {
		return errors.New("an invalid reflect.Value")
	}
	if vt := v.Type(); vt != t && (t.Kind() != reflect.Interface || !vt.Implements(t)) {
		return fmt.Errorf("a %v", vt)
	}
	if !v.CanInterface() {
		return errors.New("a value obtained from an unexported field")
	}
	return nil
}

// MakeFunc returns a func of type t that calls impl, as reflect.MakeFunc.
// It exists so that the core builds every wrapper through one place.
func MakeFunc(t reflect.Type, impl func(args []reflect.Value) []reflect.Value) reflect.Value {
	return reflect.MakeFunc(t, impl)
}
