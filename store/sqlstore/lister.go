package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cachier-go/cachier/store"
)

var _ store.Lister = (*Store)(nil)

// listPage is how many entries one query of Entries reads.
const listPage = 1000

// TableExists reports whether the store's table is in the database. It
// only reads the database's catalog: it never creates the table, as the
// first write does.
func (s *Store) TableExists(ctx context.Context) (bool, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if s.isReady.Load() {
		return true, nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, sqlx.Rebind(s.d.bind, s.d.tableExists), s.table).Scan(&n); err != nil {
		return false, fmt.Errorf("cachier: sql look up table %s on %s: %w", s.table, s.d.name, err)
	}
	return n > 0, nil
}

// listTable is the Lister's read-only set-up: whether the table exists
// (the Lister never creates it, nor alters it) and whether it has the
// expires_us column (a table of the release before it has not, until the
// first write adds it).
func (s *Store) listTable(ctx context.Context) (exists, expires bool, err error) {
	if s.isReady.Load() {
		return true, true, nil
	}
	if exists, err = s.TableExists(ctx); err != nil || !exists {
		return exists, false, err
	}
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, "SELECT expires_us FROM "+s.table+" WHERE 1 = 0")
	if err != nil {
		if ctx.Err() != nil {
			return false, false, fmt.Errorf("cachier: sql probe table %s on %s: %w", s.table, s.d.name, err)
		}
		return true, false, nil // no such column
	}
	return true, true, rows.Close()
}

// nowArgs are the arguments of n uses of the live condition of
// listQueries: the time in µs each, none without the expires_us column.
func nowArgs(expires bool, n int) []any {
	if !expires {
		return nil
	}
	now := time.Now().UnixMicro()
	args := make([]any, n)
	for i := range args {
		args[i] = now
	}
	return args
}

// listQueries are the Lister's statements, built on first use: they are
// maintenance queries, not worth preparing. expires says whether the
// table has the expires_us column.
func (s *Store) listQueries(expires bool) (functions, entriesFirst, entriesNext string) {
	// An entry is live when it is complete and not expired by the
	// caller's clock (as Get judges it): the ? is the time in µs.
	live := "completed AND (expires_us = 0 OR expires_us > ?)"
	if !expires {
		live = "completed" // no ? to bind: see nowArgs
	}
	r := func(q string) string {
		return sqlx.Rebind(s.d.bind, strings.NewReplacer("$T", s.table, "$LIVE", live).Replace(q))
	}
	functions = r(`SELECT function_hash, MIN(function_id),
SUM(CASE WHEN $LIVE THEN 1 ELSE 0 END),
SUM(CASE WHEN $LIVE THEN COALESCE(LENGTH(value), 0) ELSE 0 END),
MIN(CASE WHEN $LIVE THEN timestamp_us END),
MAX(CASE WHEN $LIVE THEN timestamp_us END),
SUM(CASE WHEN processing AND mark_expires_us > ` + s.d.nowUS + ` THEN 1 ELSE 0 END)
FROM $T GROUP BY function_hash`)
	const cols = `SELECT cache_key, timestamp_us, COALESCE(LENGTH(value), 0) FROM $T WHERE function_hash = ? AND $LIVE`
	entriesFirst = r(cols + ` ORDER BY cache_key LIMIT ` + fmt.Sprint(listPage))
	entriesNext = r(cols + ` AND cache_key > ? ORDER BY cache_key LIMIT ` + fmt.Sprint(listPage))
	return functions, entriesFirst, entriesNext
}

// Functions implements store.Lister with one aggregate query (GROUP BY the
// function), which the database answers without sending any value: a
// function's entries, their bytes (the values' lengths), the oldest and
// newest entry and the live marks; expired entries are not counted.
// Functions with only marks are listed with zero entries. It runs under
// the store's timeout. It only reads: without the store's table it lists
// nothing, and it neither creates nor upgrades the table.
func (s *Store) Functions(ctx context.Context) ([]store.FuncInfo, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	exists, expires, err := s.listTable(ctx)
	if err != nil || !exists {
		return nil, err
	}
	q, _, _ := s.listQueries(expires)
	rows, err := s.db.QueryContext(ctx, q, nowArgs(expires, 4)...)
	if err != nil {
		return nil, fmt.Errorf("cachier: sql list functions in %s: %w", s.table, err)
	}
	defer rows.Close()
	var out []store.FuncInfo
	for rows.Next() {
		var (
			h, id                 string
			entries, bytes, marks sql.NullInt64
			oldest, newest        sql.NullInt64
		)
		if err := rows.Scan(&h, &id, &entries, &bytes, &oldest, &newest, &marks); err != nil {
			return nil, fmt.Errorf("cachier: sql list functions in %s: %w", s.table, err)
		}
		fi := store.FuncInfo{Function: id, Entries: entries.Int64, Bytes: bytes.Int64, Marks: marks.Int64}
		if oldest.Valid {
			fi.Oldest = time.UnixMicro(oldest.Int64)
		}
		if newest.Valid {
			fi.Newest = time.UnixMicro(newest.Int64)
		}
		if fi.Entries == 0 && fi.Marks == 0 {
			continue // only expired marks left
		}
		out = append(out, fi)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cachier: sql list functions in %s: %w", s.table, err)
	}
	return out, nil
}

// Entries implements store.Lister. It reads the function's entries (keys,
// times and the values' lengths, never the values) a page of listPage at a
// time in key order, each page one query under the store's timeout, and
// calls yield between queries, so yield may use the store. Like
// Functions, it only reads: without the table there are no entries.
func (s *Store) Entries(ctx context.Context, fn string, yield func(store.EntryInfo) error) error {
	exists, expires, err := s.listTable(ctx)
	if err != nil {
		return fmt.Errorf("cachier: sql list entries of %q: %w", fn, err)
	}
	if !exists {
		return nil
	}
	_, first, next := s.listQueries(expires)
	h := s.fnHash(fn)
	var (
		after string
		page  []store.EntryInfo
	)
	for started := false; ; started = true {
		page = page[:0]
		err := func() error {
			qctx, cancel := s.op.Context(ctx)
			defer cancel()
			var (
				rows *sql.Rows
				err  error
			)
			args := append([]any{h}, nowArgs(expires, 1)...)
			if !started {
				rows, err = s.db.QueryContext(qctx, first, args...)
			} else {
				rows, err = s.db.QueryContext(qctx, next, append(args, after)...)
			}
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					e  store.EntryInfo
					ts int64
				)
				if err := rows.Scan(&e.Key, &ts, &e.Size); err != nil {
					return err
				}
				e.Time = time.UnixMicro(ts)
				page = append(page, e)
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("cachier: sql list entries of %q: %w", fn, err)
		}
		for _, e := range page {
			if err := yield(e); err != nil {
				return err
			}
		}
		if len(page) < listPage {
			return nil
		}
		after = page[len(page)-1].Key
	}
}
