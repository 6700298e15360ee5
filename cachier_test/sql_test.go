package cachier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
)

func init() {
	backends["sql-sqlite"] = backendDef{open: openSQLSQLite, crossProcess: true}
	backends["sql-postgres"] = backendDef{open: openSQLPostgres, crossProcess: true}
	backends["sql-mysql"] = backendDef{open: openSQLMySQL, crossProcess: true}
}

// openSQLSQLite opens the sql backend on an SQLite file in dir, which every
// process of a race shares. WAL lets readers go on while one process
// writes; the busy timeout makes writers queue instead of failing.
func openSQLSQLite(t *testing.T, dir string) backend {
	t.Helper()
	dsn := "file:" + filepath.Join(dir, "cachier-sql.db") + "?_busy_timeout=10000&_journal_mode=WAL"
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		t.Fatal(err)
	}
	return sqlBackend(t, db, sqlstore.DefaultTable)
}

func openSQLPostgres(t *testing.T, dir string) backend {
	t.Helper()
	dsn := testenv.Getenv("CACHIER_TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	return sqlServerBackend(t, dir, "PostgreSQL", "pgx", dsn)
}

func openSQLMySQL(t *testing.T, dir string) backend {
	t.Helper()
	dsn := testenv.Getenv("CACHIER_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")
	return sqlServerBackend(t, dir, "MySQL/MariaDB", "mysql", dsn)
}

// sqlServerBackend opens the sql backend on a database server, in a table
// named after dir: the processes of one race share it, and no other test
// or concurrent run meets it.
//
// The table is not dropped when the test ends, since other processes of a
// race may still be using it; instead each open drops the tables of this
// kind that earlier runs left, once they are an hour old (sweepSQLTables).
func sqlServerBackend(t *testing.T, dir, service, driver, dsn string) backend {
	t.Helper()
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		testenv.Unavailable(t, service, dsn, err)
	}
	h := sha256.Sum256([]byte(dir))
	table := "cachier_ct_" + hex.EncodeToString(h[:8])
	sweepSQLTables(t, db, table)
	return sqlBackend(t, db, table)
}

// sqlBackend makes the store on db and table and registers the cleanup.
func sqlBackend(t *testing.T, db *sqlx.DB, table string) backend {
	t.Helper()
	st, err := sqlstore.New(db, sqlstore.WithTable(table))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		st.Close()
		db.Close()
	})
	return backend{
		tag:  "backend=sql",
		opts: []cachier.Option{cachier.WithStore("sql", st)},
	}
}

// sweepSQLTables records table in the registry of the tables the scenarios
// make on a shared server (cachier_ct_tables), and drops those registered
// more than an hour ago.
func sweepSQLTables(t *testing.T, db *sqlx.DB, table string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS cachier_ct_tables (
	name       VARCHAR(64) NOT NULL PRIMARY KEY,
	created_us BIGINT      NOT NULL
)`); err != nil {
		t.Logf("sql table registry: %v", err) // a concurrent creation; the next open sweeps
		return
	}
	now := time.Now().UnixMicro()
	var n int
	if err := db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM cachier_ct_tables WHERE name = ?`), table); err == nil && n == 0 {
		// Another process of the race may insert it at the same time: a
		// failed insert is that, and harmless.
		_, _ = db.ExecContext(ctx, db.Rebind(`INSERT INTO cachier_ct_tables (name, created_us) VALUES (?, ?)`), table, now)
	}
	var old []string
	if err := db.SelectContext(ctx, &old, db.Rebind(`SELECT name FROM cachier_ct_tables WHERE created_us < ?`),
		now-time.Hour.Microseconds()); err != nil {
		t.Logf("sql table registry: %v", err)
		return
	}
	for _, name := range old {
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			t.Logf("drop %s: %v", name, err)
			continue
		}
		_, _ = db.ExecContext(ctx, db.Rebind(`DELETE FROM cachier_ct_tables WHERE name = ?`), name)
	}
}

// TestSQLOutage: a function decorated over the sql backend keeps returning
// its own results, within a bound, while the database is closed (SQLite) or
// unreachable (a server behind a proxy that stops answering), logs the
// failure, serves from the cache again once the server is back, and leaves
// no goroutine behind.
func TestSQLOutage(t *testing.T) {
	const opTimeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name, driver, service, dsn string
	}{
		{"sqlite", "sqlite3", "", ""},
		{"postgres", "pgx", "PostgreSQL", testenv.Getenv("CACHIER_TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
		{"mysql", "mysql", "MySQL/MariaDB", testenv.Getenv("CACHIER_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			var (
				db    *sqlx.DB
				proxy *testenv.Proxy
				table = sqlstore.DefaultTable
			)
			if tc.driver == "sqlite3" {
				var err error
				if db, err = sqlx.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "c.db")+"?_busy_timeout=10000&_journal_mode=WAL"); err != nil {
					t.Fatal(err)
				}
			} else {
				direct, err := sqlx.Open(tc.driver, tc.dsn)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err = direct.PingContext(ctx)
				cancel()
				if err != nil {
					direct.Close()
					testenv.Unavailable(t, tc.service, tc.dsn, err)
				}
				h := sha256.Sum256([]byte(t.TempDir()))
				table = "cachier_ct_" + hex.EncodeToString(h[:8])
				sweepSQLTables(t, direct, table)
				direct.Close()
				dsn, addr, err := sqlDSNVia(tc.driver, tc.dsn)
				if err != nil {
					t.Fatal(err)
				}
				proxy = testenv.StartProxy(t, addr)
				if db, err = sqlx.Open(tc.driver, dsn(proxy.Addr())); err != nil {
					t.Fatal(err)
				}
			}
			st, err := sqlstore.New(db, sqlstore.WithTable(table), sqlstore.WithTimeout(opTimeout))
			if err != nil {
				t.Fatal(err)
			}

			logs := testenv.CaptureLogs(t)

			var calls atomic.Int32
			square := func(ctx context.Context, x int) (int, error) {
				calls.Add(1)
				return x * x, nil
			}
			name := "sql.outage.square." + uniq()
			if err := cachier.Decorate(&square, cachier.Tag("backend=sql,name="+name), cachier.WithStore("sql", st)); err != nil {
				t.Fatal(err)
			}
			call := func(x int) (ran bool, took time.Duration) {
				t.Helper()
				n := calls.Load()
				start := time.Now()
				got, err := square(context.Background(), x)
				took = time.Since(start)
				if err != nil || got != x*x {
					t.Fatalf("square(%d) = %d, %v; want %d, nil", x, got, err, x*x)
				}
				return calls.Load() != n, took
			}
			if ran, _ := call(3); !ran {
				t.Fatal("first call did not run the function")
			}
			if ran, _ := call(3); ran {
				t.Fatal("second call ran the function: not cached")
			}

			if proxy != nil {
				proxy.Hang()
			} else {
				db.Close()
			}
			// A call makes a few store operations (look-up, mark, write),
			// each bounded by the store's timeout.
			const bound = 4*opTimeout + 3*time.Second
			for _, x := range []int{3, 4, 3, 4} {
				ran, took := call(x)
				t.Logf("square(%d) during the outage: ran %v, took %v", x, ran, took.Round(time.Millisecond))
				if !ran {
					t.Errorf("square(%d) did not run the function during the outage", x)
				}
				if took > bound {
					t.Errorf("square(%d) took %v during the outage (bound %v)", x, took, bound)
				}
			}
			// A warning naming the function (not the core's exact wording).
			if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, name) {
				t.Errorf("the store failure was not logged; log:\n%s", l)
			}

			if proxy != nil {
				proxy.Restore()
				// The pool drops the connections the outage broke, one per
				// failed call at most; the store answers again within a bound.
				deadline := time.Now().Add(15 * time.Second)
				for {
					_, err := st.Get(context.Background(), "probe", "00000000000000000000000000000000")
					if errors.Is(err, store.ErrNotFound) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("store still failing 15s after the outage: %v", err)
					}
				}
				call(5)
				// The core leaves a store that failed alone until its
				// backoff window ends: caching resumes then.
				servedAgain(t, "square(5)", func() bool { ran, _ := call(5); return ran })
				if ran, _ := call(3); ran {
					t.Error("after the outage, the entry cached before it was not served")
				}
			}

			st.Close()
			db.Close()
			if proxy != nil {
				proxy.Close()
			}
			sqlCheckGoroutines(t, before)
		})
	}
}

// sqlDSNVia returns a function that rewrites dsn to reach its server at
// another address, and the server's own address.
func sqlDSNVia(driver, dsn string) (func(addr string) string, string, error) {
	if driver == "mysql" {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, "", err
		}
		target := cfg.Addr
		return func(addr string) string {
			c := cfg.Clone()
			c.Net, c.Addr = "tcp", addr
			return c.FormatDSN()
		}, target, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, "", err
	}
	target := u.Host
	if u.Port() == "" {
		target = u.Hostname() + ":5432"
	}
	return func(addr string) string {
		v := *u
		v.Host = addr
		return v.String()
	}, target, nil
}

// sqlCheckGoroutines waits, up to a deadline, for the goroutine count to
// fall back to before; goroutines of closed connections end asynchronously.
func sqlCheckGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkSQLHit times a decorated function's cache hit over the sql
// backend and a raw sqlx Get of the row that holds it, in turn within one
// loop (so that load from elsewhere on the machine falls on both alike), on
// SQLite and PostgreSQL. It reports each one's ns/call and the ratio
// hit/raw; the hit includes the core's key hashing and decoding.
func BenchmarkSQLHit(b *testing.B) {
	for _, db := range []struct{ name, driver, dsn string }{
		{"sqlite", "sqlite3", ""},
		{"postgres", "pgx", testenv.Getenv("CACHIER_TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")},
	} {
		b.Run("db="+db.name, func(b *testing.B) {
			dsn := db.dsn
			if db.driver == "sqlite3" {
				dsn = "file:" + filepath.Join(b.TempDir(), "c.db") + "?_busy_timeout=10000&_journal_mode=WAL"
			}
			x, err := sqlx.Open(db.driver, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer x.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = x.PingContext(ctx)
			cancel()
			if err != nil {
				testenv.Unavailable(b, "PostgreSQL", dsn, err)
			}
			h := sha256.Sum256([]byte(b.Name() + uniq()))
			table := "cachier_ct_" + hex.EncodeToString(h[:8])
			defer x.Exec("DROP TABLE IF EXISTS " + table)
			st, err := sqlstore.New(x, sqlstore.WithTable(table))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()

			lookup := benchLookup(b, "backend=sql", cachier.WithStore("sql", st))
			c := context.Background()
			var keys struct {
				FnHash string `db:"function_hash"`
				Key    string `db:"cache_key"`
			}
			if err := x.Get(&keys, "SELECT function_hash, cache_key FROM "+table+" WHERE completed"); err != nil {
				b.Fatal(err)
			}
			q := x.Rebind("SELECT value, timestamp_us FROM " + table + " WHERE function_hash = ? AND cache_key = ?")
			var row struct {
				Value []byte `db:"value"`
				TS    int64  `db:"timestamp_us"`
			}
			ops := [2]func(){
				func() {
					if r, err := lookup(c, 42); err != nil || r.Name != "item-42" {
						b.Fatal(r, err)
					}
				},
				func() {
					if err := x.GetContext(c, &row, q, keys.FnHash, keys.Key); err != nil {
						b.Fatal(err)
					}
				},
			}
			b.ReportAllocs()
			took, n := testenv.Paired(b, ops[:]...)
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "hit-ns/call")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(n), "raw-ns/call")
			b.ReportMetric(float64(took[0])/float64(took[1]), "hit/raw")
		})
	}
}
