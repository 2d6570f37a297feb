package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/corpusgen"
)

// newGeneratedFixture is a corpusgen corpus of docs documents with the
// spreadsheets that name their people, projects and teams (so the graph
// writer fills the gazetteer and the extractors re-extract), and the
// export of a clean single-process ingest of it.
func newGeneratedFixture(t *testing.T, docs int) corpusFixture {
	t.Helper()
	in := t.TempDir()
	_, err := corpusgen.Generate(in, corpusgen.Options{Docs: docs, Seed: 7, DocBytes: 3000, Spreadsheets: true})
	require.NoError(t, err)
	files := 0
	require.NoError(t, filepath.WalkDir(in, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	}))
	clean := t.TempDir()
	mustDocgraph(t, append(ingestArgs(clean, in), smallChunks...)...)
	want := mustDocgraph(t, "graph", "export", "--data", clean, "--format", "json")
	require.Contains(t, want, `"Team"`, "the corpus has spreadsheets")
	return corpusFixture{in: in, files: files, want: want}
}

// TestScaleOutWithSpreadsheetsAndCrashes runs the scale-out deployment of
// the docs (two parsers, two extractors, one graph writer, a watcher, each
// its own process) over documents and the spreadsheets that name their
// people: a parser and an extractor are killed and restarted mid-flow, the
// graph writer is stopped and started again. The graph must be the one a
// single ingest gives, with every message accounted for.
func TestScaleOutWithSpreadsheetsAndCrashes(t *testing.T) {
	fx := newGeneratedFixture(t, multiDocs)
	n := startTestNATS(t)
	js := connect(t, n.url())
	d := newDeployment(t, n.url(), fx.in, "--graph.store", "duckdb")
	writer := d.start(bus.StageGraphWriter)
	parsers := []*worker{d.start(bus.StageParser), d.start(bus.StageParser)}
	extractors := []*worker{d.start(bus.StageExtractor), d.start(bus.StageExtractor)}
	for _, w := range d.workers {
		w.waitReady(t)
	}
	d.start(bus.StageWatcher)

	parsers[0].waitProcessed(t, 20)
	parsers[0].kill(t)
	extractors[0].waitProcessed(t, 100)
	extractors[0].kill(t)
	requireMidWork(t, js, "a parser and an extractor", fx.files)
	d.restart(parsers[0]).waitReady(t)
	d.restart(extractors[0]).waitReady(t)

	writer.waitProcessed(t, 200)
	writer.stop(t)
	d.restart(writer).waitReady(t)

	got := d.finish(js, fx.files)
	require.Equal(t, fx.want, got, "graph of the scale-out deployment")

	// The spreadsheets' names were re-extracted by one extractor for all:
	// no gazetteer revision by two.
	by := map[float64]int{}
	refreshes := 0
	for i, w := range d.workers {
		if w.stage != bus.StageExtractor {
			continue
		}
		for _, rec := range logRecords(w.log(), "gazetteer changed: chunks re-extracted") {
			refreshes++
			rev, _ := rec["revision"].(float64)
			if j, ok := by[rev]; ok {
				t.Errorf("extractor processes %d and %d both re-extracted revision %v", j, i, rev)
			}
			by[rev] = i
		}
	}
	t.Logf("re-extractions by revision (worker index): %v", by)
	assert.Positive(t, refreshes, "the names were re-extracted")

	// One document's correlation ID, from the watcher's log, is in the
	// log of a process of every stage that handled it.
	var cid string
	for _, w := range d.workers {
		if w.stage != bus.StageWatcher {
			continue
		}
		for line := range strings.Lines(w.log()) {
			var l struct {
				Msg, Path     string
				CorrelationID string `json:"correlation_id"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "file published" && strings.HasSuffix(l.Path, ".md") {
				cid = l.CorrelationID
				break
			}
		}
	}
	require.NotEmpty(t, cid, "the watcher logged a published document")
	for _, stage := range []string{bus.StageParser, bus.StageExtractor, bus.StageGraphWriter} {
		n := 0
		for _, w := range d.workers {
			if w.stage == stage {
				n += countLines(w.log(), `"stage":"`+stage+`"`, `"correlation_id":"`+cid+`"`)
			}
		}
		assert.Positive(t, n, "log lines of %s with correlation_id %s", stage, cid)
	}
}

// TestSecondEmbeddedGraphWriterRefused starts a second graph writer with
// an embedded graph of its own on the NATS of a running one (the error for
// a second one on the same --data says to give it another): it would take
// a share of the messages into a graph of its own, so it must refuse to
// start, naming the first. The first, killed and restarted on its own data,
// takes over its entry at once.
func TestSecondEmbeddedGraphWriterRefused(t *testing.T) {
	n := startTestNATS(t)
	d := newDeployment(t, n.url(), t.TempDir(), "--graph.store", "duckdb")
	first := d.start(bus.StageGraphWriter)
	first.waitReady(t)

	second := d.run(bus.StageGraphWriter, append([]string{"worker", bus.StageGraphWriter, "--nats", d.urls, "--data", t.TempDir()}, workerFlags()...))
	select {
	case err := <-second.done:
		second.done <- err
		require.Error(t, err, "the second graph writer exits with an error")
	case <-time.After(60 * time.Second):
		t.Fatalf("a second graph writer with its own embedded graph runs next to the first:\n%s", notable(second.log(), 20))
	}
	second.killed = true // gone: not a worker to wait for
	assert.Contains(t, second.log(), "another graph writer consumes this NATS")
	assert.Contains(t, second.log(), fmt.Sprintf("pid %d", first.cmd.Process.Pid))
	assert.NotContains(t, second.log(), `"msg":"all stages ready"`)

	first.kill(t)
	d.restart(first).waitReady(t)
}

// TestKilledParserLeavesNoTempFiles kills a parser while it holds the
// temporary copy of a large spreadsheet: the parser that starts next on
// the same data directory removes what the dead one left (a parser in a
// crash loop would otherwise fill the disk, e.g. the emptyDir of its pod,
// with a copy per crash).
func TestKilledParserLeavesNoTempFiles(t *testing.T) {
	in := t.TempDir()
	var b strings.Builder
	b.WriteString("member_name,project_code,team_name,role\n")
	for i := range 400_000 {
		fmt.Fprintf(&b, "Person %d,PRJ-%04d,Team %d,Engineer\n", i, i%9000+1000, i%50)
	}
	writeFiles(t, in, map[string]string{"teams.csv": b.String()})
	n := startTestNATS(t)
	d := newDeployment(t, n.url(), in)
	data := t.TempDir()
	args := append([]string{"worker", bus.StageParser, "--nats", d.urls, "--data", data}, workerFlags()...)
	parser := d.run(bus.StageParser, args)
	parser.waitReady(t)
	d.start(bus.StageWatcher)

	copies := func() []string {
		var found []string
		_ = filepath.WalkDir(filepath.Join(data, "tmp"), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() && strings.HasPrefix(e.Name(), "docgraph-parser-") {
				found = append(found, p)
			}
			return nil
		})
		return found
	}
	waitUntil(t, 60*time.Second, func() error {
		if len(copies()) == 0 {
			return fmt.Errorf("no temporary copy of teams.csv yet")
		}
		return nil
	})
	parser.kill(t)
	require.NotEmpty(t, copies(), "the killed parser left its copy")

	d.restart(parser).waitReady(t)
	waitUntil(t, 60*time.Second, func() error {
		if left := copies(); len(left) > 0 {
			return fmt.Errorf("temporary copies left by the killed parser: %v", left)
		}
		return nil
	})
}
