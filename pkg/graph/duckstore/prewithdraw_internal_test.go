package duckstore

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
)

// Every withdrawal of more than one support row is made in parts before
// the op's own transaction: the shared suite passes all the same.
func TestConformanceWithdrawingInParts(t *testing.T) {
	t.Cleanup(SetMaxWithdrawRows(1, nil))
	graphtest.Run(t, func(t *testing.T) graph.Store {
		st, err := Open(t.Context(), Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return st
	})
}

// A spreadsheet's old version larger than a part is withdrawn in parts,
// before the new version's final batch is written; a part that committed
// before the write failed stays, and the write delivered again withdraws
// the rest. The graph after the re-save and after the deletion is the one
// writing without parts gives.
func TestLargeWithdrawalInParts(t *testing.T) {
	var logs bytes.Buffer
	open := func() *Store {
		st, err := Open(t.Context(), Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes(),
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		require.NoError(t, st.Setup(t.Context()))
		return st
	}
	v1, v2, mention, del := graphtest.Resave()

	emb := open()
	expect := func(ops ...graph.Op) graphtest.Export {
		for _, op := range ops {
			require.NoError(t, emb.Apply(t.Context(), []graph.Op{op}))
		}
		e, err := graphtest.Collect(t.Context(), emb)
		require.NoError(t, err)
		return e
	}
	s := open()
	current := func() graphtest.Export {
		e, err := graphtest.Collect(t.Context(), s)
		require.NoError(t, err)
		return e
	}
	supports := func(sha string) int64 {
		var n int64
		require.NoError(t, s.wconn.QueryRowContext(t.Context(), "SELECT count(*) FROM support WHERE sha256 = ?", sha).Scan(&n))
		return n
	}
	parts := 0
	count := func() { parts++ }

	// The graphs written without parts.
	want1 := expect(append(append([]graph.Op{}, v1...), mention)...)
	want2 := expect(v2...)
	want3 := expect(del)

	// v1's rows have 12 people, 3 teams and 12 relationships: 27 support
	// rows. Parts of 10 rows.
	t.Cleanup(SetMaxWithdrawRows(10, count))
	for _, op := range append(append([]graph.Op{}, v1...), mention) {
		require.NoError(t, s.Apply(t.Context(), []graph.Op{op}))
	}
	assert.Equal(t, want1, current())
	assert.Zero(t, parts, "a first version withdraws nothing")
	assert.Equal(t, int64(27), supports("sha-1"))

	for _, op := range v2[:3] {
		require.NoError(t, s.Apply(t.Context(), []graph.Op{op}))
	}
	// The final batch's write fails after the first part of the
	// withdrawal has committed (its context ends).
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	SetMaxWithdrawRows(10, func() { count(); cancel() })
	require.ErrorIs(t, s.Apply(ctx, v2[3:]), context.Canceled)
	assert.Equal(t, 1, parts)
	assert.Equal(t, int64(17), supports("sha-1"), "the part withdrawn stays withdrawn")
	assert.Contains(t, logs.String(), `msg="earlier version withdrawn in part" path=data/teams.csv rows=10 rows_left=17`)

	SetMaxWithdrawRows(10, count)
	require.NoError(t, s.Apply(t.Context(), v2[3:]))
	assert.Equal(t, 2, parts, "10 more in a part, the last 7 in the write itself")
	assert.Equal(t, want2, current())
	assert.Zero(t, supports("sha-1"))
	assert.Equal(t, int64(26), supports("sha-2"))

	require.NoError(t, s.Apply(t.Context(), []graph.Op{del}))
	assert.Equal(t, 4, parts, "sha-2's 26 rows: two parts, then the deletion")
	assert.Equal(t, want3, current())
	assert.Zero(t, supports("sha-2"))
}
