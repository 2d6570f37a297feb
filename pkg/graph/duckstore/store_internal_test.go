package duckstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/metrictest"
)

func TestCheckpointThreshold(t *testing.T) {
	tests := []struct {
		give string
		want int64
	}{
		{give: "", want: 64 << 20},
		{give: "256MB", want: 64e6},
		{give: "2GiB", want: 64 << 20},
		{give: "128MiB", want: 32 << 20},
		{give: "100 MB", want: 25e6},
		{give: "1.5MB", want: 1 << 20},
		{give: "64KB", want: 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, checkpointThreshold(tt.give))
		})
	}
}

// TestOpenRefusesOldLayout checks that a graph file from before the hashed
// ids is refused with a way out, instead of failing on its first write.
func TestOpenRefusesOldLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.duckdb")
	execOn(t, path, "CREATE TABLE nodes (label VARCHAR, key VARCHAR, props VARCHAR, PRIMARY KEY (label, key))")

	_, err := Open(t.Context(), Config{Path: path})
	require.ErrorIs(t, err, ErrOldLayout)
	assert.ErrorContains(t, err, "docgraph reconcile --watch DIR --fix")
	assert.ErrorContains(t, err, "docgraph replay graph-writer --since 2000-01-01")
}

// TestOpenAddsExtractionRevisions checks that a graph file written before
// extractions kept their gazetteer revision gets the column and keeps its
// digests.
func TestOpenAddsExtractionRevisions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.duckdb")
	s, err := Open(t.Context(), Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	execOn(t, path, "ALTER TABLE extractions DROP COLUMN revision; INSERT INTO extractions VALUES (1, 'a.md', 'abc', '0', 'digest')")

	s, err = Open(t.Context(), Config{Path: path})
	require.NoError(t, err)
	var rev uint64
	var digest string
	require.NoError(t, s.db.QueryRowContext(t.Context(), "SELECT digest, revision FROM extractions WHERE id = 1").Scan(&digest, &rev))
	assert.Equal(t, "digest", digest)
	assert.Zero(t, rev)
	require.NoError(t, s.Close())
}

// TestOpenAddsSupportProperties checks that a graph file written before
// support kept the properties it gave gets the column: its records stay
// as they are, and records written afterwards take their properties back
// when withdrawn.
func TestOpenAddsSupportProperties(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.duckdb")
	records := func(file, sha string, version uint64, key string, props map[string]any) graph.Op {
		return graph.Op{PutRecords: &event.Records{Source: event.NewDocument(file, sha, 10, version), Mapping: "people",
			Final: true, Batches: 1, Nodes: []graph.Node{{Label: "Person", Key: key, Properties: props}}}}
	}
	mention := graph.Op{PutChunk: &event.Extraction{Chunk: event.Chunk{Document: event.NewDocument("a.md", "sha-a", 10, 1),
		Total: 1, Text: "Ada and Bob."}, Mentions: []graph.Node{{Label: "Person", Key: "ada"}, {Label: "Person", Key: "bob"}}}}
	s, err := Open(t.Context(), Config{Path: path, Labels: []string{"Person"}})
	require.NoError(t, err)
	require.NoError(t, s.Apply(t.Context(), []graph.Op{mention, records("old.csv", "sha-old", 2, "ada", map[string]any{"email": "ada@x"})}))
	require.NoError(t, s.Close())
	execOn(t, path, "ALTER TABLE support DROP COLUMN props")

	s, err = Open(t.Context(), Config{Path: path, Labels: []string{"Person"}})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Apply(t.Context(), []graph.Op{records("new.csv", "sha-new", 3, "bob", map[string]any{"email": "bob@x"})}))
	require.NoError(t, s.Apply(t.Context(), []graph.Op{
		{DeleteDocument: &event.DocumentDeleted{Path: "old.csv", Version: 4}},
		{DeleteDocument: &event.DocumentDeleted{Path: "new.csv", Version: 5}},
	}))
	props := func(key string) string {
		var p string
		require.NoError(t, s.db.QueryRowContext(t.Context(), "SELECT props FROM nodes WHERE label = 'Person' AND key = ?", key).Scan(&p))
		return p
	}
	assert.JSONEq(t, `{"email":["s","ada@x"]}`, props("ada"), "support written before the column gave nothing to take back")
	assert.JSONEq(t, `{}`, props("bob"), "support written since takes its properties back")
}

// TestOpenAddsMentionProperties checks that a graph file written before
// MENTIONS kept their properties gets the column, keeps its mentions and
// takes new ones.
func TestOpenAddsMentionProperties(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.duckdb")
	s, err := Open(t.Context(), Config{Path: path})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	execOn(t, path, `DROP INDEX IF EXISTS mentions_chunk; ALTER TABLE mentions DROP COLUMN props;
		CREATE INDEX mentions_chunk ON mentions (chunk); INSERT INTO mentions VALUES (1, 2, 'Person', 'ada')`)

	s, err = Open(t.Context(), Config{Path: path, Labels: []string{"Person"}})
	require.NoError(t, err)
	var props sql.NullString
	require.NoError(t, s.db.QueryRowContext(t.Context(), "SELECT props FROM mentions WHERE chunk = 1").Scan(&props))
	assert.False(t, props.Valid)
	doc := event.NewDocument("a.md", "abc", 3, 1)
	require.NoError(t, s.Apply(t.Context(), []graph.Op{{PutChunk: &event.Extraction{
		Chunk:    event.Chunk{Document: doc, Index: 0, Total: 1, Text: "Ada."},
		Mentions: []graph.Node{{Label: "Person", Key: "ada", Properties: map[string]any{"name": "Ada"}}},
	}}}))
	require.NoError(t, s.db.QueryRowContext(t.Context(), "SELECT props FROM mentions WHERE chunk <> 1").Scan(&props))
	assert.JSONEq(t, `{"name":["s","Ada"]}`, props.String)
	require.NoError(t, s.Close())
}

// execOn runs stmt on the graph file at path, as a file written by an
// earlier version would read.
func execOn(t *testing.T, path, stmt string) {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(stmt)
	require.NoError(t, err)
	require.NoError(t, db.Close())
}

// A graph whose indexes outgrow the memory limit is reported: a warning
// once they hold most of it, and, when writes fail, an error that says the
// indexes hold the memory (not that the write was too large). The limit
// the store compares with is made small: filling a real one with indexes
// takes millions of rows.
func TestIndexesOutgrowTheMemoryLimit(t *testing.T) {
	old := indexCheckEvery
	indexCheckEvery = 0
	t.Cleanup(func() { indexCheckEvery = old })
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	st, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), "graph.duckdb"), Labels: []string{"Person"},
		MemoryLimit: "256MB", Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.Setup(t.Context()))
	write := func(b int) error {
		r := &event.Records{Source: event.NewDocument(fmt.Sprintf("people-%03d.csv", b), strings.Repeat("a", 64), 1, 1), Batch: 1, Final: true, Batches: 1}
		for i := range 1000 {
			r.Nodes = append(r.Nodes, event.Node{Label: "Person", Key: fmt.Sprintf("person %d-%d", b, i)})
		}
		return st.Apply(t.Context(), []graph.Op{{PutRecords: r}})
	}
	oom := errors.New("Failed to append: failed to pin block of size 256.0 KiB (243.9 MiB/244.1 MiB used)")

	require.NoError(t, write(0))
	idx, err := st.indexMemory(t.Context())
	require.NoError(t, err)
	require.Positive(t, idx)
	assert.Empty(t, logs.String(), "indexes far below the limit")
	assert.InDelta(t, float64(idx), metrictest.Gauge(t, reg, "docgraph_graph_index_bytes"), float64(idx)/10, "the gauge measured after the write")
	assert.Equal(t, 256e6, metrictest.Gauge(t, reg, "docgraph_graph_memory_limit_bytes"))
	got := st.resourceErr(t.Context(), oom)
	require.ErrorIs(t, got, graph.ErrResources)
	assert.ErrorContains(t, got, "graph.duckdb_memory, is too small for this write")

	st.memLimit = idx * 5 / 4 // the indexes hold 80% of it
	require.NoError(t, write(1))
	require.NoError(t, write(2))
	assert.Equal(t, 1, strings.Count(logs.String(), "the graph's indexes fill its memory limit"), "warned once: %s", logs.String())
	assert.Contains(t, logs.String(), "move the graph to Neo4j")
	got = st.resourceErr(t.Context(), oom)
	require.ErrorIs(t, got, graph.ErrResources)
	assert.ErrorContains(t, got, "is mostly held by the graph's indexes")
	assert.ErrorContains(t, got, "raise graph.duckdb_memory")
	assert.NotContains(t, got.Error(), "too small for this write")

	st.memLimit = idx * 100 // shrunk again below the share: a later crossing warns again
	require.NoError(t, write(3))
	idx, err = st.indexMemory(t.Context())
	require.NoError(t, err)
	st.memLimit = idx
	require.NoError(t, write(4))
	assert.Equal(t, 2, strings.Count(logs.String(), "the graph's indexes fill its memory limit"))
	assert.NoError(t, st.resourceErr(t.Context(), nil))
	// What DuckDB's buffer manager says, in an appender's plain text.
	for _, text := range []string{
		"Failed to append: could not allocate block of size 256.0 KiB (244.0 MiB/244.1 MiB used)",
		"failed to allocate data of size 64.0 MiB (200.0 MiB/244.1 MiB used)",
		"Out of Memory Error: failed to pin block",
	} {
		assert.ErrorIs(t, st.resourceErr(t.Context(), errors.New(text)), graph.ErrResources, text)
	}
	plain := errors.New("constraint violated")
	assert.Equal(t, plain, st.resourceErr(t.Context(), plain))
}

// A store opened again in the same process (the same registry) reports
// through the gauges the first registered.
func TestGaugesOfAStoreOpenedAgain(t *testing.T) {
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	for i, limit := range []string{"300MB", "400MB"} {
		st, err := Open(t.Context(), Config{Path: filepath.Join(dir, "graph.duckdb"), MemoryLimit: limit, Registerer: reg})
		require.NoError(t, err, "open %d", i)
		require.NoError(t, st.Close())
		assert.Equal(t, float64(sizeBytes(limit)), metrictest.Gauge(t, reg, "docgraph_graph_memory_limit_bytes"))
	}
}

// TestOpenDropsTheMentionsIndex: a graph file written with the index on
// MENTIONS (which DuckDB let go stale after a killed process, so that a
// chunk's mentions deleted through it left some behind) loses it when
// opened, and deletions find every mention without it.
func TestOpenDropsTheMentionsIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "graph.duckdb")
	s, err := Open(t.Context(), Config{Path: path, Labels: []string{"Person"}})
	require.NoError(t, err)
	doc := event.NewDocument("a.md", "abc", 3, 1)
	put := func(doc event.Document, names ...string) {
		x := &event.Extraction{Chunk: event.Chunk{Document: doc, Index: 0, Total: 1, Text: strings.Join(names, " and ") + "."}}
		for _, n := range names {
			x.Mentions = append(x.Mentions, graph.Node{Label: "Person", Key: strings.ToLower(n), Properties: map[string]any{"name": n}})
		}
		require.NoError(t, s.Apply(t.Context(), []graph.Op{{PutChunk: x}}))
	}
	put(doc, "Ada", "Bob")
	require.NoError(t, s.Close())
	execOn(t, path, `CREATE INDEX mentions_chunk ON mentions (chunk)`)

	s, err = Open(t.Context(), Config{Path: path, Labels: []string{"Person"}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	var indexes int
	require.NoError(t, s.db.QueryRowContext(t.Context(),
		"SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'mentions'").Scan(&indexes))
	assert.Zero(t, indexes, "the index on mentions is dropped")

	doc.Version = 2
	put(doc, "Carol") // same content key, extracted anew: the chunk's mentions are replaced
	var mentioned []string
	rows, err := s.db.QueryContext(t.Context(), "SELECT key FROM mentions ORDER BY key")
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		mentioned = append(mentioned, k)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"carol"}, mentioned)
}
