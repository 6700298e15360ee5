package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
)

// oldLayout is the table of the release before expires_us, per driver.
var oldLayout = map[string]string{
	"sqlite3": `CREATE TABLE %s (function_hash TEXT NOT NULL, cache_key TEXT NOT NULL, function_id TEXT NOT NULL,
value BLOB, timestamp_us INTEGER NOT NULL DEFAULT 0, stale BOOLEAN NOT NULL DEFAULT FALSE,
processing BOOLEAN NOT NULL DEFAULT FALSE, completed BOOLEAN NOT NULL DEFAULT FALSE, mark_owner TEXT,
mark_expires_us INTEGER, PRIMARY KEY (function_hash, cache_key))`,
	"pgx": `CREATE TABLE %s (function_hash TEXT COLLATE "C" NOT NULL, cache_key TEXT COLLATE "C" NOT NULL,
function_id TEXT NOT NULL, value BYTEA, timestamp_us BIGINT NOT NULL DEFAULT 0, stale BOOLEAN NOT NULL DEFAULT FALSE,
processing BOOLEAN NOT NULL DEFAULT FALSE, completed BOOLEAN NOT NULL DEFAULT FALSE, mark_owner TEXT COLLATE "C",
mark_expires_us BIGINT, PRIMARY KEY (function_hash, cache_key))`,
	"mysql": `CREATE TABLE %s (function_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
cache_key VARBINARY(255) NOT NULL, function_id TEXT CHARACTER SET utf8mb4 NOT NULL, value LONGBLOB,
timestamp_us BIGINT NOT NULL DEFAULT 0, stale BOOLEAN NOT NULL DEFAULT FALSE, processing BOOLEAN NOT NULL DEFAULT FALSE,
completed BOOLEAN NOT NULL DEFAULT FALSE, mark_owner BLOB, mark_expires_us BIGINT,
PRIMARY KEY (function_hash, cache_key)) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4`,
}

// A table made by the release before entry expiry gets its expires_us
// column, even when several stores open it at once, and keeps its rows.
func TestTableWithoutExpiresColumnIsUpgraded(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		table := freshTable(t, db)
		if _, err := db.ExecContext(ctx(t), fmt.Sprintf(oldLayout[db.DriverName()], table)); err != nil {
			t.Fatal(err)
		}
		// A row the old release wrote.
		oldKey := "00000000000000000000000000000002"
		h := sha256.Sum256([]byte("f"))
		if _, err := db.ExecContext(ctx(t), db.Rebind(`INSERT INTO `+table+
			` (function_hash, cache_key, function_id, value, timestamp_us, completed) VALUES (?, ?, ?, ?, ?, TRUE)`),
			hex.EncodeToString(h[:]), oldKey, "f", []byte("old"), time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}

		const n = 4
		var wg sync.WaitGroup
		stores := make([]*sqlstore.Store, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if stores[i], errs[i] = sqlstore.New(db, sqlstore.WithTable(table)); errs[i] != nil {
					return
				}
				// The first use upgrades the table: all at once.
				if _, err := stores[i].Get(context.Background(), "f", oldKey); err != nil {
					errs[i] = err
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("store %d: %v", i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		want := store.Entry{Value: []byte("v"), Time: time.Now().Truncate(time.Millisecond), Expires: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
		if err := stores[0].Set(ctx(t), "f", "00000000000000000000000000000001", want); err != nil {
			t.Fatal(err)
		}
		got, err := stores[n-1].Get(ctx(t), "f", "00000000000000000000000000000001")
		if err != nil {
			t.Fatal(err)
		}
		if !got.Expires.Equal(want.Expires) {
			t.Errorf("Expires = %v, want %v", got.Expires, want.Expires)
		}
		got, err = stores[0].Get(ctx(t), "f", oldKey)
		if err != nil {
			t.Fatalf("the old release's row: %v", err)
		}
		if string(got.Value) != "old" || !got.Expires.IsZero() {
			t.Errorf("the old release's row reads back %q expiring %v, want \"old\" never expiring", got.Value, got.Expires)
		}
	})
}
