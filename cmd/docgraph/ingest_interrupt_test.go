package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cancelOnLog cancels once n log lines held substr.
type cancelOnLog struct {
	substr string
	n      int
	cancel context.CancelFunc
}

func (w *cancelOnLog) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.substr)) {
		if w.n--; w.n == 0 {
			w.cancel()
		}
	}
	return len(p), nil
}

// TestIngestInterruptedWhileScanningDeadLettersNothing: an interrupt while
// ingest still scans the folder, with the graph writer busy with the files
// published so far, stops the stages before the graph store is closed: no
// good file is dead-lettered for a closed store ("sql: connection is
// already closed"), to be reported as failed by every later ingest.
func TestIngestInterruptedWhileScanningDeadLettersNothing(t *testing.T) {
	in := t.TempDir()
	// Folders of a large text (thousands of chunks to extract and write)
	// and a spreadsheet: the scan goes on while the graph writer, which
	// waits long for a full batch, holds records to write.
	big := strings.Repeat("Ann Lee reviewed AACE-101 today. ", 100_000) // 3.3 MB
	for i := range 10 {
		var b strings.Builder
		b.WriteString("team_name,member_name,role,project_code\n")
		for j := range 50 {
			fmt.Fprintf(&b, "Team %d,Person %d %d,Member,PRJ-%04d\n", i, i, j, j)
		}
		writeFile(t, filepath.Join(in, fmt.Sprintf("d%02d", i), "h.txt"), big)
		writeFile(t, filepath.Join(in, fmt.Sprintf("d%02d", i), "teams.csv"), b.String())
	}
	// Whether a handler is still at work when the stages are stopped is a
	// matter of timing: three interrupts make the difference plain.
	for range 3 {
		data := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		var out bytes.Buffer
		getenv := func(string) string { return "" }
		args := ingestArgs(data, "--log-level", "info", "--graph.max_latency", "5s",
			"--graph.batch_small", "8000", "--graph.batch_medium", "8000", "--graph.batch_large", "8000", in)
		err := run(ctx, args, &out, &cancelOnLog{`"msg":"file published"`, 14, cancel}, getenv)
		cancel()
		require.ErrorContains(t, err, "context canceled")

		dlq := mustDocgraph(t, "dlq", "list", "--data", data, "--nats.listen", "off", "--stage", "graph-writer")
		assert.Contains(t, dlq, "no dead letters")
	}
}

// An interrupt while the folder is scanned says so, as one after the scan
// does, rather than naming the scan that was cancelled.
func TestIngestInterruptedWhileScanningSaysSo(t *testing.T) {
	in := t.TempDir()
	for i := range 300 {
		writeFile(t, filepath.Join(in, fmt.Sprintf("d%d", i%3), fmt.Sprintf("n%03d.md", i)), fmt.Sprintf("# Note %d\n\nAnn Lee reviewed AACE-101.\n", i))
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out bytes.Buffer
	getenv := func(string) string { return "" }
	err := run(ctx, ingestArgs(t.TempDir(), "--log-level", "info", in), &out, &cancelOnLog{`"msg":"file published"`, 5, cancel}, getenv)
	require.Error(t, err)
	assert.ErrorContains(t, err, "ingest interrupted")
	assert.ErrorContains(t, err, "run it again to finish")
	assert.NotContains(t, err.Error(), "scan "+in+":")
}
