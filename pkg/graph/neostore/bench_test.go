package neostore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// Benchmark sizes: 100,000 entities and 200,000 relationships, written in
// batches of 10,000, first all nodes and then all relationships.
const (
	benchNodes = 100_000
	benchRels  = 2 * benchNodes
	benchBatch = 10_000
)

func benchKey(i int) string { return fmt.Sprintf("person-%06d", i%benchNodes) }

// benchRel is relationship i: MANAGES to the next person, WORKS_ON to the
// seventh next.
func benchRel(i int) (typ, from, to string) {
	if i%2 == 0 {
		return "MANAGES", benchKey(i / 2), benchKey(i/2 + 1)
	}
	return "WORKS_ON", benchKey(i / 2), benchKey(i/2 + 7)
}

// BenchmarkWrite compares the store's Apply (provenance, versions, garbage
// collection) with plain UNWIND … MERGE batches through the driver. Run it
// by command against a Neo4j from deployments/neo4j-dev:
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 1x ./pkg/graph/neostore
func BenchmarkWrite(b *testing.B) {
	b.Run("store", func(b *testing.B) {
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
			for lo := 0; lo < benchNodes; lo += benchBatch {
				nodes := make([]graph.Node, 0, benchBatch)
				for i := lo; i < lo+benchBatch; i++ {
					nodes = append(nodes, graph.Node{Label: "Person", Key: benchKey(i),
						Properties: map[string]any{"name": benchKey(i), "n": i}})
				}
				if err := apply(nodes, nil, false); err != nil {
					return err
				}
			}
			return nil
		}
		writeRels := func() error {
			for lo := 0; lo < benchRels; lo += benchBatch {
				rels := make([]graph.Relationship, 0, benchBatch)
				for i := lo; i < lo+benchBatch; i++ {
					typ, from, to := benchRel(i)
					rels = append(rels, graph.Relationship{Type: typ, From: graph.NodeRef{Label: "Person", Key: from},
						To: graph.NodeRef{Label: "Person", Key: to}, Properties: map[string]any{"weight": float64(i)}})
				}
				if err := apply(nil, rels, lo+benchBatch >= benchRels); err != nil {
					return err
				}
			}
			return nil
		}
		runBench(b, s, writeNodes, writeRels)
	})
	b.Run("driver", func(b *testing.B) {
		s := openStore(b, nil)
		require.NoError(b, s.Setup(b.Context()))
		d := s.Driver()
		write := func(q string, rows []any) error {
			sess := d.NewSession(b.Context(), neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite})
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
			for lo := 0; lo < benchNodes; lo += benchBatch {
				rows := make([]any, 0, benchBatch)
				for i := lo; i < lo+benchBatch; i++ {
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
			for lo := 0; lo < benchRels; lo += benchBatch {
				byType := map[string][]any{}
				for i := lo; i < lo+benchBatch; i++ {
					typ, from, to := benchRel(i)
					byType[typ] = append(byType[typ], map[string]any{"from": from, "to": to,
						"props": map[string]any{"weight": float64(i)}})
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
		runBench(b, s, writeNodes, writeRels)
	})
}

func runBench(b *testing.B, s *neostore.Store, writeNodes, writeRels func() error) {
	// One untimed round first: Neo4j plans and compiles each query on its
	// first run and warms its caches, which the first path measured would
	// otherwise pay alone.
	require.NoError(b, s.Wipe(b.Context()))
	require.NoError(b, writeNodes())
	require.NoError(b, writeRels())
	var nodeTime, relTime time.Duration
	for b.Loop() {
		b.StopTimer()
		require.NoError(b, s.Wipe(b.Context()))
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
	st, err := s.Stats(b.Context())
	require.NoError(b, err)
	require.Equal(b, int64(benchNodes), st.Nodes["Person"])
	require.Equal(b, int64(benchRels), st.Relationships["MANAGES"]+st.Relationships["WORKS_ON"])
	require.NoError(b, s.Wipe(b.Context()))
}
