package cachier_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachier-go/cachier"
)

// A *http.Client (it holds a func) or *slog.Logger parameter left out of
// the key with ignore_args: the function decorates, and calls that differ
// only in those parameters share one entry.
func TestIgnoreArgs(t *testing.T) {
	reset(t)
	var calls atomic.Int64
	fetch := func(ctx context.Context, url string, c *http.Client, log *slog.Logger) (string, error) {
		calls.Add(1)
		return "body of " + url, nil
	}
	f := fetch
	kp := runPrefix() // a run of its own (go test -count=N), shared by f and g2 below
	if err := cachier.Decorate(&f, cachier.Tag("backend=memory,name=test.ignore,ignore_args=2|3,"+kp)); err != nil {
		t.Fatalf("Decorate with ignore_args: %v", err)
	}
	c1, c2 := &http.Client{}, &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for _, c := range []*http.Client{c1, c2, nil} {
		if got, err := f(ctx, "u", c, slog.Default()); got != "body of u" || err != nil {
			t.Fatalf("f = %q, %v", got, err)
		}
	}
	if _, _ = f(ctx, "v", c1, nil); calls.Load() != 2 {
		t.Fatalf("%d calls, want 2: the ignored parameters took part in the key", calls.Load())
	}
	// Precache takes all the arguments or only the key ones (here the url).
	h, _ := cachier.Of(&f)
	if err := h.Precache(ctx, "pre", "w"); err != nil {
		t.Fatal(err)
	}
	if err := h.Precache(ctx, "pre2", ctx, "x", c1, nil); err != nil {
		t.Fatal(err)
	}
	if a, _ := f(ctx, "w", c2, nil); a != "pre" {
		t.Errorf("after Precache(key args): %q", a)
	}
	if b, _ := f(ctx, "x", nil, nil); b != "pre2" {
		t.Errorf("after Precache(all args): %q", b)
	}
	// Without ignore_args the same function cannot be keyed.
	g := fetch
	err := cachier.Decorate(&g, cachier.Tag("backend=memory,name=test.ignore.none"))
	if err == nil || !strings.Contains(err.Error(), "cannot be hashed") {
		t.Errorf("without ignore_args: %v", err)
	}
	// The identity follows ignore_args: keys of another shape start afresh.
	g2 := fetch
	if err := cachier.Decorate(&g2, cachier.Tag("backend=memory,name=test.ignore,ignore_args=1|2|3,"+kp)); err != nil {
		t.Fatal(err)
	}
	h2, _ := cachier.Of(&g2)
	if h2.Name() == h.Name() {
		t.Errorf("ignore_args=2|3 and 1|2|3 share the identity %s", h.Name())
	}
	runtime.KeepAlive(&f)
}

type recvSvc struct {
	Find func(s *recvSvc, ctx context.Context, id int, log *slog.Logger) int `cachier:"backend=memory,ignore_args=3"`
	Bad  func(s *recvSvc, ctx context.Context, id int) int                   `cachier:"backend=memory,ignore_args=0"`
	Ctx  func(ctx context.Context, id int) int                               `cachier:"backend=memory,ignore_args=0"`
	Far  func(id int) int                                                    `cachier:"backend=memory,ignore_args=1"`
	Junk func(id int) int                                                    `cachier:"backend=memory,ignore_args=a"`
}

func TestIgnoreArgsPositionsChecked(t *testing.T) {
	reset(t)
	s := recvSvc{
		Find: func(*recvSvc, context.Context, int, *slog.Logger) int { return 1 },
		Bad:  func(*recvSvc, context.Context, int) int { return 1 },
		Ctx:  func(context.Context, int) int { return 1 },
		Far:  func(int) int { return 1 },
		Junk: func(int) int { return 1 },
	}
	err := cachier.Decorate(&s)
	want := map[string]string{
		"recvSvc.Bad":  "receiver",
		"recvSvc.Ctx":  "context.Context",
		"recvSvc.Far":  "out of range",
		"recvSvc.Junk": "invalid position",
	}
	got := map[string]*cachier.TagError{}
	for _, te := range tagErrors(err) {
		got[te.Field] = te
	}
	for field, msg := range want {
		te := got[field]
		if te == nil || te.Key != "ignore_args" || !strings.Contains(te.Error(), msg) {
			t.Errorf("%s: %v; want a TagError on ignore_args saying %q", field, te, msg)
		}
	}
	if te := got["recvSvc.Find"]; te != nil {
		t.Errorf("a valid ignore_args refused: %v", te)
	}
	var te *cachier.TagError
	if !errors.As(err, &te) {
		t.Errorf("%v is not a TagError", err)
	}
}
