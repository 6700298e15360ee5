package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
	"github.com/cachier-go/cachier/defaults"
)

// runs numbers TestDemo's runs in this process (go test -count=N). Each
// run decorates its service under a key_prefix of its own: the collector
// adds up the series of every live function of one identity, and an
// earlier run's service (unreachable, but maybe not yet collected) would
// add its calls to this run's, as the memory store would serve this run
// what that one stored.
var runs atomic.Int64

// TestDemo runs the example's demo against a real listener: the scrape it
// prints holds the Square function's figures after its known calls (two
// misses, two hits).
func TestDemo(t *testing.T) {
	if err := defaults.Set(fmt.Sprintf("key_prefix=demo%d", runs.Add(1))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(defaults.Reset)
	svc, err := newService(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// identity is the function's identity, which begins with the
	// program's package path.
	identity := func(field any, suffix string) string {
		t.Helper()
		h, err := cachier.Of(field)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h.Name(), "/examples/metrics."+suffix+"#") {
			t.Errorf("identity %q, want the program's package path and %s", h.Name(), suffix)
		}
		return h.Name()
	}
	square, greet := identity(&svc.Square, "Service.Square"), identity(&svc.Greet, "Service.Greet")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler(svc)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	var out strings.Builder
	if err := demo("http://"+ln.Addr().String(), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	// line returns the scrape's line of metric for the function of
	// identity fn.
	line := func(metric, fn string) string {
		prefix := fmt.Sprintf("%s{function=%q} ", metric, fn)
		for _, l := range strings.Split(got, "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Errorf("the scrape has no %s for %s; it is:\n%s", metric, fn, got)
		return ""
	}
	for metric, want := range map[string]string{
		"cachier_cache_hits_total":   " 2",
		"cachier_cache_misses_total": " 2",
		"cachier_entry_count":        " 2",
	} {
		if l := line(metric, square); l != "" && !strings.HasSuffix(l, want) {
			t.Errorf("%s, want%s", l, want)
		}
	}
	if l := line("cachier_cache_hits_total", greet); l != "" && !strings.HasSuffix(l, " 1") {
		t.Errorf("%s, want 1", l)
	}
	line("cachier_call_duration_seconds_count", square)
}
