package duckstore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/disk/disktest"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
)

// A full disk under the graph fails writes as unavailable (the graph
// writer then holds its messages) and nothing else: once there is room,
// the same writes succeed on the same store, and the graph holds them all.
func TestApplyOnAFullDiskIsUnavailable(t *testing.T) {
	disk := disktest.Small(t, 10<<20)
	filler := filepath.Join(disk, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, 6<<20), 0o644))
	s := openStore(t, filepath.Join(disk, "graph.duckdb"))

	ops := graphtest.BenchChunkOps(300, 1)
	const batch = 20
	failedAt := -1
	for i := 0; i < len(ops); i += batch {
		err := s.Apply(t.Context(), ops[i:min(i+batch, len(ops))])
		if err != nil {
			require.ErrorIs(t, err, graph.ErrUnavailable)
			assert.Contains(t, err.Error(), "No space left on device")
			failedAt = i
			break
		}
	}
	require.GreaterOrEqual(t, failedAt, 0, "the disk filled up")

	require.NoError(t, os.Remove(filler))
	for i := failedAt; i < len(ops); i += batch {
		require.NoError(t, s.Apply(t.Context(), ops[i:min(i+batch, len(ops))]))
	}
	stats, err := s.Stats(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, 300, stats.Nodes[graph.LabelDocument])
}
