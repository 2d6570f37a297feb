package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/docgraph/docgraph/pkg/logging"
)

// storageFull tracks the inputs whose outputs JetStream had no room for
// (its disk or storage limit is full). Such an input is not at fault: it
// is retried with backoff for as long as that lasts, whatever its number
// of deliveries, and never dead-lettered for it (a dead letter would find
// no room either).
type storageFull struct {
	mu      sync.Mutex
	waiting map[uint64]bool // stream sequences retried for want of room
	since   time.Time       // when the first of them waited
	cause   error           // the latest failure
	logged  time.Time
}

// storageFullLogEvery bounds the error lines while JetStream is full.
const storageFullLogEvery = time.Minute

// waitForRoom records that the input at seq waits for room, and logs that
// JetStream is full (at most once per storageFullLogEvery).
func (r *Runner) waitForRoom(ctx context.Context, seq uint64, err error) {
	f := &r.full
	f.mu.Lock()
	if f.waiting == nil {
		f.waiting = map[uint64]bool{}
	}
	if len(f.waiting) == 0 {
		f.since = time.Now()
	}
	if !f.waiting[seq] {
		r.metrics.noRoom.WithLabelValues(r.cfg.Stage).Inc()
	}
	f.waiting[seq], f.cause = true, err
	n := len(f.waiting)
	log := time.Since(f.logged) >= storageFullLogEvery
	if log {
		f.logged = time.Now()
	}
	f.mu.Unlock()
	if log {
		r.log.ErrorContext(ctx, "JetStream has no room for this stage's outputs: its messages wait and are retried until room is made "+
			"(free disk space, or raise nats.max_store or the NATS server's max_file_store); none is dead-lettered for it",
			slog.Int("waiting", n), slog.Any(logging.KeyErr, err))
	}
}

// roomFound forgets that the input at seq waited for room.
func (r *Runner) roomFound(seq uint64) {
	f := &r.full
	f.mu.Lock()
	if f.waiting[seq] {
		delete(f.waiting, seq)
		r.metrics.noRoom.WithLabelValues(r.cfg.Stage).Dec()
	}
	f.mu.Unlock()
}

// waitingForRoom reports whether the input at seq was last retried for
// want of room (its deliveries do not count against MaxDeliver).
func (r *Runner) waitingForRoom(seq uint64) bool {
	f := &r.full
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting[seq]
}

// WaitingForRoom reports whether inputs of the stage are being retried
// because JetStream has no room for their outputs, since when, and the
// latest such failure.
func (r *Runner) WaitingForRoom() (waiting bool, since time.Time, cause error) {
	f := &r.full
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiting) == 0 {
		return false, time.Time{}, nil
	}
	return true, f.since, f.cause
}
