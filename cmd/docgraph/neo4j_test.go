package main

import (
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// neo4jArgs returns the flags selecting the test Neo4j, wiped empty.
func neo4jArgs(t *testing.T) []string {
	t.Helper()
	cfg := neostoretest.Config(t)
	st, err := neostore.Open(t.Context(), cfg, prometheus.NewRegistry())
	require.NoError(t, err)
	require.NoError(t, st.Wipe(t.Context()))
	require.NoError(t, st.Close())
	return []string{"--neo4j", cfg.URI, "--neo4j.user", cfg.User, "--neo4j.password", cfg.Password}
}

func TestNeo4jGivesTheSameGraphAsTheEmbeddedStore(t *testing.T) {
	neo := neo4jArgs(t)
	in := t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })

	embedded := t.TempDir()
	mustDocgraph(t, ingestArgs(embedded, in)...)
	want := mustDocgraph(t, "graph", "export", "--data", embedded, "--format", "json")

	data := t.TempDir()
	mustDocgraph(t, ingestArgs(data, append(neo, in)...)...)
	got := mustDocgraph(t, append([]string{"graph", "export", "--data", data, "--format", "json"}, neo...)...)
	require.Equal(t, want, got, "Neo4j export equals the embedded store's")
	checkGraph(t, parseExport(t, []byte(got)), loadExpected(t, "sample"), checkOpts{structured: true})
}
