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

// nameKeyOf finds the one function-name key (<base>n) the store wrote
// under p.
func nameKeyOf(t *testing.T, rdb *redis.Client, p string) string {
	t.Helper()
	keys, err := rdb.Keys(ctx(t), p+"*}:n").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("name keys under %q: %q, want one", p, keys)
	}
	return keys[0]
}

// The function's name key (<base>n, read by the Lister) lives as long as
// the function's longest-lived entry: it takes the longest expiry of the
// entries written, no expiry once an entry has none, and a mark's ttl
// when only a mark made it. So it never outlives entries that expire_after
// removed.
func TestNameKeyFollowsEntryLifetime(t *testing.T) {
	rdb := client(t)
	p := prefix(t, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	const fn = "ttl.name"
	set := func(key string, expires time.Time) {
		t.Helper()
		if err := s.Set(ctx(t), fn, key, store.Entry{Value: []byte("v"), Time: time.Now(), Expires: expires}); err != nil {
			t.Fatal(err)
		}
	}
	pttl := func(k string) time.Duration {
		t.Helper()
		d, err := rdb.PTTL(ctx(t), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	set("00000000000000000000000000000001", time.Now().Add(time.Hour))
	n := nameKeyOf(t, rdb, p)
	if d := pttl(n); d <= 0 || d > time.Hour {
		t.Fatalf("PTTL of the name key after an entry expiring in 1h = %v, want in (0, 1h]", d)
	}
	set("00000000000000000000000000000002", time.Now().Add(2*time.Hour))
	if d := pttl(n); d <= time.Hour || d > 2*time.Hour {
		t.Fatalf("PTTL of the name key after an entry expiring in 2h = %v, want in (1h, 2h]", d)
	}
	set("00000000000000000000000000000003", time.Now().Add(30*time.Minute))
	if d := pttl(n); d <= time.Hour {
		t.Fatalf("PTTL of the name key after a shorter-lived entry = %v, want the longer one kept (> 1h)", d)
	}
	set("00000000000000000000000000000004", time.Time{})
	if d := pttl(n); d != -1 {
		t.Fatalf("PTTL of the name key after an entry without expiry = %v, want -1 (none)", d)
	}
	set("00000000000000000000000000000005", time.Now().Add(time.Minute))
	if d := pttl(n); d != -1 {
		t.Fatalf("PTTL of the name key after an expiring entry beside one without = %v, want -1 (none)", d)
	}

	// A mark alone names the function for the mark's ttl; a longer one
	// extends it, a shorter one does not shorten it.
	const mfn = "ttl.mark"
	if ok, err := s.Mark(ctx(t), mfn, "00000000000000000000000000000001", "me", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	keys, err := rdb.Keys(ctx(t), p+"*}:n").Result()
	if err != nil {
		t.Fatal(err)
	}
	var m string
	for _, k := range keys {
		if k != n {
			m = k
		}
	}
	if m == "" {
		t.Fatalf("name keys %q: none for the marked function", keys)
	}
	if d := pttl(m); d <= 0 || d > time.Minute {
		t.Fatalf("PTTL of the name key after a 1m mark = %v, want in (0, 1m]", d)
	}
	if ok, err := s.Mark(ctx(t), mfn, "00000000000000000000000000000002", "me", time.Second); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if d := pttl(m); d <= time.Second {
		t.Fatalf("PTTL of the name key after a shorter mark = %v, want the 1m kept", d)
	}
	// A mark beside entries without expiry leaves the name key without one.
	if ok, err := s.Mark(ctx(t), fn, "00000000000000000000000000000006", "me", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if d := pttl(n); d != -1 {
		t.Fatalf("PTTL of the name key after a mark beside lasting entries = %v, want -1 (none)", d)
	}
}

// A function whose only entry expired at once (an Expires already past)
// leaves no name key behind, and is not listed.
func TestNameKeyGoneWithExpiredEntries(t *testing.T) {
	rdb := client(t)
	p := prefix(t, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	const fn, key = "ttl.gone", "00000000000000000000000000000001"
	past := time.Now().Add(-time.Second)
	if err := s.Set(ctx(t), fn, key, store.Entry{Value: []byte("v"), Time: past, Expires: past}); err != nil {
		t.Fatal(err)
	}
	if keys := rdb.Keys(ctx(t), p+"*").Val(); len(keys) != 0 {
		t.Errorf("keys left after the only entry expired: %q, want none", keys)
	}
	fis, err := s.Functions(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(fis) != 0 {
		t.Errorf("Functions = %+v, want none", fis)
	}
}
