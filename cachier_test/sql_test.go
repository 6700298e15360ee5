package cachier_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
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
