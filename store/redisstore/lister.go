package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier/store"
)

var _ store.Lister = (*Store)(nil)

// The Lister reads the store with SCAN (never KEYS) on every master of a
// Cluster and every shard of a Ring that is up, in batches of scanCount
// keys, and sends one pipeline per batch: HMGET of the entries' times and
// HSTRLEN of their values (never the values), GET of the function's name.
// Its memory grows with the number of functions, not of entries.
//
// Keys hold a hash of the function identity, not the identity: Set keeps
// the identity itself under <base>n (nameKind), one small string per
// function. A function whose entries were written before that key existed
// is listed under its base ("{<h>}") until it is written again.

// nameKind is the kind of the key holding a function's identity.
const nameKind = "n"

// splitKey splits a key of this store into its base (everything up to and
// including "{<h>}:") and its kind ("e", "m" or "n"); ok is false for keys
// of another layout.
func splitKey(key string) (base, kind string, ok bool) {
	// The first "{<32 hex>}:" from the left: a key may hold braces after
	// it (keys of a custom hash_func), the prefixes before it never such a
	// group (the store escapes the key_prefix's braces).
	for i := 0; i < len(key); i++ {
		if key[i] != '{' {
			continue
		}
		end := i + 1 + 32
		if len(key) < end+2 || key[end] != '}' || key[end+1] != ':' || !isHex(key[i+1:end]) {
			continue
		}
		rest := key[end+2:]
		switch {
		case rest == nameKind:
			return key[:end+2], nameKind, true
		case strings.HasPrefix(rest, "e:"), strings.HasPrefix(rest, "m:"):
			return key[:end+2], rest[:1], true
		}
	}
	return "", "", false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// entryStat is one entry's time and size as a pipeline returns them.
type entryStat struct {
	key  string
	t    *redis.SliceCmd
	size *redis.IntCmd
}

func (e entryStat) info() (t time.Time, size int64, ok bool) {
	vals, err := e.t.Result()
	if err != nil || len(vals) != 1 {
		return time.Time{}, 0, false
	}
	ts, _ := vals[0].(string)
	us, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, 0, false // not a complete entry: Get misses it too
	}
	return time.UnixMicro(us), e.size.Val(), true
}

// statEntries sends one pipeline for keys (entry keys of one node) and
// returns their stats.
func statEntries(ctx context.Context, node redis.Cmdable, keys []string, names []string) ([]entryStat, []*redis.StringCmd, error) {
	pipe := node.Pipeline()
	stats := make([]entryStat, len(keys))
	for i, k := range keys {
		stats[i] = entryStat{k, pipe.HMGet(ctx, k, "t"), pipe.HStrLen(ctx, k, "v")}
	}
	gets := make([]*redis.StringCmd, len(names))
	for i, k := range names {
		gets[i] = pipe.Get(ctx, k)
	}
	_, err := pipe.Exec(ctx)
	if err != nil && err != redis.Nil && !isWrongType(err) {
		return nil, nil, err
	}
	return stats, gets, nil
}

// Functions implements store.Lister: one SCAN of the store's keys on every
// node, grouped by function.
func (s *Store) Functions(ctx context.Context) ([]store.FuncInfo, error) {
	var (
		mu    sync.Mutex
		funcs = map[string]*store.FuncInfo{} // by base
	)
	get := func(base string) *store.FuncInfo {
		fi, ok := funcs[base]
		if !ok {
			fi = &store.FuncInfo{Function: strings.TrimPrefix(strings.TrimSuffix(base, ":"), s.prefix)}
			funcs[base] = fi
		}
		return fi
	}
	err := s.scan(ctx, globEscape(s.prefix)+"*", func(ctx context.Context, node redis.Cmdable, keys []string) error {
		var entries, names []string
		var nameBases []string
		mu.Lock()
		for _, k := range keys {
			base, kind, ok := splitKey(k)
			if !ok || !strings.HasPrefix(base, s.prefix) {
				continue
			}
			switch kind {
			case "e":
				entries = append(entries, k)
			case "m":
				get(base).Marks++
			case nameKind:
				names = append(names, k)
				nameBases = append(nameBases, base)
			}
		}
		mu.Unlock()
		stats, gets, err := statEntries(ctx, node, entries, names)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, st := range stats {
			t, size, ok := st.info()
			if !ok {
				continue
			}
			base, _, _ := splitKey(st.key)
			fi := get(base)
			fi.Entries++
			fi.Bytes += size
			if fi.Oldest.IsZero() || t.Before(fi.Oldest) {
				fi.Oldest = t
			}
			if t.After(fi.Newest) {
				fi.Newest = t
			}
		}
		for i, g := range gets {
			if name, err := g.Result(); err == nil {
				get(nameBases[i]).Function = name
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cachier: redis list functions: %w", err)
	}
	out := make([]store.FuncInfo, 0, len(funcs))
	for _, fi := range funcs {
		if fi.Entries > 0 || fi.Marks > 0 {
			out = append(out, *fi)
		}
	}
	return out, nil
}

// Entries implements store.Lister: a SCAN of the function's entry keys on
// every node, one pipeline per batch. yield is called from one goroutine
// at a time, between the store's commands.
func (s *Store) Entries(ctx context.Context, fn string, yield func(store.EntryInfo) error) error {
	base := s.base(fn)
	var (
		mu      sync.Mutex // a Cluster's masters are scanned concurrently
		stopped error      // yield's error: no more calls
	)
	err := s.scan(ctx, globEscape(base)+"e:*", func(ctx context.Context, node redis.Cmdable, keys []string) error {
		stats, _, err := statEntries(ctx, node, keys, nil)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, st := range stats {
			t, size, ok := st.info()
			if !ok {
				continue
			}
			if stopped != nil {
				return stopped
			}
			if err := yield(store.EntryInfo{Key: strings.TrimPrefix(st.key, base+"e:"), Time: t, Size: size}); err != nil {
				stopped = yieldError{err}
				return stopped
			}
		}
		return nil
	})
	if stopped != nil {
		return stopped.(yieldError).err
	}
	if err != nil {
		return fmt.Errorf("cachier: redis list entries of %s: %w", fn, err)
	}
	return nil
}

// yieldError carries yield's error through scan unwrapped.
type yieldError struct{ err error }

func (e yieldError) Error() string { return e.err.Error() }
