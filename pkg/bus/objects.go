package bus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

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
	stream := objectStream(info.Bucket)
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return false, fmt.Errorf("object %s: stream %s: %w", info.Name, stream, err)
	}
	subj := chunkSubject(info.Bucket, info.NUID)
	si, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return false, fmt.Errorf("object %s: stream %s: %w", info.Name, stream, err)
	}
	return si.State.Subjects[subj] >= uint64(info.Chunks), nil
}

// objectStream is the stream that holds bucket's objects.
func objectStream(bucket string) string { return "OBJ_" + bucket }

// chunkSubject is the subject of the chunks of the object with id nuid.
func chunkSubject(bucket, nuid string) string { return "$O." + bucket + ".C." + nuid }

// ErrObjectIncomplete marks a read of an object whose chunks are not all
// stored (see ObjectComplete): reading it again cannot succeed.
var ErrObjectIncomplete = errors.New("object incomplete: its upload did not finish")

// objectOpenTimeout bounds the setup of an object read (its info request
// and the creation of the consumer that streams its chunks). A request in
// flight while the connection drops never gets its reply, and a handler's
// own deadline is minutes away: without this bound a NATS restart could
// stall a reader for that long.
const objectOpenTimeout = 15 * time.Second

// Objects reads the objects of one bucket: Open bounds the setup of a
// read, and a read that fails on an incomplete object reports
// ErrObjectIncomplete instead of a timeout.
type Objects struct {
	js     jetstream.JetStream
	store  jetstream.ObjectStore
	stream jetstream.Stream
	bucket string
}

// NewObjects returns the reader of bucket's objects.
func NewObjects(ctx context.Context, js jetstream.JetStream, bucket string) (*Objects, error) {
	store, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", bucket, err)
	}
	stream, err := js.Stream(ctx, objectStream(bucket))
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", bucket, err)
	}
	return &Objects{js: js, store: store, stream: stream, bucket: bucket}, nil
}

// Open returns a reader of the object called name; its reads end when ctx
// does. A missing object's error matches jetstream.ErrObjectNotFound.
//
// An object of one chunk (most documents) is read with one request for
// that chunk; a larger one streams through the object store's consumer.
func (o *Objects) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(objectOpenTimeout, cancel)
	r, err := o.open(ctx, name)
	if !timer.Stop() {
		// The timer fired and cancelled the read, whatever Get returned.
		if err == nil {
			_ = r.Close()
		}
		cancel()
		return nil, fmt.Errorf("object %s: no answer from nats within %s", name, objectOpenTimeout)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("object %s: %w", name, err)
	}
	if res, ok := r.(jetstream.ObjectResult); ok {
		return &objectReader{ObjectResult: res, js: o.js, cancel: cancel}, nil
	}
	cancel() // read from memory: nothing left to cancel
	return r, nil
}

// open returns a chunkReader for an object of at most one chunk, else the
// object store's reader.
func (o *Objects) open(ctx context.Context, name string) (io.ReadCloser, error) {
	info, err := o.store.GetInfo(ctx, name)
	if err != nil {
		return nil, err
	}
	if info.Chunks > 1 || info.NUID == "" || info.Opts != nil && info.Opts.Link != nil {
		return o.store.Get(ctx, name)
	}
	if info.Chunks == 0 {
		return &chunkReader{Reader: bytes.NewReader(nil)}, nil
	}
	m, err := o.stream.GetLastMsgForSubject(ctx, chunkSubject(o.bucket, info.NUID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return &chunkReader{err: fmt.Errorf("object %s: %w (its one chunk is not stored)", name, ErrObjectIncomplete)}, nil
	}
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(m.Data)
	if uint64(len(m.Data)) != info.Size || info.Digest != jetstream.GetObjectDigestValue(h) {
		return &chunkReader{err: fmt.Errorf("object %s: stored chunk does not match its size and digest: %w", name, jetstream.ErrDigestMismatch)}, nil
	}
	return &chunkReader{Reader: bytes.NewReader(m.Data)}, nil
}

// chunkReader reads an object of one chunk from memory, or fails with err.
type chunkReader struct {
	*bytes.Reader
	err error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	return c.Reader.Read(p)
}

func (c *chunkReader) Close() error { return nil }

// objectReader checks, when a read fails, whether the object is
// incomplete, and releases the read's context when closed.
type objectReader struct {
	jetstream.ObjectResult
	js     jetstream.JetStream
	cancel context.CancelFunc
}

func (r *objectReader) Read(p []byte) (int, error) {
	n, err := r.ObjectResult.Read(p)
	if err == nil || errors.Is(err, io.EOF) {
		return n, err
	}
	info, _ := r.ObjectResult.Info()
	if info == nil {
		return n, err
	}
	// The read's own context has ended or failed: ask on a fresh one.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if complete, cerr := ObjectComplete(ctx, r.js, info); cerr == nil && !complete {
		return n, fmt.Errorf("object %s: %w (%d chunks listed, not all stored)", info.Name, ErrObjectIncomplete, info.Chunks)
	}
	return n, err
}

func (r *objectReader) Close() error {
	defer r.cancel()
	return r.ObjectResult.Close()
}
