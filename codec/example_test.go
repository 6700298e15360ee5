package codec_test

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/cachier-go/cachier/codec"
)

type Rows struct {
	Names []string
	total int // unexported: kept
	when  time.Time
}

// An entry round-trips a result exactly; its header names the codec.
func ExampleNewPlan() {
	p, err := codec.NewPlan(codec.Default(), []reflect.Type{reflect.TypeOf(Rows{})}, "zstd")
	if err != nil {
		panic(err)
	}
	in := Rows{Names: []string{}, total: 3, when: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	b, err := p.Encode([]reflect.Value{reflect.ValueOf(in)})
	if err != nil {
		panic(err)
	}
	out, err := p.Decode(b)
	if err != nil {
		panic(err)
	}
	got := out[0].Interface().(Rows)
	h, _, _ := codec.ReadHeader(b)
	fmt.Println(reflect.DeepEqual(got, in), got.Names != nil, h.Codec, h.Compression)

	_, err = p.Decode([]byte("bytes cachier did not write"))
	fmt.Println(errors.Is(err, codec.ErrMismatch))
	// Output:
	// true true cachier none
	// true
}

type Circle struct{ R float64 }

func (c Circle) Area() float64 { return 3 * c.R * c.R }

type Shape interface{ Area() float64 }

// Concrete types behind interface results are registered once, by a name
// that goes into the entries.
func ExampleRegisterName() {
	codec.RegisterName("example.Circle", Circle{})
	p, _ := codec.NewPlan(codec.Default(), []reflect.Type{reflect.TypeOf((*Shape)(nil)).Elem()}, "")
	var s Shape = Circle{R: 2}
	b, _ := p.Encode([]reflect.Value{reflect.ValueOf(&s).Elem()})
	out, _ := p.Decode(b)
	fmt.Println(out[0].Interface().(Shape).Area())
	// Output: 12
}
