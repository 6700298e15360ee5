package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/internal/testenv"
	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/mongostore"
	"github.com/cachier-go/cachier/store/redisstore"
	"github.com/cachier-go/cachier/store/sqlstore"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// bin builds the command once per test binary run.
func bin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		var dir string
		if dir, buildErr = os.MkdirTemp("", "cachier-cmd-test"); buildErr != nil {
			return
		}
		binPath = filepath.Join(dir, "cachier")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type result struct {
	stdout, stderr string
	code           int
}

func cachierCmd(t *testing.T, args ...string) result {
	t.Helper()
	path := bin(t) // before the clock starts: a cold build (cgo sqlite3) takes minutes
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out.String(), errb.String(), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cachier %q: %v", args, err)
	}
	return r
}

// mustFail checks exit status 1 with exactly one line on stderr holding
// want, besides the progress line ("\rcachier: listing …") that a scan
// lasting over a second (a loaded machine, a slow server) writes before it.
func mustFail(t *testing.T, r result, want string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		if !isProgress(l) {
			lines = append(lines, l)
		}
	}
	if r.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], want) || strings.Contains(r.stderr, "goroutine") {
		t.Fatalf("exit %d, stderr %q: want status 1 and one line containing %q", r.code, r.stderr, want)
	}
}

// TestMustFailAllowsProgress: a failing command whose scan lasted over a
// second (listing a loaded server before refusing an ambiguous prefix)
// writes its progress line before the error line; that is still one error
// line. Before, mustFail counted two lines and failed the test.
func TestMustFailAllowsProgress(t *testing.T) {
	mustFail(t, result{stderr: "\rcachier: listing mongodb… 1s\rcachier: listing mongodb… 2s\ncachier: ambiguous prefix\n", code: 1}, "ambiguous")
	for _, l := range []string{"cachier: ambiguous prefix", "\rsomething else", "\rcachier: listing x… 1s\rpanic"} {
		if isProgress(l) {
			t.Errorf("isProgress(%q) = true", l)
		}
	}
}

// isProgress reports whether l is a progress line: one or more
// "\rcachier: <what>… <n>s" updates, ended by a newline.
func isProgress(l string) bool {
	if l == "" || !strings.HasPrefix(l, "\r") {
		return false
	}
	for _, u := range strings.Split(l[1:], "\r") {
		if !strings.HasPrefix(u, "cachier: ") || !strings.Contains(u, "… ") {
			return false
		}
	}
	return true
}

type jsonInfo struct {
	Function string `json:"function"`
	Entries  int64  `json:"entries"`
	Bytes    int64  `json:"bytes"`
	Oldest   string `json:"oldest"`
	Newest   string `json:"newest"`
	Marks    int64  `json:"marks"`
}

func lsJSON(t *testing.T, args ...string) map[string]jsonInfo {
	t.Helper()
	r := cachierCmd(t, append([]string{"ls"}, args...)...)
	if r.code != 0 {
		t.Fatalf("cachier ls: exit %d: %s", r.code, r.stderr)
	}
	var all []jsonInfo
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&all); err != nil {
		t.Fatalf("cachier ls -json output %q: %v", r.stdout, err)
	}
	m := map[string]jsonInfo{}
	for _, fi := range all {
		m[fi.Function] = fi
	}
	return m
}

// A target is a store holding entries written by decorated functions, and
// the URL (with flags) by which the command reaches it.
type target struct {
	tag  string
	opts []cachier.Option
	args []string // URL and flags
}

func targets() map[string]func(t *testing.T) target {
	return map[string]func(t *testing.T) target{
		"file": func(t *testing.T) target {
			dir := t.TempDir()
			return target{tag: "backend=file,cache_dir=" + dir, args: []string{dir}}
		},
		"file-separate": func(t *testing.T) target {
			dir := t.TempDir()
			return target{tag: "backend=file,separate_files,cache_dir=" + dir, args: []string{"file://" + dir}}
		},
		"sqlite": func(t *testing.T) target {
			path := filepath.Join(t.TempDir(), "c.db")
			db, err := sqlx.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			st, err := sqlstore.New(db)
			if err != nil {
				t.Fatal(err)
			}
			return target{tag: "backend=sql", opts: []cachier.Option{cachier.WithStore("sql", st)}, args: []string{"sqlite://" + path}}
		},
		"postgres": func(t *testing.T) target {
			dsn := testenv.Getenv("CACHIER_TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
			return sqlTarget(t, "pgx", dsn, dsn)
		},
		"mariadb": func(t *testing.T) target {
			dsn := testenv.Getenv("CACHIER_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")
			return sqlTarget(t, "mysql", dsn, "mysql://"+dsn)
		},
		"redis": func(t *testing.T) target {
			addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { rdb.Close() })
			if err := rdb.Ping(context.Background()).Err(); err != nil {
				testenv.Unavailable(t, "redis", addr, err)
			}
			prefix := fmt.Sprintf("cachiercmd%d:", time.Now().UnixNano())
			st := redisstore.New(rdb, redisstore.WithKeyPrefix(prefix))
			t.Cleanup(func() {
				ctx := context.Background()
				for _, k := range rdb.Keys(ctx, prefix+"*").Val() { // a test may use KEYS
					rdb.Del(ctx, k)
				}
			})
			return target{tag: "backend=redis", opts: []cachier.Option{cachier.WithStore("redis", st)},
				args: []string{"redis://" + addr + "/0", "-prefix", prefix}}
		},
		"ferretdb": func(t *testing.T) target {
			uri := testenv.Getenv("CACHIER_TEST_MONGO_URI", "mongodb://127.0.0.1:27017")
			cli, err := mongo.Connect(options.Client().ApplyURI(uri))
			if err != nil {
				testenv.Unavailable(t, "MongoDB", uri, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cli.Ping(ctx, nil); err != nil {
				testenv.Unavailable(t, "MongoDB", uri, err)
			}
			name := fmt.Sprintf("cachiercmd_%d", time.Now().UnixNano())
			coll := cli.Database("test").Collection(name)
			t.Cleanup(func() {
				_ = coll.Drop(context.Background())
				_ = cli.Disconnect(context.Background())
			})
			st := mongostore.New(func(context.Context) (*mongo.Collection, error) { return coll, nil })
			return target{tag: "backend=mongo", opts: []cachier.Option{cachier.WithStore("mongo", st)},
				args: []string{strings.TrimSuffix(uri, "/") + "/test/" + name}}
		},
	}
}

func sqlTarget(t *testing.T, driver, dsn, url string) target {
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		testenv.Unavailable(t, driver, dsn, err)
	}
	table := fmt.Sprintf("cachiercmd_%d", time.Now().UnixNano())
	st, err := sqlstore.New(db, sqlstore.WithTable(table))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + table) })
	return target{tag: "backend=sql", opts: []cachier.Option{cachier.WithStore("sql", st)}, args: []string{url, "-table", table}}
}

// TestCommandOnEveryStore runs the command as a subprocess against every
// store holding entries of decorated functions: counts in -json, stats,
// an ambiguous prefix refused, delete-stale, clear, an unknown function.
func TestCommandOnEveryStore(t *testing.T) {
	for name, open := range targets() {
		t.Run(name, func(t *testing.T) {
			tg := open(t)
			ns := fmt.Sprintf("cmdtest%d", time.Now().UnixNano())
			fns := map[string]*func(int) int{}
			handles := map[string]*cachier.Handle{}
			for _, fn := range []string{"alpha.one", "alpha.two", "beta"} {
				f := func(x int) int { return x * 2 }
				opts := append([]cachier.Option{cachier.Tag(tg.tag + ",name=" + ns + "." + fn)}, tg.opts...)
				if err := cachier.Decorate(&f, opts...); err != nil {
					t.Fatal(err)
				}
				h, _ := cachier.Of(&f)
				fns[fn], handles[fn] = &f, h
			}
			for fn, n := range map[string]int{"alpha.one": 3, "alpha.two": 2, "beta": 1} {
				for i := range n {
					(*fns[fn])(i)
				}
			}
			id := func(fn string) string { return handles[fn].Name() }
			args := func(a ...string) []string { return append(append([]string{}, a[:1]...), append(tg.args, a[1:]...)...) }

			got := lsJSON(t, append(tg.args, "-json")...)
			for fn, n := range map[string]int64{"alpha.one": 3, "alpha.two": 2, "beta": 1} {
				fi, ok := got[id(fn)]
				if !ok {
					t.Fatalf("ls -json does not list %s: %v", id(fn), got)
				}
				old, err1 := time.Parse(time.RFC3339, fi.Oldest)
				nw, err2 := time.Parse(time.RFC3339, fi.Newest)
				if fi.Entries != n || fi.Bytes <= 0 || fi.Marks != 0 || err1 != nil || err2 != nil ||
					time.Since(old) > time.Hour || nw.Before(old) {
					t.Errorf("%s: %+v; want %d entries, some bytes, no marks, recent RFC 3339 times", fn, fi, n)
				}
			}

			r := cachierCmd(t, args("stats", ns+".beta")...)
			if r.code != 0 || !strings.Contains(r.stdout, id("beta")) || !strings.Contains(r.stdout, "age distribution") {
				t.Errorf("stats: exit %d, %q %q", r.code, r.stdout, r.stderr)
			}

			// A prefix of two functions: listed and refused, nothing deleted.
			r = cachierCmd(t, args("clear", ns+".alpha")...)
			mustFail(t, r, "ambiguous")
			if !strings.Contains(r.stderr, id("alpha.one")) || !strings.Contains(r.stderr, id("alpha.two")) {
				t.Errorf("the refusal does not list both functions: %q", r.stderr)
			}
			mustFail(t, cachierCmd(t, args("clear")...), "needs a function")
			mustFail(t, cachierCmd(t, args("clear", ns+".gamma")...), "unknown function")
			if got := lsJSON(t, append(tg.args, "-json")...); got[id("alpha.one")].Entries != 3 || got[id("alpha.two")].Entries != 2 {
				t.Fatalf("a refused command deleted entries: %+v", got)
			}

			// delete-stale, flags after the arguments: an old entry goes, the fresh stay.
			st := handles["alpha.one"].Store()
			if err := st.Set(context.Background(), id("alpha.one"), strings.Repeat("ab", 16),
				store.Entry{Value: []byte("old"), Time: time.Now().Add(-48 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if fi := lsJSON(t, append(tg.args, "-json")...)[id("alpha.one")]; fi.Entries != 4 {
				t.Fatalf("%d entries after writing an old one, want 4", fi.Entries)
			}
			r = cachierCmd(t, args("delete-stale", ns+".alpha.one", "--older-than", "1d")...)
			if r.code != 0 {
				t.Fatalf("delete-stale: exit %d: %s", r.code, r.stderr)
			}
			if fi := lsJSON(t, append([]string{"-json"}, tg.args...)...)[id("alpha.one")]; fi.Entries != 3 {
				t.Errorf("after delete-stale: %d entries, want the 3 fresh ones", fi.Entries)
			}

			r = cachierCmd(t, append([]string{"-json", "clear-marks"}, append(tg.args, ns+".alpha.one")...)...)
			if r.code != 0 {
				t.Fatalf("clear-marks: exit %d: %s", r.code, r.stderr)
			}
			r = cachierCmd(t, args("clear", ns+".alpha.two")...)
			if r.code != 0 {
				t.Fatalf("clear: exit %d: %s", r.code, r.stderr)
			}
			got = lsJSON(t, append(tg.args, "-json")...)
			if _, ok := got[id("alpha.two")]; ok {
				t.Errorf("clear left %s listed", id("alpha.two"))
			}
			if got[id("alpha.one")].Entries != 3 || got[id("beta")].Entries != 1 {
				t.Errorf("clear of one function touched the others: %+v", got)
			}
		})
	}
}

// TestCommandRedisUnnamedFunction: entries written before the Redis store
// kept function names are listed under their keys' base, and the command
// refuses to clear them (it could not address them) instead of reporting
// success.
func TestCommandRedisUnnamedFunction(t *testing.T) {
	addr := testenv.Getenv("CACHIER_TEST_REDIS_ADDR", "127.0.0.1:6379")
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(t, "redis", addr, err)
	}
	prefix := fmt.Sprintf("cachiercmdold%d:", time.Now().UnixNano())
	base := prefix + "{" + strings.Repeat("ab", 16) + "}:"
	t.Cleanup(func() { rdb.Del(ctx, base+"e:01") })
	if err := rdb.HSet(ctx, base+"e:01", "v", "old", "t", time.Now().UnixMicro()).Err(); err != nil {
		t.Fatal(err)
	}
	got := lsJSON(t, "redis://"+addr+"/0", "-json", "-prefix", prefix)
	fn := "{" + strings.Repeat("ab", 16) + "}"
	if got[fn].Entries != 1 {
		t.Fatalf("ls: %+v; want the unnamed function listed as %s with 1 entry", got, fn)
	}
	mustFail(t, cachierCmd(t, "clear", "redis://"+addr+"/0", fn, "-prefix", prefix), "identity")
	if rdb.Exists(ctx, base+"e:01").Val() != 1 {
		t.Fatal("the entry went")
	}
}

// TestCommandBadInput: bad URLs, unreachable servers, unknown commands
// and flags exit 1 with one line, fast.
func TestCommandBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ls", "foo://bar"}, "bad URL"},
		{[]string{"ls", "sqlite://relative.db"}, "absolute path"},
		{[]string{"ls", "/nonexistent/dir"}, "not a directory"},
		{[]string{"ls", "mongodb://127.0.0.1:1/onlydb"}, "db/collection"},
		{[]string{"ls", "redis://127.0.0.1:1/0", "-timeout", "2s"}, "cannot reach redis"},
		{[]string{"ls", "postgres://postgres@127.0.0.1:1/test?sslmode=disable", "-timeout", "2s"}, "cannot reach"},
		{[]string{"ls", "mysql://root@tcp(127.0.0.1:1)/test", "-timeout", "2s"}, "cannot reach"},
		{[]string{"ls", "mongodb://127.0.0.1:1/db/coll", "-timeout", "2s"}, "cannot reach mongodb"},
		{[]string{"frobnicate", "/tmp"}, "unknown command"},
		{[]string{"ls", "/tmp", "-colour"}, "unknown flag"},
		{[]string{"delete-stale", "/tmp", "f"}, "-older-than"},
		{[]string{"delete-stale", "/tmp", "f", "-older-than", "soon"}, "-older-than"},
		{[]string{}, "usage"},
	} {
		mustFail(t, cachierCmd(t, tc.args...), tc.want)
	}
}

// sqlURLs are the SQL databases the command is tested on, by name: each
// gives the driver and DSN to reach it directly and the command's URL.
func sqlURLs(t *testing.T) map[string]func(t *testing.T) (driver, dsn, url string) {
	return map[string]func(t *testing.T) (string, string, string){
		"sqlite": func(t *testing.T) (string, string, string) {
			path := filepath.Join(t.TempDir(), "c.db")
			if err := os.WriteFile(path, nil, 0o600); err != nil { // an empty database
				t.Fatal(err)
			}
			return "sqlite3", "file:" + path, "sqlite://" + path
		},
		"postgres": func(t *testing.T) (string, string, string) {
			dsn := testenv.Getenv("CACHIER_TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
			return "pgx", dsn, dsn
		},
		"mariadb": func(t *testing.T) (string, string, string) {
			dsn := testenv.Getenv("CACHIER_TEST_MYSQL_DSN", "root@tcp(127.0.0.1:3306)/test")
			return "mysql", dsn, "mysql://" + dsn
		},
	}
}

// Read-only commands never create anything: on a table that is not there
// (a mistyped -table) ls and stats fail with one line naming it, and the
// table is still not there afterwards.
func TestCommandSQLMissingTable(t *testing.T) {
	for name, open := range sqlURLs(t) {
		t.Run(name, func(t *testing.T) {
			driver, dsn, url := open(t)
			db, err := sqlx.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := db.PingContext(ctx); err != nil {
				testenv.Unavailable(t, driver, dsn, err)
			}
			table := fmt.Sprintf("cachiercmd_missing_%d", time.Now().UnixNano())
			t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + table) })
			for _, args := range [][]string{
				{"ls", url, "-table", table},
				{"stats", url, "f", "-table", table},
				{"clear", url, "f", "-table", table},
			} {
				mustFail(t, cachierCmd(t, args...), "no table "+table)
			}
			st, err := sqlstore.New(db, sqlstore.WithTable(table))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if exists, err := st.TableExists(context.Background()); err != nil || exists {
				t.Fatalf("table %s after the commands: exists %v, %v; want it not created", table, exists, err)
			}
		})
	}
}
