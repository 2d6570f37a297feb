package neostore_test

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

// BenchmarkWrite compares the store's Apply (provenance, versions, garbage
// collection) with plain UNWIND … MERGE batches through the driver, each
// writing 100,000 entities and then 200,000 relationships in batches of
// 10,000, in turn within each round. Run it by command against a Neo4j from
// deployments/neo4j-dev:
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 3x ./pkg/graph/neostore
func BenchmarkWrite(b *testing.B) {
	batch := neostoretest.BenchBatch
	s := openStore(b, nil)
	require.NoError(b, s.Setup(b.Context()))
	doc := event.NewDocument("bench/people.csv", "bench-sha", 1, 1)
	batches := 0
	apply := func(nodes []graph.Node, rels []graph.Relationship, final bool) error {
		op := graph.Op{PutRecords: &event.Records{Source: doc, Mapping: "bench", Batch: batches,
			Final: final, Nodes: nodes, Relationships: rels}}
		batches++
		return s.Apply(b.Context(), []graph.Op{op})
	}
	writeNodes := func() error {
		for lo := 0; lo < neostoretest.BenchNodes; lo += batch {
			nodes := make([]graph.Node, 0, batch)
			for i := lo; i < lo+batch; i++ {
				key := neostoretest.BenchKey(i)
				nodes = append(nodes, graph.Node{Label: "Person", Key: key, Properties: map[string]any{"name": key, "n": i}})
			}
			if err := apply(nodes, nil, false); err != nil {
				return err
			}
		}
		return nil
	}
	writeRels := func() error {
		for lo := 0; lo < neostoretest.BenchRels; lo += batch {
			rels := make([]graph.Relationship, 0, batch)
			for i := lo; i < lo+batch; i++ {
				typ, from, to := neostoretest.BenchRel(i)
				rels = append(rels, graph.Relationship{Type: typ, From: graph.NodeRef{Label: "Person", Key: from},
					To: graph.NodeRef{Label: "Person", Key: to}, Properties: map[string]any{"weight": float64(i)}})
			}
			if err := apply(nil, rels, lo+batch >= neostoretest.BenchRels); err != nil {
				return err
			}
		}
		return nil
	}
	plainNodes, plainRels := neostoretest.PlainWrites(b.Context(), s.Driver(), neostoretest.Config(b).Database)
	neostoretest.CompareWrites(b, s, neostoretest.WritePath{Name: "driver", Nodes: plainNodes, Rels: plainRels},
		neostoretest.WritePath{Name: "store", Nodes: writeNodes, Rels: writeRels})
}

// BenchmarkIngestChanged writes the chunks of 1,000 documents untimed,
// then a new version of each (other text, the same entities) in batches of
// 1,024 ops, as the graph writer does under a backlog: each withdraws the
// old version's chunks, mentions and support, and the entities they shared
// get their properties again from what is left. DOCGRAPH_BENCH_DOCS changes
// the number of documents:
//
//	go test -run '^$' -bench BenchmarkIngestChanged -benchtime 1x ./pkg/graph/neostore
func BenchmarkIngestChanged(b *testing.B) {
	docs := benchDocs(b, 1000)
	v2 := graphtest.BenchChunkOps(docs, 2)
	benchOverCorpus(b, docs, v2, func(stats graph.Stats) {
		require.EqualValues(b, len(v2), stats.Nodes["Chunk"])
	})
}

// benchOverCorpus times writing ops, in batches of 1,024, over the chunks
// of docs documents written untimed, then checks the graph's stats, in
// each round; it reports documents/s.
func benchOverCorpus(b *testing.B, docs int, ops []graph.Op, check func(graph.Stats)) {
	ctx := b.Context()
	s := openStore(b, nil)
	require.NoError(b, s.Setup(ctx))
	for range b.N {
		b.StopTimer()
		require.NoError(b, s.Wipe(ctx))
		applyBatches(b, s, graphtest.BenchChunkOps(docs, 1), 1024)
		b.StartTimer()
		applyBatches(b, s, ops, 1024)
		b.StopTimer()
		stats, err := s.Stats(ctx)
		require.NoError(b, err)
		check(stats)
	}
	b.ReportMetric(float64(docs*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// benchDocs is DOCGRAPH_BENCH_DOCS, or def.
func benchDocs(b *testing.B, def int) int {
	b.Helper()
	v := os.Getenv("DOCGRAPH_BENCH_DOCS")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(b, err, "DOCGRAPH_BENCH_DOCS")
	return n
}

// applyBatches applies ops in batches of size.
func applyBatches(b *testing.B, s graph.Store, ops []graph.Op, size int) {
	b.Helper()
	for part := range slices.Chunk(ops, size) {
		require.NoError(b, s.Apply(b.Context(), part))
	}
}

// BenchmarkDelete writes the chunks of 2,000 documents (28,000 chunks,
// 252,000 mentions) untimed, then deletes every document (a folder
// removed) in batches of 1,024 deletions, as the graph writer does under a
// backlog: each withdraws its chunks, mentions and support. DOCGRAPH_BENCH_DOCS
// changes the number of documents. Run it by command against a Neo4j from
// deployments/neo4j-dev:
//
//	go test -run '^$' -bench BenchmarkDelete -benchtime 1x ./pkg/graph/neostore
func BenchmarkDelete(b *testing.B) {
	docs := benchDocs(b, 2000)
	dels := make([]graph.Op, docs)
	for d := range docs {
		dels[d] = graph.Op{DeleteDocument: &event.DocumentDeleted{Path: graphtest.BenchPath(d), Version: 2}}
	}
	benchOverCorpus(b, docs, dels, func(stats graph.Stats) {
		require.Empty(b, stats.Nodes, "nodes left")
		require.Empty(b, stats.Relationships, "relationships left")
	})
}
