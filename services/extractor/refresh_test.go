package extractor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

func publishChunk(t *testing.T, js jetstream.JetStream, path, text string, version uint64) {
	t.Helper()
	doc := event.NewDocument(path, fmt.Sprintf("%064x", version), int64(len(text)), version)
	m := pipeline.MustMessage(event.SubjectChunk, event.Chunk{Document: doc, Index: 0, Total: 1, Text: text})
	nm := nats.NewMsg(m.Subject)
	nm.Header = m.Header
	nm.Header.Set(pipeline.HeaderCorrelationID, "cid-"+path)
	nm.Data = bus.EncodePayload(nm.Header, m.Data) // as the parser's runner stores it
	_, err := js.PublishMsg(context.Background(), nm)
	require.NoError(t, err)
}

// storedPayload is the JSON payload of a stored message.
func storedPayload(t *testing.T, m *jetstream.RawStreamMsg) []byte {
	t.Helper()
	p, err := bus.Payload(m.Header, m.Data)
	require.NoError(t, err)
	return p
}

func extractions(t *testing.T, js jetstream.JetStream) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), bus.StreamExtractions)
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(context.Background(), seq)
		require.NoError(t, err)
		out = append(out, m)
	}
	return out
}

// extractedChunks names the chunk of each extraction in the stream.
func extractedChunks(t *testing.T, js jetstream.JetStream, name func(event.Chunk) string) []string {
	t.Helper()
	var got []string
	for _, m := range extractions(t, js) {
		var x event.Extraction
		require.NoError(t, json.Unmarshal(storedPayload(t, m), &x))
		got = append(got, name(x.Chunk))
	}
	return got
}

// waitUntil polls cond until it holds or the timeout passes.
var waitUntil = testwait.Until

// runRefresher runs r until the test ends.
func runRefresher(t *testing.T, r *Refresher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitRefreshed waits until r has refreshed through revision rev.
func waitRefreshed(t *testing.T, r *Refresher, rev uint64) {
	t.Helper()
	waitUntil(t, 10*time.Second, func() error {
		if !r.Idle(rev) {
			return fmt.Errorf("refresh through revision %d pending", rev)
		}
		return nil
	})
}

// Names learned after a document was extracted are found in it by
// re-extracting only the chunks that contain them.
func TestRefresherReextractsChunksWithChangedNames(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	g := NewGazetteer(nil)
	x := newTestExtractorWith(t, g)
	publishChunk(t, js, "a.md", "Ada Quinlan reviewed the plan.", 1)
	publishChunk(t, js, "b.md", "Nothing about people here.", 2)
	publishChunk(t, js, "c.md", "Ada Quinlan manages PRJ-1234.", 3)

	r := NewRefresher(js, x, logging.Discard(), 10*time.Millisecond)
	runRefresher(t, r)

	r.Synced(5)
	assert.True(t, r.Idle(5))
	g.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	r.Changed("Ada Quinlan", 6)
	assert.False(t, r.Idle(6))
	waitRefreshed(t, r, 6)
	assert.Equal(t, 2, r.Replayed())
	msgs := extractions(t, js)
	require.Len(t, msgs, 2, "only the chunks naming the person are re-extracted")
	for _, m := range msgs {
		var x event.Extraction
		require.NoError(t, json.Unmarshal(storedPayload(t, m), &x))
		assert.Contains(t, []string{"a.md", "c.md"}, x.Chunk.Document.Path)
		assert.Equal(t, "cid-"+x.Chunk.Document.Path, m.Header.Get(pipeline.HeaderCorrelationID))
		assert.Contains(t, m.Header.Get(pipeline.HeaderMsgID), "refresh:6:")
		var persons []string
		for _, n := range x.Mentions {
			if n.Label == "Person" {
				persons = append(persons, n.Key)
			}
		}
		assert.Equal(t, []string{"ada quinlan"}, persons)
	}

	// The same change refreshed again (another replica, same revision) is
	// deduplicated by message ID.
	r.Changed("Ada Quinlan", 6)
	waitUntil(t, 10*time.Second, func() error {
		if r.Replayed() != 4 || !r.Idle(6) {
			return fmt.Errorf("replayed %d", r.Replayed())
		}
		return nil
	})
	assert.Len(t, extractions(t, js), 2)
}

// Chunks of a version the stream also holds a later version of are not
// re-extracted: the graph writer would ignore them.
func TestRefresherSkipsSupersededVersions(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	r := adaRefresher(t, js)
	publishChunk(t, js, "a.md", "Ada Quinlan wrote the first draft.", 1)
	publishChunk(t, js, "c.md", "Ada Quinlan manages PRJ-1234.", 3)
	publishChunk(t, js, "a.md", "Ada Quinlan wrote the second draft.", 4)

	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 7)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.ElementsMatch(t, []string{"c.md v3", "a.md v4"}, extractedChunks(t, js, func(c event.Chunk) string {
		return fmt.Sprintf("%s v%d", c.Document.Path, c.Document.Version)
	}))
}

// Chunks of an earlier cut of the latest version (the parser ran again
// over the same content with other chunk settings) are not re-extracted:
// the later cut replaced them in the graph.
func TestRefresherSkipsEarlierCutsOfAVersion(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	r := adaRefresher(t, js)
	doc := event.NewDocument("a.md", fmt.Sprintf("%064x", 5), 100, 5)
	publish := func(index, total int, text string) {
		t.Helper()
		m := pipeline.MustMessage(event.SubjectChunk, event.Chunk{Document: doc, Index: index, Total: total, Text: text})
		_, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
		require.NoError(t, err)
	}
	publish(0, 3, "Ada Quinlan wrote it.")
	publishChunk(t, js, "c.md", "Ada Quinlan manages PRJ-1234.", 3)
	publish(1, 3, "Ada Quinlan checked it.")
	publish(2, 3, "Ada Quinlan sent it.")
	publish(0, 2, "Ada Quinlan wrote it. Ada Quinlan checked it.")
	publish(1, 2, "Ada Quinlan sent it.")

	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 7)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.ElementsMatch(t, []string{"c.md 0/1", "a.md 0/2", "a.md 1/2"}, extractedChunks(t, js, func(c event.Chunk) string {
		return fmt.Sprintf("%s %d/%d", c.Document.Path, c.Index, c.Total)
	}))
}

func TestCutSupersedes(t *testing.T) {
	c := cut{version: 5, total: 2, start: 40}
	for _, tt := range []struct {
		name    string
		version uint64
		total   int
		seq     uint64
		want    bool
	}{
		{"an earlier version", 4, 2, 50, true},
		{"an earlier cut into another number of chunks", 5, 3, 50, true},
		{"an earlier cut into as many chunks, before the latest first chunk", 5, 2, 39, true},
		{"the latest cut", 5, 2, 40, false},
		{"the latest cut, a later chunk", 5, 2, 41, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, c.supersedes(tt.version, tt.total, tt.seq))
		})
	}
	// A cut whose first chunk the stream dropped as a copy of the
	// earlier cut's (alike, and as many chunks) starts at that one.
	assert.False(t, cut{version: 5, total: 2}.supersedes(5, 2, 1))
}

// A chunk is re-extracted for a name however the text writes it where the
// gazetteer finds it: wrapped over two lines, with several spaces, a
// no-break space, a soft hyphen or in decomposed Unicode.
func TestRefresherFindsNamesWrittenWithVariants(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	r := adaRefresher(t, js)
	texts := []string{
		"Notes by Ada\nQuinlan.",
		"Ada  Quinlan reviewed it.",
		"Ada\u00a0Quinlan manages PRJ-1234.",
		"A\u00adda Quinlan signed.",
		"Ada Quinla\u0301n, Ada Quinla\u0301n",
		"Ada Quinlans and XAda Quinlan: not the name.",
	}
	for i, text := range texts {
		publishChunk(t, js, fmt.Sprintf("d%d.md", i), text, uint64(i+1))
	}
	g := r.x.gaz
	g.Put(Entry{Label: "Person", Key: "ada quinlán", Name: "Ada Quinlán"})

	n, err := r.refresh(t.Context(), []string{"Ada Quinlan", "Ada Quinlán"}, false, 7)
	require.NoError(t, err)
	assert.Equal(t, len(texts)-1, n)
	var got []string
	for _, m := range extractions(t, js) {
		var x event.Extraction
		require.NoError(t, json.Unmarshal(storedPayload(t, m), &x))
		got = append(got, x.Chunk.Document.Path+" "+strings.Join(refs(x.Mentions), ","))
	}
	assert.ElementsMatch(t, []string{
		"d0.md Person:ada quinlan",
		"d1.md Person:ada quinlan",
		"d2.md Person:ada quinlan,Project:PRJ-1234",
		"d3.md Person:ada quinlan",
		"d4.md Person:ada quinlán",
	}, got)
}

func TestRefresherWithEmptyStream(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	r := NewRefresher(js, newTestExtractorWith(t, NewGazetteer(nil)), logging.Discard(), 0)
	n, err := r.refresh(context.Background(), []string{"Nobody"}, false, 1)
	require.NoError(t, err)
	assert.Zero(t, n)
	n, err = r.refresh(context.Background(), nil, false, 1)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// adaRefresher is a refresher over js whose gazetteer knows Ada Quinlan.
func adaRefresher(t *testing.T, js jetstream.JetStream) *Refresher {
	t.Helper()
	g := NewGazetteer(nil)
	g.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	return NewRefresher(js, newTestExtractorWith(t, g), logging.Discard(), 0)
}

func newTestExtractorWith(t testing.TB, g *Gazetteer) *Extractor {
	t.Helper()
	x, err := New(defaultSchema(t), g)
	require.NoError(t, err)
	return x
}

// A refresh ends at the last chunk even when other messages (a document's
// deletion) follow it in the stream.
func TestRefresherEndsAtTheLastChunk(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	r := adaRefresher(t, js)
	publishChunk(t, js, "a.md", "Ada Quinlan wrote the first draft.", 1)
	m := pipeline.MustMessage(event.SubjectDocumentDeleted, event.DocumentDeleted{Path: "b.md"})
	_, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
	require.NoError(t, err)

	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 2)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// A scan that does not reach its last chunk fails (the refresh is tried
// again) rather than passing for complete: chunks it did not see would
// keep their old extraction.
func TestScanChunksFailsShortOfItsEnd(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	publishChunk(t, js, "a.md", "Ada Quinlan wrote the first draft.", 1)
	stream, err := js.Stream(t.Context(), bus.StreamChunks)
	require.NoError(t, err)
	seen := 0
	err = scanChunks(t.Context(), stream, 5, 100*time.Millisecond, func(jetstream.Msg, uint64) error { seen++; return nil })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no chunk within 100ms before sequence 5")
	assert.Equal(t, 1, seen)
}

// A refresh is recorded once finished. A start whose gazetteer is ahead of
// the record (a process stopped before its refresh finished, or names that
// changed while no extractor ran) re-extracts every chunk; a start that
// finds the record current re-extracts nothing.
func TestRefresherStartFinishesAnUnrecordedRefresh(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	book, err := gazetteer.Open(t.Context(), js, logging.Discard())
	require.NoError(t, err)
	publishChunk(t, js, "a.md", "Ada Quinlan reviewed the plan.", 1)
	publishChunk(t, js, "b.md", "Nothing about people here.", 2)

	start := func(rev uint64) *Refresher {
		t.Helper()
		r := adaRefresher(t, js)
		r.UseMark(book)
		runRefresher(t, r)
		require.NoError(t, r.Start(t.Context(), rev))
		waitRefreshed(t, r, rev)
		return r
	}
	refreshed := func() uint64 {
		t.Helper()
		rev, _, err := book.Refreshed(t.Context())
		require.NoError(t, err)
		return rev
	}

	r := start(0)
	assert.Zero(t, r.Replayed(), "an empty gazetteer needs no refresh")
	_, ok, err := book.Refreshed(t.Context())
	require.NoError(t, err)
	assert.False(t, ok)

	r = start(5)
	assert.Equal(t, 2, r.Replayed(), "no record: every chunk is re-extracted")
	assert.EqualValues(t, 5, refreshed())
	require.Len(t, extractions(t, js), 2)

	r = start(5)
	assert.Zero(t, r.Replayed(), "the record is current")
	assert.Len(t, extractions(t, js), 2)

	// A change refreshed while running advances the record.
	r.Changed("Ada Quinlan", 6)
	waitUntil(t, 10*time.Second, func() error {
		if !r.Idle(6) || refreshed() != 6 {
			return fmt.Errorf("refreshed through %d", refreshed())
		}
		return nil
	})
	assert.Equal(t, 1, r.Replayed())

	r = start(9)
	assert.Equal(t, 2, r.Replayed(), "the gazetteer is ahead of the record")
	assert.EqualValues(t, 9, refreshed())
	assert.Len(t, extractions(t, js), 5)
}

// A refresh waits for its publishes' acknowledgements in a window, so a
// re-extraction of a long history does not hold every extraction in
// memory until its end; every chunk is still re-extracted.
func TestRefresherPublishesInABoundedWindow(t *testing.T) {
	defer func(w int) { refreshWindow = w }(refreshWindow)
	refreshWindow = 3
	_, _, js := bustest.Provisioned(t)
	r := adaRefresher(t, js)
	const chunks = 10
	for i := range chunks {
		publishChunk(t, js, fmt.Sprintf("d%02d.md", i), "Ada Quinlan reviewed the plan.", uint64(i+1))
	}
	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 21)
	require.NoError(t, err)
	assert.Equal(t, chunks, n)
	assert.Len(t, extractions(t, js), chunks)
	r.mu.Lock()
	peak := r.pendingPeak
	r.mu.Unlock()
	assert.Equal(t, 3, peak, "at most the window is awaited at once")
}

// Of several extractor replicas, only the one holding the lease
// re-extracts; the others wait for its mark. When it stops, another takes
// the lease and refreshes the next change.
func TestRefresherReplicasShareOneRefresh(t *testing.T) {
	defer func(p time.Duration) { followPoll = p }(followPoll)
	followPoll = 20 * time.Millisecond
	_, _, js := bustest.Provisioned(t)
	book, err := gazetteer.Open(t.Context(), js, logging.Discard())
	require.NoError(t, err)
	publishChunk(t, js, "a.md", "Ada Quinlan reviewed the plan.", 1)
	publishChunk(t, js, "b.md", "Nothing about people here.", 2)
	publishChunk(t, js, "c.md", "Ada Quinlan manages PRJ-1234.", 3)

	type replica struct {
		r     *Refresher
		lease *bus.Lease
		stop  func()
	}
	var replicas []*replica
	for range 3 {
		lease, err := bus.RefresherLease(t.Context(), js, "extractor", logging.Discard())
		require.NoError(t, err)
		r := adaRefresher(t, js)
		r.UseMark(book)
		r.UseLease(lease)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 2)
		go func() { done <- r.Run(ctx) }()
		go func() { done <- lease.Run(ctx) }()
		stop := sync.OnceFunc(func() { cancel(); <-done; <-done })
		t.Cleanup(stop)
		replicas = append(replicas, &replica{r, lease, stop})
		r.Synced(5)
	}
	refresh := func(live []*replica, rev uint64) {
		t.Helper()
		for _, x := range live {
			x.r.Changed("Ada Quinlan", rev)
		}
		waitUntil(t, 10*time.Second, func() error {
			for i, x := range live {
				if !x.r.Idle(rev) {
					return fmt.Errorf("replica %d has not seen revision %d refreshed", i, rev)
				}
			}
			return nil
		})
	}

	refresh(replicas, 6)
	var holder *replica
	total := 0
	for _, x := range replicas {
		total += x.r.Replayed()
		if x.lease.Held() {
			require.Nil(t, holder, "one holder")
			holder = x
		}
	}
	require.NotNil(t, holder)
	assert.Equal(t, 2, total, "the two chunks naming Ada are re-extracted once, by one replica")
	assert.Equal(t, 2, holder.r.Replayed())
	done, _, err := book.Refreshed(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 6, done)

	// The holder stops: the next change is refreshed by one of the others.
	holder.stop()
	var live []*replica
	for _, x := range replicas {
		if x != holder {
			live = append(live, x)
		}
	}
	refresh(live, 7)
	total = 0
	for _, x := range live {
		total += x.r.Replayed()
	}
	assert.Equal(t, 2, total, "re-extracted once more, by the new holder")
	assert.Len(t, extractions(t, js), 4)
}

// A long refresh says how far it has come.
func TestRefresherLogsProgress(t *testing.T) {
	defer func(d time.Duration) { refreshProgressEvery = d }(refreshProgressEvery)
	refreshProgressEvery = 0
	_, _, js := bustest.Provisioned(t)
	var buf bytes.Buffer
	g := NewGazetteer(nil)
	g.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	r := NewRefresher(js, newTestExtractorWith(t, g), slog.New(slog.NewJSONHandler(&buf, nil)), 0)
	publishChunk(t, js, "a.md", "Ada Quinlan reviewed the plan.", 1)
	publishChunk(t, js, "b.md", "Nothing about people here.", 2)
	publishChunk(t, js, "c.md", "Ada Quinlan manages PRJ-1234.", 3)
	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 9)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	type progress struct {
		Msg            string
		ScannedThrough uint64 `json:"scanned_through"`
		Last           uint64
		Chunks         int
		Revision       uint64
	}
	var got []progress
	for line := range strings.Lines(buf.String()) {
		var p progress
		require.NoError(t, json.Unmarshal([]byte(line), &p))
		if p.Msg == "gazetteer refresh: re-extracting chunks" {
			got = append(got, p)
		}
	}
	require.Len(t, got, 3, "one line per chunk at this interval")
	for i, p := range got {
		assert.EqualValues(t, i+1, p.ScannedThrough)
		assert.EqualValues(t, 3, p.Last)
		assert.EqualValues(t, 9, p.Revision)
	}
	assert.Equal(t, []int{0, 1, 1}, []int{got[0].Chunks, got[1].Chunks, got[2].Chunks}, "chunks re-extracted before each")
}

// Chunks stored compressed (as the parser stores chunks of 1 KiB or more)
// are scanned and re-extracted like plain ones, and their extractions are
// stored compressed too.
func TestRefresherReadsCompressedChunks(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	g := NewGazetteer(nil)
	x := newTestExtractorWith(t, g)
	long := strings.Repeat("The steering committee reviewed the schedule again. ", 40)
	publishChunk(t, js, "a.md", long+"Ada Quinlan reviewed the plan.", 1)
	publishChunk(t, js, "b.md", long+"Nothing about people here.", 2)
	stream, err := js.Stream(t.Context(), bus.StreamChunks)
	require.NoError(t, err)
	stored, err := stream.GetMsg(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, bus.EncodingS2, stored.Header.Get(bus.HeaderEncoding), "the chunk is stored compressed")

	r := NewRefresher(js, x, logging.Discard(), 10*time.Millisecond)
	runRefresher(t, r)
	r.Synced(5)
	g.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	r.Changed("Ada Quinlan", 6)
	waitRefreshed(t, r, 6)
	msgs := extractions(t, js)
	require.Len(t, msgs, 1, "only the chunk naming the person is re-extracted")
	assert.Equal(t, bus.EncodingS2, msgs[0].Header.Get(bus.HeaderEncoding), "the extraction is stored compressed")
	var got event.Extraction
	require.NoError(t, json.Unmarshal(storedPayload(t, msgs[0]), &got))
	assert.Equal(t, "a.md", got.Chunk.Document.Path)
	assert.Equal(t, long+"Ada Quinlan reviewed the plan.", got.Chunk.Text)
	var persons []string
	for _, n := range got.Mentions {
		if n.Label == "Person" {
			persons = append(persons, n.Key)
		}
	}
	assert.Equal(t, []string{"ada quinlan"}, persons)
}
