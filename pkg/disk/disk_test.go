package disk_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/disk"
	"github.com/docgraph/docgraph/pkg/disk/disktest"
)

func TestFull(t *testing.T) {
	assert.False(t, disk.Full(nil))
	assert.False(t, disk.Full(errors.New("IO Error: No files found that match the pattern")))
	assert.False(t, disk.Full(fs.ErrPermission))
	assert.True(t, disk.Full(fmt.Errorf("copy: %w", &fs.PathError{Op: "write", Path: "/t/x", Err: syscall.ENOSPC})))
	assert.True(t, disk.Full(syscall.EDQUOT))
	assert.True(t, disk.Full(errors.New(`TransactionContext Error: Failed to commit: Could not write file "/d/graph.duckdb.wal": No space left on device`)))
	assert.True(t, disk.Full(errors.New("IO Error: Could not write file: Disk quota exceeded")))
}

// A write beyond a small disk's room fails as Full.
func TestSmallDiskFills(t *testing.T) {
	dir := disktest.Small(t, 1<<20)
	err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2<<20), 0o644)
	require.Error(t, err)
	assert.True(t, disk.Full(err), "%v", err)
}
