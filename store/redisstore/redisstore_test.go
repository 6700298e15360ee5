package redisstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
	"github.com/cachier-go/cachier/store/storetest"
)

// client returns a client of the test server (CACHIER_TEST_REDIS_ADDR),
// closed when the test ends, or ends the test through testenv when the
// server does not answer.
func client(t testing.TB) *redis.Client {
	t.Helper()
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		testenv.Unavailable(t, "redis", addr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// prefix returns a key prefix unique to this test, whose keys are deleted
// when the test ends.
func prefix(t testing.TB, rdb redis.UniversalClient) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	p := "cachiertest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("cleaning up %s*: %v", p, err)
			return
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			if err := rdb.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Logf("cleaning up %s*: %v", p, err)
				return
			}
			keys = keys[n:]
		}
	})
	return p
}

func TestConformance(t *testing.T) {
	rdb := client(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
	})
}

// TestKeyLayout checks the layout the package documentation promises, as
// seen from a plain client.
func TestKeyLayout(t *testing.T) {
	rdb := client(t)
	p := prefix(t, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	ctx := context.Background()
	const fn, key = "example.com/app.Service.Fetch{v2}", "0123456789abcdef0123456789abcdef"
	when := time.UnixMicro(1_700_000_000_123_456)
	if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("value"), Time: when}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Mark(ctx, fn, key, "owner-1", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}

	keys, err := rdb.Keys(ctx, p+"*").Result() // a test may use KEYS
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("keys under %q: %q, want an entry, a mark and the function's name", p, keys)
	}
	var entry, mark, name string
	for _, k := range keys {
		switch {
		case strings.HasSuffix(k, "}:e:"+key):
			entry = k
		case strings.HasSuffix(k, "}:m:"+key):
			mark = k
		case strings.HasSuffix(k, "}:n"):
			name = k
		}
	}
	if v := rdb.Get(ctx, name).Val(); name == "" || v != fn || !strings.HasPrefix(entry, strings.TrimSuffix(name, "n")) {
		t.Errorf("name key %q = %q: want <prefix>{h}:n holding the identity %q", name, v, fn)
	}
	if entry == "" || mark == "" {
		t.Fatalf("keys %q: want <prefix>{h}:e:<key> and <prefix>{h}:m:<key>", keys)
	}
	tag := strings.TrimPrefix(entry[:strings.Index(entry, "}")+1], p)
	if len(tag) != 34 || tag[0] != '{' || strings.Contains(tag, "v2") {
		t.Errorf("hash tag %q: want {<32 hex digits>}", tag)
	}
	if !strings.HasPrefix(mark, p+tag+":") {
		t.Errorf("mark %q and entry %q do not share the hash tag", mark, entry)
	}

	h, err := rdb.HGetAll(ctx, entry).Result()
	if err != nil {
		t.Fatal(err)
	}
	if h["v"] != "value" || h["t"] != "1700000000123456" || len(h) != 2 {
		t.Errorf("entry hash = %q, want v=value t=1700000000123456", h)
	}
	if ttl := rdb.TTL(ctx, entry).Val(); ttl != -1 {
		t.Errorf("entry ttl = %v, want none", ttl)
	}
	if v := rdb.Get(ctx, mark).Val(); v != "owner-1" {
		t.Errorf("mark value = %q, want the owner", v)
	}
	if ttl := rdb.PTTL(ctx, mark).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("mark ttl = %v, want (0, 1m]", ttl)
	}

	// A prefix with glob characters scans only its own keys.
	q := p + "*?[x]\\"
	other := redisstore.New(rdb, redisstore.WithKeyPrefix(q))
	if err := other.Set(ctx, fn, key, store.Entry{Value: []byte("other"), Time: when}); err != nil {
		t.Fatal(err)
	}
	if err := other.Clear(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(ctx, fn, key); err != nil || string(e.Value) != "value" {
		t.Errorf("Clear under prefix %q touched prefix %q: %q, %v", q, p, e.Value, err)
	}
	if _, err := other.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Clear = %v, want ErrNotFound", err)
	}
}

// TestPrefixesApart shows that two prefixes on one server are two caches.
func TestPrefixesApart(t *testing.T) {
	rdb := client(t)
	a := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
	b := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
	ctx := context.Background()
	const fn, key = "f", "00000000000000000000000000000001"
	if err := a.Set(ctx, fn, key, store.Entry{Value: []byte("a"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("b.Get = %v, want ErrNotFound", err)
	}
	if ok, err := b.Mark(ctx, fn, key, "x", time.Minute); err != nil || !ok {
		t.Fatalf("b.Mark = %v, %v", ok, err)
	}
	if ok, err := a.Mark(ctx, fn, key, "y", time.Minute); err != nil || !ok {
		t.Fatalf("a.Mark = %v, %v: marks of another prefix must not count", ok, err)
	}
	if err := b.Clear(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, fn, key); err != nil {
		t.Fatalf("a.Get after b.Clear: %v", err)
	}
}

// TestCorruptEntry: a hash the store did not write reads as a miss, and Set
// overwrites it.
func TestCorruptEntry(t *testing.T) {
	rdb := client(t)
	p := prefix(t, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	ctx := context.Background()
	const fn, key = "f", "00000000000000000000000000000001"
	if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	keys := rdb.Keys(ctx, p+"*:e:*").Val()
	if len(keys) != 1 {
		t.Fatalf("keys = %q", keys)
	}
	rdb.HSet(ctx, keys[0], "t", "yesterday")
	if _, err := s.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a corrupt entry = %v, want ErrNotFound", err)
	}
	if err := s.DeleteStale(ctx, fn, time.Now()); err != nil {
		t.Fatalf("DeleteStale over a corrupt entry: %v", err)
	}
	if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("w"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if e, err := s.Get(ctx, fn, key); err != nil || string(e.Value) != "w" {
		t.Fatalf("Get after overwrite = %q, %v", e.Value, err)
	}

	// A key of another type where the entry belongs: a miss (the server
	// says WRONGTYPE), which Set replaces.
	rdb.Del(ctx, keys[0])
	rdb.Set(ctx, keys[0], "not a hash", 0)
	if _, err := s.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a string key = %v, want ErrNotFound", err)
	}
	if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("x"), Time: time.Now()}); err != nil {
		t.Fatalf("Set over a string key: %v", err)
	}
	if e, err := s.Get(ctx, fn, key); err != nil || string(e.Value) != "x" {
		t.Fatalf("Get after replacing a string key = %q, %v", e.Value, err)
	}
}

// TestManyKeysClear makes SCAN take several rounds.
func TestManyKeysClear(t *testing.T) {
	rdb := client(t)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
	ctx := context.Background()
	const n = 2500
	old := time.Now().Add(-time.Hour)
	pipe := func(fn string, from, to int, tm time.Time) {
		for i := from; i < to; i++ {
			if err := s.Set(ctx, fn, fmt.Sprintf("%032x", i), store.Entry{Value: []byte("x"), Time: tm}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pipe("f", 0, n/2, old)
	pipe("f", n/2, n, time.Now())
	pipe("g", 0, 10, old)
	if err := s.DeleteStale(ctx, "f", time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	count := func(fn string) int {
		c := 0
		for i := range n {
			if _, err := s.Get(ctx, fn, fmt.Sprintf("%032x", i)); err == nil {
				c++
			}
		}
		return c
	}
	if c := count("f"); c != n/2 {
		t.Fatalf("after DeleteStale f has %d entries, want %d", c, n/2)
	}
	if err := s.Clear(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	if c := count("f"); c != 0 {
		t.Fatalf("after Clear f has %d entries, want 0", c)
	}
	if c := count("g"); c != 10 {
		t.Fatalf("g has %d entries, want 10", c)
	}
}

// TestContextCancelled: a dead context fails the call at once.
func TestContextCancelled(t *testing.T) {
	rdb := client(t)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Get(ctx, "f", "00000000000000000000000000000001"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context = %v, want context.Canceled", err)
	}
	if err := s.Wait(ctx, "f", "00000000000000000000000000000001"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context = %v, want context.Canceled", err)
	}
}

// channel returns the Pub/Sub channel of key in fn, as the package
// documentation lays it out.
func channel(prefix, fn, key string) string {
	h := sha256.Sum256([]byte(fn))
	return prefix + "{" + hex.EncodeToString(h[:16]) + "}:c:" + key
}

// startWait runs s.Wait in a goroutine once the key's channel has no
// subscriber, and returns when Wait has subscribed, with the channel on
// which Wait's result arrives.
func startWait(t *testing.T, rdb *redis.Client, s *redisstore.Store, ctx context.Context, p, fn, key string) <-chan error {
	t.Helper()
	ch := channel(p, fn, key)
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx, fn, key) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := rdb.PubSubNumSub(context.Background(), ch).Val()[ch]
		if n == 1 {
			return done
		}
		select {
		case err := <-done:
			t.Fatalf("Wait returned %v before anything changed", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("Wait did not subscribe to %s within 5s", ch)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitResult(t *testing.T, done <-chan error, what string, start time.Time) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait after %s: %v", what, err)
		}
		t.Logf("Wait woke %v after %s", time.Since(start), what)
	case <-time.After(redisstore.MaxWait + 5*time.Second):
		t.Fatalf("Wait did not return after %s", what)
	}
}

func TestWait(t *testing.T) {
	rdb := client(t)
	ctx := context.Background()
	const key = "00000000000000000000000000000001"

	t.Run("NoMark", func(t *testing.T) {
		s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
		start := time.Now()
		if err := s.Wait(ctx, "f", key); err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el >= redisstore.MaxWait {
			t.Errorf("Wait without a mark took %v, the full MaxWait", el)
		}
	})

	wakes := []struct {
		name   string
		change func(s *redisstore.Store) error
	}{
		{"Set", func(s *redisstore.Store) error {
			return s.Set(ctx, "f", key, store.Entry{Value: []byte("v"), Time: time.Now()})
		}},
		{"Unmark", func(s *redisstore.Store) error { return s.Unmark(ctx, "f", key, "owner") }},
		{"ClearMarks", func(s *redisstore.Store) error { return s.ClearMarks(ctx, "f") }},
		{"Clear", func(s *redisstore.Store) error { return s.Clear(ctx, "f") }},
	}
	for _, w := range wakes {
		t.Run(w.name, func(t *testing.T) {
			p := prefix(t, rdb)
			s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
			if ok, err := s.Mark(ctx, "f", key, "owner", time.Hour); err != nil || !ok {
				t.Fatalf("Mark = %v, %v", ok, err)
			}
			start := time.Now()
			done := startWait(t, rdb, s, ctx, p, "f", key)
			if err := w.change(s); err != nil {
				t.Fatal(err)
			}
			waitResult(t, done, w.name, start)
			// Woken by the message, not by MaxWait (a generous bound: the
			// message arrives in well under a millisecond).
			if el := time.Since(start); el >= redisstore.MaxWait {
				t.Errorf("Wait returned after %v, not at the notification", el)
			}
		})
	}

	t.Run("OtherKeyDoesNotWake", func(t *testing.T) {
		p := prefix(t, rdb)
		s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
		if ok, err := s.Mark(ctx, "f", key, "owner", time.Hour); err != nil || !ok {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := startWait(t, rdb, s, wctx, p, "f", key)
		if err := s.Set(ctx, "f", "00000000000000000000000000000002", store.Entry{Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := s.Set(ctx, "g", key, store.Entry{Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// A negative check: give a wrong wake-up time to show. (It cannot
		// make a correct store fail, only miss a wrong one on a slow day.)
		select {
		case err := <-done:
			t.Fatalf("Wait returned %v after writes to other keys", err)
		case <-time.After(200 * time.Millisecond):
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled (woken by another key?)", err)
		}
	})

	t.Run("MarkLapses", func(t *testing.T) {
		s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
		const ttl = 300 * time.Millisecond
		start := time.Now()
		if ok, err := s.Mark(ctx, "f", key, "dead", ttl); err != nil || !ok {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		if err := s.Wait(ctx, "f", key); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("Wait for a lapsing mark (ttl %v) returned after %v", ttl, el)
		if el >= redisstore.MaxWait {
			t.Errorf("Wait returned after %v, not when the mark lapsed", el)
		}
		if ok, err := s.Mark(ctx, "f", key, "alive", time.Minute); err != nil || !ok {
			t.Errorf("Mark after Wait = %v, %v: the mark should have lapsed", ok, err)
		}
	})

	t.Run("MaxWait", func(t *testing.T) {
		s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, rdb)))
		if ok, err := s.Mark(ctx, "f", key, "owner", time.Hour); err != nil || !ok {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		start := time.Now()
		if err := s.Wait(ctx, "f", key); err != nil {
			t.Fatalf("Wait = %v, want a spurious nil after MaxWait", err)
		}
		if el := time.Since(start); el < redisstore.MaxWait-50*time.Millisecond {
			t.Errorf("Wait returned after %v with nothing changed", el)
		}
	})

	t.Run("ShortWindow", func(t *testing.T) {
		own := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
		defer own.Close()
		s := redisstore.New(own, redisstore.WithKeyPrefix(prefix(t, rdb)))
		wctx, cancel := context.WithTimeout(ctx, redisstore.MinSubscribe/2)
		defer cancel()
		if err := s.Wait(wctx, "f", key); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait in a short window = %v, want the context's deadline", err)
		}
		if n := own.PoolStats().PubSubStats.Created; n != 0 {
			t.Errorf("Wait in a short window opened %d Pub/Sub connection(s)", n)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		p := prefix(t, rdb)
		s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
		if ok, err := s.Mark(ctx, "f", key, "owner", time.Hour); err != nil || !ok {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		wctx, cancel := context.WithCancel(ctx)
		done := startWait(t, rdb, s, wctx, p, "f", key)
		start := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
		t.Logf("Wait returned %v after cancel", time.Since(start))
	})
}

// countHook counts the round trips a client makes: commands, and
// pipelines as one.
type countHook struct{ n atomic.Int32 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// TestRoundTrips: a hit, a miss, a write, a mark and an unmark are one
// round trip each (once the server knows the scripts).
func TestRoundTrips(t *testing.T) {
	shared := client(t)
	rdb := redis.NewClient(&redis.Options{Addr: shared.Options().Addr})
	t.Cleanup(func() { rdb.Close() })
	var h countHook
	rdb.AddHook(&h)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(t, shared)))
	ctx := context.Background()
	const fn, key = "f", "00000000000000000000000000000001"
	// Warm up: the first run of a script may be EVALSHA, then EVAL.
	if _, err := s.Mark(ctx, fn, key, "o", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmark(ctx, fn, key, "o"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		call func() error
	}{
		{"Get hit", func() error { _, err := s.Get(ctx, fn, key); return err }},
		{"Get miss", func() error {
			if _, err := s.Get(ctx, fn, "00000000000000000000000000000002"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("want ErrNotFound, got %v", err)
			}
			return nil
		}},
		{"Set", func() error { return s.Set(ctx, fn, key, store.Entry{Value: []byte("w"), Time: time.Now()}) }},
		{"Mark", func() error { _, err := s.Mark(ctx, fn, key, "o", time.Minute); return err }},
		{"Unmark", func() error { return s.Unmark(ctx, fn, key, "o") }},
		{"Set with Expires", func() error {
			return s.Set(ctx, fn, key, store.Entry{Value: []byte("x"), Time: time.Now(), Expires: time.Now().Add(time.Hour)})
		}},
		{"Delete", func() error { return s.Delete(ctx, fn, key) }},
		{"Delete of an absent key", func() error { return s.Delete(ctx, fn, key) }},
	} {
		before := h.n.Load()
		if err := op.call(); err != nil {
			t.Fatalf("%s: %v", op.name, err)
		}
		if n := h.n.Load() - before; n != 1 {
			t.Errorf("%s took %d round trips, want 1", op.name, n)
		}
	}
}
