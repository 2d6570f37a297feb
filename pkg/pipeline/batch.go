package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/docgraph/docgraph/pkg/logging"
)

// batchLoop cuts the input into batches (by size, a function of the
// backlog, or by BatchMaxWait) and hands each to the batch handler; every
// message of a batch is acked only after the handler returned, i.e. after
// its commit.
func (r *Runner) batchLoop(workCtx context.Context, in <-chan delivery) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		first, ok := <-in
		if !ok {
			return
		}
		batch := []delivery{first}
		// The backlog is what the server has not delivered yet plus what
		// was delivered and waits here (a long batch leaves many).
		size := r.cfg.BatchSize(pendingOf(first) + uint64(len(in)))
		timer.Reset(r.cfg.BatchMaxWait)
	fill:
		for len(batch) < size {
			select {
			case m, ok := <-in:
				if !ok {
					break fill
				}
				batch = append(batch, m)
				if len(batch) == 2 || len(batch)%64 == 0 {
					size = r.cfg.BatchSize(pendingOf(m) + uint64(len(in)) + uint64(len(batch)))
				}
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		r.runBatch(workCtx, batch)
	}
}

func pendingOf(d delivery) uint64 {
	if d.md == nil {
		return 0
	}
	return d.md.NumPending
}

func (r *Runner) runBatch(workCtx context.Context, raw []delivery) {
	states := make([]*state, len(raw))
	msgs := make([]Message, len(raw))
	for i, d := range raw {
		st := r.input(d)
		st.ctx = logging.WithMessage(workCtx, st.in.CorrelationID(), r.cfg.Stage, st.in.Subject, st.in.StreamSeq)
		r.track.hold(st)
		states[i], msgs[i] = st, st.in
	}
	r.stage.inFlight.Add(float64(len(raw)))
	// Messages past MaxDeliver are dead-lettered without handling.
	keep := make([]int, 0, len(raw))
	pre := make([]error, len(raw))
	for i, st := range states {
		if err := r.unhandled(st); err != nil {
			pre[i] = err
			continue
		}
		keep = append(keep, i)
	}
	if len(keep) < len(raw) {
		kept := make([]Message, len(keep))
		for j, i := range keep {
			kept[j] = msgs[i]
		}
		states2 := make([]*state, len(keep))
		for j, i := range keep {
			states2[j] = states[i]
		}
		for i, st := range states {
			if pre[i] != nil {
				r.finish(st, pre[i])
			}
		}
		states, msgs = states2, kept
		if len(msgs) == 0 {
			return
		}
	}
	errs := r.watchedBatch(workCtx, msgs)
	// A dependency outage: hold the messages that hit it and retry them.
	for attempt := 0; ; attempt++ {
		var idx []int
		for i, err := range errs {
			if IsUnavailable(err) {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			if attempt > 0 {
				r.recovered(workCtx)
			}
			break
		}
		if !r.hold(workCtx, errs[idx[0]], attempt) {
			break
		}
		retry := make([]Message, len(idx))
		for j, i := range idx {
			retry[j] = msgs[i]
		}
		rerrs := r.watchedBatch(workCtx, retry)
		for j, i := range idx {
			errs[i] = nil
			if j < len(rerrs) {
				errs[i] = rerrs[j]
			}
		}
	}
	for i, st := range states {
		var err error
		if i < len(errs) {
			err = errs[i]
		}
		r.finish(st, err)
	}
}

// safeBatch calls the batch handler; after a panic it retries the
// messages one by one so the panic is pinned on the message that causes it.
// watchedBatch runs safeBatch within HandlerTimeout, warning while it is
// slow.
func (r *Runner) watchedBatch(workCtx context.Context, msgs []Message) []error {
	ctx, cancel := context.WithTimeout(workCtx, r.cfg.HandlerTimeout)
	defer cancel()
	defer r.watchSlow(workCtx, time.Now(), len(msgs),
		slog.String(logging.KeySubject, msgs[0].Subject), slog.Uint64("first_stream_seq", msgs[0].StreamSeq))()
	return r.safeBatch(ctx, msgs)
}

func (r *Runner) safeBatch(ctx context.Context, msgs []Message) []error {
	errs, perr := r.callBatch(ctx, msgs)
	if perr == nil {
		if errs == nil {
			errs = make([]error, len(msgs))
		}
		if errs != nil && len(errs) != len(msgs) {
			err := fmt.Errorf("batch handler returned %d results for %d messages", len(errs), len(msgs))
			errs = make([]error, len(msgs))
			for i := range errs {
				errs[i] = err
			}
		}
		return errs
	}
	if len(msgs) == 1 {
		return []error{perr}
	}
	errs = make([]error, len(msgs))
	for i := range msgs {
		e, p := r.callBatch(ctx, msgs[i:i+1])
		switch {
		case p != nil:
			errs[i] = p
		case len(e) > 0:
			errs[i] = e[0]
		}
	}
	return errs
}

func (r *Runner) callBatch(ctx context.Context, msgs []Message) (errs []error, perr error) {
	defer func() {
		if v := recover(); v != nil {
			perr = &panicError{val: v, stack: debug.Stack()}
		}
	}()
	return r.batch(ctx, msgs), nil
}
