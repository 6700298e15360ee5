package cachier

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/cachier-go/cachier/defaults"
)

// TestStoreLoggerFollowsSetLogger: the logger handed to the file store
// writes through whatever defaults.SetLogger set at each message, with the
// attributes and groups added on the way, in order.
func TestStoreLoggerFollowsSetLogger(t *testing.T) {
	var a, b bytes.Buffer
	defaults.SetLogger(slog.New(slog.NewJSONHandler(&a, nil)))
	t.Cleanup(func() { defaults.SetLogger(nil) })
	l := storeLogger.With("x", 1).WithGroup("g").With("y", 2)
	l.Warn("first", "z", 3)
	defaults.SetLogger(slog.New(slog.NewJSONHandler(&b, nil)))
	l.Warn("second")
	var got map[string]any
	if err := json.Unmarshal(a.Bytes(), &got); err != nil {
		t.Fatalf("%v: %q", err, a.String())
	}
	g, _ := got["g"].(map[string]any)
	if got["msg"] != "first" || got["x"] != 1.0 || g["y"] != 2.0 || g["z"] != 3.0 {
		t.Errorf("first message: %s", a.String())
	}
	if !bytes.Contains(b.Bytes(), []byte(`"msg":"second"`)) || bytes.Contains(a.Bytes(), []byte("second")) {
		t.Errorf("second message went to the old logger: a=%q b=%q", a.String(), b.String())
	}
}
