package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers the stage runner (pkg/pipeline) sets on a dead letter. They are
// repeated here because pipeline builds on bus, not the other way round;
// a test checks that both agree.
const (
	hdrStage         = "Docgraph-Stage"
	hdrError         = "Docgraph-Error"
	hdrErrorClass    = "Docgraph-Error-Class"
	hdrAttempts      = "Docgraph-Attempts"
	hdrOrigSubject   = "Docgraph-Original-Subject"
	hdrOrigStream    = "Docgraph-Original-Stream"
	hdrOrigSeq       = "Docgraph-Original-Seq"
	hdrDeadLettered  = "Docgraph-Dead-Lettered-At"
	hdrCorrelationID = "Correlation-ID"
)

// deadLetterHeaders are the headers a dead letter adds to the original
// message; a replay removes them again.
var deadLetterHeaders = []string{
	hdrStage, hdrError, hdrErrorClass, hdrAttempts, hdrOrigSubject, hdrOrigStream, hdrOrigSeq, hdrDeadLettered,
}

// dlqStagesFilter matches the dead letters of every stage.
const dlqStagesFilter = "docgraph.dlq.*"

// ErrDeadLetterNotFound is returned for an ID that is not a dead letter in
// the DLQ stream (never was, already replayed or purged).
var ErrDeadLetterNotFound = errors.New("no such dead letter (replayed, purged, or never there; see 'docgraph dlq list --all')")

// DeadLetter is one message a stage gave up on, as stored in the DLQ stream.
type DeadLetter struct {
	ID            uint64 // sequence in the DLQ stream
	Stage         string
	Error         string
	Class         string // permanent or exhausted
	Attempts      int
	OrigSubject   string
	OrigStream    string
	OrigSeq       uint64
	CorrelationID string
	At            time.Time // when it was dead-lettered
	// Path is the file the message is about, from its payload ("" if the
	// payload names none).
	Path   string
	Data   []byte // the original payload, byte for byte
	Header nats.Header
	// SupersededBy is, once MarkSuperseded has run, the files stream
	// sequence of a later event for the same file (a new version, or its
	// deletion): the dead letter no longer says anything about the file as
	// it is. 0 while it is current.
	SupersededBy uint64
}

// Filter selects dead letters.
type Filter struct {
	Stage string        // empty = every stage
	Since time.Duration // only those dead-lettered within this long; 0 = all
}

// ListDeadLetters returns the dead letters in the DLQ stream that match f,
// oldest first. Replayed dead letters are not listed: a replay deletes them
// (see ReplayDeadLetters).
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, f Filter) ([]DeadLetter, error) {
	subject, err := dlqFilter(f.Stage)
	if err != nil {
		return nil, err
	}
	spec := scanSpec{stream: StreamDLQ, subjects: []string{subject}}
	if f.Since > 0 {
		spec.startTime = time.Now().Add(-f.Since)
	}
	var out []DeadLetter
	err = scan(ctx, js, spec, func(m jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
		out = append(out, newDeadLetter(md.Sequence.Stream, m.Subject(), md.Timestamp, m.Headers(), m.Data()))
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// GetDeadLetter returns the dead letter with the given ID, or an error
// wrapping ErrDeadLetterNotFound.
func GetDeadLetter(ctx context.Context, js jetstream.JetStream, id uint64) (DeadLetter, error) {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: stream %s: %w", id, StreamDLQ, err)
	}
	return getDeadLetter(ctx, st, id)
}

func getDeadLetter(ctx context.Context, st jetstream.Stream, id uint64) (DeadLetter, error) {
	if id == 0 {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, ErrDeadLetterNotFound)
	}
	m, err := st.GetMsg(ctx, id)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, ErrDeadLetterNotFound)
	}
	if err != nil {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, err)
	}
	if _, ok := stageOfDLQSubject(m.Subject); !ok {
		return DeadLetter{}, fmt.Errorf("dead letter %d: %w", id, ErrDeadLetterNotFound)
	}
	return newDeadLetter(m.Sequence, m.Subject, m.Time, m.Header, m.Data), nil
}

// PurgeDeadLetters deletes the dead letters of stage (every stage if
// empty) dead-lettered more than olderThan ago (all of them if 0) and
// returns how many it deleted.
func PurgeDeadLetters(ctx context.Context, js jetstream.JetStream, stage string, olderThan time.Duration) (int, error) {
	subject, err := dlqFilter(stage)
	if err != nil {
		return 0, err
	}
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("purge dead letters: stream %s: %w", StreamDLQ, err)
	}
	cutoff := time.Now().Add(-olderThan)
	n, last := 0, uint64(0)
	err = scan(ctx, js, scanSpec{stream: StreamDLQ, subjects: []string{subject}, headersOnly: true},
		func(_ jetstream.Msg, md *jetstream.MsgMetadata) (bool, error) {
			if olderThan > 0 && md.Timestamp.After(cutoff) {
				return false, nil // stored in time order: the rest is newer
			}
			n, last = n+1, md.Sequence.Stream
			return true, nil
		})
	if err != nil {
		return 0, fmt.Errorf("purge dead letters: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	// Everything on subject below last+1 is what was counted, and dead
	// letters arriving meanwhile have higher sequences.
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subject), jetstream.WithPurgeSequence(last+1)); err != nil {
		return 0, fmt.Errorf("purge dead letters: %w", err)
	}
	return n, nil
}

// ReplayOutcome says what replaying one dead letter did (or, in a dry
// run, would do).
type ReplayOutcome string

// Replay outcomes.
const (
	// Replayed: republished to its original subject and removed from the DLQ.
	Replayed ReplayOutcome = "replayed"
	// AlreadyReplayed: JetStream dropped the copy as a duplicate of an
	// earlier replay of the same dead letter (within the stream's duplicate
	// window); removed from the DLQ.
	AlreadyReplayed ReplayOutcome = "already replayed"
	// Superseded: a later file event for the same path is stored, so the
	// old one is not replayed (it would make the old content current
	// again); removed from the DLQ.
	Superseded ReplayOutcome = "superseded"
	// NotFound: no such dead letter (replayed or purged before).
	NotFound ReplayOutcome = "not found"
	// Failed: see ReplayResult.Err; the dead letter stays.
	Failed ReplayOutcome = "failed"
)

// ReplayResult is the result of replaying one dead letter.
type ReplayResult struct {
	ID      uint64
	Stage   string
	Path    string
	Subject string // the original subject it was (or would be) republished to
	Outcome ReplayOutcome
	DryRun  bool
	Seq     uint64 // sequence of the copy in the original stream (Replayed)
	// SupersededBy is the sequence of the later file event (Superseded).
	SupersededBy uint64
	Err          error // Failed
}

// ReplayDeadLetters republishes the given dead letters to their original
// subjects: the payload byte for byte, the original headers (Correlation-ID,
// type, version) without the dead-letter ones, and a Nats-Msg-Id of
// "replay:<id>". A replayed dead letter is then deleted from the DLQ, so it
// is listed and replayed only once; if the process stops between the
// publish and the delete, replaying it again within the stream's duplicate
// window is dropped by JetStream (AlreadyReplayed), so no work is done
// twice. If the stage fails again the message comes back as a new dead
// letter with a new ID.
//
// There is one result per id, in order. A failure for one dead letter is in
// its result and does not stop the others; the error is for a failure that
// stops the whole replay. In a dry run nothing is published or deleted.
func ReplayDeadLetters(ctx context.Context, js jetstream.JetStream, ids []uint64, dryRun bool) ([]ReplayResult, error) {
	st, err := js.Stream(ctx, StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("replay dead letters: stream %s: %w", StreamDLQ, err)
	}
	letters := make([]DeadLetter, len(ids))
	results := make([]ReplayResult, len(ids))
	for i, id := range ids {
		results[i] = ReplayResult{ID: id, DryRun: dryRun}
		dl, err := getDeadLetter(ctx, st, id)
		if errors.Is(err, ErrDeadLetterNotFound) {
			results[i].Outcome = NotFound
			continue
		}
		if err != nil {
			return results, fmt.Errorf("replay dead letters: %w", err)
		}
		letters[i] = dl
		results[i].Stage, results[i].Path, results[i].Subject = dl.Stage, dl.Path, dl.OrigSubject
	}
	if err := MarkSuperseded(ctx, js, letters); err != nil {
		return results, fmt.Errorf("replay dead letters: %w", err)
	}
	for i := range results {
		r := &results[i]
		if r.Outcome == NotFound {
			continue
		}
		if err := ctx.Err(); err != nil {
			return results, err
		}
		dl := letters[i]
		if stream := origStream(dl); stream == "" || stream == StreamDLQ {
			r.Outcome, r.Err = Failed, fmt.Errorf("dead letter %d: original subject %q is not in a docgraph stream", dl.ID, dl.OrigSubject)
			continue
		}
		if dl.SupersededBy != 0 {
			r.Outcome, r.SupersededBy = Superseded, dl.SupersededBy
			if !dryRun {
				r.Err = deleteDeadLetter(ctx, st, dl.ID)
			}
			continue
		}
		r.Outcome = Replayed
		if dryRun {
			continue
		}
		ack, err := js.PublishMsg(ctx, replayMsg(dl))
		if err != nil {
			r.Outcome, r.Err = Failed, fmt.Errorf("dead letter %d: republish to %s: %w", dl.ID, dl.OrigSubject, err)
			continue
		}
		r.Seq = ack.Sequence
		if ack.Duplicate {
			r.Outcome = AlreadyReplayed
		}
		r.Err = deleteDeadLetter(ctx, st, dl.ID)
	}
	return results, nil
}

// MarkSuperseded sets SupersededBy on the dead letters for which the files
// stream holds a later event for the same path than the file version they
// are about, other than the replayed copy of that very dead letter: a file
// event's own sequence, or the version (the sequence of the file event it
// comes from) a later stage's message carries.
func MarkSuperseded(ctx context.Context, js jetstream.JetStream, dls []DeadLetter) error {
	var from uint64 // first files stream sequence to check for later events
	for _, dl := range dls {
		if v := fileVersion(dl); v > 0 && (from == 0 || v+1 < from) {
			from = v + 1
		}
	}
	if from == 0 {
		return nil
	}
	latest, err := latestByPath(ctx, js, scanSpec{stream: StreamFiles, startSeq: from})
	if err != nil {
		return err
	}
	for i := range dls {
		dl := &dls[i]
		if v := fileVersion(*dl); v > 0 {
			if ev := latest[dl.Path]; ev.seq > v && ev.replay != replayOf(dl.ID) {
				dl.SupersededBy = ev.seq
			}
		}
	}
	return nil
}

// fileVersion is the files stream sequence of the file version dl is
// about (0 if it names none).
func fileVersion(dl DeadLetter) uint64 {
	if dl.Path == "" {
		return 0
	}
	if origStream(dl) == StreamFiles {
		return dl.OrigSeq
	}
	return payloadFile(dl.Payload()).Version
}

// origStream is the stream a dead letter's original subject belongs to.
func origStream(dl DeadLetter) string {
	if dl.OrigSubject == "" {
		return ""
	}
	return StreamOf(dl.OrigSubject)
}

// replayMsg is the message that replays dl on its original subject.
func replayMsg(dl DeadLetter) *nats.Msg {
	h := copyHeader(dl.Header)
	for _, k := range deadLetterHeaders {
		h.Del(k)
	}
	h.Set(nats.MsgIdHdr, "replay:"+strconv.FormatUint(dl.ID, 10))
	h.Set(HeaderReplay, replayOf(dl.ID))
	return &nats.Msg{Subject: dl.OrigSubject, Data: dl.Data, Header: h}
}

// replayOf is the HeaderReplay value of the replayed dead letter id.
func replayOf(id uint64) string { return "dlq:" + strconv.FormatUint(id, 10) }

// deleteDeadLetter removes a replayed dead letter; one already gone (a
// concurrent replay) is fine.
func deleteDeadLetter(ctx context.Context, st jetstream.Stream, id uint64) error {
	if err := st.DeleteMsg(ctx, id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("dead letter %d: remove from %s: %w", id, StreamDLQ, err)
	}
	return nil
}

// dlqFilter returns the DLQ subject filter of stage ("" = every stage).
func dlqFilter(stage string) (string, error) {
	if stage == "" {
		return dlqStagesFilter, nil
	}
	if !slices.Contains(dlqStages(), stage) {
		return "", fmt.Errorf("unknown stage %q (want %s)", stage, strings.Join(dlqStages(), ", "))
	}
	return DLQSubject(stage), nil
}

// dlqStages are the stages that dead-letter (those with a consumer).
func dlqStages() []string { return replayableStages() }

// stageOfDLQSubject returns the stage of a dead letter's subject.
func stageOfDLQSubject(subject string) (string, bool) {
	stage, ok := strings.CutPrefix(subject, DLQSubject(""))
	if !ok || stage == "" || strings.Contains(stage, ".") {
		return "", false
	}
	return stage, true
}

// Payload is the dead letter's payload as JSON where it is stored
// compressed (and decompresses), else its bytes as stored.
func (d DeadLetter) Payload() []byte {
	if p := PlainPayload(d.Header, d.Data); p != nil {
		return p
	}
	return d.Data
}

func newDeadLetter(seq uint64, subject string, stored time.Time, h nats.Header, data []byte) DeadLetter {
	if h == nil {
		h = nats.Header{}
	}
	dl := DeadLetter{
		ID:            seq,
		Stage:         h.Get(hdrStage),
		Error:         h.Get(hdrError),
		Class:         h.Get(hdrErrorClass),
		OrigSubject:   h.Get(hdrOrigSubject),
		OrigStream:    h.Get(hdrOrigStream),
		CorrelationID: h.Get(hdrCorrelationID),
		At:            stored,
		Path:          payloadPath(PlainPayload(h, data)),
		Data:          data,
		Header:        h,
	}
	if dl.Stage == "" {
		dl.Stage, _ = stageOfDLQSubject(subject)
	}
	if dl.OrigStream == "" && dl.OrigSubject != "" {
		dl.OrigStream = StreamOf(dl.OrigSubject)
	}
	if n, err := strconv.Atoi(h.Get(hdrAttempts)); err == nil {
		dl.Attempts = n
	}
	if n, err := strconv.ParseUint(h.Get(hdrOrigSeq), 10, 64); err == nil {
		dl.OrigSeq = n
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(hdrDeadLettered)); err == nil {
		dl.At = t
	}
	return dl
}
