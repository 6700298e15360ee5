package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
)

// tableExists asks the database's catalog whether table is there.
func tableExists(t *testing.T, db *sqlx.DB, table string) bool {
	t.Helper()
	var q string
	switch db.DriverName() {
	case "sqlite3":
		q = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	case "pgx":
		q = `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	case "mysql":
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`
	default:
		t.Fatalf("no catalog query for %s", db.DriverName())
	}
	var n int
	if err := db.GetContext(ctx(t), &n, q, table); err != nil {
		t.Fatalf("looking %s up in the catalog: %v", table, err)
	}
	return n > 0
}

// Listing is read-only: on a table that does not exist (a program that
// wrote nothing yet, an operator's mistyped -table) Functions and Entries
// list nothing and create nothing; the first write still creates it.
func TestListerCreatesNoTable(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		table := freshTable(t, db)
		st, err := sqlstore.New(db, sqlstore.WithTable(table))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		exists, err := st.TableExists(ctx(t))
		if err != nil || exists {
			t.Fatalf("TableExists before any use = %v, %v; want false, nil", exists, err)
		}
		fis, err := st.Functions(ctx(t))
		if err != nil || len(fis) != 0 {
			t.Errorf("Functions on a missing table = %+v, %v; want none, nil", fis, err)
		}
		err = st.Entries(ctx(t), "f", func(e store.EntryInfo) error {
			return fmt.Errorf("yielded %+v", e)
		})
		if err != nil {
			t.Errorf("Entries on a missing table: %v; want none, nil", err)
		}
		if tableExists(t, db, table) {
			t.Fatalf("listing created table %s", table)
		}

		if err := st.Set(ctx(t), "f", "00000000000000000000000000000001", store.Entry{Value: []byte("v"), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if !tableExists(t, db, table) {
			t.Fatalf("Set did not create table %s", table)
		}
		if exists, err := st.TableExists(ctx(t)); err != nil || !exists {
			t.Errorf("TableExists after a Set = %v, %v; want true, nil", exists, err)
		}
		if fis, err := st.Functions(ctx(t)); err != nil || len(fis) != 1 || fis[0].Entries != 1 {
			t.Errorf("Functions after a Set = %+v, %v; want f with 1 entry", fis, err)
		}
	})
}

// Listing a table of the release before expires_us reads it as it is:
// its rows are listed, and the table is not altered (an operator's
// read-only account may not).
func TestListerReadsOldTableUnaltered(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		table := freshTable(t, db)
		if _, err := db.ExecContext(ctx(t), fmt.Sprintf(oldLayout[db.DriverName()], table)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx(t), db.Rebind(`INSERT INTO `+table+
			` (function_hash, cache_key, function_id, value, timestamp_us, completed) VALUES (?, ?, ?, ?, ?, TRUE)`),
			fnHash("f"), "00000000000000000000000000000001", "f", []byte("old"), time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
		st, err := sqlstore.New(db, sqlstore.WithTable(table))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fis, err := st.Functions(ctx(t))
		if err != nil || len(fis) != 1 || fis[0].Function != "f" || fis[0].Entries != 1 || fis[0].Bytes != 3 {
			t.Errorf("Functions = %+v, %v; want f with 1 entry of 3 bytes", fis, err)
		}
		var n int
		if err := st.Entries(ctx(t), "f", func(store.EntryInfo) error { n++; return nil }); err != nil || n != 1 {
			t.Errorf("Entries = %d, %v; want 1", n, err)
		}
		rows, err := db.QueryContext(ctx(t), "SELECT expires_us FROM "+table+" WHERE 1 = 0")
		if err == nil {
			rows.Close()
			t.Errorf("listing added the expires_us column to %s", table)
		}
	})
}
