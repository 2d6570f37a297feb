package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/corpusgen"
)

// TestGeneratedCorpusInAnyOrder: on a generated corpus (names, projects
// and teams other than the sample's), the graph does not depend on the
// order in which its files arrive: documents before the spreadsheets that
// name their people, after them, or interleaved, give the graph that
// ingesting everything at once gives, byte for byte, and that graph holds
// the corpus's ground truth.
func TestGeneratedCorpusInAnyOrder(t *testing.T) {
	src := t.TempDir()
	gen, err := corpusgen.Generate(src, corpusgen.Options{
		Docs: 24, DocBytes: 2000, People: 14, Projects: 5, Teams: 3, Seed: 11, Spreadsheets: true,
	})
	require.NoError(t, err)

	// ingestAll ingests first's files (if any), then all, into a new data
	// directory (and the graph store that store names) and exports the
	// graph.
	ingestAll := func(t *testing.T, store []string, first func(rel string) bool) string {
		t.Helper()
		in, data := t.TempDir(), t.TempDir()
		if first != nil {
			copyTree(t, src, in, first)
			mustDocgraph(t, ingestArgs(data, append(store, in)...)...)
		}
		copyTree(t, src, in, func(string) bool { return true })
		out := mustDocgraph(t, ingestArgs(data, append(store, in)...)...)
		assert.Contains(t, out, "0 failed")
		return mustDocgraph(t, append([]string{"graph", "export", "--data", data, "--format", "json"}, store...)...)
	}
	want := ingestAll(t, nil, nil)
	ex := parseExport(t, []byte(want))
	counts := map[string]int{}
	for _, n := range ex.Nodes {
		counts[n.Label]++
	}
	for label, n := range gen.Nodes {
		assert.Equal(t, n, counts[label], "%s nodes", label)
	}
	mentions := map[string]bool{}
	for _, n := range ex.Nodes {
		if n.Label == "Document" {
			for _, m := range docMentions(ex, n.Key) {
				mentions[n.Key+" "+m] = true
			}
		}
	}
	assert.Len(t, mentions, gen.Mentions, "distinct (document, entity) mentions")

	docs := 0
	tests := []struct {
		name  string
		first func(rel string) bool
	}{
		{"documents first", func(rel string) bool { return !isSpreadsheet(rel) }},
		{"spreadsheets first", isSpreadsheet},
		{"interleaved", func(rel string) bool {
			if rel == "teams.csv" {
				return true
			}
			if isSpreadsheet(rel) {
				return false
			}
			docs++
			return docs%2 == 0
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ingestAll(t, nil, tt.first)
			if got != want {
				diffExports(t, parseExport(t, []byte(want)), parseExport(t, []byte(got)))
			}
		})
	}
	t.Run("neo4j, documents first", func(t *testing.T) {
		got := ingestAll(t, neo4jArgs(t), tests[0].first)
		if got != want {
			diffExports(t, parseExport(t, []byte(want)), parseExport(t, []byte(got)))
		}
	})

	// A person left out of a new version of the spreadsheets is forgotten
	// as if never named: the graph is that of the final files alone.
	t.Run("person removed", func(t *testing.T) {
		in, data := t.TempDir(), t.TempDir()
		copyTree(t, src, in, func(string) bool { return true })
		mustDocgraph(t, ingestArgs(data, in)...)
		teams := filepath.Join(in, "teams.csv")
		b, err := os.ReadFile(teams)
		require.NoError(t, err)
		lines := strings.SplitAfter(string(b), "\n")
		require.Greater(t, len(lines), 3)
		require.NoError(t, os.WriteFile(teams, []byte(strings.Join(append(lines[:1], lines[2:]...), "")), 0o644))
		mustDocgraph(t, ingestArgs(data, in)...)
		got := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")

		fresh := t.TempDir()
		copyTree(t, in, fresh, func(string) bool { return true })
		freshData := t.TempDir()
		mustDocgraph(t, ingestArgs(freshData, fresh)...)
		want := mustDocgraph(t, "graph", "export", "--data", freshData, "--format", "json")
		if got != want {
			diffExports(t, parseExport(t, []byte(want)), parseExport(t, []byte(got)))
		}
	})
}

// diffExports fails t naming what one export has that the other lacks.
func diffExports(t *testing.T, want, got exportJSON) {
	t.Helper()
	set := func(ex exportJSON) map[string]bool {
		out := map[string]bool{}
		for _, n := range ex.Nodes {
			out["node "+n.Label+" "+n.Key+" "+mustJSON(t, n.Properties)] = true
		}
		for _, r := range ex.Relationships {
			out["rel "+r.Type+" "+r.From.Label+":"+r.From.Key+" -> "+r.To.Label+":"+r.To.Key+" "+mustJSON(t, r.Properties)] = true
		}
		return out
	}
	requireSameSet(t, set(want), set(got), "graphs")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
