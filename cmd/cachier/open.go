package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/go-sql-driver/mysql" // mysql://
	_ "github.com/jackc/pgx/v5/stdlib" // postgres://
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // sqlite://
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/filestore"
	"github.com/cachier-go/cachier/store/mongostore"
	"github.com/cachier-go/cachier/store/redisstore"
	"github.com/cachier-go/cachier/store/sqlstore"
)

// A source is one opened store that can list its functions.
type source struct {
	name string // for messages: "file"
	st   store.Store
	ls   store.Lister
	also store.Store // the file store's other layout, which clears too
}

// opened is what a URL names: one store, or both layouts of a file
// directory.
type opened struct {
	sources []source
	close   func()
}

// openURL opens the store a URL names and checks, within timeout, that its
// server answers.
func openURL(ctx context.Context, raw string, o *opts) (*opened, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("bad URL %q: an SQLite URL names an absolute path, as sqlite:///var/cache/app.db", raw)
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("cannot open %s: %v", path, err)
		}
		return openSQL(ctx, "sqlite3", "file:"+path+"?_busy_timeout=5000", o)
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return openSQL(ctx, "pgx", raw, o)
	case strings.HasPrefix(raw, "mysql://"):
		return openSQL(ctx, "mysql", strings.TrimPrefix(raw, "mysql://"), o)
	case strings.HasPrefix(raw, "redis://"), strings.HasPrefix(raw, "rediss://"):
		ro, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("bad URL %q: %v", raw, err)
		}
		ro.DialTimeout, ro.MaxRetries = o.timeout, 0
		rdb := redis.NewClient(ro)
		redis.SetLogger(nopLogger{})
		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			rdb.Close()
			return nil, fmt.Errorf("cannot reach redis at %s: %v", ro.Addr, err)
		}
		st := redisstore.New(rdb, redisstore.WithKeyPrefix(o.prefix))
		return &opened{[]source{{"redis", st, st, nil}}, func() { rdb.Close() }}, nil
	case strings.HasPrefix(raw, "mongodb://"):
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("bad URL %q: %v", raw, err)
		}
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("bad URL %q: want mongodb://host:port/db/collection", raw)
		}
		u.Path = "/"
		cli, err := mongo.Connect(options.Client().ApplyURI(u.String()).
			SetServerSelectionTimeout(o.timeout).SetConnectTimeout(o.timeout))
		if err != nil {
			return nil, fmt.Errorf("bad URL %q: %v", raw, err)
		}
		pctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		if err := cli.Ping(pctx, nil); err != nil {
			_ = cli.Disconnect(context.Background())
			return nil, fmt.Errorf("cannot reach mongodb at %s: %v", u.Host, firstLine(err))
		}
		coll := cli.Database(parts[0]).Collection(parts[1])
		st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return coll, nil }, mongostore.WithLogger(quiet))
		var ls store.Lister
		if l, ok := any(st).(store.Lister); ok {
			ls = l
		}
		return &opened{[]source{{"mongo", st, ls, nil}}, func() { _ = cli.Disconnect(context.Background()) }}, nil
	}
	dir := raw
	if strings.HasPrefix(raw, "file://") {
		dir = strings.TrimPrefix(raw, "file://")
	} else if strings.Contains(raw, "://") {
		return nil, fmt.Errorf("bad URL %q: want a directory, file://DIR, sqlite:///PATH, postgres://…, mysql://user:pass@tcp(host:port)/db, redis://host:port/db or mongodb://host:port/db/collection", raw)
	}
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("bad URL %q: not a directory", raw)
	}
	// The file store lists the functions of both layouts, whichever it is
	// opened with; each layout clears its own files.
	var layouts [2]*filestore.Store
	for i, sep := range []bool{false, true} {
		if layouts[i], err = filestore.New(dir, filestore.Options{SeparateFiles: sep, Logger: quiet}); err != nil {
			return nil, fmt.Errorf("cannot open the file store in %s: %v", dir, err)
		}
	}
	srcs := []source{{"file", layouts[0], layouts[0], layouts[1]}}
	return &opened{srcs, func() {}}, nil
}

func openSQL(ctx context.Context, driver, dsn string, o *opts) (*opened, error) {
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("bad URL: %v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("cannot reach the %s database: %v", driver, firstLine(err))
	}
	st, err := sqlstore.New(db, sqlstore.WithTable(o.table))
	if err != nil {
		db.Close()
		return nil, err
	}
	// Every command reads first; none creates the table (a mistyped
	// -table would leave an empty one behind).
	exists, err := st.TableExists(pctx)
	if err == nil && !exists {
		err = fmt.Errorf("no table %s in the %s database (name the cache's table with -table)", o.table, driver)
	}
	if err != nil {
		st.Close()
		db.Close()
		return nil, err
	}
	return &opened{[]source{{"sql", st, st, nil}}, func() { st.Close(); db.Close() }}, nil
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

type nopLogger struct{}

func (nopLogger) Printf(context.Context, string, ...any) {}
