package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

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

// BenchmarkGetHitPaired times a store hit, a hit through a store without
// the operation timeout (WithTimeout(0)) and a raw HGETALL of the same entry
// in turn in one loop, rotating the order, so that load from elsewhere on
// the machine falls on all alike: on a busy shared box the sequential
// sub-benchmarks of BenchmarkGetHit drift apart by more than the
// difference measured. It reports the time of each and the ratios to the
// raw read; ns/op is the time of one round of three.
func BenchmarkGetHitPaired(b *testing.B) {
	rdb := client(b)
	p := prefix(b, rdb)
	s := redisstore.New(rdb, redisstore.WithKeyPrefix(p))
	s0 := redisstore.New(rdb, redisstore.WithKeyPrefix(p), redisstore.WithTimeout(0))
	ctx := context.Background()
	const fn, key = "bench.Service.Fetch", "0123456789abcdef0123456789abcdef"
	value := make([]byte, 256)
	if err := s.Set(ctx, fn, key, store.Entry{Value: value, Time: time.Now()}); err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256([]byte(fn))
	rkey := p + "{" + hex.EncodeToString(h[:16]) + "}:e:" + key

	reads := [3]func(){
		func() {
			if e, err := s.Get(ctx, fn, key); err != nil || len(e.Value) != len(value) {
				b.Fatal(len(e.Value), err)
			}
		},
		func() {
			if e, err := s0.Get(ctx, fn, key); err != nil || len(e.Value) != len(value) {
				b.Fatal(len(e.Value), err)
			}
		},
		func() {
			if m, err := rdb.HGetAll(ctx, rkey).Result(); err != nil || len(m["v"]) != len(value) {
				b.Fatal(len(m), err)
			}
		},
	}
	var took [3]time.Duration
	n := 0
	for b.Loop() {
		for j := range 3 {
			k := (n + j) % 3
			t0 := time.Now()
			reads[k]()
			took[k] += time.Since(t0)
		}
		n++
	}
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "store-ns/hit")
	b.ReportMetric(float64(took[2].Nanoseconds())/float64(n), "hgetall-ns/read")
	b.ReportMetric(float64(took[0])/float64(took[2]), "store/hgetall")
	b.ReportMetric(float64(took[1])/float64(took[2]), "store-no-timeout/hgetall")
}
