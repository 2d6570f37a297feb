package neostoretest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// Open opens a store on the test Neo4j with the conformance suite's schema,
// on an emptied database with its constraints in place, and closes it when
// the test ends.
func Open(tb testing.TB) *neostore.Store {
	tb.Helper()
	cfg := Config(tb)
	cfg.Labels, cfg.RelTypes = graphtest.Labels(), graphtest.RelTypes()
	s, err := neostore.Open(tb.Context(), cfg, prometheus.NewRegistry())
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, s.Close()) })
	require.NoError(tb, s.Wipe(tb.Context()))
	require.NoError(tb, s.Setup(tb.Context()))
	return s
}
