// Package logging builds docgraph's slog logger (tint on a terminal, JSON
// otherwise), defines the standard attribute keys, and carries the
// correlation ID in a context so that every line about a message has it.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/lmittmann/tint"
)

// Standard attribute keys.
const (
	KeyStage         = "stage"
	KeySubject       = "subject"
	KeySeq           = "stream_seq"
	KeyDelivery      = "delivery"
	KeyCorrelationID = "correlation_id"
	KeyMsgID         = "msg_id"
	KeyErr           = "err"
	KeyPath          = "path"
)

// Config selects the format and level.
type Config struct {
	Format string `yaml:"format" help:"auto (text on a terminal, JSON otherwise), text or json"`
	Level  string `yaml:"level" help:"debug, info, warn or error"`
}

// Validate checks the values.
func (c Config) Validate() error {
	switch c.Format {
	case "", "auto", "text", "json":
	default:
		return fmt.Errorf("log.format (%q): must be auto, text or json", c.Format)
	}
	if _, err := ParseLevel(c.Level); err != nil {
		return err
	}
	return nil
}

// ParseLevel parses a level name ("" is info).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log.level (%q): must be debug, info, warn or error", s)
}

// New builds the logger writing to w. Format auto means text (tint) when w
// is a terminal and JSON otherwise.
func New(cfg Config, w io.Writer) (*slog.Logger, error) {
	level, err := ParseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	format := cfg.Format
	if format == "" || format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	var h slog.Handler
	if format == "text" {
		h = tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly})
	} else {
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	}
	return slog.New(NewContextHandler(h)), nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

type ctxKey struct{}

// WithCorrelationID returns a context whose log lines carry id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, id)
}

// CorrelationID returns the correlation ID in ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// ContextHandler adds correlation_id from the context to every record.
type ContextHandler struct{ inner slog.Handler }

// NewContextHandler wraps h.
func NewContextHandler(h slog.Handler) *ContextHandler { return &ContextHandler{inner: h} }

// Enabled implements slog.Handler.
func (h *ContextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := CorrelationID(ctx); id != "" {
		r.AddAttrs(slog.String(KeyCorrelationID, id))
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ContextHandler{inner: h.inner.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{inner: h.inner.WithGroup(name)}
}

// Discard is a logger that drops everything (tests, benchmarks).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
