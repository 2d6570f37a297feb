package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ObjectComplete reports whether every chunk of the object that info
// describes is stored. An object store Put that fails after its metadata
// was stored (a publish caught in a leader election) purges its chunks but
// leaves the metadata: such an object is listed with its size and digest,
// yet a read of it waits for chunks that never come. Callers that find an
// object already stored check it with this before trusting it.
func ObjectComplete(ctx context.Context, js jetstream.JetStream, info *jetstream.ObjectInfo) (bool, error) {
	if info.Chunks == 0 {
		return true, nil
	}
	stream := "OBJ_" + info.Bucket
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return false, fmt.Errorf("object %s: stream %s: %w", info.Name, stream, err)
	}
	subj := "$O." + info.Bucket + ".C." + info.NUID
	si, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return false, fmt.Errorf("object %s: stream %s: %w", info.Name, stream, err)
	}
	return si.State.Subjects[subj] >= uint64(info.Chunks), nil
}
