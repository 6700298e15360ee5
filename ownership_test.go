package cachier_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/memstore"
)

// TestCallersOwnTheirResults: callers of a function whose store keeps bytes
// never receive results that share memory, whether they computed the
// result, waited for another caller's calculation or hit the cache: a
// caller that overwrites its []byte changes nobody else's, nor the cached
// one. The result is large (64 KiB), so that the codec's decoder slices it
// out of the entry it decodes rather than copying it. Before this test,
// every caller that waited for a calculation got the very slice the
// function returned to the caller that ran it.
func TestCallersOwnTheirResults(t *testing.T) {
	for _, tc := range []struct {
		name, tag string
		down      bool // the store fails: the result is never stored
	}{
		{"file", "backend=file", false},
		{"file-separate", "backend=file,separate_files=true", false},
		{"file-zstd", "backend=file,compress=zstd", false},
		{"store-down", "backend=ctl", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reset(t)
			st := &switchable{Store: memstore.New()}
			st.down.Store(tc.down)
			want := make([]byte, 64<<10)
			for i := range want {
				want[i] = byte(i*7) & 0x3F // compressible, not a thousandfold
			}
			gate := make(chan struct{})
			calls := 0 // only ever one calculation at a time
			f := func(x int) []byte {
				calls++
				<-gate
				return bytes.Clone(want)
			}
			tag := fmt.Sprintf("%s,name=core.own.%s", tc.tag, tc.name)
			if !tc.down {
				tag += ",cache_dir=" + t.TempDir()
			}
			if err := cachier.Decorate(&f, runTag(tag), cachier.WithStore("ctl", st)); err != nil {
				t.Fatal(err)
			}
			const n = 4
			res := make(chan []byte, n)
			for range n {
				go func() { res <- f(1) }()
			}
			w := waiting(t, &f)
			waitFor(t, "3 callers wait on the first", func() bool { return w() == n-1 })
			close(gate)
			got := make([][]byte, 0, n+1)
			for range n {
				got = append(got, <-res)
			}
			if calls != 1 {
				t.Fatalf("%d calculations, want 1", calls)
			}
			if !tc.down {
				got = append(got, f(1)) // a hit
				if calls != 1 {
					t.Fatalf("the call after the calculation was not a hit: %d calculations", calls)
				}
			}
			testenv.OwnResults(t, got, want)
			if !tc.down {
				if h := f(1); !bytes.Equal(h, want) || calls != 1 {
					t.Fatalf("after every caller overwrote its result, a hit returns other bytes (%d calculations)", calls)
				}
			}
		})
	}
}
