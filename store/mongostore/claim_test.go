package mongostore_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/mongostore"
)

// childCollVar names, in a child process of
// TestDeadTakeoverBlocksOneMarkTTL, the collection to mark a key in.
const childCollVar = "CACHIER_MONGO_DEAD_TAKEOVER_COLL"

const deadFn, deadKey = "dead.F", "0123456789abcdef0123456789abcdef"

// TestDeadTakeoverBlocksOneMarkTTL: a process killed (SIGKILL) in the middle
// of taking over a key's mark, after inserting its claim and before marking
// the key, leaves its claim document behind. That claim must block the key
// for no longer than the mark's ttl (here 1s), not for a fixed 30 seconds:
// the claim carries the expiry the mark would have had, and once it is past
// the next Mark wins at its first attempt.
func TestDeadTakeoverBlocksOneMarkTTL(t *testing.T) {
	if os.Getenv(childCollVar) != "" {
		t.Skip("child process entry point")
	}
	client := connect(t)
	st, c := newStore(t, client)
	ctx := ctxT(t)
	want := store.Entry{Value: []byte("kept"), Time: time.Now().Truncate(time.Millisecond)}
	if err := st.Set(ctx, deadFn, deadKey, want); err != nil {
		t.Fatal(err)
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestDeadTakeoverChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childCollVar+"="+c.Name(),
		uriVar+"="+testenv.Getenv(uriVar, defaultURI))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v, want it killed; output:\n%s", err, out)
	}
	if !killed(exit) {
		t.Fatalf("child ended with %v, want SIGKILL; output:\n%s", exit, out)
	}

	// The claim as the dead process left it.
	var claims []bson.M
	cur, err := c.Find(ctx, bson.D{{Key: "fn", Value: deadFn}, {Key: "key", Value: bson.D{{Key: "$ne", Value: deadKey}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(ctx, &claims); err != nil {
		t.Fatal(err)
	}
	if len(claims) != 1 {
		t.Fatalf("the dead takeover left %d claim documents, want 1: %v", len(claims), claims)
	}
	claimed, ok := claims[0]["claimed"].(bson.DateTime)
	if !ok {
		t.Fatalf("claim document %v: no date claimed", claims[0])
	}
	// The store must free the key one mark ttl after the claim at most.
	until := claimed.Time().Add(deadTTL)
	if expires, ok := claims[0]["expires"].(bson.DateTime); !ok {
		t.Errorf("claim document %v: no expiry", claims[0])
	} else if life := expires.Time().Sub(claimed.Time()); life <= 0 || life > deadTTL {
		t.Errorf("the dead claim lives %v, want at most the mark's ttl %v", life, deadTTL)
	} else {
		until = expires.Time()
	}

	// Past that (judged by this process's clock, as the store judges it),
	// the first Mark of another owner wins.
	time.Sleep(time.Until(until) + 10*time.Millisecond)
	// next's own mark lasts long enough that no load can let it lapse
	// before the third owner tries.
	if ok, err := st.Mark(ctx, deadFn, deadKey, "next", time.Minute); err != nil || !ok {
		t.Fatalf("Mark after the dead claim's expiry = %v, %v; want true at once", ok, err)
	}
	if ok, err := st.Mark(ctx, deadFn, deadKey, "third", deadTTL); err != nil || ok {
		t.Fatalf("a third owner's Mark = %v, %v; want false (the key is next's)", ok, err)
	}
	if got, err := st.Get(ctx, deadFn, deadKey); err != nil || string(got.Value) != string(want.Value) {
		t.Fatalf("Get after the takeovers = %q, %v; want the entry %q", got.Value, err, want.Value)
	}
}

// deadTTL is the mark ttl of the dead takeover: the tag's mark_ttl=1s.
const deadTTL = time.Second

// TestDeadTakeoverChild is the process TestDeadTakeoverBlocksOneMarkTTL
// kills: it marks the key and dies, by SIGKILL, right after its claim.
func TestDeadTakeoverChild(t *testing.T) {
	name := os.Getenv(childCollVar)
	if name == "" {
		t.Skip("child process entry point of TestDeadTakeoverBlocksOneMarkTTL")
	}
	client := connect(t)
	c := client.Database(testDB).Collection(name)
	st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return c, nil })
	mongostore.SetAfterClaimHook(func() {
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Kill() // SIGKILL: nothing after the claim runs
		select {}
	})
	ok, err := st.Mark(context.Background(), deadFn, deadKey, "dying", deadTTL)
	t.Fatalf("Mark returned (%v, %v): the hook did not run", ok, err)
}
