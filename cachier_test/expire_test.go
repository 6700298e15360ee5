package cachier_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/redisstore"
	"github.com/cachier-go/cachier/store/sqlstore"
)

func init() {
	scenarios = append(scenarios,
		struct {
			name string
			run  func(t *testing.T, e *env)
		}{"ExpireAfterNeverServed", scExpireAfterNeverServed},
		struct {
			name string
			run  func(t *testing.T, e *env)
		}{"ExpireAfterNotServedStaleByNextTime", scExpireAfterNextTime},
	)
}

// sleepPast sleeps until d has passed since start, and a margin: a
// condition on the clock (an entry's age), not a guess at how long work
// takes.
func sleepPast(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)) + 30*time.Millisecond)
}

// scExpireAfterNeverServed: an entry older than expire_after is a miss,
// whatever stale_after says (here: never stale).
func scExpireAfterNeverServed(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	e.decorate(&f, "expire_after=800ms")
	if a, b := f(1), f(1); a != 1 || b != 1 {
		t.Fatalf("calls within expire_after returned %d, %d; want 1, 1", a, b)
	}
	start := time.Now() // after the entry's time
	sleepPast(start, 800*time.Millisecond)
	if got := f(1); got != 2 {
		t.Fatalf("an entry older than expire_after was served: got %d, want 2", got)
	}
	e.wantCalls(&c, 2)
}

// scExpireAfterNextTime: with next_time a stale entry is served while the
// refresh runs, but an expired one never is: the call computes.
func scExpireAfterNextTime(t *testing.T, e *env) {
	var c counter
	f := func(x int) int64 { return c.n.Add(1) }
	e.decorate(&f, "stale_after=100ms,expire_after=800ms,next_time")
	f(1)
	start := time.Now() // after the entry's time
	sleepPast(start, 800*time.Millisecond)
	if got := f(1); got != 2 {
		t.Fatalf("next_time served an expired entry: got %d, want 2 (computed in the call)", got)
	}
}

// expire_after below stale_after is a Decorate error naming the key.
func TestExpireAfterBelowStaleAfterIsTagError(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	f := func(x int) int { return x }
	err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=expire.below,stale_after=1h,expire_after=10m"))
	var te *cachier.TagError
	if !errors.As(err, &te) || te.Key != "expire_after" || te.Value != "10m" {
		t.Fatalf("Decorate = %v; want a *TagError on expire_after=10m", err)
	}
	type svc struct {
		F func(int) int `cachier:"backend=memory,name=expire.ok,stale_after=1h,expire_after=1h"`
		G func(int) int `cachier:"backend=memory,name=expire.never,expire_after=1m"`
	}
	s := svc{F: f, G: f}
	if err := cachier.Decorate(&s); err != nil {
		t.Fatalf("expire_after equal to stale_after, or without stale_after: %v", err)
	}
}

// A decorated call with expire_after writes a Redis entry whose key has a
// TTL (Redis deletes it by itself), none without expire_after.
func TestRedisEntryHasTTL(t *testing.T) {
	defaults.Reset()
	t.Cleanup(defaults.Reset)
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "redis", addr, err)
	}
	prefix := "cachiertest:ttl" + uniq() + ":"
	defer expireRedisPrefix(t, rdb, prefix)
	st := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix))
	type svc struct {
		Expiring func(int) int `cachier:"backend=redis,name=ttl.expiring,expire_after=1h"`
		Lasting  func(int) int `cachier:"backend=redis,name=ttl.lasting"`
	}
	s := svc{Expiring: func(x int) int { return x }, Lasting: func(x int) int { return x }}
	if err := cachier.Decorate(&s, cachier.WithStore("redis", st)); err != nil {
		t.Fatal(err)
	}
	s.Expiring(1)
	s.Lasting(1)
	ttls := map[string]time.Duration{}
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); strings.Contains(k, "e:") {
			ttls[k] = rdb.TTL(ctx, k).Val()
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	var expiring, lasting int
	for k, ttl := range ttls {
		switch {
		case ttl > 59*time.Minute && ttl <= time.Hour:
			expiring++
		case ttl == -1:
			lasting++
		default:
			t.Errorf("entry %s has TTL %v, want about 1h or none", k, ttl)
		}
	}
	if expiring != 1 || lasting != 1 {
		t.Fatalf("entry TTLs %v: want one of about 1h (expire_after=1h) and one without", ttls)
	}
}

// Entries past expire_after are deleted by the cleanup on stores that do
// not expire entries by themselves (memory, SQL), without cleanup_stale.
func TestExpiredEntriesDeletedByCleanup(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		defaults.Reset()
		t.Cleanup(defaults.Reset)
		var c counter
		f := func(x int) int64 { return c.n.Add(1) }
		name := "expire.cleanup.memory." + uniq()
		if err := cachier.Decorate(&f, cachier.Tag("backend=memory,expire_after=300ms,cleanup_interval=1ms,name="+name)); err != nil {
			t.Fatal(err)
		}
		defer waitBackground(t) // the cleanup f(3) started may still run
		h, _ := cachier.Of(&f)
		mem, ok := h.Store().(interface{ Len(fn string) int })
		if !ok {
			t.Fatalf("memory store %T has no Len", h.Store())
		}
		f(1)
		f(2)
		start := time.Now()
		if n := mem.Len(h.Name()); n != 2 {
			t.Fatalf("%d entries, want 2", n)
		}
		sleepPast(start, 300*time.Millisecond)
		fresh := time.Now() // entry 3 is stamped after this
		f(3)                // starts a cleanup
		waitExpiredDeleted(t, fresh, 300*time.Millisecond, func() int { return mem.Len(h.Name()) })
	})
	t.Run("sqlite", func(t *testing.T) {
		defaults.Reset()
		t.Cleanup(defaults.Reset)
		db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "c.db")+"?_busy_timeout=10000&_journal_mode=WAL")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// Before db closes and t.TempDir goes: the cleanup f(3) started may
		// still hold a connection after its DELETE is seen.
		defer waitBackground(t)
		st, err := sqlstore.New(db)
		if err != nil {
			t.Fatal(err)
		}
		var c counter
		f := func(x int) int64 { return c.n.Add(1) }
		if err := cachier.Decorate(&f, cachier.Tag("backend=sql,expire_after=300ms,cleanup_interval=1ms,name=expire.cleanup.sql"),
			cachier.WithStore("sql", st)); err != nil {
			t.Fatal(err)
		}
		rows := func() (n int) {
			if err := db.Get(&n, "SELECT COUNT(*) FROM "+st.Table()); err != nil {
				t.Fatal(err)
			}
			return n
		}
		f(1)
		f(2)
		start := time.Now()
		if n := rows(); n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
		sleepPast(start, 300*time.Millisecond)
		fresh := time.Now()
		f(3)
		waitExpiredDeleted(t, fresh, 300*time.Millisecond, rows)
	})
}

// waitExpiredDeleted waits until the cleanup has left one of the three
// entries, the one written after fresh, with count counting them. That
// entry expires too once expire_after has passed since fresh: a cleanup
// that a loaded machine starts that late rightly deletes it as well, and
// the check cannot be made (before, the test then waited for an entry
// count of 1 that never came, and failed).
func waitExpiredDeleted(t *testing.T, fresh time.Time, expireAfter time.Duration, count func() int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := count()
		if n == 1 {
			return
		}
		if n == 0 {
			if time.Since(fresh) < expireAfter {
				t.Fatalf("the cleanup deleted the fresh entry too, %v after it was written", time.Since(fresh))
			}
			t.Skipf("the cleanup ran more than expire_after (%v) after the fresh entry was written, and rightly deleted it: the machine is too slow to check", expireAfter)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries left after the cleanup, want 1 (the fresh one)", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
