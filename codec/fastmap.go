package codec

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// stringMapDecoder returns the decoder of a map type with string keys and
// values of a basic type (map[string]int, map[string]string, ...), which
// decodes straight into a Go map rather than through reflect, or nil for
// any other map type. It reads what fillMap's encoder wrote, with the same
// checks as fillMap's decoder.
func stringMapDecoder(t reflect.Type, entryMin int) decFn {
	if t.Key() != reflect.TypeFor[string]() {
		return nil
	}
	switch t.Elem() {
	case reflect.TypeFor[string]():
		return stringMapDec(entryMin, func(d *decoder) (string, error) {
			n, err := d.length(1)
			if err != nil {
				return "", err
			}
			return d.str(n), nil
		})
	case reflect.TypeFor[int64]():
		return stringMapDec(entryMin, (*decoder).varint)
	case reflect.TypeFor[int]():
		if t.Elem().Size() != 8 {
			return nil // a narrower int is checked for overflow: the general path
		}
		return stringMapDec(entryMin, func(d *decoder) (int, error) {
			x, err := d.varint()
			return int(x), err
		})
	case reflect.TypeFor[bool]():
		return stringMapDec(entryMin, func(d *decoder) (bool, error) {
			c, err := d.byte1()
			if err == nil && c > 1 {
				err = fmt.Errorf("%w: bool byte %d", ErrCorrupt, c)
			}
			return c == 1, err
		})
	case reflect.TypeFor[float64]():
		return stringMapDec(entryMin, func(d *decoder) (float64, error) {
			b, err := d.fixed(8)
			if err != nil {
				return 0, err
			}
			return math.Float64frombits(le64(b)), nil
		})
	}
	return nil
}

// stringMapDec decodes a map[string]V (or a map type defined on it), with
// decV reading one value.
func stringMapDec[V any](entryMin int, decV func(d *decoder) (V, error)) decFn {
	return func(d *decoder, p unsafe.Pointer) error {
		n, isNil, err := d.nilOrLength(entryMin, false)
		if err != nil {
			return err
		}
		dst := (*map[string]V)(p)
		if isNil {
			*dst = nil
			return nil
		}
		if err := d.enter(); err != nil {
			return err
		}
		m := make(map[string]V, n)
		for range n {
			kn, err := d.length(1)
			if err != nil {
				return err
			}
			k := d.str(kn)
			v, err := decV(d)
			if err != nil {
				return err
			}
			m[k] = v
		}
		if len(m) != n {
			return fmt.Errorf("%w: duplicate map keys", ErrCorrupt)
		}
		d.depth--
		*dst = m
		return nil
	}
}
