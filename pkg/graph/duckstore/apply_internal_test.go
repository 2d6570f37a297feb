package duckstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
)

// TestFlushJoinsTransaction checks that rows staged through appenders are
// part of Apply's transaction: a rollback leaves nothing behind.
func TestFlushJoinsTransaction(t *testing.T) {
	s, err := Open(t.Context(), Config{Labels: []string{"Person"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	tx, err := s.wconn.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	b := newBatch(tx, s.wconn, s.types)
	b.addNode(nodeID{"Person", "ada"}, map[string]any{"name": "Ada"})
	b.addRel(relID{typ: graph.RelMentions, fromLabel: graph.LabelChunk, fromKey: "c", toLabel: "Person", toKey: "ada"}, nil)
	require.NoError(t, b.flush(t.Context()))
	var n int
	require.NoError(t, tx.QueryRowContext(t.Context(), "SELECT count(*) FROM nodes").Scan(&n))
	assert.Equal(t, 1, n, "visible inside the transaction")
	require.NoError(t, tx.Rollback())

	st, err := s.Stats(t.Context())
	require.NoError(t, err)
	assert.Empty(t, st.Nodes)
	assert.Empty(t, st.Relationships)
}
