package filestore

import (
	"context"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// TestSize: the single-file layout counts entries and their record bytes
// from its index, also those another Store (another process) wrote once it
// has read them; the separate-files layout cannot tell.
func TestSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, b, ok := s.Size("f"); n != 0 || b != 0 || !ok {
		t.Errorf("empty: %d, %d, %v", n, b, ok)
	}
	for _, k := range []string{"k1", "k2", "k3"} {
		if err := s.Set(ctx, "f", k+"0123456789abcdef0123456789abcdef", store.Entry{Value: make([]byte, 100), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	n, b, ok := s.Size("f")
	if n != 3 || !ok || b < 300 {
		t.Errorf("3 entries of 100 bytes: %d entries, %d bytes, ok %v", n, b, ok)
	}
	// Another process's store sees them once it has read the log.
	other, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Get(ctx, "f", "k10123456789abcdef0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	if n2, b2, _ := other.Size("f"); n2 != 3 || b2 != b {
		t.Errorf("other store: %d entries, %d bytes; want %d, %d", n2, b2, n, b)
	}
	if err := s.Clear(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := s.Size("f"); n != 0 {
		t.Errorf("after Clear: %d entries", n)
	}

	sep, err := New(t.TempDir(), Options{SeparateFiles: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sep.Close()
	if _, _, ok := sep.Size("f"); ok {
		t.Error("separate files: ok, want not ok")
	}
}
