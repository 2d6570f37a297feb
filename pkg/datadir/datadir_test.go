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
