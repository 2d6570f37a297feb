package duckstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/docgraph/docgraph/pkg/disk/disktest"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/testwait"
)

const reopenedMsg = "graph reopened after a fatal error"

func TestInvalidated(t *testing.T) {
	tests := []struct {
		name string
		give error
		want bool
	}{
		{name: "nil", give: nil, want: false},
		{name: "fatal", give: &duckdb.Error{Type: duckdb.ErrorTypeFatal,
			Msg: `FATAL Error: Failed to create checkpoint because of error: Could not write file "/d/graph.duckdb": No space left on device`}, want: true},
		{name: "fatal, wrapped", give: fmt.Errorf("graph apply: commit: %w", &duckdb.Error{Type: duckdb.ErrorTypeFatal, Msg: "FATAL Error: oh no"}), want: true},
		{name: "invalidated, said in text only", give: errors.New("FATAL Error: Failed: database has been invalidated because of a previous fatal error. " +
			"The database must be restarted prior to being used again."), want: true},
		{name: "a full disk's failed commit", give: &duckdb.Error{Type: duckdb.ErrorTypeTransaction,
			Msg: `TransactionContext Error: Failed to commit: Could not write file "/d/graph.duckdb.wal": No space left on device`}, want: false},
		{name: "io", give: &duckdb.Error{Type: duckdb.ErrorTypeIO, Msg: "IO Error: Cannot open file"}, want: false},
		{name: "constraint", give: &duckdb.Error{Type: duckdb.ErrorTypeConstraint, Msg: "Constraint Error: Duplicate key"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, invalidated(tt.give))
		})
	}
}

// openLogged opens the graph file at path, logging into logs.
func openLogged(t *testing.T, path string, logs *bytes.Buffer) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{Path: path, Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes(),
		MemoryLimit: "256MB", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// fillDisk fills the file system at dir but for 64KiB, and returns the
// filler's path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	var st unix.Statfs_t
	require.NoError(t, unix.Statfs(dir, &st))
	filler := filepath.Join(dir, "filler")
	require.NoError(t, os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-64<<10), 0o644))
	return filler
}

// invalidate makes DuckDB invalidate s's database: with the disk full,
// the next commit checkpoints (as one that crosses checkpoint_threshold
// does), the checkpoint fails, and that is a fatal error. It returns the
// filler to remove to make room again.
func invalidate(t *testing.T, s *Store, disk string) string {
	t.Helper()
	filler := fillDisk(t, disk)
	_, err := s.db.ExecContext(t.Context(), "SET checkpoint_threshold = '1B'")
	require.NoError(t, err)
	return filler
}

// applyUntilUnavailable applies batches in order until one fails as
// unavailable, and returns its index and error: DuckDB may find room for a
// checkpoint or two in its file's free blocks before one fails.
func applyUntilUnavailable(t *testing.T, s *Store, batches [][]graph.Op) (int, error) {
	t.Helper()
	for i, b := range batches {
		if err := s.Apply(t.Context(), b); err != nil {
			require.ErrorIs(t, err, graph.ErrUnavailable)
			return i, err
		}
	}
	t.Fatal("every batch was written on a full disk")
	return 0, nil
}

func collect(t *testing.T, s graph.Store) graphtest.Export {
	t.Helper()
	e, err := graphtest.Collect(t.Context(), s)
	require.NoError(t, err)
	return e
}

// reference is the graph the batches make on a store that never fails.
func reference(t *testing.T, batches [][]graph.Op) graphtest.Export {
	t.Helper()
	s, err := Open(t.Context(), Config{Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes()})
	require.NoError(t, err)
	defer s.Close()
	for _, b := range batches {
		require.NoError(t, s.Apply(t.Context(), b))
	}
	return collect(t, s)
}

// After DuckDB invalidated the database (a checkpoint that failed on a
// full disk), the store reopens its file: what was committed is there,
// nothing of the failed batch is, and once there is room the batch
// redelivered and the ones after it are written, each exactly once.
func TestApplyReopensAfterFatalError(t *testing.T) {
	disk := disktest.Small(t, 32<<20)
	path := filepath.Join(disk, "graph.duckdb")
	var logs bytes.Buffer
	s := openLogged(t, path, &logs)
	batches := slices.Collect(slices.Chunk(graphtest.BenchChunkOps(20, 1), 20))
	const first = 4
	for _, b := range batches[:first] {
		require.NoError(t, s.Apply(t.Context(), b))
	}

	filler := invalidate(t, s, disk)
	n, err := applyUntilUnavailable(t, s, batches[first:])
	failing := first + n
	require.True(t, invalidated(err), "a fatal error: %v", err)
	assert.ErrorContains(t, err, "No space left on device")
	assert.Equal(t, reference(t, batches[:failing]), collect(t, s), "reopened at once, without the failed batch")
	assert.Equal(t, 1, strings.Count(logs.String(), reopenedMsg), logs.String())

	require.NoError(t, os.Remove(filler))
	for _, b := range batches[failing:] {
		require.NoError(t, s.Apply(t.Context(), b))
	}
	want := reference(t, batches)
	assert.Equal(t, want, collect(t, s))
	assert.Equal(t, 1, strings.Count(logs.String(), reopenedMsg), "logged once")

	require.NoError(t, s.Close())
	s = openLogged(t, path, &logs)
	assert.Equal(t, want, collect(t, s), "in the file")
}

// When the file cannot be opened again at once, reads fail as
// unavailable, and each Apply tries once more before it writes, until one
// succeeds.
func TestApplyRetriesAFailedReopen(t *testing.T) {
	disk := disktest.Small(t, 32<<20)
	path := filepath.Join(disk, "graph.duckdb")
	var logs bytes.Buffer
	s := openLogged(t, path, &logs)
	batches := slices.Collect(slices.Chunk(graphtest.BenchChunkOps(10, 1), 20))
	require.NoError(t, s.Apply(t.Context(), batches[0]))

	filler := invalidate(t, s, disk)
	s.path = filepath.Join(disk, "missing", "graph.duckdb") // cannot be created
	n, err := applyUntilUnavailable(t, s, batches[1:])
	failing := 1 + n
	assert.ErrorContains(t, err, "reopen graph")
	_, err = s.Stats(t.Context())
	require.ErrorIs(t, err, graph.ErrUnavailable)
	assert.ErrorContains(t, err, "No space left on device", "names the fatal error")
	_, err = s.Documents(t.Context())
	require.ErrorIs(t, err, graph.ErrUnavailable)
	require.ErrorIs(t, s.Export(t.Context(), nil, nil), graph.ErrUnavailable)
	require.ErrorIs(t, s.Ping(t.Context()), graph.ErrUnavailable)

	err = s.Apply(t.Context(), batches[failing])
	require.ErrorIs(t, err, graph.ErrUnavailable)
	assert.ErrorContains(t, err, "reopen graph")
	assert.NotContains(t, logs.String(), reopenedMsg)

	s.path = path
	require.NoError(t, os.Remove(filler))
	for _, b := range batches[failing:] {
		require.NoError(t, s.Apply(t.Context(), b))
	}
	assert.Equal(t, reference(t, batches), collect(t, s))
	assert.Equal(t, 1, strings.Count(logs.String(), reopenedMsg), logs.String())
}

// Reads that run while the database is invalidated and reopened fail or
// succeed, and never run on a closed database.
func TestReadsDuringReopen(t *testing.T) {
	disk := disktest.Small(t, 32<<20)
	var logs bytes.Buffer
	s := openLogged(t, filepath.Join(disk, "graph.duckdb"), &logs)
	batches := slices.Collect(slices.Chunk(graphtest.BenchChunkOps(10, 1), 20))
	require.NoError(t, s.Apply(t.Context(), batches[0]))

	stop := make(chan struct{})
	errs := make(chan error, 64)
	var wg sync.WaitGroup
	reads := []func() error{
		func() error { return s.Ping(t.Context()) },
		func() error { _, err := s.Stats(t.Context()); return err },
		func() error { _, err := s.Documents(t.Context()); return err },
		func() error { _, err := graphtest.Collect(t.Context(), s); return err },
	}
	succeeded := make([]atomic.Int64, len(reads))
	for i, read := range reads {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				switch err := read(); {
				case err == nil:
					succeeded[i].Add(1)
				case !invalidated(err) && !errors.Is(err, graph.ErrUnavailable):
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	filler := invalidate(t, s, disk)
	n, _ := applyUntilUnavailable(t, s, batches[1:])
	failing := 1 + n
	require.NoError(t, os.Remove(filler))
	require.NoError(t, s.Apply(t.Context(), batches[failing]))
	before := make([]int64, len(reads))
	for i := range succeeded {
		before[i] = succeeded[i].Load()
	}
	testwait.Until(t, 10*time.Second, func() error {
		for i := range succeeded {
			if succeeded[i].Load() == before[i] {
				return fmt.Errorf("read %d has not succeeded since the reopen", i)
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("read: %v", err)
	}
	assert.Equal(t, reference(t, batches[:failing+1]), collect(t, s))
}

// An Apply interrupted by its context (the graph writer's handler timeout,
// a shutdown) can leave database/sql's connection closed: the next Apply
// writes on a new one rather than fail, every batch after it, for good.
func TestApplyAfterAnInterruptedApply(t *testing.T) {
	var logs bytes.Buffer
	s := openLogged(t, filepath.Join(t.TempDir(), "graph.duckdb"), &logs)
	ops := graphtest.BenchChunkOps(300, 1)
	closed := false
	for wait := time.Millisecond; wait < 10*time.Second && !closed; wait *= 2 {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		err := s.Apply(ctx, ops)
		cancel()
		if err == nil {
			break // written whole before the deadline
		}
		closed = errors.Is(s.wconn.Raw(func(any) error { return nil }), sql.ErrConnDone)
	}
	require.True(t, closed, "no interrupted Apply closed the connection")
	require.NoError(t, s.Apply(t.Context(), ops[:28]))
	require.NoError(t, s.Apply(t.Context(), ops))
	assert.Equal(t, reference(t, [][]graph.Op{ops}), collect(t, s))
}
