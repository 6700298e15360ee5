package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
)

// firstUses runs n concurrent Sets of distinct keys, as the first
// operations of a store, and fails t on any error.
func firstUses(t *testing.T, st *sqlstore.Store, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			errs[i] = st.Set(ctx, "lazy.f", fmt.Sprintf("%032d", i), store.Entry{Value: []byte{byte(i)}, Time: time.Now()})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("first use %d: %v", i, err)
		}
	}
	for i := range n {
		e, err := st.Get(context.Background(), "lazy.f", fmt.Sprintf("%032d", i))
		if err != nil || len(e.Value) != 1 || e.Value[0] != byte(i) {
			t.Errorf("key %d reads back %v, %v", i, e.Value, err)
		}
	}
}

// New never needs the database: with the server unreachable it returns at
// once, every operation fails (fast, with an error, never ErrNotFound)
// while it stays unreachable, and once it answers the table is created on
// first use, once, however many first uses run at the same time.
func TestNewWithDatabaseUnreachable(t *testing.T) {
	for _, tc := range proxied {
		t.Run(tc.name, func(t *testing.T) {
			direct := tc.open(t) // skips when the server is absent
			target, err := serverAddr(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			p := testenv.StartProxy(t, target)
			p.Stop() // connections refused: the database is down
			dsn, err := tc.dsn(p.Addr())
			if err != nil {
				t.Fatal(err)
			}
			db, err := sqlx.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			table := freshTable(t, direct)
			start := time.Now()
			st, err := sqlstore.New(db, sqlstore.WithTable(table), sqlstore.WithTimeout(opTimeout))
			if err != nil {
				t.Fatalf("New with the database down: %v", err)
			}
			defer st.Close()
			if el := time.Since(start); el > slack {
				t.Errorf("New with the database down took %v", el)
			}
			expectFailFast(t, st)

			p.Restore()
			firstUses(t, st, 16)
			expectWorking(t, st)
		})
	}
}

// The same with SQLite: the database file's directory is missing at New,
// and made afterwards.
func TestNewWithSQLiteFileMissing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(dir, "cache.db")+"?_busy_timeout=10000&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := sqlstore.New(db, sqlstore.WithTimeout(opTimeout))
	if err != nil {
		t.Fatalf("New with the database file's directory missing: %v", err)
	}
	defer st.Close()
	if _, err := st.Get(context.Background(), "f", "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get with the database unopenable = %v, want an error", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	firstUses(t, st, 16)
}

// Several programs (here: database handles of their own) using one new
// table for the first time at once all succeed: one creates the table, the
// others find it. On SQLite the database file is new too, as when several
// processes start on an empty cache directory; there the table's creation
// could fail at once with "database is locked" (SQLite does not wait on a
// lock where waiting could deadlock), which made the store fail for those
// programs' first calls (TestProcessRace/sql-sqlite saw it in CI).
func TestFirstUseByManyProgramsAtOnce(t *testing.T) {
	for _, d := range []struct {
		name   string
		rounds int
		opener func(t *testing.T) func(t testing.TB) *sqlx.DB // one per round
	}{
		{"sqlite", 20, func(t *testing.T) func(t testing.TB) *sqlx.DB {
			path := filepath.Join(t.TempDir(), "cache.db")
			return func(t testing.TB) *sqlx.DB {
				db, err := sqlx.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_journal_mode=WAL")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
		}},
		{"postgres", 1, func(*testing.T) func(t testing.TB) *sqlx.DB { return openPostgres }},
		{"mysql", 1, func(*testing.T) func(t testing.TB) *sqlx.DB { return openMySQL }},
	} {
		t.Run(d.name, func(t *testing.T) {
			for range d.rounds {
				firstUseAtOnce(t, d.opener(t))
			}
		})
	}
}

func firstUseAtOnce(t *testing.T, open func(t testing.TB) *sqlx.DB) {
	t.Helper()
	table := freshTable(t, open(t))
	const n = 6
	stores := make([]*sqlstore.Store, n)
	for i := range n {
		st, err := sqlstore.New(open(t), sqlstore.WithTable(table))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = st.Set(context.Background(), "many.f", fmt.Sprintf("%032d", i), store.Entry{Value: []byte{byte(i)}, Time: time.Now()})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("program %d: %v", i, err)
		}
	}
	for i := range n {
		if e, err := stores[0].Get(context.Background(), "many.f", fmt.Sprintf("%032d", i)); err != nil || len(e.Value) != 1 || e.Value[0] != byte(i) {
			t.Fatalf("key %d reads back %v, %v", i, e.Value, err)
		}
	}
}
