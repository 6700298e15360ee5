package cachier_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/redisstore"
)

// A program whose Redis user is limited to ~app:* (and has no channel
// rights, Redis 7's default) caches the functions of key_prefix app, and
// cannot touch another application's: those calls still return their
// results, uncached.
func TestRedisACLUserConfinedByKeyPrefix(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "redis", addr, err)
	}
	var b [8]byte
	rand.Read(b[:])
	app := "cachiertest-app-" + hex.EncodeToString(b[:4])
	user, pass := "cachiertest-user-"+hex.EncodeToString(b[4:]), hex.EncodeToString(b[:])
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "reset", "on", ">"+pass, "~"+app+":*", "resetchannels", "+@all", "-@dangerous").Err(); err != nil {
		t.Fatal(err)
	}
	defer admin.Do(context.Background(), "ACL", "DELUSER", user)
	defer expireRedisPrefix(t, admin, app+":")
	uc := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: pass})
	defer uc.Close()

	st := redisstore.New(uc)
	decorate := func(f *func(int) int64, prefix, name string) *cachier.Handle {
		t.Helper()
		if err := cachier.Decorate(f, cachier.WithStore("redis", st),
			cachier.Tag("backend=redis,key_prefix="+prefix+",name="+name)); err != nil {
			t.Fatal(err)
		}
		h, err := cachier.Of(f)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	var mine, theirs atomic.Int64
	fMine := func(int) int64 { return mine.Add(1) }
	fTheirs := func(int) int64 { return theirs.Add(1) }
	h := decorate(&fMine, app, "acl.mine")
	decorate(&fTheirs, app+"-other", "acl.theirs")

	for range 3 {
		if got := fMine(1); got != 1 {
			t.Fatalf("the application's own function: got %d, want the cached 1", got)
		}
	}
	if n, err := admin.Keys(ctx, app+":*:e:*").Result(); err != nil || len(n) != 1 { // beside it, <base>n: the function's name
		t.Fatalf("keys under %s:* = %q, %v; want the one entry", app, n, err)
	}
	if err := h.Forget(ctx, 1); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	if got := fMine(1); got != 2 {
		t.Fatalf("after Forget: got %d, want a fresh 2", got)
	}
	if err := h.ClearCache(ctx); err != nil {
		t.Fatalf("ClearCache: %v", err)
	}

	for i := range 3 {
		if got := fTheirs(1); got != int64(i+1) {
			t.Fatalf("another application's function: got %d, want %d (computed, never cached)", got, i+1)
		}
	}
	if n, err := admin.Keys(ctx, app+"-other:*").Result(); err != nil || len(n) != 0 {
		t.Fatalf("keys under %s-other:* = %q, %v; want none", app, n, err)
	}
}
