package bus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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

// metaSubject is the subject of the metadata of the object called name.
func metaSubject(bucket, name string) string {
	return "$O." + bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
}

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
//
// An object store's stream allows direct gets, which any replica answers:
// a follower a few messages behind its leader (just after a publish, or
// catching up after a failover), or a mirror that serves direct gets, may
// not have an object that the stream already holds. What a direct get does
// not find is therefore read again from the stream leader before the
// object counts as missing or incomplete.
func (o *Objects) open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := o.openFrom(ctx, name, o.stream.GetLastMsgForSubject)
	if errors.Is(err, errNoMeta) || errors.Is(err, errNoChunk) {
		r, err = o.openFrom(ctx, name, o.leaderLast)
	}
	switch {
	case errors.Is(err, errNoMeta):
		return nil, jetstream.ErrObjectNotFound
	case errors.Is(err, errNoChunk):
		return &chunkReader{err: fmt.Errorf("object %s: %w (its one chunk is not stored)", name, ErrObjectIncomplete)}, nil
	}
	return r, err
}

// openFrom's reports that its reads did not find the object's metadata, or
// its one chunk.
var (
	errNoMeta  = errors.New("object metadata not found")
	errNoChunk = errors.New("object chunk not found")
)

// openFrom opens the object called name, reading its metadata and its one
// chunk with last.
func (o *Objects) openFrom(ctx context.Context, name string, last func(context.Context, string) (*jetstream.RawStreamMsg, error)) (io.ReadCloser, error) {
	meta, err := last(ctx, metaSubject(o.bucket, name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, errNoMeta
	}
	if err != nil {
		return nil, err
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(meta.Data, &info); err != nil {
		return nil, jetstream.ErrBadObjectMeta
	}
	if info.Deleted {
		return nil, jetstream.ErrObjectNotFound
	}
	if info.Chunks > 1 || info.NUID == "" || info.Opts != nil && info.Opts.Link != nil {
		return o.storeGet(ctx, name)
	}
	if info.Chunks == 0 {
		return &chunkReader{Reader: bytes.NewReader(nil)}, nil
	}
	m, err := last(ctx, chunkSubject(o.bucket, info.NUID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, errNoChunk
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

// storeGet is the object store's reader of an object whose metadata was
// read. The store reads the metadata again, with a direct get: a replica
// that has not received it yet is given a moment to catch up.
func (o *Objects) storeGet(ctx context.Context, name string) (jetstream.ObjectResult, error) {
	const attempts, pause = 20, 50 * time.Millisecond
	for range attempts {
		r, err := o.store.Get(ctx, name)
		if !errors.Is(err, jetstream.ErrObjectNotFound) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil, fmt.Errorf("object %s: stored, but the replica that answered did not have it within %s", name, attempts*pause)
}

// leaderLast reads the last message on subject from the object stream's
// leader (the JetStream API's message get, which is not a direct get).
func (o *Objects) leaderLast(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": subject})
	if err != nil {
		return nil, err
	}
	reply, err := o.js.Conn().RequestWithContext(ctx, apiPrefix(o.js)+"STREAM.MSG.GET."+objectStream(o.bucket), req)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		Message *struct {
			Subject string    `json:"subject"`
			Seq     uint64    `json:"seq"`
			Data    []byte    `json:"data"`
			Time    time.Time `json:"time"`
		} `json:"message"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, fmt.Errorf("message get %s: %w", subject, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == int(jetstream.JSErrCodeMessageNotFound):
		return nil, jetstream.ErrMsgNotFound
	case resp.Error != nil:
		return nil, fmt.Errorf("message get %s: %s (%d)", subject, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return nil, fmt.Errorf("message get %s: empty answer", subject)
	}
	return &jetstream.RawStreamMsg{Subject: resp.Message.Subject, Sequence: resp.Message.Seq,
		Data: resp.Message.Data, Time: resp.Message.Time}, nil
}

// apiPrefix is the subject prefix of js's JetStream API requests.
func apiPrefix(js jetstream.JetStream) string {
	opts := js.Options()
	switch {
	case opts.Domain != "":
		return "$JS." + opts.Domain + ".API."
	case opts.APIPrefix != "":
		return strings.TrimSuffix(opts.APIPrefix, ".") + "."
	}
	return jetstream.DefaultAPIPrefix
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
