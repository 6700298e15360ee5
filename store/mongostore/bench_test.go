package mongostore_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
)

// benchKey returns a key of the shape the core makes.
func benchKey(i int) string { return fmt.Sprintf("%032x", i) }

// BenchmarkGet compares a store hit with a raw FindOne of the same document,
// by (fn, key) as the issue asks and by _id (the store's own lookup), in
// collections of 1 and 1000 entries. Compare with benchstat:
//
//	go test -run '^$' -bench . -count 10 ./store/mongostore | tee m.txt
//	benchstat -col /op -filter '.name:Get' m.txt
//	benchstat m.txt # BenchmarkGetPaired's ratios
func BenchmarkGet(b *testing.B) {
	client := connect(b)
	for _, n := range []int{1, 1000} {
		b.Run("docs="+strconv.Itoa(n), func(b *testing.B) {
			ops := benchOps(b, client, n)
			for _, op := range ops {
				b.Run("op="+op.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						op.run()
					}
				})
			}
		})
	}
}

// BenchmarkGetPaired runs the three lookups of BenchmarkGet in turn within
// each iteration, rotating their order, so that a load that changes during
// the run (a shared two-core machine) weighs on all alike; it reports each
// one's mean time and the store's ratio to the raw lookups.
func BenchmarkGetPaired(b *testing.B) {
	client := connect(b)
	for _, n := range []int{1, 1000} {
		b.Run("docs="+strconv.Itoa(n), func(b *testing.B) {
			ops := benchOps(b, client, n)
			runs := make([]func(), len(ops))
			for k, op := range ops {
				runs[k] = op.run
			}
			took, i := testenv.Paired(b, runs...)
			for k, op := range ops {
				b.ReportMetric(float64(took[k].Nanoseconds())/float64(i), op.name+"-ns/op")
			}
			b.ReportMetric(float64(took[0])/float64(took[1]), "store/raw-fn-key")
			b.ReportMetric(float64(took[0])/float64(took[2]), "store/raw-id")
		})
	}
}

type benchOp struct {
	name string
	run  func()
}

// benchOps fills a fresh collection with n entries of 256 bytes and returns
// three ways to read the middle one: the store's Get, and a raw FindOne by
// (fn, key) and by _id, each decoding the value.
func benchOps(b *testing.B, client *mongo.Client, n int) []benchOp {
	st, c := newStore(b, client)
	ctx := context.Background()
	const fn = "bench.Service.Fetch"
	value := make([]byte, 256)
	for i := range n {
		if err := st.Set(ctx, fn, benchKey(i), store.Entry{Value: value, Time: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
	key := benchKey(n / 2)
	id := strconv.Itoa(len(key)) + ":" + key + ":" + fn // as the store derives it
	// Every variant must find the document, and the same one.
	raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil || raw.Lookup("key").StringValue() != key {
		b.Fatalf("document %q: %v", id, err)
	}
	// Let the server settle after the writes (FerretDB's SQLite
	// checkpoints its log), so that no variant pays for them.
	for range 200 {
		if _, err := st.Get(ctx, fn, key); err != nil {
			b.Fatal(err)
		}
	}
	return []benchOp{
		{"store", func() {
			e, err := st.Get(ctx, fn, key)
			if err != nil || len(e.Value) != len(value) {
				b.Fatal(err)
			}
		}},
		{"raw-fn-key", func() {
			rawFindOne(b, ctx, c, bson.D{{Key: "fn", Value: fn}, {Key: "key", Value: key}})
		}},
		{"raw-id", func() {
			rawFindOne(b, ctx, c, bson.D{{Key: "_id", Value: id}})
		}},
	}
}

func rawFindOne(b *testing.B, ctx context.Context, c *mongo.Collection, filter bson.D) {
	raw, err := c.FindOne(ctx, filter).Raw()
	if err != nil {
		b.Fatal(err)
	}
	if _, data, ok := raw.Lookup("value").BinaryOK(); !ok || len(data) == 0 {
		b.Fatal("no value")
	}
}
