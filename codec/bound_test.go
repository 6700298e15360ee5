package codec

import (
	"reflect"
	"runtime"
	"strconv"
	"testing"
)

// maxAllocRatio is what the package documentation promises: a decode
// allocates at most about this many times the payload it decodes.
const maxAllocRatio = 64

// TestDecodeAllocationBound: the values that allocate the most per encoded
// byte (empty maps, slices, strings, pointers and interfaces, one or two
// bytes each) stay within maxAllocRatio times their entry's size.
func TestDecodeAllocationBound(t *testing.T) {
	const n = 20000
	cases := map[string]any{
		"empty maps":           fill(n, func(int) map[string]int { return map[string]int{} }),
		"empty map of maps":    fill(n, func(int) map[int]map[string]int { return map[int]map[string]int{} }),
		"empty slices":         fill(n, func(int) []string { return []string{} }),
		"empty strings":        fill(n, func(int) string { return "" }),
		"pointers to zero":     fill(n, func(int) *int { return new(int) }),
		"pointers to empty":    fill(n, func(int) *[]int { return &[]int{} }),
		"nil interfaces":       make([]any, n),
		"small ints in any":    fill(n, func(i int) any { return int8(i) }),
		"map of empty strings": mapOf(n),
	}
	worst := 0.0
	for name, v := range cases {
		typ := reflect.TypeOf(v)
		p, err := NewPlan(Default(), []reflect.Type{typ}, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Encode([]reflect.Value{reflect.ValueOf(v)})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		out, err := p.Decode(b)
		runtime.ReadMemStats(&m1)
		if err != nil || !reflect.DeepEqual(out[0].Interface(), v) {
			t.Fatalf("%s: %v", name, err)
		}
		ratio := float64(m1.TotalAlloc-m0.TotalAlloc) / float64(len(b))
		t.Logf("%-22s %7d bytes, %5.1f x allocated", name, len(b), ratio)
		worst = max(worst, ratio)
		if ratio > maxAllocRatio {
			t.Errorf("%s: decoding %d bytes allocated %.1f times as much", name, len(b), ratio)
		}
	}
	t.Logf("worst: %.1fx", worst)
}

func fill[T any](n int, f func(int) T) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = f(i)
	}
	return s
}

func mapOf(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[strconv.Itoa(i)] = ""
	}
	return m
}
