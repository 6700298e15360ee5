// Package redisstore is the cachier store on Redis: the "redis" backend,
// shared by every process and machine that reaches the same server.
//
// The caller dials and closes the client; the store only uses it. Any
// redis.UniversalClient works: a single node (*redis.Client), a Sentinel
// failover client, a *redis.ClusterClient or a *redis.Ring.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	defer rdb.Close()
//	defaults.Register("redis", redisstore.New(rdb, redisstore.WithKeyPrefix("myapp:")))
//
// # Key layout
//
// Every key of one function starts with the same base,
//
//	<prefix><app>:{<h>}:    for a function with a key_prefix
//	<prefix>{<h>}:          for one without
//
// where <prefix> is the WithKeyPrefix namespace ("" by default), <app> the
// function's key_prefix as its identity holds it (store.KeyPrefix: "%", ":",
// "@" and "#" escaped as %25, %3A, %40 and %23, and here "{" and "}" as %7B
// and %7D), and <h> the first 128 bits of the SHA-256 of the function
// identity, in hex. The key_prefix leads the key names readably, so that an
// operator finds an application's keys with SCAN MATCH app:*, and a Redis
// ACL user limited to ~app:* can use the functions of key_prefix app and
// none of another application's keys. The rest of the identity may be long
// and contain any byte, braces included, so it never appears in a key; two
// identities share a base only if their SHA-256 hashes share 128 bits. The
// braces make <h> the Redis Cluster hash tag: all keys of one function live
// in one slot, so the multi-key commands below work on a Cluster, and
// different functions spread over the slots. (A WithKeyPrefix prefix that
// carries its own hash tag, such as "{app}:", puts every function in that
// one slot; avoid one containing "{}", which would leave the keys without a
// common tag.) Under the base:
//
//	<base>e:<key>   hash, one per entry: field "v" is the value, byte for
//	                byte, field "t" the entry's Time in microseconds since
//	                the Unix epoch (decimal), and for an entry with an
//	                Expires, field "x", its Expires in milliseconds since the
//	                epoch, which is also the key's expiry (PEXPIREAT, set by
//	                the write itself): Redis deletes the entry then. An
//	                entry without Expires has no key expiry.
//	<base>m:<key>   string, the being-calculated mark: its value is the owner,
//	                its expiry the mark's ttl (milliseconds, at least 1).
//	<base>n         string, the function identity, written by every Set and
//	                every Mark that takes a mark, so that a store.Lister
//	                (the cachier command) can name the functions whose keys
//	                it finds. Its lifetime follows the function's keys: it
//	                has no expiry once an entry without Expires was written
//	                (until Clear), and otherwise expires with the
//	                longest-lived entry or mark written, so that it does not
//	                outlive the entries expire_after removes. (It does not
//	                shrink: after Delete, DeleteStale, or an entry without
//	                Expires overwritten by one with, it may outlive the
//	                entries; the Lister lists no function without entries
//	                or marks.)
//
// and two Pub/Sub channels (channels are not keys):
//
//	<base>c:<key>   a message when the key's entry is written or its mark
//	                removed by Unmark.
//	<base>c         a message when Clear or ClearMarks removes the marks of
//	                the whole function.
//
// Channels start with the key_prefix too, so an ACL user confined to
// ~app:* can be granted the channels of its functions with &app:*; without
// them it still works, waiting by polling.
//
// # Operations
//
// Get is one HMGET and Delete one DEL: one round trip each. Set writes the
// hash, deletes the mark and publishes in one Lua script (atomic, as
// MULTI/EXEC would be, and its PUBLISH lands on the keys' node on a Ring
// too), so a reader never sees the new entry beside the old mark, and a
// failed write leaves the old entry whole. Waking waiters is best effort:
// a PUBLISH the server refuses (an ACL user without channel rights, Redis
// 7's default for new users) never fails the write or the Unmark. Mark runs a small Lua script (GET, then SET PX when the mark
// is free or already the caller's), so among any number of processes at
// most one acquires a free mark, and only the owner extends it; Unmark is a
// script that deletes the mark only when the caller owns it.
//
// Clear, ClearMarks and DeleteStale find the function's keys with SCAN
// (never KEYS) over the base, on every master of a Cluster and every shard
// of a Ring that is up (a Ring routes a down shard's keys to the others
// until it returns, and what the down shard holds is out of reach
// meanwhile), and delete them in batches of the scanned keys. DeleteStale
// compares each entry's "t" with the cutoff and deletes it in one script
// per batch, so an entry rewritten meanwhile is judged by its new time.
// SCAN walks the whole keyspace of a node, so these cost time in
// proportion to the server's size, not the function's: they are
// maintenance calls, not hot paths. No index set is kept, so nothing can
// fall out of step with the entries, and a hit or a write touches one key.
//
// # Waiting
//
// Store implements store.Waiter with Pub/Sub: Wait subscribes to the key's
// and the function's channels, then returns at the first message, when the
// mark is gone (looked up after subscribing, so a change between the
// caller's check and the subscription is not missed), when the mark's ttl
// lapses (a dead owner publishes nothing), or after MaxWait at the latest,
// since Pub/Sub delivery is at most once. Each Wait uses a connection of its
// own for its duration (go-redis dials one per subscription), so a caller
// gains most by waiting in long windows: a context with less than
// MinSubscribe left is simply waited out. An ACL user without channel
// rights cannot subscribe: Wait then returns at once (a spurious return,
// so the caller polls) for a minute before it tries again.
//
// # Timeouts and failures
//
// Every command runs under the caller's context and a per-operation timeout
// (WithTimeout, DefaultTimeout by default), so a server that is down or
// hung costs a bounded time per call. A server that refuses connections
// fails a call within the timeout (go-redis retries the dial a few times
// first; its MaxRetries and DialerRetries options shorten that). A server
// that accepts connections but does not answer is subject to the client's
// settings: go-redis applies context deadlines to socket reads and writes
// only when the client's ContextTimeoutEnabled option is set, and then a
// call fails at the store's timeout; otherwise the client's DialTimeout
// (5s) and ReadTimeout (3s) bound it, about 5s per call with the go-redis
// defaults. Set ContextTimeoutEnabled for the tightest bound. After a few
// failed dials go-redis's pool fails calls at once, and probes the server
// in the background until it answers again. Errors are wrapped with the
// operation and the function. Get reports store.ErrNotFound for a key
// without a complete entry or holding another type than a hash, which Set
// then overwrites.
//
// The timeout is a context.WithTimeout per operation, whose runtime timer
// is most of what a hit costs over a raw HGETALL on a local server (see
// BenchmarkGetHitPaired). Operations called with context.Background (as
// the core calls for functions without a context argument) share one
// deadline context instead, renewed every tenth of the timeout: their
// bound is between 0.9 and 1 times the timeout. WithTimeout(0) leaves the
// bounds to the client's own timeouts.
package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/internal/opctx"
	"github.com/cachier-go/cachier/store"
)

// DefaultTimeout bounds each operation of a Store unless WithTimeout says
// otherwise.
const DefaultTimeout = 3 * time.Second

// MaxWait is the longest a single Wait call lasts.
const MaxWait = 2 * time.Second

// MinSubscribe is the shortest remaining time of a Wait's context for
// which Wait subscribes; with less, Wait just waits for the context, as a
// poller would.
const MinSubscribe = 20 * time.Millisecond

// scanCount is the COUNT hint of each SCAN, and so the largest batch of keys
// deleted in one command.
const scanCount = 1000

// Store is a store.Store and store.Waiter on a Redis server. Create it with
// New; it is safe for concurrent use.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
	op      *opctx.Timeout // applies timeout to each operation; see package opctx

	// noSubscribeUntil (Unix nanoseconds) is when Wait next tries to
	// subscribe after the server refused a subscription (NOPERM: no
	// channel rights); until then Wait returns at once, and the caller
	// polls.
	noSubscribeUntil atomic.Int64
}

// noPermRetry is how long Wait polls after the server refused it a
// subscription before it tries again.
const noPermRetry = time.Minute

// isNoPerm reports the server's refusal of a command, key or channel to the
// connection's ACL user.
func isNoPerm(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOPERM")
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Waiter  = (*Store)(nil)
	_ store.Expirer = (*Store)(nil)
)

// An Option configures a Store.
type Option func(*Store)

// WithKeyPrefix puts every key and channel of the store under prefix, a
// namespace that keeps several applications apart on one server. The tag's
// key_prefix needs no WithKeyPrefix: it reaches the store in the function
// identity and leads the function's key names (see the package
// documentation). A prefix usually ends in a separator, such as "myapp:".
// See the package documentation about braces.
func WithKeyPrefix(prefix string) Option {
	return func(s *Store) { s.prefix = prefix }
}

// WithTimeout bounds each operation (each command, for Clear, ClearMarks
// and DeleteStale, which send many) to d on top of the caller's context;
// for calls with context.Background, to between 0.9d and d (see the
// package documentation). d <= 0 leaves only the caller's context and the
// client's own timeouts.
func WithTimeout(d time.Duration) Option {
	return func(s *Store) { s.timeout = d }
}

// New returns a store on rdb. The caller keeps ownership of rdb: it dials
// and closes it.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, timeout: DefaultTimeout}
	for _, o := range opts {
		o(s)
	}
	s.op = opctx.New(s.timeout)
	return s
}

// base returns "<prefix><app>:{<h>}:" (or "<prefix>{<h>}:" for an
// identity without key_prefix), the start of every key of fn.
func (s *Store) base(fn string) string { return s.key(fn, "", "") }

// key returns base(fn) + kind + key in one allocation.
func (s *Store) key(fn, kind, key string) string {
	h := sha256.Sum256([]byte(fn))
	var x [32]byte
	hex.Encode(x[:], h[:16])
	app := store.KeyPrefix(fn)
	var b strings.Builder
	b.Grow(len(s.prefix) + len(app) + 1 + len(x) + 3 + len(kind) + len(key))
	b.WriteString(s.prefix)
	if app != "" {
		writeApp(&b, app)
		b.WriteByte(':')
	}
	b.WriteByte('{')
	b.Write(x[:])
	b.WriteString("}:")
	b.WriteString(kind)
	b.WriteString(key)
	return b.String()
}

// writeApp writes an identity's key_prefix into a key name, with its
// braces escaped as %7B and %7D: a brace there would take the place of the
// function's hash tag (an empty "{}" would even spread one function's keys
// over the slots of a Cluster). Identities escape "%" as "%25", so the
// result is unambiguous.
func writeApp(b *strings.Builder, app string) {
	if !strings.ContainsAny(app, "{}") {
		b.WriteString(app)
		return
	}
	for i := range len(app) {
		switch c := app[i]; c {
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
}

func (s *Store) entryKey(fn, key string) string { return s.key(fn, "e:", key) }

// Get implements store.Store with one HMGET.
func (s *Store) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	vals, err := s.rdb.HMGet(ctx, s.entryKey(fn, key), "v", "t", "x").Result()
	if err != nil {
		if isWrongType(err) {
			// Not written by this store: a miss, which Set replaces.
			return store.Entry{}, store.ErrNotFound
		}
		return store.Entry{}, fmt.Errorf("cachier: redis get %s %s: %w", fn, key, err)
	}
	v, ok := vals[0].(string)
	t, ok2 := vals[1].(string)
	if !ok || !ok2 {
		return store.Entry{}, store.ErrNotFound
	}
	us, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		// Not written by this store: a miss, which the core overwrites.
		return store.Entry{}, store.ErrNotFound
	}
	e := store.Entry{Value: []byte(v), Time: time.UnixMicro(us)}
	if x, ok := vals[2].(string); ok {
		ms, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return store.Entry{}, store.ErrNotFound
		}
		e.Expires = time.UnixMilli(ms)
		if e.Expired(time.Now()) {
			// The server's clock has not reached the key's expiry yet.
			return store.Entry{}, store.ErrNotFound
		}
	}
	return e, nil
}

// isWrongType reports the server's answer to a command on a key of another
// type.
func isWrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}

// setScript writes the entry hash KEYS[1] (value ARGV[1], time ARGV[2],
// and expiry ARGV[4] in Unix milliseconds or "" for none, which becomes the
// key's own expiry too), deletes the mark KEYS[2], keeps the function's
// identity ARGV[5] under KEYS[3] (for the Lister; with the longest expiry
// of the entries written, none once one has none) and publishes on channel
// ARGV[3]. A key of
// another type where the entry belongs (not written by this store) is
// replaced; an entry hash is overwritten in place, so that a write refused
// (out of memory, say) leaves it whole. A script runs as one command, like
// MULTI/EXEC, and unlike a transaction its PUBLISH goes to the node of the
// keys on a Ring too.
var setScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'hash' and t ~= 'none' then
	redis.call('DEL', KEYS[1])
end
if ARGV[4] == '' then
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2])
	redis.call('HDEL', KEYS[1], 'x')
	redis.call('PERSIST', KEYS[1])
else
	redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', ARGV[2], 'x', ARGV[4])
	redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
redis.call('DEL', KEYS[2])
if ARGV[4] == '' then
	redis.call('SET', KEYS[3], ARGV[5])
else
	local pttl = redis.call('PTTL', KEYS[3])
	if pttl == -2 then
		redis.call('SET', KEYS[3], ARGV[5])
		redis.call('PEXPIREAT', KEYS[3], ARGV[4])
	elseif pttl >= 0 then
		local now = redis.call('TIME')
		local at = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + pttl
		if tonumber(ARGV[4]) > at then
			redis.call('PEXPIREAT', KEYS[3], ARGV[4])
		end
	end
end
redis.pcall('PUBLISH', ARGV[3], 'set')
return 1
`)

// Set implements store.Store: the entry is written, the mark deleted and
// waiters notified in one script call.
func (s *Store) Set(ctx context.Context, fn, key string, e store.Entry) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	base := s.base(fn)
	value := e.Value
	if value == nil {
		value = []byte{}
	}
	exp := ""
	if !e.Expires.IsZero() {
		exp = strconv.FormatInt(e.Expires.UnixMilli(), 10)
	}
	err := setScript.Run(ctx, s.rdb, []string{base + "e:" + key, base + "m:" + key, base + nameKind},
		value, strconv.FormatInt(e.Time.UnixMicro(), 10), base+"c:"+key, exp, fn).Err()
	if err != nil {
		return fmt.Errorf("cachier: redis set %s %s: %w", fn, key, err)
	}
	return nil
}

// markScript takes the mark KEYS[1] for owner ARGV[1] for ARGV[2]
// milliseconds when it is free or already owner's, and then keeps the
// function's identity ARGV[3] under KEYS[2] (for the Lister) for at least
// as long, unless it is kept without expiry already.
var markScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
	local pttl = redis.call('PTTL', KEYS[2])
	if pttl == -2 then
		redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2])
	elseif pttl >= 0 and pttl < tonumber(ARGV[2]) then
		redis.call('PEXPIRE', KEYS[2], ARGV[2])
	end
	return 1
end
return 0
`)

// unmarkScript deletes the mark KEYS[1] when owner ARGV[1] holds it, and
// then publishes on channel ARGV[2].
var unmarkScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
	redis.call('DEL', KEYS[1])
	redis.pcall('PUBLISH', ARGV[2], 'unmark')
	return 1
end
return 0
`)

// Mark implements store.Store with one script call (EVALSHA, falling back
// to EVAL the first time on a server that has not seen the script).
func (s *Store) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	ms := (ttl + time.Millisecond - 1) / time.Millisecond
	if ms < 1 {
		ms = 1
	}
	base := s.base(fn)
	n, err := markScript.Run(ctx, s.rdb, []string{base + "m:" + key, base + nameKind}, owner, int64(ms), fn).Int()
	if err != nil {
		return false, fmt.Errorf("cachier: redis mark %s %s: %w", fn, key, err)
	}
	return n == 1, nil
}

// Unmark implements store.Store.
func (s *Store) Unmark(ctx context.Context, fn, key, owner string) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	base := s.base(fn)
	err := unmarkScript.Run(ctx, s.rdb, []string{base + "m:" + key}, owner, base+"c:"+key).Err()
	if err != nil {
		return fmt.Errorf("cachier: redis unmark %s %s: %w", fn, key, err)
	}
	return nil
}

// ExpiresEntries implements store.Expirer: an entry with an Expires is a
// key with that expiry, which Redis deletes by itself.
func (s *Store) ExpiresEntries() bool { return true }

// Delete implements store.Store with one DEL of the entry's hash. The mark,
// a key of its own, stays.
func (s *Store) Delete(ctx context.Context, fn, key string) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.rdb.Del(ctx, s.entryKey(fn, key)).Err(); err != nil {
		return fmt.Errorf("cachier: redis delete %s %s: %w", fn, key, err)
	}
	return nil
}

// Clear implements store.Store.
func (s *Store) Clear(ctx context.Context, fn string) error {
	base := s.base(fn)
	if err := s.deleteMatching(ctx, globEscape(base)+"*"); err != nil {
		return fmt.Errorf("cachier: redis clear %s: %w", fn, err)
	}
	s.publishFn(ctx, base)
	return nil
}

// ClearMarks implements store.Store.
func (s *Store) ClearMarks(ctx context.Context, fn string) error {
	base := s.base(fn)
	if err := s.deleteMatching(ctx, globEscape(base)+"m:*"); err != nil {
		return fmt.Errorf("cachier: redis clear marks %s: %w", fn, err)
	}
	s.publishFn(ctx, base)
	return nil
}

// publishFn wakes the waiters of every key of a function. Waiters also
// wake on their own when a mark lapses, so a failure is not reported.
func (s *Store) publishFn(ctx context.Context, base string) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	s.rdb.Publish(ctx, base+"c", "clear")
}

// deleteStaleScript deletes those of KEYS whose field "t" is below ARGV[1].
var deleteStaleScript = redis.NewScript(`
local cutoff = tonumber(ARGV[1])
local n = 0
for _, k in ipairs(KEYS) do
	local t = tonumber(redis.call('HGET', k, 't'))
	if t and t < cutoff then
		redis.call('DEL', k)
		n = n + 1
	end
end
return n
`)

// DeleteStale implements store.Store.
func (s *Store) DeleteStale(ctx context.Context, fn string, cutoff time.Time) error {
	pattern := globEscape(s.base(fn)) + "e:*"
	c := strconv.FormatInt(cutoff.UnixMicro(), 10)
	err := s.scan(ctx, pattern, func(ctx context.Context, node redis.Cmdable, keys []string) error {
		return deleteStaleScript.Run(ctx, node, keys, c).Err()
	})
	if err != nil {
		return fmt.Errorf("cachier: redis delete stale %s: %w", fn, err)
	}
	return nil
}

func (s *Store) deleteMatching(ctx context.Context, pattern string) error {
	return s.scan(ctx, pattern, func(ctx context.Context, node redis.Cmdable, keys []string) error {
		return node.Del(ctx, keys...).Err()
	})
}

// scan calls each with every batch of keys matching pattern, on every node
// that holds keys: every master of a Cluster, every shard of a Ring. All
// keys of one batch come from one node, and keys of one function share a
// slot, so each may send them in one command to that node.
func (s *Store) scan(ctx context.Context, pattern string, each func(context.Context, redis.Cmdable, []string) error) error {
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return s.scanNode(ctx, node, pattern, each)
		})
	case *redis.Ring:
		// ForEachShard skips the shards that are down (a Ring moves their
		// keys to the others meanwhile) and does nothing when all are.
		var visited atomic.Int32
		err := c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
			visited.Add(1)
			return s.scanNode(ctx, node, pattern, each)
		})
		if err == nil && visited.Load() == 0 {
			err = errNoShards
		}
		return err
	default:
		return s.scanNode(ctx, s.rdb, pattern, each)
	}
}

func (s *Store) scanNode(ctx context.Context, node redis.UniversalClient, pattern string, each func(context.Context, redis.Cmdable, []string) error) error {
	var cursor uint64
	for {
		keys, next, err := s.scanOnce(ctx, node, cursor, pattern)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := s.batch(ctx, node, keys, each); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

func (s *Store) scanOnce(ctx context.Context, node redis.UniversalClient, cursor uint64, pattern string) ([]string, uint64, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	return node.Scan(ctx, cursor, pattern, scanCount).Result()
}

func (s *Store) batch(ctx context.Context, node redis.UniversalClient, keys []string, each func(context.Context, redis.Cmdable, []string) error) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	return each(ctx, node, keys)
}

var errNoShards = errors.New("no ring shard is up")

// globEscape quotes the characters that SCAN MATCH patterns treat
// specially.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// subscribe is rdb.Subscribe, except that a panic (a Ring panics when no
// shard is up) is an error.
func subscribe(ctx context.Context, rdb redis.UniversalClient, channels ...string) (ps *redis.PubSub, err error) {
	defer func() {
		if r := recover(); r != nil {
			ps, err = nil, fmt.Errorf("subscribe: %v", r)
		}
	}()
	return rdb.Subscribe(ctx, channels...), nil
}

// Wait implements store.Waiter; see the package documentation. It returns
// nil when something may have changed or MaxWait passed, ctx.Err() when
// ctx ended first, and an error when the server could not be asked
// (including a subscription that the server did not confirm within the
// operation timeout).
func (s *Store) Wait(ctx context.Context, fn, key string) error {
	if d, ok := ctx.Deadline(); ok && time.Until(d) < MinSubscribe {
		// Too short to be worth a connection: the caller is polling.
		<-ctx.Done()
		return ctx.Err()
	}
	if until := s.noSubscribeUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return nil // no channel rights: a spurious return, and the caller polls
	}
	wctx, cancel := context.WithTimeout(ctx, MaxWait)
	defer cancel()
	base := s.base(fn)

	// Subscribing, its confirmation and the mark's lookup are bounded by
	// the operation timeout: a server that does not answer them is an
	// error, not a wait.
	sctx, scancel := s.op.Context(wctx)
	defer scancel()
	// fail reports why a Receive or a command failed: the caller's context,
	// or the server.
	fail := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if sctx.Err() != nil {
			err = sctx.Err()
		}
		return fmt.Errorf("cachier: redis wait %s %s: %w", fn, key, err)
	}

	// The channels go to Subscribe itself (a Ring needs them to pick a
	// shard); an error in sending shows in the first Receive.
	ps, err := subscribe(sctx, s.rdb, base+"c:"+key, base+"c")
	if err != nil {
		return fail(err)
	}
	// Closing the subscription's connection is what interrupts a blocked
	// Receive when ctx is cancelled (deadlines alone would not).
	stop := context.AfterFunc(wctx, func() { _ = ps.Close() })
	defer func() {
		if stop() {
			_ = ps.Close()
		}
	}()

	for confirmed := 0; confirmed < 2; {
		msg, err := ps.Receive(sctx)
		if isNoPerm(err) {
			// Waking waiters is best effort: without channel rights the
			// caller polls, as with a store that is no Waiter.
			s.noSubscribeUntil.Store(time.Now().Add(noPermRetry).UnixNano())
			return nil
		}
		if err != nil {
			return fail(err)
		}
		switch msg.(type) {
		case *redis.Subscription:
			confirmed++
		case *redis.Message:
			return nil
		}
	}

	// Subscribed: from here on no change is missed. Has the mark already
	// gone, and when does it lapse?
	ttl, err := s.rdb.PTTL(sctx, base+"m:"+key).Result()
	if err != nil {
		return fail(err)
	}
	scancel()
	if ttl == -2 || (ttl >= 0 && ttl < time.Millisecond) {
		return nil // no mark: the calculation ended, or never began
	}
	rctx := wctx
	if ttl > 0 {
		var rcancel context.CancelFunc
		rctx, rcancel = context.WithTimeout(wctx, ttl+5*time.Millisecond)
		defer rcancel()
	}
	for {
		msg, err := ps.Receive(rctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The read's deadline is rctx's, and may pass a moment before
			// rctx reports it: a timeout here is the lapse or MaxWait.
			var ne net.Error
			if rctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()) {
				return nil // a spurious return
			}
			return fail(err)
		}
		if _, ok := msg.(*redis.Message); ok {
			return nil
		}
	}
}
