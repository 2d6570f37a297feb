package graphtest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// Labels returns the entity labels a store under test must allow.
func Labels() []string { return []string{"Person", "Project", "Team", "Procedure"} }

// RelTypes returns the domain relationship types a store under test must allow.
func RelTypes() []string { return []string{"MANAGES", "MEMBER_OF", "WORKS_ON"} }

// Export is a whole graph as Store.Export streams it.
type Export struct {
	Nodes         []graph.Node
	Relationships []graph.Relationship
}

// Collect reads the whole export of s into memory (for tests).
func Collect(ctx context.Context, s graph.Store) (Export, error) {
	var e Export
	err := s.Export(ctx,
		func(n graph.Node) error { e.Nodes = append(e.Nodes, n); return nil },
		func(r graph.Relationship) error { e.Relationships = append(e.Relationships, r); return nil })
	return e, err
}

// CompareNodes orders nodes as Store.Export must: by label, then key.
func CompareNodes(a, b graph.Node) int {
	return cmp.Or(cmp.Compare(a.Label, b.Label), cmp.Compare(a.Key, b.Key))
}

// CompareRelationships orders relationships as Store.Export must: by type,
// from (label, key), to (label, key), then source.
func CompareRelationships(a, b graph.Relationship) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.From.Label, b.From.Label), cmp.Compare(a.From.Key, b.From.Key),
		cmp.Compare(a.To.Label, b.To.Label), cmp.Compare(a.To.Key, b.To.Key),
		cmp.Compare(a.Source, b.Source))
}

// Step is one Apply call of a case.
type step struct {
	ops     []graph.Op
	wantErr error
}

type testCase struct {
	name  string
	steps []step
	want  Export
}

// Run runs the conformance suite against stores made by open, which must
// return an empty store configured with Labels and RelTypes (see the package
// documentation).
func Run(t *testing.T, open func(t *testing.T) graph.Store) {
	t.Helper()
	for _, tt := range cases() {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, open)
			for i, st := range tt.steps {
				err := s.Apply(t.Context(), st.ops)
				if st.wantErr != nil {
					require.ErrorIs(t, err, st.wantErr, "step %d", i)
					continue
				}
				require.NoError(t, err, "step %d", i)
			}
			assertGraph(t, s, tt.want)
		})
	}
	t.Run("batching does not change the result", func(t *testing.T) {
		for _, tt := range cases() {
			var ops []graph.Op
			for _, st := range tt.steps {
				if st.wantErr == nil {
					ops = append(ops, st.ops...)
				}
			}
			t.Run(tt.name, func(t *testing.T) {
				s := openStore(t, open)
				require.NoError(t, s.Apply(t.Context(), ops))
				assertGraph(t, s, tt.want)
			})
		}
	})
	t.Run("concurrent apply", func(t *testing.T) { testConcurrent(t, open(t)) })
	t.Run("ping", func(t *testing.T) {
		s := openStore(t, open)
		require.NoError(t, s.Ping(t.Context()))
	})
	t.Run("empty apply", func(t *testing.T) {
		s := openStore(t, open)
		require.NoError(t, s.Apply(t.Context(), nil))
		assertGraph(t, s, Export{})
	})
	t.Run("export stops at callback error", func(t *testing.T) { testExportError(t, openStore(t, open)) })
	t.Run("cancelled apply writes nothing", func(t *testing.T) {
		s := openStore(t, open)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		require.Error(t, s.Apply(ctx, []graph.Op{chunkOp(docA1, 0, "Alice.", person("alice"))}))
		assertGraph(t, s, Export{})
	})
}

func openStore(t *testing.T, open func(t *testing.T) graph.Store) graph.Store {
	t.Helper()
	s := open(t)
	require.NotNil(t, s)
	require.NoError(t, s.Setup(t.Context()))
	require.NoError(t, s.Setup(t.Context()), "setup must be idempotent")
	return s
}

// assertGraph compares the store's full export, stats and documents with want.
func assertGraph(t *testing.T, s graph.Store, want Export) {
	t.Helper()
	got, err := Collect(t.Context(), s)
	require.NoError(t, err)
	assert.True(t, slices.IsSortedFunc(got.Nodes, CompareNodes), "nodes not sorted")
	assert.True(t, slices.IsSortedFunc(got.Relationships, CompareRelationships), "relationships not sorted")
	want = normalize(want)
	assert.Equal(t, want.Nodes, normalize(got).Nodes)
	assert.Equal(t, want.Relationships, normalize(got).Relationships)

	stats, err := s.Stats(t.Context())
	require.NoError(t, err)
	wantStats := graph.Stats{Nodes: map[string]int64{}, Relationships: map[string]int64{}}
	wantDocs := map[string]string{}
	for _, n := range want.Nodes {
		wantStats.Nodes[n.Label]++
		if n.Label == graph.LabelDocument {
			wantDocs[n.Key], _ = n.Properties["sha256"].(string)
		}
	}
	for _, r := range want.Relationships {
		wantStats.Relationships[r.Type]++
	}
	assert.Equal(t, wantStats.Nodes, nonNil(stats.Nodes), "stats nodes")
	assert.Equal(t, wantStats.Relationships, nonNil(stats.Relationships), "stats relationships")
	docs, err := s.Documents(t.Context())
	require.NoError(t, err)
	assert.Equal(t, wantDocs, nonNil(docs), "documents")
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// normalize sorts a copy of e and turns empty property maps into nil.
func normalize(e Export) Export {
	out := Export{Nodes: slices.Clone(e.Nodes), Relationships: slices.Clone(e.Relationships)}
	for i := range out.Nodes {
		if len(out.Nodes[i].Properties) == 0 {
			out.Nodes[i].Properties = nil
		}
	}
	for i := range out.Relationships {
		if len(out.Relationships[i].Properties) == 0 {
			out.Relationships[i].Properties = nil
		}
	}
	slices.SortFunc(out.Nodes, CompareNodes)
	slices.SortFunc(out.Relationships, CompareRelationships)
	return out
}

func testConcurrent(t *testing.T, s graph.Store) {
	require.NoError(t, s.Setup(t.Context()))
	const writers, docsPerWriter = 4, 5
	var want Export
	var wg sync.WaitGroup
	errs := make(chan error, writers*docsPerWriter)
	for w := range writers {
		var opsList [][]graph.Op
		for i := range docsPerWriter {
			d := event.NewDocument(fmt.Sprintf("w%d/doc%d.md", w, i), sha(fmt.Sprint(w, i)), 10, 1)
			p := fmt.Sprintf("person %d %d", w, i)
			op := chunkOp(d, 0, "text "+p, person(p), person("shared"))
			op.PutChunk.Relationships = []graph.Relationship{
				textRel("WORKS_ON", ref("Person", p), ref("Project", "apollo")),
			}
			opsList = append(opsList, []graph.Op{op})
			want.Nodes = append(want.Nodes, docNode(d), chunkNode(d, 0, "text "+p), person(p))
			want.Relationships = append(want.Relationships, hasChunk(d, 0),
				mentions(d, 0, "Person", p), mentions(d, 0, "Person", "shared"),
				exported(op.PutChunk.Relationships[0]))
		}
		wg.Go(func() {
			for _, ops := range opsList {
				errs <- s.Apply(t.Context(), ops)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	want.Nodes = append(want.Nodes, person("shared"), graph.Node{Label: "Project", Key: "apollo"})
	assertGraph(t, s, want)
}

func testExportError(t *testing.T, s graph.Store) {
	require.NoError(t, s.Apply(t.Context(), []graph.Op{chunkOp(docA1, 0, "Alice and Bob.", person("alice"), person("bob"))}))
	stop := errors.New("stop")
	calls := 0
	err := s.Export(t.Context(), func(graph.Node) error { calls++; return stop },
		func(graph.Relationship) error { return nil })
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls, "export must stop at the first error")
	calls = 0
	err = s.Export(t.Context(), func(graph.Node) error { return nil },
		func(graph.Relationship) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls, "export must stop at the first error")
}

// sha returns the hex SHA-256 of s, standing in for a file's hash.
func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func ref(label, key string) graph.NodeRef { return graph.NodeRef{Label: label, Key: key} }

func person(key string) graph.Node { return graph.Node{Label: "Person", Key: key} }

func node(label, key string, props map[string]any) graph.Node {
	return graph.Node{Label: label, Key: key, Properties: props}
}

func named(name string) map[string]any { return map[string]any{"name": name} }

// chunkOp writes chunk index of d, of a number of chunks not given (Total
// 0); cutOp gives it.
func chunkOp(d event.Document, index int, text string, mentions ...graph.Node) graph.Op {
	return graph.Op{PutChunk: &event.Extraction{
		Chunk:    event.Chunk{Document: d, Index: index, Text: text},
		Mentions: mentions,
	}}
}

// cutOp writes chunk index of d cut into total chunks.
func cutOp(d event.Document, total, index int, text string, rels []graph.Relationship, mentions ...graph.Node) graph.Op {
	op := chunkRelOp(d, index, text, rels, mentions...)
	op.PutChunk.Chunk.Total = total
	return op
}

// atRevision sets the gazetteer revision of a chunk op.
func atRevision(rev uint64, op graph.Op) graph.Op {
	op.PutChunk.GazetteerRevision = rev
	return op
}

func chunkRelOp(d event.Document, index int, text string, rels []graph.Relationship, mentions ...graph.Node) graph.Op {
	op := chunkOp(d, index, text, mentions...)
	op.PutChunk.Relationships = rels
	return op
}

func deleteOp(path string, version uint64) graph.Op {
	return graph.Op{DeleteDocument: &event.DocumentDeleted{Path: path, Version: version}}
}

func recordsOp(d event.Document, batch int, final bool, nodes []graph.Node, rels ...graph.Relationship) graph.Op {
	r := &event.Records{Source: d, Mapping: "people", Batch: batch, Final: final, Nodes: nodes, Relationships: rels}
	if final {
		r.Batches = batch + 1
	}
	return graph.Op{PutRecords: r}
}

func textRel(typ string, from, to graph.NodeRef) graph.Relationship {
	return graph.Relationship{Type: typ, From: from, To: to, Source: event.SourceText}
}

func structRel(typ string, from, to graph.NodeRef, props map[string]any) graph.Relationship {
	return graph.Relationship{Type: typ, From: from, To: to, Source: event.SourceStructured, Properties: props}
}

// exported is r as Export returns it: with "source" among its properties.
func exported(r graph.Relationship) graph.Relationship {
	props := map[string]any{"source": r.Source}
	for k, v := range r.Properties {
		props[k] = v
	}
	r.Properties = props
	r.Evidence = ""
	return r
}

func docNode(d event.Document) graph.Node {
	return graph.Node{Label: graph.LabelDocument, Key: d.Path, Properties: map[string]any{
		"path": d.Path, "name": d.Name, "format": d.Format, "sha256": d.SHA256, "size": d.Size,
	}}
}

func chunkNode(d event.Document, index int, text string) graph.Node {
	return graph.Node{Label: graph.LabelChunk, Key: event.ChunkKey(d.SHA256, index),
		Properties: map[string]any{"index": int64(index), "text": text}}
}

func hasChunk(d event.Document, index int) graph.Relationship {
	return graph.Relationship{Type: graph.RelHasChunk, From: ref(graph.LabelDocument, d.Path),
		To: ref(graph.LabelChunk, event.ChunkKey(d.SHA256, index))}
}

func mentions(d event.Document, index int, label, key string) graph.Relationship {
	return graph.Relationship{Type: graph.RelMentions, From: ref(graph.LabelChunk, event.ChunkKey(d.SHA256, index)),
		To: ref(label, key)}
}
