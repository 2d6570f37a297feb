package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// tracker follows, for one goroutine that wakes every tick, the messages a
// runner holds (delivered, not yet acked, nacked or terminated) and the
// handlings that run. It sends each held message's heartbeat (InProgress)
// every beat, and warns of a handling still running after SlowAfter, then
// each time its age doubles. A stage holds up to MaxAckPending messages,
// and a timer each would cost a fast stage a tenth of its throughput.
type tracker struct {
	mu      sync.Mutex
	held    state                   // sentinel of the ring of held messages
	running map[*slowWatch]struct{} // the running handlings, a few
	// beat is the heartbeat interval, AckWait/3, and tick the wake-up
	// interval, a quarter of the shorter of beat and SlowAfter: a held
	// message goes at most beat+tick (under half its AckWait) without a
	// heartbeat, which leaves the other half for the time it waited in
	// the pull buffer before its handling started.
	beat, tick time.Duration
	warn       func(w *slowWatch, age time.Duration)
}

func newTracker(ackWait, slowAfter time.Duration, warn func(*slowWatch, time.Duration)) *tracker {
	t := &tracker{beat: max(ackWait/3, time.Millisecond), warn: warn}
	t.tick = max(min(t.beat, slowAfter)/4, time.Millisecond)
	t.held.prev, t.held.next = &t.held, &t.held
	t.running = map[*slowWatch]struct{}{}
	return t
}

// run sweeps every tick until stop is closed.
func (t *tracker) run(stop <-chan struct{}) {
	tk := time.NewTicker(t.tick)
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			t.sweep(now)
		}
	}
}

// sweep sends the heartbeats that are due and warns of the handlings
// that have become slow. It holds the lock throughout, so that nothing is
// sent for a message after its release, nor warned after a watch ends
// (an InProgress is a buffered write; a warning, rare).
func (t *tracker) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for st := t.held.next; st != &t.held; st = st.next {
		if !now.Before(st.beatAt) {
			_ = st.raw.InProgress()
			st.beatAt = now.Add(t.beat)
		}
	}
	for w := range t.running {
		if age := now.Sub(w.start); age >= w.warnAt {
			t.warn(w, age)
			for w.warnAt <= age {
				w.warnAt *= 2
			}
		}
	}
}

// hold starts st's heartbeats: the first is due a beat after st.start.
func (t *tracker) hold(st *state) {
	st.beatAt = st.start.Add(t.beat)
	t.mu.Lock()
	st.prev, st.next = t.held.prev, &t.held
	t.held.prev.next = st
	t.held.prev = st
	t.mu.Unlock()
}

// release ends st's heartbeats; releasing twice is harmless.
func (t *tracker) release(st *state) {
	t.mu.Lock()
	if st.next != nil {
		st.prev.next, st.next.prev = st.next, st.prev
		st.prev, st.next = nil, nil
	}
	t.mu.Unlock()
}

// slowWatch is one running handling: a message, or a batch of n.
type slowWatch struct {
	ctx    context.Context
	start  time.Time
	warnAt time.Duration // age of the next warning
	n      int
	attrs  []slog.Attr
}

// watchSlow warns while one handling (a message, or a batch of n) that
// started at start is still running: after SlowAfter, then each time its
// age doubles. A dependency that accepts connections but never answers, or
// a file that takes a handler unusually long, is visible at once instead of
// only when HandlerTimeout ends the attempt. attrs name the work (subject
// and stream sequence of a single message; ctx carries its correlation
// ID). stop ends the watch; the handling's own outcome is logged as usual.
func (r *Runner) watchSlow(ctx context.Context, start time.Time, n int, attrs ...slog.Attr) (stop func()) {
	w := &slowWatch{ctx: ctx, start: start, warnAt: r.cfg.SlowAfter, n: n, attrs: attrs}
	t := r.track
	t.mu.Lock()
	t.running[w] = struct{}{}
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		delete(t.running, w)
		t.mu.Unlock()
	}
}

// warnSlow logs that w is still running at age; the first warning of a
// handling is counted.
func (r *Runner) warnSlow(w *slowWatch, age time.Duration) {
	if w.warnAt == r.cfg.SlowAfter {
		r.metrics.slow.WithLabelValues(r.cfg.Stage).Inc()
	}
	args := make([]slog.Attr, 0, len(w.attrs)+3)
	args = append(args, w.attrs...)
	args = append(args, slog.Int("messages", w.n), slog.Duration("running", age),
		slog.Duration("handler_timeout", r.cfg.HandlerTimeout))
	r.log.LogAttrs(w.ctx, slog.LevelWarn, "still handling", args...)
}
