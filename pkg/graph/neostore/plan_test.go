package neostore

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

func TestPlanRefusesInvalidOps(t *testing.T) {
	s := &Store{labels: sortedSet([]string{"Team", "Person", "Person"}), relTypes: sortedSet([]string{"MANAGES"})}
	doc := event.NewDocument("a.md", "abc", 1, 1)
	alice := graph.NodeRef{Label: "Person", Key: "alice"}
	chunk := func(d event.Document, index int, rels ...graph.Relationship) graph.Op {
		return graph.Op{PutChunk: &event.Extraction{Chunk: event.Chunk{Document: d, Index: index}, Relationships: rels}}
	}
	huge := doc
	huge.Version = math.MaxInt64 + 1
	nul := doc
	nul.Path = "a\x00b"
	tests := []struct {
		name    string
		give    graph.Op
		wantErr string
	}{
		{name: "version overflow", give: chunk(huge, 0), wantErr: "overflows int64"},
		{name: "delete version overflow", give: graph.Op{DeleteDocument: &event.DocumentDeleted{Path: "a", Version: math.MaxUint64}},
			wantErr: "overflows int64"},
		{name: "negative index", give: chunk(doc, -1), wantErr: "negative chunk index -1"},
		{name: "nul in path", give: chunk(nul, 0), wantErr: "NUL"},
		{name: "records without path", give: graph.Op{PutRecords: &event.Records{}}, wantErr: "empty document path"},
		{name: "from label", give: chunk(doc, 0, graph.Relationship{Type: "MANAGES",
			From: graph.NodeRef{Label: "Robot", Key: "r"}, To: alice}), wantErr: `MANAGES from: graph: invalid operation: op 0: label "Robot"`},
		{name: "empty endpoint key", give: chunk(doc, 0, graph.Relationship{Type: "MANAGES",
			From: alice, To: graph.NodeRef{Label: "Team"}}), wantErr: "endpoint with empty key"},
		{name: "relationship property", give: chunk(doc, 0, graph.Relationship{Type: "MANAGES", From: alice,
			To: graph.NodeRef{Label: "Team", Key: "t"}, Properties: map[string]any{"x": math.NaN()}}),
			wantErr: `MANAGES Person "alice" -> Team "t": property "x"`},
		{name: "bookkeeping relationship property", give: chunk(doc, 0, graph.Relationship{Type: "MANAGES", From: alice,
			To: graph.NodeRef{Label: "Team", Key: "t"}, Properties: map[string]any{propSupport: []any{1}}}),
			wantErr: `property "_docgraph_support" is reserved`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.plan([]graph.Op{tt.give})
			require.ErrorIs(t, err, graph.ErrInvalid)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestPlanSortsRowsStably(t *testing.T) {
	s := &Store{labels: []string{"Person", "Team"}, relTypes: []string{"MANAGES"}}
	ref := func(l, k string) graph.NodeRef { return graph.NodeRef{Label: l, Key: k} }
	op := graph.Op{PutRecords: &event.Records{Source: event.NewDocument("p.csv", "abc", 1, 1),
		Nodes: []graph.Node{
			{Label: "Team", Key: "t"},
			{Label: "Person", Key: "bob", Properties: map[string]any{"n": 1}},
			{Label: "Person", Key: "alice"},
			{Label: "Person", Key: "bob", Properties: map[string]any{"n": 2}},
		},
		Relationships: []graph.Relationship{
			{Type: "MANAGES", From: ref("Person", "bob"), To: ref("Team", "t")},
			{Type: "MANAGES", From: ref("Person", "alice"), To: ref("Person", "bob"), Source: "text"},
			{Type: "MANAGES", From: ref("Person", "alice"), To: ref("Team", "t"), Properties: map[string]any{"since": 2020}},
		}}}
	plans, err := s.plan([]graph.Op{op})
	require.NoError(t, err)
	p := plans[0]
	assert.Equal(t, sourceKey("p.csv", "abc", "rows"), p.source)
	require.Len(t, p.nodes, 2)
	assert.Equal(t, "Person", p.nodes[0].label)
	assert.Equal(t, []map[string]any{
		{"key": "alice", "props": map[string]any{}},
		{"key": "bob", "props": map[string]any{"n": int64(1)}},
		{"key": "bob", "props": map[string]any{"n": int64(2)}},
	}, p.nodes[0].rows)
	require.Len(t, p.rels, 2)
	assert.Equal(t, relGroup{typ: "MANAGES", from: "Person", to: "Person", rows: []map[string]any{
		{"from": "alice", "to": "bob", "source": "text", "props": map[string]any{}, "given": nil},
	}}, p.rels[0])
	assert.Equal(t, "structured", p.rels[1].rows[0]["source"])
	assert.Equal(t, "alice", p.rels[1].rows[0]["from"])
	assert.Equal(t, `{"since":["i","2020"]}`, p.rels[1].rows[0]["given"], "the properties as kept for regive")
	assert.Equal(t, 7, p.items)
	assert.Positive(t, p.sid, "a new source's support id")
}
