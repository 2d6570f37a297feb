package neostore_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// openStore opens a store on the test Neo4j with the suite's schema and an
// empty database.
func openStore(t testing.TB, reg prometheus.Registerer) *neostore.Store {
	t.Helper()
	return openStoreLogging(t, reg, nil)
}

// openStoreLogging is openStore with the store's events logged to log.
func openStoreLogging(t testing.TB, reg prometheus.Registerer, log *slog.Logger) *neostore.Store {
	t.Helper()
	cfg := neostoretest.Config(t)
	cfg.Labels, cfg.RelTypes, cfg.Logger = graphtest.Labels(), graphtest.RelTypes(), log
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s, err := neostore.Open(t.Context(), cfg, reg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	require.NoError(t, s.Wipe(t.Context()))
	return s
}

func TestConformance(t *testing.T) {
	graphtest.Run(t, func(t *testing.T) graph.Store { return openStore(t, nil) })
}

func TestExportSortsKeysByBytes(t *testing.T) {
	s := openStore(t, nil)
	require.NoError(t, s.Setup(t.Context()))
	d := event.NewDocument("x.csv", "abc", 1, 1)
	var nodes []graph.Node
	// UTF-16 order would put the emoji (a surrogate pair) before U+E000 and
	// U+FF01; Go and the DuckDB store order by bytes (code points).
	for _, k := range []string{"😀", "\uFF01", "\uE000", "é", "a", "Z"} {
		nodes = append(nodes, graph.Node{Label: "Person", Key: k})
	}
	require.NoError(t, s.Apply(t.Context(), []graph.Op{{PutRecords: &event.Records{Source: d, Final: true, Nodes: nodes}}}))
	e, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	var keys []string
	for _, n := range e.Nodes {
		if n.Label == "Person" {
			keys = append(keys, n.Key)
		}
	}
	assert.Equal(t, []string{"Z", "a", "é", "\uE000", "\uFF01", "😀"}, keys)
}

func TestOpenRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		give    neostore.Config
		wantErr string
	}{
		{name: "no uri", give: neostore.Config{}, wantErr: "neo4j uri: required"},
		{name: "bad label", give: neostore.Config{URI: "bolt://x", Labels: []string{"Per son"}},
			wantErr: `neo4j label "Per son": must be a letter`},
		{name: "backquote in type", give: neostore.Config{URI: "bolt://x", RelTypes: []string{"A`B"}},
			wantErr: "neo4j relationship type \"A`B\""},
		{name: "structural label", give: neostore.Config{URI: "bolt://x", Labels: []string{"Chunk"}},
			wantErr: `neo4j label "Chunk": reserved`},
		{name: "structural type", give: neostore.Config{URI: "bolt://x", RelTypes: []string{"MENTIONS"}},
			wantErr: `neo4j relationship type "MENTIONS": reserved`},
		{name: "bookkeeping label", give: neostore.Config{URI: "bolt://x", Labels: []string{"_Source"}},
			wantErr: `neo4j label "_Source"`},
		{name: "negative pool", give: neostore.Config{URI: "bolt://x", MaxConnectionPoolSize: -1},
			wantErr: "max connection pool size (-1)"},
		{name: "negative connect timeout", give: neostore.Config{URI: "bolt://x", ConnectTimeout: -time.Second},
			wantErr: "connect timeout (-1s)"},
		{name: "bad scheme", give: neostore.Config{URI: "http://127.0.0.1:1"}, wantErr: "neo4j http://127.0.0.1:1"},
		{name: "unreachable", give: neostore.Config{URI: "bolt://127.0.0.1:1", User: "neo4j", Password: "s3cret-pw"},
			wantErr: "neo4j bolt://127.0.0.1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := neostore.Open(t.Context(), tt.give, prometheus.NewRegistry())
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "s3cret-pw")
		})
	}
}

func TestOpenRefusesRegistry(t *testing.T) {
	cfg := neostore.Config{URI: "bolt://127.0.0.1:1"}
	_, err := neostore.Open(t.Context(), cfg, nil)
	require.ErrorContains(t, err, "nil prometheus registerer")

	// Unreachable: the error says the store is unavailable, and since
	// metrics are registered only once Neo4j answers, Open can be retried
	// with the same registerer while Neo4j is down.
	reg := prometheus.NewRegistry()
	for range 2 {
		_, err = neostore.Open(t.Context(), cfg, reg)
		require.ErrorIs(t, err, graph.ErrUnavailable)
		require.ErrorContains(t, err, "bolt://127.0.0.1:1")
		require.NotContains(t, err.Error(), "register graph metrics")
	}
}

// TestOpenUnreachableHidesPasswordInURI: the error of a Neo4j that cannot be
// reached names the URI (operator commands print it) without a password
// written in it.
func TestOpenUnreachableHidesPasswordInURI(t *testing.T) {
	_, err := neostore.Open(t.Context(), neostore.Config{URI: "bolt://neo4j:in-uri-pw@127.0.0.1:1"}, prometheus.NewRegistry())
	require.ErrorIs(t, err, graph.ErrUnavailable)
	assert.NotContains(t, err.Error(), "in-uri-pw")
	assert.Contains(t, err.Error(), "bolt://neo4j:xxxxx@127.0.0.1:1")
}

func TestConfigLogValueRedactsPassword(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", slog.Any("neo4j", neostore.Config{URI: "bolt://h:7687", User: "neo4j", Password: "s3cret-pw"}))
	assert.NotContains(t, buf.String(), "s3cret-pw")
	assert.Contains(t, buf.String(), `"password":"REDACTED"`)
	assert.Contains(t, buf.String(), `"uri":"bolt://h:7687"`)

	buf.Reset()
	log.Info("config", slog.Any("neo4j", neostore.Config{URI: "neo4j://neo4j:in-uri-pw@h:7687"}))
	assert.NotContains(t, buf.String(), "in-uri-pw")
	assert.Contains(t, buf.String(), `"uri":"neo4j://neo4j:xxxxx@h:7687"`)
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openStore(t, reg)
	require.NoError(t, s.Setup(t.Context()))
	d := event.NewDocument("people.csv", "abc", 1, 1)
	op := graph.Op{PutRecords: &event.Records{Source: d, Final: true,
		Nodes: []graph.Node{{Label: "Person", Key: "alice"}, {Label: "Person", Key: "bob"}},
		Relationships: []graph.Relationship{{Type: "MANAGES", From: graph.NodeRef{Label: "Person", Key: "alice"},
			To: graph.NodeRef{Label: "Person", Key: "bob"}}}}}
	require.NoError(t, s.Apply(t.Context(), []graph.Op{op}))

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]*dto.Metric{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()[0]
	}
	require.Contains(t, got, "docgraph_graph_batch_size")
	assert.Equal(t, uint64(1), got["docgraph_graph_batch_size"].GetHistogram().GetSampleCount())
	assert.Equal(t, 3.0, got["docgraph_graph_batch_size"].GetHistogram().GetSampleSum())
	assert.Equal(t, uint64(1), got["docgraph_graph_write_duration_seconds"].GetHistogram().GetSampleCount())
	assert.Equal(t, 0.0, got["docgraph_graph_sessions_in_use"].GetGauge().GetValue(), "sessions returned")
	assert.Equal(t, 0.0, got["docgraph_graph_retried_transactions_total"].GetCounter().GetValue())
}

func TestClosedStoreReportsErrors(t *testing.T) {
	cfg := neostoretest.Config(t)
	cfg.Labels, cfg.RelTypes = graphtest.Labels(), graphtest.RelTypes()
	s, err := neostore.Open(t.Context(), cfg, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, s.Close())
	op := graph.Op{DeleteDocument: &event.DocumentDeleted{Path: "a.md", Version: 1}}
	assert.ErrorContains(t, s.Ping(t.Context()), "ping neo4j "+cfg.URI)
	assert.ErrorContains(t, s.Setup(t.Context()), "setup neo4j "+cfg.URI)
	assert.ErrorContains(t, s.Apply(t.Context(), []graph.Op{op}), "apply 1 ops to neo4j "+cfg.URI)
	_, err = s.Stats(t.Context())
	assert.ErrorContains(t, err, "stats neo4j "+cfg.URI)
	_, err = s.Documents(t.Context())
	assert.ErrorContains(t, err, "documents neo4j "+cfg.URI)
	err = s.Export(t.Context(), func(graph.Node) error { return nil }, func(graph.Relationship) error { return nil })
	assert.ErrorContains(t, err, "export neo4j "+cfg.URI)
}

// TestSetupConvertsLegacyRelationshipSupport: a graph written with one
// support edge per relationship is converted to support lists by Setup,
// and withdrawing the source then removes what it alone supported.
func TestSetupConvertsLegacyRelationshipSupport(t *testing.T) {
	s := openStore(t, nil)
	require.NoError(t, s.Setup(t.Context()))
	d := event.NewDocument("data/people.csv", "abc", 1, 1)
	shared := event.NewDocument("data/more.csv", "def", 1, 2)
	legacy := `MERGE (v:_Version {key: $path}) SET v.version = 1
MERGE (d:Document {key: $path}) SET d += {path: $path, name: 'people.csv', format: 'csv', sha256: 'abc', size: 1}
CREATE (s:_Source {key: $path + '\u0000abc\u0000rows', path: $path, sha: 'abc', part: 'rows'})
CREATE (a:Person {key: 'alice'}), (b:Person {key: 'bob'}), (p:Project {key: 'apollo'})
CREATE (s)-[:_SUPPORTS]->(a), (s)-[:_SUPPORTS]->(b)
CREATE (a)-[:MANAGES {source: 'structured', since: 2020}]->(b)
CREATE (a)-[:WORKS_ON {source: 'structured'}]->(p)
CREATE (s)-[:_SUPPORTS_REL {type: 'MANAGES', source: 'structured', to_label: 'Person', to_key: 'bob'}]->(a)
CREATE (s)-[:_SUPPORTS_REL {type: 'WORKS_ON', source: 'structured', to_label: 'Project', to_key: 'apollo'}]->(a)`
	_, err := neo4j.ExecuteQuery(t.Context(), s.Driver(), legacy, map[string]any{"path": d.Path}, neo4j.EagerResultTransformer)
	require.NoError(t, err)

	require.NoError(t, s.Setup(t.Context()))
	require.NoError(t, s.Setup(t.Context()), "converting twice changes nothing")
	res, err := neo4j.ExecuteQuery(t.Context(), s.Driver(), "MATCH ()-[x:_SUPPORTS_REL]->() RETURN count(x) AS n",
		nil, neo4j.EagerResultTransformer)
	require.NoError(t, err)
	n, _ := res.Records[0].Get("n")
	assert.Equal(t, int64(0), n, "legacy support edges left")
	e, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	alice, bob := graph.NodeRef{Label: "Person", Key: "alice"}, graph.NodeRef{Label: "Person", Key: "bob"}
	apollo := graph.NodeRef{Label: "Project", Key: "apollo"}
	assert.Equal(t, []graph.Relationship{
		{Type: "MANAGES", From: alice, To: bob, Source: "structured", Properties: map[string]any{"source": "structured", "since": int64(2020)}},
		{Type: "WORKS_ON", From: alice, To: apollo, Source: "structured", Properties: map[string]any{"source": "structured"}},
	}, e.Relationships)

	// Another file states WORKS_ON too; deleting the converted one keeps
	// only that.
	works := graph.Relationship{Type: "WORKS_ON", From: alice, To: apollo}
	require.NoError(t, s.Apply(t.Context(), []graph.Op{
		{PutRecords: &event.Records{Source: shared, Final: true, Relationships: []graph.Relationship{works}}},
		{DeleteDocument: &event.DocumentDeleted{Path: d.Path, Version: 3}},
	}))
	e, err = graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	assert.Equal(t, []graph.Relationship{
		{Type: "WORKS_ON", From: alice, To: apollo, Source: "structured", Properties: map[string]any{"source": "structured"}},
	}, e.Relationships)
	var keys []string
	for _, n := range e.Nodes {
		keys = append(keys, n.Label+":"+n.Key)
	}
	assert.Equal(t, []string{"Document:data/more.csv", "Person:alice", "Project:apollo"}, keys)
}

// TestWithdrawnRecordsTakeTheirProperties covers what the shared cases do
// not: a graph written before supports kept properties, a node kept only by
// a relationship, and a path whose records are replaced by text.
func TestWithdrawnRecordsTakeTheirProperties(t *testing.T) {
	people := event.NewDocument("data/people.csv", "abc", 1, 1)
	managers := event.NewDocument("data/managers.csv", "def", 1, 2)
	alice, bob := graph.NodeRef{Label: "Person", Key: "alice"}, graph.NodeRef{Label: "Person", Key: "bob"}
	records := func(d event.Document, nodes []graph.Node, rels ...graph.Relationship) graph.Op {
		return graph.Op{PutRecords: &event.Records{Source: d, Final: true, Nodes: nodes, Relationships: rels}}
	}
	nodes := func(t *testing.T, s *neostore.Store) []graph.Node {
		t.Helper()
		e, err := graphtest.Collect(t.Context(), s)
		require.NoError(t, err)
		var out []graph.Node
		for _, n := range e.Nodes {
			if n.Label != graph.LabelDocument {
				out = append(out, n)
			}
		}
		return emptyPropsNilNodes(out)
	}

	t.Run("support written without properties", func(t *testing.T) {
		s := openStore(t, nil)
		require.NoError(t, s.Setup(t.Context()))
		// Earlier versions kept no properties on the support: withdrawing
		// it leaves the node's properties alone.
		legacy := `MERGE (v:_Version {key: $path}) SET v.version = 1
MERGE (d:Document {key: $path}) SET d += {path: $path, name: 'people.csv', format: 'csv', sha256: 'abc', size: 1}
CREATE (s:_Source {key: $path + '\u0000abc\u0000rows', path: $path, sha: 'abc', part: 'rows', sid: 1})
CREATE (a:Person {key: 'alice', name: 'Alice', email: 'alice@example.com'})
CREATE (s)-[:_SUPPORTS]->(a)`
		_, err := neo4j.ExecuteQuery(t.Context(), s.Driver(), legacy, map[string]any{"path": people.Path}, neo4j.EagerResultTransformer)
		require.NoError(t, err)
		require.NoError(t, s.Apply(t.Context(), []graph.Op{
			records(managers, []graph.Node{{Label: "Person", Key: "alice", Properties: map[string]any{"role": "lead"}}}),
			{DeleteDocument: &event.DocumentDeleted{Path: people.Path, Version: 3}},
		}))
		assert.Equal(t, []graph.Node{{Label: "Person", Key: "alice",
			Properties: map[string]any{"name": "Alice", "email": "alice@example.com", "role": "lead"}}}, nodes(t, s))
	})

	t.Run("node kept by a relationship", func(t *testing.T) {
		s := openStore(t, nil)
		require.NoError(t, s.Setup(t.Context()))
		require.NoError(t, s.Apply(t.Context(), []graph.Op{
			records(people, []graph.Node{{Label: "Person", Key: "bob", Properties: map[string]any{"name": "Bob"}}}),
			records(managers, []graph.Node{{Label: "Person", Key: "alice"}},
				graph.Relationship{Type: "MANAGES", From: alice, To: bob}),
		}))
		require.NoError(t, s.Apply(t.Context(), []graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: people.Path, Version: 2}}}))
		assert.Equal(t, []graph.Node{{Label: "Person", Key: "alice"}, {Label: "Person", Key: "bob"}}, nodes(t, s))
	})

	// A value equal in Cypher but of another type is no value the node has.
	t.Run("a row given again, and a value of another type", func(t *testing.T) {
		s := openStore(t, nil)
		require.NoError(t, s.Setup(t.Context()))
		people2 := event.NewDocument(people.Path, "abd", 1, 2)
		require.NoError(t, s.Apply(t.Context(), []graph.Op{records(managers, []graph.Node{
			{Label: "Person", Key: "bob", Properties: map[string]any{"a": 1.0}}})}))
		require.NoError(t, s.Apply(t.Context(), []graph.Op{records(people, []graph.Node{
			{Label: "Person", Key: "alice", Properties: map[string]any{"a": 1, "b": "x"}},
			{Label: "Person", Key: "bob", Properties: map[string]any{"a": 1}}})}))
		require.NoError(t, s.Apply(t.Context(), []graph.Op{records(people2, []graph.Node{
			{Label: "Person", Key: "alice", Properties: map[string]any{"a": 1, "b": "x"}}})}))
		assert.Equal(t, []graph.Node{
			{Label: "Person", Key: "alice", Properties: map[string]any{"a": int64(1), "b": "x"}},
			{Label: "Person", Key: "bob", Properties: map[string]any{"a": 1.0}}}, nodes(t, s))
	})

	t.Run("a key another file gives after a nil took it", func(t *testing.T) {
		s := openStore(t, nil)
		require.NoError(t, s.Setup(t.Context()))
		batch := func(d event.Document, n int, final bool, props map[string]any) graph.Op {
			return graph.Op{PutRecords: &event.Records{Source: d, Batch: n, Final: final,
				Nodes: []graph.Node{{Label: "Person", Key: "alice", Properties: props}}}}
		}
		require.NoError(t, s.Apply(t.Context(), []graph.Op{
			batch(people, 0, false, map[string]any{"a": 1, "b": 2}),
			batch(managers, 0, true, map[string]any{"b": 5}),
			batch(people, 1, true, map[string]any{"b": nil}),
		}))
		assert.Equal(t, []graph.Node{{Label: "Person", Key: "alice", Properties: map[string]any{"a": int64(1)}}}, nodes(t, s))
		require.NoError(t, s.Apply(t.Context(), []graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: people.Path, Version: 3}}}))
		assert.Equal(t, []graph.Node{{Label: "Person", Key: "alice", Properties: map[string]any{"b": int64(5)}}}, nodes(t, s))
	})

	// The mentions' properties stay: one chunk (op by op) and two (a run).
	for _, chunks := range []int{1, 2} {
		t.Run(fmt.Sprintf("records replaced by text in %d chunks", chunks), func(t *testing.T) {
			s := openStore(t, nil)
			require.NoError(t, s.Setup(t.Context()))
			require.NoError(t, s.Apply(t.Context(), []graph.Op{records(people, []graph.Node{
				{Label: "Person", Key: "alice", Properties: map[string]any{"name": "Alice", "email": "alice@example.com"}}})}))
			text := event.NewDocument(people.Path, "ghi", 1, 2)
			var ops []graph.Op
			want := []graph.Node{}
			for i := range chunks {
				ops = append(ops, graph.Op{PutChunk: &event.Extraction{
					Chunk:    event.Chunk{Document: text, Index: i, Total: chunks, Text: "Alice"},
					Mentions: []graph.Node{{Label: "Person", Key: "alice", Properties: map[string]any{"name": "A."}}}}})
				want = append(want, graph.Node{Label: "Chunk", Key: event.ChunkKey(text.SHA256, i),
					Properties: map[string]any{"index": int64(i), "text": "Alice"}})
			}
			require.NoError(t, s.Apply(t.Context(), ops))
			want = append(want, graph.Node{Label: "Person", Key: "alice", Properties: map[string]any{"name": "A."}})
			assert.Equal(t, want, nodes(t, s))
		})
	}
}

// TestRecordsRunsMatchOpByOp: records ops that Apply writes together (runs
// up to a Final batch, mixed with chunk ops, stale versions and deletions)
// give the graph that op-by-op writing gives, on this store and on the
// embedded one.
func TestRecordsRunsMatchOpByOp(t *testing.T) {
	s := openStore(t, nil)
	require.NoError(t, s.Setup(t.Context()))
	ref := func(l, k string) graph.NodeRef { return graph.NodeRef{Label: l, Key: k} }
	alice, bob, carol := ref("Person", "alice"), ref("Person", "bob"), ref("Person", "carol")
	people1 := event.NewDocument("data/people.csv", "p1", 1, 1)
	people3 := event.NewDocument("data/people.csv", "p3", 1, 3)
	teams := event.NewDocument("data/teams.csv", "t2", 1, 2)
	notes := event.NewDocument("notes/a.md", "n4", 1, 4)
	rec := func(d event.Document, batch int, final bool, nodes []graph.Node, rels ...graph.Relationship) graph.Op {
		return graph.Op{PutRecords: &event.Records{Source: d, Batch: batch, Final: final, Nodes: nodes, Relationships: rels}}
	}
	person := func(key, name string) graph.Node {
		return graph.Node{Label: "Person", Key: key, Properties: map[string]any{"name": name}}
	}
	rel := func(typ string, from, to graph.NodeRef, props map[string]any) graph.Relationship {
		return graph.Relationship{Type: typ, From: from, To: to, Properties: props}
	}
	ops := []graph.Op{
		rec(people1, 0, false, []graph.Node{person("alice", "A1"), person("bob", "Bob")},
			rel("MANAGES", alice, bob, map[string]any{"since": 2020})),
		rec(people1, 1, true, []graph.Node{person("carol", "Carol")}, rel("WORKS_ON", bob, ref("Project", "apollo"), nil)),
		rec(teams, 0, false, []graph.Node{{Label: "Team", Key: "core"}}, rel("MEMBER_OF", alice, ref("Team", "core"), nil)),
		rec(people3, 0, false, []graph.Node{person("alice", "A3")},
			rel("MANAGES", alice, carol, nil), rel("MANAGES", alice, bob, map[string]any{"since": 2021})),
		rec(people1, 0, false, []graph.Node{person("dave", "stale")}),
		rec(teams, 1, true, nil),
		{PutChunk: &event.Extraction{Chunk: event.Chunk{Document: notes, Index: 0, Total: 1, Text: "Alice manages Bob."},
			Mentions: []graph.Node{{Label: "Person", Key: "alice"}}, Relationships: []graph.Relationship{rel("MANAGES", alice, bob, nil)}}},
		rec(people3, 1, true, []graph.Node{person("erin", "Erin"), person("carol", "Carol 3")}),
		rec(people1, 2, true, []graph.Node{person("frank", "stale")}),
		{DeleteDocument: &event.DocumentDeleted{Path: teams.Path, Version: 5}},
		rec(people3, 2, false, []graph.Node{person("gina", "Gina")}, rel("WORKS_ON", ref("Person", "gina"), ref("Project", "zeus"), nil)),
	}
	ref0, err := duckstore.Open(t.Context(), duckstore.Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref0.Close()) })
	require.NoError(t, ref0.Setup(t.Context()))
	for i, op := range ops {
		require.NoError(t, ref0.Apply(t.Context(), []graph.Op{op}), "op %d", i)
	}
	want, err := graphtest.Collect(t.Context(), ref0)
	require.NoError(t, err)

	// This store op by op, then again in one Apply.
	for i, op := range ops {
		require.NoError(t, s.Apply(t.Context(), []graph.Op{op}), "op %d", i)
	}
	opByOp, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	require.NoError(t, s.Wipe(t.Context()))
	require.NoError(t, s.Apply(t.Context(), ops))
	got, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	assert.Equal(t, emptyPropsNil(opByOp), emptyPropsNil(got))
	assert.Equal(t, emptyPropsNil(want), emptyPropsNil(got))
	assert.NotEmpty(t, got.Relationships)
}

// TestDeleteRunsMatchOpByOp: deletions that Apply writes together (runs
// split into parts of two paths, with paths deleted twice, stale, at their
// stored version, never seen, written again between runs, documents
// sharing chunks, entities and relationships with each other and with
// documents that stay) give the graph and the versions that op-by-op
// writing gives, on this store and on the embedded one.
func TestDeleteRunsMatchOpByOp(t *testing.T) {
	s := openStore(t, nil)
	require.NoError(t, s.Setup(t.Context()))
	old := neostore.SetMaxDeletePaths(2)
	t.Cleanup(func() { neostore.SetMaxDeletePaths(old) })
	ref := func(l, k string) graph.NodeRef { return graph.NodeRef{Label: l, Key: k} }
	alice, bob, apollo := ref("Person", "alice"), ref("Person", "bob"), ref("Project", "apollo")
	rel := func(typ string, from, to graph.NodeRef) graph.Relationship {
		return graph.Relationship{Type: typ, From: from, To: to}
	}
	chunk := func(d event.Document, i int, text string, rels []graph.Relationship, mentions ...graph.NodeRef) graph.Op {
		x := &event.Extraction{Chunk: event.Chunk{Document: d, Index: i, Total: i + 1, Text: text}, Relationships: rels}
		for _, m := range mentions {
			x.Mentions = append(x.Mentions, graph.Node{Label: m.Label, Key: m.Key})
		}
		return graph.Op{PutChunk: x}
	}
	del := func(path string, v uint64) graph.Op {
		return graph.Op{DeleteDocument: &event.DocumentDeleted{Path: path, Version: v}}
	}
	doc := func(i int, v uint64) event.Document {
		return event.NewDocument(fmt.Sprintf("notes/%d.md", i), fmt.Sprintf("sha-%d-%d", i, v), 10, v)
	}
	twinA := event.NewDocument("twins/a.md", "same", 10, 3)
	twinB := event.NewDocument("twins/b.md", "same", 10, 3)
	people := event.NewDocument("data/people.csv", "p1", 1, 2)
	people2 := event.NewDocument("data/people.csv", "p2", 1, 4)
	var setup []graph.Op
	for i := range 8 {
		own := ref("Person", fmt.Sprintf("p%d", i))
		setup = append(setup,
			chunk(doc(i, 5), 0, "Alice manages Apollo.", []graph.Relationship{rel("MANAGES", alice, apollo), rel("WORKS_ON", own, apollo)}, alice, own),
			chunk(doc(i, 5), 1, "Bob.", nil, bob))
	}
	setup = append(setup,
		chunk(twinA, 0, "Twins.", []graph.Relationship{rel("MEMBER_OF", bob, ref("Team", "core"))}, bob),
		chunk(twinB, 0, "Twins.", []graph.Relationship{rel("MEMBER_OF", bob, ref("Team", "core"))}, bob),
		graph.Op{PutRecords: &event.Records{Source: people, Final: true, Nodes: []graph.Node{{Label: "Person", Key: "alice",
			Properties: map[string]any{"name": "Alice"}}}, Relationships: []graph.Relationship{rel("MANAGES", alice, bob)}}},
		graph.Op{PutRecords: &event.Records{Source: people2, Nodes: []graph.Node{{Label: "Person", Key: "carol"}},
			Relationships: []graph.Relationship{rel("MANAGES", ref("Person", "carol"), bob)}}},
	)
	dels := []graph.Op{
		del(doc(0, 0).Path, 6), del(twinA.Path, 3), del(doc(1, 0).Path, 4), del(doc(2, 0).Path, 5),
		del(doc(0, 0).Path, 7), del(doc(0, 0).Path, 6), del("never/seen.md", 1), del(people.Path, 4),
		del(doc(3, 0).Path, 6), del(doc(4, 0).Path, 6),
		chunk(doc(3, 8), 0, "Bob again.", nil, bob),
		del(doc(3, 0).Path, 7), del(twinB.Path, 9), del(doc(5, 0).Path, 9), del(doc(4, 0).Path, 8),
		chunk(doc(5, 8), 0, "Stale.", nil, ref("Person", "stale")),
		del(doc(6, 0).Path, 10),
	}

	// The reference: the embedded store, op by op.
	emb, err := duckstore.Open(t.Context(), duckstore.Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, emb.Close()) })
	require.NoError(t, emb.Setup(t.Context()))
	require.NoError(t, emb.Apply(t.Context(), setup))
	for i, op := range dels {
		require.NoError(t, emb.Apply(t.Context(), []graph.Op{op}), "op %d", i)
	}
	want, err := graphtest.Collect(t.Context(), emb)
	require.NoError(t, err)

	// This store op by op, then again in one Apply.
	require.NoError(t, s.Apply(t.Context(), setup))
	for i, op := range dels {
		require.NoError(t, s.Apply(t.Context(), []graph.Op{op}), "op %d", i)
	}
	opByOp, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	opByOpVersions := storedVersions(t, s)
	require.NoError(t, s.Wipe(t.Context()))
	require.NoError(t, s.Apply(t.Context(), setup))
	require.NoError(t, s.Apply(t.Context(), dels))
	got, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)

	assert.Equal(t, emptyPropsNil(want), emptyPropsNil(got))
	assert.Equal(t, emptyPropsNil(opByOp), emptyPropsNil(got))
	assert.Equal(t, opByOpVersions, storedVersions(t, s))
	assert.Equal(t, map[string]int64{"data/people.csv": 4, "never/seen.md": 1, "notes/0.md": 7, "notes/1.md": 5,
		"notes/2.md": 5, "notes/3.md": 8, "notes/4.md": 8, "notes/5.md": 9, "notes/6.md": 10, "notes/7.md": 5,
		"twins/a.md": 3, "twins/b.md": 9}, storedVersions(t, s))
	var docs, persons []string
	for _, n := range got.Nodes {
		switch n.Label {
		case graph.LabelDocument:
			docs = append(docs, n.Key)
		case "Person":
			persons = append(persons, n.Key)
		}
	}
	assert.Equal(t, []string{"notes/1.md", "notes/3.md", "notes/7.md"}, docs)
	assert.Equal(t, []string{"alice", "bob", "p1", "p7"}, persons)
}

// storedVersions returns the version stored for every path.
func storedVersions(t *testing.T, s *neostore.Store) map[string]int64 {
	t.Helper()
	sess := s.Driver().NewSession(t.Context(), neo4j.SessionConfig{DatabaseName: neostoretest.Config(t).Database})
	defer func() { require.NoError(t, sess.Close(t.Context())) }()
	res, err := sess.Run(t.Context(), "MATCH (v:_Version) WHERE v.version IS NOT NULL RETURN v.key, v.version", nil)
	require.NoError(t, err)
	recs, err := res.Collect(t.Context())
	require.NoError(t, err)
	out := map[string]int64{}
	for _, r := range recs {
		out[r.Values[0].(string)] = r.Values[1].(int64)
	}
	return out
}

func emptyPropsNil(e graphtest.Export) graphtest.Export {
	for i := range e.Nodes {
		if len(e.Nodes[i].Properties) == 0 {
			e.Nodes[i].Properties = nil
		}
	}
	for i := range e.Relationships {
		if len(e.Relationships[i].Properties) == 0 {
			e.Relationships[i].Properties = nil
		}
	}
	return e
}

// A records write creating a node that a concurrent, uncommitted
// transaction has created waits for it and then updates that node: nothing
// is lost or doubled. (Were the lookup not to wait, the CREATE would fail
// on the uniqueness constraint and the write would run again with MERGE:
// TestUniquenessRaceWritesAgainWithMerge.)
func TestRecordsNodeCreatedConcurrently(t *testing.T) {
	s := openStore(t, nil)
	ctx := t.Context()
	require.NoError(t, s.Setup(ctx))
	cfg := neostoretest.Config(t)
	drv, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, drv.Close(context.WithoutCancel(ctx))) })
	sess := drv.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite, DatabaseName: cfg.Database})
	t.Cleanup(func() { require.NoError(t, sess.Close(context.WithoutCancel(ctx))) })
	other, err := sess.BeginTransaction(ctx)
	require.NoError(t, err)
	_, err = other.Run(ctx, "CREATE (:Person {key: 'alice', team: 'other'})", nil)
	require.NoError(t, err)

	d := event.NewDocument("people.csv", "abc", 1, 1)
	op := graph.Op{PutRecords: &event.Records{Source: d, Final: true, Nodes: []graph.Node{
		{Label: "Person", Key: "alice", Properties: map[string]any{"name": "Alice"}},
		{Label: "Person", Key: "bob"},
	}}}
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, []graph.Op{op}) }()

	// The write's CREATE of alice waits for the other transaction's lock.
	waitBlocked(t, drv, cfg.Database)
	require.NoError(t, other.Commit(ctx))
	require.NoError(t, <-done)

	e, err := graphtest.Collect(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, []graph.Node{
		{Label: graph.LabelDocument, Key: "people.csv", Properties: e.Nodes[0].Properties},
		{Label: "Person", Key: "alice", Properties: map[string]any{"name": "Alice", "team": "other"}},
		{Label: "Person", Key: "bob"},
	}, emptyPropsNilNodes(e.Nodes))

	// alice is supported by the file: its deletion withdraws her.
	require.NoError(t, s.Apply(ctx, []graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: "people.csv", Version: 2}}}))
	e, err = graphtest.Collect(ctx, s)
	require.NoError(t, err)
	assert.Empty(t, e.Nodes)
}

func emptyPropsNilNodes(nodes []graph.Node) []graph.Node {
	out := make([]graph.Node, len(nodes))
	for i, n := range nodes {
		if len(n.Properties) == 0 {
			n.Properties = nil
		}
		out[i] = n
	}
	return out
}

// Two CREATEs of one key in one transaction fail it on the uniqueness
// constraint, as a concurrent creation between lookup and CREATE would:
// the write runs again with MERGE and gives the same graph.
func TestUniquenessRaceWritesAgainWithMerge(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := openStore(t, reg)
	require.NoError(t, s.Setup(t.Context()))
	neostore.SetDedupeKeys(false)
	t.Cleanup(func() { neostore.SetDedupeKeys(true) })
	d := event.NewDocument("people.csv", "abc", 1, 1)
	op := graph.Op{PutRecords: &event.Records{Source: d, Final: true, Nodes: []graph.Node{
		{Label: "Person", Key: "alice", Properties: map[string]any{"name": "Alice", "team": "x"}},
		{Label: "Person", Key: "alice", Properties: map[string]any{"team": "y"}},
	}}}
	require.NoError(t, s.Apply(t.Context(), []graph.Op{op}))

	e, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	require.Len(t, e.Nodes, 2)
	assert.Equal(t, graph.Node{Label: "Person", Key: "alice", Properties: map[string]any{"name": "Alice", "team": "y"}}, e.Nodes[1])
	families, err := reg.Gather()
	require.NoError(t, err)
	retried := -1.0
	for _, f := range families {
		if f.GetName() == "docgraph_graph_retried_transactions_total" {
			retried = f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	assert.Equal(t, 1.0, retried, "written again once")
}

// A relationship's support list is read only under the relationship's
// write lock: a write adding a source to it while another transaction has
// changed the list but not committed waits, then extends the committed
// list. Were the list read before the lock, the other change would be lost.
func TestSupportListNotLostToConcurrentWrite(t *testing.T) {
	s := openStore(t, nil)
	ctx := t.Context()
	require.NoError(t, s.Setup(ctx))
	rel := graph.Relationship{Type: "MANAGES", From: graph.NodeRef{Label: "Person", Key: "ada"}, To: graph.NodeRef{Label: "Project", Key: "PRJ-1"}}
	records := func(path string) []graph.Op {
		return []graph.Op{{PutRecords: &event.Records{Source: event.NewDocument(path, "sha-"+path, 1, 1), Final: true,
			Relationships: []graph.Relationship{rel}}}}
	}
	require.NoError(t, s.Apply(ctx, records("a.csv")))

	cfg := neostoretest.Config(t)
	sess := s.Driver().NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite, DatabaseName: cfg.Database})
	t.Cleanup(func() { require.NoError(t, sess.Close(context.WithoutCancel(ctx))) })
	support := func() []any {
		res, err := sess.Run(ctx, "MATCH ()-[r:MANAGES]->() RETURN r._docgraph_support AS s", nil)
		require.NoError(t, err)
		rec, err := res.Single(ctx)
		require.NoError(t, err)
		v, _ := rec.Get("s")
		l, _ := v.([]any)
		return l
	}
	before := support()
	require.Len(t, before, 1)
	other, err := sess.BeginTransaction(ctx)
	require.NoError(t, err)
	res, err := other.Run(ctx, "MATCH ()-[r:MANAGES]->() SET r._docgraph_support = r._docgraph_support + 42", nil)
	require.NoError(t, err)
	_, err = res.Consume(ctx)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, records("b.csv")) }()
	waitBlocked(t, s.Driver(), cfg.Database)
	require.NoError(t, other.Commit(ctx))
	require.NoError(t, <-done)

	after := support()
	assert.Len(t, after, 3, "a.csv's, the other transaction's and b.csv's: %v", after)
	assert.Contains(t, after, before[0])
	assert.Contains(t, after, int64(42))
}

// TestReappliedPropertiesKeepAConcurrentWrite: properties given again
// after a withdrawal include those of a support that a concurrent
// transaction wrote while the withdrawal ran.
func TestReappliedPropertiesKeepAConcurrentWrite(t *testing.T) {
	s := openStore(t, nil)
	ctx := t.Context()
	require.NoError(t, s.Setup(ctx))
	people := event.NewDocument("data/people.csv", "abc", 1, 1)
	teams := event.NewDocument("data/teams.csv", "ghi", 1, 1)
	require.NoError(t, s.Apply(ctx, []graph.Op{
		{PutRecords: &event.Records{Source: people, Final: true, Nodes: []graph.Node{
			{Label: "Person", Key: "alice", Properties: map[string]any{"name": "Alice", "email": "a@example.com"}}}}},
		{PutRecords: &event.Records{Source: teams, Final: true, Nodes: []graph.Node{{Label: "Person", Key: "alice"}}}},
	}))

	// Another file's records, as the store writes them.
	applyBlocked(t, s, `MATCH (a:Person {key: 'alice'})
SET a += {email: 'm@example.com'}
CREATE (s:_Source {key: 'data/managers.csv\u0000def\u0000rows', path: 'data/managers.csv', sha: 'def', part: 'rows', sid: 7})
CREATE (s)-[u:_SUPPORTS]->(a) SET u += {email: 'm@example.com'}`,
		[]graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: people.Path, Version: 2}}})

	e, err := graphtest.Collect(ctx, s)
	require.NoError(t, err)
	require.Len(t, e.Nodes, 2)
	assert.Equal(t, teams.Path, e.Nodes[0].Key)
	assert.Equal(t, graph.Node{Label: "Person", Key: "alice", Properties: map[string]any{"email": "m@example.com"}}, e.Nodes[1])
}

// An entity a deletion leaves without support is kept when another
// transaction supports it meanwhile. Relationships of a dense node (over
// Neo4j's dense_node_threshold, 50) take only shared locks on it, so
// another writer can add one while the deletion is under way: the
// collection must see it before it deletes the node.
func TestCollectKeepsAnEntitySupportedMeanwhile(t *testing.T) {
	s := openStore(t, nil)
	ctx := t.Context()
	require.NoError(t, s.Setup(ctx))
	report := event.NewDocument("report.md", "abc", 1, 1)
	const chunks = 60
	var ops []graph.Op
	for i := range chunks {
		ops = append(ops, graph.Op{PutChunk: &event.Extraction{
			Chunk:    event.Chunk{Document: report, Index: i, Total: chunks, Text: "Alice"},
			Mentions: []graph.Node{{Label: "Person", Key: "alice"}}}})
	}
	require.NoError(t, s.Apply(ctx, ops))

	// Another file's records, as the store writes them.
	applyBlocked(t, s, `MATCH (a:Person {key: 'alice'})
CREATE (s:_Source {key: 'people.csv\u0000def\u0000rows', path: 'people.csv', sha: 'def', part: 'rows', sid: 7})
CREATE (s)-[:_SUPPORTS]->(a)`, []graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: report.Path, Version: 2}}})

	assert.Equal(t, []string{"Person:alice"}, nodeKeys(t, s), "the entity the other file supports stays")
	res := runCypher(t, s, "MATCH (:_Source {path: 'people.csv'})-[:_SUPPORTS]->(:Person {key: 'alice'}) RETURN count(*) AS n")
	require.Len(t, res.Records, 1)
	n, _ := res.Records[0].Get("n")
	assert.EqualValues(t, 1, n, "with its support")
}

// A write that finds an entity another transaction is deleting, and waits
// for it, writes the entity again once that transaction has committed.
func TestWriteFindsAnEntityDeletedMeanwhile(t *testing.T) {
	for _, op := range []string{"records", "chunk"} {
		t.Run(op, func(t *testing.T) {
			s := openStore(t, nil)
			require.NoError(t, s.Setup(t.Context()))
			runCypher(t, s, "CREATE (:Person {key: 'alice'})")

			doc := event.NewDocument("people.csv", "abc", 1, 1)
			o := graph.Op{PutRecords: &event.Records{Source: doc, Final: true, Nodes: []graph.Node{{Label: "Person", Key: "alice"}}}}
			if op == "chunk" {
				doc.Path = "report.md"
				o = graph.Op{PutChunk: &event.Extraction{Chunk: event.Chunk{Document: doc, Index: 0, Total: 1, Text: "Alice"},
					Mentions: []graph.Node{{Label: "Person", Key: "alice"}}}}
			}
			// Another writer collecting it.
			applyBlocked(t, s, "MATCH (n:Person {key: 'alice'}) DELETE n", []graph.Op{o})
			assert.Contains(t, nodeKeys(t, s), "Person:alice")
		})
	}
}

// applyBlocked applies ops while another transaction, which ran cypher and
// holds its locks, is open: once Apply waits on a lock, the other
// transaction commits, and Apply must then succeed.
func applyBlocked(t *testing.T, s *neostore.Store, cypher string, ops []graph.Op) {
	t.Helper()
	ctx := t.Context()
	other := beginOther(t, s, cypher)
	done := make(chan error, 1)
	go func() { done <- s.Apply(ctx, ops) }()
	waitBlocked(t, s.Driver(), neostoretest.Config(t).Database)
	require.NoError(t, other.Commit(ctx))
	require.NoError(t, <-done)
}

// beginOther runs cypher in a transaction of another writer, left open
// (holding its locks) for the caller to commit; its session closes when
// the test ends.
func beginOther(t *testing.T, s *neostore.Store, cypher string) neo4j.ExplicitTransaction {
	t.Helper()
	ctx := t.Context()
	sess := s.Driver().NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite, DatabaseName: neostoretest.Config(t).Database})
	t.Cleanup(func() { require.NoError(t, sess.Close(context.WithoutCancel(ctx))) })
	tx, err := sess.BeginTransaction(ctx)
	require.NoError(t, err)
	res, err := tx.Run(ctx, cypher, nil)
	require.NoError(t, err)
	_, err = res.Consume(ctx)
	require.NoError(t, err)
	return tx
}

// runCypher runs a query on the test database.
func runCypher(t *testing.T, s *neostore.Store, cypher string) *neo4j.EagerResult {
	t.Helper()
	res, err := neo4j.ExecuteQuery(t.Context(), s.Driver(), cypher, nil, neo4j.EagerResultTransformer,
		neo4j.ExecuteQueryWithDatabase(neostoretest.Config(t).Database))
	require.NoError(t, err)
	return res
}

// nodeKeys returns the exported nodes of s as "Label:key".
func nodeKeys(t *testing.T, s *neostore.Store) []string {
	t.Helper()
	e, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	var keys []string
	for _, n := range e.Nodes {
		keys = append(keys, n.Label+":"+n.Key)
	}
	return keys
}

// waitBlocked waits until Neo4j shows one transaction blocked on a lock.
func waitBlocked(t *testing.T, drv neo4j.DriverWithContext, database string) {
	t.Helper()
	waitBlockedN(t, drv, database, 1)
}

// waitBlockedN waits until Neo4j shows n transactions blocked on a lock.
func waitBlockedN(t *testing.T, drv neo4j.DriverWithContext, database string, n int) {
	t.Helper()
	ctx := t.Context()
	watch := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: database})
	defer func() { require.NoError(t, watch.Close(context.WithoutCancel(ctx))) }()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		res, err := watch.Run(ctx, "SHOW TRANSACTIONS YIELD status WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n", nil)
		require.NoError(c, err)
		rec, err := res.Single(ctx)
		require.NoError(c, err)
		blocked, _ := rec.Get("n")
		assert.EqualValues(c, n, blocked, "blocked transactions")
	}, 30*time.Second, 20*time.Millisecond)
}

// Versions stored by an earlier files stream, once forgotten, no longer make
// the writes of a new stream (sequences from 1 again) stale.
func TestForgetVersions(t *testing.T) {
	s := openStore(t, nil)
	require.NoError(t, s.Setup(t.Context()))
	records := func(sha string, version uint64, person string) []graph.Op {
		d := event.NewDocument("people.csv", sha, 1, version)
		return []graph.Op{{PutRecords: &event.Records{Source: d, Final: true, Nodes: []graph.Node{{Label: "Person", Key: person}}}}}
	}
	people := func() []string {
		e, err := graphtest.Collect(t.Context(), s)
		require.NoError(t, err)
		var keys []string
		for _, n := range e.Nodes {
			if n.Label == "Person" {
				keys = append(keys, n.Key)
			}
		}
		return keys
	}
	v, err := s.MaxVersion(t.Context())
	require.NoError(t, err)
	assert.Zero(t, v, "empty graph")
	require.NoError(t, s.Apply(t.Context(), records("aaa", 7, "ada")))
	v, err = s.MaxVersion(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 7, v)

	require.NoError(t, s.Apply(t.Context(), records("bbb", 2, "bob")))
	assert.Equal(t, []string{"ada"}, people(), "version 2 is older than 7: ignored")

	n, err := s.ForgetVersions(t.Context(), 7)
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	v, err = s.MaxVersion(t.Context())
	require.NoError(t, err)
	assert.Zero(t, v)
	require.NoError(t, s.Apply(t.Context(), records("bbb", 2, "bob")))
	assert.Equal(t, []string{"bob"}, people(), "the next version replaces the forgotten one")
}

// TestSetupFailureOfAnUnavailableServerIsUnavailable: Setup runs right after
// Open, while a server that has just started may still refuse or time out;
// that must read as unavailable, so that start-up waits instead of exiting.
func TestSetupFailureOfAnUnavailableServerIsUnavailable(t *testing.T) {
	s := openStore(t, nil)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	err := s.Setup(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, graph.ErrUnavailable)
}

// TestOpenAgainOnTheSameRegistry: start-up opens the store again after Setup
// failed on a server still starting, with the registry of the first Open.
func TestOpenAgainOnTheSameRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	openStore(t, reg)
	second := openStore(t, reg)
	require.NoError(t, second.Setup(t.Context()))
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	assert.Contains(t, names, "docgraph_graph_batch_size")
}

// TestSetupConcurrentlyOnAFreshDatabase: graph writer replicas started
// together on a database that has never seen docgraph's labels and
// properties each run Setup at the same time; every one must take an index
// or constraint another has just created as made, not fail on "an
// equivalent index already exists". (A property new to the database stands
// for the fresh database.)
func TestSetupConcurrentlyOnAFreshDatabase(t *testing.T) {
	const replicas = 8
	cfg := neostoretest.Config(t)
	stores := make([]*neostore.Store, replicas)
	for i := range stores {
		s, err := neostore.Open(t.Context(), cfg, prometheus.NewRegistry())
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		stores[i] = s
	}
	for round := range 3 {
		fresh := fmt.Sprintf("fresh_%d_%d", time.Now().UnixNano(), round)
		stmts := []string{
			"CREATE CONSTRAINT `docgraph_" + fresh + "_key` IF NOT EXISTS FOR (n:`" + fresh + "`) REQUIRE n.key IS UNIQUE",
			"CREATE INDEX `docgraph_" + fresh + "` IF NOT EXISTS FOR (n:`_Source`) ON (n.`" + fresh + "`)",
		}
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.CreateSchema(t.Context(), stmts...) })
		}
		wg.Wait()
		for _, q := range []string{"DROP CONSTRAINT `docgraph_" + fresh + "_key` IF EXISTS", "DROP INDEX `docgraph_" + fresh + "` IF EXISTS"} {
			_, err := neo4j.ExecuteQuery(t.Context(), stores[0].Driver(), q, nil, neo4j.EagerResultTransformer)
			require.NoError(t, err)
		}
		for i, err := range errs {
			require.NoError(t, err, "round %d, replica %d", round, i)
		}
	}
}

// TestDeadlockWithAnotherWriterIsNoOutage: a transaction Neo4j aborts as the
// victim of a deadlock with another writer (two graph writer replicas
// withdrawing documents that support the same relationships) is written
// again, even when the driver's retries are spent: Neo4j answers, and an
// outage would pause every replica's consumer. (The budget is spent at the
// first failure here; a batch of a thousand deletions spends it in one
// attempt.)
func TestDeadlockWithAnotherWriterIsNoOutage(t *testing.T) {
	old := neostore.SetMaxTransactionRetryTime(time.Nanosecond)
	t.Cleanup(func() { neostore.SetMaxTransactionRetryTime(old) })
	s := openStore(t, nil)
	ctx := t.Context()
	require.NoError(t, s.Setup(ctx))
	cfg := neostoretest.Config(t)
	records := func(version uint64) []graph.Op {
		return []graph.Op{{PutRecords: &event.Records{Source: event.NewDocument("people.csv", fmt.Sprint("sha", version), 1, version), Final: true,
			Nodes: []graph.Node{{Label: "Person", Key: "a", Properties: map[string]any{"v": int64(version)}},
				{Label: "Person", Key: "b", Properties: map[string]any{"v": int64(version)}}}}}}
	}
	require.NoError(t, s.Apply(ctx, records(1)))
	_, err := neo4j.ExecuteQuery(ctx, s.Driver(), "UNWIND range(1, 20) AS i CREATE (:Busy {i: i})", nil, neo4j.EagerResultTransformer)
	require.NoError(t, err)

	// Neo4j aborts the transaction of a deadlock that holds the fewest
	// locks: the other writer holds many. Should it abort the other one
	// all the same, go again.
	version := uint64(1)
	for victims := 0; victims == 0; {
		version++
		require.Less(t, version, uint64(50), "Neo4j never aborted Apply's transaction")
		// Other writers: one holds the Document, one the people.
		holdsDoc := beginOther(t, s, "MATCH (d:Document {key: 'people.csv'}) SET d.other = 1")
		holdsPeople := beginOther(t, s, "MATCH (b:Busy) SET b.other = 1 WITH count(*) AS n MATCH (p:Person) SET p.other = n")
		// Apply locks the version node of people.csv, then waits for the
		// Document.
		done := make(chan error, 1)
		go func() { done <- s.Apply(ctx, records(version)) }()
		waitBlockedN(t, s.Driver(), cfg.Database, 1)
		// The holder of the people waits for the version node, which
		// Apply holds.
		versionLocked := make(chan error, 1)
		go func() {
			res, err := holdsPeople.Run(ctx, "MATCH (v:_Version {key: 'people.csv'}) SET v.other = 1", nil)
			if err == nil {
				_, err = res.Consume(ctx)
			}
			versionLocked <- err
		}()
		waitBlockedN(t, s.Driver(), cfg.Database, 2)
		// The Document is free: Apply goes on to the people, held by a
		// writer waiting for Apply.
		require.NoError(t, holdsDoc.Commit(ctx))
		if err := <-versionLocked; err != nil {
			require.ErrorContains(t, err, "DeadlockDetected", "the other writer was aborted")
			require.NoError(t, holdsPeople.Rollback(ctx))
			require.NoError(t, <-done)
			continue
		}
		victims++
		require.NoError(t, holdsPeople.Commit(ctx))
		require.NoError(t, <-done)
	}

	e, err := graphtest.Collect(ctx, s)
	require.NoError(t, err)
	for _, n := range e.Nodes {
		if n.Label == "Person" {
			assert.Equal(t, int64(version), n.Properties["v"], "%s", n.Key)
		}
	}
}
