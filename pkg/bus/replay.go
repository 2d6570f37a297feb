package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderReplay marks a republished message: "dlq:<dead letter id>" for a
// replayed dead letter, "stage:<nonce>" for a message of a stage replay. It
// is informational (stages ignore it); it lets an operator tell replayed
// messages from original ones.
const HeaderReplay = "Docgraph-Replay"

// ReplayFrom selects the stored input messages a stage replay republishes.
// Exactly one of Since and FromSeq starts the range; Until and UntilSeq
// optionally end it (inclusive). Sequence numbers belong to one stream, so
// for a stage that reads several streams (the graph writer) a sequence
// range needs Stream.
type ReplayFrom struct {
	Since    time.Time
	FromSeq  uint64
	Until    time.Time
	UntilSeq uint64
	// Stream limits the replay to one of the stage's input streams
	// (empty: all of them).
	Stream string
	// Progress, if set, is called every few hundred messages and once at
	// the end of each stream.
	Progress func(ReplayProgress)
}

// ReplayProgress reports how far a stage replay got in one stream.
type ReplayProgress struct {
	Stream    string
	Seq       uint64 // last sequence visited
	LastSeq   uint64 // last sequence of the range
	Published int    // republished so far in this stream (counted, not sent, in a dry run)
}

// ReplayStats says what a stage replay did.
type ReplayStats struct {
	Stage   string
	Nonce   string // distinguishes this run's Nats-Msg-Ids from any other's
	DryRun  bool
	Streams []StreamReplay
}

// Published is the number of messages republished (or, in a dry run, that
// would be) over all streams.
func (s ReplayStats) Published() int {
	n := 0
	for _, st := range s.Streams {
		n += st.Published
	}
	return n
}

// StreamReplay is what a stage replay did in one input stream.
type StreamReplay struct {
	Stream string
	// FirstSeq and LastSeq are the first and last sequence republished
	// (0 if none).
	FirstSeq, LastSeq uint64
	// Published messages (would be published in a dry run).
	Published int
	// Superseded messages were skipped because a later message in the
	// stream is about the same file (see ReplayStage).
	Superseded int
}

// replayWindow is how many asynchronous publishes a replay keeps in flight.
const replayWindow = 256

// ReplayStage re-runs a stage over the history of its input stream(s) by
// republishing the stored messages in the range to their own subjects:
// same payload, same headers (Correlation-ID, type, version), and a
// Nats-Msg-Id of "replay:<stream>:<seq>:<nonce>" with a nonce per run, so
// the copies are not deduplicated against the originals (and a second run
// republishes again). The stage's durable consumer then processes the
// copies like new messages; this is safe because every stage is idempotent
// (graph writes merge on stable keys, a document replaces its own chunks).
// The copies are appended to the stream, so only messages stored before
// the replay started are visited.
//
// In the files stream the document version is the event's sequence, so
// replaying an old event for a path after a newer one would make the old
// content current again. A file event is therefore skipped (Superseded)
// when a later event for the same path is stored, inside the range or
// after it.
//
// In a dry run nothing is published; the stats count what would be.
func ReplayStage(ctx context.Context, js jetstream.JetStream, stage string, from ReplayFrom, dryRun bool) (ReplayStats, error) {
	stats := ReplayStats{Stage: stage, DryRun: dryRun}
	streams, err := replayStreams(stage, from)
	if err != nil {
		return stats, err
	}
	nonce, err := newNonce()
	if err != nil {
		return stats, err
	}
	stats.Nonce = nonce
	for _, stream := range streams {
		sr, err := replayStream(ctx, js, stream, from, nonce, dryRun)
		stats.Streams = append(stats.Streams, sr)
		if err != nil {
			return stats, fmt.Errorf("replay %s from %s: %w", stage, stream, err)
		}
	}
	return stats, nil
}

// replayStreams validates the range and returns the streams to replay.
func replayStreams(stage string, from ReplayFrom) ([]string, error) {
	var streams []string
	for _, c := range ConsumersOf(stage) {
		if !slices.Contains(streams, c.Stream) {
			streams = append(streams, c.Stream)
		}
	}
	if len(streams) == 0 {
		return nil, fmt.Errorf("replay: unknown stage %q (want %s)", stage, strings.Join(replayableStages(), ", "))
	}
	var errs []error
	if from.Stream != "" {
		if !slices.Contains(streams, from.Stream) {
			errs = append(errs, fmt.Errorf("stream %q: stage %s reads %s", from.Stream, stage, strings.Join(streams, " and ")))
		}
		streams = []string{from.Stream}
	}
	switch {
	case from.Since.IsZero() && from.FromSeq == 0:
		errs = append(errs, errors.New("a start is required: a time (--since) or a sequence (--from-seq)"))
	case !from.Since.IsZero() && from.FromSeq != 0:
		errs = append(errs, errors.New("give either a start time (--since) or a start sequence (--from-seq), not both"))
	}
	if !from.Until.IsZero() && !from.Since.IsZero() && from.Until.Before(from.Since) {
		errs = append(errs, fmt.Errorf("until (%s) is before since (%s)", from.Until.Format(time.RFC3339), from.Since.Format(time.RFC3339)))
	}
	if from.UntilSeq != 0 && from.UntilSeq < from.FromSeq {
		errs = append(errs, fmt.Errorf("until-seq (%d) is before from-seq (%d)", from.UntilSeq, from.FromSeq))
	}
	if (from.FromSeq != 0 || from.UntilSeq != 0) && len(streams) > 1 {
		errs = append(errs, fmt.Errorf("sequence numbers are per stream and stage %s reads %s: name one stream with --stream", stage, strings.Join(streams, " and ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("replay %s: %w", stage, err)
	}
	return streams, nil
}

// replayableStages are the stages with an input stream.
func replayableStages() []string {
	var out []string
	for _, c := range Consumers {
		if !slices.Contains(out, c.Stage) {
			out = append(out, c.Stage)
		}
	}
	return out
}

func replayStream(ctx context.Context, js jetstream.JetStream, stream string, from ReplayFrom, nonce string, dryRun bool) (StreamReplay, error) {
	sr := StreamReplay{Stream: stream}
	spec := scanSpec{stream: stream, startSeq: from.FromSeq, startTime: from.Since, stopSeq: from.UntilSeq}
	// Fix the end before reading anything: the copies go to the same stream.
	last, err := lastSeq(ctx, js, stream)
	if err != nil {
		return sr, err
	}
	if last == 0 {
		return sr, nil
	}
	if spec.stopSeq == 0 || spec.stopSeq > last {
		spec.stopSeq = last
	}
	var latest map[string]fileEvent
	if stream == StreamFiles {
		// Latest event per path from the start of the range to the end of
		// the stream (not of the range: a newer event after the range
		// supersedes too).
		full := spec
		full.stopSeq = last
		if latest, err = latestByPath(ctx, js, full); err != nil {
			return sr, err
		}
	}
	pub := publisher{js: js, dryRun: dryRun}
	progress := func(seq uint64) {
		if from.Progress != nil {
			from.Progress(ReplayProgress{Stream: stream, Seq: seq, LastSeq: spec.stopSeq, Published: sr.Published})
		}
	}
	var visited uint64
	err = scan(ctx, js, spec, func(m jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
		seq := md.Sequence.Stream
		if !from.Until.IsZero() && md.Timestamp.After(from.Until) {
			return false, nil
		}
		visited = seq
		if latest != nil {
			if p := payloadPath(PlainPayload(m.Headers(), m.Data())); p != "" && latest[p].seq > seq {
				sr.Superseded++
				return true, nil
			}
		}
		h := copyHeader(m.Headers())
		h.Set(nats.MsgIdHdr, "replay:"+stream+":"+strconv.FormatUint(seq, 10)+":"+nonce)
		h.Set(HeaderReplay, "stage:"+nonce)
		if err := pub.publish(ctx, &nats.Msg{Subject: m.Subject(), Data: m.Data(), Header: h}); err != nil {
			return false, fmt.Errorf("republish seq %d: %w", seq, err)
		}
		if sr.FirstSeq == 0 {
			sr.FirstSeq = seq
		}
		sr.LastSeq = seq
		sr.Published++
		if sr.Published%replayWindow == 0 {
			progress(seq)
		}
		return true, nil
	})
	if werr := pub.wait(ctx); err == nil && werr != nil {
		err = fmt.Errorf("republish: %w", werr)
	}
	if err != nil {
		return sr, err
	}
	progress(visited)
	return sr, nil
}

// publisher keeps up to replayWindow asynchronous publishes in flight.
type publisher struct {
	js      jetstream.JetStream
	dryRun  bool
	pending []jetstream.PubAckFuture
}

func (p *publisher) publish(ctx context.Context, m *nats.Msg) error {
	if p.dryRun {
		return nil
	}
	if len(p.pending) >= replayWindow {
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
	f, err := p.js.PublishMsgAsync(m)
	if err != nil {
		return err
	}
	p.pending = append(p.pending, f)
	return nil
}

// wait waits for every PubAck in flight and returns the first error.
func (p *publisher) wait(ctx context.Context) error {
	var first error
	for _, f := range p.pending {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if first == nil {
				first = fmt.Errorf("%s: %w", f.Msg().Subject, err)
			}
		case <-ctx.Done():
			p.pending = nil
			return ctx.Err()
		}
	}
	p.pending = p.pending[:0]
	return first
}

// copyHeader returns a copy of h without the Nats-Msg-Id and the publish
// expectations (Nats-Expected-Stream, ...) the original was stored with.
func copyHeader(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		if k == nats.MsgIdHdr || strings.HasPrefix(k, "Nats-Expected-") {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}

func newNonce() (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("replay nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// fileEvent is the last event stored for a path.
type fileEvent struct {
	seq    uint64
	replay string // its HeaderReplay
}

// latestByPath maps each file path in the scanned range to its last event.
func latestByPath(ctx context.Context, js jetstream.JetStream, spec scanSpec) (map[string]fileEvent, error) {
	latest := map[string]fileEvent{}
	err := scan(ctx, js, spec, func(m jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
		if p := payloadPath(PlainPayload(m.Headers(), m.Data())); p != "" {
			latest[p] = fileEvent{seq: md.Sequence.Stream, replay: m.Headers().Get(HeaderReplay)}
		}
		return true, nil
	})
	return latest, err
}

// PayloadFile returns the file a docgraph payload is about, and the sha256
// of that file version: from "path"/"sha256" of a file event,
// "document.*" of a chunk, "chunk.document.*" of an extraction, or
// "source.*" of a record batch ("" when the payload names none).
func PayloadFile(data []byte) (path, sha string) {
	f := payloadFile(data)
	return f.Path, f.SHA256
}

// payloadDocument is the file a payload is about (see PayloadFile).
// Version is the files stream sequence of the file event a stage output
// comes from (0 in a file event, and in a deletion's extraction: its
// version is that of its event too).
type payloadDocument struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Version uint64 `json:"version"`
}

func payloadFile(data []byte) payloadDocument {
	var p struct {
		payloadDocument
		Document payloadDocument `json:"document"`
		Chunk    struct {
			Document payloadDocument `json:"document"`
		} `json:"chunk"`
		Source payloadDocument `json:"source"`
	}
	if json.Unmarshal(data, &p) != nil {
		return payloadDocument{}
	}
	for _, f := range []payloadDocument{p.payloadDocument, p.Document, p.Chunk.Document, p.Source} {
		if f.Path != "" || f.SHA256 != "" {
			return f
		}
	}
	return payloadDocument{}
}

func payloadPath(data []byte) string {
	path, _ := PayloadFile(data)
	return path
}

// scanSpec says which stored messages scan visits.
type scanSpec struct {
	stream      string
	subjects    []string  // filter; empty = every subject of the stream
	startSeq    uint64    // first sequence; 0 = see startTime
	startTime   time.Time // first message stored at or after; zero = from the first message
	stopSeq     uint64    // last sequence visited; 0 = the stream's last when the scan starts
	headersOnly bool
}

// scanBatch is how many messages one pull request asks for.
const scanBatch = 256

// lastSeq returns the stream's last sequence.
func lastSeq(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	return info.State.LastSeq, nil
}

// scan visits the stored messages of spec in stream order through an
// ephemeral consumer (no acks, deleted at the end) until visit returns
// false or an error, or the stop sequence is passed. Messages stored after
// the scan started are not visited.
func scan(ctx context.Context, js jetstream.JetStream, spec scanSpec, visit func(jetstream.Msg, *jetstream.MsgMetadata) (bool, error)) error {
	st, err := js.Stream(ctx, spec.stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", spec.stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", spec.stream, err)
	}
	stop := info.State.LastSeq
	if spec.stopSeq != 0 && spec.stopSeq < stop {
		stop = spec.stopSeq
	}
	if stop == 0 || spec.startSeq > stop || info.State.Msgs == 0 {
		return nil
	}
	cc := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		FilterSubjects:    spec.subjects,
		HeadersOnly:       spec.headersOnly,
		MemoryStorage:     true,
		InactiveThreshold: time.Minute,
	}
	switch {
	case spec.startSeq > 0:
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, spec.startSeq
	case !spec.startTime.IsZero():
		t := spec.startTime
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := st.CreateConsumer(ctx, cc)
	if err != nil {
		return fmt.Errorf("read stream %s: %w", spec.stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = st.DeleteConsumer(dctx, cons.CachedInfo().Name) // it expires on its own otherwise
	}()
	if cons.CachedInfo().NumPending == 0 {
		return nil
	}
	var verr error
	done := false
	for !done {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := cons.FetchNoWait(scanBatch)
		if err != nil {
			return fmt.Errorf("read stream %s: %w", spec.stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if done {
				continue // drain the batch
			}
			md, err := m.Metadata()
			if err != nil {
				verr, done = fmt.Errorf("read stream %s: %w", spec.stream, err), true
				continue
			}
			if md.Sequence.Stream > stop {
				done = true
				continue
			}
			more, err := visit(m, md)
			if err != nil || !more || md.NumPending == 0 || md.Sequence.Stream == stop {
				verr, done = err, true
			}
		}
		if verr != nil {
			return verr
		}
		if err := batch.Error(); err != nil && !done {
			return fmt.Errorf("read stream %s: %w", spec.stream, err)
		}
		if n == 0 && !done {
			// Nothing came: the rest was deleted meanwhile, or it is on its way.
			ci, err := cons.Info(ctx)
			if err != nil {
				return fmt.Errorf("read stream %s: %w", spec.stream, err)
			}
			if ci.NumPending == 0 || ci.Delivered.Stream >= stop {
				return nil
			}
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	return nil
}
