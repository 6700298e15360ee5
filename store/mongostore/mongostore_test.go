package mongostore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/mongostore"
	"github.com/cachier-go/cachier/store/storetest"
)

const (
	uriVar     = "CACHIER_TEST_MONGO_URI"
	defaultURI = "mongodb://127.0.0.1:27017"
	testDB     = "cachier_test"
)

// connect returns a client of the test server, or ends the test through
// testenv when none answers.
func connect(t testing.TB) *mongo.Client {
	t.Helper()
	uri := testenv.Getenv(uriVar, defaultURI)
	if err, down := serverDown.Load(uri); down {
		testenv.Unavailable(t, "MongoDB", uri, err.(error)) // known since an earlier test: no new wait
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		testenv.Unavailable(t, "MongoDB", uri, err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx, nil); err != nil {
		serverDown.Store(uri, err)
		testenv.Unavailable(t, "MongoDB", uri, err)
	}
	return client
}

// serverDown remembers, by URI, a server that did not answer, so that later
// tests skip at once instead of each waiting for it.
var serverDown sync.Map // string -> error

// collName returns a collection name unique to this run of t.
func collName(t testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	name := strings.NewReplacer("/", "_", " ", "_", "#", "_").Replace(t.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	return "t_" + name + "_" + hex.EncodeToString(b[:])
}

// tempCollection returns a collection unique to t, dropped at its end.
func tempCollection(t testing.TB, client *mongo.Client) *mongo.Collection {
	t.Helper()
	c := client.Database(testDB).Collection(collName(t))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Drop(ctx); err != nil {
			t.Logf("drop %s: %v", c.Name(), err)
		}
	})
	return c
}

func newStore(t testing.TB, client *mongo.Client, opts ...mongostore.Option) (*mongostore.Store, *mongo.Collection) {
	c := tempCollection(t, client)
	return mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil }, opts...), c
}

func TestConformance(t *testing.T) {
	client := connect(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		st, _ := newStore(t, client)
		return st
	})
}

// TestSharedCollection runs the conformance cases on one collection shared
// by all cases and by several Store values, as the functions of a program
// (and the processes of a deployment) share one.
func TestSharedCollection(t *testing.T) {
	client := connect(t)
	shared := tempCollection(t, client)
	storetest.Run(t, func(t *testing.T) store.Store {
		c := shared
		if strings.HasSuffix(t.Name(), "/LargeValue") {
			// FerretDB v1 answers every filter but {_id} by scanning the
			// collection, decoding each document: 4 MiB values there make
			// the later cases' marks slow without testing anything more.
			c = tempCollection(t, client)
		}
		return mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil })
	})
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDocumentShape checks the document of an entry, the unique index, and
// that a mark neither creates a hit nor destroys a value.
func TestDocumentShape(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn, key = "pkg.T.F", "0123456789abcdef0123456789abcdef"
	when := time.Now().Truncate(time.Millisecond)

	if ok, err := st.Mark(ctx, fn, key, "a", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	var doc bson.M
	if err := c.FindOne(ctx, bson.D{{Key: "fn", Value: fn}, {Key: "key", Value: key}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["completed"] != false || doc["processing"] != true || doc["owner"] != "a" {
		t.Errorf("mark-only document = %v", doc)
	}
	if _, err := st.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get of a marked key without entry: %v, want ErrNotFound", err)
	}

	if err := st.Set(ctx, fn, key, store.Entry{Value: []byte{0, 1, 2}, Time: when}); err != nil {
		t.Fatal(err)
	}
	doc = nil
	if err := c.FindOne(ctx, bson.D{{Key: "fn", Value: fn}, {Key: "key", Value: key}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	want := bson.M{"fn": fn, "key": key, "stale": false, "processing": false, "completed": true, "size": int64(3)}
	for k, v := range want {
		if doc[k] != v {
			t.Errorf("document %s = %v, want %v", k, doc[k], v)
		}
	}
	if b, ok := doc["value"].(bson.Binary); !ok || string(b.Data) != "\x00\x01\x02" {
		t.Errorf("document value = %#v", doc["value"])
	}
	if d, ok := doc["time"].(bson.DateTime); !ok || !d.Time().Equal(when) {
		t.Errorf("document time = %#v, want %v", doc["time"], when)
	}
	for _, f := range []string{"owner", "expires"} {
		if _, ok := doc[f]; ok {
			t.Errorf("document keeps %s after Set: %v", f, doc)
		}
	}
	if n, err := c.CountDocuments(ctx, bson.D{}); err != nil || n != 1 {
		t.Errorf("collection holds %d documents (%v), want 1", n, err)
	}

	// The unique index refuses a second document for (fn, key).
	_, err := c.InsertOne(ctx, bson.D{{Key: "fn", Value: fn}, {Key: "key", Value: key}})
	if !mongo.IsDuplicateKeyError(err) {
		t.Errorf("insert of a duplicate (fn, key): %v, want a duplicate-key error", err)
	}
	specs, err := c.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range specs {
		if s.Name == mongostore.IndexName {
			found = true
			if s.Unique == nil || !*s.Unique {
				t.Errorf("index %s is not unique: %+v", s.Name, s)
			}
		}
	}
	if !found {
		t.Errorf("no index %s among %+v", mongostore.IndexName, specs)
	}
}

// TestLazyGetter checks that New does not call the getter, that a failing
// getter makes operations fail and is called again, and that a succeeding
// one is called once.
func TestLazyGetter(t *testing.T) {
	client := connect(t)
	c := tempCollection(t, client)
	var calls atomic.Int32
	var ready atomic.Bool
	down := errors.New("database not reachable yet")
	st := mongostore.New(func(ctx context.Context) (*mongo.Collection, error) {
		calls.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("getter called without a deadline")
		}
		if !ready.Load() {
			return nil, down
		}
		return c, nil
	})
	if n := calls.Load(); n != 0 {
		t.Fatalf("New called the getter %d times", n)
	}
	ctx := ctxT(t)
	for range 2 {
		if _, err := st.Get(ctx, "f", "k"); !errors.Is(err, down) {
			t.Fatalf("Get with a failing getter: %v, want it to wrap %v", err, down)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("failing getter called %d times by two operations, want 2", n)
	}
	ready.Store(true)
	if err := st.Set(ctx, "f", "k", store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.Get(ctx, "f", "k"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := calls.Load(); n != 3 {
		t.Fatalf("getter called %d times, want 3 (two failures, one success)", n)
	}
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// everyOp runs each store operation once and returns their errors by name.
func everyOp(ctx context.Context, st store.Store) map[string]error {
	const fn, key = "outage.F", "0123456789abcdef0123456789abcdef"
	errs := map[string]error{}
	_, errs["Get"] = st.Get(ctx, fn, key)
	errs["Set"] = st.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()})
	_, errs["Mark"] = st.Mark(ctx, fn, key, "o", time.Minute)
	errs["Unmark"] = st.Unmark(ctx, fn, key, "o")
	errs["Clear"] = st.Clear(ctx, fn)
	errs["ClearMarks"] = st.ClearMarks(ctx, fn)
	errs["DeleteStale"] = st.DeleteStale(ctx, fn, time.Now())
	return errs
}

// TestOutageNoServer: with no server at all, and the driver's default
// 30-second server selection, every operation fails within the store's
// timeout.
func TestOutageNoServer(t *testing.T) {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + closedAddr(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	c := client.Database(testDB).Collection("outage")
	const timeout = 300 * time.Millisecond
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil }, mongostore.WithTimeout(timeout))
	for op, err := range timedOps(t, st, timeout) {
		if err == nil {
			t.Errorf("%s with no server: nil error", op)
		}
	}
}

// timedOps runs everyOp and fails t if one operation took much longer than
// timeout. The slack is generous: a loaded machine is slow, but a missing
// deadline costs the driver's 30 seconds.
func timedOps(t *testing.T, st store.Store, timeout time.Duration) map[string]error {
	t.Helper()
	start := time.Now()
	errs := everyOp(context.Background(), st)
	el := time.Since(start)
	if limit := 7*timeout + 5*time.Second; el > limit {
		t.Errorf("seven operations took %v with a %v timeout each (limit %v)", el, timeout, limit)
	}
	t.Logf("seven operations took %v in all (timeout %v each)", el, timeout)
	for op, err := range errs {
		t.Logf("%s: %v", op, err)
	}
	return errs
}

// TestOutageServerGone: a store in use loses its server mid-test (every
// connection cut, nothing listening), fails every operation within its
// timeout, and works again once the server is back on the same address.
func TestOutageServerGone(t *testing.T) {
	connect(t) // skip (or fail) unless the real server answers
	uri := testenv.Getenv(uriVar, defaultURI)
	cs, err := parseHost(uri)
	if err != nil {
		t.Skipf("cannot proxy %s: %v", uri, err)
	}
	p := testenv.StartProxy(t, cs)
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + p.Addr() + "/?directConnection=true"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	c := client.Database(testDB).Collection(collName(t))
	defer c.Drop(context.Background())
	const timeout = time.Second
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil }, mongostore.WithTimeout(timeout))
	ctx := ctxT(t)
	const fn, key = "gone.F", "0123456789abcdef0123456789abcdef"
	want := store.Entry{Value: []byte("before the outage"), Time: time.Now().Truncate(time.Millisecond)}
	// The first write creates the collection and the index; on a loaded
	// machine that may take longer than the timeout, so it may be retried.
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := st.Set(ctx, fn, key, want)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}

	// The store is in use (collection and index known, connections
	// pooled) when the server goes.
	p.Stop()
	for op, err := range timedOps(t, st, timeout) {
		if err == nil {
			t.Errorf("%s with the server gone: nil error", op)
		}
	}

	p.Restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := st.Get(ctx, fn, key)
		if err == nil {
			if string(got.Value) != string(want.Value) {
				t.Fatalf("after the outage Get = %q, want %q", got.Value, want.Value)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover after the server came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parseHost returns the single host:port of a mongodb:// URI.
func parseHost(uri string) (string, error) {
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		return "", errors.New("not a mongodb:// URI")
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		return "", errors.New("URI with credentials")
	}
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		rest = rest[:i]
	}
	if strings.Contains(rest, ",") {
		return "", errors.New("more than one host")
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		rest += ":27017"
	}
	return rest, nil
}

// raceMark has n owners Mark key at once and returns the winners.
func raceMark(t *testing.T, st store.Store, fn, key string, n int) []string {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  []string
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			owner := "owner-" + strconv.Itoa(i)
			ok, err := st.Mark(context.Background(), fn, key, owner, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins = append(wins, owner)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return wins
}

// TestMarkTakeoverOneWinner: the conformance suite races for a key without
// a document; here owners race for a key whose document exists, with an
// expired mark or with an entry and no mark. Exactly one must win, and the
// entry must survive. (FerretDB applies a conditional update as a read and
// a write: without the claim documents, most rounds here had several
// winners.)
func TestMarkTakeoverOneWinner(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn, rounds, racers = "takeover.F", 8, 8
	t.Run("Expired", func(t *testing.T) {
		for r := range rounds {
			key := fmt.Sprintf("%032x", r)
			if ok, err := st.Mark(ctx, fn, key, "dead", 50*time.Millisecond); err != nil || !ok {
				t.Fatalf("Mark = %v, %v", ok, err)
			}
			time.Sleep(60 * time.Millisecond) // the mark's ttl lapses
			if wins := raceMark(t, st, fn, key, racers); len(wins) != 1 {
				t.Errorf("round %d: %d owners took over the expired mark (%v), want 1", r, len(wins), wins)
			}
		}
	})
	t.Run("FreeOnEntry", func(t *testing.T) {
		for r := range rounds {
			key := fmt.Sprintf("%032x", 100+r)
			want := store.Entry{Value: []byte("stale value"), Time: time.Now().Truncate(time.Millisecond)}
			if err := st.Set(ctx, fn, key, want); err != nil {
				t.Fatal(err)
			}
			if wins := raceMark(t, st, fn, key, racers); len(wins) != 1 {
				t.Errorf("round %d: %d owners marked the entry (%v), want 1", r, len(wins), wins)
			}
			if got, err := st.Get(ctx, fn, key); err != nil || string(got.Value) != string(want.Value) {
				t.Errorf("round %d: after the race Get = %q, %v; want %q", r, got.Value, err, want.Value)
			}
		}
	})
	t.Run("EntryWithoutToken", func(t *testing.T) {
		// A document as another writer (or an older version) may leave it:
		// no token field.
		for r := range rounds {
			key := fmt.Sprintf("%032x", 200+r)
			_, err := c.InsertOne(ctx, bson.D{
				{Key: "_id", Value: strconv.Itoa(len(key)) + ":" + key + ":" + fn},
				{Key: "fn", Value: fn}, {Key: "key", Value: key},
				{Key: "value", Value: bson.Binary{Data: []byte("old")}},
				{Key: "time", Value: bson.NewDateTimeFromTime(time.Now())},
				{Key: "stale", Value: false}, {Key: "processing", Value: false}, {Key: "completed", Value: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			if wins := raceMark(t, st, fn, key, racers); len(wins) != 1 {
				t.Errorf("round %d: %d owners marked the entry (%v), want 1", r, len(wins), wins)
			}
			if got, err := st.Get(ctx, fn, key); err != nil || string(got.Value) != "old" {
				t.Errorf("round %d: after the race Get = %q, %v; want %q", r, got.Value, err, "old")
			}
		}
	})
}

// TestStaleClaim: a caller that died between claiming a key's token and
// marking the key leaves its claim document behind; it must not block the
// key after 30 seconds, and blocks it before. The claims here have no
// expiry, as an earlier version of the store wrote them (for today's, see
// TestDeadTakeoverBlocksOneMarkTTL); TestHostileClaimExpiry checks that an
// expiry far ahead counts 30 seconds at most.
func TestStaleClaim(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn, key = "claim.F", "0123456789abcdef0123456789abcdef"
	if err := st.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID    string `bson:"_id"`
		Token string `bson:"token"`
	}
	if err := c.FindOne(ctx, bson.D{{Key: "fn", Value: fn}, {Key: "key", Value: key}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Token == "" {
		t.Fatalf("entry has no token")
	}
	deadClaim := func(at time.Time) {
		claim := "claim:" + doc.Token + ":0:" + doc.ID
		_, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: claim}}, bson.D{
			{Key: "fn", Value: fn},
			{Key: "key", Value: key + "#claim:" + doc.Token + ":0"},
			{Key: "completed", Value: false},
			{Key: "claimed", Value: bson.NewDateTimeFromTime(at)},
		}, options.Replace().SetUpsert(true))
		if err != nil {
			t.Fatal(err)
		}
	}
	deadClaim(time.Now())
	if ok, err := st.Mark(ctx, fn, key, "a", time.Minute); err != nil || ok {
		t.Fatalf("Mark with a fresh claim of another caller = %v, %v; want false", ok, err)
	}
	deadClaim(time.Now().Add(-time.Minute))
	if ok, err := st.Mark(ctx, fn, key, "a", time.Minute); err != nil || !ok {
		t.Fatalf("Mark past a dead claim = %v, %v; want true", ok, err)
	}
	if ok, err := st.Mark(ctx, fn, key, "b", time.Minute); err != nil || ok {
		t.Fatalf("second owner's Mark = %v, %v; want false", ok, err)
	}
	if got, err := st.Get(ctx, fn, key); err != nil || string(got.Value) != "v" {
		t.Fatalf("Get = %q, %v; want the entry", got.Value, err)
	}
	// ClearMarks sweeps claim documents away with the marks.
	if err := st.ClearMarks(ctx, fn); err != nil {
		t.Fatal(err)
	}
	n, err := c.CountDocuments(ctx, bson.D{{Key: "fn", Value: fn}})
	if err != nil || n != 1 {
		t.Fatalf("after ClearMarks %d documents of %s (%v), want the entry alone", n, fn, err)
	}
}

// TestSlowGetter: while one operation waits for a getter that does not
// return, the others give up at their own deadline instead of queueing
// behind it.
func TestSlowGetter(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	const timeout = 200 * time.Millisecond
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) {
		close(entered)
		<-release // ignores its context
		return nil, errors.New("gave up")
	}, mongostore.WithTimeout(timeout))
	first := make(chan error, 1)
	go func() {
		_, err := st.Get(context.Background(), "f", "k")
		first <- err
	}()
	<-entered
	start := time.Now()
	_, err := st.Get(context.Background(), "f", "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get behind a hung getter: %v, want a deadline error", err)
	}
	if el := time.Since(start); el > timeout+5*time.Second {
		t.Errorf("Get behind a hung getter took %v with a %v timeout", el, timeout)
	}
	close(release)
	if err := <-first; err == nil {
		t.Error("Get whose getter failed: nil error")
	}
}

// TestForeignDocument: a document of the right (fn, key) that this store did
// not write (a string value, no time) reads as a miss, and Set replaces it.
func TestForeignDocument(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn, key = "foreign.F", "0123456789abcdef0123456789abcdef"
	if _, err := st.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) { // creates the index
		t.Fatal(err)
	}
	_, err := c.InsertOne(ctx, bson.D{
		{Key: "_id", Value: strconv.Itoa(len(key)) + ":" + key + ":" + fn},
		{Key: "fn", Value: fn}, {Key: "key", Value: key},
		{Key: "value", Value: "not binary"}, {Key: "completed", Value: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a foreign document: %v, want ErrNotFound", err)
	}
	want := store.Entry{Value: []byte("mine"), Time: time.Now().Truncate(time.Millisecond)}
	if err := st.Set(ctx, fn, key, want); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, fn, key); err != nil || string(got.Value) != "mine" || !got.Time.Equal(want.Time) {
		t.Fatalf("Get after Set = %q %v, %v; want %q %v", got.Value, got.Time, err, want.Value, want.Time)
	}
}

// TestHostileClaimExpiry: a claim document whose expiry lies far in the
// future (written by a broken or hostile client) blocks the key for 30
// seconds after its making at most, like a claim without expiry.
func TestHostileClaimExpiry(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn, key = "claim.H", "0123456789abcdef0123456789abcdef"
	if err := st.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ID    string `bson:"_id"`
		Token string `bson:"token"`
	}
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: strconv.Itoa(len(key)) + ":" + key + ":" + fn}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	_, err := c.InsertOne(ctx, bson.D{
		{Key: "_id", Value: "claim:" + doc.Token + ":0:" + doc.ID},
		{Key: "fn", Value: fn},
		{Key: "key", Value: key + "#claim:" + doc.Token + ":0"},
		{Key: "completed", Value: false},
		{Key: "claimed", Value: bson.NewDateTimeFromTime(time.Now().Add(-time.Minute))},
		{Key: "expires", Value: bson.NewDateTimeFromTime(time.Now().Add(100 * 365 * 24 * time.Hour))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Mark(ctx, fn, key, "a", time.Minute); err != nil || !ok {
		t.Fatalf("Mark past a minute-old claim expiring in a century = %v, %v; want true", ok, err)
	}
}
