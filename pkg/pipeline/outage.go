package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/docgraph/docgraph/pkg/logging"
)

// outage tracks a stage whose dependency is down: the consumer is paused
// on the server (no new deliveries) and the messages in hand are held,
// heartbeated and retried, so an outage costs no delivery attempts.
type outage struct {
	mu      sync.Mutex
	paused  bool
	since   time.Time
	renewed time.Time
	cause   error // the latest failure that held a message
	resumes int   // recoveries so far
}

const (
	outageMinWait = 250 * time.Millisecond
	outageMaxWait = 15 * time.Second
	pauseFor      = 10 * time.Minute
	resumeAfter   = 500 * time.Millisecond
)

// hold waits out an outage reported by err: it pauses the consumer (once
// for all workers), waits with backoff, and returns true when the caller
// should retry, false when the runner is stopping.
func (r *Runner) hold(ctx context.Context, err error, attempt int) bool {
	o := &r.outage
	o.mu.Lock()
	now := time.Now()
	o.cause = err
	if !o.paused || now.Sub(o.renewed) > pauseFor/2 {
		if !o.paused {
			o.since = now
			r.log.WarnContext(ctx, "dependency unavailable: stage paused, holding its messages",
				slog.Any(logging.KeyErr, err))
		}
		o.paused, o.renewed = true, now
		r.metrics.paused.WithLabelValues(r.cfg.Stage).Set(1)
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if _, perr := r.js.PauseConsumer(pctx, r.cfg.Stream, r.cfg.Durable, now.Add(pauseFor)); perr != nil {
			r.log.WarnContext(ctx, "pause consumer failed", slog.Any(logging.KeyErr, perr))
		}
		cancel()
	}
	o.mu.Unlock()

	wait := outageMinWait << min(attempt, 6)
	if wait > outageMaxWait {
		wait = outageMaxWait
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.done:
		return false
	case <-ctx.Done():
		return false
	}
}

// recovered resumes the consumer after an outage. A resume that fails
// (NATS itself is in trouble) is retried in the background until it
// succeeds, the stage pauses again or the runner stops: otherwise the
// consumer would stay paused on the server for the rest of pauseFor.
func (r *Runner) recovered(ctx context.Context) {
	o := &r.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.paused {
		return
	}
	o.paused = false
	o.resumes++
	r.metrics.paused.WithLabelValues(r.cfg.Stage).Set(0)
	r.log.InfoContext(ctx, "dependency back: stage resumed", slog.Duration("outage", time.Since(o.since)))
	r.checkMissed(ctx)
	if err := r.resume(ctx); err != nil {
		r.log.WarnContext(ctx, "resume consumer failed; retrying", slog.Any(logging.KeyErr, err))
		go r.retryResume(ctx, o.resumes)
	}
}

// resume ends the consumer's pause on the server. The server wakes a
// consumer's waiting pull requests when a message arrives, a new pull
// request comes or a pause runs out, but not on an explicit resume: the
// messages stored during the outage would wait for the pull requests to
// expire (about 15 s). So the pause is set to run out in resumeAfter
// instead. Should the server's clock be behind this process's (the pause
// would last longer than asked), the consumer is resumed explicitly.
func (r *Runner) resume(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	resp, err := r.js.PauseConsumer(pctx, r.cfg.Stream, r.cfg.Durable, time.Now().Add(resumeAfter))
	if err != nil {
		return err
	}
	if resp.Paused && resp.PauseRemaining > resumeAfter+time.Second {
		_, err = r.js.ResumeConsumer(pctx, r.cfg.Stream, r.cfg.Durable)
	}
	return err
}

// retryResume retries the resume of recovery number n with backoff.
func (r *Runner) retryResume(ctx context.Context, n int) {
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(min(outageMinWait<<min(attempt, 6), outageMaxWait))
		select {
		case <-t.C:
		case <-r.done:
			t.Stop()
			return
		}
		o := &r.outage
		o.mu.Lock()
		if o.paused || o.resumes != n {
			o.mu.Unlock()
			return // paused again: the next recovery resumes
		}
		err := r.resume(ctx)
		o.mu.Unlock()
		if err == nil {
			r.log.InfoContext(ctx, "consumer resumed", slog.Int("attempts", attempt+2))
			return
		}
		r.log.WarnContext(ctx, "resume consumer failed; retrying", slog.Any(logging.KeyErr, err))
	}
}

// Paused reports whether the stage is holding messages during an outage.
func (r *Runner) Paused() bool {
	paused, _, _ := r.Outage()
	return paused
}

// Outage reports whether the stage is holding messages during an outage,
// since when, and the latest failure that held one.
func (r *Runner) Outage() (paused bool, since time.Time, cause error) {
	r.outage.mu.Lock()
	defer r.outage.mu.Unlock()
	if !r.outage.paused {
		return false, time.Time{}, nil
	}
	return true, r.outage.since, r.outage.cause
}
