package mongostore_test

import (
	"bytes"
	"context"

	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/mongostore"
)

// logBuffer is a slog destination a test reads back.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTTLIndex: the store creates, with its other index, a TTL index on the
// entries' expiry (expireAfterSeconds 0 on expire_at), so that the server
// deletes expired entries by itself; where the server refuses it (FerretDB
// v1 does not implement expireAfterSeconds) the store says so once, in a
// warning, and works on.
func TestTTLIndex(t *testing.T) {
	client := connect(t)
	var logs logBuffer
	c := tempCollection(t, client)
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil },
		mongostore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := ctxT(t)
	const fn = "ttl.F"
	for i := range 3 {
		e := store.Entry{Value: []byte("v"), Time: time.Now(), Expires: time.Now().Add(time.Hour)}
		if err := st.Set(ctx, fn, listKey(i), e); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if _, err := st.Get(ctx, fn, listKey(i)); err != nil {
			t.Fatalf("Get: %v", err)
		}
	}
	specs, err := c.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ttl *mongo.IndexSpecification
	for i := range specs {
		if specs[i].Name == mongostore.TTLIndexName {
			ttl = &specs[i]
		}
	}
	warnings := strings.Count(logs.String(), "TTL index")
	switch {
	case ttl != nil:
		if ttl.ExpireAfterSeconds == nil || *ttl.ExpireAfterSeconds != 0 || !bytes.Contains(ttl.KeysDocument, []byte("expire_at")) {
			t.Errorf("TTL index %+v: want expireAfterSeconds 0 on expire_at", ttl)
		}
		if warnings != 0 {
			t.Errorf("TTL index made, yet warnings: %s", logs.String())
		}
	case warnings != 1:
		t.Errorf("no index %s among %v and %d warnings about it (want 1): %q", mongostore.TTLIndexName, specs, warnings, logs.String())
	default:
		t.Logf("the server refused the TTL index: %s", logs.String())
	}
}

// TestDeleteStaleRemovesExpired: where no TTL index removes them (FerretDB),
// DeleteStale removes the function's expired entries whatever its cutoff,
// and keeps the others.
func TestDeleteStaleRemovesExpired(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	const fn = "ttl.D"
	now := time.Now().Truncate(time.Millisecond)
	expired := store.Entry{Value: []byte("expired"), Time: now, Expires: now.Add(-time.Second)}
	lasting := store.Entry{Value: []byte("lasting"), Time: now, Expires: now.Add(time.Hour)}
	forever := store.Entry{Value: []byte("forever"), Time: now}
	for i, e := range []store.Entry{expired, lasting, forever} {
		if err := st.Set(ctx, fn, listKey(i), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Set(ctx, "ttl.Other", listKey(0), expired); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteStale(ctx, fn, now.Add(-time.Hour)); err != nil { // no entry is that old
		t.Fatal(err)
	}
	if n, err := c.CountDocuments(ctx, bson.D{{Key: "fn", Value: fn}}); err != nil || n != 2 {
		t.Errorf("after DeleteStale %d documents of %s (%v), want 2 (the expired one gone)", n, fn, err)
	}
	for i, want := range []store.Entry{lasting, forever} {
		if got, err := st.Get(ctx, fn, listKey(i+1)); err != nil || string(got.Value) != string(want.Value) {
			t.Errorf("Get %d after DeleteStale = %q, %v; want %q", i+1, got.Value, err, want.Value)
		}
	}
	if n, err := c.CountDocuments(ctx, bson.D{{Key: "fn", Value: "ttl.Other"}}); err != nil || n != 1 {
		t.Errorf("DeleteStale of %s touched another function: %d documents left (%v), want 1", fn, n, err)
	}
}

// TestListerSkipsExpired: an expired entry not yet removed is not listed,
// as Get does not serve it.
func TestListerSkipsExpired(t *testing.T) {
	client := connect(t)
	st, _ := newStore(t, client)
	ctx := ctxT(t)
	const fn = "ttl.L"
	now := time.Now().Truncate(time.Millisecond)
	for i, e := range []store.Entry{
		{Value: []byte("expired"), Time: now.Add(-time.Hour), Expires: now.Add(-time.Second)},
		{Value: []byte("live"), Time: now, Expires: now.Add(time.Hour)},
	} {
		if err := st.Set(ctx, fn, listKey(i), e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Functions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkInfos(t, got, []store.FuncInfo{{Function: fn, Entries: 1, Bytes: 4, Oldest: now, Newest: now}})
	var keys []string
	err = st.Entries(ctx, fn, func(e store.EntryInfo) error { keys = append(keys, e.Key); return nil })
	if err != nil || len(keys) != 1 || keys[0] != listKey(1) {
		t.Errorf("Entries = %v, %v; want only %s", keys, err, listKey(1))
	}
}
