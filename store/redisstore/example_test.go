package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/redisstore"
)

// Redis as the store, shared by every process and machine that reaches the
// server. The caller dials the client and closes it; any
// redis.UniversalClient works (Sentinel, Cluster, Ring). TestExample runs
// it against the server `make services` starts.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	defaults.Register("redis", redisstore.New(rdb)) // then `cachier:"backend=redis"`

	type Service struct {
		Square func(ctx context.Context, x int) (int, error) `cachier:"backend=redis,stale_after=1h"`
	}
	calls := 0
	svc := Service{Square: func(_ context.Context, x int) (int, error) { calls++; return x * x, nil }}
	// A key_prefix of this process's own, so that runs of this example
	// never share a cache (an application names itself: key_prefix=myapp).
	if err := cachier.Decorate(&svc, cachier.Tag(fmt.Sprintf("key_prefix=example%d", os.Getpid()))); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	a, _ := svc.Square(ctx, 12) // computed
	b, _ := svc.Square(ctx, 12) // from Redis
	fmt.Println(a, b, "calls:", calls)

	h, err := cachier.Of(&svc.Square)
	if err != nil {
		log.Fatal(err)
	}
	_ = h.ClearCache(ctx) // forget its entries (SCAN and DEL on the server)
}

// TestExample runs Example against the Redis server at the example's
// address (the tests' default), where one answers.
func TestExample(t *testing.T) {
	if addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379"); addr != "127.0.0.1:6379" {
		t.Skipf("CACHIER_TEST_REDIS_ADDR=%s: the example uses the default server 127.0.0.1:6379", addr)
	}
	client(t) // skips (or fails, under CACHIER_REQUIRE_SERVICES=1) when it does not answer
	testenv.RunExample(t, Example, "144 144 calls: 1")
}
