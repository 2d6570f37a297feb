package main

import (
	"io/fs"
	"path/filepath"
	"testing"

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
	mustDocgraph(t, ingestArgs(clean, in)...)
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
}
