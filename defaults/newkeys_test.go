package defaults_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachier-go/cachier/defaults"
)

func TestNewKeys(t *testing.T) {
	spec, err := defaults.Parse("ignore_args=1|3,codec=json,compress=zstd,expire_after=2d,max_entries=10,max_size=1MB,enable_metrics,metrics_sampling_rate=0.25")
	if err != nil {
		t.Fatal(err)
	}
	p, err := defaults.Apply(defaults.Builtin(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if p.IgnoreArgs != "1|3" || p.Codec != "json" || p.Compress != "zstd" || p.ExpireAfter != 48*time.Hour ||
		p.MaxEntries != 10 || p.MaxSize != 1<<20 || !p.EnableMetrics || p.MetricsSamplingRate != 0.25 {
		t.Fatalf("got %+v", p)
	}
	if got, _ := defaults.ParsePositions(p.IgnoreArgs); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("ParsePositions(%q) = %v", p.IgnoreArgs, got)
	}
	if defaults.Builtin().MetricsSamplingRate != 1 {
		t.Fatal("metrics_sampling_rate must default to 1")
	}
}

func TestNewKeysBad(t *testing.T) {
	for _, spec := range []string{
		"ignore_args=x", "ignore_args=-1", "ignore_args=1|1", "ignore_args=",
		"compress=lz4", "max_entries=0", "max_entries=-3", "max_entries=many",
		"max_size=0", "max_size=lots", "metrics_sampling_rate=1.5", "metrics_sampling_rate=-0.1",
		"metrics_sampling_rate=NaN", "codec=", "expire_after=soon",
	} {
		s, err := defaults.Parse(spec)
		if err == nil {
			_, err = defaults.Apply(defaults.Builtin(), s)
		}
		var ke *defaults.KeyError
		if err == nil {
			t.Errorf("%s: accepted", spec)
			continue
		}
		if !errors.As(err, &ke) || !strings.HasPrefix(spec, ke.Key+"=") {
			t.Errorf("%s: error %v does not name the key", spec, err)
		}
	}
}

func TestSetLogger(t *testing.T) {
	defer defaults.SetLogger(nil)
	if defaults.Logger() != slog.Default() {
		t.Fatal("Logger() without SetLogger must be slog.Default()")
	}
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	defaults.SetLogger(l)
	defaults.Logger().Warn("hello")
	if !strings.Contains(buf.String(), "hello") {
		t.Fatalf("message not in the set logger: %q", buf.String())
	}
	defaults.SetLogger(nil)
	if defaults.Logger() != slog.Default() {
		t.Fatal("SetLogger(nil) must restore slog.Default()")
	}
}

func TestGetCallParamsFollowsSet(t *testing.T) {
	defer defaults.Reset()
	if err := defaults.Set("stale_after=3h,next_time,wait_for_calc_timeout=2s,allow_none,cleanup_stale,cleanup_interval=5m"); err != nil {
		t.Fatal(err)
	}
	g, c := defaults.Get(), defaults.GetCallParams()
	want := defaults.CallParams{g.StaleAfter, g.NextTime, g.WaitForCalcTimeout, g.AllowNone, g.CleanupStale, g.CleanupInterval}
	if c != want || c.StaleAfter != 3*time.Hour || !c.NextTime || c.CleanupInterval != 5*time.Minute {
		t.Fatalf("GetCallParams() = %+v, want %+v", c, want)
	}
}
