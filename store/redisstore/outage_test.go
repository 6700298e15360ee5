//go:build unix

package redisstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
)

// opTimeout is the store's per-operation timeout in the outage tests.
const opTimeout = time.Second

// ops are the store's operations, each one call.
func ops(s *redisstore.Store) []struct {
	name string
	call func(ctx context.Context) error
} {
	const fn, key = "outage.f", "00000000000000000000000000000001"
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, fn, key); return err }},
		{"Set", func(ctx context.Context) error {
			return s.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()})
		}},
		{"Mark", func(ctx context.Context) error { _, err := s.Mark(ctx, fn, key, "o", time.Minute); return err }},
		{"Unmark", func(ctx context.Context) error { return s.Unmark(ctx, fn, key, "o") }},
		{"Clear", func(ctx context.Context) error { return s.Clear(ctx, fn) }},
		{"ClearMarks", func(ctx context.Context) error { return s.ClearMarks(ctx, fn) }},
		{"DeleteStale", func(ctx context.Context) error { return s.DeleteStale(ctx, fn, time.Now()) }},
		{"Wait", func(ctx context.Context) error { return s.Wait(ctx, fn, key) }},
	}
}

// mustFailWithin runs every operation against a server that is down or
// hung and checks each fails with an error within bound.
func mustFailWithin(t *testing.T, s *redisstore.Store, bound time.Duration, only ...string) {
	t.Helper()
	for _, op := range ops(s) {
		if len(only) > 0 && !slices.Contains(only, op.name) {
			continue
		}
		start := time.Now()
		err := op.call(context.Background())
		el := time.Since(start)
		t.Logf("%-11s %8v  %v", op.name, el.Round(time.Millisecond), err)
		if err == nil {
			t.Errorf("%s succeeded against a server that is not there", op.name)
		}
		if errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s reported a miss, not a failure: %v", op.name, err)
		}
		if el > bound {
			t.Errorf("%s took %v, more than %v", op.name, el, bound)
		}
	}
}

// mustWork shows that s works: after an outage, once go-redis has noticed
// that the server is back (its pool probes in the background after failed
// dials), which it must within 10s.
func mustWork(t *testing.T, s *redisstore.Store, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const fn, key = "outage.f", "00000000000000000000000000000001"
	start := time.Now()
	for {
		err := s.Set(ctx, fn, key, store.Entry{Value: []byte(value), Time: time.Now()})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Set: still failing after %v: %v", time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("store works (first Set succeeded after %v)", time.Since(start).Round(time.Millisecond))
	e, err := s.Get(ctx, fn, key)
	if err != nil || string(e.Value) != value {
		t.Fatalf("Get = %q, %v; want %q", e.Value, err, value)
	}
	if ok, err := s.Mark(ctx, fn, key, "o", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if err := s.Unmark(ctx, fn, key, "o"); err != nil {
		t.Fatalf("Unmark: %v", err)
	}
}

// TestOutage kills the test's own redis-server mid-test: every operation
// fails with an error, quickly; after a restart on the same port the same
// store and client work again.
func TestOutage(t *testing.T) {
	srv := startServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr}) // go-redis defaults
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, redisstore.WithTimeout(opTimeout))
	mustWork(t, s, "before")

	srv.Kill()
	t.Log("server killed")
	// Connection refused: go-redis retries the dial (3 times, with
	// backoff) and gives up well within the operation timeout.
	mustFailWithin(t, s, opTimeout+2*time.Second)

	srv.Start()
	t.Log("server restarted")
	mustWork(t, s, "after")
}

// TestHungServer stops the server (SIGSTOP): it accepts connections but
// answers nothing. Operations fail after the operation timeout when the
// client applies context deadlines to its socket I/O, and after go-redis's
// own DialTimeout/ReadTimeout (5s/3s by default) when it does not.
func TestHungServer(t *testing.T) {
	srv := startServer(t)
	t.Cleanup(func() {
		if srv.cmd != nil {
			_ = srv.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	ctxClient := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defClient := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { ctxClient.Close(); defClient.Close() })
	withCtx := redisstore.New(ctxClient, redisstore.WithTimeout(opTimeout))
	withDef := redisstore.New(defClient, redisstore.WithTimeout(opTimeout))
	mustWork(t, withCtx, "before")
	mustWork(t, withDef, "before")

	if err := srv.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Log("server stopped")
	t.Run("ContextTimeoutEnabled", func(t *testing.T) {
		mustFailWithin(t, withCtx, opTimeout+2*time.Second)
	})
	t.Run("ClientDefaults", func(t *testing.T) {
		// Each call costs the client's timeouts here: two suffice.
		mustFailWithin(t, withDef, 5*time.Second+opTimeout+2*time.Second, "Get", "Wait")
	})
	if err := srv.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Log("server continued")
	mustWork(t, withCtx, "after")
	mustWork(t, withDef, "after")
}

// TestRingDown: when every shard of a Ring is down, go-redis's
// Ring.Subscribe panics; the store reports an error instead.
func TestRingDown(t *testing.T) {
	srv := startServer(t)
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:              map[string]string{"only": srv.Addr},
		HeartbeatFrequency: 100 * time.Millisecond,
	})
	t.Cleanup(func() { ring.Close() })
	s := redisstore.New(ring, redisstore.WithTimeout(opTimeout))
	mustWork(t, s, "before")
	srv.Kill()
	// The ring marks the shard down after a few failed heartbeats; until
	// then Wait fails on the connection. Either way: an error, no panic.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Wait(context.Background(), "f", "00000000000000000000000000000001")
		if err == nil {
			t.Fatal("Wait succeeded with the only shard down")
		}
		if strings.Contains(err.Error(), "subscribe:") {
			t.Logf("Wait with every shard down: %v", err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ring did not mark its shard down within 10s; last error: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustFailWithin(t, s, opTimeout+2*time.Second)
}
