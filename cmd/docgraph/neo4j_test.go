package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
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
	got, errOut, err := docgraph(t, append([]string{"graph", "export", "--data", data, "--format", "json"}, neo...)...)
	require.NoError(t, err, errOut)
	require.Equal(t, want, got, "Neo4j export equals the embedded store's")
	assert.Contains(t, errOut, "graph export: the Neo4j graph at bolt://", "it says which graph it read")
	checkGraph(t, parseExport(t, []byte(got)), loadExpected(t, "sample"), checkOpts{structured: true})
}

// The Cypher export loads the same graph into Neo4j: the same counts per
// label and type, and properties intact (hostile strings included).
func TestCypherExportLoadsIntoNeo4j(t *testing.T) {
	cfg := neostoretest.Config(t)
	st, err := neostore.Open(t.Context(), cfg, prometheus.NewRegistry())
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.Wipe(t.Context()))

	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	mustDocgraph(t, ingestArgs(data, in)...)
	script := mustDocgraph(t, "graph", "export", "--data", data, "--format", "cypher")
	stats := mustDocgraph(t, "graph", "stats", "--data", data)

	drv, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
	require.NoError(t, err)
	defer drv.Close(t.Context())
	var stmt strings.Builder
	n := 0
	for _, line := range strings.Split(script, "\n") {
		if strings.HasPrefix(line, "//") || (stmt.Len() == 0 && strings.TrimSpace(line) == "") {
			continue
		}
		stmt.WriteString(line + "\n")
		if strings.HasSuffix(line, ";") {
			_, err := neo4j.ExecuteQuery(t.Context(), drv, strings.TrimSuffix(strings.TrimSpace(stmt.String()), ";"), nil,
				neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
			require.NoError(t, err, "statement %d", n)
			stmt.Reset()
			n++
		}
	}
	require.Positive(t, n)

	count := func(q string) map[string]int64 {
		res, err := neo4j.ExecuteQuery(t.Context(), drv, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
		require.NoError(t, err)
		out := map[string]int64{}
		for _, r := range res.Records {
			out[r.Values[0].(string)] = r.Values[1].(int64)
		}
		return out
	}
	labels := count("MATCH (n) RETURN labels(n)[0], count(*)")
	types := count("MATCH ()-[r]->() RETURN type(r), count(*)")
	for l, c := range labels {
		assert.Contains(t, stats, fmt.Sprintf("  %-12s %d\n", l, c))
	}
	for ty, c := range types {
		assert.Contains(t, stats, fmt.Sprintf("  %-12s %d\n", ty, c))
	}
	res, err := neo4j.ExecuteQuery(t.Context(), drv, "MATCH (p:Project) WHERE p.budget IS NOT NULL RETURN count(p)", nil,
		neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Database))
	require.NoError(t, err)
	assert.EqualValues(t, 8, res.Records[0].Values[0], "project properties loaded")
}

// The bench checks the whole graph against its corpus: on a Neo4j database
// that holds a graph already it stops before ingesting, naming the URI.
func TestBenchRefusesANonEmptyNeo4j(t *testing.T) {
	neo := neo4jArgs(t)
	in := t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool { return rel == "teams.csv" })
	mustDocgraph(t, ingestArgs(t.TempDir(), append(neo, in)...)...)

	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"bench", "--docs", "3", "--"}, neo...), &out, &errOut, noEnv)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds")
	assert.Contains(t, err.Error(), neo[1], "names the URI")
	assert.NotContains(t, out.String(), "ingest:", "nothing ingested")
}

// A Neo4j database written through one data directory, then ingested
// through a fresh one (a files stream starting again at sequence 1, as
// after the NATS store is lost or moved aside): a file changed in between
// is written, not ignored as older than the versions the first run stored,
// and a file deleted in between is removed by reconcile --fix.
func TestNeo4jFreshDataDirectoryOnAnEarlierGraph(t *testing.T) {
	neo := neo4jArgs(t)
	in := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(in, name), []byte("# "+name+"\n\n"+text+"\n"), 0o600))
	}
	write("a.md", "The review covered AACE-101.")
	write("b.md", "The review covered AACE-102.")
	write("c.md", "The review covered AACE-103.")
	first := t.TempDir()
	mustDocgraph(t, ingestArgs(first, append(neo, in)...)...)
	for i := range 3 { // raises b.md's version above the files a fresh stream numbers first
		write("b.md", fmt.Sprintf("Edit %d covered AACE-2%02d.", i, i))
		mustDocgraph(t, ingestArgs(first, append(neo, in)...)...)
	}

	write("b.md", "The final edit covered AACE-777.")
	require.NoError(t, os.Remove(filepath.Join(in, "c.md")))
	second := t.TempDir()
	mustDocgraph(t, ingestArgs(second, append(neo, in)...)...)
	export := func() string {
		return mustDocgraph(t, append([]string{"graph", "export", "--data", second, "--format", "json"}, neo...)...)
	}
	got := export()
	assert.Contains(t, got, `"key":"AACE-777"`, "the change made between the runs is in the graph")
	assert.NotContains(t, got, `"key":"AACE-202"`, "the first run's last version of b.md is replaced")

	// Nothing runs on the data directory: the next ingest processes what
	// reconcile publishes.
	mustDocgraph(t, append([]string{"reconcile", "--data", second, "--watch", in, "--fix"}, neo...)...)
	mustDocgraph(t, ingestArgs(second, append(neo, in)...)...)
	got = export()
	assert.NotContains(t, got, `"key":"c.md"`, "c.md, deleted between the runs, is gone")
	assert.Contains(t, got, `"key":"AACE-777"`)
}
