package duckstore_test

import (
	"cmp"
	"context"
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
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
)

// BenchmarkIngestChunks writes the chunks of 2,000 documents (28,000 chunks,
// 252,000 mentions) in batches of 1,024 ops, as the graph writer does under
// a backlog, into a database file:
//
//	go test -run '^$' -bench IngestChunks -benchtime 1x ./pkg/graph/duckstore
func BenchmarkIngestChunks(b *testing.B) {
	docs := benchEnv(b, "DOCGRAPH_BENCH_DOCS", 2000)
	ops := graphtest.BenchChunkOps(docs, 1)
	benchWrite(b, docs, nil, ops, benchEnv(b, "DOCGRAPH_BENCH_BATCH", 1024), nil)
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
	docs := benchEnv(b, "DOCGRAPH_BENCH_DOCS", 2000)
	v2 := graphtest.BenchChunkOps(docs, 2)
	benchWrite(b, docs, graphtest.BenchChunkOps(docs, 1), v2, 1024, func(st *duckstore.Store) {
		stats, err := st.Stats(context.Background())
		require.NoError(b, err)
		require.Equal(b, int64(len(v2)), stats.Nodes["Chunk"])
	})
}

// BenchmarkReextract writes BenchmarkIngestChunks's corpus, then every chunk
// again with other mentions (what a gazetteer change causes): each chunk's
// mentions and support are withdrawn and written anew.
//
//	go test -run '^$' -bench Reextract -benchtime 1x ./pkg/graph/duckstore
func BenchmarkReextract(b *testing.B) {
	docs := benchEnv(b, "DOCGRAPH_BENCH_DOCS", 1000)
	again := graphtest.BenchChunkOps(docs, 1)
	for i := range again {
		x := *again[i].PutChunk
		x.Mentions = x.Mentions[:len(x.Mentions)-2]
		again[i] = graph.Op{PutChunk: &x}
	}
	benchWrite(b, docs, graphtest.BenchChunkOps(docs, 1), again, 1024, nil)
}

// BenchmarkDelete deletes every document of BenchmarkIngestChunks's corpus
// (a folder removed), in batches of 1,024 deletions: each withdraws its
// chunks, mentions and support.
//
//	go test -run '^$' -bench Delete -benchtime 1x ./pkg/graph/duckstore
func BenchmarkDelete(b *testing.B) {
	docs := benchEnv(b, "DOCGRAPH_BENCH_DOCS", 2000)
	var dels []graph.Op
	for d := range docs {
		dels = append(dels, graph.Op{DeleteDocument: &event.DocumentDeleted{Path: graphtest.BenchPath(d), Version: 2}})
	}
	benchWrite(b, docs, graphtest.BenchChunkOps(docs, 1), dels, 1024, func(st *duckstore.Store) {
		stats, err := st.Stats(context.Background())
		require.NoError(b, err)
		require.Zero(b, stats.Nodes["Chunk"])
	})
}

// benchEnv reads an integer benchmark setting from the environment.
func benchEnv(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, name)
	return n
}

// benchWrite opens a store in a database file per iteration, writes setup
// untimed, then times writing ops in batches of batch, calls check (if not
// nil) and reports documents per second (docs of them; none if docs is 0).
// The store's memory limit is 256MB, or $DOCGRAPH_BENCH_DUCKDB_MEMORY.
func benchWrite(b *testing.B, docs int, setup, ops []graph.Op, batch int, check func(*duckstore.Store)) {
	ctx := context.Background()
	memory := cmp.Or(os.Getenv("DOCGRAPH_BENCH_DUCKDB_MEMORY"), "256MB")
	apply := func(st *duckstore.Store, ops []graph.Op) {
		for i := 0; i < len(ops); i += batch {
			require.NoError(b, st.Apply(ctx, ops[i:min(i+batch, len(ops))]))
		}
	}
	for range b.N {
		b.StopTimer()
		st, err := duckstore.Open(ctx, duckstore.Config{Path: filepath.Join(b.TempDir(), "graph.duckdb"),
			Labels: []string{"Person", "Project", "Procedure", "Team"}, RelTypes: []string{"MANAGES", "MEMBER_OF", "WORKS_ON"}, MemoryLimit: memory})
		require.NoError(b, err)
		apply(st, setup)
		b.StartTimer()
		apply(st, ops)
		b.StopTimer()
		if check != nil {
			check(st)
		}
		require.NoError(b, st.Close())
	}
	if docs > 0 {
		b.ReportMetric(float64(docs*b.N)/b.Elapsed().Seconds(), "docs/s")
	}
}

// BenchmarkResaveSpreadsheet writes a new version of a teams spreadsheet
// of $DOCGRAPH_BENCH_ROWS rows (default 50,000; one row's role changed)
// over the first, as the graph writer does: records messages of 500 rows,
// 10 messages (20,000 nodes and relationships, graph.max_rows) a
// transaction. The last one withdraws the old version's
// support (three rows a row) and collects what is left without any.
//
//	DOCGRAPH_BENCH_ROWS=200000 go test -run '^$' -bench ResaveSpreadsheet -benchtime 1x ./pkg/graph/duckstore
//	DOCGRAPH_BENCH_ROWS=1000000 DOCGRAPH_BENCH_DUCKDB_MEMORY=2GB go test ...
func BenchmarkResaveSpreadsheet(b *testing.B) {
	rows := benchEnv(b, "DOCGRAPH_BENCH_ROWS", 50000)
	ops := func(version uint64, sha string, role func(int) string) []graph.Op {
		doc := event.NewDocument("teams.csv", sha, int64(rows)*100, version)
		var out []graph.Op
		for start := 0; start < rows; start += 500 {
			r := &event.Records{Source: doc, Mapping: "teams", Batch: len(out) + 1}
			for i := start; i < min(start+500, rows); i++ {
				person := fmt.Sprintf("person %07d", i)
				team := fmt.Sprintf("team %04d", i%997)
				project := fmt.Sprintf("PRJ-%04d", i%9973)
				r.Nodes = append(r.Nodes,
					event.Node{Label: "Person", Key: person, Properties: map[string]any{"name": person}},
					event.Node{Label: "Team", Key: team, Properties: map[string]any{"name": team}})
				r.Relationships = append(r.Relationships,
					event.Relationship{Type: "MEMBER_OF", From: event.NodeRef{Label: "Person", Key: person}, To: event.NodeRef{Label: "Team", Key: team}, Source: event.SourceStructured,
						Properties: map[string]any{"role": role(i)}},
					event.Relationship{Type: "WORKS_ON", From: event.NodeRef{Label: "Person", Key: person}, To: event.NodeRef{Label: "Project", Key: project}, Source: event.SourceStructured})
			}
			out = append(out, graph.Op{PutRecords: r})
		}
		last := out[len(out)-1].PutRecords
		last.Final, last.Batches = true, len(out)
		return out
	}
	role := func(i int) string { return fmt.Sprintf("Engineer, grade %d", i%7) }
	v1 := ops(1, strings.Repeat("a", 64), role)
	v2 := ops(2, strings.Repeat("b", 64), func(i int) string {
		if i == 3 {
			return "Lead"
		}
		return role(i)
	})
	benchWrite(b, 0, v1, v2, 10, func(st *duckstore.Store) {
		stats, err := st.Stats(context.Background())
		require.NoError(b, err)
		require.Equal(b, int64(rows), stats.Relationships["MEMBER_OF"])
	})
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
