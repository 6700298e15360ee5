package sqlstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store/sqlstore"
)

// An SQLite database file as the store: embedded, nothing to start. The
// caller imports the driver (here _ "github.com/mattn/go-sqlite3"), opens
// the database and closes it.
func Example() {
	dir, err := os.MkdirTemp("", "cachier-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sqlx.Open("sqlite3", "file:"+filepath.Join(dir, "cache.db")+"?_busy_timeout=10000&_journal_mode=WAL")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	st, err := sqlstore.New(db)
	if err != nil {
		log.Fatal(err)
	}
	defaults.Register("sql", st) // then `cachier:"backend=sql"`

	type Service struct {
		Square func(ctx context.Context, x int) (int, error) `cachier:"backend=sql,stale_after=1h"`
	}
	calls := 0
	svc := Service{Square: func(_ context.Context, x int) (int, error) { calls++; return x * x, nil }}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	a, _ := svc.Square(ctx, 12) // computed
	b, _ := svc.Square(ctx, 12) // from the table
	fmt.Println(a, b, "calls:", calls)
	// Output: 144 144 calls: 1
}

// PostgreSQL as the store (MySQL and MariaDB go the same way, with the
// driver github.com/go-sql-driver/mysql): one table, shared by every
// process that opens the same database. The caller imports the driver (here
// _ "github.com/jackc/pgx/v5/stdlib"). TestExamplePostgres runs it against
// the server `make services` starts.
func Example_postgres() {
	db, err := sqlx.Open("pgx", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// A table of this process's own, so that runs of this example never
	// share a cache (an application keeps the default, cachier_cache).
	table := fmt.Sprintf("cachier_example_%d", os.Getpid())
	st, err := sqlstore.New(db, sqlstore.WithTable(table))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	defaults.Register("postgres", st) // then `cachier:"backend=postgres"`

	type Service struct {
		Cube func(ctx context.Context, x int) (int, error) `cachier:"backend=postgres,stale_after=1h"`
	}
	calls := 0
	svc := Service{Cube: func(_ context.Context, x int) (int, error) { calls++; return x * x * x, nil }}
	if err := cachier.Decorate(&svc); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	a, _ := svc.Cube(ctx, 5) // computed
	b, _ := svc.Cube(ctx, 5) // from the table
	fmt.Println(a, b, "calls:", calls)
}

// TestExamplePostgres runs Example_postgres against the PostgreSQL server at
// the example's address (the tests' default), where one answers.
func TestExamplePostgres(t *testing.T) {
	if dsn := pgDSN(); dsn != defaultPGDSN {
		t.Skipf("CACHIER_TEST_PG_DSN=%s: the example uses the default server %s", dsn, defaultPGDSN)
	}
	openPostgres(t) // skips (or fails, under CACHIER_REQUIRE_SERVICES=1) when it does not answer
	testenv.RunExample(t, Example_postgres, "125 125 calls: 1")
}
