package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Refresher keeps the graph independent of the order in which files
// arrive: when names are added to or removed from the gazetteer, it
// re-extracts the chunks already in the chunk stream whose text contains
// one of those names, so a report ingested before the spreadsheet that
// names its people mentions them all the same, and a person removed from
// the spreadsheets stops being mentioned.
//
// Cost is bounded: one pass over the chunk stream's history per burst of
// gazetteer changes (changes are gathered for Debounce first), and only
// chunks containing a changed name are extracted and written again.
// Replicas that refresh at the same gazetteer revision publish identical
// message IDs, so JetStream keeps one copy. With the LLM pass (UseLLM), a
// re-extraction asks the model only for chunks its answer cache does not
// hold (the answer depends on the text alone); a chunk the model fails on
// for now fails the refresh, which is tried again.
//
// A refresh lives in memory until it has finished, so the revision it
// reached is recorded (Mark): a process stopped after names changed but
// before their refresh finished, or a gazetteer changed while no extractor
// ran, leaves the record behind the gazetteer, and the next start
// re-extracts every chunk (Start).
type Refresher struct {
	js       jetstream.JetStream
	x        *Extractor
	log      *slog.Logger
	debounce time.Duration
	mark     Mark
	lease    Lease

	mu       sync.Mutex
	names    map[string]struct{}
	all      bool   // re-extract every chunk, not only those with names
	queued   uint64 // highest gazetteer revision with a queued change
	done     uint64 // highest revision whose refresh has finished
	running  bool
	kick     chan struct{}
	replayed int // chunks re-extracted, for tests and logs
	// pendingPeak is the most re-extractions published and not yet
	// acknowledged at once, for tests.
	pendingPeak int
}

// NewRefresher returns a refresher re-extracting with x.
func NewRefresher(js jetstream.JetStream, x *Extractor, logger *slog.Logger, debounce time.Duration) *Refresher {
	if debounce <= 0 {
		debounce = 500 * time.Millisecond
	}
	return &Refresher{js: js, x: x, log: logger, debounce: debounce, names: map[string]struct{}{}, kick: make(chan struct{}, 1)}
}

// Mark records the gazetteer revision that every chunk in the chunk stream
// has been extracted with (gazetteer.Book implements it).
type Mark interface {
	Refreshed(ctx context.Context) (rev uint64, ok bool, err error)
	MarkRefreshed(ctx context.Context, rev uint64) error
}

// UseMark makes the refresher record each finished refresh in m and
// consult it at Start. Call before Run.
func (r *Refresher) UseMark(m Mark) { r.mark = m }

// Lease elects one refresher among extractor replicas (bus.Lease
// implements it). Acquire takes it unless another replica holds it, and
// reports whether this one does; the holder keeps it until it stops.
type Lease interface {
	Acquire(ctx context.Context) (bool, error)
}

// UseLease makes only the replica holding l refresh, so that replicas do
// not each re-extract the same chunks: the others wait until the mark
// (UseMark) shows the refresh done, and one takes over when the holder
// stops. Call before Run, with UseMark.
func (r *Refresher) UseLease(l Lease) { r.lease = l }

// Start is called once the gazetteer mirror holds the bucket at revision
// rev, before chunks are extracted. Chunks extracted from now on see those
// names; those extracted earlier saw them only if the recorded refresh
// reaches rev. Otherwise every chunk in the stream is re-extracted: the
// names that changed since are not known (removed ones are gone).
func (r *Refresher) Start(ctx context.Context, rev uint64) error {
	if r.mark == nil || rev == 0 {
		r.Synced(rev)
		return nil
	}
	done, ok, err := r.mark.Refreshed(ctx)
	if err != nil {
		return err
	}
	if ok && done >= rev {
		r.Synced(rev)
		return nil
	}
	r.log.Info("gazetteer changed since the last finished refresh: re-extracting every chunk",
		slog.Uint64("refreshed_through", done), slog.Uint64("revision", rev))
	r.mu.Lock()
	r.all = true
	r.queued = max(r.queued, rev)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return nil
}

// Changed queues a name whose gazetteer entry changed at revision rev. The
// gazetteer must already hold the change.
func (r *Refresher) Changed(name string, rev uint64) {
	r.mu.Lock()
	if name != "" {
		r.names[name] = struct{}{}
	}
	r.queued = max(r.queued, rev)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Synced marks every revision up to rev as needing no refresh (the initial
// load of the gazetteer: chunks not yet extracted will see those names).
func (r *Refresher) Synced(rev uint64) {
	r.mu.Lock()
	r.done = max(r.done, rev)
	r.queued = max(r.queued, rev)
	r.mu.Unlock()
}

// Idle reports whether every change up to rev has been refreshed.
func (r *Refresher) Idle(rev uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.running && len(r.names) == 0 && !r.all && r.done >= rev
}

// Replayed returns how many chunks were re-extracted so far.
func (r *Refresher) Replayed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.replayed
}

// Run refreshes after each burst of changes until ctx is done. A failed
// refresh is tried again after a second, doubling up to half a minute
// while it keeps failing (an LLM that is down).
func (r *Refresher) Run(ctx context.Context) error {
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		}
		// Gather the burst.
		timer := time.NewTimer(r.debounce)
	gather:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-r.kick:
				timer.Reset(r.debounce)
			case <-timer.C:
				break gather
			}
		}
		r.mu.Lock()
		names := make([]string, 0, len(r.names))
		for n := range r.names {
			names = append(names, n)
		}
		r.names = map[string]struct{}{}
		all := r.all
		r.all = false
		rev := r.queued
		r.running = true
		r.mu.Unlock()

		n, led, err := r.refreshOnce(ctx, names, all, rev)
		if err == nil && led && r.mark != nil {
			if merr := r.mark.MarkRefreshed(ctx, rev); merr != nil && ctx.Err() == nil {
				// The refresh is done; the next start repeats it in full.
				r.log.Warn("gazetteer refresh not recorded", slog.Uint64("revision", rev), slog.Any(logging.KeyErr, merr))
			}
		}
		r.mu.Lock()
		r.running = false
		if err == nil {
			r.done = max(r.done, rev)
			r.replayed += n
		} else {
			for _, name := range names { // try again with the next burst
				r.names[name] = struct{}{}
			}
			r.all = r.all || all
		}
		r.mu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait := min(time.Second<<min(failures, 5), 30*time.Second)
			failures++
			r.log.Warn("gazetteer refresh failed; retrying", slog.Duration("retry_in", wait), slog.Any(logging.KeyErr, err))
			select {
			case r.kick <- struct{}{}:
			default:
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			continue
		}
		failures = 0
		switch {
		case !led:
			r.log.Debug("gazetteer changed: chunks re-extracted by another extractor", slog.Int("names", len(names)),
				slog.Bool("all", all), slog.Uint64("revision", rev))
		case n > 0 || all:
			r.log.Info("gazetteer changed: chunks re-extracted", slog.Int("names", len(names)),
				slog.Bool("all", all), slog.Int("chunks", n), slog.Uint64("revision", rev))
		}
	}
}

// followPoll is how often an extractor that does not hold the lease looks
// whether the refresh it waits for is done; a variable only so that a test
// can shorten it.
var followPoll = time.Second

// refreshOnce refreshes unless another extractor does: with a lease, the
// one holding it refreshes (led), and the others wait until the refresh
// mark reaches rev, or take the lease once its holder is gone and refresh
// themselves.
func (r *Refresher) refreshOnce(ctx context.Context, names []string, all bool, rev uint64) (n int, led bool, err error) {
	if r.lease == nil || r.mark == nil {
		n, err := r.refresh(ctx, names, all, rev)
		return n, true, err
	}
	for {
		done, ok, err := r.mark.Refreshed(ctx)
		if err != nil {
			return 0, false, err
		}
		if ok && done >= rev {
			return 0, false, nil
		}
		held, err := r.lease.Acquire(ctx)
		if err != nil {
			return 0, false, err
		}
		if held {
			n, err := r.refresh(ctx, names, all, rev)
			return n, true, err
		}
		select {
		case <-ctx.Done():
			return 0, false, ctx.Err()
		case <-time.After(followPoll):
		}
	}
}

// refresh scans the chunk stream up to its current end and re-extracts the
// chunks that contain one of names (all: every chunk), except those of a
// document version the stream also holds a later version of (the graph
// writer would ignore them) or a later cut of (see cut). A first pass finds
// the latest version and cut of each path, a second extracts.
func (r *Refresher) refresh(ctx context.Context, names []string, all bool, rev uint64) (int, error) {
	if len(names) == 0 && !all {
		return 0, nil
	}
	stream, err := r.js.Stream(ctx, bus.StreamChunks)
	if err != nil {
		return 0, fmt.Errorf("chunk stream: %w", err)
	}
	// The scans end at the last chunk now in the stream (messages of other
	// subjects, such as deletions, may follow it).
	lm, err := stream.GetLastMsgForSubject(ctx, event.SubjectChunk)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("chunk stream: %w", err)
	}
	last := lm.Sequence
	latest := map[string]cut{}
	err = scanChunks(ctx, stream, last, scanWait, func(m jetstream.Msg, seq uint64) error {
		if path, version, index, total, ok := chunkPlace(bus.PlainPayload(m.Headers(), m.Data())); ok {
			c, seen := latest[path]
			if !seen || version > c.version {
				c = cut{version: version}
			}
			if version == c.version {
				c.total = total
				if index == 0 {
					c.start = seq
				}
			}
			latest[path] = c
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// Publishes are acknowledged in a sliding window: a future holds its
	// message until then, and a full re-extraction of a long history
	// would otherwise hold every extraction in memory.
	var futs []jetstream.PubAckFuture
	peak := 0
	defer func() {
		r.mu.Lock()
		r.pendingPeak = max(r.pendingPeak, peak)
		r.mu.Unlock()
	}()
	settle := func(keep int) error {
		for len(futs) > keep {
			select {
			case <-futs[0].Ok():
			case err := <-futs[0].Err():
				return fmt.Errorf("publish refreshed extraction: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
			futs[0] = nil
			futs = futs[1:]
		}
		return nil
	}
	count := 0
	mentions := newNameFilter(names)
	logged := time.Now()
	err = scanChunks(ctx, stream, last, scanWait, func(m jetstream.Msg, seq uint64) error {
		if time.Since(logged) >= refreshProgressEvery {
			logged = time.Now()
			r.log.Info("gazetteer refresh: re-extracting chunks", slog.Int("names", len(names)), slog.Bool("all", all),
				slog.Uint64("scanned_through", seq), slog.Uint64("last", last), slog.Int("chunks", count), slog.Uint64("revision", rev))
		}
		// A message that does not decode is re-extracted: its extraction
		// reports it.
		var c struct {
			Document struct {
				Path    string `json:"path"`
				Version uint64 `json:"version"`
			} `json:"document"`
			Total int    `json:"total"`
			Text  string `json:"text"`
		}
		data, err := bus.Payload(m.Headers(), m.Data())
		if err != nil {
			r.log.Warn("refresh skipped a chunk", slog.Uint64("stream_seq", seq), slog.Any(logging.KeyErr, err))
			return nil
		}
		if json.Unmarshal(data, &c) == nil {
			if !all && !mentions.in(c.Text) {
				return nil
			}
			if latest[c.Document.Path].supersedes(c.Document.Version, c.Total, seq) {
				return nil
			}
		}
		out, err := r.reextract(ctx, m, data, seq, rev)
		if err != nil && !pipeline.IsPermanent(err) {
			// An LLM that failed for now: the refresh is tried again as a
			// whole (chunks already asked about come from the LLM pass's
			// cache), rather than leaving this chunk without the new names.
			return fmt.Errorf("re-extract the chunk at sequence %d: %w", seq, err)
		}
		if err != nil {
			r.log.Warn("refresh skipped a chunk", slog.Uint64("stream_seq", seq), slog.Any(logging.KeyErr, err))
			return nil
		}
		f, err := r.js.PublishMsgAsync(out)
		if err != nil {
			return fmt.Errorf("publish refreshed extraction: %w", err)
		}
		futs = append(futs, f)
		peak = max(peak, len(futs))
		count++
		return settle(refreshWindow - 1)
	})
	if err != nil {
		return count, err
	}
	return count, settle(0)
}

// refreshWindow is how many re-extractions a refresh has published and not
// yet seen acknowledged, at most; a variable only so that a test can
// shrink it.
var refreshWindow = 512

// refreshProgressEvery is how often a long refresh logs how far it has
// scanned the chunk stream; a variable only so that a test can shorten it.
var refreshProgressEvery = 10 * time.Second

// scanWait is how long a scan waits for its next chunk before it fails (and
// the refresh is tried again): the stream holds the chunks up to the last
// one, so a longer wait means its server is failing or gone.
const scanWait = 5 * time.Second

// scanChunks calls fn with every chunk message of the stream up to the
// sequence last, which must be a chunk's.
func scanChunks(ctx context.Context, stream jetstream.Stream, last uint64, wait time.Duration, fn func(m jetstream.Msg, seq uint64) error) error {
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{event.SubjectChunk},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("chunk stream: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(512))
	if err != nil {
		return fmt.Errorf("chunk stream: %w", err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextMaxWait(wait))
		if errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("read chunk stream: no chunk within %s before sequence %d", wait, last)
		}
		if err != nil {
			return fmt.Errorf("read chunk stream: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("read chunk stream: %w", err)
		}
		if err := fn(m, md.Sequence.Stream); err != nil {
			return err
		}
		if md.Sequence.Stream >= last {
			return nil
		}
	}
}

// cut is the latest cut of a path's text in the chunk stream: its latest
// version, the number of chunks of that version's last chunk message, and
// the sequence of that version's latest first chunk (0 if the stream holds
// none). The parser cuts a version anew when it parses the version again
// with other chunk settings (a replica configured otherwise takes over a
// redelivered file): the chunks of the earlier cut are superseded, and the
// graph writer drops those past the new last.
type cut struct {
	version uint64
	total   int
	start   uint64
}

// supersedes reports whether a chunk of version, one of total, at stream
// sequence seq belongs to an earlier version or cut than c.
func (c cut) supersedes(version uint64, total int, seq uint64) bool {
	return version < c.version || (version == c.version && (total != c.total || seq < c.start))
}

// chunkPlace reads the document path and version, the chunk index and the
// number of chunks of a chunk message.
func chunkPlace(data []byte) (path string, version uint64, index, total int, ok bool) {
	var c struct {
		Document struct {
			Path    string `json:"path"`
			Version uint64 `json:"version"`
		} `json:"document"`
		Index int `json:"index"`
		Total int `json:"total"`
	}
	if json.Unmarshal(data, &c) != nil {
		return "", 0, 0, 0, false
	}
	return c.Document.Path, c.Document.Version, c.Index, c.Total, true
}

// nameFilter finds the chunks that mention one of a set of names where
// the gazetteer would: in the text as the rules read it, any whitespace
// run (a wrapped line too) between the words of a name, on word
// boundaries. A search of the chunk message's bytes would pass over a
// name that the text writes with a line break (escaped in JSON), a
// no-break space, a soft hyphen or in decomposed Unicode, and the chunk
// would keep its old mentions.
type nameFilter struct{ m *matcher }

func newNameFilter(names []string) nameFilter {
	entries := make(map[entryRef]Entry, len(names))
	for _, n := range names {
		entries[entryRef{"name", n}] = Entry{Label: "name", Key: n, Name: n}
	}
	return nameFilter{newMatcher(entries)}
}

// in reports whether a chunk's text mentions one of the names.
func (f nameFilter) in(text string) bool {
	return len(f.m.match(readable(text))) > 0
}

// reextract extracts the chunk message m, whose plain payload is data,
// again.
func (r *Refresher) reextract(ctx context.Context, m jetstream.Msg, data []byte, seq, rev uint64) (*nats.Msg, error) {
	h := maps.Clone(m.Headers())
	h.Del(bus.HeaderEncoding)
	in := pipeline.Message{Subject: m.Subject(), Data: data, Header: h, StreamSeq: seq}
	outs, err := r.x.Handle(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("re-extract: %w", err)
	}
	if len(outs) != 1 {
		return nil, pipeline.Permanent(fmt.Errorf("re-extract: %d outputs, want 1", len(outs)))
	}
	out := outs[0]
	nm := nats.NewMsg(out.Subject)
	nm.Data = out.Data
	nm.Header = out.Header
	if cid := m.Headers().Get(pipeline.HeaderCorrelationID); cid != "" {
		nm.Header.Set(pipeline.HeaderCorrelationID, cid)
	}
	nm.Header.Set(pipeline.HeaderMsgID, bus.StageExtractor+":refresh:"+strconv.FormatUint(rev, 10)+":"+strconv.FormatUint(seq, 10))
	nm.Data = bus.EncodePayload(nm.Header, nm.Data)
	return nm, nil
}
