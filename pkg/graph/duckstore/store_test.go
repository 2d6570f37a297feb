package duckstore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
)

func openStore(t *testing.T, path string) *duckstore.Store {
	t.Helper()
	s, err := duckstore.Open(t.Context(), duckstore.Config{
		Path: path, Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes(), MemoryLimit: "256MB",
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformanceInMemory(t *testing.T) {
	graphtest.Run(t, func(t *testing.T) graph.Store { return openStore(t, "") })
}

func TestConformanceFile(t *testing.T) {
	graphtest.Run(t, func(t *testing.T) graph.Store {
		return openStore(t, filepath.Join(t.TempDir(), "graph.duckdb"))
	})
}
