package cachier

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier/internal/testenv"
)

// TestPoolWaitConcurrent: while tasks start, end and panic on the pool
// from several goroutines, every wait that returns nil comes after the end
// of every task started before it, and a wait whose context ends returns
// its error; at the end no task and no slot is left counted.
func TestPoolWaitConcurrent(t *testing.T) {
	testenv.CaptureLogs(t) // the panicking tasks' messages
	p := newPool(4)
	var (
		mu       sync.Mutex
		launched []*atomic.Bool // one per task whose try returned true: set when it ends
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				done := new(atomic.Bool)
				mu.Lock() // held across try: a task counted as launched has started
				ok := p.try(func() {
					defer done.Store(true)
					if (i+g)%7 == 0 {
						panic("task panics")
					}
					time.Sleep(time.Duration(i%3) * 100 * time.Microsecond)
				})
				if ok {
					launched = append(launched, done)
				}
				mu.Unlock()
				if !ok {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}()
	}
	for i := range 200 {
		mu.Lock()
		before := len(launched)
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if i%10 == 0 { // one that ends at once
			c, cl := context.WithCancel(context.Background())
			cl()
			if err := p.wait(c); err != nil && err != context.Canceled {
				t.Fatalf("wait with a cancelled context: %v", err)
			}
		}
		err := p.wait(ctx)
		cancel()
		if err != nil {
			t.Fatalf("wait: %v", err)
		}
		mu.Lock()
		for k, d := range launched[:before] {
			if !d.Load() {
				t.Fatalf("wait returned before task %d (of %d started before it) ended", k, before)
			}
		}
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	if err := p.wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	running := len(p.live)
	p.mu.Unlock()
	if running != 0 {
		t.Fatalf("after every task: %d running", running)
	}
	// A task gives its slot back just after it stops counting as running.
	deadline := time.Now().Add(10 * time.Second)
	for len(p.sem) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after every task: %d slots held", len(p.sem))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPoolWaitIgnoresLaterTasks: a wait ends once the tasks started before
// it have, though a task started after it still runs: under constant
// background traffic WaitBackground returns. Before, it waited for the
// pool to be idle, and a later task kept it waiting.
func TestPoolWaitIgnoresLaterTasks(t *testing.T) {
	p := newPool(4)
	releaseA, releaseB := make(chan struct{}), make(chan struct{})
	if !p.try(func() { <-releaseA }) {
		t.Fatal("task A refused")
	}
	p.mu.Lock()
	limit := p.next // as wait reads it: A is before, B after
	p.mu.Unlock()
	if !p.try(func() { <-releaseB }) {
		t.Fatal("task B refused")
	}
	defer close(releaseB)
	done := make(chan error, 1)
	go func() { done <- p.waitBefore(context.Background(), limit) }()
	select {
	case err := <-done:
		t.Fatalf("wait returned (%v) while task A ran", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(releaseA)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait still blocked by task B, started after it")
	}
}
