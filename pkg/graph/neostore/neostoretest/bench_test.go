package neostoretest_test

import (
	"context"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// The write benchmarks' helpers, run small: the plain-driver baseline
// writes every node and relationship, and CompareWrites reports every
// path's rates and the later paths' share of the first's (it checks the
// counts itself).
func TestWriteBenchHelpers(t *testing.T) {
	st := neostoretest.Open(t)
	cfg := neostoretest.Config(t)

	nodes, rels, batch := neostoretest.BenchNodes, neostoretest.BenchRels, neostoretest.BenchBatch
	neostoretest.BenchNodes, neostoretest.BenchRels, neostoretest.BenchBatch = 300, 600, 100
	t.Cleanup(func() { neostoretest.BenchNodes, neostoretest.BenchRels, neostoretest.BenchBatch = nodes, rels, batch })
	typ, from, to := neostoretest.BenchRel(3)
	assert.Equal(t, []string{"WORKS_ON", "person-000001", "person-000008"}, []string{typ, from, to})

	d, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close(context.WithoutCancel(t.Context()))) })
	writeNodes, writeRels := neostoretest.PlainWrites(t.Context(), d, cfg.Database)
	paths := []neostoretest.WritePath{{Name: "a", Nodes: writeNodes, Rels: writeRels}, {Name: "b", Nodes: writeNodes, Rels: writeRels}}
	res := testing.Benchmark(func(b *testing.B) { neostoretest.CompareWrites(b, st, paths...) })
	for _, unit := range []string{"a-nodes/s", "a-rels/s", "b-nodes/s", "b-rels/s", "b-nodes-%-of-a", "b-rels-%-of-a"} {
		assert.Positive(t, res.Extra[unit], unit)
	}
	assert.NotContains(t, res.Extra, "a-nodes-%-of-a")
	s, err := st.Stats(t.Context())
	require.NoError(t, err)
	assert.Empty(t, s.Nodes, "the benchmark empties the database after itself")
}
