package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A file whose new version cannot be read (emptied, corrupted) states
// nothing any more: what its earlier version stated is withdrawn, the
// failure is reported, and the fixed file restores it all.
func TestUnreadableVersionWithdrawsWhatTheFileStated(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	mustDocgraph(t, ingestArgs(data, in)...)
	before := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")
	ex := parseExport(t, []byte(before))
	require.Contains(t, docNodes(ex), "people_notes.txt")
	require.Contains(t, docNodes(ex), "procedures/change-control.docx")
	require.Positive(t, countRels(ex, "MEMBER_OF"), "teams.csv states the team memberships")

	originals := map[string][]byte{}
	broken := map[string][]byte{
		"people_notes.txt":               nil,                            // emptied
		"procedures/change-control.docx": []byte("PK\x03\x04 not a zip"), // corrupted
		"teams.csv":                      nil,                            // emptied: no header
	}
	for rel, b := range broken {
		p := filepath.Join(in, filepath.FromSlash(rel))
		orig, err := os.ReadFile(p)
		require.NoError(t, err)
		originals[rel] = orig
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	out, errOut, err := docgraph(t, ingestArgs(data, in)...)
	require.Error(t, err, "the unreadable files are reported\n%s%s", out, errOut)

	ex = parseExport(t, []byte(mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")))
	assert.NotContains(t, docNodes(ex), "people_notes.txt")
	assert.NotContains(t, docNodes(ex), "procedures/change-control.docx")
	assert.Contains(t, docNodes(ex), "teams_overview.md", "other documents stay")
	assert.Zero(t, countRels(ex, "MEMBER_OF"), "what teams.csv stated is withdrawn")
	for _, r := range ex.Relationships {
		if r.Type == "HAS_CHUNK" {
			assert.NotContains(t, []string{"people_notes.txt", "procedures/change-control.docx"}, r.From.Key)
		}
	}

	for rel, b := range originals {
		require.NoError(t, os.WriteFile(filepath.Join(in, filepath.FromSlash(rel)), b, 0o644))
	}
	mustDocgraph(t, ingestArgs(data, in)...)
	assert.JSONEq(t, before, mustDocgraph(t, "graph", "export", "--data", data, "--format", "json"), "the fixed files restore the graph")
}

func countRels(ex exportJSON, typ string) int {
	n := 0
	for _, r := range ex.Relationships {
		if r.Type == typ {
			n++
		}
	}
	return n
}
