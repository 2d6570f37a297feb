package neostore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
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
