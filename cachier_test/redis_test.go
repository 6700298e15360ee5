package cachier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
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
