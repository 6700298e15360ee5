package cachier_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/codec"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/redisstore"
)

// smallResult is the small struct: an int64, a string, a []string
// of 3, a map[string]int of 2 and a time.Time.
type smallResult struct {
	ID     int64
	Name   string
	Tags   []string
	Counts map[string]int
	When   time.Time
}

func newSmall(id int) smallResult {
	return smallResult{
		ID: int64(id), Name: "item-" + strconv.Itoa(id), Tags: []string{"alpha", "beta", "gamma"},
		Counts: map[string]int{"views": 1200, "likes": 34}, When: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
	}
}

func smallLookup(b *testing.B, tag string, opts ...cachier.Option) func(context.Context, int) (smallResult, error) {
	b.Helper()
	f := func(ctx context.Context, id int) (smallResult, error) { return newSmall(id), nil }
	var r [6]byte
	rand.Read(r[:])
	if err := cachier.Decorate(&f, append([]cachier.Option{cachier.Tag(tag + ",name=bench.small." + hex.EncodeToString(r[:]))}, opts...)...); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkCodecRedisHit: a decorated Redis hit of the small struct and a
// raw HMGET of a hash holding a value of the entry's size, in turn.
func BenchmarkCodecRedisHit(b *testing.B) {
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(b, "redis", addr, err)
	}
	var r [8]byte
	rand.Read(r[:])
	prefix := "cachierbench:" + hex.EncodeToString(r[:]) + ":"
	defer func() { // the bench's keys go in a minute
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		for _, k := range keys {
			rdb.Expire(ctx, k, time.Minute)
		}
	}()
	lookup := smallLookup(b, "backend=bench", cachier.WithStore("bench", redisstore.New(rdb, redisstore.WithKeyPrefix(prefix))))
	if _, err := lookup(ctx, 42); err != nil {
		b.Fatal(err)
	}
	p, _ := codec.NewPlan(codec.Default(), []reflect.Type{reflect.TypeOf(smallResult{})}, "")
	entry, _ := p.Encode([]reflect.Value{reflect.ValueOf(newSmall(42))})
	raw := prefix + "raw"
	if err := rdb.HSet(ctx, raw, "v", entry, "t", time.Now().UnixMicro()).Err(); err != nil {
		b.Fatal(err)
	}
	hit := func() {
		if v, err := lookup(ctx, 42); err != nil || v.ID != 42 {
			b.Fatal(v, err)
		}
	}
	hmget := func() {
		if v, err := rdb.HMGet(ctx, raw, "v", "t").Result(); err != nil || len(v) != 2 {
			b.Fatal(v, err)
		}
	}
	b.Run("paired", func(b *testing.B) {
		took, n := testenv.Paired(b, hit, hmget)
		b.ReportMetric(testenv.PerRound(took[0], n), "ns/hit")
		b.ReportMetric(testenv.PerRound(took[1], n), "ns/hmget")
		b.ReportMetric(float64(took[0])/float64(took[1]), "hit/hmget")
	})
	b.Run("hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hit()
		}
	})
}

// BenchmarkCodecFileHit: a decorated file hit of the small struct (log
// layout, 10,000 entries) and the memory-backend hit of the same function,
// in turn.
func BenchmarkCodecFileHit(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	file := smallLookup(b, "backend=file,cache_dir="+dir)
	for i := range 10_000 {
		if _, err := file(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
	// The same log read without looking for other processes' writes.
	noReload := smallLookup(b, "backend=file,reload=false,cache_dir="+b.TempDir())
	for i := range 10_000 {
		if _, err := noReload(ctx, i); err != nil {
			b.Fatal(err)
		}
	}
	mem := smallLookup(b, "backend=memory")
	if _, err := mem(ctx, 42); err != nil {
		b.Fatal(err)
	}
	hit := func(f func(context.Context, int) (smallResult, error)) func() {
		return func() {
			if v, err := f(ctx, 42); err != nil || v.ID != 42 {
				b.Fatal(v, err)
			}
		}
	}
	b.Run("paired", func(b *testing.B) {
		took, n := testenv.Paired(b, hit(file), hit(mem))
		b.ReportMetric(testenv.PerRound(took[0], n), "ns/file")
		b.ReportMetric(testenv.PerRound(took[1], n), "ns/memory")
		b.ReportMetric(float64(took[0])/float64(took[1]), "file/memory")
	})
	b.Run("paired-reload=false", func(b *testing.B) {
		took, _ := testenv.Paired(b, hit(noReload), hit(mem))
		b.ReportMetric(float64(took[0])/float64(took[1]), "file/memory")
	})
	b.Run("file", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hit(file)()
		}
	})
	b.Run("memory", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			hit(mem)()
		}
	})
}

// BenchmarkCodecDecodeSmall: decoding the small struct alone, by codec.
func BenchmarkCodecDecodeSmall(b *testing.B) {
	types := []reflect.Type{reflect.TypeOf(smallResult{})}
	for _, c := range []codec.Codec{codec.Default(), codec.Gob(), codec.JSON()} {
		p, _ := codec.NewPlan(c, types, "")
		entry, err := p.Encode([]reflect.Value{reflect.ValueOf(newSmall(42))})
		if err != nil {
			b.Fatal(err)
		}
		b.Run("codec="+c.Name(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Decode(entry); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCodecBytes1MB: encoding and decoding a 1 MB []byte result, and a
// copy of it, in turn.
func BenchmarkCodecBytes1MB(b *testing.B) {
	src := make([]byte, 1<<20)
	rand.Read(src)
	p, _ := codec.NewPlan(codec.Default(), []reflect.Type{reflect.TypeOf(src)}, "")
	vals := []reflect.Value{reflect.ValueOf(src)}
	var sink []byte
	roundTrip := func() {
		e, err := p.Encode(vals)
		if err != nil {
			b.Fatal(err)
		}
		out, err := p.Decode(e)
		if err != nil || len(out[0].Bytes()) != len(src) {
			b.Fatal(err)
		}
	}
	var buf []byte
	// reuse encodes into a buffer of the caller's, as Plan.Append allows.
	// The decoded []byte aliases buf, which the next round overwrites: fine
	// here only because the result is dropped at once (see Plan.Decode).
	reuse := func() {
		e, err := p.Append(buf[:0], vals)
		if err != nil {
			b.Fatal(err)
		}
		buf = e
		out, err := p.Decode(e)
		if err != nil || len(out[0].Bytes()) != len(src) {
			b.Fatal(err)
		}
	}
	cp := func() { sink = bytes.Clone(src) }
	b.Run("paired", func(b *testing.B) {
		took, n := testenv.Paired(b, roundTrip, cp, reuse)
		b.ReportMetric(float64(took[2])/float64(took[1]), "append/copy")
		b.ReportMetric(testenv.PerRound(took[0], n), "ns/codec")
		b.ReportMetric(testenv.PerRound(took[1], n), "ns/copy")
		b.ReportMetric(float64(took[0])/float64(took[1]), "codec/copy")
	})
	_ = sink
}
