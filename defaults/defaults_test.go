package defaults_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachier-go/cachier/defaults"
	"github.com/cachier-go/cachier/store/memstore"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"72h":      72 * time.Hour,
		"90s":      90 * time.Second,
		"3d":       72 * time.Hour,
		"2w":       14 * 24 * time.Hour,
		"1w2d12h":  9*24*time.Hour + 12*time.Hour,
		"1.5d":     36 * time.Hour,
		"10m":      10 * time.Minute,
		"never":    0,
		" 1h30m ":  90 * time.Minute,
		"1d500ms":  24*time.Hour + 500*time.Millisecond,
		"0":        0,
		"250ms":    250 * time.Millisecond,
		"2w3d4h5m": (17*24+4)*time.Hour + 5*time.Minute,
	} {
		got, err := defaults.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "3", "d", "3x", "-1h", "1d-2h", "h1", "1dd"} {
		if got, err := defaults.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]defaults.Size{
		"200000": 200000,
		"10KB":   10 << 10,
		"1.5MB":  3 << 19,
		"2gb":    2 << 30,
		"1TB":    1 << 40,
		"512B":   512,
		"0":      0,
		" 3 KB ": 3 << 10,
	} {
		got, err := defaults.ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "KB", "-1KB", "1XB", "ten", "1e400"} {
		if got, err := defaults.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %v, want an error", bad, got)
		}
	}
}

func TestApply(t *testing.T) {
	spec, err := defaults.Parse("backend=memory, stale_after=3d,next_time, entry_size_limit=1.5MB,allow_none=false,key_prefix=app,version=v2,name=x.Y,mark_ttl=2s")
	if err != nil {
		t.Fatal(err)
	}
	base := defaults.Builtin()
	p, err := defaults.Apply(base, spec)
	if err != nil {
		t.Fatal(err)
	}
	want := base
	want.Backend, want.StaleAfter, want.NextTime = "memory", 72*time.Hour, true
	want.EntrySizeLimit, want.KeyPrefix, want.Version, want.Name, want.MarkTTL = 3<<19, "app", "v2", "x.Y", 2*time.Second
	if p != want {
		t.Errorf("Apply =\n%+v\nwant\n%+v", p, want)
	}
	if base != defaults.Builtin() {
		t.Error("Apply changed its input")
	}
}

func TestBadSpecs(t *testing.T) {
	for spec, wantKey := range map[string]string{
		"stale_afer=72h":        "stale_after",
		"stale_after=soon":      "stale_after",
		"next_time=maybe":       "next_time",
		"entry_size_limit=huge": "entry_size_limit",
		"cleanup_interval=0s":   "cleanup_interval",
		"backend=":              "backend",
		"mark_ttl=1ms":          "mark_ttl",
		"allow_none,allow_none": "allow_none",
	} {
		s, err := defaults.Parse(spec)
		if err == nil {
			_, err = defaults.Apply(defaults.Builtin(), s)
		}
		var ke *defaults.KeyError
		if !errors.As(err, &ke) {
			t.Errorf("%q: error %v, want a *KeyError", spec, err)
			continue
		}
		if ke.Key != wantKey && !strings.HasPrefix(spec, "stale_afer") || !strings.Contains(err.Error(), ke.Key) {
			t.Errorf("%q: error %q names key %q, want %q", spec, err, ke.Key, wantKey)
		}
		if spec == "stale_afer=72h" && !strings.Contains(err.Error(), `did you mean "`+wantKey+`"`) {
			t.Errorf("%q: error %q has no suggestion", spec, err)
		}
	}
}

func TestSetGetReset(t *testing.T) {
	t.Cleanup(defaults.Reset)
	if err := defaults.Set("stale_after=1h,next_time"); err != nil {
		t.Fatal(err)
	}
	if err := defaults.Set("allow_none"); err != nil {
		t.Fatal(err)
	}
	p := defaults.Get()
	if p.StaleAfter != time.Hour || !p.NextTime || !p.AllowNone {
		t.Errorf("Get after Set = %+v", p)
	}
	if err := defaults.Set("stale_after=bad,allow_none=false"); err == nil {
		t.Error("Set with a bad value succeeded")
	}
	if !defaults.Get().AllowNone {
		t.Error("a failed Set changed some parameters")
	}
	if err := defaults.Set("name=x"); err == nil {
		t.Error("Set(name=…) succeeded: a name is one function's")
	}
	defaults.DisableCaching()
	defaults.Reset()
	if defaults.Get() != defaults.Builtin() || !defaults.CachingEnabled() {
		t.Error("Reset did not restore the built-in defaults and the switch")
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if got := defaults.DefaultCacheDir(); got != "/x/cache/cachier" {
		t.Errorf("with XDG_CACHE_HOME: %q", got)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got := defaults.DefaultCacheDir(); got != "/home/u/.cachier" {
		t.Errorf("without XDG_CACHE_HOME: %q", got)
	}
}

var runs atomic.Int64

// perRun returns name made unique to this run of a test: the registries
// cannot forget a name, and go test -count=N runs the test again in the
// same process.
func perRun(name string) string { return fmt.Sprintf("%s-%d", name, runs.Add(1)) }

func TestRegister(t *testing.T) {
	s := memstore.New()
	name := perRun("defaults-test")
	defaults.Register(name, s)
	if got, ok := defaults.LookupStore(name); !ok || got != s {
		t.Error("LookupStore did not find the registered store")
	}
	mustPanic(t, "Register twice", func() { defaults.Register(name, s) })
	mustPanic(t, "Register nil", func() { defaults.Register("nil-store", nil) })
	mustPanic(t, "Register memory", func() { defaults.Register("memory", s) })
	f := func(args []any) (string, error) { return "k", nil }
	defaults.RegisterHashFunc(name, f)
	if _, ok := defaults.LookupHashFunc(name); !ok {
		t.Error("LookupHashFunc did not find the registered func")
	}
	mustPanic(t, "RegisterHashFunc twice", func() { defaults.RegisterHashFunc(name, f) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestQuotedValues(t *testing.T) {
	s, err := defaults.Parse(`cache_dir='/srv/a,b c', key_prefix='it''s', next_time,name=x`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := defaults.Apply(defaults.Builtin(), s)
	if err != nil {
		t.Fatal(err)
	}
	if p.CacheDir != "/srv/a,b c" || p.KeyPrefix != "it's" || !p.NextTime || p.Name != "x" {
		t.Errorf("got cache_dir %q key_prefix %q next_time %v name %q", p.CacheDir, p.KeyPrefix, p.NextTime, p.Name)
	}
	for _, bad := range []string{`cache_dir='/srv`, `cache_dir='/a'b`} {
		if _, err := defaults.Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	// A quote that does not open a value is an ordinary character.
	if s, err := defaults.Parse(`name=o'brien`); err != nil || s.Pairs[0].Value != "o'brien" {
		t.Errorf("Parse(name=o'brien) = %v, %v", s, err)
	}
}
