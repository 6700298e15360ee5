package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store/memstore"
)

func TestFuncSeesTheStore(t *testing.T) {
	s := memstore.New()
	f := s.Func("f")
	if _, _, ok := f.GetValue("k"); ok {
		t.Fatal("a value in an empty store")
	}
	now := time.Now()
	s.SetValue("f", "k", 42, now)
	s.SetValue("g", "k", 7, now)
	if v, tm, ok := f.GetValue("k"); !ok || v != 42 || !tm.Equal(now) {
		t.Fatalf("GetValue = %v, %v, %v", v, tm, ok)
	}
	if err := s.Clear(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.GetValue("k"); ok {
		t.Fatal("a value after Clear")
	}
	s.SetValue("f", "k", 43, now)
	if v, _, ok := f.GetValue("k"); !ok || v != 43 {
		t.Fatalf("after Clear and SetValue: %v, %v", v, ok)
	}
}
