package pipeline

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCopiesRemembersOutcomesWithinItsBound(t *testing.T) {
	c := newCopies(3)
	assert.Zero(t, c.take(1), "a first delivery")
	assert.Equal(t, seqHeld, c.take(1), "a copy of a message held")
	c.finished(1, OutcomeAck)
	assert.Equal(t, seqAcked, c.take(1), "a copy of a message acked")
	assert.Equal(t, seqAcked, c.take(1), "still acked: a copy does not hold it again")

	assert.Zero(t, c.take(2))
	c.finished(2, OutcomeNak)
	assert.Zero(t, c.take(2), "after a nak, the next delivery is a retry")
	c.finished(2, OutcomeTerm)
	assert.Equal(t, seqTermed, c.take(2))

	assert.Zero(t, c.take(7))
	c.untake(7)
	assert.Zero(t, c.take(7), "returned unstarted: forgotten")

	// Three outcomes are kept: finishing more forgets the oldest.
	for _, seq := range []uint64{3, 4} {
		assert.Zero(t, c.take(seq))
		c.finished(seq, OutcomeAck)
	}
	assert.Zero(t, c.take(1), "the oldest outcome forgotten")
	assert.Equal(t, seqTermed, c.take(2))
	assert.Equal(t, seqAcked, c.take(4))
	assert.Equal(t, seqHeld, c.take(7), "a held message is never forgotten")
	assert.LessOrEqual(t, len(c.seqs), 3+2, "bounded: the outcomes kept and the messages held")
}
