package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

func TestSize(t *testing.T) {
	s := New()
	if n, b, ok := s.Size("f"); n != 0 || b != 0 || !ok {
		t.Errorf("empty: %d, %d, %v", n, b, ok)
	}
	s.SetValue("f", "k1", 1, time.Now())
	s.SetValue("f", "k2", 2, time.Now())
	_ = s.Set(context.Background(), "g", "k1", store.Entry{Value: []byte("x"), Time: time.Now()})
	if n, _, ok := s.Size("f"); n != 2 || !ok {
		t.Errorf("f: %d entries, ok %v; want 2", n, ok)
	}
	if n, _, _ := s.Size("g"); n != 1 {
		t.Errorf("g: %d entries; want 1", n)
	}
	s.Bound("h", 0, 1000)
	s.SetValueSized("h", "k1", 1, time.Now(), 10)
	s.SetValueSized("h", "k2", 2, time.Now(), 20)
	if n, b, _ := s.Size("h"); n != 2 || b != 30 {
		t.Errorf("h (max_size): %d entries, %d bytes; want 2, 30", n, b)
	}
	_ = s.Clear(context.Background(), "f")
	if n, _, _ := s.Size("f"); n != 0 {
		t.Errorf("after Clear: %d entries", n)
	}
}
