package mongostore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

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
