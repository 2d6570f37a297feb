package duckstore_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
)

// crashEnv names the graph file a child process writes and is killed on.
const crashEnv = "DOCGRAPH_TEST_DUCKSTORE_CRASH"

// crashChunk is the only chunk of path, whose content is sha, extracted
// at gazetteer revision rev with the people names mentioned.
func crashChunk(path, sha string, rev uint64, names ...string) graph.Op {
	var ms []graph.Node
	for _, n := range names {
		ms = append(ms, graph.Node{Label: "Person", Key: n})
	}
	return graph.Op{PutChunk: &event.Extraction{
		Chunk:    event.Chunk{Document: event.NewDocument(path, sha, 10, 1), Total: 1, Text: "text of " + path},
		Mentions: ms, GazetteerRevision: rev,
	}}
}

// After a process is killed without closing the graph, DuckDB replays its
// write-ahead log at the next open. What it replays must be found again:
// the chunk extracted again afterwards replaces its mentions, and a
// deleted document takes its mentions with it.
func TestMentionsAfterAKill(t *testing.T) {
	shaA, shaB := fmt.Sprintf("%064x", 1), fmt.Sprintf("%064x", 2)
	if path := os.Getenv(crashEnv); path != "" {
		s := openStore(t, path)
		require.NoError(t, s.Apply(t.Context(), []graph.Op{crashChunk("a.md", shaA, 1, "alice", "bob")}))
		for i := range 3 {
			require.NoError(t, s.Apply(t.Context(), []graph.Op{
				crashChunk(fmt.Sprintf("other-%d.md", i), fmt.Sprintf("%064x", 100+i), 1, "dave")}))
		}
		require.NoError(t, s.Apply(t.Context(), []graph.Op{crashChunk("b.md", shaB, 1, "erin")}))
		require.NoError(t, s.Apply(t.Context(), []graph.Op{crashChunk("a.md", shaA, 2, "bob", "carol")}))
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGKILL))
		select {} // the kill ends the process
	}
	path := filepath.Join(t.TempDir(), "graph.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestMentionsAfterAKill$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the child is killed:\n%s", out)
	require.FileExists(t, path+".wal", "the child left a write-ahead log to replay")

	// A start that replays the log, then a clean stop (a checkpoint).
	replayed, err := duckstore.Open(t.Context(), duckstore.Config{
		Path: path, Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes(), MemoryLimit: "256MB",
	})
	require.NoError(t, err)
	require.NoError(t, replayed.Close())

	s := openStore(t, path)
	require.NoError(t, s.Apply(t.Context(), []graph.Op{crashChunk("a.md", shaA, 3, "carol", "frank")}))
	require.NoError(t, s.Apply(t.Context(), []graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: "b.md", Version: 2}}}))

	ex, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	var mentioned, people []string
	for _, r := range ex.Relationships {
		if r.Type == graph.RelMentions && r.From.Key == event.ChunkKey(shaA, 0) {
			mentioned = append(mentioned, r.To.Key)
		}
	}
	for _, n := range ex.Nodes {
		if n.Label == "Person" {
			people = append(people, n.Key)
		}
	}
	assert.ElementsMatch(t, []string{"carol", "frank"}, mentioned, "the chunk's mentions are replaced, none twice")
	assert.ElementsMatch(t, []string{"carol", "dave", "frank"}, people, "alice, bob and erin are mentioned no more")
}
