package graphwriter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
	"github.com/docgraph/docgraph/services/graphwriter"
)

// storeKinds are the real stores every writer test runs against; Neo4j
// skips without NEO4J_URI (see neostoretest).
var storeKinds = []struct {
	name string
	open func(t *testing.T) graph.Store
}{
	{"duckdb", openDuck},
	{"neo4j", openNeo},
}

func openDuck(t *testing.T) graph.Store {
	t.Helper()
	s, err := duckstore.Open(t.Context(), duckstore.Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Setup(t.Context()))
	return s
}

func openNeo(t *testing.T) graph.Store { return neostoretest.Open(t) }

func newWriter(t *testing.T, st graph.Store, gaz graphwriter.Gazetteer) (*graphwriter.Writer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	w, err := graphwriter.New(st, slog.New(slog.DiscardHandler), reg, gaz, []string{"Person", "Project"})
	require.NoError(t, err)
	return w, reg
}

func sha(s string) string { return fmt.Sprintf("%064x", s) }

func doc(path string, version uint64) event.Document {
	return event.NewDocument(path, sha(path), 10, version)
}

func chunkMsg(t *testing.T, d event.Document, mentions ...graph.Node) pipeline.Message {
	t.Helper()
	m, err := pipeline.NewMessage(event.SubjectExtraction, event.Extraction{
		Chunk: event.Chunk{Document: d, Index: 0, Total: 1, Text: "text of " + d.Path}, Mentions: mentions})
	require.NoError(t, err)
	return m
}

func recordsMsg(t *testing.T, r event.Records) pipeline.Message {
	t.Helper()
	m, err := pipeline.NewMessage(event.SubjectRecords, r)
	require.NoError(t, err)
	return m
}

func deleteMsg(t *testing.T, path string, version uint64) pipeline.Message {
	t.Helper()
	m, err := pipeline.NewMessage(event.SubjectExtractionDeletion, event.ExtractionDeletion{Path: path, Version: version})
	require.NoError(t, err)
	return m
}

func person(key, name string) graph.Node {
	n := graph.Node{Label: "Person", Key: key}
	if name != "" {
		n.Properties = map[string]any{"name": name}
	}
	return n
}

func TestBatchSize(t *testing.T) {
	cfg := graphwriter.Config{Small: 64, Medium: 512, Large: 2048}
	tests := []struct {
		pending uint64
		want    int
	}{
		{0, 64}, {1, 64}, {499, 64},
		{500, 512}, {4999, 512}, {5000, 512},
		{5001, 2048},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.pending), func(t *testing.T) {
			assert.Equal(t, tt.want, cfg.BatchSize(tt.pending))
		})
	}
}

func TestNewRefuses(t *testing.T) {
	st := openDuck(t)
	reg := prometheus.NewRegistry()
	tests := []struct {
		name    string
		store   graph.Store
		wantErr string
	}{
		{"no store", nil, "store required"},
		{"first registration", st, ""},
		{"metrics registered twice", st, "register graph writer metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := graphwriter.New(tt.store, slog.New(slog.DiscardHandler), reg, nil, nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.NotNil(t, w)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.Nil(t, w)
		})
	}
}

// TestBisection: a batch with offending ops writes everything else and
// fails exactly the offending messages, permanently, naming the op.
func TestBisection(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			st := sk.open(t)
			w, reg := newWriter(t, st, nil)
			var msgs []pipeline.Message
			for i := range 20 {
				msgs = append(msgs, chunkMsg(t, doc(fmt.Sprintf("docs/d%02d.md", i), uint64(i+1)),
					person(fmt.Sprintf("p%02d", i), "")))
			}
			robot := chunkMsg(t, doc("docs/robot.md", 100), graph.Node{Label: "Robot", Key: "r2"})
			sourceProp := recordsMsg(t, event.Records{Source: doc("data/people.csv", 101), Batch: 3, Final: true,
				Relationships: []graph.Relationship{{Type: "MANAGES",
					From: graph.NodeRef{Label: "Person", Key: "p00"}, To: graph.NodeRef{Label: "Project", Key: "apollo"},
					Properties: map[string]any{"source": "x"}}}})
			msgs = slices.Insert(msgs, 7, robot)
			msgs = slices.Insert(msgs, 16, sourceProp)
			wantErr := map[int]string{
				7:  "chunk " + sha("docs/robot.md") + ":0 of docs/robot.md",
				16: "records batch 3 of data/people.csv",
			}

			errs := w.Handle(t.Context(), msgs)
			require.Len(t, errs, len(msgs))
			for i, err := range errs {
				want, bad := wantErr[i]
				if !bad {
					assert.NoError(t, err, "message %d", i)
					continue
				}
				require.Error(t, err, "message %d", i)
				assert.True(t, pipeline.IsPermanent(err), "message %d: %v", i, err)
				assert.ErrorIs(t, err, graph.ErrInvalid)
				assert.Contains(t, err.Error(), want)
			}
			stats, err := st.Stats(t.Context())
			require.NoError(t, err)
			assert.Equal(t, int64(20), stats.Nodes["Person"])
			assert.Equal(t, int64(20), stats.Nodes[graph.LabelDocument])
			assert.Zero(t, stats.Nodes["Robot"])
			assert.Zero(t, stats.Relationships["MANAGES"])
			assert.Positive(t, metric(t, reg, "docgraph_graph_batch_splits_total"))
		})
	}
}

// metric returns a counter's value, or a histogram's sample count, from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		m := f.GetMetric()[0]
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestUndecodableFailsAlone(t *testing.T) {
	for _, sk := range storeKinds {
		t.Run(sk.name, func(t *testing.T) {
			st := sk.open(t)
			w, _ := newWriter(t, st, nil)
			good := chunkMsg(t, doc("a.md", 1), person("alice", ""))
			garbage := pipeline.MustMessage(event.SubjectExtraction, "not an extraction")
			wrongVersion := recordsMsg(t, event.Records{Source: doc("p.csv", 2)})
			wrongVersion.Header.Set(pipeline.HeaderVersion, "0")
			badDelete := pipeline.Message{Subject: event.SubjectExtractionDeletion, Data: []byte("{"), Header: good.Header}
			unknown := pipeline.MustMessage("docgraph.extractions.other", map[string]string{})
			last := deleteMsg(t, "gone.md", 3)

			tests := []struct {
				name    string
				give    pipeline.Message
				wantErr string
			}{
				{"good chunk", good, ""},
				{"extraction that is not an object", garbage, "decode docgraph.extractions.chunk"},
				{"unsupported version", wrongVersion, "unsupported message version"},
				{"truncated deletion", badDelete, "decode docgraph.extractions.deleted"},
				{"unexpected subject", unknown, `unexpected subject "docgraph.extractions.other"`},
				{"good deletion", last, ""},
			}
			msgs := make([]pipeline.Message, len(tests))
			for i, tt := range tests {
				msgs[i] = tt.give
			}
			errs := w.Handle(t.Context(), msgs)
			require.Len(t, errs, len(tests))
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					if tt.wantErr == "" {
						assert.NoError(t, errs[i])
						return
					}
					assert.True(t, pipeline.IsPermanent(errs[i]), "%v", errs[i])
					assert.ErrorContains(t, errs[i], tt.wantErr)
				})
			}
			docs, err := st.Documents(t.Context())
			require.NoError(t, err)
			assert.Equal(t, map[string]string{"a.md": sha("a.md")}, docs)
		})
	}
}

// fakeStore is a graph.Store whose Apply fails with err (nil: succeeds).
type fakeStore struct {
	graph.Store
	err   error
	calls int
}

func (f *fakeStore) Apply(ctx context.Context, ops []graph.Op) error {
	f.calls++
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return f.err
}

// fakeGazetteer fails every call with err.
type fakeGazetteer struct{ err error }

func (g fakeGazetteer) Upsert(context.Context, []gazetteer.Entry, string, string, uint64) error {
	return g.err
}
func (g fakeGazetteer) Withdraw(context.Context, string, uint64) error { return g.err }

func TestFailuresThatAreNotTheMessages(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	down := fmt.Errorf("%w: down", graph.ErrUnavailable)
	tests := []struct {
		name            string
		ctx             context.Context
		store           *fakeStore
		gaz             graphwriter.Gazetteer
		maxRows         int // 1: every message its own transaction
		wantOK          int // a message written without error (0: none)
		wantUnavailable bool
		wantErr         string
		wantCalls       int
	}{
		{name: "store unavailable", ctx: context.Background(), store: &fakeStore{err: down},
			wantUnavailable: true, wantErr: "write graph: graph: store unavailable: down", wantCalls: 1},
		{name: "store unavailable, one transaction per message", ctx: context.Background(), store: &fakeStore{err: down},
			maxRows: 1, wantUnavailable: true, wantErr: "write graph: graph: store unavailable: down", wantCalls: 1},
		{name: "cancelled", ctx: cancelled, store: &fakeStore{}, wantErr: "write graph: context canceled", wantCalls: 1},
		{name: "cancelled, one transaction per message", ctx: cancelled, store: &fakeStore{}, maxRows: 1,
			wantErr: "write graph: context canceled", wantCalls: 1},
		{name: "gazetteer fails after commit", ctx: context.Background(), store: &fakeStore{},
			gaz: fakeGazetteer{err: errors.New("kv down")}, wantErr: "update gazetteer: kv down", wantCalls: 1},
		{name: "gazetteer fails after each commit", ctx: context.Background(), store: &fakeStore{},
			gaz: fakeGazetteer{err: errors.New("kv down")}, maxRows: 1, wantOK: 1, wantErr: "update gazetteer: kv down", wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := newWriter(t, tt.store, tt.gaz)
			w.MaxRows = tt.maxRows
			msgs := []pipeline.Message{
				recordsMsg(t, event.Records{Source: doc("p.csv", 1), Nodes: []graph.Node{person("alice", "Alice")}}),
				chunkMsg(t, doc("a.md", 2)),
				deleteMsg(t, "b.md", 3),
			}
			errs := w.Handle(tt.ctx, msgs)
			require.Len(t, errs, len(msgs))
			for i, err := range errs {
				if tt.wantOK > 0 && i == tt.wantOK {
					assert.NoError(t, err, "the chunk states no known names: its commit touches no gazetteer")
					continue
				}
				require.Error(t, err, "message %d", i)
				assert.Equal(t, tt.wantUnavailable, pipeline.IsUnavailable(err), "message %d: %v", i, err)
				assert.False(t, pipeline.IsPermanent(err), "message %d: %v", i, err)
				assert.EqualError(t, err, tt.wantErr)
			}
			assert.Equal(t, tt.wantCalls, tt.store.calls, "no bisection")
		})
	}
}

// A write the store had too little memory for is tried in smaller
// transactions, and each op that still fails alone is retried with
// backoff, not dead-lettered at once: the graph is missing memory, the
// message is not at fault.
func TestStoreOutOfMemoryIsRetried(t *testing.T) {
	store := &fakeStore{err: fmt.Errorf("%w (raise graph.duckdb_memory): Out of Memory Error", graph.ErrResources)}
	w, _ := newWriter(t, store, nil)
	msgs := []pipeline.Message{
		recordsMsg(t, event.Records{Source: doc("p.csv", 1), Batch: 7, Nodes: []graph.Node{person("alice", "Alice")}}),
		chunkMsg(t, doc("a.md", 2)),
		deleteMsg(t, "b.md", 3),
	}
	errs := w.Handle(t.Context(), msgs)
	require.Len(t, errs, len(msgs))
	for i, err := range errs {
		require.Error(t, err, "message %d", i)
		assert.False(t, pipeline.IsPermanent(err), "message %d: %v", i, err)
		assert.False(t, pipeline.IsUnavailable(err), "message %d: %v", i, err)
		assert.ErrorIs(t, err, graph.ErrResources)
	}
	assert.ErrorContains(t, errs[0], "write graph (records batch 7 of p.csv): graph: out of memory (raise graph.duckdb_memory)")
	assert.ErrorContains(t, errs[2], "write graph (delete b.md)")
	assert.Equal(t, 5, store.calls, "the batch, its halves, then the second half's ops alone")
}

// recordingStore is a real store that remembers how many ops each Apply
// had.
type recordingStore struct {
	graph.Store
	applies []int
}

func (r *recordingStore) Apply(ctx context.Context, ops []graph.Op) error {
	r.applies = append(r.applies, len(ops))
	return r.Store.Apply(ctx, ops)
}

func TestMaxRowsSplitsTransactions(t *testing.T) {
	st := &recordingStore{Store: openDuck(t)}
	w, _ := newWriter(t, st, nil)
	w.MaxRows = 4
	people := func(keys ...string) []graph.Node {
		var out []graph.Node
		for _, k := range keys {
			out = append(out, person(k, k))
		}
		return out
	}
	d := doc("p.csv", 1)
	msgs := []pipeline.Message{
		recordsMsg(t, event.Records{Source: d, Batch: 0, Nodes: people("a", "b")}),
		{Subject: event.SubjectRecords, Data: []byte("{not json")},
		recordsMsg(t, event.Records{Source: d, Batch: 1, Nodes: people("c", "d")}),
		recordsMsg(t, event.Records{Source: d, Batch: 2, Nodes: people("e", "f", "g", "h", "i")}),
		recordsMsg(t, event.Records{Source: d, Batch: 3, Nodes: people("j"), Final: true, Batches: 4}),
	}
	errs := w.Handle(t.Context(), msgs)
	for i, err := range errs {
		if i == 1 {
			assert.True(t, pipeline.IsPermanent(err), "the undecodable message fails alone: %v", err)
			continue
		}
		assert.NoError(t, err, "message %d", i)
	}
	assert.Equal(t, []int{2, 1, 1}, st.applies, "4 rows, then a message over the bound alone, then the rest")
	stats, err := st.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(10), stats.Nodes["Person"])
}

func TestEmptyBatch(t *testing.T) {
	st := &fakeStore{}
	w, _ := newWriter(t, st, nil)
	assert.Empty(t, w.Handle(t.Context(), nil))
	assert.Zero(t, st.calls)
}

// TestLatencyFlush runs the writer under a real batch runner: three
// messages are written after BatchMaxWait, long before a batch of 100 fills.
func TestLatencyFlush(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	st := openDuck(t)
	w, reg := newWriter(t, st, nil)
	cfg := graphwriter.Config{Small: 100, Medium: 100, Large: 100, MaxLatency: 50 * time.Millisecond}
	m, err := pipeline.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	r, err := pipeline.NewBatchRunner(pipeline.Config{
		Stage: bus.StageGraphWriter, Stream: bus.StreamExtractions,
		BatchSize: cfg.BatchSize, BatchMaxWait: cfg.MaxLatency,
	}, js, w.Handle, slog.New(slog.DiscardHandler), m)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	start := time.Now()
	for i := range 3 {
		publish(t, js, chunkMsg(t, doc(fmt.Sprintf("latency/%d.md", i), uint64(i+1)), person(fmt.Sprint("p", i), "")))
	}
	waitFor(t, 10*time.Second, func() error {
		docs, err := st.Documents(t.Context())
		if err != nil {
			return err
		}
		if len(docs) < 3 {
			return fmt.Errorf("%d of 3 documents written", len(docs))
		}
		if metric(t, reg, "docgraph_graph_batch_messages") < 1 { // observed just after the commit
			return fmt.Errorf("batch not counted yet")
		}
		return nil
	})
	elapsed := time.Since(start)
	t.Logf("3 messages written %s after the first was published", elapsed)
	assert.Less(t, elapsed, 5*time.Second, "a partial batch must be cut after BatchMaxWait")
	batches := metric(t, reg, "docgraph_graph_batch_messages")
	assert.GreaterOrEqual(t, batches, 1.0)
	assert.LessOrEqual(t, batches, 3.0, "partial batches, never 100 messages")
}

func publish(t *testing.T, js jetstream.JetStream, m pipeline.Message) {
	t.Helper()
	_, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
	require.NoError(t, err)
}

// waitFor polls cond until it holds or the timeout passes.
var waitFor = testwait.Until

// TestGazetteerSync writes records and deletions through the writer into a
// real gazetteer book and checks what it knows after each step.
func TestGazetteerSync(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	book, err := gazetteer.Open(t.Context(), js, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- book.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.NoError(t, book.WaitSynced(t.Context()))
	st := openDuck(t)
	w, _ := newWriter(t, st, book)

	people1 := event.NewDocument("data/people.csv", sha("people v1"), 100, 1)
	people2 := event.NewDocument("data/people.csv", sha("people v2"), 100, 2)
	teams := event.NewDocument("data/teams.csv", sha("teams v1"), 100, 3)
	people3 := event.NewDocument("data/people.csv", sha("people v3"), 100, 7)
	entry := func(label, key, name string, sources ...event.Document) gazetteer.Entry {
		e := gazetteer.Entry{Label: label, Key: key, Name: name, Sources: map[string]string{}, Versions: map[string]uint64{}}
		for _, d := range sources {
			e.Sources[d.Path] = d.SHA256
			e.Versions[d.Path] = d.Version
		}
		return e
	}
	steps := []struct {
		name string
		give []pipeline.Message
		want []gazetteer.Entry
	}{
		{
			name: "records state named entities of the gazetteer labels",
			give: []pipeline.Message{
				recordsMsg(t, event.Records{Source: people1, Batch: 0, Final: true, Nodes: []graph.Node{
					person("alice", "Alice"), person("bob", "Bob"), person("nameless", ""),
					{Label: "Team", Key: "core", Properties: map[string]any{"name": "Core"}},
				}}),
				recordsMsg(t, event.Records{Source: teams, Batch: 0, Final: true, Nodes: []graph.Node{
					person("bob", "Bob"), {Label: "Project", Key: "apollo", Properties: map[string]any{"name": "Apollo"}},
				}}),
				chunkMsg(t, doc("notes/a.md", 4), person("carol", "Carol")),
			},
			want: []gazetteer.Entry{
				entry("Person", "alice", "Alice", people1), entry("Person", "bob", "Bob", people1, teams),
				entry("Project", "apollo", "Apollo", teams),
			},
		},
		{
			name: "a new version's first batch adds without withdrawing",
			give: []pipeline.Message{recordsMsg(t, event.Records{Source: people2, Batch: 0,
				Nodes: []graph.Node{person("alice", "Alice Smith")}})},
			want: []gazetteer.Entry{
				entry("Person", "alice", "Alice Smith", people2), entry("Person", "bob", "Bob", people1, teams),
				entry("Project", "apollo", "Apollo", teams),
			},
		},
		{
			name: "its final batch withdraws what only the old version stated",
			give: []pipeline.Message{recordsMsg(t, event.Records{Source: people2, Batch: 1, Final: true, Batches: 2,
				Nodes: []graph.Node{person("dave", "Dave")}})},
			want: []gazetteer.Entry{
				entry("Person", "alice", "Alice Smith", people2), entry("Person", "bob", "Bob", teams),
				entry("Person", "dave", "Dave", people2), entry("Project", "apollo", "Apollo", teams),
			},
		},
		{
			name: "records of an older version arriving late change nothing",
			give: []pipeline.Message{recordsMsg(t, event.Records{Source: people1, Batch: 0, Final: true, Nodes: []graph.Node{
				person("alice", "Alice"), person("erin", "Erin"),
			}})},
			want: []gazetteer.Entry{
				entry("Person", "alice", "Alice Smith", people2), entry("Person", "bob", "Bob", teams),
				entry("Person", "dave", "Dave", people2), entry("Project", "apollo", "Apollo", teams),
			},
		},
		{
			name: "a deleted source withdraws all its entries",
			give: []pipeline.Message{deleteMsg(t, teams.Path, 5)},
			want: []gazetteer.Entry{
				entry("Person", "alice", "Alice Smith", people2), entry("Person", "dave", "Dave", people2),
			},
		},
		{
			// The parser withdraws a version it cannot read to the end
			// under that version's own number, after some of its batches.
			name: "a withdrawal withdraws what its own version stated too",
			give: []pipeline.Message{
				recordsMsg(t, event.Records{Source: people3, Batch: 0, Nodes: []graph.Node{person("frank", "Frank")}}),
				deleteMsg(t, people3.Path, people3.Version),
			},
			want: []gazetteer.Entry{},
		},
		{
			name: "records of a withdrawn version arriving late change nothing",
			give: []pipeline.Message{recordsMsg(t, event.Records{Source: people3, Batch: 1, Final: true, Batches: 2,
				Nodes: []graph.Node{person("gina", "Gina")}})},
			want: []gazetteer.Entry{},
		},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			errs := w.Handle(t.Context(), step.give)
			for i, err := range errs {
				require.NoError(t, err, "message %d", i)
			}
			// The book's mirror follows the bucket asynchronously.
			waitFor(t, 10*time.Second, func() error {
				last, err := book.LastRevision(t.Context())
				if err != nil {
					return err
				}
				if book.Revision() < last {
					return fmt.Errorf("mirror at revision %d of %d", book.Revision(), last)
				}
				return nil
			})
			got := book.Entries()
			if got == nil {
				got = []gazetteer.Entry{}
			}
			assert.Equal(t, step.want, got, describeEntries(got))
		})
	}
}

func describeEntries(es []gazetteer.Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s/%s %q %v\n", e.Label, e.Key, e.Name, e.Sources)
	}
	return b.String()
}

// The line a committed batch logs names a few of the documents it wrote
// and of those it deleted, in order.
func TestBatchLogNamesDocuments(t *testing.T) {
	var buf bytes.Buffer
	w, err := graphwriter.New(openDuck(t), slog.New(slog.NewJSONHandler(&buf, nil)), prometheus.NewRegistry(), nil, nil)
	require.NoError(t, err)
	msgs := []pipeline.Message{
		chunkMsg(t, doc("d.md", 1)), chunkMsg(t, doc("a.md", 2)), chunkMsg(t, doc("c.md", 3)), chunkMsg(t, doc("b.md", 4)),
		deleteMsg(t, "z.md", 5), deleteMsg(t, "y.md", 6),
	}
	for i, err := range w.Handle(t.Context(), msgs) {
		require.NoError(t, err, "message %d", i)
	}
	var line struct {
		Msg      string   `json:"msg"`
		Chunks   int      `json:"chunks"`
		Docs     int      `json:"documents"`
		Deleted  int      `json:"deleted_documents"`
		Some     []string `json:"e.g."`
		SomeGone []string `json:"deleted_e.g."`
	}
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line), buf.String())
	assert.Equal(t, "graph updated", line.Msg)
	assert.Equal(t, 4, line.Chunks)
	assert.Equal(t, 4, line.Docs)
	assert.Equal(t, []string{"a.md", "b.md", "c.md"}, line.Some)
	assert.Equal(t, 2, line.Deleted)
	assert.Equal(t, []string{"y.md", "z.md"}, line.SomeGone)

	// A batch of deletions alone names no written documents.
	buf.Reset()
	for i, err := range w.Handle(t.Context(), []pipeline.Message{deleteMsg(t, "a.md", 7)}) {
		require.NoError(t, err, "message %d", i)
	}
	var fields map[string]any
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &fields), buf.String())
	assert.NotContains(t, fields, "e.g.")
	assert.Equal(t, []any{"a.md"}, fields["deleted_e.g."])
}

// A panic while a later transaction's messages are decoded (beside the
// write of the one before) is raised in Handle's goroutine, where the
// stage runner recovers it, with the decoder's stack; it does not end
// the process.
func TestDecodePanicRaisedInHandle(t *testing.T) {
	st := &recordingStore{Store: openDuck(t)}
	w, _ := newWriter(t, st, nil)
	w.MaxRows = 1
	graphwriter.SetDecode(t.Cleanup, func(m pipeline.Message) (graph.Op, error) {
		if bytes.Contains(m.Data, []byte(`"c.md"`)) {
			panic("boom")
		}
		return graphwriter.Decode(m)
	})
	msgs := []pipeline.Message{chunkMsg(t, doc("a.md", 1)), chunkMsg(t, doc("b.md", 1)), chunkMsg(t, doc("c.md", 1))}
	var got any
	func() {
		defer func() { got = recover() }()
		w.Handle(t.Context(), msgs)
	}()
	require.NotNil(t, got, "Handle panics")
	assert.Contains(t, got, "decoding: boom\n\ngoroutine ")
	assert.Equal(t, []int{1}, st.applies, "the group decoded before the panic is written")
}
