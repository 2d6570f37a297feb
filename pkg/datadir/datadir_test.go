package datadir_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/datadir"
)

// TestMain lets the test binary hold a directory in a child process:
// with DATADIR_TEST_HOLD set it locks that directory, says so and waits.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DATADIR_TEST_HOLD"); dir != "" {
		if _, err := datadir.Acquire(dir, datadir.Owner{Command: "up", NATS: "nats://127.0.0.1:4222"}); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("held")
		select {}
	}
	os.Exit(m.Run())
}

func TestAcquireIsExclusive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := datadir.Acquire(dir, datadir.Owner{Command: "up", NATS: datadir.Off})
	require.NoError(t, err)
	assert.Equal(t, dir, l.Dir())

	_, err = datadir.Acquire(dir, datadir.Owner{Command: "status"})
	var inUse *datadir.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, dir, inUse.Dir)
	assert.Equal(t, datadir.Owner{PID: os.Getpid(), Command: "up", NATS: datadir.Off}, inUse.Owner)
	assert.EqualError(t, err, fmt.Sprintf("data dir %s is in use by docgraph up (pid %d): one process at a time can use it", dir, os.Getpid()))

	require.NoError(t, l.Record(datadir.Owner{Command: "up", NATS: "nats://127.0.0.1:4223"}))
	_, err = datadir.Acquire(dir, datadir.Owner{Command: "status"})
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, "nats://127.0.0.1:4223", inUse.Owner.NATS)

	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "a second close does nothing")
	l, err = datadir.Acquire(dir, datadir.Owner{Command: "status"})
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

func TestKilledOwnerLeavesNoLock(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DATADIR_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", line)

	_, err = datadir.Acquire(dir, datadir.Owner{Command: "ingest"})
	var inUse *datadir.InUseError
	require.ErrorAs(t, err, &inUse)
	assert.Equal(t, cmd.Process.Pid, inUse.Owner.PID)
	assert.Equal(t, "nats://127.0.0.1:4222", inUse.Owner.NATS)

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	l, err := datadir.Acquire(dir, datadir.Owner{Command: "ingest"})
	require.NoError(t, err, "the lock ends with its process")
	require.NoError(t, l.Close())
}

func TestUnreadableOwner(t *testing.T) {
	dir := t.TempDir()
	l, err := datadir.Acquire(dir, datadir.Owner{Command: "up"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	// An owner caught while writing its record is not named yet.
	require.NoError(t, os.WriteFile(filepath.Join(dir, datadir.FileName), []byte(`{"pid":4`), 0o640))
	_, err = datadir.Acquire(dir, datadir.Owner{Command: "status"})
	var inUse *datadir.InUseError
	require.True(t, errors.As(err, &inUse))
	assert.Equal(t, datadir.Owner{}, inUse.Owner)
	assert.Contains(t, err.Error(), "in use by another docgraph process")
}

// Discard removes a directory Acquire created, with the folders above it
// that it created, when it holds nothing but the lock file and empty
// folders (a process that failed at start); it leaves a directory that
// existed before, or that holds anything else, as Close does.
func TestDiscard(t *testing.T) {
	tests := []struct {
		name     string
		existed  bool
		files    []string // written in the directory before Discard
		wantGone bool
	}{
		{"created, empty folders only", false, nil, true},
		{"created, holding a file", false, []string{"nats/jetstream/$G/streams/S/meta.inf"}, false},
		{"created, holding a file at the top", false, []string{"graph.duckdb"}, false},
		{"existed", true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			top := filepath.Join(parent, "a")
			dir := filepath.Join(top, "b", "data")
			if tt.existed {
				require.NoError(t, os.MkdirAll(dir, 0o750))
			}
			l, err := datadir.Acquire(dir, datadir.Owner{Command: "up"})
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "nats", "jetstream"), 0o750))
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "tmp"), 0o750))
			for _, f := range tt.files {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o750))
				require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600))
			}

			require.NoError(t, l.Discard())
			if tt.wantGone {
				assert.NoDirExists(t, top)
				assert.DirExists(t, parent)
			} else {
				assert.FileExists(t, filepath.Join(dir, datadir.FileName))
				assert.DirExists(t, filepath.Join(dir, "nats", "jetstream"))
				for _, f := range tt.files {
					assert.FileExists(t, filepath.Join(dir, f))
				}
			}
			// Released either way.
			l, err = datadir.Acquire(dir, datadir.Owner{Command: "up"})
			require.NoError(t, err)
			require.NoError(t, l.Close())
		})
	}
}
