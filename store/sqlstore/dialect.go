package sqlstore

import (
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// A dialect holds what differs between the databases: column types, the
// database's clock, the bind variables and the upsert syntax. Every query is
// written once with ? placeholders and rebound with sqlx.Rebind.
type dialect struct {
	name string
	bind int // sqlx.QUESTION or sqlx.DOLLAR

	// nowUS is an SQL expression for the database's current time in
	// microseconds since the Unix epoch, constant within one statement.
	nowUS string

	// createTable is the CREATE TABLE IF NOT EXISTS statement, with %s for
	// the table name.
	createTable string

	// tableExists counts the tables of the name ? in the catalog (0 or 1),
	// as an unquoted name in the connection's schema resolves: the
	// Lister's read-only check.
	tableExists string

	// upsertMark is true where INSERT … ON CONFLICT … DO UPDATE … WHERE
	// exists (PostgreSQL, SQLite): a mark is then one statement. MySQL has
	// no conditional upsert, so a mark is an idempotent insert of an empty
	// row followed by a conditional UPDATE.
	upsertMark bool
}

// dialectFor maps a database/sql driver name to its dialect.
func dialectFor(driver string) (*dialect, error) {
	switch driver {
	case "sqlite3", "sqlite":
		return &sqliteDialect, nil
	case "pgx", "pgx/v5", "postgres", "postgresql", "cloudsqlpostgres", "nrpostgres":
		return &postgresDialect, nil
	case "mysql", "nrmysql":
		return &mysqlDialect, nil
	}
	return nil, fmt.Errorf("cachier: sqlstore: unsupported driver %q (want sqlite3, pgx, postgres or mysql)", driver)
}

var sqliteDialect = dialect{
	name: "sqlite",
	bind: sqlx.QUESTION,
	// Whole seconds, plus the milliseconds of %f ("SS.SSS"): exact to the
	// millisecond of SQLite's clock on every version (unixepoch('subsec')
	// would need 3.42, newer than some systems' libsqlite3). 'now' is fixed
	// for the duration of one statement.
	nowUS: "(CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + CAST(substr(strftime('%f', 'now'), 4) AS INTEGER) * 1000)",
	createTable: `CREATE TABLE IF NOT EXISTS %s (
	function_hash   TEXT    NOT NULL,
	cache_key       TEXT    NOT NULL,
	function_id     TEXT    NOT NULL,
	value           BLOB,
	timestamp_us    INTEGER NOT NULL DEFAULT 0,
	stale           BOOLEAN NOT NULL DEFAULT FALSE,
	processing      BOOLEAN NOT NULL DEFAULT FALSE,
	completed       BOOLEAN NOT NULL DEFAULT FALSE,
	mark_owner      TEXT,
	mark_expires_us INTEGER,
	expires_us      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (function_hash, cache_key)
)`,
	tableExists: `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`,
	upsertMark:  true,
}

var postgresDialect = dialect{
	name: "postgres",
	bind: sqlx.DOLLAR,
	// clock_timestamp, not now(): now() is the start of the transaction.
	nowUS: "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
	createTable: `CREATE TABLE IF NOT EXISTS %s (
	function_hash   TEXT COLLATE "C" NOT NULL,
	cache_key       TEXT COLLATE "C" NOT NULL,
	function_id     TEXT    NOT NULL,
	value           BYTEA,
	timestamp_us    BIGINT  NOT NULL DEFAULT 0,
	stale           BOOLEAN NOT NULL DEFAULT FALSE,
	processing      BOOLEAN NOT NULL DEFAULT FALSE,
	completed       BOOLEAN NOT NULL DEFAULT FALSE,
	mark_owner      TEXT COLLATE "C",
	mark_expires_us BIGINT,
	expires_us      BIGINT  NOT NULL DEFAULT 0,
	PRIMARY KEY (function_hash, cache_key)
)`,
	// to_regclass folds an unquoted name as CREATE TABLE does, and follows
	// the search_path.
	tableExists: `SELECT CASE WHEN to_regclass(?) IS NULL THEN 0 ELSE 1 END`,
	upsertMark:  true,
}

// MySQL and MariaDB: the primary key holds the 64-character hash of the
// function identity (ASCII, binary collation) and the key as VARBINARY(255)
// (byte comparison: MySQL's default collations ignore case and trailing
// spaces). That is at most 319 bytes, well inside InnoDB's 3072-byte index
// limit. Values are LONGBLOB; the server's max_allowed_packet (16 MiB on a
// default MariaDB) bounds the largest value it accepts. Owners are BLOB so
// that they too compare byte for byte.
var mysqlDialect = dialect{
	name: "mysql",
	bind: sqlx.QUESTION,
	// UTC_TIMESTAMP and TIMESTAMPDIFF: independent of the session time zone
	// and of daylight-saving transitions.
	nowUS: "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))",
	createTable: `CREATE TABLE IF NOT EXISTS %s (
	function_hash   CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	cache_key       VARBINARY(255) NOT NULL,
	function_id     TEXT CHARACTER SET utf8mb4 NOT NULL,
	value           LONGBLOB,
	timestamp_us    BIGINT  NOT NULL DEFAULT 0,
	stale           BOOLEAN NOT NULL DEFAULT FALSE,
	processing      BOOLEAN NOT NULL DEFAULT FALSE,
	completed       BOOLEAN NOT NULL DEFAULT FALSE,
	mark_owner      BLOB,
	mark_expires_us BIGINT,
	expires_us      BIGINT  NOT NULL DEFAULT 0,
	PRIMARY KEY (function_hash, cache_key)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC DEFAULT CHARSET=utf8mb4`,
	tableExists: `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`,
	upsertMark:  false,
}

// queries are the statements of one store, rebound for its dialect.
type queries struct {
	get, set                      string
	mark, markEnsure, markUpdate  string
	unmarkDelete, unmarkUpdate    string
	clear                         string
	clearMarksDelete, clearMarks  string
	deleteStale, deleteStaleEmpty string
	deleteOne                     string
}

// cols lists, in order, the columns every INSERT writes.
const cols = "function_hash, cache_key, function_id, value, timestamp_us, stale, processing, completed, mark_owner, mark_expires_us, expires_us"

// expiresColumn is the column added after the first release: the entry's
// store.Entry.Expires in µs since the Unix epoch, 0 for none. Tables made
// before it get it from ensureExpiresColumn.
const expiresColumn = "expires_us BIGINT NOT NULL DEFAULT 0"

// buildQueries writes the statements for table t in dialect d.
func buildQueries(d *dialect, t string) queries {
	now := d.nowUS
	r := func(q string) string { return sqlx.Rebind(d.bind, strings.ReplaceAll(q, "$T", t)) }
	q := queries{
		get: r(`SELECT value, timestamp_us, expires_us FROM $T WHERE function_hash = ? AND cache_key = ? AND completed`),

		// Marks: a live mark of another owner blocks; an expired one, one
		// of the same owner, or none at all is taken. Only the mark columns
		// change: an entry's value stays as it was.
		markUpdate: r(`UPDATE $T SET processing = TRUE, mark_owner = ?, mark_expires_us = ` + now + ` + ?
WHERE function_hash = ? AND cache_key = ? AND (processing = FALSE OR mark_owner = ? OR mark_expires_us <= ` + now + `)`),

		// Unmark in two steps, each atomic on its own: a row that is only
		// owner's mark goes; an entry keeps its value and loses the mark.
		unmarkDelete: r(`DELETE FROM $T WHERE function_hash = ? AND cache_key = ? AND mark_owner = ? AND NOT completed`),
		unmarkUpdate: r(`UPDATE $T SET processing = FALSE, mark_owner = NULL, mark_expires_us = NULL
WHERE function_hash = ? AND cache_key = ? AND mark_owner = ?`),

		clear: r(`DELETE FROM $T WHERE function_hash = ?`),

		deleteOne: r(`DELETE FROM $T WHERE function_hash = ? AND cache_key = ?`),

		clearMarksDelete: r(`DELETE FROM $T WHERE function_hash = ? AND NOT completed`),
		clearMarks: r(`UPDATE $T SET processing = FALSE, mark_owner = NULL, mark_expires_us = NULL
WHERE function_hash = ? AND processing`),

		// DeleteStale drops stale entries, except that a row somebody is
		// recomputing right now keeps its mark: its entry is emptied
		// instead, so that waiters on the mark keep waiting.
		deleteStale: r(`DELETE FROM $T WHERE function_hash = ? AND completed AND timestamp_us < ?
AND NOT (processing AND mark_expires_us > ` + now + `)`),
		deleteStaleEmpty: r(`UPDATE $T SET value = NULL, completed = FALSE, timestamp_us = 0, expires_us = 0
WHERE function_hash = ? AND completed AND timestamp_us < ?`),
	}
	if d.upsertMark {
		q.set = r(`INSERT INTO $T (` + cols + `) VALUES (?, ?, ?, ?, ?, FALSE, FALSE, TRUE, NULL, NULL, ?)
ON CONFLICT (function_hash, cache_key) DO UPDATE SET value = excluded.value, timestamp_us = excluded.timestamp_us,
expires_us = excluded.expires_us,
stale = FALSE, processing = FALSE, completed = TRUE, mark_owner = NULL, mark_expires_us = NULL`)
		q.mark = r(`INSERT INTO $T (` + cols + `) VALUES (?, ?, ?, NULL, 0, FALSE, TRUE, FALSE, ?, ` + now + ` + ?, 0)
ON CONFLICT (function_hash, cache_key) DO UPDATE SET processing = TRUE,
mark_owner = excluded.mark_owner, mark_expires_us = excluded.mark_expires_us
WHERE $T.processing = FALSE OR $T.mark_owner = excluded.mark_owner OR $T.mark_expires_us <= ` + now)
	} else {
		// VALUES(col) rather than MySQL 8's row alias: MariaDB has only the
		// former, MySQL still accepts it.
		q.set = r(`INSERT INTO $T (` + cols + `) VALUES (?, ?, ?, ?, ?, FALSE, FALSE, TRUE, NULL, NULL, ?)
ON DUPLICATE KEY UPDATE value = VALUES(value), timestamp_us = VALUES(timestamp_us), expires_us = VALUES(expires_us),
stale = FALSE, processing = FALSE, completed = TRUE, mark_owner = NULL, mark_expires_us = NULL`)
		q.markEnsure = r(`INSERT INTO $T (` + cols + `) VALUES (?, ?, ?, NULL, 0, FALSE, FALSE, FALSE, NULL, NULL, 0)
ON DUPLICATE KEY UPDATE cache_key = cache_key`)
	}
	return q
}
