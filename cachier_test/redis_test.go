package cachier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os/exec"
	"strconv"
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

func init() {
	backends["redis"] = backendDef{open: openRedis, crossProcess: true}
}

// openRedis opens the redis backend on CACHIER_TEST_REDIS_ADDR under a key
// prefix derived from dir, so that every process of one race shares the
// prefix and nothing else does.
func openRedis(t *testing.T, dir string) backend {
	t.Helper()
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		testenv.Unavailable(t, "redis", addr, err)
	}
	h := sha256.Sum256([]byte(dir))
	prefix := "cachiertest:" + hex.EncodeToString(h[:8]) + ":"
	t.Cleanup(func() {
		expireRedisPrefix(t, rdb, prefix)
		rdb.Close()
	})
	st := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix))
	return backend{
		tag:  "backend=redis",
		opts: []cachier.Option{cachier.WithStore("redis", st)},
	}
}

// expireRedisPrefix gives every key under prefix ten minutes to live. It
// does not delete them: the other processes of a race may still be using
// them.
func expireRedisPrefix(t *testing.T, rdb *redis.Client, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	pipe := rdb.Pipeline()
	for iter.Next(ctx) {
		pipe.PExpire(ctx, iter.Val(), 10*time.Minute)
	}
	if err := iter.Err(); err != nil {
		t.Logf("redis cleanup of %s*: %v", prefix, err)
		return
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			t.Logf("redis cleanup of %s*: %v", prefix, err)
		}
	}
}

// redisServer is a redis-server process of the test's own on a free port,
// without persistence, killed when the test ends.
type redisServer struct {
	t    *testing.T
	args []string
	addr string
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Unavailable(t, "redis-server binary", "$PATH", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir := t.TempDir()
	s := &redisServer{t: t, addr: "127.0.0.1:" + port, args: []string{bin,
		"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--logfile", dir + "/redis.log"}}
	s.start()
	t.Cleanup(s.kill)
	return s
}

// start starts the server (again, on the same port) and waits until it
// answers.
func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 10s", s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) kill() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// TestRedisOutage kills the test's own redis-server under a decorated
// function: calls keep returning correct results while it is down, within
// a bounded time each, the failure is logged, and once the server is back
// on the same port results are cached again.
func TestRedisOutage(t *testing.T) {
	srv := startRedisServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.addr}) // go-redis defaults
	t.Cleanup(func() { rdb.Close() })
	const opTimeout = time.Second
	st := redisstore.New(rdb, redisstore.WithTimeout(opTimeout))

	logs := testenv.CaptureLogs(t)

	var calls atomic.Int32
	square := func(ctx context.Context, x int) (int, error) {
		calls.Add(1)
		return x * x, nil
	}
	if err := cachier.Decorate(&square, cachier.Tag("backend=redis,name=redis.outage.square"), cachier.WithStore("redis", st)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// call calls square(x), checks the result, and reports whether the
	// function ran and how long the call took.
	call := func(x int) (ran bool, took time.Duration) {
		t.Helper()
		before := calls.Load()
		start := time.Now()
		got, err := square(ctx, x)
		took = time.Since(start)
		if err != nil || got != x*x {
			t.Fatalf("square(%d) = %d, %v; want %d, nil", x, got, err, x*x)
		}
		return calls.Load() != before, took
	}

	if ran, _ := call(3); !ran {
		t.Fatal("first call did not run the function")
	}
	if ran, _ := call(3); ran {
		t.Fatal("second call ran the function: not cached")
	}

	srv.kill()
	t.Log("server killed")
	// Each call tries a few store operations (look-up, then whatever the
	// core does after a failure), each bounded by the operation timeout.
	// With go-redis defaults the first calls spend the timeout on dial
	// retries; after a few, its pool fails at once until a background
	// dial succeeds, and calls cost no more than the function.
	const bound = 4*opTimeout + 2*time.Second
	for _, x := range []int{3, 4, 3, 4, 3, 4, 3, 4} {
		ran, took := call(x)
		t.Logf("square(%d) with the server down: ran the function %v, took %v", x, ran, took.Round(time.Millisecond))
		if !ran {
			t.Errorf("square(%d) did not run the function with the store down", x)
		}
		if took > bound {
			t.Errorf("square(%d) took %v with the server down (bound %v)", x, took, bound)
		}
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "redis.outage.square") {
		t.Errorf("the store failure was not logged; log:\n%s", l)
	}

	srv.start()
	t.Log("server restarted")
	// go-redis notices that the server is back within a second or so
	// (its pool probes after failed dials); until then calls still fail
	// open. Wait for the store itself to answer, within a bound.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := st.Get(ctx, "probe", "00000000000000000000000000000000")
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store still failing 10s after the restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted server is empty (no persistence): the first call
	// computes and stores, the second is served from the cache.
	if ran, _ := call(5); !ran {
		t.Fatal("square(5) after the restart did not run the function")
	}
	// The core leaves a store that failed alone until its backoff window
	// ends: caching resumes then.
	servedAgain(t, "square(5)", func() bool { ran, _ := call(5); return ran })
	if ran, _ := call(3); !ran {
		t.Fatal("square(3) served from an empty server?")
	}
	if ran, _ := call(3); ran {
		t.Fatal("square(3) ran again: caching did not resume")
	}
	t.Logf("log:\n%s", logs.String())
}
