package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// The summary names a file's first skipped rows, once each however often
// the file was parsed, and counts the rest.
func TestRejectedRowsSummary(t *testing.T) {
	r := newRejectedRows()
	row := func(line int) event.RowError {
		return event.RowError{Line: line, Column: "budget", Value: "TBD", Error: "not a number"}
	}
	r.add("projects.csv", []event.RowError{row(3), row(7)})
	r.add("projects.csv", []event.RowError{row(3), row(7)}) // parsed again
	r.add("projects.csv", []event.RowError{row(9), {Error: "5 fields, the header has 4"}})
	r.add("teams.csv", []event.RowError{row(2)})
	assert.Equal(t, `4 skipped (on_row_error: skip_row): line 3, column budget, value "TBD": not a number; `+
		`line 7, column budget, value "TBD": not a number; line 9, column budget, value "TBD": not a number; `+
		`and 1 more (see the log)`, describeSkipped(r.of("projects.csv")))
	assert.Equal(t, `1 skipped (on_row_error: skip_row): line 2, column budget, value "TBD": not a number`, describeSkipped(r.of("teams.csv")))
	assert.Empty(t, r.of("other.csv"))
	assert.Equal(t, "row: 5 fields, the header has 4", r.of("projects.csv")[3])
}

// Files of formats docgraph does not read, and what watch.ignore names,
// are skipped, not stored and dead-lettered: the ingest succeeds, its
// summary names the first of each reason and counts the rest, and
// reconcile expects none of them in the graph.
func TestIngestSkipsWhatDocgraphDoesNotRead(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(in, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	write("minutes.md", "Nora Bishop manages PRJ-1000.\n")
	write("archive/old.md", "Nora Bishop manages PRJ-2000.\n")
	write("logo.png", "\x89PNG\r\n\x1a\n\x00\x00")
	write("backup.zip", "PK\x03\x04")
	for i := range 12 {
		write(fmt.Sprintf("photos/p%02d.jpg", i), "\xff\xd8\xff")
	}
	out := mustDocgraph(t, ingestArgs(data, "--watch.ignore", "archive", in)...)
	assert.Contains(t, out, "1 new or changed, 0 unchanged, 0 deleted, 15 skipped, 0 failed")
	assert.Contains(t, out, "skipped archive: matches an ignore pattern: archive\n")
	assert.Contains(t, out, "skipped backup.zip: not a format docgraph reads: backup.zip\n")
	assert.Contains(t, out, "skipped photos/p07.jpg: not a format docgraph reads")
	assert.NotContains(t, out, "skipped photos/p08.jpg")
	assert.Contains(t, out, "skipped 4 more: not a format docgraph reads\n")

	assert.Equal(t, []string{"minutes.md"}, docNodes(exportGraph(t, data)))
	assert.Contains(t, mustDocgraph(t, "dlq", "list", "--data", data), "no dead letters")
	assert.Contains(t, mustDocgraph(t, "reconcile", "--watch", in, "--data", data, "--watch.ignore", "archive"),
		"0 missing, 0 stale, 0 orphaned")
}

// Progress shows while the folder is still being scanned: the files go in
// as the scan reaches them, so a large folder is not silent until its last
// file is stored. Every file is still waited for.
func TestIngestShowsProgressWhileScanning(t *testing.T) {
	old := progressEvery
	progressEvery = time.Millisecond
	t.Cleanup(func() { progressEvery = old })
	in, data := t.TempDir(), t.TempDir()
	writeDocs(t, in, 120)
	out, errOut, err := docgraph(t, "ingest", "--data", data, "--metrics-addr", "", in)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "ingested 120 files")
	var scanning []string
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "ingest: scanning, ") {
			scanning = append(scanning, l)
		}
	}
	require.NotEmpty(t, scanning, "no progress line during the scan:\n%s", errOut)
	assert.Regexp(t, `^ingest: scanning, \d+ files seen: \d+/\d+ files through the pipeline \(\d+s\): \d+ messages handled, \d+ waiting(; [\d.]+ files/s, \d+ messages/s)?$`, scanning[0])
	stats := mustDocgraph(t, "graph", "stats", "--data", data)
	assert.Regexp(t, `Document\s+120\b`, stats)
}

// A folder that held files and is found empty (a share not mounted) keeps
// its documents in the graph: ingest and reconcile --fix say so and fail,
// until watch.allow_empty says the files were deleted on purpose.
func TestAnEmptiedFolderKeepsItsDocuments(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "Nora Bishop manages PRJ-1000.\n")
	writeFile(t, filepath.Join(in, "b.md"), "Nora Bishop manages PRJ-2000.\n")
	mustDocgraph(t, ingestArgs(data, in)...)
	require.NoError(t, os.Remove(filepath.Join(in, "a.md")))
	require.NoError(t, os.Remove(filepath.Join(in, "b.md")))

	out, _, err := docgraph(t, ingestArgs(data, in)...)
	require.Error(t, err)
	assert.Contains(t, out, "held    "+in+": the folder is empty; the 2 files recorded for it stay in the graph (a share not mounted? if they were deleted on purpose, --watch.allow_empty withdraws them)")
	assert.Equal(t, []string{"a.md", "b.md"}, docNodes(exportGraph(t, data)))

	out, _, err = docgraph(t, "reconcile", "--watch", in, "--data", data, "--fix")
	require.Error(t, err)
	assert.Contains(t, out, "kept           a.md: the folder is empty (a share not mounted?); if its files were deleted on purpose, --watch.allow_empty withdraws them")
	assert.Contains(t, out, "0 deletions published, 0 left to the DLQ, 0 not fixed, 2 kept (the folder is empty)")
	assert.Equal(t, []string{"a.md", "b.md"}, docNodes(exportGraph(t, data)))

	mustDocgraph(t, ingestArgs(data, "--watch.allow_empty", in)...)
	assert.Empty(t, docNodes(exportGraph(t, data)))
}

// One file is one file in the summary.
func TestIngestSummaryOneFile(t *testing.T) {
	in := t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "# A\n\nAnn Lee reviewed AACE-101.\n")
	out := mustDocgraph(t, ingestArgs(t.TempDir(), in)...)
	assert.Contains(t, out, "ingested 1 file in ")
}

// 'ingest --watch DIR', up's way of naming the folder, says that ingest
// takes its folders as arguments; one file reconciled is one file.
func TestIngestWatchFlagAndOneFileReconciled(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "# A\n\nAnn Lee reviewed AACE-101.\n")
	_, _, err := docgraph(t, ingestArgs(data, "--watch", in)...)
	require.Error(t, err)
	assert.ErrorContains(t, err, "ingest: at least one folder or file required (ingest takes them as arguments: 'docgraph ingest "+in+"')")

	mustDocgraph(t, ingestArgs(data, in)...)
	out := mustDocgraph(t, "reconcile", "--data", data, "--nats.listen", "off", "--watch", in)
	assert.Contains(t, out, "reconciled 1 file with 1 document: 0 missing")
}

// The tracker counts the messages handled and those still waiting (emitted
// for files ingest published, not yet acked or dead-lettered): a large
// spreadsheet, one file of hundreds of messages, shows its progress.
func TestTrackerCountsMessages(t *testing.T) {
	tr := newTracker()
	tr.Emitted("other") // a file this ingest did not publish
	tr.expect("big", "teams.csv")
	for range 3 {
		tr.Emitted("big") // records messages of the file
	}
	tr.Finished(pipeline.Outcome{CorrelationID: "big", Result: pipeline.OutcomeAck}) // the file event
	tr.Finished(pipeline.Outcome{CorrelationID: "big", Result: pipeline.OutcomeAck})
	tr.Finished(pipeline.Outcome{CorrelationID: "big", Result: pipeline.OutcomeNak})
	tr.Finished(pipeline.Outcome{CorrelationID: "big", Stage: "graph-writer", Result: pipeline.OutcomeTerm, Err: errors.New("bad row")})
	tr.sealed()
	assert.Equal(t, ingestProgress{done: 0, total: 1, handled: 3, waiting: 1}, tr.progress())
	assert.False(t, tr.finished())
	tr.Finished(pipeline.Outcome{CorrelationID: "big", Result: pipeline.OutcomeAck})
	assert.Equal(t, ingestProgress{done: 1, total: 1, handled: 4}, tr.progress())
	assert.True(t, tr.finished())
	assert.Equal(t, []string{"graph-writer: bad row"}, tr.failures("big"))
}

// The pace in ingest's progress lines is measured over the last 30 s,
// and the time left is given once every file is published.
func TestProgressRates(t *testing.T) {
	var r progressRates
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	assert.Empty(t, r.add(at(0), ingestProgress{total: 100}, false), "no pace from one line")
	assert.Empty(t, r.add(at(0.5), ingestProgress{done: 1, total: 100, handled: 30}, false), "nor within a second")
	assert.Equal(t, "; 5.0 files/s, 150 messages/s", r.add(at(2), ingestProgress{done: 10, total: 200, handled: 300}, false),
		"no time left while files are still being published")
	assert.Equal(t, "; 5.0 files/s, 150 messages/s, about 36s left", r.add(at(4), ingestProgress{done: 20, total: 200, handled: 600}, true))
	// Lines older than the window no longer count: from 4 s to 40 s, 720
	// files more.
	for s := 7.0; s < 40; s += 3 {
		r.add(at(s), ingestProgress{done: 20 + int((s-4)*20), total: 2000, handled: 600}, true)
	}
	got := r.add(at(40), ingestProgress{done: 740, total: 2000, handled: 600}, true)
	assert.Equal(t, "; 20 files/s, 0 messages/s, about 1m3s left", got)
	assert.Equal(t, "; 20 files/s, 0 messages/s", r.add(at(43), ingestProgress{done: 800, total: 800, handled: 600}, true), "nothing left")
	assert.Equal(t, "; 18 files/s, 0 messages/s, about 1s left", r.add(at(46), ingestProgress{done: 800, total: 801, handled: 600}, true), "under a second reads as 1s")
}

// Given --metrics.addr, ingest serves what 'up' serves while it runs: a
// scrape taken once every file has passed the pipeline counts each
// stage's messages, and /readyz says ready. Without it, nothing listens.
func TestIngestServesMetricsWhenAsked(t *testing.T) {
	in := t.TempDir()
	writeDocs(t, in, 3)
	var metrics, ready string
	var scrapeErr error
	served := false
	ingestQuiet = func(ln net.Listener) {
		if ln == nil {
			return
		}
		served = true
		base := "http://" + ln.Addr().String()
		metrics, scrapeErr = httpGet(t.Context(), base+"/metrics")
		if scrapeErr == nil {
			ready, scrapeErr = httpGet(t.Context(), base+"/readyz")
		}
	}
	t.Cleanup(func() { ingestQuiet = nil })

	out, errOut, err := docgraph(t, "ingest", "--data", t.TempDir(), "--metrics.addr", "127.0.0.1:0", in)
	require.NoError(t, err, errOut)
	assert.Contains(t, out, "ingested 3 files")
	require.True(t, served, "no metrics listener")
	require.NoError(t, scrapeErr)
	assert.Equal(t, "ready\n", ready)
	for _, stage := range []string{"parser", "extractor", "graph-writer"} {
		assert.Regexp(t, `docgraph_pipeline_messages_total\{outcome="ack",stage="`+stage+`"\} [1-9]`, metrics)
	}

	served = false
	_, errOut, err = docgraph(t, "ingest", "--data", t.TempDir(), in)
	require.NoError(t, err, errOut)
	assert.False(t, served, "ingest serves metrics only when asked")
}
