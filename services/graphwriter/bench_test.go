package graphwriter_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/graphwriter"
)

// benchRows is the rows of one records message (the parser's batch_rows
// default): the writer sees the benchmark as the parser sends it.
const benchRows = 500

func benchRel(i int) graph.Relationship {
	typ, from, to := neostoretest.BenchRel(i)
	return graph.Relationship{Type: typ, From: graph.NodeRef{Label: "Person", Key: from},
		To: graph.NodeRef{Label: "Person", Key: to}, Properties: map[string]any{"weight": float64(i)}}
}

// BenchmarkNeo4jWrite compares the graph writer on Neo4j (decode, batch,
// provenance, versions, garbage collection) with plain UNWIND … MERGE
// batches of 10,000 rows through the driver on the same server, in turn
// within each round:
//
//	go test -run '^$' -bench BenchmarkNeo4jWrite -benchtime 3x ./services/graphwriter
func BenchmarkNeo4jWrite(b *testing.B) {
	st := neostoretest.Open(b)
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
	for lo := 0; lo < neostoretest.BenchNodes; lo += benchRows {
		var nodes []graph.Node
		for i := lo; i < lo+benchRows; i++ {
			nodes = append(nodes, graph.Node{Label: "Person", Key: neostoretest.BenchKey(i),
				Properties: map[string]any{"name": neostoretest.BenchKey(i), "n": i}})
		}
		add(&nodeMsgs, event.Records{Nodes: nodes})
	}
	for lo := 0; lo < neostoretest.BenchRels; lo += benchRows {
		var rels []graph.Relationship
		for i := lo; i < lo+benchRows; i++ {
			rels = append(rels, benchRel(i))
		}
		add(&relMsgs, event.Records{Relationships: rels, Final: lo+benchRows >= neostoretest.BenchRels, Batches: batch + 1})
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
	writer := neostoretest.WritePath{Name: "writer", Rels: handle(relMsgs), Nodes: func() error {
		if err := newWriter(); err != nil {
			return err
		}
		w.MaxRows = config.Neo4jMaxRows
		return writeNodes()
	}}

	neoCfg := neostoretest.Config(b)
	d, err := neo4j.NewDriverWithContext(neoCfg.URI, neo4j.BasicAuth(neoCfg.User, neoCfg.Password, ""))
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, d.Close(context.WithoutCancel(b.Context()))) })
	plainNodes, plainRels := neostoretest.PlainWrites(b.Context(), d, neoCfg.Database)
	neostoretest.CompareWrites(b, st, neostoretest.WritePath{Name: "driver", Nodes: plainNodes, Rels: plainRels}, writer)
}
