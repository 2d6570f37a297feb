package bus_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// stored is one message read back from a stream.
type stored struct {
	seq     uint64
	subject string
	data    string
	header  nats.Header
	at      time.Time
}

// publishInput stores an input message as the watcher or a stage would,
// with a correlation ID, and returns it as the runner hands it to a
// handler (with its stream sequence).
func publishInput(t *testing.T, js jetstream.JetStream, subject string, payload any, cid string) pipeline.Message {
	t.Helper()
	m, err := pipeline.NewMessage(subject, payload)
	require.NoError(t, err)
	m.Header.Set(pipeline.HeaderCorrelationID, cid)
	m.Header.Set(pipeline.HeaderMsgID, "orig:"+cid)
	// Like the watcher, with a publish expectation, which the stream stores
	// as a header of the message.
	ack, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: subject, Data: m.Data, Header: m.Header},
		jetstream.WithExpectStream(bus.StreamOf(subject)))
	require.NoError(t, err)
	m.StreamSeq, m.Delivered = ack.Sequence, 1
	st, err := js.Stream(t.Context(), bus.StreamOf(subject))
	require.NoError(t, err)
	raw, err := st.GetMsg(t.Context(), ack.Sequence)
	require.NoError(t, err)
	m.Header = raw.Header // as the runner receives it
	return m
}

// deadLetter dead-letters in the way the runner does and returns its ID.
func deadLetter(t *testing.T, js jetstream.JetStream, stage string, in pipeline.Message, cause error) uint64 {
	t.Helper()
	class := "exhausted"
	if pipeline.IsPermanent(cause) {
		class = "permanent"
	}
	ack, err := js.PublishMsg(t.Context(), pipeline.DeadLetter(stage, bus.StreamOf(in.Subject), in, cause, class))
	require.NoError(t, err)
	return ack.Sequence
}

// poison stores an input and dead-letters it for stage.
func poison(t *testing.T, js jetstream.JetStream, stage, subject string, payload any, cid string, cause error) (pipeline.Message, uint64) {
	t.Helper()
	in := publishInput(t, js, subject, payload, cid)
	return in, deadLetter(t, js, stage, in, cause)
}

// readStream returns every message stored in stream.
func readStream(t *testing.T, js jetstream.JetStream, stream string) []stored {
	t.Helper()
	st, err := js.Stream(t.Context(), stream)
	require.NoError(t, err)
	info, err := st.Info(t.Context())
	require.NoError(t, err)
	var out []stored
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.LastSeq > 0; seq++ {
		m, err := st.GetMsg(t.Context(), seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		require.NoError(t, err)
		out = append(out, stored{seq: m.Sequence, subject: m.Subject, data: string(m.Data), header: m.Header, at: m.Time})
	}
	return out
}

func ids(dls []bus.DeadLetter) []uint64 {
	var out []uint64
	for _, d := range dls {
		out = append(out, d.ID)
	}
	return out
}

func fileEvent(p string) event.FileDiscovered {
	return event.FileDiscovered{Path: p, Size: 3, SHA256: "abc", ModTime: "2024-01-01T00:00:00Z", Object: "obj-" + p}
}

func chunkEvent(p string, i int) event.Chunk {
	return event.Chunk{Document: event.NewDocument(p, "sha", 3, 1), Index: i, Total: 3, Text: "text " + strconv.Itoa(i)}
}

// passTime waits until the clock is past ts by d, so stream timestamps on
// either side differ.
func passTime(t *testing.T, ts time.Time, d time.Duration) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for time.Since(ts) <= d {
		<-tick.C
	}
}

func TestGetDeadLetterReadsEveryRunnerHeader(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	in := publishInput(t, js, event.SubjectChunk, chunkEvent("docs/a.md", 0), "cid-1")
	in.Delivered = 5
	before := time.Now().UTC()
	id := deadLetter(t, js, bus.StageExtractor, in, errors.New("extract docs/a.md: boom\nsecond line"))

	dl, err := bus.GetDeadLetter(t.Context(), js, id)
	require.NoError(t, err)
	assert.Equal(t, id, dl.ID)
	assert.Equal(t, bus.StageExtractor, dl.Stage)
	assert.Equal(t, "extract docs/a.md: boom second line", dl.Error)
	assert.Equal(t, "exhausted", dl.Class)
	assert.Equal(t, 5, dl.Attempts)
	assert.Equal(t, event.SubjectChunk, dl.OrigSubject)
	assert.Equal(t, bus.StreamChunks, dl.OrigStream)
	assert.Equal(t, in.StreamSeq, dl.OrigSeq)
	assert.Equal(t, "cid-1", dl.CorrelationID)
	assert.Equal(t, "docs/a.md", dl.Path)
	assert.Equal(t, in.Data, dl.Data)
	assert.Equal(t, event.TypeChunk, dl.Header.Get(pipeline.HeaderType))
	assert.WithinDuration(t, before, dl.At, time.Minute)
	assert.False(t, dl.At.Before(before.Add(-time.Millisecond)))
	// The header names bus reads are the ones pipeline writes.
	for _, h := range []string{pipeline.HeaderStage, pipeline.HeaderError, pipeline.HeaderErrorClass, pipeline.HeaderAttempts,
		pipeline.HeaderOrigSubject, pipeline.HeaderOrigStream, pipeline.HeaderOrigSeq, pipeline.HeaderDeadLettered} {
		assert.NotEmpty(t, dl.Header.Get(h), h)
	}
}

func TestGetDeadLetterNotFound(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	_, id := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "c", errors.New("x"))
	st, err := js.Stream(t.Context(), bus.StreamDLQ)
	require.NoError(t, err)
	require.NoError(t, st.DeleteMsg(t.Context(), id))
	// A message on a subject below a stage's DLQ subject is not a dead letter.
	ack, err := js.Publish(t.Context(), "docgraph.dlq.parser.extra", []byte("{}"))
	require.NoError(t, err)

	tests := []struct {
		name string
		give uint64
	}{
		{"zero", 0},
		{"deleted", id},
		{"not a dead letter subject", ack.Sequence},
		{"beyond the stream", ack.Sequence + 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bus.GetDeadLetter(t.Context(), js, tt.give)
			assert.ErrorIs(t, err, bus.ErrDeadLetterNotFound)
		})
	}
}

func TestDeadLetterPathFromEveryPayload(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	doc := event.NewDocument("dir/file.md", "sha", 1, 1)
	tests := []struct {
		name    string
		subject string
		payload any
		want    string
	}{
		{"file event", event.SubjectFileDiscovered, fileEvent("dir/file.md"), "dir/file.md"},
		{"chunk", event.SubjectChunk, chunkEvent("dir/file.md", 1), "dir/file.md"},
		{"extraction", event.SubjectExtraction, event.Extraction{Chunk: chunkEvent("dir/file.md", 0)}, "dir/file.md"},
		{"records", event.SubjectRecords, event.Records{Source: doc, Mapping: "m"}, "dir/file.md"},
		{"no path", event.SubjectRecords, map[string]int{"n": 1}, ""},
		{"not JSON", event.SubjectRecords, "\x00", ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := publishInput(t, js, tt.subject, tt.payload, "cid-"+strconv.Itoa(i))
			if tt.name == "not JSON" {
				in.Data = []byte("not json")
			}
			dl, err := bus.GetDeadLetter(t.Context(), js, deadLetter(t, js, bus.StageGraphWriter, in, errors.New("e")))
			require.NoError(t, err)
			assert.Equal(t, tt.want, dl.Path)
		})
	}
}

func TestListDeadLetters(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	_, p1 := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "c1", pipeline.Permanent(errors.New("empty file")))
	_, e1 := poison(t, js, bus.StageExtractor, event.SubjectChunk, chunkEvent("b.md", 0), "c2", errors.New("timeout"))
	first, err := bus.GetDeadLetter(t.Context(), js, e1)
	require.NoError(t, err)
	st, err := js.Stream(t.Context(), bus.StreamDLQ)
	require.NoError(t, err)
	raw, err := st.GetMsg(t.Context(), e1)
	require.NoError(t, err)
	passTime(t, raw.Time, 20*time.Millisecond)
	mark := time.Now()
	passTime(t, mark, 20*time.Millisecond)
	_, p2 := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("c.txt"), "c3", pipeline.Permanent(errors.New("not text")))

	tests := []struct {
		name      string
		give      bus.Filter
		sinceMark bool // Since reaches back to mark
		want      []uint64
	}{
		{"all", bus.Filter{}, false, []uint64{p1, e1, p2}},
		{"one stage", bus.Filter{Stage: bus.StageParser}, false, []uint64{p1, p2}},
		{"other stage", bus.Filter{Stage: bus.StageExtractor}, false, []uint64{e1}},
		{"stage without dead letters", bus.Filter{Stage: bus.StageGraphWriter}, false, nil},
		{"since covers all", bus.Filter{Since: time.Hour}, false, []uint64{p1, e1, p2}},
		{"since", bus.Filter{}, true, []uint64{p2}},
		{"since and stage", bus.Filter{Stage: bus.StageExtractor}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sinceMark {
				tt.give.Since = time.Since(mark)
			}
			got, err := bus.ListDeadLetters(t.Context(), js, tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(got))
		})
	}

	got, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{Stage: bus.StageExtractor})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, first, got[0], "list and get agree")
	assert.Equal(t, "b.md", got[0].Path)
	assert.Equal(t, "timeout", got[0].Error)
}

func TestListDeadLettersEmptyAndBadStage(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	got, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	require.NoError(t, err)
	assert.Empty(t, got)

	_, err = bus.ListDeadLetters(t.Context(), js, bus.Filter{Stage: "parsre"})
	assert.ErrorContains(t, err, `unknown stage "parsre" (want parser, extractor, graph-writer)`)
	_, err = bus.PurgeDeadLetters(t.Context(), js, "dlq.>", 0)
	assert.ErrorContains(t, err, "unknown stage")
}

func TestListDeadLettersManyAcrossBatches(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	in := publishInput(t, js, event.SubjectChunk, chunkEvent("a.md", 0), "c")
	var want []uint64
	for i := range 600 {
		in.StreamSeq = uint64(i + 1) // one dead letter per input
		want = append(want, deadLetter(t, js, bus.StageExtractor, in, errors.New("e")))
	}
	got, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	require.NoError(t, err)
	assert.Equal(t, want, ids(got))
}

func TestListDeadLettersStopsWhenCancelled(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "c", errors.New("e"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := bus.ListDeadLetters(ctx, js, bus.Filter{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestReplayDeadLetterRepublishesTheOriginal(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	in, id := poison(t, js, bus.StageExtractor, event.SubjectChunk, chunkEvent("b.md", 2), "cid-7", errors.New("llm 503"))

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{id}, false)
	require.NoError(t, err)
	require.Len(t, res, 1)
	r := res[0]
	require.NoError(t, r.Err)
	assert.Equal(t, bus.Replayed, r.Outcome)
	assert.Equal(t, bus.StageExtractor, r.Stage)
	assert.Equal(t, "b.md", r.Path)
	assert.Equal(t, event.SubjectChunk, r.Subject)

	chunks := readStream(t, js, bus.StreamChunks)
	require.Len(t, chunks, 2, "the original and the copy")
	cp := chunks[1]
	assert.Equal(t, r.Seq, cp.seq)
	assert.Equal(t, event.SubjectChunk, cp.subject)
	assert.Equal(t, string(in.Data), cp.data, "payload byte for byte")
	assert.Equal(t, "cid-7", cp.header.Get(pipeline.HeaderCorrelationID))
	assert.Equal(t, event.TypeChunk, cp.header.Get(pipeline.HeaderType))
	assert.Equal(t, event.Version, cp.header.Get(pipeline.HeaderVersion))
	assert.Equal(t, "replay:"+strconv.FormatUint(id, 10), cp.header.Get(pipeline.HeaderMsgID))
	assert.Equal(t, "dlq:"+strconv.FormatUint(id, 10), cp.header.Get(bus.HeaderReplay))
	for _, h := range []string{pipeline.HeaderStage, pipeline.HeaderError, pipeline.HeaderErrorClass, pipeline.HeaderAttempts,
		pipeline.HeaderOrigSubject, pipeline.HeaderOrigStream, pipeline.HeaderOrigSeq, pipeline.HeaderDeadLettered} {
		assert.Empty(t, cp.header.Get(h), "dead-letter header %s dropped", h)
	}

	left, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	require.NoError(t, err)
	assert.Empty(t, left, "the DLQ is empty after the replay")

	again, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{id}, false)
	require.NoError(t, err)
	assert.Equal(t, bus.NotFound, again[0].Outcome, "a second replay does nothing")
	assert.Len(t, readStream(t, js, bus.StreamChunks), 2, "still one copy")
}

func TestReplayDeadLetterInterruptedBeforeDelete(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	in, id := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "cid", errors.New("e"))
	// A replay that published and stopped before deleting the dead letter.
	_, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: in.Subject, Data: in.Data,
		Header: nats.Header{pipeline.HeaderMsgID: {"replay:" + strconv.FormatUint(id, 10)}, bus.HeaderReplay: {"dlq:" + strconv.FormatUint(id, 10)}}})
	require.NoError(t, err)

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{id}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, bus.AlreadyReplayed, res[0].Outcome)
	assert.Len(t, readStream(t, js, bus.StreamFiles), 2, "the original and one copy")
	_, err = bus.GetDeadLetter(t.Context(), js, id)
	assert.ErrorIs(t, err, bus.ErrDeadLetterNotFound)
}

func TestReplayDeadLettersDryRunChangesNothing(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	_, a := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "c1", errors.New("e"))
	_, b := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("b.txt"), "c2", errors.New("e"))
	publishInput(t, js, event.SubjectFileDiscovered, fileEvent("b.txt"), "c3") // a newer version of b.txt

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{a, b, 999}, true)
	require.NoError(t, err)
	outcomes := []bus.ReplayOutcome{res[0].Outcome, res[1].Outcome, res[2].Outcome}
	assert.Equal(t, []bus.ReplayOutcome{bus.Replayed, bus.Superseded, bus.NotFound}, outcomes)
	for _, r := range res {
		assert.True(t, r.DryRun)
		assert.NoError(t, r.Err)
	}
	assert.Len(t, readStream(t, js, bus.StreamFiles), 3, "nothing published")
	left, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	require.NoError(t, err)
	assert.Equal(t, []uint64{a, b}, ids(left), "nothing deleted")
}

func TestReplayDeadLetterSupersededByNewerFileEvent(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	_, id := poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "c1", pipeline.Permanent(errors.New("empty file")))
	publishInput(t, js, event.SubjectFileDiscovered, fileEvent("other.txt"), "c2")
	newer := publishInput(t, js, event.SubjectFileDiscovered, fileEvent("a.txt"), "c3")

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{id}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, bus.Superseded, res[0].Outcome)
	assert.Equal(t, newer.StreamSeq, res[0].SupersededBy)
	assert.Len(t, readStream(t, js, bus.StreamFiles), 3, "the old version is not republished")
	left, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestReplayDeadLetterWithoutOriginalSubjectFails(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	tests := []struct {
		name    string
		subject string
	}{
		{"missing", ""},
		{"outside docgraph streams", "elsewhere.subject"},
		{"the DLQ itself", "docgraph.dlq.parser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := nats.NewMsg(bus.DLQSubject(bus.StageParser))
			m.Data = []byte(`{"path":"x"}`)
			m.Header.Set(pipeline.HeaderStage, bus.StageParser)
			m.Header.Set(pipeline.HeaderOrigSubject, tt.subject)
			ack, err := js.PublishMsg(t.Context(), m)
			require.NoError(t, err)

			res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{ack.Sequence}, false)
			require.NoError(t, err)
			assert.Equal(t, bus.Failed, res[0].Outcome)
			assert.ErrorContains(t, res[0].Err, "is not in a docgraph stream")
			_, err = bus.GetDeadLetter(t.Context(), js, ack.Sequence)
			assert.NoError(t, err, "a failed replay keeps the dead letter")
		})
	}
}

func TestReplayDeadLettersCancelled(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	_, id := poison(t, js, bus.StageExtractor, event.SubjectChunk, chunkEvent("a.md", 0), "c", errors.New("e"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := bus.ReplayDeadLetters(ctx, js, []uint64{id}, false)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPurgeDeadLetters(t *testing.T) {
	tests := []struct {
		name      string
		stage     string
		olderThan bool // older than a point between the two batches
		wantN     int
		wantLeft  []string // stages of the dead letters left, in order
	}{
		{"everything", "", false, 4, nil},
		{"one stage", bus.StageParser, false, 2, []string{"extractor", "extractor"}},
		{"older than", "", true, 2, []string{"parser", "extractor"}},
		{"one stage older than", bus.StageExtractor, true, 1, []string{"parser", "parser", "extractor"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, js := bustest.Provisioned(t)
			poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("a.txt"), "c1", errors.New("e"))
			_, last := poison(t, js, bus.StageExtractor, event.SubjectChunk, chunkEvent("b.md", 0), "c2", errors.New("e"))
			dl, err := bus.GetDeadLetter(t.Context(), js, last)
			require.NoError(t, err)
			st, err := js.Stream(t.Context(), bus.StreamDLQ)
			require.NoError(t, err)
			raw, err := st.GetMsg(t.Context(), dl.ID)
			require.NoError(t, err)
			passTime(t, raw.Time, 20*time.Millisecond)
			mark := time.Now()
			passTime(t, mark, 20*time.Millisecond)
			poison(t, js, bus.StageParser, event.SubjectFileDiscovered, fileEvent("c.txt"), "c3", errors.New("e"))
			poison(t, js, bus.StageExtractor, event.SubjectChunk, chunkEvent("d.md", 0), "c4", errors.New("e"))

			var older time.Duration
			if tt.olderThan {
				older = time.Since(mark)
			}
			n, err := bus.PurgeDeadLetters(t.Context(), js, tt.stage, older)
			require.NoError(t, err)
			assert.Equal(t, tt.wantN, n)
			left, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
			require.NoError(t, err)
			var stages []string
			for _, d := range left {
				stages = append(stages, d.Stage)
			}
			assert.Equal(t, tt.wantLeft, stages)

			if tt.olderThan {
				older = time.Since(mark) // the same cutoff as the first purge
			}
			n, err = bus.PurgeDeadLetters(t.Context(), js, tt.stage, older)
			require.NoError(t, err)
			assert.Zero(t, n, "nothing left to purge")
		})
	}
}

func TestDeadLettersWithoutStream(t *testing.T) {
	ns := bustest.NewServer(t)
	_, js := bustest.Connect(t, ns)
	_, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	_, err = bus.GetDeadLetter(t.Context(), js, 1)
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	_, err = bus.ReplayDeadLetters(t.Context(), js, []uint64{1}, false)
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	_, err = bus.PurgeDeadLetters(t.Context(), js, "", 0)
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	_, err = bus.ReplayStage(t.Context(), js, bus.StageParser, bus.ReplayFrom{FromSeq: 1}, false)
	assert.ErrorIs(t, err, jetstream.ErrStreamNotFound)
}

// A later stage's dead letter is about the file version its message
// carries (the files stream sequence of its file event): once the file has
// a newer event it is superseded too, listed only with --all and removed
// instead of replayed, like a file event's.
func TestDeadLetterOfALaterStageSupersededByNewerFileEvent(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	a1 := publishInput(t, js, event.SubjectFileDiscovered, fileEvent("teams.csv"), "c1")
	b1 := publishInput(t, js, event.SubjectFileDiscovered, fileEvent("b.md"), "c2")
	records := event.Records{Source: event.NewDocument("teams.csv", "abc", 3, a1.StreamSeq), Final: true}
	_, recordsID := poison(t, js, bus.StageGraphWriter, event.SubjectRecords, records, "c1", pipeline.Permanent(errors.New("too large to index")))
	_, chunkID := poison(t, js, bus.StageExtractor, event.SubjectChunk,
		event.Chunk{Document: event.NewDocument("b.md", "abc", 3, b1.StreamSeq), Total: 1, Text: "x"}, "c2", errors.New("e"))
	newer := publishInput(t, js, event.SubjectFileDiscovered, fileEvent("teams.csv"), "c3")

	dls, err := bus.ListDeadLetters(t.Context(), js, bus.Filter{})
	require.NoError(t, err)
	require.NoError(t, bus.MarkSuperseded(t.Context(), js, dls))
	require.Equal(t, []uint64{recordsID, chunkID}, ids(dls))
	assert.Equal(t, newer.StreamSeq, dls[0].SupersededBy, "teams.csv has a newer version")
	assert.Zero(t, dls[1].SupersededBy, "b.md is as it was")

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{recordsID}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, bus.Superseded, res[0].Outcome)
	assert.Empty(t, readStream(t, js, bus.StreamRecords)[1:], "the old version's records are not republished")
}

// A dead letter whose payload is stored compressed names its file and
// shows its payload as JSON; replaying it republishes the bytes as stored.
func TestDeadLetterOfACompressedPayload(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	c := chunkEvent("dir/file.md", 0)
	c.Text = strings.Repeat("Ada Quinlan reviewed the plan. ", 80)
	m, err := pipeline.NewMessage(event.SubjectChunk, c)
	require.NoError(t, err)
	plain := m.Data
	m.Data = bus.EncodePayload(m.Header, m.Data)
	require.Equal(t, bus.EncodingS2, m.Header.Get(bus.HeaderEncoding))
	m.Header.Set(pipeline.HeaderCorrelationID, "cid-z")
	m.StreamSeq, m.Delivered = 7, 1

	id := deadLetter(t, js, bus.StageExtractor, m, pipeline.Permanent(errors.New("e")))
	dl, err := bus.GetDeadLetter(t.Context(), js, id)
	require.NoError(t, err)
	assert.Equal(t, "dir/file.md", dl.Path)
	assert.JSONEq(t, string(plain), string(dl.Payload()))
	assert.Equal(t, m.Data, dl.Data, "kept as stored")

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{id}, false)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.NoError(t, res[0].Err)
	var replayed []stored
	for _, s := range readStream(t, js, bus.StreamChunks) {
		if s.header.Get(pipeline.HeaderCorrelationID) == "cid-z" {
			replayed = append(replayed, s)
		}
	}
	require.Len(t, replayed, 1)
	assert.Equal(t, res[0].Seq, replayed[0].seq)
	p, err := bus.Payload(replayed[0].header, []byte(replayed[0].data))
	require.NoError(t, err)
	assert.JSONEq(t, string(plain), string(p))
}
