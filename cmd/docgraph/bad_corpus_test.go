package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badFile is one entry of the bad corpus' per-file expectations.
type badFile struct {
	Path          string   `json:"path"`
	Expect        string   `json:"expect"`
	ErrorMentions []string `json:"error_mentions"`
	RejectedLines []int    `json:"rejected_lines"`
}

func loadBadFiles(t testing.TB) []badFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t, "bad"), "expected.json"))
	require.NoError(t, err)
	var e struct {
		Files []badFile `json:"files"`
	}
	require.NoError(t, json.Unmarshal(data, &e))
	require.NotEmpty(t, e.Files)
	return e.Files
}

// copyBadCorpus copies the bad corpus' input into a fresh folder and makes
// outside-link.md what the corpus means it to be: a symlink to
// ../README.md, leaving the folder (the shared copy may hold it as a
// regular file naming its target).
func copyBadCorpus(t testing.TB) string {
	t.Helper()
	parent := t.TempDir()
	in := filepath.Join(parent, "input")
	copyTree(t, filepath.Join(corpusDir(t, "bad"), "input"), in, func(rel string) bool { return rel != "outside-link.md" })
	writeFile(t, filepath.Join(parent, "README.md"), "# Outside the ingested folder\n\nJasper Cruz manages PRJ-1412.\n")
	require.NoError(t, os.Symlink("../README.md", filepath.Join(in, "outside-link.md")))
	return in
}

const badMapping = "testdata/bad-mapping.yaml"

// summaryLine returns the summary's line about path ("failed  path: …" or
// "skipped path: …"), or "".
func summaryLine(out, path string) string {
	for _, l := range strings.Split(out, "\n") {
		for _, prefix := range []string{"failed  ", "skipped "} {
			if strings.HasPrefix(l, prefix+path+": ") {
				return l
			}
		}
	}
	return ""
}

func TestBadCorpusEndToEnd(t *testing.T) {
	files := loadBadFiles(t)
	exp := loadExpected(t, "bad")
	in, data := copyBadCorpus(t), t.TempDir()

	out, logs, err := docgraph(t, ingestArgs(data, "--schemas.mapping", badMapping, "--log-format", "json", in)...)
	require.Equal(t, exitCode(1), err, "ingest exits 1 when files failed\nstdout:\n%s\nstderr:\n%s", out, tail(logs, 30))
	assert.NotContains(t, logs, "panic")

	rejectedRows := map[string][]int{}
	for _, l := range readJSONLines(t, logs) {
		if l["msg"] == "row rejected" {
			file, _ := l["file"].(string)
			line, _ := l["line"].(float64)
			rejectedRows[file] = append(rejectedRows[file], int(line))
			assert.NotEmpty(t, l["err"], "a rejected row says why: %v", l)
		}
	}
	ex := exportGraph(t, data)
	docs := map[string]bool{}
	for _, n := range ex.Nodes {
		if n.Label == "Document" {
			docs[n.Key] = true
		}
	}
	for _, f := range files {
		t.Run(f.Path, func(t *testing.T) {
			line := summaryLine(out, f.Path)
			switch f.Expect {
			case "reject_file", "skip":
				require.NotEmpty(t, line, "the summary names %s\n%s", f.Path, out)
				want := "failed  "
				if f.Expect == "skip" {
					want = "skipped "
				}
				assert.True(t, strings.HasPrefix(line, want), line)
				for _, m := range f.ErrorMentions {
					assert.Contains(t, line, m)
				}
				assert.False(t, docs[f.Path], "no Document for a rejected or skipped file")
			case "reject_rows":
				assert.Empty(t, line, "a file with rejected rows is not a failed file")
				assert.Equal(t, f.RejectedLines, rejectedRows[f.Path], "each rejected line is reported with its file")
				rows := ""
				for _, l := range strings.Split(out, "\n") {
					if strings.HasPrefix(l, "rows    "+f.Path+": ") {
						rows = l
					}
				}
				require.NotEmpty(t, rows, "the summary names the rows skipped in %s\n%s", f.Path, out)
				assert.Contains(t, rows, fmt.Sprintf(": %d skipped (on_row_error: skip_row): line %d, ", len(f.RejectedLines), f.RejectedLines[0]))
				for _, n := range f.RejectedLines {
					assert.Contains(t, rows, fmt.Sprintf("line %d, ", n))
				}
				assert.True(t, docs[f.Path], "the file's good rows are in the graph")
			case "ingest":
				assert.Empty(t, line)
				assert.True(t, docs[f.Path], "Document for %s", f.Path)
			default:
				t.Fatalf("unknown expectation %q", f.Expect)
			}
		})
	}
	assert.Len(t, rejectedRows, 2, "rows are rejected only in the reject_rows files: %v", rejectedRows)
	skippedRows := 0
	for _, lines := range rejectedRows {
		skippedRows += len(lines)
	}
	assert.Contains(t, out, fmt.Sprintf(" failed; %d spreadsheet rows skipped\n", skippedRows), "the summary counts the skipped rows")

	// The valid parts are the ground truth: documents, mentions, structured
	// nodes and relationships (including the good rows of reject_rows
	// files), and nothing from rejected files or rows.
	checkGraph(t, ex, exp, checkOpts{structured: true})
	nodes := map[string]bool{}
	for _, n := range ex.Nodes {
		nodes[n.Label+":"+n.Key] = true
	}
	for _, raw := range exp.MustNotExist {
		var ref expRef
		require.NoError(t, json.Unmarshal(raw, &ref))
		assert.False(t, nodes[ref.Label+":"+ref.Key], "%s:%s comes only from rejected files or rows", ref.Label, ref.Key)
	}

	// The DLQ holds every rejected file with its error.
	dlqOut := mustDocgraph(t, "dlq", "list", "--json", "--data", data, "--nats.listen", "off")
	var dls []deadLetterJSON
	require.NoError(t, json.Unmarshal([]byte(dlqOut), &dls), dlqOut)
	byPath := map[string]deadLetterJSON{}
	for _, d := range dls {
		byPath[d.Path] = d
	}
	for _, f := range files {
		d, ok := byPath[f.Path]
		if f.Expect != "reject_file" {
			assert.False(t, ok, "%s is not dead-lettered", f.Path)
			continue
		}
		if assert.True(t, ok, "%s is dead-lettered", f.Path) {
			assert.Equal(t, "permanent", d.Class, f.Path)
			assert.Equal(t, 1, d.Attempts, "%s is not retried", f.Path)
			for _, m := range f.ErrorMentions {
				assert.Contains(t, d.Error, m)
			}
		}
	}

	// The system is still fine: a new file is ingested, nothing else moves;
	// the rejected files, unchanged, are still reported as failed, each with
	// its recorded error.
	writeFile(t, filepath.Join(in, "later.md"), "# Later\n\nThe estimate follows AACE-18R.\n\nISO 9001 applies.\n")
	out, _, err = docgraph(t, ingestArgs(data, "--schemas.mapping", badMapping, in)...)
	require.Equal(t, exitCode(1), err, "the rejected files still fail:\n%s", out)
	assert.Contains(t, out, "1 new or changed")
	assert.Contains(t, out, fmt.Sprintf("%d failed", len(dls)))
	for _, f := range files {
		line := summaryLine(out, f.Path)
		if f.Expect != "reject_file" {
			assert.False(t, strings.HasPrefix(line, "failed  "), line)
			continue
		}
		assert.True(t, strings.HasPrefix(line, "failed  "), "%s is reported again: %q", f.Path, line)
		for _, m := range f.ErrorMentions {
			assert.Contains(t, line, m)
		}
	}
	findNode(t, exportGraph(t, data), "Document", "later.md")
	assert.Len(t, listDeadLetters(t, data), len(dls), "no new dead letters")
}

func listDeadLetters(t testing.TB, data string) []deadLetterJSON {
	t.Helper()
	out := mustDocgraph(t, "dlq", "list", "--json", "--data", data, "--nats.listen", "off")
	var dls []deadLetterJSON
	require.NoError(t, json.Unmarshal([]byte(out), &dls), out)
	return dls
}
