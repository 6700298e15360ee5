package sqlstore_test

import (
	"context"
	"errors"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
)

// opTimeout is the store's per-operation timeout in the outage tests, and
// slack what an operation may take beyond it (a loaded 2-core machine,
// the race detector) before the test calls it a hang.
const (
	opTimeout = 500 * time.Millisecond
	slack     = 3 * time.Second
)

// A call is one store operation, for the outage tests to run them all.
type call struct {
	name string
	run  func(ctx context.Context, st *sqlstore.Store) error
}

var calls = []call{
	{"Get", func(ctx context.Context, st *sqlstore.Store) error { _, err := st.Get(ctx, "f", "k"); return err }},
	{"Set", func(ctx context.Context, st *sqlstore.Store) error {
		return st.Set(ctx, "f", "k", store.Entry{Value: []byte("v"), Time: time.Now()})
	}},
	{"Mark", func(ctx context.Context, st *sqlstore.Store) error {
		_, err := st.Mark(ctx, "f", "m", "o", time.Minute)
		return err
	}},
	{"Unmark", func(ctx context.Context, st *sqlstore.Store) error { return st.Unmark(ctx, "f", "m", "o") }},
	{"Clear", func(ctx context.Context, st *sqlstore.Store) error { return st.Clear(ctx, "g") }},
	{"ClearMarks", func(ctx context.Context, st *sqlstore.Store) error { return st.ClearMarks(ctx, "f") }},
	{"DeleteStale", func(ctx context.Context, st *sqlstore.Store) error {
		return st.DeleteStale(ctx, "f", time.Now().Add(-time.Hour))
	}},
}

// expectFailFast runs every call and checks that each returns an error,
// not ErrNotFound, within the store's timeout plus slack.
func expectFailFast(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	for _, c := range calls {
		start := time.Now()
		err := c.run(context.Background(), st)
		el := time.Since(start)
		switch {
		case err == nil:
			t.Errorf("%s during the outage succeeded", c.name)
		case errors.Is(err, store.ErrNotFound):
			t.Errorf("%s during the outage = ErrNotFound, want an error saying the store is unavailable", c.name)
		case !strings.HasPrefix(err.Error(), "cachier: sql"):
			t.Errorf("%s error lacks the store's context: %v", c.name, err)
		}
		if el > opTimeout+slack {
			t.Errorf("%s during the outage took %v, want at most %v", c.name, el, opTimeout+slack)
		}
		t.Logf("%s: %v after %v", c.name, err, el.Round(time.Millisecond))
	}
}

// expectWorking runs every call and checks that each succeeds.
func expectWorking(t *testing.T, st *sqlstore.Store) {
	t.Helper()
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := c.run(ctx, st)
		cancel()
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// checkGoroutines fails t if, after everything the test opened is closed,
// more goroutines are left than were there before it started. Goroutines
// end asynchronously (a closed connection's reader), so it waits for them
// up to a deadline.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left, %d before the test:\n%s", n, before, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOutageClosed: with the database closed under it, every call of the
// store returns an error at once, and nothing is left running.
func TestOutageClosed(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			db := d.open(t)
			table := uniqueTable(t)
			st, err := sqlstore.New(db, sqlstore.WithTable(table), sqlstore.WithTimeout(opTimeout))
			if err != nil {
				t.Fatal(err)
			}
			expectWorking(t, st)
			if _, err := db.Exec("DROP TABLE " + table); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			expectFailFast(t, st)
			st.Close()
			checkGoroutines(t, before)
		})
	}
}

// TestOutageUnreachable puts a TCP proxy between the store and the server
// and then blackholes it: connections stay open but nothing comes back, as
// when a server hangs or a network drops packets. Every call must return an
// error within the store's timeout (plus slack); when the proxy forwards
// again the store works again; and once everything is closed no goroutine
// is left.
func TestOutageUnreachable(t *testing.T) {
	for _, tc := range proxied {
		t.Run(tc.name, func(t *testing.T) {
			testOutageUnreachable(t, tc)
		})
	}
}

// A proxiedDB is a database server the tests reach through a testenv.Proxy.
type proxiedDB struct {
	name    string
	service string
	driver  string
	dsn     func(addr string) (string, error)
	open    func(t testing.TB) *sqlx.DB
}

var proxied = []proxiedDB{
	{"postgres", "PostgreSQL", "pgx", func(addr string) (string, error) {
		u, err := url.Parse(pgDSN())
		if err != nil {
			return "", err
		}
		u.Host = addr
		return u.String(), nil
	}, openPostgres},
	{"mysql", "MySQL/MariaDB", "mysql", func(addr string) (string, error) {
		cfg, err := mysql.ParseDSN(mysqlDSN())
		if err != nil {
			return "", err
		}
		cfg.Net, cfg.Addr = "tcp", addr
		return cfg.FormatDSN(), nil
	}, openMySQL},
}

func testOutageUnreachable(t *testing.T, tc proxiedDB) {
	direct := tc.open(t) // skips when the server is absent; drops the table at the end
	before := runtime.NumGoroutine()
	target, err := serverAddr(tc.name)
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProxy(t, target)
	dsn, err := tc.dsn(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlx.Open(tc.driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.New(db, sqlstore.WithTable(freshTable(t, direct)), sqlstore.WithTimeout(opTimeout))
	if err != nil {
		t.Fatal(err)
	}
	expectWorking(t, st)

	p.Hang()
	expectFailFast(t, st)
	// New never needs the database; a new store's first use, which
	// creates its table, gives up within its timeout.
	st2, err := sqlstore.New(db, sqlstore.WithTable(uniqueTable(t)), sqlstore.WithTimeout(opTimeout))
	if err != nil {
		t.Fatalf("New during the outage: %v", err)
	}
	expectFailFast(t, st2)
	st2.Close()
	// A caller's context shorter than the timeout wins.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	start := time.Now()
	_, err = st.Get(ctx, "f", "k")
	cancel()
	if err == nil || time.Since(start) > 50*time.Millisecond+slack {
		t.Errorf("Get with a 50ms context during the outage = %v after %v", err, time.Since(start))
	}

	p.Restore()
	recoverBy := time.Now().Add(10 * time.Second)
	for {
		// The pool may hand out a connection broken by the outage
		// once per idle connection; it then drops it.
		_, err := st.Get(context.Background(), "f", "k")
		if err == nil || errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(recoverBy) {
			t.Fatalf("store still failing 10s after the outage ended: %v", err)
		}
	}
	expectWorking(t, st)

	st.Close()
	db.Close()
	p.Close()
	checkGoroutines(t, before)
}

// serverAddr is the host:port of the test server of the named database.
func serverAddr(name string) (string, error) {
	if name == "postgres" {
		u, err := url.Parse(pgDSN())
		if err != nil {
			return "", err
		}
		if u.Port() == "" {
			return u.Hostname() + ":5432", nil
		}
		return u.Host, nil
	}
	cfg, err := mysql.ParseDSN(mysqlDSN())
	if err != nil {
		return "", err
	}
	if cfg.Net != "tcp" {
		return "", errors.New("CACHIER_TEST_MYSQL_DSN is not a tcp address")
	}
	return cfg.Addr, nil
}
