package cachier

import (
	"context"
	"log/slog"

	"github.com/cachier-go/cachier/defaults"
)

// storeLogger is the logger handed to the stores the core opens itself
// (the file store): it writes through defaults.Logger() as it is at each
// message, so that defaults.SetLogger reaches the stores too, also those
// opened before it was called.
var storeLogger = slog.New(forwardHandler{})

// forwardHandler is a slog.Handler that passes each record to the handler
// of defaults.Logger(), with the attributes and groups added to it on the
// way (WithAttrs, WithGroup) replayed in order.
type forwardHandler struct {
	with []func(slog.Handler) slog.Handler
}

func (h forwardHandler) target() slog.Handler {
	t := defaults.Logger().Handler()
	for _, w := range h.with {
		t = w(t)
	}
	return t
}

func (h forwardHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.target().Enabled(ctx, l)
}

func (h forwardHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.target().Handle(ctx, r)
}

func (h forwardHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.add(func(t slog.Handler) slog.Handler { return t.WithAttrs(attrs) })
}

func (h forwardHandler) WithGroup(name string) slog.Handler {
	return h.add(func(t slog.Handler) slog.Handler { return t.WithGroup(name) })
}

func (h forwardHandler) add(w func(slog.Handler) slog.Handler) forwardHandler {
	return forwardHandler{with: append(h.with[:len(h.with):len(h.with)], w)}
}
