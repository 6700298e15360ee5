package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
)

func randHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// aclUser creates, on the test server, a user allowed every command but the
// dangerous ones on the keys matching pattern only, with no Pub/Sub channel
// (Redis 7's default for new users), and returns a client logged in as it.
// The user is deleted when the test ends.
func aclUser(t *testing.T, admin *redis.Client, pattern string) *redis.Client {
	t.Helper()
	ctx := context.Background()
	name, pass := "cachier-test-"+randHex(t), randHex(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", name, "reset", "on", ">"+pass, pattern, "resetchannels", "+@all", "-@dangerous").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() {
		if err := admin.Do(context.Background(), "ACL", "DELUSER", name).Err(); err != nil {
			t.Errorf("ACL DELUSER %s: %v", name, err)
		}
	})
	c := redis.NewClient(&redis.Options{Addr: admin.Options().Addr, Username: name, Password: pass})
	t.Cleanup(func() { c.Close() })
	return c
}

// deleteKeys deletes the keys matching pattern when the test ends.
func deleteKeys(t *testing.T, admin *redis.Client, pattern string) {
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := admin.Keys(ctx, pattern).Result()
		if err == nil && len(keys) > 0 {
			err = admin.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Logf("cleaning up %s: %v", pattern, err)
		}
	})
}

// An application's key_prefix leads its key names, so that a Redis user
// limited to ~app:* works with the functions of key_prefix app (writes
// included, though it may publish on no channel) and is refused on another
// application's keys.
func TestACLUserConfinedToItsKeyPrefix(t *testing.T) {
	admin := client(t)
	app := "cachiertest-acl-" + randHex(t)
	other := app + "-other" // starts like app, but is another prefix
	deleteKeys(t, admin, app+":*")
	deleteKeys(t, admin, other+":*")
	uc := aclUser(t, admin, "~"+app+":*")
	if err := uc.Ping(context.Background()).Err(); err != nil {
		testenv.Unavailable(t, "redis (as an ACL user)", admin.Options().Addr, err)
	}
	s := redisstore.New(uc)
	c := context.Background()

	// Identities as the core writes them: key_prefix ":" name "#" fingerprint.
	fn := app + ":example.com/svc.Service.Fetch@v1#0123abcd"
	const k = "0123456789abcdef0123456789abcdef"
	e := store.Entry{Value: []byte("mine"), Time: time.Now().Truncate(time.Millisecond), Expires: time.Now().Add(time.Hour)}
	if ok, err := s.Mark(c, fn, k, "me", time.Minute); err != nil || !ok {
		t.Fatalf("Mark of its own key = %v, %v", ok, err)
	}
	if err := s.Set(c, fn, k, e); err != nil {
		t.Fatalf("Set of its own key, with no channel rights: %v", err)
	}
	if got, err := s.Get(c, fn, k); err != nil || string(got.Value) != "mine" {
		t.Fatalf("Get of its own key = %q, %v", got.Value, err)
	}
	if ok, err := s.Mark(c, fn, k, "me", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if err := s.Unmark(c, fn, k, "me"); err != nil {
		t.Fatalf("Unmark, with no channel rights: %v", err)
	}
	for name, op := range map[string]func() error{
		"Delete":      func() error { return s.Delete(c, fn, k) },
		"DeleteStale": func() error { return s.DeleteStale(c, fn, time.Now()) },
		"ClearMarks":  func() error { return s.ClearMarks(c, fn) },
		"Clear":       func() error { return s.Clear(c, fn) },
	} {
		if err := op(); err != nil {
			t.Errorf("%s of its own function: %v", name, err)
		}
	}

	// Such a user cannot subscribe: waiting is then polling, a spurious
	// return rather than an error (which would count as a store failure).
	if ok, err := s.Mark(c, fn, k, "someone", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	for range 2 {
		wctx, cancel := context.WithTimeout(c, 5*time.Second)
		err := s.Wait(wctx, fn, k)
		cancel()
		if err != nil {
			t.Errorf("Wait with no channel rights: %v; want a spurious return", err)
		}
	}
	if err := s.Unmark(c, fn, k, "someone"); err != nil {
		t.Fatal(err)
	}

	// An operator finds the application's keys by its prefix.
	if err := s.Set(c, fn, k, e); err != nil {
		t.Fatal(err)
	}
	keys, err := admin.Keys(c, app+":*:e:*").Result() // beside it: the function's name, <base>n
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasPrefix(keys[0], app+":{") || !strings.HasSuffix(keys[0], "}:e:"+k) {
		t.Errorf("keys under %s:* = %q, want one %s:{<hash tag>}:e:<key>", app, keys, app)
	}

	// Another application's entry: refused, and left as it was.
	otherFn := other + ":example.com/svc.Service.Fetch@v1#0123abcd"
	theirs := store.Entry{Value: []byte("theirs"), Time: time.Now().Truncate(time.Millisecond)}
	if err := redisstore.New(admin).Set(c, otherFn, k, theirs); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(c, otherFn, k); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("Get of another application's entry = %q, %v; want a NOPERM error", got.Value, err)
	}
	if err := s.Set(c, otherFn, k, e); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("Set of another application's entry = %v; want a NOPERM error", err)
	}
	if err := s.Delete(c, otherFn, k); err == nil {
		t.Error("Delete of another application's entry succeeded")
	}
	if got, err := redisstore.New(admin).Get(c, otherFn, k); err != nil || string(got.Value) != "theirs" {
		t.Errorf("the other application's entry reads back %q, %v; want it untouched", got.Value, err)
	}
}

// A key_prefix with braces cannot take the place of the function's hash
// tag: they are escaped in key names, and every key of the function keeps
// the {<h>} tag.
func TestKeyPrefixBracesEscaped(t *testing.T) {
	rdb := client(t)
	app := "cachiertest-braces-" + randHex(t)
	deleteKeys(t, rdb, app+"*")
	s := redisstore.New(rdb)
	c := context.Background()
	const k = "0123456789abcdef0123456789abcdef"
	for _, p := range []string{app + "{}", app + "{x}", app + "}{"} {
		fn := p + ":pkg.F#00"
		if err := s.Set(c, fn, k, store.Entry{Value: []byte(p), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Mark(c, fn, k, "o", time.Minute); err != nil || !ok {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		want := strings.NewReplacer("{", "%7B", "}", "%7D").Replace(p) + ":{"
		keys, err := rdb.Keys(c, globQuote(want)+"*:[em]:*").Result() // and <base>n, the function's name
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 {
			t.Fatalf("prefix %q: keys %q, want an entry and a mark under %q", p, keys, want)
		}
		for _, key := range keys {
			open := strings.IndexByte(key, '{')
			if open != len(want)-1 || key[open+33] != '}' {
				t.Errorf("prefix %q: key %q does not start its hash tag right after the prefix", p, key)
			}
		}
		if got, err := s.Get(c, fn, k); err != nil || string(got.Value) != p {
			t.Errorf("prefix %q reads back %q, %v", p, got.Value, err)
		}
	}
}

func globQuote(s string) string {
	return strings.NewReplacer("*", `\*`, "?", `\?`, "[", `\[`, "]", `\]`).Replace(s)
}

// The channels of a function start with its key_prefix too: a user granted
// &app:* besides ~app:* waits on Pub/Sub, woken by another client's write.
func TestACLUserWithItsChannelsIsWoken(t *testing.T) {
	admin := client(t)
	app := "cachiertest-aclc-" + randHex(t)
	deleteKeys(t, admin, app+":*")
	ctx := context.Background()
	name, pass := "cachier-test-"+randHex(t), randHex(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", name, "reset", "on", ">"+pass, "~"+app+":*", "&"+app+":*", "+@all", "-@dangerous").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { admin.Do(context.Background(), "ACL", "DELUSER", name) })
	uc := redis.NewClient(&redis.Options{Addr: admin.Options().Addr, Username: name, Password: pass})
	t.Cleanup(func() { uc.Close() })
	s := redisstore.New(uc)
	writer := redisstore.New(admin)
	fn := app + ":pkg.F#00"
	const k = "0123456789abcdef0123456789abcdef"
	if ok, err := writer.Mark(ctx, fn, k, "writer", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	waited := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		// MaxWait bounds one Wait; a wake-up by the write returns first.
		waited <- s.Wait(wctx, fn, k)
	}()
	// Write once the waiter is subscribed: poll the server's count of
	// subscribers on the key's channel.
	deadline := time.Now().Add(10 * time.Second)
	for {
		chans, err := admin.PubSubChannels(ctx, app+":*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(chans) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ACL user's Wait never subscribed to its function's channels")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := writer.Set(ctx, fn, k, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatalf("Wait: %v", err)
	}
}
