package neostore_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

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
