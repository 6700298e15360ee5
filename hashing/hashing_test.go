package hashing_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier/hashing"
	"github.com/cachier-go/cachier/internal/testenv"
)

type priv struct{ a int }

type inner struct {
	Name string
	Tags []string
}

type outer struct {
	ID     int64
	Score  float64
	In     inner
	Ptr    *inner
	M      map[string]int
	Nested map[int][]string
	when   time.Time
	secret string
}

type tagged struct {
	Keep    int
	Ignored int      `hash:"ignore"`
	Dash    int      `hash:"-"`
	Set     []string `hash:"set"`
}

type hashable struct{ v int }

func (h hashable) Hash() (uint64, error) { return uint64(h.v % 10), nil }

type node struct {
	Next *node
	V    int
}

func key(t *testing.T, args ...any) string {
	t.Helper()
	k, err := hashing.Default(args)
	if err != nil {
		t.Fatalf("Default(%#v): %v", args, err)
	}
	return k
}

// samples are argument lists whose keys a child process recomputes.
func samples() map[string][]any {
	when := time.Date(2026, 11, 25, 10, 0, 0, 5, time.UTC)
	return map[string][]any{
		"int":     {1, int8(-2), int64(1 << 40), uint(7)},
		"float":   {3.25, float32(1.5), math.Copysign(0, -1)},
		"string":  {"hello", "", "ünïcode"},
		"slice":   {[]int{1, 2, 3}, []string{"a"}, []byte("raw")},
		"map":     {map[string]int{"a": 1, "b": 2, "c": 3}},
		"pointer": {&inner{Name: "p", Tags: []string{"x"}}},
		"struct": {outer{ID: 9, Score: 0.5, In: inner{"n", []string{"t"}}, M: map[string]int{"x": 1},
			Nested: map[int][]string{1: {"a"}}, when: when, secret: "s"}},
		"time":  {when},
		"mixed": {nil, true, any(5), [2]int{1, 2}},
	}
}

// TestKeysAcrossProcesses computes keys in a child process (this test
// binary, re-executed) and requires the same keys: what makes a shared
// cache work.
func TestKeysAcrossProcesses(t *testing.T) {
	if os.Getenv("CACHIER_HASH_CHILD") == "1" {
		out := map[string]string{}
		for name, args := range samples() {
			out[name] = key(t, args...)
		}
		b, _ := json.Marshal(out)
		fmt.Printf("KEYS=%s\n", b)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeysAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CACHIER_HASH_CHILD=1", "GODEBUG=randautoseed=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "KEYS=")
	if !ok {
		t.Fatalf("child printed no keys:\n%s", out)
	}
	js, _, _ = strings.Cut(js, "\n")
	var child map[string]string
	if err := json.Unmarshal([]byte(js), &child); err != nil {
		t.Fatal(err)
	}
	for name, args := range samples() {
		if got, want := child[name], key(t, args...); got != want {
			t.Errorf("%s: child key %s, parent key %s", name, got, want)
		}
	}
}

func TestEqualValuesEqualKeys(t *testing.T) {
	m1 := map[string]int{}
	m2 := map[string]int{}
	for i := range 100 {
		m1[fmt.Sprint(i)] = i
	}
	for i := 99; i >= 0; i-- {
		m2[fmt.Sprint(i)] = i
	}
	if key(t, m1) != key(t, m2) {
		t.Error("equal maps built in different orders have different keys")
	}
	a, b := &inner{"x", nil}, &inner{"x", nil}
	if key(t, a) != key(t, b) {
		t.Error("pointers to equal values have different keys")
	}
	now := time.Now() // carries a monotonic reading
	if key(t, now) != key(t, now.Round(0)) {
		t.Error("the monotonic clock reading changed the key")
	}
	if key(t, outer{when: now}) != key(t, outer{when: now.Round(0)}) {
		t.Error("the monotonic reading of an unexported time field changed the key")
	}
	if key(t, tagged{Keep: 1, Ignored: 2, Dash: 3, Set: []string{"a", "b"}}) !=
		key(t, tagged{Keep: 1, Ignored: 9, Dash: 9, Set: []string{"b", "a"}}) {
		t.Error(`hash:"ignore", hash:"-" or hash:"set" not honoured`)
	}
	if key(t, hashable{1}) != key(t, hashable{11}) {
		t.Error("hashstructure.Hashable not honoured")
	}
}

func TestDifferentValuesDifferentKeys(t *testing.T) {
	when := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := [][]any{
		{priv{1}}, {priv{2}}, // unexported fields count
		{outer{secret: "a"}}, {outer{secret: "b"}},
		{outer{when: when}}, {outer{when: when.Add(time.Nanosecond)}},
		{when.In(time.FixedZone("X", 3600))},
		{1}, {int64(1)}, {uint(1)}, {"1"}, {1.0}, {true},
		{[]int(nil)}, {[]int{}}, {map[string]int(nil)}, {map[string]int{}},
		{(*inner)(nil)}, {&inner{}},
		{"ab", "c"}, {"a", "bc"}, // no ambiguity across argument boundaries
		{[]string{"ab", "c"}}, {[]string{"a", "bc"}},
		{map[string]int{"a": 1, "b": 2}}, {map[string]int{"a": 2, "b": 1}},
		{tagged{Set: []string{"a", "a"}}}, {tagged{Set: []string{"a"}}},
		{}, {nil},
		{math.Copysign(0, -1)}, {0.0}, // 1/x tells them apart
	}
	seen := map[string]int{}
	for i, args := range cases {
		k := key(t, args...)
		if j, dup := seen[k]; dup {
			t.Errorf("cases %d %#v and %d %#v share key %s", j, cases[j], i, args, k)
		}
		seen[k] = i
	}
}

func TestKeyShape(t *testing.T) {
	k := key(t, "x")
	if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
		t.Fatalf("key %q: want 64 lowercase hex digits (SHA-256)", k)
	}
}

func TestKeyerMatchesDefault(t *testing.T) {
	for name, args := range samples() {
		types := make([]reflect.Type, len(args))
		vals := make([]reflect.Value, len(args))
		for i, a := range args {
			if a == nil {
				types[i] = reflect.TypeOf((*any)(nil)).Elem()
				vals[i] = reflect.Zero(types[i])
				continue
			}
			types[i] = reflect.TypeOf(a)
			vals[i] = reflect.ValueOf(a)
		}
		k, err := hashing.NewKeyer(types)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := k.Key(vals)
		if err != nil {
			t.Fatal(err)
		}
		if want := key(t, args...); got != want {
			t.Errorf("%s: Keyer %s, Default %s", name, got, want)
		}
		pos := make([]int, len(vals))
		for i := range pos {
			pos[i] = i
		}
		borrowed, s, err := k.BorrowKey(vals, pos)
		if err != nil {
			t.Fatal(err)
		}
		if borrowed != got {
			t.Errorf("%s: BorrowKey %s, Key %s", name, borrowed, got)
		}
		s.Release()
	}
}

func TestUnhashable(t *testing.T) {
	type withFunc struct{ F func() }
	for _, typ := range []reflect.Type{
		reflect.TypeOf(func() {}),
		reflect.TypeOf(make(chan int)),
		reflect.TypeOf(withFunc{}),
		reflect.TypeOf(map[string]func(){}),
	} {
		if _, err := hashing.NewKeyer([]reflect.Type{typ}); !errors.Is(err, hashing.ErrUnhashable) {
			t.Errorf("NewKeyer(%s) = %v, want ErrUnhashable", typ, err)
		}
	}
	// Hidden in an interface, it fails per call.
	if _, err := hashing.Default([]any{func() {}}); !errors.Is(err, hashing.ErrUnhashable) {
		t.Errorf("Default(func) = %v, want ErrUnhashable", err)
	}
	// A cycle fails instead of looping.
	n := &node{V: 1}
	n.Next = n
	if _, err := hashing.Default([]any{n}); !errors.Is(err, hashing.ErrUnhashable) {
		t.Errorf("Default(cycle) = %v, want ErrUnhashable", err)
	}
}

func BenchmarkDefaultInts(b *testing.B) {
	args := []any{1, 2}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = hashing.Default(args)
	}
}

func BenchmarkKeyerStruct(b *testing.B) {
	q := outer{ID: 1, In: inner{"n", []string{"a", "b"}}, M: map[string]int{"a": 1, "b": 2, "c": 3}}
	k, _ := hashing.NewKeyer([]reflect.Type{reflect.TypeOf(q)})
	args := []reflect.Value{reflect.ValueOf(q)}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = k.Key(args)
	}
}

// BenchmarkBorrowKeyInt: the key of one int argument (the issue-10 file
// hit's), as a persistent store gets it (BorrowKey: a SHA-256 digest in
// hex) and as the memory backend gets it (BorrowValueKey: the canonical
// encoding itself, for short arguments), in turn: the digest is a cost of
// every persistent hit that the memory hit does not pay.
func BenchmarkBorrowKeyInt(b *testing.B) {
	k, _ := hashing.NewKeyer([]reflect.Type{reflect.TypeFor[int]()})
	args, pos := []reflect.Value{reflect.ValueOf(42)}, []int{0}
	digest := func() {
		key, s, err := k.BorrowKey(args, pos)
		if err != nil || len(key) != 64 {
			b.Fatal(key, err)
		}
		s.Release()
	}
	value := func() {
		key, s, err := k.BorrowValueKey(args, pos)
		if err != nil || len(key) == 0 {
			b.Fatal(key, err)
		}
		if s != nil {
			s.Release()
		}
	}
	b.Run("paired", func(b *testing.B) {
		took, n := testenv.Paired(b, digest, value)
		b.ReportMetric(testenv.PerRound(took[0], n), "ns/digest")
		b.ReportMetric(testenv.PerRound(took[1], n), "ns/value")
	})
}

// panicsHashing is a hashstructure.Hashable whose Hash panics.
type panicsHashing struct{ n int }

func (panicsHashing) Hash() (uint64, error) { panic("Hash broke") }

// TestHashablePanicIsAnError: a Hash method that panics is an error of the
// key function (the call is then made uncached), not a panic. Before, the
// panic went to the caller of the decorated function.
func TestHashablePanicIsAnError(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panicked: %v", r)
		}
	}()
	if _, err := hashing.Default([]any{panicsHashing{1}}); err == nil || !strings.Contains(err.Error(), "Hash broke") {
		t.Fatalf("Default: %v, want an error saying Hash panicked", err)
	}
	k, err := hashing.NewKeyer([]reflect.Type{reflect.TypeFor[panicsHashing]()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.KeyFrom([]reflect.Value{reflect.ValueOf(panicsHashing{1})}, []int{0}); err == nil {
		t.Fatal("KeyFrom: no error")
	}
}
