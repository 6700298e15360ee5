package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/redisstore"
)

// BenchmarkGetHit compares a store hit with a raw go-redis read of the same
// entry hash (HGETALL, and the HMGET the store sends), one round trip each.
// Compare with: benchstat -col /read bench.txt
func BenchmarkGetHit(b *testing.B) {
	rdb := client(b)
	p := prefix(b, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	ctx := context.Background()
	const fn, key = "bench.Service.Fetch", "0123456789abcdef0123456789abcdef"
	value := make([]byte, 256) // a small gob-encoded result
	for i := range value {
		value[i] = byte(i)
	}
	if err := s.Set(ctx, fn, key, store.Entry{Value: value, Time: time.Now()}); err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte(fn))
	rkey := p + "{" + hex.EncodeToString(h[:16]) + "}:e:" + key

	b.Run("read=store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := s.Get(ctx, fn, key)
			if err != nil || len(e.Value) != len(value) {
				b.Fatal(len(e.Value), err)
			}
		}
	})
	b.Run("read=hgetall", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m, err := rdb.HGetAll(ctx, rkey).Result()
			if err != nil || len(m["v"]) != len(value) {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("read=hmget", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			vals, err := rdb.HMGet(ctx, rkey, "v", "t").Result()
			if err != nil || len(vals[0].(string)) != len(value) {
				b.Fatal(len(vals), err)
			}
		}
	})
}

// BenchmarkMiss measures the paths of a miss: Get, Mark, Set.
func BenchmarkMiss(b *testing.B) {
	rdb := client(b)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix(b, rdb)))
	ctx := context.Background()
	const fn, key = "bench.Service.Fetch", "0123456789abcdef0123456789abcdef"
	e := store.Entry{Value: make([]byte, 256), Time: time.Now()}
	b.Run("op=get", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Get(ctx, fn, "ffffffffffffffffffffffffffffffff"); err != store.ErrNotFound {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=mark", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Mark(ctx, fn, key, "owner", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=set", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Set(ctx, fn, key, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetHitPaired times, in turn in one loop and rotating the
// order, a raw HGETALL of an entry and a store hit of it three ways: with
// context.Background (the shared deadline context), with a cancellable
// caller's context (a context.WithTimeout per call), and without the
// operation timeout (WithTimeout(0)). Load from elsewhere on the machine
// falls on all alike: on a busy shared box the sequential sub-benchmarks of
// BenchmarkGetHit drift apart by more than the differences measured. It
// reports the raw read's time and each hit's ratio to it; ns/op is the
// time of one round of four.
func BenchmarkGetHitPaired(b *testing.B) {
	rdb := client(b)
	p := prefix(b, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	s0 := redisstore.New(rdb, redisstore.WithKeyPrefix(p), redisstore.WithTimeout(0))
	ctx := context.Background()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	const fn, key = "bench.Service.Fetch", "0123456789abcdef0123456789abcdef"
	value := make([]byte, 256)
	if err := s.Set(ctx, fn, key, store.Entry{Value: value, Time: time.Now()}); err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte(fn))
	rkey := p + "{" + hex.EncodeToString(h[:16]) + "}:e:" + key

	hit := func(s *redisstore.Store, ctx context.Context) func() {
		return func() {
			if e, err := s.Get(ctx, fn, key); err != nil || len(e.Value) != len(value) {
				b.Fatal(len(e.Value), err)
			}
		}
	}
	reads := [4]func(){
		func() {
			if m, err := rdb.HGetAll(ctx, rkey).Result(); err != nil || len(m["v"]) != len(value) {
				b.Fatal(len(m), err)
			}
		},
		hit(s, ctx),
		hit(s, cctx),
		hit(s0, ctx),
	}
	took, n := testenv.Paired(b, reads[:]...)
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "hgetall-ns/read")
	b.ReportMetric(float64(took[1])/float64(took[0]), "store/hgetall")
	b.ReportMetric(float64(took[2])/float64(took[0]), "store-cancellable-ctx/hgetall")
	b.ReportMetric(float64(took[3])/float64(took[0]), "store-no-timeout/hgetall")
}
