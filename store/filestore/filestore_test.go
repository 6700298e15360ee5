package filestore

import (
	"testing"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/storetest"
)

// layouts are the configurations every general test runs in.
var layouts = []struct {
	name string
	o    Options
}{
	{"single", Options{}},
	{"separate", Options{SeparateFiles: true}},
	{"single-noreload", Options{NoReload: true}},
	{"separate-noreload", Options{SeparateFiles: true, NoReload: true}},
}

func newStore(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := New(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	all := append(layouts[:len(layouts):len(layouts)],
		struct {
			name string
			o    Options
		}{"single-sync", Options{Sync: true}},
		struct {
			name string
			o    Options
		}{"separate-sync", Options{SeparateFiles: true, Sync: true}})
	for _, l := range all {
		t.Run(l.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				return newStore(t, t.TempDir(), l.o)
			})
		})
	}
}
