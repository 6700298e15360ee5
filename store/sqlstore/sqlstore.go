// Package sqlstore keeps cachier results in an SQL database through
// github.com/jmoiron/sqlx: the "sql" backend. It works on SQLite
// (github.com/mattn/go-sqlite3), PostgreSQL (github.com/jackc/pgx/v5/stdlib)
// and MySQL or MariaDB (github.com/go-sql-driver/mysql). The caller opens the
// database, with the driver of its choice imported, and closes it:
//
//	db, err := sqlx.Open("sqlite3", "file:cache.db?_busy_timeout=10000&_journal_mode=WAL")
//	db, err := sqlx.Open("pgx", "postgres://user@host:5432/db")
//	db, err := sqlx.Open("mysql", "user:password@tcp(host:3306)/db")
//	...
//	st, err := sqlstore.New(db) // the table is created, if missing, on first use
//	defaults.Register("sql", st)
//
// The dialect is taken from db.DriverName(): "sqlite3" (or "sqlite"), "pgx"
// (or "postgres") and "mysql". The package imports no driver itself.
//
// # The table
//
// One table, named by WithTable (default "cachier_cache"), holds every
// function's entries and marks, one row per (function, key):
//
//	function_hash    hex SHA-256 of the function identity  } primary key
//	cache_key        the key                                }
//	function_id      the function identity, in full, for people reading the table
//	value            the encoded result (BLOB, BYTEA, LONGBLOB)
//	timestamp_us     when the result was computed, µs since the Unix epoch
//	stale            always false: freshness is the core's decision, the column is kept for cachier's layout
//	processing       true while a caller holds a being-calculated mark
//	completed        true when value is an entry; a row that is only a mark is not
//	mark_owner       the mark's owner
//	mark_expires_us  when the mark lapses, µs since the Unix epoch, by the database's clock
//	expires_us       the entry's store.Entry.Expires, µs since the Unix epoch; 0 for none
//
// Get reports an entry past its expires_us (by the calling process's clock)
// as store.ErrNotFound; such rows stay until DeleteStale, Delete, Clear or
// an overwrite removes them. A table made before expires_us existed gets the
// column (ALTER TABLE … ADD COLUMN) when the store first uses it.
//
// The primary key holds a fixed-width hash of the function identity rather
// than the identity itself because identities have no length bound while
// index keys do (3072 bytes in InnoDB, about 768 characters of utf8mb4): the
// same layout then works on every database. Keys are limited to 255 bytes,
// which the core's 32-character keys are far from; neither identities nor
// keys may contain NUL bytes, which PostgreSQL's TEXT refuses. Times are
// integers, not the databases' timestamp types, so that they keep
// microseconds everywhere, need no parseTime or time-zone setting in the
// DSN, and compare the same on every database.
//
// # Marks
//
// Mark is one conditional statement (INSERT … ON CONFLICT DO UPDATE … WHERE
// on PostgreSQL and SQLite; an idempotent insert and then a conditional
// UPDATE on MySQL, which lacks the conditional upsert), so among any number
// of processes one owner wins. Expiry is judged by the database's clock: all
// the machines sharing a database then agree on when a mark lapses, however
// their own clocks drift. A mark only ever writes the mark columns, so a
// stale entry being recomputed keeps its value, and Get ignores rows that
// are only marks. There is no store.Waiter: waiters poll.
//
// # Failures
//
// Every operation runs under a timeout (WithTimeout, default 5s) on top of the
// caller's context, so that an unreachable server costs a bounded time per
// call. Every write is a single statement, so a failed write leaves the
// previous entry as it was.
//
// # Databases
//
// SQLite: use a busy timeout (go-sqlite3's default is 5s) so that processes
// sharing a file wait for each other's writes, and WAL mode so that readers
// do not wait for writers. A ":memory:" database is one database per pooled
// connection, so the table the store creates would be missing on the others: give
// it db.SetMaxOpenConns(1). (Shared-cache memory databases lock whole
// tables and fail concurrent writers at once; they do not fit.) PostgreSQL: any supported version. MySQL 5.7+ and
// MariaDB 10.3+, InnoDB with the DYNAMIC row format (the default); values
// larger than the server's max_allowed_packet are refused by the server and
// returned as errors (the core then returns the result uncached).
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier/internal/opctx"
	"github.com/cachier-go/cachier/store"
)

// DefaultTable is the name of the table New uses unless WithTable says
// otherwise.
const DefaultTable = "cachier_cache"

// DefaultTimeout bounds each operation unless WithTimeout says otherwise.
const DefaultTimeout = 5 * time.Second

// MaxKeyLen is the longest key, in bytes, that the store accepts.
const MaxKeyLen = 255

// An Option configures New.
type Option func(*config)

type config struct {
	table    string
	timeout  time.Duration
	prepared bool
}

// WithTable sets the name of the table. It must be a plain SQL identifier
// (letters, digits and underscores, not starting with a digit, at most 63
// characters); it is not quoted.
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithTimeout bounds every operation of the store: each runs under a context
// that ends at most d after it starts (and, for a caller's
// context.Background, at least 0.9d after), whatever the caller's context
// allows. d must be positive.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithPrepared says whether the store prepares its statements once (true,
// the default) or sends each query text with its arguments every time
// (false). Preparing saves the database parsing and planning each call;
// turn it off behind a connection pooler that cannot keep prepared
// statements (PgBouncer in transaction mode before 1.21).
func WithPrepared(on bool) Option { return func(c *config) { c.prepared = on } }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Store is a store.Store in an SQL table. It is safe for concurrent use.
type Store struct {
	db      *sqlx.DB
	d       *dialect
	table   string
	timeout time.Duration

	get, set, mark, markEnsure, markUpdate statement
	unmarkDelete, unmarkUpdate             statement
	clear, clearMarksDelete, clearMarks    statement
	deleteOne                              statement
	deleteStale, deleteStaleEmpty          statement
	prepared                               []*sql.Stmt // to close

	hashes  sync.Map     // fn -> fnHash(fn), for the first maxCachedHashes identities
	nHashes atomic.Int32 // identities cached in hashes

	op *opctx.Timeout // applies timeout to each operation; see package opctx

	// The table and the statements are set up on first use (setUp), not
	// by New: isReady says they are, and turn is held while one caller
	// sets them up.
	isReady     atomic.Bool
	turn        chan struct{}
	usePrepared bool
	closed      bool // under turn
}

// maxCachedHashes bounds the identities whose hash a store keeps: a program
// has one per decorated function, so the bound is only against misuse.
const maxCachedHashes = 4096

var _ store.Store = (*Store)(nil)

// A statement is one of the store's queries: a *sql.Stmt, or an unprepared
// query (WithPrepared(false)).
type statement interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

// unprepared runs its query text on db each time.
type unprepared struct {
	db    *sqlx.DB
	query string
}

func (u unprepared) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return u.db.ExecContext(ctx, u.query, args...)
}

func (u unprepared) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return u.db.QueryRowContext(ctx, u.query, args...)
}

// New returns a store in db. It never uses the database: the store creates
// its table if missing, and prepares its statements, on first use (once,
// retried at the next use after a failure), so a program can decorate its
// functions before its database is reachable. The dialect follows
// db.DriverName(). The store uses db for every call; the caller keeps it
// open while the store is in use, and closes it.
func New(db *sqlx.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("cachier: sqlstore: nil *sqlx.DB")
	}
	c := config{table: DefaultTable, timeout: DefaultTimeout, prepared: true}
	for _, o := range opts {
		o(&c)
	}
	if !identRE.MatchString(c.table) {
		return nil, fmt.Errorf("cachier: sqlstore: table name %q is not a plain SQL identifier", c.table)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("cachier: sqlstore: timeout %v is not positive", c.timeout)
	}
	d, err := dialectFor(db.DriverName())
	if err != nil {
		return nil, err
	}
	return &Store{db: db, d: d, table: c.table, timeout: c.timeout, op: opctx.New(c.timeout),
		turn: make(chan struct{}, 1), usePrepared: c.prepared}, nil
}

var errClosed = errors.New("cachier: sqlstore: store closed")

// ready makes sure the table and statements are set up; ctx bounds the
// wait. It costs an atomic load once they are.
func (s *Store) ready(ctx context.Context) error {
	if s.isReady.Load() {
		return nil
	}
	return s.setUp(ctx)
}

// setUp creates the table and prepares the statements, once: concurrent
// first uses wait for the one caller doing it (no longer than their
// contexts allow), and a failure leaves the next use to try again.
func (s *Store) setUp(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
		defer func() { <-s.turn }()
	case <-ctx.Done():
		return fmt.Errorf("cachier: sqlstore: waiting for the set-up of table %s: %w", s.table, context.Cause(ctx))
	}
	switch {
	case s.isReady.Load():
		return nil
	case s.closed:
		return errClosed
	}
	if err := s.createTable(ctx); err != nil {
		return err
	}
	if err := s.prepare(ctx, s.usePrepared); err != nil {
		s.closeStatements()
		return err
	}
	s.isReady.Store(true)
	return nil
}

// createTable creates the table if missing. Concurrent CREATE TABLE IF NOT
// EXISTS of one new table can fail when several processes start at once:
// in PostgreSQL with a unique violation in its catalog, and in SQLite, on
// a new database file, with "database is locked" at once (SQLite does not
// wait on a lock where waiting could deadlock). The loser succeeds on a
// later try, after a short randomised pause, the table then being there.
func (s *Store) createTable(ctx context.Context) error {
	ddl := fmt.Sprintf(s.d.createTable, s.table)
	var err error
	pause := createPause
	for try := range createTries {
		if try > 0 {
			t := time.NewTimer(pause/2 + rand.N(pause))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("cachier: sqlstore: create table %s on %s: %w", s.table, s.d.name, err)
			}
			pause *= 2
		}
		_, err = s.db.ExecContext(ctx, ddl)
		if err == nil {
			if err = s.ensureExpiresColumn(ctx); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil || unreachable(err) {
			break // the server does not answer: no point in waiting again
		}
	}
	return fmt.Errorf("cachier: sqlstore: create table %s on %s: %w", s.table, s.d.name, err)
}

// unreachable reports whether err says that the database server could not
// be reached (a refused or broken connection), rather than that it
// refused a statement.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn)
}

// createTries bounds the tries of createTable, the first pause between
// them being about createPause, then doubling: about 1.3 s in all.
const (
	createTries = 8
	createPause = 10 * time.Millisecond
)

// ensureExpiresColumn adds the expires_us column to a table made before it
// existed. Another process may add it meanwhile: the column being there in
// the end is success.
func (s *Store) ensureExpiresColumn(ctx context.Context) error {
	probe := "SELECT expires_us FROM " + s.table + " WHERE 1 = 0"
	rows, err := s.db.QueryContext(ctx, probe)
	if err == nil {
		return rows.Close()
	}
	_, err = s.db.ExecContext(ctx, "ALTER TABLE "+s.table+" ADD COLUMN "+expiresColumn)
	if err == nil {
		return nil
	}
	if rows, perr := s.db.QueryContext(ctx, probe); perr == nil {
		return rows.Close()
	}
	return err
}

// prepare prepares every statement once, or with prepared false only
// writes down their texts. database/sql re-prepares a prepared statement on
// each connection as needed.
func (s *Store) prepare(ctx context.Context, prepared bool) error {
	q := buildQueries(s.d, s.table)
	for _, p := range []struct {
		dst   *statement
		query string
	}{
		{&s.get, q.get}, {&s.set, q.set}, {&s.mark, q.mark}, {&s.markEnsure, q.markEnsure},
		{&s.markUpdate, q.markUpdate}, {&s.unmarkDelete, q.unmarkDelete}, {&s.unmarkUpdate, q.unmarkUpdate},
		{&s.clear, q.clear}, {&s.clearMarksDelete, q.clearMarksDelete}, {&s.clearMarks, q.clearMarks},
		{&s.deleteStale, q.deleteStale}, {&s.deleteStaleEmpty, q.deleteStaleEmpty},
		{&s.deleteOne, q.deleteOne},
	} {
		if p.query == "" {
			continue // not used by this dialect
		}
		if !prepared {
			*p.dst = unprepared{s.db, p.query}
			continue
		}
		st, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("cachier: sqlstore: prepare on %s: %w (query %s)", s.d.name, err, p.query)
		}
		*p.dst = st
		s.prepared = append(s.prepared, st)
	}
	return nil
}

// Close releases the store's prepared statements. It does not close the
// database, which belongs to the caller. The store must not be used
// afterwards.
func (s *Store) Close() error {
	s.turn <- struct{}{}
	defer func() { <-s.turn }()
	s.closed = true
	return s.closeStatements()
}

// closeStatements closes the prepared statements; turn is held.
func (s *Store) closeStatements() error {
	var errs []error
	for _, st := range s.prepared {
		errs = append(errs, st.Close())
	}
	s.prepared = nil
	return errors.Join(errs...)
}

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.table }

// fnHash is the primary-key form of a function identity, cached: a hit
// then costs a map lookup instead of a SHA-256 and two allocations.
func (s *Store) fnHash(fn string) string {
	if h, ok := s.hashes.Load(fn); ok {
		return h.(string)
	}
	h := fnHash(fn)
	if s.nHashes.Add(1) <= maxCachedHashes {
		s.hashes.Store(fn, h)
	}
	return h
}

// fnHash is the primary-key form of a function identity.
func fnHash(fn string) string {
	h := sha256.Sum256([]byte(fn))
	return hex.EncodeToString(h[:])
}

func checkKey(key string) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("cachier: sqlstore: key of %d bytes exceeds the limit of %d", len(key), MaxKeyLen)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, fn, key string) (store.Entry, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return store.Entry{}, err
	}
	var (
		v       []byte
		ts, exp int64
	)
	err := s.get.QueryRowContext(ctx, s.fnHash(fn), key).Scan(&v, &ts, &exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Entry{}, store.ErrNotFound
	case err != nil:
		return store.Entry{}, fmt.Errorf("cachier: sql get %q %s: %w", fn, key, err)
	}
	if v == nil {
		v = []byte{}
	}
	e := store.Entry{Value: v, Time: time.UnixMicro(ts)}
	if exp != 0 {
		if e.Expires = time.UnixMicro(exp); e.Expired(time.Now()) {
			return store.Entry{}, store.ErrNotFound
		}
	}
	return e, nil
}

// Set implements store.Store: one upsert that writes the entry and clears
// the key's mark.
func (s *Store) Set(ctx context.Context, fn, key string, e store.Entry) error {
	if err := checkKey(key); err != nil {
		return err
	}
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	v := e.Value
	if v == nil {
		v = []byte{} // an empty value, not NULL
	}
	var exp int64
	if !e.Expires.IsZero() {
		if exp = e.Expires.UnixMicro(); exp == 0 {
			exp = 1 // the epoch itself, long past; 0 means none
		}
	}
	if _, err := s.set.ExecContext(ctx, s.fnHash(fn), key, fn, v, e.Time.UnixMicro(), exp); err != nil {
		return fmt.Errorf("cachier: sql set %q %s: %w", fn, key, err)
	}
	return nil
}

// Mark implements store.Store. The mark expires ttl after the statement
// runs, by the database's clock.
func (s *Store) Mark(ctx context.Context, fn, key, owner string, ttl time.Duration) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return false, err
	}
	h, ttlUS := s.fnHash(fn), ttl.Microseconds()
	var (
		res sql.Result
		err error
	)
	if s.d.upsertMark {
		res, err = s.mark.ExecContext(ctx, h, key, fn, owner, ttlUS)
	} else {
		// MySQL: make sure the row exists (an empty one if there was no
		// entry), then take the mark if it is free, expired or owner's. The
		// UPDATE locks the row, so one caller wins. Its count is of changed
		// rows, or of matched rows under clientFoundRows=true: a taken mark
		// always changes mark_expires_us, so both count a win as 1.
		if _, err = s.markEnsure.ExecContext(ctx, h, key, fn); err == nil {
			res, err = s.markUpdate.ExecContext(ctx, owner, ttlUS, h, key, owner)
		}
	}
	if err != nil {
		return false, fmt.Errorf("cachier: sql mark %q %s: %w", fn, key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cachier: sql mark %q %s: %w", fn, key, err)
	}
	return n > 0, nil
}

// Unmark implements store.Store.
func (s *Store) Unmark(ctx context.Context, fn, key, owner string) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	h := s.fnHash(fn)
	res, err := s.unmarkDelete.ExecContext(ctx, h, key, owner)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			_, err = s.unmarkUpdate.ExecContext(ctx, h, key, owner)
		}
	}
	if err != nil {
		return fmt.Errorf("cachier: sql unmark %q %s: %w", fn, key, err)
	}
	return nil
}

// Delete implements store.Store with one DELETE of the key's row: a mark of
// the key, which lives in the same row, goes with the entry.
func (s *Store) Delete(ctx context.Context, fn, key string) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	if _, err := s.deleteOne.ExecContext(ctx, s.fnHash(fn), key); err != nil {
		return fmt.Errorf("cachier: sql delete %q %s: %w", fn, key, err)
	}
	return nil
}

// Clear implements store.Store.
func (s *Store) Clear(ctx context.Context, fn string) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	if _, err := s.clear.ExecContext(ctx, s.fnHash(fn)); err != nil {
		return fmt.Errorf("cachier: sql clear %q: %w", fn, err)
	}
	return nil
}

// ClearMarks implements store.Store.
func (s *Store) ClearMarks(ctx context.Context, fn string) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	h := s.fnHash(fn)
	_, err := s.clearMarksDelete.ExecContext(ctx, h)
	if err == nil {
		_, err = s.clearMarks.ExecContext(ctx, h)
	}
	if err != nil {
		return fmt.Errorf("cachier: sql clear marks %q: %w", fn, err)
	}
	return nil
}

// DeleteStale implements store.Store. An entry whose key is being
// recomputed under a live mark keeps the mark and loses the entry.
func (s *Store) DeleteStale(ctx context.Context, fn string, cutoff time.Time) error {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return err
	}
	h, c := s.fnHash(fn), cutoff.UnixMicro()
	_, err := s.deleteStale.ExecContext(ctx, h, c)
	if err == nil {
		_, err = s.deleteStaleEmpty.ExecContext(ctx, h, c)
	}
	if err != nil {
		return fmt.Errorf("cachier: sql delete stale %q: %w", fn, err)
	}
	return nil
}
