package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachier-go/cachier/store"
)

// Delete is one statement on the server, entry or not: counted by MariaDB's
// per-session Questions, on a pool of one connection that the store and the
// count share.
func TestDeleteOneRoundTrip(t *testing.T) {
	db := openMySQL(t)
	db.SetMaxOpenConns(1)
	st := newStore(t, db)
	ctx := context.Background()
	questions := func() int64 {
		var name string
		var n int64
		if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const fn, key = "f", "00000000000000000000000000000001"
	if err := st.Set(ctx, fn, key, store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
		t.Fatal(err) // also creates the table and prepares the statements
	}
	// The count itself is one question: calibrate.
	base := questions()
	perCount := questions() - base
	for _, name := range []string{"Delete", "Delete of an absent key"} {
		before := questions()
		if err := st.Delete(ctx, fn, key); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := questions() - before - perCount; n != 1 {
			t.Errorf("%s took %d statements, want 1", name, n)
		}
	}
	before := questions()
	if _, err := st.Get(ctx, fn, key); err == nil {
		t.Fatal("Get after Delete found the entry")
	}
	if n := questions() - before - perCount; n != 1 {
		t.Errorf("Get took %d statements, want 1 (the count is off)", n)
	}
}
