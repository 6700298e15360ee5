package opctx

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// checkBound fails unless ctx has a deadline within (before+lo, after+d],
// where before and after bracket the Context call that made ctx.
func checkBound(t *testing.T, ctx context.Context, before, after time.Time, lo, d time.Duration) {
	t.Helper()
	dl, ok := ctx.Deadline()
	if !ok {
		t.Fatal("no deadline")
	}
	if !dl.After(before.Add(lo)) || dl.After(after.Add(d)) {
		t.Fatalf("deadline %v after the call, want within (%v, %v]", dl.Sub(before), lo, d)
	}
}

func TestBackgroundShared(t *testing.T) {
	const d = 200 * time.Millisecond
	to := New(d)
	end := time.Now().Add(3 * d) // several renewals
	var last context.Context
	renewed := 0
	for i := 0; time.Now().Before(end); i++ {
		parent := context.Background()
		if i%2 == 1 {
			parent = context.TODO()
		}
		before := time.Now()
		ctx, cancel := to.Context(parent)
		after := time.Now()
		checkBound(t, ctx, before, after, d*9/10, d)
		if ctx.Err() != nil {
			t.Fatalf("shared context already done: %v", ctx.Err())
		}
		cancel()
		if ctx.Err() != nil {
			t.Fatal("cancel ended the shared context")
		}
		if ctx != last {
			renewed++
			last = ctx
		}
		time.Sleep(time.Millisecond)
	}
	// One context per tenth of the timeout, give or take a slow runner.
	if renewed < 2 || renewed > 40 {
		t.Errorf("%d shared contexts in 3 timeouts, want about 30", renewed)
	}
}

func TestBackgroundAndTODOShareOneContext(t *testing.T) {
	to := New(time.Hour)
	a, _ := to.Context(context.Background())
	b, _ := to.Context(context.TODO())
	if a != b {
		t.Error("Background and TODO calls in one tenth of the timeout got different contexts")
	}
}

func TestEarlierDeadlineKept(t *testing.T) {
	to := New(time.Hour)
	parent, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	ctx, cancel := to.Context(parent)
	defer cancel()
	if ctx != parent {
		t.Error("a caller context ending within the timeout was not used as it is")
	}
}

func TestLaterDeadlineBounded(t *testing.T) {
	const d = time.Minute
	to := New(d)
	type key struct{}
	later, lcancel := context.WithTimeout(context.Background(), time.Hour)
	defer lcancel()
	cancellable, ccancel := context.WithCancel(context.Background())
	defer ccancel()
	for name, parent := range map[string]context.Context{
		"values":        context.WithValue(context.Background(), key{}, 1),
		"later":         later,
		"cancellable":   cancellable,
		"withoutCancel": context.WithoutCancel(context.Background()),
	} {
		t.Run(name, func(t *testing.T) {
			before := time.Now()
			ctx, cancel := to.Context(parent)
			after := time.Now()
			defer cancel()
			checkBound(t, ctx, before, after, d-time.Nanosecond, d)
			if name == "values" && ctx.Value(key{}) != 1 {
				t.Error("the caller's values are lost")
			}
			cancel()
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Errorf("after cancel, Err() = %v, want context.Canceled", ctx.Err())
			}
			if parent.Err() != nil {
				t.Error("cancel ended the caller's context")
			}
		})
	}
}

func TestTimeoutEnds(t *testing.T) {
	to := New(20 * time.Millisecond)
	for name, parent := range map[string]context.Context{
		"background": context.Background(),
		"own":        context.WithValue(context.Background(), testKey{}, 1),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := to.Context(parent)
			defer cancel()
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the operation context never ended")
			}
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Errorf("Err() = %v, want context.DeadlineExceeded", ctx.Err())
			}
		})
	}
}

func TestCancellationPropagates(t *testing.T) {
	for name, d := range map[string]time.Duration{
		"bounded": time.Minute, // a WithTimeout of its own
		"kept":    time.Hour,   // the caller's context, ending sooner
		"none":    0,
	} {
		t.Run(name, func(t *testing.T) {
			parent, pcancel := context.WithTimeout(context.Background(), 30*time.Minute)
			ctx, cancel := New(d).Context(parent)
			defer cancel()
			pcancel()
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("the caller's cancellation did not reach the operation")
			}
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Errorf("Err() = %v, want context.Canceled", ctx.Err())
			}
		})
	}
}

func TestNoTimeout(t *testing.T) {
	for name, to := range map[string]*Timeout{"zero": New(0), "negative": New(-time.Second), "nil": nil} {
		t.Run(name, func(t *testing.T) {
			for _, parent := range []context.Context{
				context.Background(),
				context.TODO(),
				context.WithValue(context.Background(), testKey{}, 1),
			} {
				ctx, cancel := to.Context(parent)
				if ctx != parent {
					t.Errorf("%v: got another context", parent)
				}
				if _, ok := ctx.Deadline(); ok {
					t.Errorf("%v: a deadline was added", parent)
				}
				cancel()
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	// A timeout short enough that the shared context is renewed often
	// while the goroutines use it.
	const d = 2 * time.Millisecond
	to := New(d)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				parent := context.Background()
				switch (g + i) % 4 {
				case 1:
					parent = context.TODO()
				case 2:
					parent = context.WithValue(parent, testKey{}, i)
				}
				before := time.Now()
				ctx, cancel := to.Context(parent)
				after := time.Now()
				dl, ok := ctx.Deadline()
				if !ok || !dl.After(before.Add(d*9/10)) || dl.After(after.Add(d)) {
					t.Errorf("deadline %v after the call, want within (%v, %v]", dl.Sub(before), d*9/10, d)
					cancel()
					return
				}
				cancel()
			}
		}()
	}
	wg.Wait()
}

func TestBackgroundAllocatesNothing(t *testing.T) {
	to := New(time.Hour) // no renewal during the runs
	to.Context(context.Background())
	if n := testing.AllocsPerRun(100, func() {
		_, cancel := to.Context(context.Background())
		cancel()
	}); n != 0 {
		t.Errorf("%v allocations per Background call, want 0", n)
	}
}

func BenchmarkContext(b *testing.B) {
	to := New(3 * time.Second)
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"Background", context.Background()},
		{"Values", context.WithValue(context.Background(), testKey{}, 1)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, cancel := to.Context(bc.ctx)
					cancel()
				}
			})
		})
	}
}

// testKey is a context key of this test's own.
type testKey struct{}
