package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
	"github.com/cachier-go/cachier/store/storetest"
)

const (
	defaultPGDSN    = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultMySQLDSN = "root@tcp(127.0.0.1:3306)/test"
)

func pgDSN() string    { return testenv.Getenv("CACHIER_TEST_PG_DSN", defaultPGDSN) }
func mysqlDSN() string { return testenv.Getenv("CACHIER_TEST_MYSQL_DSN", defaultMySQLDSN) }

// A database is one of the three the store is tested on.
type database struct {
	name string
	open func(t testing.TB) *sqlx.DB
}

var databases = []database{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
	{"mysql", openMySQL},
}

// openSQLite opens a new SQLite file in the test's temporary directory.
func openSQLite(t testing.TB) *sqlx.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := sqlx.Open("sqlite3", "file:"+path+"?_busy_timeout=10000&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t testing.TB) *sqlx.DB {
	t.Helper()
	return openServer(t, "PostgreSQL", "pgx", pgDSN())
}

func openMySQL(t testing.TB) *sqlx.DB {
	t.Helper()
	return openServer(t, "MySQL/MariaDB", "mysql", mysqlDSN())
}

// openServer opens driver's dsn and pings it, skipping (or failing, under
// CACHIER_REQUIRE_SERVICES=1) when the server does not answer.
func openServer(t testing.TB, service, driver, dsn string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Unavailable(t, service, dsn, err)
	}
	return db
}

// freshTable returns a table name unique to this run, dropped at the end of
// the test, so that runs sharing a server do not meet.
func freshTable(t testing.TB, db *sqlx.DB) string {
	t.Helper()
	name := uniqueTable(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return name
}

// uniqueTable returns a table name unique to this run.
func uniqueTable(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "cachier_test_" + hex.EncodeToString(b[:])
}

// newStore opens a store on a fresh table of db.
func newStore(t testing.TB, db *sqlx.DB, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.New(db, append([]sqlstore.Option{sqlstore.WithTable(freshTable(t, db))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func forEachDB(t *testing.T, f func(t *testing.T, db *sqlx.DB)) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { f(t, d.open(t)) })
	}
}

func TestConformance(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		for _, prepared := range []bool{true, false} {
			t.Run(fmt.Sprintf("prepared=%v", prepared), func(t *testing.T) {
				// One table; the cases use identities of their own.
				st := newStore(t, db, sqlstore.WithPrepared(prepared))
				storetest.Run(t, func(t *testing.T) store.Store { return st })
			})
		}
	})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestNewRejects(t *testing.T) {
	db := openSQLite(t)
	for _, tc := range []struct {
		name string
		db   *sqlx.DB
		opts []sqlstore.Option
		want string
	}{
		{"nil db", nil, nil, "nil *sqlx.DB"},
		{"driver", sqlx.NewDb(db.DB, "oracle"), nil, `unsupported driver "oracle"`},
		{"table", db, []sqlstore.Option{sqlstore.WithTable("x; DROP TABLE y")}, "not a plain SQL identifier"},
		{"schema table", db, []sqlstore.Option{sqlstore.WithTable("public.cache")}, "not a plain SQL identifier"},
		{"timeout", db, []sqlstore.Option{sqlstore.WithTimeout(0)}, "not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlstore.New(tc.db, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want an error containing %q", st, err, tc.want)
			}
		})
	}
}

// TestNewTwice: a second store on an existing table (another process
// starting, a restart) uses it as it is, entries included.
func TestNewTwice(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		a := newStore(t, db)
		e := store.Entry{Value: []byte("kept"), Time: time.Now().Truncate(time.Millisecond)}
		if err := a.Set(ctx(t), "f", strings.Repeat("a", 32), e); err != nil {
			t.Fatal(err)
		}
		b, err := sqlstore.New(db, sqlstore.WithTable(a.Table()))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		got, err := b.Get(ctx(t), "f", strings.Repeat("a", 32))
		if err != nil || string(got.Value) != "kept" || !got.Time.Equal(e.Time) {
			t.Fatalf("Get through a second store = %q %v, %v", got.Value, got.Time, err)
		}
	})
}

// TestLongNames: function identities have no length bound (the primary key
// holds their hash); keys are bounded by MaxKeyLen, and a longer one is an
// error, not a truncation that could merge two keys.
func TestLongNames(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		st := newStore(t, db)
		long := strings.Repeat("ü", 20000) // 40000 bytes
		for i, fn := range []string{long, long + "x"} {
			if err := st.Set(ctx(t), fn, "k", store.Entry{Value: []byte{byte(i)}, Time: time.Now()}); err != nil {
				t.Fatalf("Set with a %d-byte identity: %v", len(fn), err)
			}
		}
		for i, fn := range []string{long, long + "x"} {
			got, err := st.Get(ctx(t), fn, "k")
			if err != nil || !bytes.Equal(got.Value, []byte{byte(i)}) {
				t.Fatalf("Get with a %d-byte identity = %v, %v", len(fn), got.Value, err)
			}
		}

		k := strings.Repeat("f", sqlstore.MaxKeyLen)
		if err := st.Set(ctx(t), "f", k, store.Entry{Value: []byte("x"), Time: time.Now()}); err != nil {
			t.Fatalf("Set with a %d-byte key: %v", len(k), err)
		}
		if _, err := st.Get(ctx(t), "f", k); err != nil {
			t.Fatalf("Get with a %d-byte key: %v", len(k), err)
		}
		if err := st.Set(ctx(t), "f", k+"f", store.Entry{Value: []byte("x"), Time: time.Now()}); err == nil {
			t.Fatalf("Set with a %d-byte key succeeded, want an error", len(k)+1)
		}
		if _, err := st.Mark(ctx(t), "f", k+"f", "o", time.Minute); err == nil {
			t.Fatalf("Mark with a %d-byte key succeeded, want an error", len(k)+1)
		}
	})
}

// TestKeysByteExact: keys that MySQL's default collations would merge
// (case, trailing spaces) stay apart.
func TestKeysByteExact(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		st := newStore(t, db)
		keys := []string{"abcdef", "ABCDEF", "abcdef ", "abcdéf"}
		for i, k := range keys {
			if err := st.Set(ctx(t), "f", k, store.Entry{Value: []byte{byte(i)}, Time: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		for i, k := range keys {
			got, err := st.Get(ctx(t), "f", k)
			if err != nil || !bytes.Equal(got.Value, []byte{byte(i)}) {
				t.Errorf("Get(%q) = %v, %v; want [%d]", k, got.Value, err, i)
			}
		}
		// Owners too.
		if ok, err := st.Mark(ctx(t), "f", "m", "owner", time.Minute); !ok || err != nil {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		if ok, err := st.Mark(ctx(t), "f", "m", "OWNER", time.Minute); ok || err != nil {
			t.Fatalf("Mark by OWNER over owner's mark = %v, %v; want false", ok, err)
		}
	})
}

// TestDeleteStaleKeepsLiveMark: an old entry being recomputed is deleted
// as an entry, but its mark stays, so that waiters keep waiting.
func TestDeleteStaleKeepsLiveMark(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		st := newStore(t, db)
		old := time.Now().Add(-time.Hour)
		for _, k := range []string{"a", "b"} {
			if err := st.Set(ctx(t), "f", k, store.Entry{Value: []byte(k), Time: old}); err != nil {
				t.Fatal(err)
			}
		}
		if ok, err := st.Mark(ctx(t), "f", "a", "worker", time.Minute); !ok || err != nil {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		if err := st.DeleteStale(ctx(t), "f", time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "b"} {
			if _, err := st.Get(ctx(t), "f", k); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%s) after DeleteStale: %v, want ErrNotFound", k, err)
			}
		}
		if ok, err := st.Mark(ctx(t), "f", "a", "other", time.Minute); ok || err != nil {
			t.Fatalf("Mark by another owner after DeleteStale = %v, %v; want the mark kept", ok, err)
		}
		if err := st.Set(ctx(t), "f", "a", store.Entry{Value: []byte("new"), Time: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Get(ctx(t), "f", "a"); err != nil || string(got.Value) != "new" {
			t.Fatalf("Get after Set = %q, %v", got.Value, err)
		}
	})
}

// TestMarkTTLFromDatabaseClock checks that a mark's expiry is written in the
// database's time: a mark with a ttl of an hour is not taken over, while
// one with a ttl of zero is expired at once.
func TestMarkZeroTTL(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *sqlx.DB) {
		st := newStore(t, db)
		if ok, err := st.Mark(ctx(t), "f", "k", "a", 0); !ok || err != nil {
			t.Fatalf("Mark = %v, %v", ok, err)
		}
		if ok, err := st.Mark(ctx(t), "f", "k", "b", time.Hour); !ok || err != nil {
			t.Fatalf("Mark over a zero-ttl mark = %v, %v; want it expired", ok, err)
		}
		if ok, err := st.Mark(ctx(t), "f", "k", "a", time.Hour); ok || err != nil {
			t.Fatalf("Mark over an hour-long mark = %v, %v; want false", ok, err)
		}
	})
}

// fnHash is the store's primary-key form of a function identity, for the
// raw queries of the benchmarks.
func fnHash(fn string) string {
	h := sha256.Sum256([]byte(fn))
	return hex.EncodeToString(h[:])
}

// BenchmarkGet compares a hit through the store with a raw sqlx Get of the
// same row by primary key (unprepared, as sqlx is mostly used, and
// prepared once), on each database: compare with `benchstat -col /impl`.
func BenchmarkGet(b *testing.B) {
	const fn, key = "github.com/cachier-go/cachier/store/sqlstore_test.Bench.Get#0123456789abcdef", "0123456789abcdef0123456789abcdef"
	value := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	for _, d := range databases {
		b.Run("db="+d.name, func(b *testing.B) {
			db := d.open(b)
			st := newStore(b, db)
			c := context.Background()
			if err := st.Set(c, fn, key, store.Entry{Value: value, Time: time.Now()}); err != nil {
				b.Fatal(err)
			}
			b.Run("impl=raw", func(b *testing.B) {
				q := db.Rebind("SELECT value, timestamp_us FROM " + st.Table() + " WHERE function_hash = ? AND cache_key = ?")
				h := fnHash(fn)
				var row struct {
					Value []byte `db:"value"`
					TS    int64  `db:"timestamp_us"`
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := db.GetContext(c, &row, q, h, key); err != nil {
						b.Fatal(err)
					}
				}
				if !bytes.Equal(row.Value, value) {
					b.Fatal("raw Get read a different value")
				}
			})
			// The same query prepared once, as the store does: what the
			// store adds over the best a caller could write by hand.
			b.Run("impl=rawprep", func(b *testing.B) {
				stmt, err := db.Preparex(db.Rebind("SELECT value, timestamp_us FROM " + st.Table() + " WHERE function_hash = ? AND cache_key = ?"))
				if err != nil {
					b.Fatal(err)
				}
				defer stmt.Close()
				h := fnHash(fn)
				var row struct {
					Value []byte `db:"value"`
					TS    int64  `db:"timestamp_us"`
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := stmt.GetContext(c, &row, h, key); err != nil {
						b.Fatal(err)
					}
				}
				if !bytes.Equal(row.Value, value) {
					b.Fatal("prepared raw Get read a different value")
				}
			})
			// The prepared query under a per-call timeout, as the store runs
			// every call: a cancellable context costs database/sql and the
			// drivers a goroutine or two per query.
			b.Run("impl=rawprepctx", func(b *testing.B) {
				stmt, err := db.Preparex(db.Rebind("SELECT value, timestamp_us FROM " + st.Table() + " WHERE function_hash = ? AND cache_key = ?"))
				if err != nil {
					b.Fatal(err)
				}
				defer stmt.Close()
				h := fnHash(fn)
				var row struct {
					Value []byte `db:"value"`
					TS    int64  `db:"timestamp_us"`
				}
				b.ReportAllocs()
				for b.Loop() {
					tc, cancel := context.WithTimeout(c, sqlstore.DefaultTimeout)
					err := stmt.GetContext(tc, &row, h, key)
					cancel()
					if err != nil {
						b.Fatal(err)
					}
				}
				if !bytes.Equal(row.Value, value) {
					b.Fatal("prepared raw Get read a different value")
				}
			})
			b.Run("impl=store", func(b *testing.B) {
				var e store.Entry
				var err error
				b.ReportAllocs()
				for b.Loop() {
					if e, err = st.Get(c, fn, key); err != nil {
						b.Fatal(err)
					}
				}
				if !bytes.Equal(e.Value, value) {
					b.Fatal("store Get read a different value")
				}
			})
		})
	}
}

// BenchmarkGetPaired times a store hit, a raw sqlx Get and a prepared raw
// Get of the same row in turn within one loop, rotating their order, so that
// load from elsewhere on a busy shared machine falls on all three alike (the
// sub-benchmarks of BenchmarkGet run one after another and drift apart by
// more than the differences measured). It reports each one's ns/get and the
// ratios store/raw and store/rawprep; ns/op is the time of one round of
// three.
func BenchmarkGetPaired(b *testing.B) {
	const fn, key = "github.com/cachier-go/cachier/store/sqlstore_test.Bench.Get#0123456789abcdef", "0123456789abcdef0123456789abcdef"
	value := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
	for _, d := range databases {
		b.Run("db="+d.name, func(b *testing.B) {
			db := d.open(b)
			st := newStore(b, db)
			c := context.Background()
			if err := st.Set(c, fn, key, store.Entry{Value: value, Time: time.Now()}); err != nil {
				b.Fatal(err)
			}
			q := db.Rebind("SELECT value, timestamp_us FROM " + st.Table() + " WHERE function_hash = ? AND cache_key = ?")
			stmt, err := db.Preparex(q)
			if err != nil {
				b.Fatal(err)
			}
			defer stmt.Close()
			h := fnHash(fn)
			type row struct {
				Value []byte `db:"value"`
				TS    int64  `db:"timestamp_us"`
			}
			ops := [3]func(){
				func() {
					if e, err := st.Get(c, fn, key); err != nil || len(e.Value) != len(value) {
						b.Fatal(len(e.Value), err)
					}
				},
				func() {
					var r row
					if err := db.GetContext(c, &r, q, h, key); err != nil || len(r.Value) != len(value) {
						b.Fatal(len(r.Value), err)
					}
				},
				func() {
					var r row
					if err := stmt.GetContext(c, &r, h, key); err != nil || len(r.Value) != len(value) {
						b.Fatal(len(r.Value), err)
					}
				},
			}
			took, n := testenv.Paired(b, ops[:]...)
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "store-ns/get")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(n), "raw-ns/get")
			b.ReportMetric(float64(took[2].Nanoseconds())/float64(n), "rawprep-ns/get")
			b.ReportMetric(float64(took[0])/float64(took[1]), "store/raw")
			b.ReportMetric(float64(took[0])/float64(took[2]), "store/rawprep")
		})
	}
}

// TestMySQLClientFoundRows: with clientFoundRows=true in the DSN, MySQL
// counts matched rows instead of changed ones; Mark must read its result
// the same either way.
func TestMySQLClientFoundRows(t *testing.T) {
	cfg, err := mysql.ParseDSN(mysqlDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientFoundRows = true
	db := openServer(t, "MySQL/MariaDB", "mysql", cfg.FormatDSN())
	st := newStore(t, db)
	storetest.Run(t, func(t *testing.T) store.Store { return st })
}

// TestSQLiteMemory: an in-memory SQLite database works as documented, with
// one pooled connection.
func TestSQLiteMemory(t *testing.T) {
	db, err := sqlx.Open("sqlite3", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	st, err := sqlstore.New(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	storetest.Run(t, func(t *testing.T) store.Store { return st })
}
