package neostore_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// openStore opens a store on the test Neo4j with the suite's schema and an
// empty database.
func openStore(t testing.TB, reg prometheus.Registerer) *neostore.Store {
	t.Helper()
	cfg := neostoretest.Config(t)
	cfg.Labels, cfg.RelTypes = graphtest.Labels(), graphtest.RelTypes()
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

func TestConfigLogValueRedactsPassword(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", slog.Any("neo4j", neostore.Config{URI: "bolt://h:7687", User: "neo4j", Password: "s3cret-pw"}))
	assert.NotContains(t, buf.String(), "s3cret-pw")
	assert.Contains(t, buf.String(), `"password":"REDACTED"`)
	assert.Contains(t, buf.String(), `"uri":"bolt://h:7687"`)
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
