// Package logging builds docgraph's slog logger (tint on a terminal, JSON
// otherwise), defines the standard attribute keys, and carries the message
// being handled in a context so that every line about a message names it.
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

type (
	ctxKey     struct{}
	messageKey struct{}
)

// message is what a context says about the message being handled.
type message struct {
	stage, subject string
	seq            uint64
}

// WithCorrelationID returns a context whose log lines carry id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, id)
}

// WithMessage returns a context whose log lines carry the message being
// handled: its correlation ID (if any), the stage handling it, its subject
// and stream sequence. What a stage's handler logs with that context names
// the message, whichever logger it uses.
func WithMessage(ctx context.Context, correlationID, stage, subject string, seq uint64) context.Context {
	ctx = WithCorrelationID(ctx, correlationID)
	return context.WithValue(ctx, messageKey{}, message{stage: stage, subject: subject, seq: seq})
}

// CorrelationID returns the correlation ID in ctx, or "".
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// ContextHandler adds to every record what its context says about the
// message being handled (correlation_id, stage, subject, stream_seq),
// except the keys the logger or the record already has.
type ContextHandler struct {
	inner slog.Handler
	has   map[string]bool // top-level keys added by WithAttrs
	group bool            // WithGroup was called: attrs are nested
}

// NewContextHandler wraps h.
func NewContextHandler(h slog.Handler) *ContextHandler { return &ContextHandler{inner: h} }

// Enabled implements slog.Handler.
func (h *ContextHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

// Handle implements slog.Handler.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	id := CorrelationID(ctx)
	m, _ := ctx.Value(messageKey{}).(message)
	if id == "" && m == (message{}) {
		return h.inner.Handle(ctx, r)
	}
	missing := func(k string) bool {
		if h.has[k] {
			return false
		}
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = a.Key == k
			return !found
		})
		return !found
	}
	if id != "" && missing(KeyCorrelationID) {
		r.AddAttrs(slog.String(KeyCorrelationID, id))
	}
	if m.stage != "" && missing(KeyStage) {
		r.AddAttrs(slog.String(KeyStage, m.stage))
	}
	if m.subject != "" && missing(KeySubject) {
		r.AddAttrs(slog.String(KeySubject, m.subject))
	}
	if m.seq != 0 && missing(KeySeq) {
		r.AddAttrs(slog.Uint64(KeySeq, m.seq))
	}
	return h.inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := &ContextHandler{inner: h.inner.WithAttrs(attrs), has: h.has, group: h.group}
	if !h.group {
		c.has = make(map[string]bool, len(h.has)+len(attrs))
		for k := range h.has {
			c.has[k] = true
		}
		for _, a := range attrs {
			c.has[a.Key] = true
		}
	}
	return c
}

// WithGroup implements slog.Handler.
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{inner: h.inner.WithGroup(name), has: h.has, group: true}
}

// Discard is a logger that drops everything (tests, benchmarks).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
