package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Missed returns how many messages left a stream before its durable
// consumer was delivered them: they expired (the stream's max age) or were
// discarded (its size limit) while the stage was stopped, paused or
// behind, and what they carried never reached the stage. It is 0 for a
// consumer that has not been delivered anything yet (a new consumer
// starts at the stream's first message), and once the consumer has been
// delivered a message after the gap: call it before the consumer pulls.
func Missed(ctx context.Context, js jetstream.JetStream, stream, durable string) (uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	// The stream first (the info js.Stream fetched): a consumer delivered
	// more since reads as no gap rather than as a gap it has already passed.
	si := st.CachedInfo()
	cons, err := st.Consumer(ctx, durable)
	if err != nil {
		return 0, fmt.Errorf("consumer %s on %s: %w", durable, stream, err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s on %s: %w", durable, stream, err)
	}
	return missed(ci.Delivered.Stream, si.State.FirstSeq), nil
}

// missed counts the sequences after delivered and before first.
func missed(delivered, first uint64) uint64 {
	if delivered == 0 || first <= delivered+1 {
		return 0
	}
	return first - 1 - delivered
}
