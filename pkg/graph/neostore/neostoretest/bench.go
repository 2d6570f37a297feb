package neostoretest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph/neostore"
)

// Sizes of the Neo4j write benchmarks: 100,000 entities and 200,000
// relationships; the plain-driver baseline writes them in UNWIND batches of
// BenchBatch rows. (Variables only so that a test can run the helpers
// small.)
var (
	BenchNodes = 100_000
	BenchRels  = 2 * BenchNodes
	BenchBatch = 10_000
)

// BenchKey is the key of Person i.
func BenchKey(i int) string { return fmt.Sprintf("person-%06d", i%BenchNodes) }

// BenchRel is relationship i: MANAGES to the next person, WORKS_ON to the
// seventh next.
func BenchRel(i int) (typ, from, to string) {
	if i%2 == 0 {
		return "MANAGES", BenchKey(i / 2), BenchKey(i/2 + 1)
	}
	return "WORKS_ON", BenchKey(i / 2), BenchKey(i/2 + 7)
}

// PlainWrites is the baseline: the benchmark's nodes and relationships
// written by hand-written UNWIND … MERGE batches through the driver, with
// no pipeline and no provenance around them.
func PlainWrites(ctx context.Context, d neo4j.DriverWithContext, database string) (writeNodes, writeRels func() error) {
	write := func(q string, rows []any) error {
		sess := d.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeWrite, DatabaseName: database})
		_, err := sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(ctx, q, map[string]any{"rows": rows})
			if err != nil {
				return nil, err
			}
			return res.Consume(ctx)
		})
		return errors.Join(err, sess.Close(context.WithoutCancel(ctx)))
	}
	writeNodes = func() error {
		for lo := 0; lo < BenchNodes; lo += BenchBatch {
			rows := make([]any, 0, BenchBatch)
			for i := lo; i < lo+BenchBatch; i++ {
				rows = append(rows, map[string]any{"key": BenchKey(i),
					"props": map[string]any{"name": BenchKey(i), "n": int64(i)}})
			}
			if err := write("UNWIND $rows AS row MERGE (n:Person {key: row.key}) SET n += row.props", rows); err != nil {
				return err
			}
		}
		return nil
	}
	writeRels = func() error {
		for lo := 0; lo < BenchRels; lo += BenchBatch {
			byType := map[string][]any{}
			for i := lo; i < lo+BenchBatch; i++ {
				typ, from, to := BenchRel(i)
				byType[typ] = append(byType[typ], map[string]any{"from": from, "to": to,
					"props": map[string]any{"weight": float64(i)}})
			}
			for _, typ := range []string{"MANAGES", "WORKS_ON"} {
				q := "UNWIND $rows AS row MATCH (a:Person {key: row.from}) MATCH (b:Person {key: row.to}) " +
					"MERGE (a)-[r:" + typ + " {source: 'structured'}]->(b) SET r += row.props"
				if err := write(q, byType[typ]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return writeNodes, writeRels
}

// WritePath is one way of writing the benchmark's graph: its nodes, then
// its relationships.
type WritePath struct {
	Name        string
	Nodes, Rels func() error
}

// CompareWrites times every path in turn within each round, each on an
// emptied database, so that the paths share the server's state and any
// drift of a noisy machine; the graph must then hold the benchmark's nodes
// and relationships. One untimed round runs first: Neo4j plans and compiles
// each query on its first run and warms its caches, which the first path
// measured would otherwise pay alone. It reports <name>-nodes/s and
// <name>-rels/s for every path, and for every path after the first its
// rates as a percentage of the first's (<name>-nodes-%-of-<first>,
// <name>-rels-%-of-<first>).
func CompareWrites(b *testing.B, st *neostore.Store, paths ...WritePath) {
	write := func(p WritePath) (nodes, rels time.Duration) {
		b.StopTimer()
		require.NoError(b, st.Wipe(b.Context()))
		b.StartTimer()
		start := time.Now()
		require.NoError(b, p.Nodes(), "%s: nodes", p.Name)
		mid := time.Now()
		require.NoError(b, p.Rels(), "%s: relationships", p.Name)
		nodes, rels = mid.Sub(start), time.Since(mid)
		b.StopTimer()
		stats, err := st.Stats(b.Context())
		require.NoError(b, err)
		require.Equal(b, int64(BenchNodes), stats.Nodes["Person"], p.Name)
		require.Equal(b, int64(BenchRels), stats.Relationships["MANAGES"]+stats.Relationships["WORKS_ON"], p.Name)
		b.StartTimer()
		return nodes, rels
	}
	for _, p := range paths {
		write(p)
	}
	nodeTime := make([]time.Duration, len(paths))
	relTime := make([]time.Duration, len(paths))
	for b.Loop() {
		for i, p := range paths {
			n, r := write(p)
			nodeTime[i] += n
			relTime[i] += r
		}
	}
	for i, p := range paths {
		b.ReportMetric(float64(BenchNodes*b.N)/nodeTime[i].Seconds(), p.Name+"-nodes/s")
		b.ReportMetric(float64(BenchRels*b.N)/relTime[i].Seconds(), p.Name+"-rels/s")
		if i > 0 {
			b.ReportMetric(100*nodeTime[0].Seconds()/nodeTime[i].Seconds(), p.Name+"-nodes-%-of-"+paths[0].Name)
			b.ReportMetric(100*relTime[0].Seconds()/relTime[i].Seconds(), p.Name+"-rels-%-of-"+paths[0].Name)
		}
	}
	require.NoError(b, st.Wipe(b.Context()))
}
