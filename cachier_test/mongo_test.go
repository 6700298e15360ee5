package cachier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/mongostore"
)

func init() {
	backends["mongo"] = backendDef{open: openMongo, crossProcess: true}
}

const (
	mongoTestDB       = "cachier_test"
	mongoRegistry     = "dec_registry" // collection name -> when first opened
	mongoCollPrefix   = "dec_"
	mongoSweepMaxAge  = time.Hour
	mongoOpenDeadline = 10 * time.Second
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
