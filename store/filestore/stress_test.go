package filestore

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// TestStoresShareDir runs goroutines over several stores that share a
// directory (as processes do), with compactions frequent, and checks that
// every value read is one that was written for its key, never torn or
// another key's, and that each store reads its own last write back.
func TestStoresShareDir(t *testing.T) {
	defer func(v int64) { compactMin = v }(compactMin)
	compactMin = 2 << 10
	for _, l := range twoLayouts {
		t.Run(l.name, func(t *testing.T) {
			dir := t.TempDir()
			const fn, keys = "pkg.Shared", 8
			rounds := 120
			if testing.Short() {
				rounds = 30
			}
			stores := []*Store{newStore(t, dir, l.o), newStore(t, dir, l.o), newStore(t, dir, Options{SeparateFiles: l.o.SeparateFiles, NoReload: true})}
			var wg sync.WaitGroup
			errc := make(chan error, 16)
			for si, s := range stores {
				for g := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for r := range rounds {
							k := (r*7 + g) % keys
							v := int64(si*1_000_000 + g*100_000 + r)
							if r%5 == 0 {
								if _, err := s.Mark(bg, fn, keyN(k), fmt.Sprint(si, g), time.Minute); err != nil {
									errc <- err
									return
								}
							}
							if err := s.Set(bg, fn, keyN(k), versionEntry(k, v)); err != nil {
								errc <- err
								return
							}
							for k2 := range keys {
								e, err := s.Get(bg, fn, keyN(k2))
								if errors.Is(err, store.ErrNotFound) {
									continue
								}
								if err != nil {
									errc <- err
									return
								}
								if _, err := checkVersion(k2, e); err != nil {
									errc <- fmt.Errorf("store %d: %w", si, err)
									return
								}
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			// Quiet now: every store that reloads agrees on every key.
			for k := range keys {
				want, err := stores[0].Get(bg, fn, keyN(k))
				if err != nil {
					t.Fatal(err)
				}
				got, err := stores[1].Get(bg, fn, keyN(k))
				if err != nil {
					t.Fatal(err)
				}
				if string(got.Value) != string(want.Value) {
					t.Fatalf("key %d: the stores disagree", k)
				}
			}
		})
	}
}
