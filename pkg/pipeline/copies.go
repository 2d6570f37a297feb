package pipeline

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/docgraph/docgraph/pkg/logging"
)

// Copies of a message.
//
// The runner heartbeats the messages it has taken, but the pull iterator
// buffers up to PullBatch more, delivered and unacknowledged, whose
// AckWait runs while they wait there. A stage slower than its buffer (an
// LLM extractor taking seconds per chunk, say) sees the server redeliver
// them, and the copies queue behind the originals in the same buffer.
// Handled, a copy would repeat the work, and one delivered more than
// MaxDeliver times would be dead-lettered although its original was
// handled. The runner hands a copy to the handler only when this process
// does not hold, and has not just finished, its message: a copy of a
// message in hand is dropped (the original's outcome settles it), a copy
// of one acknowledged or terminated is acknowledged or terminated again
// (the server ignores it, unless the first was lost), and a copy of one
// nacked is a retry like any other.

// seqState is what the runner did with a stream sequence.
type seqState uint8

const (
	seqHeld seqState = iota + 1
	seqAcked
	seqTermed
)

// copies remembers the stream sequences the runner holds and those it
// finished last (at most keep of them), by outcome.
type copies struct {
	mu     sync.Mutex
	seqs   map[uint64]seqState
	ring   []uint64 // finished sequences, oldest first from next
	next   int
	warned atomic.Bool // the first copy dropped was logged
}

func newCopies(keep int) *copies {
	return &copies{seqs: make(map[uint64]seqState, keep), ring: make([]uint64, keep)}
}

// take marks seq held and returns what the runner did with it before: 0
// for nothing it remembers.
func (c *copies) take(seq uint64) seqState {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.seqs[seq]
	if was == 0 || was == seqHeld {
		c.seqs[seq] = seqHeld
	}
	return was
}

// untake forgets a sequence taken but returned unstarted (at shutdown).
func (c *copies) untake(seq uint64) {
	c.mu.Lock()
	if c.seqs[seq] == seqHeld {
		delete(c.seqs, seq)
	}
	c.mu.Unlock()
}

// finished records seq's outcome (an Outcome constant).
func (c *copies) finished(seq uint64, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch result {
	case OutcomeAck:
		c.seqs[seq] = seqAcked
	case OutcomeTerm:
		c.seqs[seq] = seqTermed
	default: // nacked: a later delivery is a retry
		delete(c.seqs, seq)
		return
	}
	if old := c.ring[c.next]; old != 0 && c.seqs[old] != seqHeld {
		delete(c.seqs, old)
	}
	c.ring[c.next] = seq
	c.next = (c.next + 1) % len(c.ring)
}

// admit reports whether d goes to the handler. A copy that does not is
// settled here: dropped, or acked or terminated again.
func (r *Runner) admit(d delivery) bool {
	if d.md == nil {
		return true // not a JetStream message: the handling reports it
	}
	m, seq := d.msg, d.md.Sequence.Stream
	was := r.copies.take(seq)
	if was == 0 {
		return true
	}
	switch was {
	case seqAcked:
		_ = m.Ack()
	case seqTermed:
		_ = m.Term()
	}
	r.stage.copies.Inc()
	if !r.copies.warned.Swap(true) {
		r.log.Warn("a redelivered copy of a message this stage holds or has just handled was dropped: the messages wait longer than ack_wait in the pull buffer; raise the stage's ack_wait",
			slog.String(logging.KeySubject, m.Subject()), slog.Uint64(logging.KeySeq, seq),
			slog.Uint64(logging.KeyDelivery, d.md.NumDelivered), slog.Duration("ack_wait", r.cfg.AckWait))
	}
	return false
}
