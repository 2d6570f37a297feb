package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// watchSlow warns while one handling (a message, or a batch of n) that
// started at start is still running: after SlowAfter, then each time its
// age doubles. A dependency that accepts connections but never answers, or
// a file that takes a handler unusually long, is visible at once instead of
// only when HandlerTimeout ends the attempt. attrs name the work (subject
// and stream sequence of a single message; ctx carries its correlation
// ID). stop ends the watch; the handling's own outcome is logged as usual.
func (r *Runner) watchSlow(ctx context.Context, start time.Time, n int, attrs ...slog.Attr) (stop func()) {
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	next := r.cfg.SlowAfter
	var warn func()
	warn = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		age := time.Since(start)
		if next == r.cfg.SlowAfter {
			r.metrics.slow.WithLabelValues(r.cfg.Stage).Inc()
		}
		args := make([]slog.Attr, 0, len(attrs)+3)
		args = append(args, attrs...)
		args = append(args, slog.Int("messages", n), slog.Duration("running", age),
			slog.Duration("handler_timeout", r.cfg.HandlerTimeout))
		r.log.LogAttrs(ctx, slog.LevelWarn, "still handling", args...)
		next *= 2
		t.Reset(max(next-age, time.Millisecond))
	}
	mu.Lock()
	t = time.AfterFunc(max(next-time.Since(start), time.Millisecond), warn)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}
}
