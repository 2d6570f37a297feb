package duckstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/duckstore"
)

// benchChunkOps returns the chunk ops of docs generated documents shaped
// like `docgraph bench`'s corpus: 14 chunks of about 900 characters each,
// nine mentions per chunk out of 80 entities, a MANAGES in every fourth.
func benchChunkOps(docs int) []graph.Op { return benchChunkOpsVersion(docs, 1) }

// benchChunkOpsVersion is benchChunkOps for a version of every document
// (a different content for each version).
func benchChunkOpsVersion(docs int, version uint64) []graph.Op {
	text := strings.Repeat("The quarterly review covered budget, risks and the AACE-101 procedure. ", 13)
	var ops []graph.Op
	for d := range docs {
		sum := sha256.Sum256([]byte(strconv.Itoa(d) + "/" + strconv.FormatUint(version, 10)))
		doc := event.NewDocument(fmt.Sprintf("reports/2026/report-%05d.md", d), hex.EncodeToString(sum[:]), 10_000, version)
		for i := range 14 {
			x := &event.Extraction{Chunk: event.Chunk{Document: doc, Index: i, Total: 14, Text: text}}
			for m := range 9 {
				e := (d*7 + i*3 + m*11) % 80
				label := []string{"Person", "Project", "Procedure", "Team"}[e%4]
				x.Mentions = append(x.Mentions, event.Node{Label: label, Key: fmt.Sprintf("%s-%03d", strings.ToLower(label), e),
					Properties: map[string]any{"name": fmt.Sprintf("Name %d", e)}})
			}
			if i%4 == 0 {
				x.Relationships = append(x.Relationships, event.Relationship{Type: "MANAGES", Source: event.SourceText,
					From: event.NodeRef{Label: "Person", Key: fmt.Sprintf("person-%03d", (d+i)%20*4)},
					To:   event.NodeRef{Label: "Project", Key: fmt.Sprintf("project-%03d", (d+i)%20*4+1)}})
			}
			ops = append(ops, graph.Op{PutChunk: x})
		}
	}
	return ops
}

// BenchmarkIngestChunks writes the chunks of 2,000 documents (28,000 chunks,
// 252,000 mentions) in batches of 1,024 ops, as the graph writer does under
// a backlog, into a database file:
//
//	go test -run '^$' -bench IngestChunks -benchtime 1x ./pkg/graph/duckstore
func BenchmarkIngestChunks(b *testing.B) {
	docs := 2000
	if v := os.Getenv("DOCGRAPH_BENCH_DOCS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		docs = n
	}
	benchBatch := 1024
	if v := os.Getenv("DOCGRAPH_BENCH_BATCH"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		benchBatch = n
	}
	ops := benchChunkOps(docs)
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		st, err := duckstore.Open(ctx, duckstore.Config{Path: filepath.Join(b.TempDir(), "graph.duckdb"),
			Labels: []string{"Person", "Project", "Procedure", "Team"}, RelTypes: []string{"MANAGES"}, MemoryLimit: "256MB"})
		require.NoError(b, err)
		b.StartTimer()
		for i := 0; i < len(ops); i += benchBatch {
			require.NoError(b, st.Apply(ctx, ops[i:min(i+benchBatch, len(ops))]))
		}
		b.StopTimer()
		require.NoError(b, st.Close())
	}
	b.ReportMetric(float64(docs*b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(len(ops)*b.N)/b.Elapsed().Seconds(), "chunks/s")
	if rss, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, l := range strings.Split(string(rss), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				kb, _ := strconv.Atoi(strings.Fields(l)[1])
				b.ReportMetric(float64(kb)/1024, "peak-RSS-MiB")
			}
		}
	}
}

// BenchmarkIngestChanged writes a new version of every document of
// BenchmarkIngestChunks's corpus over the first: each withdraws the old
// chunks, mentions and support.
//
//	go test -run '^$' -bench IngestChanged -benchtime 1x ./pkg/graph/duckstore
func BenchmarkIngestChanged(b *testing.B) {
	docs := 2000
	if v := os.Getenv("DOCGRAPH_BENCH_DOCS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		docs = n
	}
	v1, v2 := benchChunkOps(docs), benchChunkOpsVersion(docs, 2)
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		st, err := duckstore.Open(ctx, duckstore.Config{Path: filepath.Join(b.TempDir(), "graph.duckdb"),
			Labels: []string{"Person", "Project", "Procedure", "Team"}, RelTypes: []string{"MANAGES"}, MemoryLimit: "256MB"})
		require.NoError(b, err)
		for i := 0; i < len(v1); i += 1024 {
			require.NoError(b, st.Apply(ctx, v1[i:min(i+1024, len(v1))]))
		}
		b.StartTimer()
		for i := 0; i < len(v2); i += 1024 {
			require.NoError(b, st.Apply(ctx, v2[i:min(i+1024, len(v2))]))
		}
		b.StopTimer()
		stats, err := st.Stats(ctx)
		require.NoError(b, err)
		require.Equal(b, int64(len(v2)), stats.Nodes["Chunk"])
		require.NoError(b, st.Close())
	}
	b.ReportMetric(float64(docs*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkReextract writes BenchmarkIngestChunks's corpus, then every chunk
// again with other mentions (what a gazetteer change causes): each chunk's
// mentions and support are withdrawn and written anew.
//
//	go test -run '^$' -bench Reextract -benchtime 1x ./pkg/graph/duckstore
func BenchmarkReextract(b *testing.B) {
	docs := 1000
	if v := os.Getenv("DOCGRAPH_BENCH_DOCS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		docs = n
	}
	first, again := benchChunkOps(docs), benchChunkOps(docs)
	for i := range again {
		x := *again[i].PutChunk
		x.Mentions = x.Mentions[:len(x.Mentions)-2]
		again[i] = graph.Op{PutChunk: &x}
	}
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		st, err := duckstore.Open(ctx, duckstore.Config{Path: filepath.Join(b.TempDir(), "graph.duckdb"),
			Labels: []string{"Person", "Project", "Procedure", "Team"}, RelTypes: []string{"MANAGES"}, MemoryLimit: "256MB"})
		require.NoError(b, err)
		for i := 0; i < len(first); i += 1024 {
			require.NoError(b, st.Apply(ctx, first[i:min(i+1024, len(first))]))
		}
		b.StartTimer()
		for i := 0; i < len(again); i += 1024 {
			require.NoError(b, st.Apply(ctx, again[i:min(i+1024, len(again))]))
		}
		b.StopTimer()
		require.NoError(b, st.Close())
	}
	b.ReportMetric(float64(docs*b.N)/b.Elapsed().Seconds(), "docs/s")
}
