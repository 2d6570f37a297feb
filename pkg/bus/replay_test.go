package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// storeChunks stores n chunks of one document and returns them.
func storeChunks(t *testing.T, js jetstream.JetStream, doc string, n int) []pipeline.Message {
	t.Helper()
	var out []pipeline.Message
	for i := range n {
		out = append(out, publishInput(t, js, event.SubjectChunk, chunkEvent(doc, i), doc+"-"+strconv.Itoa(i)))
	}
	return out
}

// copies returns the messages of stream after the first n.
func copies(t *testing.T, js jetstream.JetStream, stream string, n int) []stored {
	t.Helper()
	all := readStream(t, js, stream)
	require.GreaterOrEqual(t, len(all), n)
	return all[n:]
}

func TestReplayStageBySequence(t *testing.T) {
	tests := []struct {
		name     string
		from     bus.ReplayFrom
		dryRun   bool
		wantSeqs []uint64 // originals republished
	}{
		{"from a sequence to the end", bus.ReplayFrom{FromSeq: 2}, false, []uint64{2, 3, 4, 5}},
		{"a closed range", bus.ReplayFrom{FromSeq: 2, UntilSeq: 3}, false, []uint64{2, 3}},
		{"one message", bus.ReplayFrom{FromSeq: 4, UntilSeq: 4}, false, []uint64{4}},
		{"until beyond the end", bus.ReplayFrom{FromSeq: 5, UntilSeq: 99}, false, []uint64{5}},
		{"start beyond the end", bus.ReplayFrom{FromSeq: 6}, false, nil},
		{"a dry run counts", bus.ReplayFrom{FromSeq: 1, UntilSeq: 3}, true, []uint64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, js := bustest.Provisioned(t)
			orig := storeChunks(t, js, "a.md", 5)

			stats, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, tt.from, tt.dryRun)
			require.NoError(t, err)
			assert.Equal(t, bus.StageExtractor, stats.Stage)
			assert.Equal(t, tt.dryRun, stats.DryRun)
			assert.Len(t, stats.Nonce, 12)
			require.Len(t, stats.Streams, 1)
			sr := stats.Streams[0]
			assert.Equal(t, bus.StreamChunks, sr.Stream)
			assert.Equal(t, len(tt.wantSeqs), sr.Published)
			assert.Equal(t, len(tt.wantSeqs), stats.Published())
			if len(tt.wantSeqs) > 0 {
				assert.Equal(t, tt.wantSeqs[0], sr.FirstSeq)
				assert.Equal(t, tt.wantSeqs[len(tt.wantSeqs)-1], sr.LastSeq)
			}

			got := copies(t, js, bus.StreamChunks, len(orig))
			if tt.dryRun {
				assert.Empty(t, got, "a dry run publishes nothing")
				return
			}
			require.Len(t, got, len(tt.wantSeqs))
			for i, seq := range tt.wantSeqs {
				o := orig[seq-1]
				assert.Equal(t, o.Subject, got[i].subject)
				assert.Equal(t, string(o.Data), got[i].data)
				assert.Equal(t, o.CorrelationID(), got[i].header.Get(pipeline.HeaderCorrelationID))
				assert.Equal(t, event.TypeChunk, got[i].header.Get(pipeline.HeaderType))
				assert.Equal(t, event.Version, got[i].header.Get(pipeline.HeaderVersion))
				assert.Equal(t, "replay:DOCGRAPH_CHUNKS:"+strconv.FormatUint(seq, 10)+":"+stats.Nonce, got[i].header.Get(pipeline.HeaderMsgID))
				assert.Equal(t, "stage:"+stats.Nonce, got[i].header.Get(bus.HeaderReplay))
			}
		})
	}
}

func TestReplayStageTwiceRepublishesTwice(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	storeChunks(t, js, "a.md", 3)
	first, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, bus.ReplayFrom{FromSeq: 1}, false)
	require.NoError(t, err)
	second, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, bus.ReplayFrom{FromSeq: 1, UntilSeq: 3}, false)
	require.NoError(t, err)
	assert.NotEqual(t, first.Nonce, second.Nonce)
	assert.Equal(t, 3, first.Published())
	assert.Equal(t, 3, second.Published())
	assert.Len(t, readStream(t, js, bus.StreamChunks), 9, "copies are not deduplicated against the originals or each other")

	// From the start again: the first run's copies are history now and are
	// replayed too, the ones this run appends are not.
	third, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, bus.ReplayFrom{FromSeq: 1}, false)
	require.NoError(t, err)
	assert.Equal(t, 9, third.Published())
	assert.Len(t, readStream(t, js, bus.StreamChunks), 18)
}

func TestReplayStageByTime(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	storeChunks(t, js, "a.md", 2)
	mark := time.Now()
	passTime(t, mark, 20*time.Millisecond)
	mid := storeChunks(t, js, "b.md", 2)
	end := time.Now()
	passTime(t, end, 20*time.Millisecond)
	storeChunks(t, js, "c.md", 1)

	tests := []struct {
		name string
		from bus.ReplayFrom
		want []uint64
	}{
		{"since", bus.ReplayFrom{Since: mark}, []uint64{3, 4, 5}},
		{"since until", bus.ReplayFrom{Since: mark, Until: end}, []uint64{3, 4}},
		{"from sequence until a time", bus.ReplayFrom{FromSeq: 2, Until: end}, []uint64{2, 3, 4}},
		{"since the future", bus.ReplayFrom{Since: time.Now().Add(time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stats, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, tt.from, true)
			require.NoError(t, err)
			require.Len(t, stats.Streams, 1)
			sr := stats.Streams[0]
			assert.Equal(t, len(tt.want), sr.Published)
			if len(tt.want) > 0 {
				assert.Equal(t, tt.want[0], sr.FirstSeq)
				assert.Equal(t, tt.want[len(tt.want)-1], sr.LastSeq)
			}
		})
	}
	assert.Equal(t, uint64(3), mid[0].StreamSeq)
}

func TestReplayStageGraphWriterReadsBothStreams(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	start := time.Now().Add(-time.Minute)
	doc := event.NewDocument("people.csv", "sha", 1, 1)
	publishInput(t, js, event.SubjectExtraction, event.Extraction{Chunk: chunkEvent("a.md", 0)}, "c1")
	publishInput(t, js, event.SubjectExtractionDeletion, event.ExtractionDeletion{Path: "b.md", Version: 3}, "c2")
	publishInput(t, js, event.SubjectRecords, event.Records{Source: doc, Mapping: "people"}, "c3")

	stats, err := bus.ReplayStage(t.Context(), js, bus.StageGraphWriter, bus.ReplayFrom{Since: start}, false)
	require.NoError(t, err)
	require.Len(t, stats.Streams, 2)
	assert.Equal(t, bus.StreamExtractions, stats.Streams[0].Stream)
	assert.Equal(t, 2, stats.Streams[0].Published, "every subject the stage consumes")
	assert.Equal(t, bus.StreamRecords, stats.Streams[1].Stream)
	assert.Equal(t, 1, stats.Streams[1].Published)
	assert.Len(t, readStream(t, js, bus.StreamExtractions), 4)
	assert.Len(t, readStream(t, js, bus.StreamRecords), 2)

	stats, err = bus.ReplayStage(t.Context(), js, bus.StageGraphWriter, bus.ReplayFrom{FromSeq: 1, UntilSeq: 1, Stream: bus.StreamRecords}, false)
	require.NoError(t, err)
	require.Len(t, stats.Streams, 1)
	assert.Equal(t, bus.StreamRecords, stats.Streams[0].Stream)
	assert.Equal(t, 1, stats.Published())
}

func TestReplayStageParserSkipsSupersededFileEvents(t *testing.T) {
	tests := []struct {
		name           string
		from           bus.ReplayFrom
		wantPublished  []string // paths, in order
		wantSuperseded int
	}{
		{"whole history", bus.ReplayFrom{FromSeq: 1}, []string{"b.txt", "a.txt", "c.txt"}, 1},
		{"a newer event after the range", bus.ReplayFrom{FromSeq: 1, UntilSeq: 2}, []string{"b.txt"}, 1},
		{"only the newest", bus.ReplayFrom{FromSeq: 3}, []string{"a.txt", "c.txt"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, js := bustest.Provisioned(t)
			publishInput(t, js, event.SubjectFileDiscovered, fileEvent("a.txt"), "c1")
			publishInput(t, js, event.SubjectFileDiscovered, fileEvent("b.txt"), "c2")
			publishInput(t, js, event.SubjectFileDeleted, event.FileDeleted{Path: "a.txt"}, "c3")
			publishInput(t, js, event.SubjectFileDiscovered, fileEvent("c.txt"), "c4")

			stats, err := bus.ReplayStage(t.Context(), js, bus.StageParser, tt.from, false)
			require.NoError(t, err)
			require.Len(t, stats.Streams, 1)
			assert.Equal(t, tt.wantSuperseded, stats.Streams[0].Superseded)
			var paths []string
			for _, m := range copies(t, js, bus.StreamFiles, 4) {
				paths = append(paths, pathOf(t, m.data))
			}
			assert.Equal(t, tt.wantPublished, paths)
		})
	}
}

// pathOf reads a file event's path.
func pathOf(t *testing.T, data string) string {
	t.Helper()
	var ev struct {
		Path string `json:"path"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &ev))
	return ev.Path
}

func TestReplayStageProgress(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	in := pipeline.MustMessage(event.SubjectChunk, chunkEvent("big.md", 0))
	for i := range 600 {
		_, err := js.Publish(t.Context(), in.Subject, in.Data, jetstream.WithMsgID("m"+strconv.Itoa(i)))
		require.NoError(t, err)
	}
	var got []bus.ReplayProgress
	from := bus.ReplayFrom{FromSeq: 1, Progress: func(p bus.ReplayProgress) { got = append(got, p) }}
	stats, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, from, false)
	require.NoError(t, err)
	assert.Equal(t, 600, stats.Published())
	require.Len(t, got, 3)
	assert.Equal(t, bus.ReplayProgress{Stream: bus.StreamChunks, Seq: 256, LastSeq: 600, Published: 256}, got[0])
	assert.Equal(t, bus.ReplayProgress{Stream: bus.StreamChunks, Seq: 512, LastSeq: 600, Published: 512}, got[1])
	assert.Equal(t, bus.ReplayProgress{Stream: bus.StreamChunks, Seq: 600, LastSeq: 600, Published: 600}, got[2])
	assert.Len(t, readStream(t, js, bus.StreamChunks), 1200)
}

func TestReplayStageEmptyStream(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	stats, err := bus.ReplayStage(t.Context(), js, bus.StageParser, bus.ReplayFrom{FromSeq: 1}, false)
	require.NoError(t, err)
	assert.Zero(t, stats.Published())
}

func TestReplayStageRejectsBadRanges(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	now := time.Now()
	tests := []struct {
		name    string
		stage   string
		from    bus.ReplayFrom
		wantErr string
	}{
		{"unknown stage", "watcher", bus.ReplayFrom{FromSeq: 1}, `unknown stage "watcher" (want parser, extractor, graph-writer)`},
		{"no start", bus.StageParser, bus.ReplayFrom{}, "a start is required"},
		{"two starts", bus.StageParser, bus.ReplayFrom{FromSeq: 1, Since: now}, "either a start time (--since) or a start sequence (--from-seq), not both"},
		{"until before since", bus.StageParser, bus.ReplayFrom{Since: now, Until: now.Add(-time.Hour)}, "until ("},
		{"until-seq before from-seq", bus.StageParser, bus.ReplayFrom{FromSeq: 5, UntilSeq: 4}, "until-seq (4) is before from-seq (5)"},
		{"sequences need a stream", bus.StageGraphWriter, bus.ReplayFrom{FromSeq: 1}, "sequence numbers are per stream and stage graph-writer reads DOCGRAPH_EXTRACTIONS and DOCGRAPH_RECORDS: name one stream with --stream"},
		{"a stream the stage does not read", bus.StageParser, bus.ReplayFrom{FromSeq: 1, Stream: bus.StreamChunks}, `stream "DOCGRAPH_CHUNKS": stage parser reads DOCGRAPH_FILES`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bus.ReplayStage(t.Context(), js, tt.stage, tt.from, false)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestReplayStageCancelled(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	storeChunks(t, js, "a.md", 2)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := bus.ReplayStage(ctx, js, bus.StageExtractor, bus.ReplayFrom{FromSeq: 1}, false)
	assert.ErrorIs(t, err, context.Canceled)
}

// fillUp makes stream refuse new messages.
func fillUp(t *testing.T, js jetstream.JetStream, stream string) {
	t.Helper()
	st, err := js.Stream(t.Context(), stream)
	require.NoError(t, err)
	info, err := st.Info(t.Context())
	require.NoError(t, err)
	cfg := info.Config
	cfg.MaxMsgs, cfg.Discard = int64(info.State.Msgs), jetstream.DiscardNew
	_, err = js.UpdateStream(t.Context(), cfg)
	require.NoError(t, err)
}

func TestReplayWhenTheStreamRefusesMessages(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	storeChunks(t, js, "a.md", 2)
	_, id := poison(t, js, bus.StageExtractor, event.SubjectChunk, chunkEvent("b.md", 0), "c", errors.New("e"))
	fillUp(t, js, bus.StreamChunks)

	_, err := bus.ReplayStage(t.Context(), js, bus.StageExtractor, bus.ReplayFrom{FromSeq: 1}, false)
	assert.ErrorContains(t, err, "replay extractor from DOCGRAPH_CHUNKS: republish")

	res, err := bus.ReplayDeadLetters(t.Context(), js, []uint64{id}, false)
	require.NoError(t, err)
	assert.Equal(t, bus.Failed, res[0].Outcome)
	assert.ErrorContains(t, res[0].Err, "republish to docgraph.chunks.text")
	_, err = bus.GetDeadLetter(t.Context(), js, id)
	assert.NoError(t, err, "kept for a later replay")
}
