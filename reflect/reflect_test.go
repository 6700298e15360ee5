package reflectx_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	reflectx "github.com/cachier-go/cachier/reflect"
)

type svc struct{}

func TestAnalyze(t *testing.T) {
	recv := reflect.TypeOf(svc{})
	for _, tc := range []struct {
		fn       any
		ctx, rcv int
		keyArgs  []int
		errIdx   int
		values   []int
	}{
		{func(a, b int) int { return 0 }, -1, -1, []int{0, 1}, -1, []int{0}},
		{func(ctx context.Context, s string) ([]byte, error) { return nil, nil }, 0, -1, []int{1}, 1, []int{0}},
		{func(s *svc, ctx context.Context, id int) (string, int, error) { return "", 0, nil }, 1, 0, []int{2}, 2, []int{0, 1}},
		{func(s svc, x int) error { return nil }, -1, 0, []int{1}, 0, nil},
		{func(x int, ctx context.Context, ctx2 context.Context) {}, 1, -1, []int{0}, -1, nil},
		//lint:ignore ST1008 an error result that is not last is cached like any value
		{func(x *int) (error, int) { return nil, 0 }, -1, -1, []int{0}, -1, []int{0, 1}},
	} {
		s, err := reflectx.Analyze(reflect.TypeOf(tc.fn), recv)
		if err != nil {
			t.Fatal(err)
		}
		if s.Ctx != tc.ctx || s.Receiver != tc.rcv || !slices.Equal(s.KeyArgs, tc.keyArgs) || s.Err != tc.errIdx || !slices.Equal(s.Values, tc.values) {
			t.Errorf("%T: ctx %d recv %d keys %v err %d values %v; want %d %d %v %d %v",
				tc.fn, s.Ctx, s.Receiver, s.KeyArgs, s.Err, s.Values, tc.ctx, tc.rcv, tc.keyArgs, tc.errIdx, tc.values)
		}
	}
	if _, err := reflectx.Analyze(reflect.TypeOf(3), nil); err == nil {
		t.Error("Analyze(int) succeeded")
	}
}

type v1 struct{ A int }
type v2 struct {
	A int
	B string
}
type v3 struct{ A int64 }
type list struct {
	Next *list
	V    int
}

func TestFingerprint(t *testing.T) {
	fp := func(fn any) string {
		s, err := reflectx.Analyze(reflect.TypeOf(fn), nil)
		if err != nil {
			t.Fatal(err)
		}
		return s.Fingerprint
	}
	fps := map[string]string{}
	for name, fn := range map[string]any{
		"v1":        func(v1) int { return 0 },
		"v2":        func(v2) int { return 0 },    // a field added
		"v3":        func(v3) int { return 0 },    // a field retyped
		"v1result":  func(int) v1 { return v1{} }, // same types, other direction
		"ptr":       func(*v1) int { return 0 },
		"recursive": func(list) int { return 0 }, // terminates
	} {
		f := fp(fn)
		for other, g := range fps {
			if f == g {
				t.Errorf("%s and %s share fingerprint %s", name, other, f)
			}
		}
		fps[name] = f
	}
	if fp(func(v1) int { return 1 }) != fps["v1"] {
		t.Error("the same signature has two fingerprints")
	}
}
