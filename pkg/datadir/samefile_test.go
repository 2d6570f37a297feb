//go:build unix && !aix

package datadir

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A process that opened the lock file before another discarded the
// directory can lock it after: Acquire must see that the file it locked is
// no longer the directory's, and take the directory afresh.
func TestLockedFileRemovedByDiscard(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, FileName)
	l, err := Acquire(dir, Owner{Command: "up"})
	require.NoError(t, err)
	early, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, early.Close()) })
	require.True(t, sameFile(early, path))

	require.NoError(t, l.Discard())
	require.NoError(t, lockFile(early), "the removed file's lock is free")
	assert.False(t, sameFile(early, path))

	l, err = Acquire(dir, Owner{Command: "up"})
	require.NoError(t, err)
	assert.NoError(t, l.Close())
}
