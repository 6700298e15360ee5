package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// entryKeyOf finds the one entry key the store wrote under p.
func entryKeyOf(t *testing.T, rdb *redis.Client, p string) string {
	t.Helper()
	keys, err := rdb.Keys(ctx(t), p+"*e:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("entry keys under %q: %q, want one", p, keys)
	}
	return keys[0]
}

// An entry with an Expires is a Redis key with that expiry, set by the
// write itself, so that Redis deletes it without a cleanup's SCAN; an
// overwrite without Expires makes the key persistent again.
func TestEntryExpiryIsKeyTTL(t *testing.T) {
	rdb := client(t)
	p := prefix(t, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	const fn, key = "ttl.f", "00000000000000000000000000000001"
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	if err := s.Set(ctx(t), fn, key, store.Entry{Value: []byte("v"), Time: time.Now(), Expires: exp}); err != nil {
		t.Fatal(err)
	}
	k := entryKeyOf(t, rdb, p)
	at, err := rdb.PExpireTime(ctx(t), k).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := time.UnixMilli(at.Milliseconds()); !got.Equal(exp) {
		t.Errorf("PEXPIRETIME of %s = %v, want %v", k, got, exp)
	}
	if ttl := rdb.TTL(ctx(t), k).Val(); ttl <= 0 {
		t.Errorf("TTL of %s = %v, want > 0", k, ttl)
	}

	if err := s.Set(ctx(t), fn, key, store.Entry{Value: []byte("v2"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx(t), k).Val(); ttl != -1 {
		t.Errorf("TTL of %s after an overwrite without Expires = %v, want -1 (no expiry)", k, ttl)
	}
	if n := rdb.HExists(ctx(t), k, "x").Val(); n {
		t.Errorf("field x of %s outlives the overwrite without Expires", k)
	}

	// An Expires already past deletes the key at once.
	if err := s.Set(ctx(t), fn, key, store.Entry{Value: []byte("v3"), Time: time.Now(), Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx(t), k).Val(); n != 0 {
		t.Errorf("%s exists after a write that expired already", k)
	}
}

// An expiry field this store did not write (not a number) makes the entry
// a miss, never an entry that does not expire.
func TestBadExpiryFieldIsAMiss(t *testing.T) {
	rdb := client(t)
	p := prefix(t, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	const fn, key = "ttl.bad", "00000000000000000000000000000001"
	if err := s.Set(ctx(t), fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	k := entryKeyOf(t, rdb, p)
	for _, x := range []string{"tomorrow", "", "1e99", "-"} {
		if err := rdb.HSet(ctx(t), k, "x", x).Err(); err != nil {
			t.Fatal(err)
		}
		if e, err := s.Get(ctx(t), fn, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get with x=%q = %q, %v; want ErrNotFound", x, e.Value, err)
		}
	}
}
