// Command cachier inspects and cleans cachier caches in any store,
// addressed by URL:
//
//	cachier ls URL                                   one line per function
//	cachier stats URL FUNC                           one function, with the age distribution of its entries
//	cachier clear URL FUNC                           forget every entry of FUNC
//	cachier clear-marks URL FUNC                     drop its being-calculated marks
//	cachier delete-stale URL FUNC -older-than D      delete its entries older than D
//
// URL is a directory or file://DIR (both file layouts), sqlite:///abs/path,
// postgres://…, mysql://user:pass@tcp(host:port)/db, redis://host:port/db
// or mongodb://host:port/db/collection. FUNC is a function identity or an
// unambiguous prefix of one. Flags may stand before or after the
// arguments:
//
//	-json           print a JSON array, one object per function
//	-older-than D   for delete-stale: 90m, 36h, 7d, 2w
//	-table NAME     the SQL table (default cachier_cache)
//	-prefix P       the Redis store's key prefix (redisstore.WithKeyPrefix)
//	-timeout D      how long to wait for a server to answer (default 5s)
//
// Errors print one line on stderr and exit with status 1. Scans that last
// longer than a second report progress on stderr. No command creates
// anything: an SQL URL whose table is missing is an error naming it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cachier-go/cachier/store"
	"github.com/cachier-go/cachier/store/sqlstore"
)

type opts struct {
	json      bool
	olderThan time.Duration
	table     string
	prefix    string
	timeout   time.Duration
}

const usage = `usage: cachier ls|stats|clear|clear-marks|delete-stale URL [FUNC] [-json] [-older-than D] [-table T] [-prefix P] [-timeout D]`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cachier: "+strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

// parse separates flags, wherever they stand, from the arguments.
func parse(args []string) (*opts, []string, error) {
	o := &opts{table: sqlstore.DefaultTable, timeout: 5 * time.Second}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "json" {
			if hasVal {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return nil, nil, fmt.Errorf("-json=%q: want true or false", val)
				}
				o.json = b
			} else {
				o.json = true
			}
			continue
		}
		switch name {
		case "older-than", "table", "prefix", "timeout":
		default:
			return nil, nil, fmt.Errorf("unknown flag %s; %s", a, usage)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return nil, nil, fmt.Errorf("flag -%s needs a value", name)
			}
			i++
			val = args[i]
		}
		switch name {
		case "older-than", "timeout":
			d, err := parseDuration(val)
			if err != nil || d <= 0 {
				return nil, nil, fmt.Errorf("-%s=%q: want a positive duration such as 90m, 36h, 7d or 2w", name, val)
			}
			if name == "timeout" {
				o.timeout = d
			} else {
				o.olderThan = d
			}
		case "table":
			o.table = val
		case "prefix":
			o.prefix = val
		}
	}
	return o, rest, nil
}

// parseDuration is time.ParseDuration plus d (days) and w (weeks).
func parseDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		mult   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(f * float64(u.mult)), nil
		}
	}
	return time.ParseDuration(s)
}

func run(args []string, stdout, stderr io.Writer) error {
	o, rest, err := parse(args)
	if err != nil {
		return err
	}
	if len(rest) < 2 {
		return fmt.Errorf("%s", usage)
	}
	cmd, raw := rest[0], rest[1]
	want := 3
	switch cmd {
	case "ls":
		want = 2
	case "stats", "clear", "clear-marks":
	case "delete-stale":
		if o.olderThan == 0 {
			return fmt.Errorf("delete-stale needs -older-than D")
		}
	default:
		return fmt.Errorf("unknown command %q; %s", cmd, usage)
	}
	if len(rest) != want {
		if want == 3 && len(rest) == 2 {
			return fmt.Errorf("%s needs a function: cachier %s URL FUNC (cachier ls URL lists them)", cmd, cmd)
		}
		return fmt.Errorf("unexpected arguments %q; %s", rest[want:], usage)
	}
	ctx := context.Background()
	st, err := openURL(ctx, raw, o)
	if err != nil {
		return err
	}
	defer st.close()

	infos, err := listAll(ctx, st, stderr)
	if err != nil {
		return err
	}
	if cmd == "ls" {
		sort.Slice(infos, func(i, j int) bool { return infos[i].Function < infos[j].Function })
		return print(stdout, o, infos, nil)
	}
	fi, err := resolve(infos, rest[2])
	if err != nil {
		return err
	}
	if cmd != "stats" && unnamed.MatchString(fi.Function) {
		return fmt.Errorf("%s: the store does not know this function's identity (its entries predate the name the Redis store now keeps), so it cannot address them; write one entry through the function, or delete its keys by hand", fi.Function)
	}
	if cmd == "stats" {
		ages, err := ageDistribution(ctx, fi, stderr)
		if err != nil {
			return err
		}
		return print(stdout, o, []located{fi}, ages)
	}
	for _, st := range []store.Store{fi.src.st, fi.src.also} {
		if st == nil || err != nil {
			continue
		}
		switch cmd {
		case "clear":
			err = st.Clear(ctx, fi.Function)
		case "clear-marks":
			err = st.ClearMarks(ctx, fi.Function)
		case "delete-stale":
			err = st.DeleteStale(ctx, fi.Function, time.Now().Add(-o.olderThan))
		}
	}
	if err != nil {
		return fmt.Errorf("%s %s: %v", cmd, fi.Function, firstLine(err))
	}
	fmt.Fprintf(stdout, "%s: done (%s)\n", cmd, fi.Function)
	return nil
}

// unnamed matches what the Redis Lister reports for a function whose
// identity it could not find: its keys' base.
var unnamed = regexp.MustCompile(`\{[0-9a-f]{32}\}$`)

// located is a FuncInfo and the store that holds it.
type located struct {
	store.FuncInfo
	src source
}

// listAll lists the functions of every source, reporting progress on
// stderr while a scan lasts longer than a second.
func listAll(ctx context.Context, st *opened, stderr io.Writer) ([]located, error) {
	var out []located
	for _, src := range st.sources {
		if src.ls == nil {
			return nil, fmt.Errorf("the %s store cannot list its functions (no store.Lister)", src.name)
		}
		var infos []store.FuncInfo
		err := withProgress(stderr, "listing "+src.name, nil, func() error {
			var err error
			infos, err = src.ls.Functions(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("listing %s: %v", src.name, firstLine(err))
		}
		for _, fi := range infos {
			out = append(out, located{fi, src})
		}
	}
	return out, nil
}

// withProgress runs f, printing every second on stderr how long it has
// been running (and count, when given).
func withProgress(stderr io.Writer, what string, count func() int64, f func() error) error {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		printed := false
		for {
			select {
			case <-done:
				if printed {
					fmt.Fprintln(stderr)
				}
				return
			case <-t.C:
				msg := fmt.Sprintf("\rcachier: %s… %ds", what, int(time.Since(start).Seconds()))
				if count != nil {
					msg += fmt.Sprintf(", %d entries", count())
				}
				fmt.Fprint(stderr, msg)
				printed = true
			}
		}
	}()
	err := f()
	close(done)
	<-finished
	return err
}

// resolve finds the one function whose identity is name or starts with it.
func resolve(infos []located, name string) (located, error) {
	var matches []located
	for _, fi := range infos {
		if fi.Function == name {
			return fi, nil
		}
		if strings.HasPrefix(fi.Function, name) {
			matches = append(matches, fi)
		}
	}
	switch len(matches) {
	case 0:
		return located{}, fmt.Errorf("unknown function %q (cachier ls URL lists them)", name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.Function
	}
	sort.Strings(names)
	return located{}, fmt.Errorf("%q is ambiguous: it matches %d functions: %s", name, len(matches), strings.Join(names, ", "))
}

// ageBuckets are the upper bounds of the age distribution's buckets.
var ageBuckets = []struct {
	label string
	max   time.Duration
}{{"<1m", time.Minute}, {"<1h", time.Hour}, {"<1d", 24 * time.Hour}, {"<1w", 7 * 24 * time.Hour}, {"<30d", 30 * 24 * time.Hour}, {">=30d", 1<<63 - 1}}

func ageDistribution(ctx context.Context, fi located, stderr io.Writer) ([]int64, error) {
	counts := make([]int64, len(ageBuckets))
	var n int64
	now := time.Now()
	err := withProgress(stderr, "reading the entries of "+fi.Function, func() int64 { return n }, func() error {
		return fi.src.ls.Entries(ctx, fi.Function, func(e store.EntryInfo) error {
			age := now.Sub(e.Time)
			for i, b := range ageBuckets {
				if age < b.max {
					counts[i]++
					break
				}
			}
			n++
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the entries of %s: %v", fi.Function, firstLine(err))
	}
	return counts, nil
}

// jsonInfo is the shape of SPEC §9.
type jsonInfo struct {
	Function string `json:"function"`
	Entries  int64  `json:"entries"`
	Bytes    int64  `json:"bytes"`
	Oldest   string `json:"oldest"`
	Newest   string `json:"newest"`
	Marks    int64  `json:"marks"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func print(w io.Writer, o *opts, infos []located, ages []int64) error {
	if o.json {
		out := make([]jsonInfo, len(infos))
		for i, fi := range infos {
			out[i] = jsonInfo{fi.Function, fi.Entries, fi.Bytes, rfc3339(fi.Oldest), rfc3339(fi.Newest), fi.Marks}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ENTRIES\tBYTES\tMARKS\tOLDEST\tNEWEST\t FUNCTION")
	for _, fi := range infos {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t %s\n", fi.Entries, fi.Bytes, fi.Marks, rfc3339(fi.Oldest), rfc3339(fi.Newest), fi.Function)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if ages != nil {
		fmt.Fprintln(w, "\nage distribution:")
		for i, b := range ageBuckets {
			fmt.Fprintf(w, "  %-6s %d\n", b.label, ages[i])
		}
	}
	return nil
}
