package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestDemo runs the example's demo against a real listener: the scrape it
// prints holds the Square function's figures after its known calls (two
// misses, two hits).
func TestDemo(t *testing.T) {
	svc, err := newService(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
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
	// line returns the scrape's line of metric for the function named
	// suffix (its identity begins with the program's package path).
	line := func(metric, suffix string) string {
		for _, l := range strings.Split(got, "\n") {
			if strings.HasPrefix(l, metric+"{function=") && strings.Contains(l, suffix+"#") {
				return l
			}
		}
		t.Errorf("the scrape has no %s for %s; it is:\n%s", metric, suffix, got)
		return ""
	}
	for metric, want := range map[string]string{
		"cachier_cache_hits_total":   " 2",
		"cachier_cache_misses_total": " 2",
		"cachier_entry_count":        " 2",
	} {
		if l := line(metric, "Service.Square"); l != "" && !strings.HasSuffix(l, want) {
			t.Errorf("%s, want%s", l, want)
		}
	}
	if l := line("cachier_cache_hits_total", "Service.Greet"); l != "" && !strings.HasSuffix(l, " 1") {
		t.Errorf("%s, want 1", l)
	}
	line("cachier_call_duration_seconds_count", "Service.Square")
}
