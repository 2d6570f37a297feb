package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docgraph runs the command in-process and returns stdout and stderr.
func docgraph(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if strings.HasPrefix(k, "DOCGRAPH_") || strings.HasPrefix(k, "NEO4J_") {
			return "" // tests pass everything explicitly
		}
		return os.Getenv(k)
	}
	err := run(context.Background(), args, &out, &errb, getenv)
	return out.String(), errb.String(), err
}

func mustDocgraph(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := docgraph(t, args...)
	require.NoError(t, err, "docgraph %v\nstdout:\n%s\nstderr:\n%s", args, out, errOut)
	return out
}

func ingestArgs(data string, extra ...string) []string {
	return append([]string{"ingest", "--quiet", "--data", data, "--metrics-addr", "", "--extractor.refresh_delay", "50ms"}, extra...)
}

// emptyData returns a data directory of a docgraph that has ingested
// nothing: operator commands refuse a directory without docgraph data.
func emptyData(t testing.TB) string {
	t.Helper()
	data := t.TempDir()
	mustDocgraph(t, ingestArgs(data, t.TempDir())...)
	return data
}

func exportGraph(t testing.TB, data string) exportJSON {
	t.Helper()
	out := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")
	return parseExport(t, []byte(out))
}

// copyTree copies the files of src for which keep(rel) is true into dst.
func copyTree(t testing.TB, src, dst string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() || d.Type()&fs.ModeSymlink != 0 || !keep(filepath.ToSlash(rel)) {
			return nil
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	require.NoError(t, err)
}

var sampleSpreadsheets = map[string]bool{"projects.xlsx": true, "managers.xlsx": true, "teams.csv": true}

func isSpreadsheet(rel string) bool { return sampleSpreadsheets[rel] }

// gazetteerFile writes the known names of a corpus (its expected people,
// projects and teams) for --schemas.gazetteer.
func gazetteerFile(t testing.TB, exp expected) string {
	t.Helper()
	var entries []map[string]string
	for _, n := range exp.Nodes {
		switch n.Label {
		case "Person", "Project", "Team":
			name, _ := n.Properties["name"].(string)
			entries = append(entries, map[string]string{"label": n.Label, "key": n.Key, "name": name})
		}
	}
	data, err := json.Marshal(entries)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "gazetteer.json")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func TestIngestSampleDocumentsWithSeededGazetteer(t *testing.T) {
	exp := loadExpected(t, "sample")
	in := t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool { return !isSpreadsheet(rel) })
	data := t.TempDir()
	out := mustDocgraph(t, ingestArgs(data, "--schemas.gazetteer", gazetteerFile(t, exp), in)...)
	assert.Contains(t, out, "0 failed")
	checkGraph(t, exportGraph(t, data), exp, checkOpts{})
}

// TestIngestSampleInAnyOrder: the sample gives its expected graph whatever
// the order its files arrive in, on the embedded store and on Neo4j.
func TestIngestSampleInAnyOrder(t *testing.T) {
	sample := filepath.Join(corpusDir(t, "sample"), "input")
	exp := loadExpected(t, "sample")
	tests := []struct {
		name  string
		first func(rel string) bool
	}{
		{"whole corpus at once", func(string) bool { return true }},
		{"spreadsheets first", isSpreadsheet},
		{"documents first", func(rel string) bool { return !isSpreadsheet(rel) }},
		{"interleaved", func(rel string) bool {
			return rel == "teams.csv" || strings.HasPrefix(rel, "minutes/") || strings.HasPrefix(rel, "status/")
		}},
	}
	for _, store := range []string{"duckdb", "neo4j"} {
		for _, tt := range tests {
			t.Run(store+"/"+tt.name, func(t *testing.T) {
				var neo []string
				if store == "neo4j" {
					neo = neo4jArgs(t) // wiped empty
				}
				in, data := t.TempDir(), t.TempDir()
				copyTree(t, sample, in, tt.first)
				mustDocgraph(t, ingestArgs(data, append(neo, in)...)...)
				copyTree(t, sample, in, func(string) bool { return true })
				out := mustDocgraph(t, ingestArgs(data, append(neo, in)...)...)
				assert.Contains(t, out, "0 failed")
				got := mustDocgraph(t, append([]string{"graph", "export", "--data", data, "--format", "json"}, neo...)...)
				checkGraph(t, parseExport(t, []byte(got)), exp, checkOpts{structured: true})
			})
		}
	}
}

func TestIngestAgainChangesNothing(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	mustDocgraph(t, ingestArgs(data, in)...)
	before := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")

	out := mustDocgraph(t, ingestArgs(data, in)...)
	assert.Contains(t, out, "0 new or changed, 19 unchanged")
	after := mustDocgraph(t, "graph", "export", "--data", data, "--format", "json")
	assert.Equal(t, before, after)
}

func TestEditedAndDeletedFiles(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	sample := filepath.Join(corpusDir(t, "sample"), "input")
	copyTree(t, sample, in, func(string) bool { return true })
	mustDocgraph(t, ingestArgs(data, in)...)

	edited := "procedures/cost-estimate-classification.md"
	oldDoc := findNode(t, exportGraph(t, data), "Document", edited)
	require.NoError(t, os.WriteFile(filepath.Join(in, edited),
		[]byte("# Cost estimates\n\nThe new basis is ISO 31000. Nothing else remains.\n"), 0o644))
	deleted := "risks/risk-register-2024-02-28.txt"
	require.NoError(t, os.Remove(filepath.Join(in, deleted)))

	out := mustDocgraph(t, ingestArgs(data, in)...)
	assert.Contains(t, out, "1 new or changed")
	assert.Contains(t, out, "1 deleted")

	ex := exportGraph(t, data)
	newDoc := findNode(t, ex, "Document", edited)
	assert.NotEqual(t, oldDoc.Properties["sha256"], newDoc.Properties["sha256"])
	mentions := docMentions(ex, edited)
	assert.Equal(t, []string{"Procedure:ISO-31000"}, mentions, "the edited file's mentions are replaced")
	for _, n := range ex.Nodes {
		if n.Label == "Chunk" {
			assert.False(t, strings.HasPrefix(n.Key, oldDoc.Properties["sha256"].(string)), "old chunk %s left behind", n.Key)
		}
		assert.False(t, n.Label == "Document" && n.Key == deleted, "deleted document still in the graph")
	}
	assert.Empty(t, docMentions(ex, deleted))
}

func findNode(t testing.TB, ex exportJSON, label, key string) expNode {
	t.Helper()
	for _, n := range ex.Nodes {
		if n.Label == label && n.Key == key {
			return n
		}
	}
	t.Fatalf("no %s node %q", label, key)
	return expNode{}
}

func docMentions(ex exportJSON, doc string) []string {
	chunks := map[string]bool{}
	for _, r := range ex.Relationships {
		if r.Type == "HAS_CHUNK" && r.From.Key == doc {
			chunks[r.To.Key] = true
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range ex.Relationships {
		if r.Type == "MENTIONS" && chunks[r.From.Key] && !seen[r.To.Label+":"+r.To.Key] {
			seen[r.To.Label+":"+r.To.Key] = true
			out = append(out, r.To.Label+":"+r.To.Key)
		}
	}
	return out
}

func TestCorrelationIDInEveryStage(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(string) bool { return true })
	out, logs, err := docgraph(t, ingestArgs(data, "--log-format", "json", "--log-level", "debug", in)...)
	require.NoError(t, err, out)

	const file = "minutes/2024-02-14-steering-committee.md"
	var cid string
	stages := map[string]bool{}
	lines := readJSONLines(t, logs)
	for _, l := range lines {
		if l["path"] == file && l["correlation_id"] != nil && l["stage"] == "watcher" {
			cid = l["correlation_id"].(string)
		}
	}
	require.NotEmpty(t, cid, "the watcher logs the file with its correlation ID")
	for _, l := range lines {
		if l["correlation_id"] == cid {
			if s, ok := l["stage"].(string); ok {
				stages[s] = true
				if s != "watcher" {
					assert.NotEmpty(t, l["subject"], "line about a message names its subject: %v", l)
					assert.NotNil(t, l["stream_seq"], "line about a message has its stream sequence: %v", l)
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"watcher": true, "parser": true, "extractor": true, "graph-writer": true}, stages)
	assertStreamsCarry(t, data, file, cid)
}

func readJSONLines(t testing.TB, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

var _ = io.Discard

func TestIngestFileArgumentsAreKeyedByName(t *testing.T) {
	sample := filepath.Join(corpusDir(t, "sample"), "input")
	data := t.TempDir()
	out := mustDocgraph(t, ingestArgs(data, filepath.Join(sample, "minutes", "2024-02-14-steering-committee.md"),
		filepath.Join(sample, "people_notes.txt"))...)
	assert.Contains(t, out, "2 new or changed")
	assert.ElementsMatch(t, []string{"2024-02-14-steering-committee.md", "people_notes.txt"}, docNodes(exportGraph(t, data)))

	_, _, err := docgraph(t, ingestArgs(data, filepath.Join(sample, "no-such-file.md"))...)
	require.ErrorContains(t, err, "no-such-file.md")
}

// An .xlsx file the mapping does not name fails, under unmapped: document,
// with an error that says so and names the mapping.
func TestIngestUnmappedWorkbook(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(corpusDir(t, "sample"), "input"), in, func(rel string) bool { return rel == "managers.xlsx" })
	require.NoError(t, os.Rename(filepath.Join(in, "managers.xlsx"), filepath.Join(in, "budget.xlsx")))

	out, _, err := docgraph(t, ingestArgs(data, "--schemas.mapping", badMapping, "--parser.unmapped", "document", in)...)

	require.Equal(t, exitCode(1), err, out)
	assert.Contains(t, out, "failed  budget.xlsx: parser: budget.xlsx: spreadsheet not named by the structured mapping ("+
		badMapping+"); .xlsx files are read only through the mapping: add an entry, or set unmapped: skip")
}
