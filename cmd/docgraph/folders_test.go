package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// twoFolders writes two folders of documents and returns them with the
// Document keys of both.
func twoFolders(t *testing.T) (a, b string, keys []string) {
	t.Helper()
	a, b = t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(a, "a1.md"), "# a1\n\nThe review follows AACE-101.\n")
	writeFile(t, filepath.Join(a, "sub/a2.md"), "# a2\n\nISO 31000 applies.\n")
	writeFile(t, filepath.Join(b, "b1.md"), "# b1\n\nThe estimate follows AACE-18R.\n")
	return a, b, []string{"a1.md", "sub/a2.md", "b1.md"}
}

// Folders ingested into one --data keep each other's documents, whether
// they are ingested one after the other or together.
func TestIngestSeveralFoldersIntoOneData(t *testing.T) {
	tests := []struct {
		name   string
		ingest func(t *testing.T, data, a, b string) (lastOut string)
	}{
		{"one after the other", func(t *testing.T, data, a, b string) string {
			mustDocgraph(t, ingestArgs(data, a)...)
			return mustDocgraph(t, ingestArgs(data, b)...)
		}},
		{"in one command", func(t *testing.T, data, a, b string) string {
			return mustDocgraph(t, ingestArgs(data, a, b)...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b, keys := twoFolders(t)
			data := t.TempDir()

			out := tt.ingest(t, data, a, b)

			assert.Contains(t, out, "0 deleted", out)
			assert.ElementsMatch(t, keys, docNodes(exportGraph(t, data)))
			// Each folder reconciles clean: the other's Documents are not
			// its orphans.
			out = mustDocgraph(t, reconcileArgs(data, b)...)
			assert.Empty(t, gapLines(out), out)
			realA, err := filepath.EvalSymlinks(a)
			require.NoError(t, err)
			assert.Contains(t, out, "note: 2 document(s) published from other folders ("+realA+")")
			// A folder's own scan still withdraws what left it.
			require.NoError(t, os.Remove(filepath.Join(a, "a1.md")))
			out = mustDocgraph(t, ingestArgs(data, a)...)
			assert.Contains(t, out, "1 deleted")
			assert.ElementsMatch(t, []string{"sub/a2.md", "b1.md"}, docNodes(exportGraph(t, data)))
		})
	}
}

// Following the README (ingest a folder, then watch another one on the
// same data) keeps the ingested documents.
func TestUpWatchingAnotherFolderKeepsIngestedDocuments(t *testing.T) {
	a, _, _ := twoFolders(t)
	inbox, data := t.TempDir(), t.TempDir()
	mustDocgraph(t, ingestArgs(data, a)...)

	p := startProc(t, "up", "--watch", inbox, "--data", data, "--metrics-addr", "", "--nats.listen", "off",
		"--log-format", "json", "--log-level", "info")
	p.waitLog(t, 60*time.Second, `"msg":"watching folder"`, 1)
	p.waitLog(t, 60*time.Second, `"msg":"all stages ready"`, 1)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err
		require.NoError(t, err, tail(p.log(), 20))
	case <-time.After(60 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}

	assert.NotContains(t, p.log(), `"msg":"file deleted"`)
	assert.Contains(t, p.log(), `"msg":"documents of other folders kept"`)
	out := mustDocgraph(t, ingestArgs(data, a)...)
	assert.Contains(t, out, "0 new or changed, 2 unchanged, 0 deleted")
	assert.ElementsMatch(t, []string{"a1.md", "sub/a2.md"}, docNodes(exportGraph(t, data)))
}
