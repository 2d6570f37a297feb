package graphtest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// BenchChunkOps returns the chunk ops of version version of docs generated
// documents shaped like `docgraph bench`'s corpus, for the stores'
// benchmarks: 14 chunks of about 900 characters each, nine mentions per
// chunk out of 80 entities, a MANAGES in every fourth. Each version has
// other contents (sha256) at the same paths (BenchPath).
func BenchChunkOps(docs int, version uint64) []graph.Op {
	text := strings.Repeat("The quarterly review covered budget, risks and the AACE-101 procedure. ", 13)
	var ops []graph.Op
	for d := range docs {
		sum := sha256.Sum256([]byte(strconv.Itoa(d) + "/" + strconv.FormatUint(version, 10)))
		doc := event.NewDocument(BenchPath(d), hex.EncodeToString(sum[:]), 10_000, version)
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

// BenchPath is the path of generated document d of BenchChunkOps.
func BenchPath(d int) string { return fmt.Sprintf("reports/2026/report-%05d.md", d) }
