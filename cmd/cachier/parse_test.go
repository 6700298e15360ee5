package main

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFlagsAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"-json", "delete-stale", "URL", "F", "-older-than", "2d"},
		{"delete-stale", "URL", "--older-than=2d", "F", "--json"},
		{"delete-stale", "-older-than", "48h", "URL", "F", "-json=true"},
	} {
		o, rest, err := parse(args)
		if err != nil {
			t.Fatalf("parse(%q): %v", args, err)
		}
		if !o.json || o.olderThan != 48*time.Hour || strings.Join(rest, " ") != "delete-stale URL F" {
			t.Errorf("parse(%q) = %+v, %q", args, o, rest)
		}
	}
	for _, args := range [][]string{{"ls", "-older-than"}, {"ls", "-nope"}, {"-json=maybe"}, {"-timeout", "-3s"}} {
		if _, _, err := parse(args); err == nil {
			t.Errorf("parse(%q): no error", args)
		}
	}
}

// FuzzParse: no argument list makes the parser panic.
func FuzzParse(f *testing.F) {
	f.Add("ls\x00URL\x00-json")
	f.Add("delete-stale\x00u\x00f\x00--older-than=1.5d")
	f.Add("-older-than\x00")
	f.Add("-timeout=1e300d")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = parse(strings.Split(s, "\x00"))
	})
}

// syncWriter records what is written and signals the first write.
type syncWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan struct{}
	once  sync.Once
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.first) })
	return w.buf.Write(p)
}

// TestProgressOnLongScans: a scan that lasts past a second reports on
// stderr how long it has run and how many entries it read; a quick one
// prints nothing.
func TestProgressOnLongScans(t *testing.T) {
	w := &syncWriter{first: make(chan struct{})}
	err := withProgress(w, "listing redis", func() int64 { return 42 }, func() error {
		<-w.first // the scan lasts until the progress line appears
		return errors.New("done")
	})
	if err == nil || err.Error() != "done" {
		t.Fatalf("withProgress returned %v, want f's error", err)
	}
	if got := w.buf.String(); !strings.Contains(got, "listing redis… 1s, 42 entries") {
		t.Errorf("progress %q", got)
	}
	var quiet bytes.Buffer
	_ = withProgress(&quiet, "x", nil, func() error { return nil })
	if quiet.Len() != 0 {
		t.Errorf("a quick scan printed %q", quiet.String())
	}
}
