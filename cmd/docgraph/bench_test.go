package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/corpusgen"
	"github.com/docgraph/docgraph/pkg/graph"
)

func TestBenchCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	mem := filepath.Join(t.TempDir(), "mem.prof")
	err := run(t.Context(), []string{"bench", "--docs", "12", "--doc-bytes", "1500", "--formats", "md,txt,html,docx",
		"--cpuprofile", prof, "--memprofile", mem, "--", "--parser.chunk_size", "500", "--parser.chunk_overlap", "50"}, &out, &errOut, noEnv)
	require.NoError(t, err, errOut.String())
	assert.Contains(t, out.String(), "12 documents + 3 spreadsheets")
	assert.Contains(t, out.String(), "(parser.chunk_size 500, parser.chunk_overlap 50)", "the chunk settings the ingest ran with")
	assert.Contains(t, out.String(), "graph matches the corpus's node and relationship counts")
	assert.Contains(t, out.String(), "DOCGRAPH_EXTRACTIONS")
	assert.Regexp(t, `(?m)^cpu: +\S+ \(user \S+, system \S+\): \d+\.\d\d ms per file, \d+\.\d cores busy$`, out.String())
	for _, p := range []string{prof, mem} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		assert.Positive(t, st.Size(), p)
	}
}

// TestBenchChanged rewrites every file of an ingested corpus with another
// corpus (other names, contents and relationships at the same paths) and
// ingests again into the same data: the graph must match the new corpus
// exactly, nothing of the old one left.
func TestBenchChanged(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"bench", "--docs", "24", "--doc-bytes", "1500", "--changed"}, &out, &errOut, noEnv)
	require.NoError(t, err, errOut.String())
	first, second, ok := strings.Cut(out.String(), "every file rewritten (seed 2)")
	require.True(t, ok, out.String())
	assert.Contains(t, first, "graph matches the corpus's node and relationship counts")
	assert.Contains(t, second, "graph matches the corpus's node and relationship counts")
	assert.Contains(t, second, "24 documents + 3 spreadsheets")
}

// With --changed, the profiles are of the second ingest, the rewrite: the
// first runs without them.
func TestBenchChangedProfilesTheRewrite(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"bench", "--docs", "4", "--doc-bytes", "1500", "--changed", "--cpuprofile", "/nonexistent/dir/cpu.prof"}, &out, &errOut, noEnv)
	require.ErrorContains(t, err, "cpuprofile")
	first, _, ok := strings.Cut(out.String(), "every file rewritten (seed 2)")
	require.True(t, ok, "the first ingest ran without the profile:\n%s", out.String())
	assert.Contains(t, first, "graph matches the corpus's node and relationship counts")
}

// PDFs (wrapped lines, no paragraph marks in their text) give the same
// graph as the other formats: the corpus's ground truth, exactly.
func TestBenchPDF(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(t.Context(), []string{"bench", "--docs", "10", "--doc-bytes", "3000", "--formats", "pdf"}, &out, &errOut, noEnv)
	require.NoError(t, err, errOut.String())
	assert.Contains(t, out.String(), "10 documents + 3 spreadsheets")
	assert.Contains(t, out.String(), "graph matches the corpus's node and relationship counts")
}

func TestBenchCommandErrors(t *testing.T) {
	tests := []struct {
		name    string
		give    []string
		wantErr string
	}{
		{"bad flag", []string{"bench", "--nope"}, "flag provided but not defined"},
		{"bad format", []string{"bench", "--docs", "1", "--formats", "rtf"}, `format "rtf"`},
		{"bad ingest flag", []string{"bench", "--docs", "1", "--", "--graph.batch_small", "0"}, "graph.batch_small"},
		{"unknown ingest flag", []string{"bench", "--docs", "1", "--", "--graph.batch_smal", "10"},
			"flag provided but not defined: -graph.batch_smal (did you mean --graph.batch_small? 'docgraph bench -- --help' lists the flags)"},
		{"bad profile path", []string{"bench", "--docs", "1", "--cpuprofile", "/nonexistent/dir/cpu.prof"}, "cpuprofile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(t.Context(), tt.give, &out, &errOut, noEnv)
			require.Error(t, err)
			assert.Contains(t, err.Error()+errOut.String(), tt.wantErr)
		})
	}
}

// The flags after -- are ingest's, and their help says so.
func TestBenchIngestFlagsHelp(t *testing.T) {
	_, errOut, err := docgraph(t, "bench", "--docs", "1", "--", "--help")
	require.NoError(t, err)
	assert.Contains(t, errOut, "Usage: docgraph bench -- [ingest flags]\n\nFlags after -- go to the bench's ingest")
	assert.Contains(t, errOut, "-graph.batch_small")
}

// TestBenchMentions checks the generator's mention ground truth against the
// ingested graph: distinct (document, label, key) through HAS_CHUNK and
// MENTIONS.
func TestBenchMentions(t *testing.T) {
	dir := t.TempDir()
	e := env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: noEnv}
	res, err := runBench(t.Context(), e, benchOptions{dir: dir, corpus: corpusgen.Options{
		Docs: 10, DocBytes: 2500, People: 10, Projects: 4, Teams: 3, Seed: 5, Spreadsheets: true,
	}})
	require.NoError(t, err)
	assert.Empty(t, res.mismatches)

	cfg, _, err := parseFlags(e, "bench", "", "", []string{"--data", filepath.Join(dir, "data")}, nil)
	require.NoError(t, err)
	st, err := openStore(t.Context(), cfg, nil, nil)
	require.NoError(t, err)
	defer st.Close()
	docOf := map[string]string{}
	mentions := map[[3]string]bool{}
	var rels []graph.Relationship
	require.NoError(t, st.Export(t.Context(), func(graph.Node) error { return nil }, func(r graph.Relationship) error {
		rels = append(rels, r)
		return nil
	}))
	for _, r := range rels {
		if r.Type == graph.RelHasChunk {
			docOf[r.To.Key] = r.From.Key
		}
	}
	for _, r := range rels {
		if r.Type == graph.RelMentions {
			mentions[[3]string{docOf[r.From.Key], r.To.Label, r.To.Key}] = true
		}
	}
	assert.Equal(t, res.gen.Mentions, len(mentions))
}

func noEnv(string) string { return "" }

// BenchmarkIngest generates DOCGRAPH_BENCH_DOCS documents (default 200) of
// about 10 KB and ingests them on the embedded default per iteration:
//
//	DOCGRAPH_BENCH_DOCS=5000 go test -run '^$' -bench Ingest -benchtime 1x ./cmd/docgraph/
func BenchmarkIngest(b *testing.B) {
	docs := 200
	if s := os.Getenv("DOCGRAPH_BENCH_DOCS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err, "DOCGRAPH_BENCH_DOCS")
		docs = n
	}
	e := env{stdout: &bytes.Buffer{}, stderr: os.Stderr, getenv: noEnv}
	var files, msgs float64
	var took float64
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		dir := b.TempDir()
		b.StartTimer()
		res, err := runBench(b.Context(), e, benchOptions{dir: dir, corpus: corpusgen.Options{
			Docs: docs, Seed: int64(i + 1), Spreadsheets: true,
		}})
		require.NoError(b, err)
		require.Empty(b, res.mismatches)
		files += float64(res.gen.Files)
		msgs += float64(res.messages)
		took += res.took.Seconds()
	}
	rss, err := peakRSS()
	require.NoError(b, err)
	b.ReportMetric(files/took, "docs/s")
	b.ReportMetric(msgs/took, "msgs/s")
	b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
}

// TestBenchPrintsMemoryByQuarter: the report splits the run's RSS, and the
// Go runtime's share of it, into quarters, so growth shows and where.
func TestBenchPrintsMemoryByQuarter(t *testing.T) {
	mib := func(xs ...int64) []int64 {
		for i := range xs {
			xs[i] <<= 20
		}
		return xs
	}
	r := benchResult{
		peakRSS:    400 << 20,
		rssSamples: mib(100, 150, 200, 250, 300, 350, 390, 400),
		goSamples:  mib(50, 60, 70, 80, 90, 100, 110, 120),
		goAtPeak:   120 << 20,
	}
	var out bytes.Buffer
	r.print(&out)
	assert.Contains(t, out.String(), "peak RSS:   400 MB (VmHWM; Go runtime 120 MB at the highest sample")
	assert.Contains(t, out.String(), "RSS by quarter of the run: 150 MB 250 MB 350 MB 400 MB (Go runtime 60 MB 80 MB 100 MB 120 MB)")
}
