package duckstore

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// TestFlushJoinsTransaction checks that rows staged through appenders are
// part of Apply's transaction: a rollback leaves nothing behind.
func TestFlushJoinsTransaction(t *testing.T) {
	s, err := Open(t.Context(), Config{Labels: []string{"Person"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })

	tx, err := s.wconn.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	b := newBatch(tx, s.wconn, s.types)
	b.addNode(nodeID{"Person", "ada"}, map[string]any{"name": "Ada"})
	b.addRel(relID{typ: graph.RelHasChunk, fromLabel: graph.LabelDocument, fromKey: "d", toLabel: graph.LabelChunk, toKey: "c"}, nil)
	b.mentions = append(b.mentions, mention{chunk: nodeID{graph.LabelChunk, "c"}.hash(), node: nodeID{"Person", "ada"}})
	require.NoError(t, b.flush(t.Context()))
	var n int
	require.NoError(t, tx.QueryRowContext(t.Context(), "SELECT count(*) FROM nodes").Scan(&n))
	assert.Equal(t, 1, n, "visible inside the transaction")
	require.NoError(t, tx.Rollback())

	st, err := s.Stats(t.Context())
	require.NoError(t, err)
	assert.Empty(t, st.Nodes)
	assert.Empty(t, st.Relationships)
}

// TestIDCollisionFails checks that a row whose id is taken by a different
// identity (what a hash collision would look like) fails the write instead
// of merging the two.
func TestIDCollisionFails(t *testing.T) {
	s, err := Open(t.Context(), Config{Labels: []string{"Person"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	_, err = s.db.ExecContext(t.Context(), "INSERT INTO nodes VALUES (?, 'Person', 'bob', '{}')",
		nodeID{"Person", "ada"}.hash())
	require.NoError(t, err)

	err = s.Apply(t.Context(), []graph.Op{{PutRecords: &event.Records{
		Source: event.NewDocument("people.csv", "sha", 1, 1), Mapping: "people",
		Nodes: []graph.Node{{Label: "Person", Key: "ada"}, {Label: "Person", Key: "cy"}},
	}}})
	require.ErrorContains(t, err, "node id collision: Person ada and Person bob")

	st, err := s.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"Person": 1}, st.Nodes, "nothing of the failed batch is written")
}

func TestHashPartsAreUnambiguous(t *testing.T) {
	assert.NotEqual(t, hashParts("a\x00", "b"), hashParts("a", "\x00b"))
	assert.NotEqual(t, hashParts("ab", ""), hashParts("a", "b"))
	assert.Equal(t, nodeID{"Person", "ada"}.hash(), nodeID{"Person", "ada"}.hash())
}

// Failures of the disk or of DuckDB itself are the store's, not the
// batch's: unavailable. Anything else is left as it is.
func TestStorageErr(t *testing.T) {
	assert.NoError(t, storageErr(nil))
	for _, err := range []error{
		&duckdb.Error{Type: duckdb.ErrorTypeIO, Msg: "IO Error: Cannot open file"},
		&duckdb.Error{Type: duckdb.ErrorTypePermission, Msg: "Permission Error: Cannot write"},
		&duckdb.Error{Type: duckdb.ErrorTypeFatal, Msg: "FATAL Error: database has been invalidated because of a previous fatal error"},
		fmt.Errorf("commit: %w", &duckdb.Error{Type: duckdb.ErrorTypeTransaction, Msg: `TransactionContext Error: Failed to commit: Could not write file "/d/graph.duckdb.wal": Read-only file system`}),
		errors.New(`Could not write file "/d/graph.duckdb.wal": No space left on device`),
	} {
		got := storageErr(err)
		assert.ErrorIs(t, got, graph.ErrUnavailable, "%v", err)
		assert.ErrorIs(t, got, err)
	}
	for _, err := range []error{
		&duckdb.Error{Type: duckdb.ErrorTypeConstraint, Msg: "Constraint Error: Duplicate key"},
		fmt.Errorf("%w: key too long", graph.ErrInvalid),
	} {
		assert.Same(t, err, storageErr(err))
	}
}

// A large withdrawal reads its candidates through temporary tables; none
// outlives its Apply, since DuckDB holds the memory of a temporary table's
// rows until it is dropped (and counts it against the graph's limit).
func TestNoTemporaryTableOutlivesApply(t *testing.T) {
	s, err := Open(t.Context(), Config{Labels: []string{"Person", "Team"}, RelTypes: []string{"MEMBER_OF"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	version := func(v uint64, sha string) graph.Op {
		r := &event.Records{Source: event.NewDocument("teams.csv", sha, 1, v), Batch: 1, Final: true, Batches: 1}
		for i := range 3 * rowsPerStatement {
			p := fmt.Sprintf("p%d", i)
			r.Nodes = append(r.Nodes, event.Node{Label: "Person", Key: p, Properties: map[string]any{"name": p}})
			r.Relationships = append(r.Relationships, event.Relationship{Type: "MEMBER_OF", Source: event.SourceStructured,
				From: event.NodeRef{Label: "Person", Key: p}, To: event.NodeRef{Label: "Team", Key: "t"}, Properties: map[string]any{"role": "x"}})
		}
		return graph.Op{PutRecords: r}
	}
	require.NoError(t, s.Apply(t.Context(), []graph.Op{version(1, "a")}))
	require.NoError(t, s.Apply(t.Context(), []graph.Op{version(2, "b")}))
	var temps int
	require.NoError(t, s.wconn.QueryRowContext(t.Context(), "SELECT count(*) FROM duckdb_tables() WHERE temporary").Scan(&temps))
	assert.Zero(t, temps)
	st, err := s.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(3*rowsPerStatement), st.Relationships["MEMBER_OF"], "the new version's relationships stay")
}

// Owners share the key sets of what their withdrawn rows gave: a large
// withdrawal holds one small set per distinct list of keys, and union and
// without never change a set another owner holds.
func TestKeySetsAreShared(t *testing.T) {
	var m map[nodeID]keySet
	keys := sql.NullString{String: `["role","name"]`, Valid: true}
	require.NoError(t, addKeys(&m, nodeID{"Person", "a"}, keys))
	require.NoError(t, addKeys(&m, nodeID{"Person", "b"}, keys))
	require.NoError(t, addKeys(&m, nodeID{"Person", "b"}, sql.NullString{String: `["name"]`, Valid: true}))
	assert.Equal(t, keySet{"name", "role"}, m[nodeID{"Person", "a"}])
	assert.Same(t, &m[nodeID{"Person", "a"}][0], &m[nodeID{"Person", "b"}][0], "one set for both")

	require.NoError(t, addKeys(&m, nodeID{"Person", "b"}, sql.NullString{String: `["title"]`, Valid: true}))
	dropKeys(m, nodeID{"Person", "a"}, map[string]any{"name": "A", "role": nil})
	assert.Equal(t, keySet{"name", "role", "title"}, m[nodeID{"Person", "b"}])
	assert.Equal(t, keySet{"role"}, m[nodeID{"Person", "a"}], "a nil value gives nothing")
	dropKeys(m, nodeID{"Person", "a"}, map[string]any{"role": "x"})
	assert.NotContains(t, m, nodeID{"Person", "a"})

	require.NoError(t, addKeys(&m, nodeID{"Person", "c"}, sql.NullString{String: `[]`, Valid: true}))
	require.NoError(t, addKeys(&m, nodeID{"Person", "c"}, sql.NullString{}))
	assert.NotContains(t, m, nodeID{"Person", "c"})
	assert.ErrorContains(t, addKeys(&m, nodeID{"Person", "c"}, sql.NullString{String: `{`, Valid: true}), "given properties")
}

// TestExtractionDigest: the digest changes with anything a chunk op
// writes, and only with that.
func TestExtractionDigest(t *testing.T) {
	base := func() op {
		return op{
			kind: opChunk, index: 1, total: 2, text: "Ada Lovelace leads PRJ-1.",
			mentions: []nodeWrite{
				{id: nodeID{"Person", "ada lovelace"}, props: map[string]any{"name": "Ada Lovelace", "role": "lead"}},
				{id: nodeID{"Project", "PRJ-1"}},
			},
			rels: []relWrite{{id: relID{"MANAGES", "Person", "ada lovelace", "Project", "PRJ-1", "text"}}},
		}
	}
	digest := func(o op) string {
		d, err := extractionDigest(o)
		require.NoError(t, err)
		return d
	}
	want := digest(base())
	assert.Len(t, want, 64)

	same := base()
	same.index, same.total, same.revision = 0, 5, 9 // where the chunk is and the names it was made with are not what it writes
	same.mentions[0].props = map[string]any{"role": "lead", "name": "Ada Lovelace"}
	assert.Equal(t, want, digest(same))

	for name, change := range map[string]func(o *op){
		"text":                 func(o *op) { o.text += " " },
		"a mention's label":    func(o *op) { o.mentions[1].id.label = "Team" },
		"a mention's key":      func(o *op) { o.mentions[1].id.key = "PRJ-2" },
		"a mention's property": func(o *op) { o.mentions[0].props["name"] = "Ada" },
		"a property more":      func(o *op) { o.mentions[1].props = map[string]any{"name": "PRJ-1"} },
		"a property's type":    func(o *op) { o.mentions[0].props["role"] = 1.0 },
		"a property removed":   func(o *op) { o.mentions[0].props["role"] = nil },
		"mentions reordered":   func(o *op) { o.mentions[0], o.mentions[1] = o.mentions[1], o.mentions[0] },
		"a mention less":       func(o *op) { o.mentions = o.mentions[:1] },
		"a relationship less":  func(o *op) { o.rels = nil },
		"a relationship's end": func(o *op) { o.rels[0].id.toKey = "PRJ-2" },
		"a relationship's source": func(o *op) {
			o.rels[0].id.source = "llm"
		},
		"a relationship's property": func(o *op) { o.rels[0].props = map[string]any{"since": "2024"} },
		"a field's bounds moved": func(o *op) {
			o.mentions[1].id.label, o.mentions[1].id.key = "ProjectPRJ", "-1"
		},
	} {
		o := base()
		change(&o)
		assert.NotEqual(t, want, digest(o), name)
	}

	// A map of strings and a map of other values never write the same
	// bytes, whatever the strings hold.
	asJSON := base()
	asJSON.mentions[1].props = map[string]any{"n": 1.0}
	asStrings := base()
	asStrings.mentions[1].props = map[string]any{"json": `{"n":1}`}
	assert.NotEqual(t, digest(asJSON), digest(asStrings))
}
