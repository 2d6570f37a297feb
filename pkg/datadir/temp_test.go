package datadir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/datadir"
)

// A process's temp directory outlives a kill (its lock does not): the next
// process to make one removes it, and leaves those of live processes.
func TestTempDirSweepsDeadProcesses(t *testing.T) {
	parent := t.TempDir()
	dead, err := datadir.TempDir(parent, datadir.Owner{Command: "dead"})
	require.NoError(t, err)
	left := filepath.Join(dead.Dir(), "docgraph-parser-1.csv")
	require.NoError(t, os.WriteFile(left, []byte("a,b\n"), 0o600))
	require.NoError(t, dead.Close()) // as a kill would: the lock goes, the files stay

	live, err := datadir.TempDir(parent, datadir.Owner{Command: "live"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = live.Close() })
	kept := filepath.Join(live.Dir(), "docgraph-parser-2.csv")
	require.NoError(t, os.WriteFile(kept, []byte("a,b\n"), 0o600))

	next, err := datadir.TempDir(parent, datadir.Owner{Command: "next"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = next.Close() })
	assert.NoDirExists(t, dead.Dir())
	assert.FileExists(t, kept)
	assert.DirExists(t, next.Dir())
	assert.NotEqual(t, live.Dir(), next.Dir())
}

// A directory whose lock file another process has just created, and not
// yet locked, is not a dead process's: a sweep that took it then would
// hold the lock the new process is about to take (which then fails to
// start, finding its own directory in use) or remove the directory under
// it.
func TestTempDirSweepSparesADirectoryBeingCreated(t *testing.T) {
	parent := t.TempDir()
	starting := filepath.Join(parent, "proc-4242-123")
	require.NoError(t, os.MkdirAll(starting, 0o750))
	// As Acquire leaves it between creating the lock file and locking it.
	require.NoError(t, os.WriteFile(filepath.Join(starting, datadir.FileName), nil, 0o640))

	l, err := datadir.TempDir(parent, datadir.Owner{Command: "other"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	assert.DirExists(t, starting)

	// Its process can still lock it.
	mine, err := datadir.Acquire(starting, datadir.Owner{Command: "starting"})
	require.NoError(t, err)
	require.NoError(t, mine.Close())
}
