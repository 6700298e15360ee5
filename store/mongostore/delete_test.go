package mongostore_test

import (
	"context"
	"errors"
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
)

// Delete is one command to the server, whether the key has an entry or not.
func TestDeleteOneRoundTrip(t *testing.T) {
	connect(t) // skips or fails when the server is absent
	var n atomic.Int64
	uri := testenv.Getenv(uriVar, defaultURI)
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second).
		SetMonitor(&event.CommandMonitor{Started: func(context.Context, *event.CommandStartedEvent) { n.Add(1) }}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	s, _ := newStore(t, client)
	ctx := context.Background()
	const fn, key = "f", "00000000000000000000000000000001"
	if err := s.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err) // also gets the collection and makes its indexes
	}
	for _, name := range []string{"Delete", "Delete of an absent key"} {
		before := n.Load()
		if err := s.Delete(ctx, fn, key); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := n.Load() - before; got != 1 {
			t.Errorf("%s took %d commands, want 1", name, got)
		}
	}
}

// An expire_at that is not a date was not written by this store: the
// document is a miss, not an entry that never expires.
func TestExpireAtNotADateIsAMiss(t *testing.T) {
	client := connect(t)
	st, c := newStore(t, client)
	ctx := context.Background()
	const fn, key = "foreign.X", "0123456789abcdef0123456789abcdef"
	if err := st.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	id := strconv.Itoa(len(key)) + ":" + key + ":" + fn
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expire_at", Value: "tomorrow"}}}}); err != nil {
		t.Fatal(err)
	}
	if e, err := st.Get(ctx, fn, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get with expire_at a string = %q (expires %v), %v; want ErrNotFound", e.Value, e.Expires, err)
	}
}
