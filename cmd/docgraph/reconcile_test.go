package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/watcher"
)

// testConfig loads the configuration the command would for args.
func testConfig(t testing.TB, args ...string) config.Config {
	t.Helper()
	e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	cfg, _, err := parseFlags(e, "test", "", "", args, nil)
	require.NoError(t, err)
	return cfg
}

func reconcileArgs(data, dir string, extra ...string) []string {
	return append([]string{"reconcile", "--watch", dir, "--data", data, "--nats.listen", "off"}, extra...)
}

// gapLines returns the "kind path" of every gap line of reconcile's output.
func gapLines(out string) []string {
	var got []string
	for _, l := range strings.Split(out, "\n") {
		kind, rest, ok := strings.Cut(l, " ")
		if !ok || !slices.Contains([]string{gapMissing, gapStale, gapOrphaned, gapDeadLettered}, kind) {
			continue
		}
		p, _, _ := strings.Cut(strings.TrimSpace(rest), ": ")
		got = append(got, kind+" "+p)
	}
	sort.Strings(got)
	return got
}

func writeFile(t testing.TB, p, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
}

func TestReconcileReportsAndFixesGaps(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	for _, name := range []string{"a.md", "b.md", "c.md", "sub/d.md"} {
		writeFile(t, filepath.Join(in, name), "# "+name+"\n\nThe review follows AACE-101 and ISO 31000.\n")
	}
	writeFile(t, filepath.Join(in, "empty.txt"), "")
	// Not expected in the graph: hidden, editor, and a link leaving the folder.
	writeFile(t, filepath.Join(in, ".hidden.md"), "hidden\n")
	writeFile(t, filepath.Join(in, ".git", "config.md"), "hidden folder\n")
	writeFile(t, filepath.Join(in, "draft.md~"), "backup\n")
	outside := filepath.Join(t.TempDir(), "outside.md")
	writeFile(t, outside, "outside\n")
	require.NoError(t, os.Symlink(outside, filepath.Join(in, "link.md")))

	out, _, err := docgraph(t, ingestArgs(data, in)...)
	require.Equal(t, exitCode(1), err, "empty.txt fails:\n%s", out)
	require.Contains(t, out, "5 new or changed")

	out, _, err = docgraph(t, reconcileArgs(data, in)...)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"dead-lettered empty.txt"}, gapLines(out))
	assert.Contains(t, out, "reconciled 5 files with 4 documents: 0 missing, 0 stale, 0 orphaned, 1 dead-lettered")
	assert.Regexp(t, `dead-lettered  empty\.txt: parser: .*empty.*dead letter \d+`, out, "the dead letter's error explains the gap")

	// Gaps behind the pipeline's back: a file never ingested, a file
	// changed, a file removed, a Document removed from the graph and a
	// Document for a file that never existed here.
	writeFile(t, filepath.Join(in, "extra.md"), "# Extra\n\nAACE-202 applies.\n")
	writeFile(t, filepath.Join(in, "b.md"), "# b changed\n\nISO 9001 now.\n")
	require.NoError(t, os.Remove(filepath.Join(in, "c.md")))
	cfg := testConfig(t, "--data", data)
	st, err := openStore(t.Context(), cfg, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	ghost := event.NewDocument("ghost.md", strings.Repeat("ab", 32), 10, 1)
	require.NoError(t, st.Apply(t.Context(), []graph.Op{
		// Versions are files stream sequences; the first ingest published 5.
		{DeleteDocument: &event.DocumentDeleted{Path: "sub/d.md", Version: 5}},
		{PutChunk: &event.Extraction{Chunk: event.Chunk{Document: ghost, Index: 0, Total: 1, Text: "ghost"}}},
	}))
	require.NoError(t, st.Close())
	// Its bytes are gone from the object store too, though the object is
	// still listed (what an upload that failed mid-way leaves): the fix
	// stores them again.
	dBytes, err := os.ReadFile(filepath.Join(in, "sub", "d.md"))
	require.NoError(t, err)
	withSystem(t, data, func(s *system) {
		objects, err := s.js.ObjectStore(t.Context(), bus.BucketFiles)
		require.NoError(t, err)
		info, err := objects.GetInfo(t.Context(), "sub/d.md@"+sha256Hex(dBytes))
		require.NoError(t, err)
		stream, err := s.js.Stream(t.Context(), "OBJ_"+bus.BucketFiles)
		require.NoError(t, err)
		require.NoError(t, stream.Purge(t.Context(), jetstream.WithPurgeSubject("$O."+bus.BucketFiles+".C."+info.NUID)))
	})

	want := []string{
		"dead-lettered empty.txt", "missing extra.md", "missing sub/d.md",
		"orphaned c.md", "orphaned ghost.md", "stale b.md",
	}
	out, _, err = docgraph(t, reconcileArgs(data, in)...)
	require.Equal(t, exitCode(1), err, out)
	assert.Equal(t, want, gapLines(out), out)
	assert.Contains(t, out, "reconciled 5 files with 4 documents: 2 missing, 1 stale, 2 orphaned, 1 dead-lettered")

	out, errOut, err := docgraph(t, reconcileArgs(data, in, "--fix")...)
	require.NoError(t, err, "%s\n%s", out, errOut)
	for _, line := range []string{
		"published      extra.md", "published      b.md", "republished    sub/d.md",
		"deleted        c.md", "deleted        ghost.md", "left           empty.txt",
		"fix: 3 published, 2 deletions published, 1 left to the DLQ, 0 not fixed",
	} {
		assert.Contains(t, out, line)
	}
	assert.Contains(t, errOut, "no docgraph is running", "says the stages process the fix when they run")
	withSystem(t, data, func(s *system) {
		objects, err := s.js.ObjectStore(t.Context(), bus.BucketFiles)
		require.NoError(t, err)
		info, err := objects.GetInfo(t.Context(), "sub/d.md@"+sha256Hex(dBytes))
		require.NoError(t, err)
		complete, err := bus.ObjectComplete(t.Context(), s.js, info)
		require.NoError(t, err)
		require.True(t, complete, "the fix stored the bytes of sub/d.md again")
	})

	// Nothing processed yet: the gaps are still there, with a note.
	out, _, err = docgraph(t, reconcileArgs(data, in)...)
	require.Equal(t, exitCode(1), err, out)
	assert.Equal(t, want, gapLines(out))
	assert.Contains(t, out, "still pending or in flight")

	out, _, err = docgraph(t, ingestArgs(data, in)...)
	require.Equal(t, exitCode(1), err, "empty.txt is still dead-lettered:\n%s", out)
	assert.Contains(t, out, "0 new or changed", "the fix told the watcher's state; ingest publishes nothing again")
	assert.Contains(t, out, "failed  empty.txt: parser: empty.txt: empty")

	out, _, err = docgraph(t, reconcileArgs(data, in)...)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"dead-lettered empty.txt"}, gapLines(out))
	assert.Contains(t, out, "0 missing, 0 stale, 0 orphaned, 1 dead-lettered")
	assert.NotContains(t, out, "in flight")
	ex := exportGraph(t, data)
	findNode(t, ex, "Document", "sub/d.md")
	findNode(t, ex, "Document", "extra.md")
	for _, n := range ex.Nodes {
		assert.False(t, n.Label == "Document" && (n.Key == "ghost.md" || n.Key == "c.md"), "orphan %s left", n.Key)
	}

	// A fix with nothing to fix changes nothing.
	out = mustDocgraph(t, reconcileArgs(data, in, "--fix")...)
	assert.Contains(t, out, "nothing to fix")
}

// The folder rules of reconcile are the watcher's: it expects exactly the
// files a watcher scan publishes.
func TestReconcileExpectsWhatTheWatcherPublishes(t *testing.T) {
	in := t.TempDir()
	for _, name := range []string{
		"a.md", "deep/b.txt", ".hidden.md", ".hid/c.md", "d.md~", "e.swp", "~$f.docx", "g.part", "h.tmp",
		".#i.md", "j.crdownload", "big.txt", "table.csv", "k\xff.md", "l\x84/m.md", "#n.md#",
	} {
		content := "text\n"
		if name == "big.txt" {
			content = strings.Repeat("x", 2048)
		}
		writeFile(t, filepath.Join(in, name), content)
	}
	outside := filepath.Join(t.TempDir(), "out.md")
	writeFile(t, outside, "outside\n")
	require.NoError(t, os.Symlink(outside, filepath.Join(in, "out-link.md")))
	require.NoError(t, os.Symlink(filepath.Join(in, "a.md"), filepath.Join(in, "in-link.md")))
	require.NoError(t, os.Symlink(filepath.Join(in, "missing.md"), filepath.Join(in, "broken-link.md")))
	require.NoError(t, os.Symlink(filepath.Join(in, "deep"), filepath.Join(in, "dir-link")))
	root, err := resolveRoot(in)
	require.NoError(t, err)

	data := filepath.Join(in, "data")
	writeFile(t, filepath.Join(data, "nats", "store.blk"), "docgraph's own data\n")
	cfg := testConfig(t, "--watch.max_file_size", "1KiB", "--data", data)
	_, m, err := loadSchemas(cfg)
	require.NoError(t, err)
	files, problems := folderFiles(root, cfg, m)
	require.Empty(t, problems)

	_, _, js := bustest.Provisioned(t)
	w, err := watcher.New(watcher.Config{Root: in, MaxFileSize: 1024, Exclude: []string{data}}, js, logging.Discard(), nil)
	require.NoError(t, err)
	rep, err := w.Scan(t.Context())
	require.NoError(t, err)
	var published []string
	for _, r := range rep.Results {
		if r.Outcome == watcher.Published {
			published = append(published, r.Path)
			assert.Equal(t, r.SHA256, files[r.Path].sha, r.Path)
		}
	}
	var got []string
	for p := range files {
		got = append(got, p)
	}
	sort.Strings(got)
	sort.Strings(published)
	assert.Equal(t, published, got)
	assert.Equal(t, []string{"a.md", "deep/b.txt", "in-link.md", "table.csv"}, got)

	cfg.Parser.Unmapped = "skip"
	files, _ = folderFiles(root, cfg, m)
	assert.NotContains(t, files, "table.csv", "an unmapped spreadsheet is not expected when parser.unmapped is skip")
}

func TestReconcileArguments(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	file := filepath.Join(dir, "f.md")
	writeFile(t, file, "x\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no folder", []string{"reconcile", "--data", data}, "--watch DIR required"},
		{"two folders", []string{"reconcile", "--data", data, dir, dir}, "unexpected arguments"},
		{"not a folder", []string{"reconcile", "--data", data, "--watch", file}, "not a folder"},
		{"no such folder", []string{"reconcile", "--data", data, "--watch", filepath.Join(dir, "nope")}, "no such file"},
		{"bad mapping", []string{"reconcile", "--data", data, "--watch", dir, "--schemas.mapping", file}, "schemas.mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := docgraph(t, tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	// The folder may be given as an argument; an empty graph and folder
	// have no gaps.
	empty := t.TempDir()
	out := mustDocgraph(t, "reconcile", "--data", emptyData(t), "--nats.listen", "off", empty)
	assert.Contains(t, out, "reconciled 0 files with 0 documents: 0 missing")
}

func TestReconcileWhileUpHoldsTheEmbeddedGraph(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "# a\n\nAACE-101.\n")
	p := startProc(t, "up", "--watch", in, "--data", data, "--metrics-addr", "", "--nats.listen", "off",
		"--log-format", "json", "--log-level", "info")
	p.waitLog(t, 60*time.Second, `"stage consuming"`, 4)
	_, _, err := docgraph(t, reconcileArgs(data, in)...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reconcile: docgraph up (pid ")
	assert.Contains(t, err.Error(), "is running on "+data+" with nats.listen off; stop it or give it a listen address")
}

func TestReconcileExplainsByDeadLetter(t *testing.T) {
	sha, old := strings.Repeat("a", 64), strings.Repeat("b", 64)
	file := func(subject, payload string) bus.DeadLetter {
		return bus.DeadLetter{Path: "f.md", OrigSubject: subject, Data: []byte(payload)}
	}
	missing := gap{kind: gapMissing, path: "f.md", fileSHA: sha}
	orphan := gap{kind: gapOrphaned, path: "f.md", graphSHA: sha}
	tests := []struct {
		name string
		dl   bus.DeadLetter
		gap  gap
		want bool
	}{
		{"file event of this version", file(event.SubjectFileDiscovered, `{"path":"f.md","sha256":"`+sha+`"}`), missing, true},
		{"file event of an older version", file(event.SubjectFileDiscovered, `{"path":"f.md","sha256":"`+old+`"}`), missing, false},
		{"chunk of this version", file(event.SubjectChunk, `{"document":{"path":"f.md","sha256":"`+sha+`"}}`), missing, true},
		{"extraction of this version", file(event.SubjectExtraction, `{"chunk":{"document":{"path":"f.md","sha256":"`+sha+`"}}}`), missing, true},
		{"records of an older version", file(event.SubjectRecords, `{"source":{"path":"f.md","sha256":"`+old+`"}}`), missing, false},
		{"payload without a version", file(event.SubjectFileDiscovered, `not json`), missing, true},
		{"another path", bus.DeadLetter{Path: "g.md", OrigSubject: event.SubjectFileDiscovered}, missing, false},
		{"a deletion does not explain a missing file", file(event.SubjectFileDeleted, `{"path":"f.md"}`), missing, false},
		{"a deletion explains an orphan", file(event.SubjectDocumentDeleted, `{"path":"f.md","version":3}`), orphan, true},
		{"a file event does not explain an orphan", file(event.SubjectFileDiscovered, `{"path":"f.md","sha256":"`+sha+`"}`), orphan, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, explains(tt.dl, tt.gap))
		})
	}
	assert.Equal(t, "a/b.md", watcher.IDPath("a/b.md"))
	assert.Regexp(t, `^sha256-[0-9a-f]{64}$`, watcher.IDPath("a\nb.md"))
	assert.Equal(t, "abc", short("abc"))
}

// TestReconcileRebuildsALostGraph is the way back from a graph file moved
// aside (e.g. one of an earlier layout): reconcile --fix republishes every
// file and the next run rebuilds the same graph.
func TestReconcileRebuildsALostGraph(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "# A\n\nThe review follows AACE-101 and ISO 31000.\n")
	writeFile(t, filepath.Join(in, "sub/b.md"), "# B\n\nPRJ-1042 uses AACE-202.\n")
	mustDocgraph(t, ingestArgs(data, in)...)
	want := exportGraph(t, data)
	require.NotEmpty(t, want.Nodes)

	matches, err := filepath.Glob(filepath.Join(data, "graph.duckdb*"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)
	for _, m := range matches {
		require.NoError(t, os.Rename(m, m+".old"))
	}
	out, _, err := docgraph(t, reconcileArgs(data, in)...)
	require.Equal(t, exitCode(1), err, out)
	assert.Equal(t, []string{"missing a.md", "missing sub/b.md"}, gapLines(out))

	out = mustDocgraph(t, reconcileArgs(data, in, "--fix")...)
	assert.Contains(t, out, "fix: 2 published")
	mustDocgraph(t, ingestArgs(data, in)...)
	assert.Equal(t, want, exportGraph(t, data))
}

// A file dead-lettered because its stored bytes are incomplete (an upload
// that did not finish, left by an earlier version) cannot be replayed:
// reconcile --fix stores and publishes it again.
func TestReconcileStoresAgainADeadLetteredIncompleteObject(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	content := "# Review\n\nThe review follows AACE-101.\n"
	writeFile(t, filepath.Join(in, "x.md"), content)
	mustDocgraph(t, ingestArgs(data, in)...)
	sum := sha256Hex([]byte(content))

	cfg := testConfig(t, "--data", data)
	st, err := openStore(t.Context(), cfg, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	require.NoError(t, st.Apply(t.Context(), []graph.Op{{DeleteDocument: &event.DocumentDeleted{Path: "x.md", Version: 1}}}))
	require.NoError(t, st.Close())
	withSystem(t, data, func(s *system) {
		objects, err := s.js.ObjectStore(t.Context(), bus.BucketFiles)
		require.NoError(t, err)
		info, err := objects.GetInfo(t.Context(), "x.md@"+sum)
		require.NoError(t, err)
		stream, err := s.js.Stream(t.Context(), "OBJ_"+bus.BucketFiles)
		require.NoError(t, err)
		require.NoError(t, stream.Purge(t.Context(), jetstream.WithPurgeSubject("$O."+bus.BucketFiles+".C."+info.NUID)))
		in := pipeline.MustMessage(event.SubjectFileDiscovered, event.FileDiscovered{Path: "x.md", Size: int64(len(content)), SHA256: sum, Object: "x.md@" + sum})
		in.StreamSeq, in.Delivered = 1, 1
		dl := pipeline.DeadLetter(bus.StageParser, bus.StreamFiles, in,
			fmt.Errorf("read object x.md@%s for x.md: %w", sum, bus.ErrObjectIncomplete), pipeline.ClassPermanent)
		_, err = s.js.PublishMsg(t.Context(), dl)
		require.NoError(t, err)
	})

	out, _, err := docgraph(t, reconcileArgs(data, in)...)
	require.NoError(t, err, out)
	assert.Equal(t, []string{"dead-lettered x.md"}, gapLines(out))

	out = mustDocgraph(t, reconcileArgs(data, in, "--fix")...)
	assert.Contains(t, out, "republished    x.md (its stored bytes were incomplete")
	assert.Contains(t, out, "fix: 1 published, 0 deletions published, 0 left to the DLQ, 0 not fixed")

	mustDocgraph(t, ingestArgs(data, in)...)
	findNode(t, exportGraph(t, data), "Document", "x.md")
	out, _, err = docgraph(t, reconcileArgs(data, in)...)
	require.NoError(t, err, out)
	assert.Empty(t, gapLines(out))
}

// TestReconcileKeepsDocumentsOfOversizedFiles: a file published under a
// higher watch.max_file_size (or before it grew) is still there; the
// watcher keeps its Document, so reconcile must not call it an orphan, and
// --fix must not delete it.
func TestReconcileKeepsDocumentsOfOversizedFiles(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(in, "a.md"), "# a\n\nAACE-101.\n")
	writeFile(t, filepath.Join(in, "big.md"), "# big\n\n"+strings.Repeat("ISO-9001 applies. ", 100))
	mustDocgraph(t, ingestArgs(data, in)...)

	out, _, err := docgraph(t, reconcileArgs(data, in, "--max-file-size", "1KiB")...)
	require.NoError(t, err, out)
	assert.Empty(t, gapLines(out))
	assert.Contains(t, out, "note: 1 document(s) whose file is over watch.max_file_size (1024 bytes) were not compared")

	out = mustDocgraph(t, reconcileArgs(data, in, "--max-file-size", "1KiB", "--fix")...)
	assert.Contains(t, out, "nothing to fix")
	mustDocgraph(t, ingestArgs(data, in)...)
	findNode(t, exportGraph(t, data), "Document", "big.md")
}
