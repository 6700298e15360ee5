package codec

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func roundTrip(t *testing.T, c Codec, v any) any {
	t.Helper()
	typ := reflect.TypeOf(&v).Elem()
	if v != nil {
		typ = reflect.TypeOf(v)
	}
	p, err := NewPlan(c, []reflect.Type{typ}, "")
	if err != nil {
		t.Fatalf("NewPlan(%s): %v", typ, err)
	}
	val := reflect.New(typ).Elem()
	if v != nil {
		val.Set(reflect.ValueOf(v))
	}
	b, err := p.Encode([]reflect.Value{val})
	if err != nil {
		t.Fatalf("Encode(%#v): %v", v, err)
	}
	out, err := p.Decode(b)
	if err != nil {
		t.Fatalf("Decode(Encode(%#v)): %v", v, err)
	}
	return out[0].Interface()
}

type inner struct {
	n     int
	s     []string
	m     map[string]int
	p     *int
	flag  *bool
	empty []int
}

type outer struct {
	Public string
	priv   inner
	deep   []inner
	arr    [3]*inner
	when   time.Time
	iface  any
	err    error
}

type pointKey struct {
	X, Y int
	name string
}

type node struct {
	Val    int
	Parent *node
	Kids   []*node
}

type marshaled struct{ secret string }

func (m marshaled) MarshalBinary() ([]byte, error) { return []byte("M:" + m.secret), nil }
func (m *marshaled) UnmarshalBinary(b []byte) error {
	if len(b) < 2 || string(b[:2]) != "M:" {
		return errors.New("bad marshaled")
	}
	m.secret = string(b[2:])
	return nil
}

type myTime time.Time

type withEmbeddedTime struct {
	time.Time
	Note string
}

type errT struct{ msg string }

func (e *errT) Error() string { return e.msg }

func init() {
	Register(inner{})
	Register(&errT{})
	Register(pointKey{})
}

func ptr[T any](v T) *T { return &v }

// The symptoms of the issue: what gob lost, the default codec keeps.
func TestRoundTripExact(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	zero := 0
	cases := map[string]any{
		"unexported fields at depth": outer{Public: "x", priv: inner{n: 3, s: []string{"a"}, m: map[string]int{"k": 1}, flag: ptr(true)},
			deep: []inner{{}, {empty: []int{}}}, arr: [3]*inner{nil, {n: 1}, {}}, when: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"pointer to zero int":        ptr(0),
		"pointer to false":           ptr(false),
		"pointer to pointer to zero": ptr(ptr(0)),
		"empty slice below top":      outer{priv: inner{s: []string{}, empty: []int{}, m: map[string]int{}}},
		"nil slice below top":        outer{priv: inner{}},
		"nil vs empty in slices":     [][]int{nil, {}, {1}},
		"nil vs empty map values":    map[string][]int{"nil": nil, "empty": {}},
		"time with location name":    time.Date(2024, 3, 10, 1, 30, 0, 5, ny),
		"time UTC":                   time.Date(2024, 3, 10, 1, 30, 0, 0, time.UTC),
		"time local":                 time.Unix(1700000000, 42),
		"time fixed zone":            time.Date(2001, 1, 1, 0, 0, 0, 0, time.FixedZone("CUSTOM+3", 3*3600)),
		"zero time":                  time.Time{},
		"time defined type":          myTime(time.Date(2020, 1, 1, 0, 0, 0, 0, ny)),
		"embedded time keeps fields": withEmbeddedTime{Time: time.Date(2020, 1, 1, 0, 0, 0, 0, ny), Note: "kept"},
		"arrays":                     [2][3]int8{{1, -2, 3}, {4, 5, -128}},
		"byte array":                 [4]byte{1, 2, 3, 4},
		"struct keys":                map[pointKey]string{{1, 2, "a"}: "x", {3, 4, ""}: "y"},
		"array keys":                 map[[2]string]bool{{"a", "b"}: true},
		"interface keys":             map[any]int{1: 1, "s": 2, pointKey{1, 1, "p"}: 3},
		"pointer keys nil":           map[string]*int{"nil": nil, "zero": &zero},
		"binary marshaler":           marshaled{secret: "s3"},
		"big.Int":                    big.NewInt(-12345678901234),
		"netip.Addr":                 netip.MustParseAddr("2001:db8::1"),
		"interface registered":       outer{iface: inner{n: 1}, err: &errT{"boom"}},
		"interface nil":              outer{iface: nil},
		"typed nil in interface":     []any{(*errT)(nil), error((*errT)(nil))},
		"pointer to empty interface": ptr[any](nil),
		"any slice":                  []any{1, "a", nil, []any{}, map[string]any{"k": []any{nil}}},
		"tree":                       &node{Val: 1, Kids: []*node{{Val: 2}, {Val: 3, Kids: []*node{}}}},
		"floats":                     []float64{0, -0.5, 1e300},
		"complex":                    []complex128{1 + 2i},
		"ints at limits":             []int64{-1 << 63, 1<<63 - 1, 0},
		"uints at limits":            []uint64{1<<64 - 1, 0},
		"empty string":               "",
		"empty struct slice":         make([]struct{}, 5),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			got := roundTrip(t, Default(), v)
			if !reflect.DeepEqual(got, v) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, v)
			}
		})
	}
}

func TestTimeLocationNameKept(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	in := time.Date(2024, 7, 1, 12, 0, 0, 0, ny)
	got := roundTrip(t, Default(), in).(time.Time)
	if got.Location().String() != "America/New_York" || !got.Equal(in) {
		t.Fatalf("got %v in %q", got, got.Location())
	}
	// The zone follows DST, as a named location does and a fixed one would not.
	if _, off := got.AddDate(0, 6, 0).Zone(); off != -5*3600 {
		t.Fatalf("six months later the offset is %d, want EST", off)
	}
}

func TestMonotonicDropped(t *testing.T) {
	now := time.Now()
	got := roundTrip(t, Default(), now).(time.Time)
	if !reflect.DeepEqual(got, now.Round(0)) {
		t.Fatalf("got %#v, want %#v", got, now.Round(0))
	}
}

func TestCycleIsEncodeError(t *testing.T) {
	root := &node{Val: 1}
	kid := &node{Val: 2, Parent: root}
	root.Kids = []*node{kid}
	p, err := NewPlan(Default(), []reflect.Type{reflect.TypeOf(root)}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Encode([]reflect.Value{reflect.ValueOf(root)})
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("cyclic tree: err = %v, want ErrCycle", err)
	}

	s := []any{nil}
	s[0] = s
	_, err = roundTripErr([]any{s})
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("slice holding itself: err = %v, want ErrCycle", err)
	}
	m := map[string]any{}
	m["self"] = m
	_, err = roundTripErr(m)
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("map holding itself: err = %v, want ErrCycle", err)
	}
}

func roundTripErr(v any) (any, error) {
	typ := reflect.TypeOf(v)
	p, err := NewPlan(Default(), []reflect.Type{typ}, "")
	if err != nil {
		return nil, err
	}
	b, err := p.Encode([]reflect.Value{reflect.ValueOf(v)})
	if err != nil {
		return nil, err
	}
	out, err := p.Decode(b)
	if err != nil {
		return nil, err
	}
	return out[0].Interface(), nil
}

func TestDeepButAcyclicWithinLimit(t *testing.T) {
	var head *node
	for i := range MaxDepth - 10 {
		head = &node{Val: i, Kids: nil, Parent: head}
	}
	got, err := roundTripErr(head)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, head) {
		t.Fatal("long chain differs")
	}
	for range 20 {
		head = &node{Parent: head}
	}
	if _, err := roundTripErr(head); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("chain beyond MaxDepth: err = %v, want ErrTooDeep", err)
	}
}

func TestUnregisteredInterfaceValue(t *testing.T) {
	type local struct{ A int }
	_, err := roundTripErr([]any{local{1}})
	if !errors.Is(err, ErrUnregistered) {
		t.Fatalf("err = %v, want ErrUnregistered", err)
	}
}

func TestUnsupportedTypes(t *testing.T) {
	type holder struct {
		Name string
		cb   func()
	}
	type deep struct {
		Items []map[string]*holder
	}
	for _, tc := range []struct {
		typ  reflect.Type
		path string
	}{
		{reflect.TypeOf(func() {}), ""},
		{reflect.TypeOf(make(chan int)), ""},
		{reflect.TypeOf(holder{}), ".cb"},
		{reflect.TypeOf(deep{}), ".Items[][value]*.cb"},
	} {
		_ = holder{}.cb // there to be refused
		for _, c := range []Codec{Default(), Gob(), JSON()} {
			_, err := NewPlan(c, []reflect.Type{tc.typ}, "")
			var ue *UnsupportedTypeError
			if !errors.As(err, &ue) || ue.Path != tc.path || ue.Type != tc.typ {
				t.Errorf("%s %s: err = %v, want an UnsupportedTypeError at %q", c.Name(), tc.typ, err, tc.path)
			}
		}
	}
}

func TestGobAndJSONRoundTrip(t *testing.T) {
	type pub struct {
		A int
		B []string
		C map[string]float64
	}
	v := pub{A: 1, B: []string{"x"}, C: map[string]float64{"k": 1.5}}
	for _, c := range []Codec{Gob(), JSON()} {
		if got := roundTrip(t, c, v); !reflect.DeepEqual(got, v) {
			t.Errorf("%s: got %#v, want %#v", c.Name(), got, v)
		}
	}
}

func TestJSONPayloadIsPlainJSON(t *testing.T) {
	p, err := NewPlan(JSON(), []reflect.Type{reflect.TypeOf(""), reflect.TypeOf(0)}, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode([]reflect.Value{reflect.ValueOf("hi"), reflect.ValueOf(7)})
	if err != nil {
		t.Fatal(err)
	}
	hl := 5 + int(b[4]) + 8 // what a reader in another language skips
	if got := string(b[hl:]); got != `["hi",7]` {
		t.Fatalf("payload after the header = %q", got)
	}
	h, rest, err := ReadHeader(b)
	want := Header{Codec: "json", Version: 1, Compression: "none", Fingerprint: Fingerprint("json", []reflect.Type{reflect.TypeOf(""), reflect.TypeOf(0)})}
	if err != nil || h != want || string(rest) != `["hi",7]` {
		t.Fatalf("ReadHeader = %+v, %q, %v; want %+v", h, rest, err, want)
	}
}

// TestConcurrentPlans: one plan encodes and decodes from many goroutines
// at once (its pooled map temporaries included), and every round trip is
// exact; run with -race.
func TestConcurrentPlans(t *testing.T) {
	type val struct {
		M map[string]map[pointKey][]any
		S []map[int]string
	}
	p, err := NewPlan(Default(), []reflect.Type{reflect.TypeOf(val{})}, "s2")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 200 {
				v := val{
					M: map[string]map[pointKey][]any{"g": {{X: g, Y: i}: {g, "s", nil}}, "e": {}},
					S: []map[int]string{{i: strings.Repeat("x", i*10)}, nil, {}},
				}
				b, err := p.Encode([]reflect.Value{reflect.ValueOf(v)})
				if err == nil {
					var out []reflect.Value
					if out, err = p.Decode(b); err == nil && !reflect.DeepEqual(out[0].Interface(), v) {
						err = fmt.Errorf("goroutine %d round %d: got %#v", g, i, out[0])
					}
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// eachCodec encodes in with types under every built-in codec and runs f
// with the plan and the entry.
func eachCodec(t *testing.T, types []reflect.Type, in []reflect.Value, f func(c Codec, p *Plan, b []byte)) {
	t.Helper()
	for _, c := range []Codec{Default(), Gob(), JSON()} {
		p, err := NewPlan(c, types, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Encode(in)
		if err != nil {
			t.Fatal(err)
		}
		f(c, p, b)
	}
}

// decodeToPair is the result list TestDecodeTo and TestDecodeToInPlace
// decode: a struct and a string.
type decodeToPair struct {
	N int
	S []string
}

var (
	decodeToTypes = []reflect.Type{reflect.TypeOf(decodeToPair{}), reflect.TypeOf("")}
	decodeToIn    = []reflect.Value{reflect.ValueOf(decodeToPair{N: 7, S: []string{"a", "b"}}), reflect.ValueOf("x")}
)

// TestDecodeTo: DecodeTo fills a list of the caller's with what Decode
// returns, for every built-in codec (the default one decodes in place, the
// others through Decode), and refuses a list of the wrong length.
func TestDecodeTo(t *testing.T) {
	in := decodeToIn
	eachCodec(t, decodeToTypes, in, func(c Codec, p *Plan, b []byte) {
		out := make([]reflect.Value, 3)
		if err := p.DecodeTo(bytes.Clone(b), out[1:]); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		if out[0].IsValid() || !reflect.DeepEqual(out[1].Interface(), in[0].Interface()) || out[2].Interface() != "x" {
			t.Errorf("%s: DecodeTo gave %v", c.Name(), out)
		}
		if err := p.DecodeTo(b, out); err == nil {
			t.Errorf("%s: DecodeTo into 3 values of a plan of 2 succeeded", c.Name())
		}
		if err := p.DecodeTo(b[:len(b)-1], out[1:]); err == nil {
			t.Errorf("%s: DecodeTo of a truncated entry succeeded", c.Name())
		}
	})
}

// TestDecodeToInPlace: a settable zero value of the right type is decoded
// into where it lies (its address keeps the result), by every codec; a
// value that is not settable, or of another type, is replaced, never
// written through.
func TestDecodeToInPlace(t *testing.T) {
	type pair = decodeToPair
	in := decodeToIn
	eachCodec(t, decodeToTypes, in, func(c Codec, p *Plan, b []byte) {
		holder := new(struct {
			P pair
			S string
		})
		h := reflect.ValueOf(holder).Elem()
		out := []reflect.Value{h.Field(0), h.Field(1)}
		if err := p.DecodeTo(bytes.Clone(b), out); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		if !reflect.DeepEqual(holder.P, in[0].Interface()) || holder.S != "x" {
			t.Errorf("%s: the settable values hold %+v, %q after DecodeTo", c.Name(), holder.P, holder.S)
		}
		if out[0].Addr().Interface() != &holder.P {
			t.Errorf("%s: DecodeTo replaced a settable value instead of decoding into it", c.Name())
		}

		// Not settable (a copy) and settable of another type: replaced.
		other := new(int)
		out = []reflect.Value{reflect.ValueOf(pair{N: 1}), reflect.ValueOf(other).Elem()}
		if err := p.DecodeTo(bytes.Clone(b), out); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		if !reflect.DeepEqual(out[0].Interface(), in[0].Interface()) || out[1].Interface() != "x" || *other != 0 {
			t.Errorf("%s: DecodeTo gave %v and wrote %d through a value of another type", c.Name(), out, *other)
		}
	})
}

// appending is a type whose UnmarshalBinary adds to what the value holds,
// as a set or a log type may: decoded into a value that is not zero, it
// would keep the old items.
type appending struct{ Items []string }

func (a appending) MarshalBinary() ([]byte, error) { return []byte(strings.Join(a.Items, ",")), nil }
func (a *appending) UnmarshalBinary(b []byte) error {
	a.Items = append(a.Items, strings.Split(string(b), ",")...)
	return nil
}

// TestDecodeToOverwrites: a settable value of the right type that is not
// zero (a caller's variable, a list used before) holds exactly the entry's
// result after DecodeTo, whichever codec, even where the type's own
// UnmarshalBinary adds to what it finds.
func TestDecodeToOverwrites(t *testing.T) {
	type pair struct {
		N int
		S []string
		A appending
	}
	types := []reflect.Type{reflect.TypeOf(appending{}), reflect.TypeOf(pair{}), reflect.TypeOf("")}
	in := []any{appending{Items: []string{"a", "b"}}, pair{N: 7, A: appending{Items: []string{"c"}}}, "x"}
	vals := make([]reflect.Value, len(in))
	for i, v := range in {
		vals[i] = reflect.ValueOf(v)
	}
	eachCodec(t, types, vals, func(c Codec, p *Plan, b []byte) {
		holder := &struct {
			A appending
			P pair
			S string
		}{appending{Items: []string{"old"}}, pair{N: 1, S: []string{"old"}, A: appending{Items: []string{"old"}}}, "old"}
		h := reflect.ValueOf(holder).Elem()
		out := []reflect.Value{h.Field(0), h.Field(1), h.Field(2)}
		if err := p.DecodeTo(bytes.Clone(b), out); err != nil {
			t.Fatalf("%s: %v", c.Name(), err)
		}
		for i, v := range out {
			if !reflect.DeepEqual(v.Interface(), in[i]) {
				t.Errorf("%s: result %d decoded over a value that was not zero is %#v, want %#v", c.Name(), i, v.Interface(), in[i])
			}
		}
	})
}
