package cachier_test

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
)

// servedAgain calls call (which reports whether the function ran) until a
// call is served from the cache. After an outage the core leaves a store
// alone until its backoff window ends (a minute at most), so the first
// calls after a recovery may still run the function.
func servedAgain(t *testing.T, what string, call func() (ran bool)) {
	t.Helper()
	deadline := time.Now().Add(75 * time.Second)
	for call() {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not served from the cache 75s after the store came back", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counted passes every operation to a real store and counts those that
// reach it.
type counted struct {
	store.Store
	ops atomic.Int64
}

func (s *counted) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	s.ops.Add(1)
	return s.Store.Get(ctx, fn, key)
}

func (s *counted) Set(ctx context.Context, fn, key string, e store.Entry) error {
	s.ops.Add(1)
	return s.Store.Set(ctx, fn, key, e)
}

func (s *counted) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	s.ops.Add(1)
	return s.Store.Mark(ctx, fn, key, owner, ttl)
}

func (s *counted) Unmark(ctx context.Context, fn, key, owner string) error {
	s.ops.Add(1)
	return s.Store.Unmark(ctx, fn, key, owner)
}

// TestRedisHungBreaker: with the real Redis hung (a proxy that accepts and
// never answers), N calls pay at most one store timeout per backoff
// window, not one each: the store operations that reach the hung server
// are counted, not timed. Before the circuit breaker, each of the N calls
// made at least one (5 s on go-redis defaults; here the store's timeout).
// When the server answers again, caching resumes.
func TestRedisHungBreaker(t *testing.T) {
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	direct := redis.NewClient(&redis.Options{Addr: addr})
	pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := direct.Ping(pctx).Err()
	cancel()
	direct.Close()
	if err != nil {
		testenv.Unavailable(t, "redis", addr, err)
	}
	proxy := testenv.StartProxy(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	prefix := "cachiertest:" + uniq() + ":"
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		expireRedisPrefix(t, c, prefix)
	})
	st := &counted{Store: redisstore.New(rdb, redisstore.WithKeyPrefix(prefix), redisstore.WithTimeout(time.Second))}
	logs := testenv.CaptureLogs(t)

	var calls atomic.Int64
	square := func(ctx context.Context, x int) (int, error) { calls.Add(1); return x * x, nil }
	if err := cachier.Decorate(&square, cachier.Tag("backend=redis,name=core.breaker.redis."+uniq()), cachier.WithStore("redis", st)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call := func(x int) (ran bool) {
		t.Helper()
		n := calls.Load()
		if v, err := square(ctx, x); v != x*x || err != nil {
			t.Fatalf("square(%d) = %d, %v", x, v, err)
		}
		return calls.Load() != n
	}
	if !call(3) || call(3) {
		t.Fatal("not cached before the outage")
	}

	proxy.Hang()
	const n = 30
	before := st.ops.Load()
	start := time.Now()
	for i := range n {
		if !call(i % 4) {
			t.Fatalf("call %d during the hang was served from the cache?", i)
		}
	}
	elapsed := time.Since(start)
	ops := st.ops.Load() - before
	// Windows of 1 s, 2 s, 4 s…: in elapsed time at most 1 + log2(1 +
	// elapsed/1s) of them can have ended, each letting one call probe.
	allowed := 1 + int64(math.Ceil(math.Log2(1+elapsed.Seconds())))
	t.Logf("%d calls with Redis hung: %d store operations in %v (allowed %d)", n, ops, elapsed.Round(time.Millisecond), allowed)
	if ops > allowed {
		t.Errorf("%d calls with Redis hung made %d store operations, want at most %d (one per backoff window)", n, ops, allowed)
	}
	if l := logs.String(); strings.Count(l, "store failed") != 1 {
		t.Errorf("the outage was not logged exactly once:\n%s", l)
	}

	proxy.Restore()
	servedAgain(t, "square(3)", func() bool { return call(3) })
	if !strings.Contains(logs.String(), "store answers again") {
		t.Errorf("the recovery was not logged:\n%s", logs.String())
	}
}
