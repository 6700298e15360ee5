package testenv

import (
	"bytes"
	"log"
	"log/slog"
	"sync"
	"testing"
)

// A LogBuffer collects log output written from any goroutine.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// CaptureLogs sends log/slog's default logger to a LogBuffer, as text, for
// the rest of the test, and restores the previous loggers at cleanup. Tests
// that use it must not run in parallel with others that log.
//
// slog.SetDefault with a handler of one's own also points the log package
// at that handler, and setting the old default back does not undo it (slog's
// default handler writes through the log package): so the log package's
// writer and flags are restored too.
func CaptureLogs(t testing.TB) *LogBuffer {
	var l LogBuffer
	old, oldOut, oldFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewTextHandler(&l, nil)))
	t.Cleanup(func() {
		slog.SetDefault(old)
		log.SetOutput(oldOut)
		log.SetFlags(oldFlags)
	})
	return &l
}
