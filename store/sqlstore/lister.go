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

// listQueries are the Lister's statements, built on first use: they are
// maintenance queries, not worth preparing.
func (s *Store) listQueries() (functions, entriesFirst, entriesNext string) {
	// An entry is live when it is complete and not expired by the
	// caller's clock (as Get judges it): the ? is the time in µs.
	live := "completed AND (expires_us = 0 OR expires_us > ?)"
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
// newest entry and the live marks; expired entries are not counted. Functions with only marks are listed
// with zero entries. It runs under the store's timeout.
func (s *Store) Functions(ctx context.Context) ([]store.FuncInfo, error) {
	ctx, cancel := s.op.Context(ctx)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		return nil, err
	}
	q, _, _ := s.listQueries()
	now := time.Now().UnixMicro()
	rows, err := s.db.QueryContext(ctx, q, now, now, now, now)
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
// calls yield between queries, so yield may use the store.
func (s *Store) Entries(ctx context.Context, fn string, yield func(store.EntryInfo) error) error {
	_, first, next := s.listQueries()
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
			if err := s.ready(qctx); err != nil {
				return err
			}
			now := time.Now().UnixMicro()
			if !started {
				rows, err = s.db.QueryContext(qctx, first, h, now)
			} else {
				rows, err = s.db.QueryContext(qctx, next, h, now, after)
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
