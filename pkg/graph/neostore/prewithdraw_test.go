package neostore_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/metrictest"
)

// Every withdrawal of more than one support is made in parts before the
// op's own transaction: the shared suite passes all the same.
func TestConformanceWithdrawingInParts(t *testing.T) {
	t.Cleanup(neostore.SetMaxWithdrawSupports(1, nil))
	graphtest.Run(t, func(t *testing.T) graph.Store { return openStore(t, nil) })
}

// A spreadsheet's old version too large for one transaction is withdrawn in
// parts, before the new version's final batch is written; a part that
// committed before the write failed stays, and the write delivered again
// withdraws the rest. The graph after the re-save and after the deletion
// is the one the embedded store gives.
func TestLargeWithdrawalInParts(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	s := openStoreLogging(t, reg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, s.Setup(t.Context()))
	parts := func() float64 { return metrictest.Counter(t, reg, "docgraph_graph_withdrawal_parts_total") }

	v1, v2, mention, del := graphtest.Resave()

	emb, err := duckstore.Open(t.Context(), duckstore.Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, emb.Close()) })
	require.NoError(t, emb.Setup(t.Context()))
	expect := func(ops ...graph.Op) graphtest.Export {
		for _, op := range ops {
			require.NoError(t, emb.Apply(t.Context(), []graph.Op{op}))
		}
		e, err := graphtest.Collect(t.Context(), emb)
		require.NoError(t, err)
		return emptyPropsNil(e)
	}
	current := func() graphtest.Export {
		e, err := graphtest.Collect(t.Context(), s)
		require.NoError(t, err)
		return emptyPropsNil(e)
	}

	// A version's rows have one source; v1's supports 12 people and 3
	// teams: 15 supports.
	restore := neostore.SetMaxWithdrawSupports(7, nil)
	t.Cleanup(restore)
	for _, op := range append(append([]graph.Op{}, v1...), mention) {
		require.NoError(t, s.Apply(t.Context(), []graph.Op{op}))
	}
	assert.Equal(t, expect(append(v1, mention)...), current())
	assert.Zero(t, parts(), "a first version withdraws nothing")
	assert.Equal(t, int64(15), supports(t, s, "sha-1"))

	for _, op := range v2[:3] {
		require.NoError(t, s.Apply(t.Context(), []graph.Op{op}))
	}
	// The final batch's write fails after the first part of the
	// withdrawal has committed (its context ends).
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	neostore.SetMaxWithdrawSupports(7, cancel)
	require.ErrorIs(t, s.Apply(ctx, v2[3:]), context.Canceled)
	assert.Equal(t, 1.0, parts())
	assert.Equal(t, int64(8), supports(t, s, "sha-1"), "the part withdrawn stays withdrawn")
	assert.Contains(t, logs.String(), `msg="earlier version withdrawn in part" path=data/teams.csv supports=7 supports_left=8`)
	assert.NotContains(t, keys(current().Nodes), "Person/q3-0 analyst", "the final batch is not written")

	neostore.SetMaxWithdrawSupports(7, nil)
	require.NoError(t, s.Apply(t.Context(), v2[3:]))
	assert.Equal(t, 2.0, parts(), "7 more in a part, the last one in the write itself")
	assert.Equal(t, expect(v2...), current())
	assert.Zero(t, supports(t, s, "sha-1"))
	assert.Equal(t, int64(14), supports(t, s, "sha-2"))

	require.NoError(t, s.Apply(t.Context(), []graph.Op{del}))
	assert.Equal(t, 3.0, parts())
	want := expect(del)
	assert.Equal(t, want, current())
	assert.Contains(t, keys(want.Nodes), "Person/p1-1 ", "the mention keeps its person")
}

// supports counts the entities that the sources of content sha support.
func supports(t *testing.T, s *neostore.Store, sha string) int64 {
	t.Helper()
	res, err := neo4j.ExecuteQuery(t.Context(), s.Driver(), "MATCH (s:_Source {sha: $sha})-[u:_SUPPORTS]->() RETURN count(u) AS n",
		map[string]any{"sha": sha}, neo4j.EagerResultTransformer)
	require.NoError(t, err)
	n, _ := res.Records[0].Values[0].(int64)
	return n
}

// keys lists nodes as "label/key role".
func keys(nodes []graph.Node) []string {
	var out []string
	for _, n := range nodes {
		role, _ := n.Properties["role"].(string)
		out = append(out, n.Label+"/"+n.Key+" "+role)
	}
	return out
}
