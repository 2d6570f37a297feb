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

// argumentFolders writes folders a and b under root: a/x.md, a/sub/y.md,
// b/z.md, and in b files that are never documents (.x.md, sub/y.md~).
func argumentFolders(t *testing.T) (root, a, b string) {
	t.Helper()
	root = t.TempDir()
	a, b = filepath.Join(root, "a"), filepath.Join(root, "b")
	writeFile(t, filepath.Join(a, "x.md"), "Alice Smith manages PRJ-1001.\n")
	writeFile(t, filepath.Join(a, "sub/y.md"), "The review follows AACE-101.\n")
	writeFile(t, filepath.Join(b, ".x.md"), "hidden: never a document\n")
	writeFile(t, filepath.Join(b, "sub/y.md~"), "an editor's backup: never a document\n")
	writeFile(t, filepath.Join(b, "z.md"), "ISO 31000 applies.\n")
	return root, a, b
}

// Arguments that would give two files one Document key, or one file two,
// are refused before anything is published, naming the files.
func TestIngestRefusesArgumentsThatCollide(t *testing.T) {
	_, a, b := argumentFolders(t)
	writeFile(t, filepath.Join(b, "x.md"), "Bob Jones manages PRJ-1002.\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"same path in two folders", []string{a, b},
			a + "/x.md and " + b + `/x.md would both be document "x.md"`},
		{"two files of one name", []string{filepath.Join(a, "x.md"), filepath.Join(b, "x.md")},
			a + "/x.md and " + b + `/x.md would both be document "x.md"`},
		{"a file and a folder", []string{filepath.Join(a, "x.md"), b},
			a + "/x.md and " + b + `/x.md would both be document "x.md"`},
		{"folder inside folder", []string{a, filepath.Join(a, "sub")},
			"folder " + a + "/sub is inside folder " + a + ": its files would be ingested twice, under two keys"},
		{"file inside a subfolder", []string{filepath.Join(a, "sub", "y.md"), a},
			a + "/sub/y.md is inside folder " + a + ": it would be ingested twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			_, _, err := docgraph(t, ingestArgs(data, tt.args...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			entries, err := os.ReadDir(data)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing starts before the arguments are checked")
		})
	}
}

// Arguments that name the same files again are folded, and files that only
// share a name with an ignored file, or sit in different folders under
// different names, pass.
func TestIngestFoldsRepeatedArguments(t *testing.T) {
	root, a, b := argumentFolders(t)
	require.NoError(t, os.Symlink(a, filepath.Join(root, "a-link")))
	data := t.TempDir()

	out := mustDocgraph(t, ingestArgs(data, a, a+"/", filepath.Join(root, "a-link"), filepath.Join(a, "x.md"), filepath.Join(a, "x.md"), b)...)

	// Each file is scanned once: none counts as unchanged by a second scan.
	assert.Contains(t, out, "3 new or changed, 0 unchanged, 0 deleted, 2 skipped, 0 failed", out)
	assert.ElementsMatch(t, []string{"x.md", "sub/y.md", "z.md"}, docNodes(exportGraph(t, data)))
}
