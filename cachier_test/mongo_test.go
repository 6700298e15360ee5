package cachier_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/mongostore"
)

func init() {
	backends["mongo"] = backendDef{open: openMongo, crossProcess: true}
}

// mongoDown remembers, by URI, a server that did not answer, so that the
// many tests that open it skip at once instead of each waiting for it.
var mongoDown sync.Map // string -> error

const (
	mongoTestDB       = "cachier_test"
	mongoRegistry     = "dec_registry" // collection name -> when first opened
	mongoCollPrefix   = "dec_"
	mongoSweepMaxAge  = time.Hour
	mongoOpenDeadline = 5 * time.Second
)

// openMongo opens the mongo backend on CACHIER_TEST_MONGO_URI, in a
// collection named after dir: every process of one race shares it, and no
// other test or concurrent run meets it.
//
// The collection is not dropped when the test ends, since other processes
// of a race may still be using it. Instead each open records its collection
// in a registry collection and drops those that earlier runs opened more
// than an hour ago (sweepMongo).
func openMongo(t *testing.T, dir string) backend {
	t.Helper()
	uri := testenv.Getenv("CACHIER_TEST_MONGO_URI", "mongodb://127.0.0.1:27017")
	if err, down := mongoDown.Load(uri); down {
		testenv.Unavailable(t, "MongoDB", uri, err.(error)) // known since an earlier test: no new wait
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		testenv.Unavailable(t, "MongoDB", uri, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client.Disconnect(ctx)
	})
	ctx, cancel := context.WithTimeout(context.Background(), mongoOpenDeadline)
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		mongoDown.Store(uri, err)
		testenv.Unavailable(t, "MongoDB", uri, err)
	}

	h := sha256.Sum256([]byte(dir))
	name := mongoCollPrefix + hex.EncodeToString(h[:8])
	db := client.Database(mongoTestDB)
	_, err = db.Collection(mongoRegistry).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: name}},
		bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "opened", Value: bson.NewDateTimeFromTime(time.Now())}}}},
		options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) { // another process of the race registered it
		t.Fatalf("register collection %s: %v", name, err)
	}
	sweepMongo(t, ctx, db)

	coll := db.Collection(name)
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return coll, nil })
	return backend{
		tag:  "backend=mongo",
		opts: []cachier.Option{cachier.WithStore("mongo", st)},
	}
}

// sweepMongo drops the collections that earlier runs registered more than
// mongoSweepMaxAge ago. Failures are logged, not fatal: they cost disk space,
// not correctness.
func sweepMongo(t *testing.T, ctx context.Context, db *mongo.Database) {
	reg := db.Collection(mongoRegistry)
	cutoff := bson.NewDateTimeFromTime(time.Now().Add(-mongoSweepMaxAge))
	cur, err := reg.Find(ctx, bson.D{{Key: "opened", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		t.Logf("mongo sweep: %v", err)
		return
	}
	var old []struct {
		Name string `bson:"_id"`
	}
	if err := cur.All(ctx, &old); err != nil {
		t.Logf("mongo sweep: %v", err)
		return
	}
	for _, o := range old {
		if !strings.HasPrefix(o.Name, mongoCollPrefix) || o.Name == mongoRegistry {
			continue
		}
		if err := db.Collection(o.Name).Drop(ctx); err != nil {
			t.Logf("mongo sweep: drop %s: %v", o.Name, err)
			continue
		}
		if _, err := reg.DeleteOne(ctx, bson.D{{Key: "_id", Value: o.Name}}); err != nil {
			t.Logf("mongo sweep: %v", err)
		}
	}
}

// TestMongoFailOpen: with no MongoDB server at the store's address, and the
// driver's 30-second default server selection, a decorated function still
// returns its own results, each call within a bounded time.
func TestMongoFailOpen(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + addr))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database(mongoTestDB).Collection("failopen")
	const timeout = 300 * time.Millisecond
	var getterCalls atomic.Int32
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) {
		getterCalls.Add(1)
		return coll, nil
	}, mongostore.WithTimeout(timeout))

	var calls atomic.Int32
	square := func(ctx context.Context, x int) (int, error) {
		calls.Add(1)
		return x * x, nil
	}
	if err := cachier.Decorate(&square, cachier.Tag("backend=mongo,name=mongo.failopen.square"), cachier.WithStore("mongo", st)); err != nil {
		t.Fatal(err)
	}
	const n = 4
	start := time.Now()
	for i := range n {
		got, err := square(context.Background(), i+2)
		if err != nil || got != (i+2)*(i+2) {
			t.Fatalf("square(%d) = %d, %v; want %d, nil", i+2, got, err, (i+2)*(i+2))
		}
	}
	el := time.Since(start)
	if c := calls.Load(); c != n {
		t.Errorf("function called %d times for %d calls", c, n)
	}
	// A call makes a few store operations (look-up, mark, store, unmark),
	// each bounded by the store's timeout: far below the driver's 30s.
	if limit := n*4*timeout + 10*time.Second; el > limit {
		t.Errorf("%d calls took %v with the server gone (limit %v)", n, el, limit)
	}
	t.Logf("%d calls with the server gone took %v (store timeout %v); getter called %d times", n, el, timeout, getterCalls.Load())
}

// TestMongoLazyGetter: a program decorates while its database is not yet
// reachable (the getter fails); calls fail open meanwhile; once the getter
// succeeds, results are cached in the real server.
func TestMongoLazyGetter(t *testing.T) {
	openMongo(t, t.TempDir()) // skips (or fails) unless the server answers
	uri := testenv.Getenv("CACHIER_TEST_MONGO_URI", "mongodb://127.0.0.1:27017")
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database(mongoTestDB).Collection("lazy_" + hex.EncodeToString(randBytes(t, 6)))
	defer coll.Drop(context.Background())

	var ready atomic.Bool
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) {
		if !ready.Load() {
			return nil, errors.New("database not reachable yet")
		}
		return coll, nil
	})
	var calls atomic.Int32
	double := func(ctx context.Context, x int) (int, error) {
		calls.Add(1)
		return 2 * x, nil
	}
	if err := cachier.Decorate(&double, cachier.Tag("backend=mongo,name=mongo.lazy.double"), cachier.WithStore("mongo", st)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if got, err := double(ctx, 21); err != nil || got != 42 {
			t.Fatalf("double(21) = %d, %v", got, err)
		}
	}
	if c := calls.Load(); c != 2 {
		t.Fatalf("with the getter failing, function called %d times for 2 calls, want 2", c)
	}
	ready.Store(true)
	// The core leaves a store that failed alone until its backoff window
	// ends (a second here): then the next call stores and the one after
	// is served from the cache.
	servedAgain(t, "double(21)", func() bool {
		n := calls.Load()
		if got, err := double(ctx, 21); err != nil || got != 42 {
			t.Fatalf("double(21) = %d, %v", got, err)
		}
		return calls.Load() != n
	})
	if n, err := coll.CountDocuments(ctx, bson.D{{Key: "completed", Value: true}}); err != nil || n != 1 {
		t.Fatalf("collection holds %d entries (%v), want 1", n, err)
	}
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMongoOutage: the server goes away while a decorated function is in
// use. Calls return the function's results, each within a bound set by the
// store's timeout, and the failure is logged; when the server is back, the
// cache serves again.
func TestMongoOutage(t *testing.T) {
	openMongo(t, t.TempDir()) // skips (or fails) unless the server answers
	uri := testenv.Getenv("CACHIER_TEST_MONGO_URI", "mongodb://127.0.0.1:27017")
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil || len(cs.Hosts) != 1 || cs.Username != "" {
		t.Skipf("the outage test proxies a single host without credentials; %s is not one (%v)", uri, err)
	}
	target := cs.Hosts[0]
	if _, _, err := net.SplitHostPort(target); err != nil {
		target += ":27017"
	}
	proxy := testenv.StartProxy(t, target)
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + proxy.Addr() + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database(mongoTestDB).Collection("outage_" + hex.EncodeToString(randBytes(t, 6)))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		coll.Drop(ctx)
	}()
	const opTimeout = 500 * time.Millisecond
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return coll, nil }, mongostore.WithTimeout(opTimeout))

	logs := testenv.CaptureLogs(t)

	var calls atomic.Int32
	square := func(ctx context.Context, x int) (int, error) {
		calls.Add(1)
		return x * x, nil
	}
	if err := cachier.Decorate(&square, cachier.Tag("backend=mongo,name=mongo.outage.square"), cachier.WithStore("mongo", st)); err != nil {
		t.Fatal(err)
	}
	call := func(x int) (ran bool, took time.Duration) {
		t.Helper()
		n := calls.Load()
		start := time.Now()
		got, err := square(context.Background(), x)
		took = time.Since(start)
		if err != nil || got != x*x {
			t.Fatalf("square(%d) = %d, %v; want %d, nil", x, got, err, x*x)
		}
		return calls.Load() != n, took
	}
	// Before: the first call computes (the first store operation creates the
	// collection and its index, which a loaded machine may take longer than
	// opTimeout to do: then the call fails open and the next one stores).
	deadline := time.Now().Add(30 * time.Second)
	for {
		call(3)
		if ran, _ := call(3); !ran {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("square(3) is never served from the cache")
		}
	}

	proxy.Stop()
	// A call makes a few store operations (look-up, mark, store, unmark),
	// each bounded by opTimeout: far below the driver's 30s server
	// selection.
	limit := 4*opTimeout + 5*time.Second
	for _, x := range []int{3, 4, 3} {
		ran, took := call(x)
		if !ran {
			t.Errorf("square(%d) with the server gone did not run the function", x)
		}
		if took > limit {
			t.Errorf("square(%d) with the server gone took %v (limit %v)", x, took, limit)
		}
		t.Logf("square(%d) with the server gone: %v", x, took)
	}
	if !strings.Contains(logs.String(), "mongo.outage.square") {
		t.Errorf("no warning names the function; log:\n%s", logs.String())
	}

	proxy.Restore()
	deadline = time.Now().Add(30 * time.Second)
	for {
		if ran, _ := call(3); !ran {
			break // served from the cache again
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache does not serve after the server came back; log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkMongoHit: a decorated call that hits the mongo backend, against a
// raw FindOne of the same document by (fn, key) and by _id, taken in turn
// within each iteration (so that a changing load weighs on both alike); it
// reports each one's mean time and the ratios.
func BenchmarkMongoHit(b *testing.B) {
	uri := testenv.Getenv("CACHIER_TEST_MONGO_URI", "mongodb://127.0.0.1:27017")
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		testenv.Unavailable(b, "MongoDB", uri, err)
	}
	defer client.Disconnect(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = client.Ping(ctx, nil)
	cancel()
	if err != nil {
		testenv.Unavailable(b, "MongoDB", uri, err)
	}
	coll := client.Database(mongoTestDB).Collection("bench_" + hex.EncodeToString(randBytes(b, 6)))
	defer coll.Drop(context.Background())
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return coll, nil })

	lookup := benchLookup(b, "backend=mongo", cachier.WithStore("mongo", st))
	c := context.Background()
	var doc struct {
		ID  string `bson:"_id"`
		Fn  string `bson:"fn"`
		Key string `bson:"key"`
	}
	if err := coll.FindOne(c, bson.D{{Key: "completed", Value: true}}).Decode(&doc); err != nil {
		b.Fatal(err)
	}
	raw := func(filter bson.D) func() {
		return func() {
			r, err := coll.FindOne(c, filter).Raw()
			if err != nil {
				b.Fatal(err)
			}
			if _, v, ok := r.Lookup("value").BinaryOK(); !ok || len(v) == 0 {
				b.Fatal("no value")
			}
		}
	}
	ops := [3]func(){
		func() {
			if r, err := lookup(c, 42); err != nil || r.Name != "item-42" {
				b.Fatal(r, err)
			}
		},
		raw(bson.D{{Key: "fn", Value: doc.Fn}, {Key: "key", Value: doc.Key}}),
		raw(bson.D{{Key: "_id", Value: doc.ID}}),
	}
	for range 100 { // warm up
		for _, op := range ops {
			op()
		}
	}
	b.ReportAllocs()
	took, n := testenv.Paired(b, ops[:]...)
	b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "hit-ns/call")
	b.ReportMetric(float64(took[1].Nanoseconds())/float64(n), "raw-fn-key-ns/call")
	b.ReportMetric(float64(took[2].Nanoseconds())/float64(n), "raw-id-ns/call")
	b.ReportMetric(float64(took[0])/float64(took[1]), "hit/raw-fn-key")
	b.ReportMetric(float64(took[0])/float64(took[2]), "hit/raw-id")
}
