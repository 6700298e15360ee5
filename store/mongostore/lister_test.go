package mongostore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/mongostore"
)

func listKey(i int) string { return fmt.Sprintf("%032x", i) }

// TestListerFunctions: per function, the entries, their bytes, the oldest
// and newest entry and the live marks; a function with a live mark alone is
// listed, an expired mark, a claim document and another collection's
// documents are not counted.
func TestListerFunctions(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)

	if got, err := st.Functions(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Functions of an empty collection = %v, %v; want none", got, err)
	}

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const a, b, cfn = "list.A", "list.B", "list.C"
	for i, size := range []int{1, 10, 100} {
		e := store.Entry{Value: bytes.Repeat([]byte{byte(i)}, size), Time: base.Add(time.Duration(i) * time.Minute)}
		if err := st.Set(ctx, a, listKey(i), e); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := st.Mark(ctx, a, listKey(1), "o", time.Minute); err != nil || !ok { // a mark on an entry
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if ok, err := st.Mark(ctx, b, listKey(0), "o", time.Minute); err != nil || !ok { // a mark alone
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if ok, err := st.Mark(ctx, b, listKey(1), "o", time.Millisecond); err != nil || !ok { // expires at once
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if err := st.Set(ctx, cfn, listKey(0), store.Entry{Value: nil, Time: base}); err != nil { // an empty value
		t.Fatal(err)
	}
	// A takeover of a's key 2 leaves a claim behind (its maker died).
	_, err := c.InsertOne(ctx, bson.D{
		{Key: "_id", Value: "claim:x:0:" + listKey(2)}, {Key: "fn", Value: a},
		{Key: "key", Value: listKey(2) + "#claim:x:0"}, {Key: "completed", Value: false},
		{Key: "claimed", Value: bson.NewDateTimeFromTime(time.Now())},
		{Key: "expires", Value: bson.NewDateTimeFromTime(time.Now().Add(time.Minute))},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another store's collection on the same server holds more.
	other, _ := newStore(t, client)
	if err := other.Set(ctx, a, listKey(9), store.Entry{Value: []byte("elsewhere"), Time: base}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // b's second mark is past its 1 ms ttl

	got, err := st.Functions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Function < got[j].Function })
	want := []store.FuncInfo{
		{Function: a, Entries: 3, Bytes: 111, Oldest: base, Newest: base.Add(2 * time.Minute), Marks: 1},
		{Function: b, Marks: 1},
		{Function: cfn, Entries: 1, Bytes: 0, Oldest: base, Newest: base},
	}
	checkInfos(t, got, want)
}

func checkInfos(t *testing.T, got, want []store.FuncInfo) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("Functions = %+v\nwant %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Function != w.Function || g.Entries != w.Entries || g.Bytes != w.Bytes || g.Marks != w.Marks ||
			!g.Oldest.Equal(w.Oldest) || !g.Newest.Equal(w.Newest) {
			t.Errorf("Functions[%d] = %+v\nwant %+v", i, g, w)
		}
	}
}

// TestListerEntries: every entry of the function, with its key, time and
// size, and none of another function's; marks without entries and claims are
// not entries; the first error of yield stops the scan and is returned.
func TestListerEntries(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const fn, n = "list.E", 600 // more than one cursor batch
	want := map[string]store.EntryInfo{}
	for i := range n {
		e := store.Entry{Value: bytes.Repeat([]byte("x"), i%7), Time: base.Add(time.Duration(i) * time.Second)}
		if err := st.Set(ctx, fn, listKey(i), e); err != nil {
			t.Fatal(err)
		}
		want[listKey(i)] = store.EntryInfo{Key: listKey(i), Time: e.Time, Size: int64(i % 7)}
	}
	if ok, err := st.Mark(ctx, fn, listKey(n), "o", time.Minute); err != nil || !ok {
		t.Fatalf("Mark = %v, %v", ok, err)
	}
	if err := st.Set(ctx, "list.Other", listKey(0), store.Entry{Value: []byte("no"), Time: base}); err != nil {
		t.Fatal(err)
	}
	// A document of the function this store did not write (no time): Get
	// misses it, so it is no entry.
	foreign := listKey(n + 1)
	_, err := c.InsertOne(ctx, bson.D{
		{Key: "_id", Value: strconv.Itoa(len(foreign)) + ":" + foreign + ":" + fn},
		{Key: "fn", Value: fn}, {Key: "key", Value: foreign},
		{Key: "value", Value: bson.Binary{Data: []byte("?")}}, {Key: "completed", Value: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if infos, err := st.Functions(ctx); err != nil || len(infos) != 2 {
		t.Fatalf("Functions = %+v, %v; want 2 functions", infos, err)
	} else {
		for _, fi := range infos {
			if fi.Function == fn && (fi.Entries != n || fi.Marks != 1) {
				t.Errorf("Functions: %+v; want %d entries, 1 mark", fi, n)
			}
		}
	}
	seen := map[string]bool{}
	err = st.Entries(ctx, fn, func(e store.EntryInfo) error {
		w, ok := want[e.Key]
		switch {
		case !ok:
			t.Errorf("Entries yielded %+v, not an entry of %s", e, fn)
		case seen[e.Key]:
			t.Errorf("Entries yielded %s twice", e.Key)
		case !e.Time.Equal(w.Time) || e.Size != w.Size:
			t.Errorf("Entries yielded %+v, want %+v", e, w)
		}
		seen[e.Key] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("Entries yielded %d entries, want %d", len(seen), n)
	}

	stop := errors.New("enough")
	calls := 0
	err = st.Entries(ctx, fn, func(store.EntryInfo) error {
		calls++
		if calls == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 3 {
		t.Errorf("Entries with yield failing at the 3rd entry: %v after %d calls; want %v after 3", err, calls, stop)
	}
}

// TestListerUnsizedEntries: entries written without a recorded size (by an
// earlier version of the store) are counted with their values' sizes.
func TestListerUnsizedEntries(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn = "list.Old"
	when := time.Now().Truncate(time.Millisecond)
	if err := st.Set(ctx, fn, listKey(0), store.Entry{Value: []byte("12345"), Time: when}); err != nil {
		t.Fatal(err)
	}
	key := listKey(1)
	_, err := c.InsertOne(ctx, bson.D{
		{Key: "_id", Value: strconv.Itoa(len(key)) + ":" + key + ":" + fn},
		{Key: "fn", Value: fn}, {Key: "key", Value: key},
		{Key: "value", Value: bson.Binary{Data: []byte("1234567")}},
		{Key: "time", Value: bson.NewDateTimeFromTime(when)},
		{Key: "stale", Value: false}, {Key: "processing", Value: false}, {Key: "completed", Value: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Functions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkInfos(t, got, []store.FuncInfo{{Function: fn, Entries: 2, Bytes: 12, Oldest: when, Newest: when}})
	sizes := map[string]int64{}
	if err := st.Entries(ctx, fn, func(e store.EntryInfo) error { sizes[e.Key] = e.Size; return nil }); err != nil {
		t.Fatal(err)
	}
	if sizes[listKey(0)] != 5 || sizes[listKey(1)] != 7 || len(sizes) != 2 {
		t.Errorf("Entries sizes = %v, want %s:5 %s:7", sizes, listKey(0), listKey(1))
	}
}

// TestListerReadsNoValues: listing a collection of large values moves a
// small fraction of their bytes over the wire (measured on the driver's
// replies): the values stay on the server.
func TestListerReadsNoValues(t *testing.T) {
	connect(t) // skip (or fail) unless the server answers
	var replied atomic.Int64
	uri := testenv.Getenv(uriVar, defaultURI)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(&event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { replied.Add(int64(len(e.Reply))) },
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	st, _ := newStore(t, client)
	ctx := ctxT(t)
	const fns, per, size = 4, 10, 64 << 10
	for f := range fns {
		for i := range per {
			e := store.Entry{Value: bytes.Repeat([]byte{byte(i)}, size), Time: time.Now()}
			if err := st.Set(ctx, "big."+strconv.Itoa(f), listKey(i), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	replied.Store(0)
	infos, err := st.Functions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fi := range infos {
		if fi.Entries != per || fi.Bytes != per*size {
			t.Errorf("%+v: want %d entries of %d bytes", fi, per, per*size)
		}
		if err := st.Entries(ctx, fi.Function, func(store.EntryInfo) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(infos) != fns || n != fns*per {
		t.Fatalf("listed %d functions, %d entries; want %d, %d", len(infos), n, fns, fns*per)
	}
	total := int64(fns * per * size)
	if got := replied.Load(); got > total/100 {
		t.Errorf("listing %d bytes of values moved %d bytes of replies, want under 1%%", total, got)
	}
	t.Logf("listing %d bytes of values moved %d bytes of replies", total, replied.Load())
}

// TestListerUnreachable: with no server, Functions and Entries fail (within
// the store's timeout) instead of hanging or reporting an empty store.
func TestListerUnreachable(t *testing.T) {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + closedAddr(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	c := client.Database(testDB).Collection("outage")
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil }, mongostore.WithTimeout(300*time.Millisecond))
	if got, err := st.Functions(context.Background()); err == nil {
		t.Errorf("Functions with no server = %v, nil error", got)
	}
	if err := st.Entries(context.Background(), "f", func(store.EntryInfo) error { return nil }); err == nil {
		t.Error("Entries with no server: nil error")
	}
}

// TestListerQueriesPerListing: Functions sends the server a number of
// queries that does not grow with the number of functions listed. A server
// that answers a filter by scanning the collection (FerretDB v1) pays one
// scan per query, so one query per function made listing a collection of F
// functions and N documents cost F×N: on a shared collection it outlasted
// the conformance cases' 30-second context (TestSharedCollection/Lister).
func TestListerQueriesPerListing(t *testing.T) {
	connect(t) // skip (or fail) unless the server answers
	var queries atomic.Int64
	uri := testenv.Getenv(uriVar, defaultURI)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMonitor(&event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			switch e.CommandName {
			case "find", "aggregate", "getMore", "count":
				queries.Add(1)
			}
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	st, _ := newStore(t, client)
	ctx := ctxT(t)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	// list returns the queries one Functions sent, after checking that it
	// lists fns functions of two entries each, a minute apart.
	list := func(fns int) int64 {
		t.Helper()
		queries.Store(0)
		infos, err := st.Functions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := queries.Load()
		if len(infos) != fns {
			t.Fatalf("Functions listed %d functions, want %d", len(infos), fns)
		}
		for _, fi := range infos {
			if fi.Entries != 2 || !fi.Oldest.Equal(base) || !fi.Newest.Equal(base.Add(time.Minute)) {
				t.Errorf("%+v: want 2 entries, oldest %v, newest %v", fi, base, base.Add(time.Minute))
			}
		}
		return n
	}
	add := func(from, to int) {
		t.Helper()
		for f := from; f < to; f++ {
			for i := range 2 {
				e := store.Entry{Value: []byte("v"), Time: base.Add(time.Duration(i) * time.Minute)}
				if err := st.Set(ctx, "fn."+strconv.Itoa(f), listKey(i), e); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	add(0, 2)
	few := list(2)
	add(2, 22)
	many := list(22)
	if many != few {
		t.Errorf("Functions sent %d queries for 2 functions and %d for 22; want as many", few, many)
	}
	t.Logf("Functions sent %d queries for 2 functions, %d for 22", few, many)
}
