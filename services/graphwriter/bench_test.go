package graphwriter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphtest"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/graphwriter"
)

// Benchmark sizes: 100,000 entities and 200,000 relationships, as the
// parser sends them (records messages of 500 rows), written by the graph
// writer in the batches the runner cuts for that backlog.
const (
	benchNodes    = 100_000
	benchRels     = 2 * benchNodes
	benchRows     = 500    // parser.batch_rows default
	benchDriverTx = 10_000 // rows per UNWIND of the plain-driver baseline
)

func benchKey(i int) string { return fmt.Sprintf("person-%06d", i%benchNodes) }

func benchRel(i int) graph.Relationship {
	typ, to := "MANAGES", benchKey(i/2+1)
	if i%2 == 1 {
		typ, to = "WORKS_ON", benchKey(i/2+7)
	}
	return graph.Relationship{Type: typ, From: graph.NodeRef{Label: "Person", Key: benchKey(i / 2)},
		To: graph.NodeRef{Label: "Person", Key: to}, Properties: map[string]any{"weight": float64(i)}}
}

// BenchmarkNeo4jWrite compares the graph writer on Neo4j (decode, batch,
// provenance, versions, garbage collection) with plain UNWIND … MERGE
// batches of 10,000 rows through the driver on the same server:
//
//	go test -run '^$' -bench BenchmarkNeo4jWrite -benchtime 1x ./services/graphwriter
func BenchmarkNeo4jWrite(b *testing.B) {
	b.Run("writer", func(b *testing.B) {
		st := openBenchStore(b)
		// A writer per round: a writer remembers what it has written.
		var w *graphwriter.Writer
		newWriter := func() error {
			var err error
			w, err = graphwriter.New(st, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), nil, nil)
			return err
		}
		def := config.Default()
		cfg := graphwriter.Config{Small: def.Graph.BatchSmall, Medium: def.Graph.BatchMedium, Large: def.Graph.BatchLarge} // the configuration defaults, on Neo4j
		doc := event.NewDocument("bench/people.csv", "bench-sha", 1, 1)
		var nodeMsgs, relMsgs []pipeline.Message
		batch := 0
		add := func(to *[]pipeline.Message, r event.Records) {
			r.Source, r.Mapping, r.Batch = doc, "bench", batch
			batch++
			m, err := pipeline.NewMessage(event.SubjectRecords, r)
			require.NoError(b, err)
			*to = append(*to, m)
		}
		for lo := 0; lo < benchNodes; lo += benchRows {
			var nodes []graph.Node
			for i := lo; i < lo+benchRows; i++ {
				nodes = append(nodes, graph.Node{Label: "Person", Key: benchKey(i),
					Properties: map[string]any{"name": benchKey(i), "n": i}})
			}
			add(&nodeMsgs, event.Records{Nodes: nodes})
		}
		for lo := 0; lo < benchRels; lo += benchRows {
			var rels []graph.Relationship
			for i := lo; i < lo+benchRows; i++ {
				rels = append(rels, benchRel(i))
			}
			add(&relMsgs, event.Records{Relationships: rels, Final: lo+benchRows >= benchRels, Batches: batch + 1})
		}
		handle := func(msgs []pipeline.Message) func() error {
			return func() error {
				for rest := msgs; len(rest) > 0; {
					n := min(cfg.BatchSize(uint64(len(rest)-1)), len(rest))
					for i, err := range w.Handle(b.Context(), rest[:n]) {
						if err != nil {
							return fmt.Errorf("message %d: %w", i, err)
						}
					}
					rest = rest[n:]
				}
				return nil
			}
		}
		writeNodes := handle(nodeMsgs)
		runBench(b, st, func() error {
			if err := newWriter(); err != nil {
				return err
			}
			w.MaxRows = config.Neo4jMaxRows
			return writeNodes()
		}, handle(relMsgs))
	})
	b.Run("driver", func(b *testing.B) {
		st := openBenchStore(b)
		cfg := neostoretest.Config(b)
		d, err := neo4j.NewDriverWithContext(cfg.URI, neo4j.BasicAuth(cfg.User, cfg.Password, ""))
		require.NoError(b, err)
		b.Cleanup(func() { require.NoError(b, d.Close(context.WithoutCancel(b.Context()))) })
		write := func(q string, rows []any) error {
			sess := d.NewSession(b.Context(), neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite, DatabaseName: cfg.Database})
			_, err := sess.ExecuteWrite(b.Context(), func(tx neo4j.ManagedTransaction) (any, error) {
				res, err := tx.Run(b.Context(), q, map[string]any{"rows": rows})
				if err != nil {
					return nil, err
				}
				return res.Consume(b.Context())
			})
			return errors.Join(err, sess.Close(context.WithoutCancel(b.Context())))
		}
		writeNodes := func() error {
			for lo := 0; lo < benchNodes; lo += benchDriverTx {
				rows := make([]any, 0, benchDriverTx)
				for i := lo; i < lo+benchDriverTx; i++ {
					rows = append(rows, map[string]any{"key": benchKey(i),
						"props": map[string]any{"name": benchKey(i), "n": int64(i)}})
				}
				if err := write("UNWIND $rows AS row MERGE (n:Person {key: row.key}) SET n += row.props", rows); err != nil {
					return err
				}
			}
			return nil
		}
		writeRels := func() error {
			for lo := 0; lo < benchRels; lo += benchDriverTx {
				byType := map[string][]any{}
				for i := lo; i < lo+benchDriverTx; i++ {
					r := benchRel(i)
					byType[r.Type] = append(byType[r.Type], map[string]any{"from": r.From.Key, "to": r.To.Key, "props": r.Properties})
				}
				for typ, rows := range byType {
					q := "UNWIND $rows AS row MATCH (a:Person {key: row.from}) MATCH (b:Person {key: row.to}) " +
						"MERGE (a)-[r:" + typ + " {source: 'structured'}]->(b) SET r += row.props"
					if err := write(q, rows); err != nil {
						return err
					}
				}
			}
			return nil
		}
		runBench(b, st, writeNodes, writeRels)
	})
}

func openBenchStore(b *testing.B) *neostore.Store {
	b.Helper()
	cfg := neostoretest.Config(b)
	cfg.Labels, cfg.RelTypes = graphtest.Labels(), graphtest.RelTypes()
	st, err := neostore.Open(b.Context(), cfg, prometheus.NewRegistry())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	require.NoError(b, st.Setup(b.Context()))
	return st
}

func runBench(b *testing.B, st *neostore.Store, writeNodes, writeRels func() error) {
	// One untimed round first: Neo4j plans and compiles each query on its
	// first run and warms its caches, which the first path measured would
	// otherwise pay alone.
	require.NoError(b, st.Wipe(b.Context()))
	require.NoError(b, writeNodes())
	require.NoError(b, writeRels())
	var nodeTime, relTime time.Duration
	for b.Loop() {
		b.StopTimer()
		require.NoError(b, st.Wipe(b.Context()))
		b.StartTimer()
		start := time.Now()
		require.NoError(b, writeNodes())
		mid := time.Now()
		require.NoError(b, writeRels())
		nodeTime += mid.Sub(start)
		relTime += time.Since(mid)
	}
	b.ReportMetric(float64(benchNodes*b.N)/nodeTime.Seconds(), "nodes/s")
	b.ReportMetric(float64(benchRels*b.N)/relTime.Seconds(), "rels/s")
	stats, err := st.Stats(b.Context())
	require.NoError(b, err)
	require.Equal(b, int64(benchNodes), stats.Nodes["Person"])
	require.Equal(b, int64(benchRels), stats.Relationships["MANAGES"]+stats.Relationships["WORKS_ON"])
	require.NoError(b, st.Wipe(b.Context()))
}
