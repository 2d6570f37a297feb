// Package graphtest is the conformance suite every graph.Store runs, so that
// the embedded DuckDB store and Neo4j behave identically.
//
// A store's test calls Run with a function that opens an EMPTY store
// configured with the schema the suite uses:
//
//	graphtest.Run(t, func(t *testing.T) graph.Store {
//		s, err := duckstore.Open(t.Context(), duckstore.Config{
//			Labels: graphtest.Labels(), RelTypes: graphtest.RelTypes(),
//		})
//		require.NoError(t, err)
//		t.Cleanup(func() { require.NoError(t, s.Close()) })
//		return s
//	})
//
// open is called once per subtest; a store on a shared server (Neo4j) wipes
// its database (nodes, relationships and version bookkeeping) before
// returning. Subtests do not run in parallel. Run calls Setup itself.
//
// Rules the suite pins down beyond graph.go:
//
//   - Exported property values have the canonical types of
//     graph.NormalizeProperties: string, int64, float64, bool, []any. A nil
//     value in an op removes the property (SET n += {p: null}). Empty
//     property maps may be exported as nil or empty.
//   - A node's key is not one of its properties; an entity property named
//     "key" and a relationship property named "source" are refused with
//     graph.ErrInvalid, as are labels and types outside the schema, the
//     structural labels (Document, Chunk) and types (HAS_CHUNK, MENTIONS)
//     used as entities or domain relationships, empty keys, paths and
//     sha256s, and unsupported property values.
//   - A relationship with an empty Source gets "text" in PutChunk and
//     "structured" in PutRecords. Evidence is not stored.
//   - A relationship endpoint that does not exist is created key-only and
//     gets no support from that op: it lives while it has relationships or
//     support of its own.
//   - Deleting a document keeps its version, so a stale op for the path that
//     arrives later is still ignored; a newer one recreates the document.
//   - A PutChunk at the stored version of its path whose GazetteerRevision
//     is lower than that of the chunk's stored extraction (for that path) is
//     stale and ignored: it was made with older names than the chunk's
//     re-extraction and arrived after it. Equal or higher revisions replace,
//     and a newer version is written whatever its revision.
//   - Garbage collection runs after each op, so how the writer batches ops
//     into Apply calls does not change the result.
//   - Strings sort by bytes (Go string order).
package graphtest
