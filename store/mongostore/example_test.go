package mongostore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/mongostore"
)

// MongoDB as the store, shared by every process and machine that reaches
// the server. The caller connects the client and disconnects it; the store
// takes a getter of the collection (cachier's "mongetter"), called on first
// use, so nothing here needs the server before the first call. TestExample
// runs it against the server `make services` starts (FerretDB where no
// mongod answers).
func Example() {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:27017"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	// A collection of this process's own, dropped at the end, so that runs
	// of this example never share a cache (an application keeps one).
	coll := client.Database("cachier_test").Collection(fmt.Sprintf("example_%d", os.Getpid()))
	defer coll.Drop(context.Background())

	st := mongostore.New(func(ctx context.Context) (*mongo.Collection, error) { return coll, nil })
	defaults.Register("mongo", st) // then `cachier:"backend=mongo"`

	type Service struct {
		Square func(ctx context.Context, x int) (int, error) `cachier:"backend=mongo,stale_after=1h"`
	}
	calls := 0
	svc := Service{Square: func(_ context.Context, x int) (int, error) { calls++; return x * x, nil }}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	a, _ := svc.Square(ctx, 12) // computed
	b, _ := svc.Square(ctx, 12) // from MongoDB
	fmt.Println(a, b, "calls:", calls)
}

// TestExample runs Example against the server at the example's address (the
// tests' default), where one answers.
func TestExample(t *testing.T) {
	if uri := testenv.Getenv(uriVar, defaultURI); uri != defaultURI {
		t.Skipf("%s=%s: the example uses the default server %s", uriVar, uri, defaultURI)
	}
	connect(t) // skips (or fails, under CACHIER_REQUIRE_SERVICES=1) when it does not answer
	testenv.RunExample(t, Example, "144 144 calls: 1")
}
