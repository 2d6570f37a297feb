package graphtest

import (
	"fmt"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// Resave returns the ops of a teams spreadsheet, data/teams.csv, written
// in two versions of four records batches of three rows each, for tests
// of withdrawing a version: the first names people p<batch>-<row> in
// teams t0 to t2 as engineers (12 people, 3 teams, 12 MEMBER_OF); the
// second keeps the people of batches 0 and 2, in teams t0 and t1 as
// leads, and names others (q<batch>-<row>) in t0 as analysts (12 people,
// 2 teams, 12 MEMBER_OF). mention is a chunk of notes/a.md mentioning p1-1
// and t2, which only the first version states; del deletes the
// spreadsheet at version 3.
func Resave() (v1, v2 []graph.Op, mention, del graph.Op) {
	ref := func(l, k string) graph.NodeRef { return graph.NodeRef{Label: l, Key: k} }
	version := func(v uint64, rows func(batch, i int) (person, team, role string)) []graph.Op {
		d := event.NewDocument("data/teams.csv", fmt.Sprintf("sha-%d", v), 100, v)
		var ops []graph.Op
		for b := range 4 {
			r := &event.Records{Source: d, Batch: b + 1, Final: b == 3, Batches: 4}
			for i := range 3 {
				person, team, role := rows(b, i)
				r.Nodes = append(r.Nodes,
					graph.Node{Label: "Person", Key: person, Properties: map[string]any{"name": "Name of " + person, "role": role}},
					graph.Node{Label: "Team", Key: team})
				r.Relationships = append(r.Relationships, graph.Relationship{Type: "MEMBER_OF", Source: event.SourceStructured,
					From: ref("Person", person), To: ref("Team", team), Properties: map[string]any{"role": role}})
			}
			ops = append(ops, graph.Op{PutRecords: r})
		}
		return ops
	}
	v1 = version(1, func(b, i int) (string, string, string) {
		return fmt.Sprintf("p%d-%d", b, i), fmt.Sprintf("t%d", i), "engineer"
	})
	v2 = version(2, func(b, i int) (string, string, string) {
		if b%2 == 0 {
			return fmt.Sprintf("p%d-%d", b, i), fmt.Sprintf("t%d", i%2), "lead"
		}
		return fmt.Sprintf("q%d-%d", b, i), "t0", "analyst"
	})
	notes := event.NewDocument("notes/a.md", "n1", 10, 1)
	mention = graph.Op{PutChunk: &event.Extraction{Chunk: event.Chunk{Document: notes, Index: 0, Total: 1, Text: "p1-1 is in t2."},
		Mentions: []graph.Node{{Label: "Person", Key: "p1-1"}, {Label: "Team", Key: "t2"}}}}
	del = graph.Op{DeleteDocument: &event.DocumentDeleted{Path: "data/teams.csv", Version: 3}}
	return v1, v2, mention, del
}
