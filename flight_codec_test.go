package cachier_test

import (
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/memstore"
)

// encodePanics is a custom codec whose Encode panics.
type encodePanics struct{}

func (encodePanics) Name() string { return "encode-panics" }
func (encodePanics) Compile([]reflect.Type) (codec.Compiled, error) {
	return encodePanicsPlan{}, nil
}

type encodePanicsPlan struct{}

func (encodePanicsPlan) Encode([]byte, []reflect.Value) ([]byte, error) { panic("Encode broke") }
func (encodePanicsPlan) Decode([]byte) ([]reflect.Value, error)         { return nil, codec.ErrCorrupt }

func init() { defaults.RegisterCodec("encode-panics", encodePanics{}) }

// TestEncodePanicReleasesWaiters: while the store is skipped (it failed),
// a calculation with callers waiting on it encodes its result for them as
// it ends; a codec whose Encode panics there must still let them have the
// result. Before codec.Plan recovered such panics, the panic left the
// calculation's flight open: its waiters, and every later caller of the
// key, waited forever.
func TestEncodePanicReleasesWaiters(t *testing.T) {
	reset(t)
	testenv.CaptureLogs(t)
	st := &switchable{Store: memstore.New()}
	st.down.Store(true)
	release := make(chan struct{})
	var calls atomic.Int64
	f := func(x int) int {
		if calls.Add(1) == 1 {
			<-release
		}
		return x * 2
	}
	if err := cachier.Decorate(&f, runTag("name=test.flight.encodepanics,backend=down,codec=encode-panics"), cachier.WithStore("down", st)); err != nil {
		t.Fatal(err)
	}
	waiters := waiting(t, &f)
	const n = 3
	got := make([]int, n+1)
	var wg sync.WaitGroup
	for i := range n + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("caller %d panicked: %v", i, r)
				}
			}()
			got[i] = f(21)
		}()
		if i == 0 {
			waitFor(t, "the first caller to compute", func() bool { return calls.Load() == 1 })
		}
	}
	waitFor(t, "the other callers to wait", func() bool { return waiters() == n })
	close(release)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitFor(t, "every caller to return", func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	})
	for i, v := range got {
		if v != 42 {
			t.Errorf("caller %d got %d, want 42", i, v)
		}
	}
}
