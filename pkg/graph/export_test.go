package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
)

// fakeStore serves a fixed, already sorted graph.
type fakeStore struct {
	nodes []graph.Node
	rels  []graph.Relationship
	err   error // returned by Export and Stats
}

func (f *fakeStore) Setup(context.Context) error                          { return nil }
func (f *fakeStore) Apply(context.Context, []graph.Op) error              { return nil }
func (f *fakeStore) Ping(context.Context) error                           { return nil }
func (f *fakeStore) Close() error                                         { return nil }
func (f *fakeStore) Documents(context.Context) (map[string]string, error) { return nil, nil }

func (f *fakeStore) Export(_ context.Context, nodes func(graph.Node) error, rels func(graph.Relationship) error) error {
	if f.err != nil {
		return f.err
	}
	for _, n := range f.nodes {
		if err := nodes(n); err != nil {
			return err
		}
	}
	for _, r := range f.rels {
		if err := rels(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) Stats(context.Context) (graph.Stats, error) {
	if f.err != nil {
		return graph.Stats{}, f.err
	}
	st := graph.Stats{Nodes: map[string]int64{}, Relationships: map[string]int64{}}
	for _, n := range f.nodes {
		st.Nodes[n.Label]++
	}
	for _, r := range f.rels {
		st.Relationships[r.Type]++
	}
	return st, nil
}

const hostile = "x`}) DETACH DELETE n //"

func sampleGraph() *fakeStore {
	return &fakeStore{
		nodes: []graph.Node{
			{Label: "Document", Key: "a.md", Properties: map[string]any{"path": "a.md", "size": int64(12)}},
			{Label: "Person", Key: hostile, Properties: map[string]any{
				"name": "O'Brien \\ \"q\"\n<b>&", "score": 2.5, "whole": float64(3), "big": 1e21,
				"active": true, "tags": []any{"a", "b"}, "min": int64(math.MinInt64),
			}},
			{Label: "Project", Key: "apollo"},
		},
		rels: []graph.Relationship{
			{Type: "HAS_CHUNK", From: graph.NodeRef{Label: "Document", Key: "a.md"}, To: graph.NodeRef{Label: "Chunk", Key: "s:0"}},
			{Type: "MANAGES", From: graph.NodeRef{Label: "Person", Key: hostile}, To: graph.NodeRef{Label: "Project", Key: "apollo"},
				Source: "text", Properties: map[string]any{"source": "text"}},
		},
	}
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name string
		give *fakeStore
		want string
	}{
		{name: "empty", give: &fakeStore{}, want: "{\"nodes\":[\n\n],\"relationships\":[\n]}\n"},
		{
			name: "nodes only",
			give: &fakeStore{nodes: []graph.Node{{Label: "Project", Key: "apollo"}, {Label: "Project", Key: "b<&>"}}},
			want: "{\"nodes\":[\n" +
				`{"label":"Project","key":"apollo","properties":{}},` + "\n" +
				`{"label":"Project","key":"b<&>","properties":{}}` +
				"\n],\"relationships\":[\n]}\n",
		},
		{
			name: "nodes and relationships",
			give: sampleGraph(),
			want: "{\"nodes\":[\n" +
				`{"label":"Document","key":"a.md","properties":{"path":"a.md","size":12}},` + "\n" +
				`{"label":"Person","key":"x` + "`" + `}) DETACH DELETE n //","properties":{"active":true,"big":1e+21,"min":-9223372036854775808,"name":"O'Brien \\ \"q\"\n<b>&","score":2.5,"tags":["a","b"],"whole":3}},` + "\n" +
				`{"label":"Project","key":"apollo","properties":{}}` + "\n" +
				"],\"relationships\":[\n" +
				`{"type":"HAS_CHUNK","from":{"label":"Document","key":"a.md"},"to":{"label":"Chunk","key":"s:0"},"properties":{}},` + "\n" +
				`{"type":"MANAGES","from":{"label":"Person","key":"x` + "`" + `}) DETACH DELETE n //"},"to":{"label":"Project","key":"apollo"},"properties":{"source":"text"}}` +
				"\n]}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, graph.WriteJSON(t.Context(), tt.give, &buf))
			assert.Equal(t, tt.want, buf.String())

			var decoded struct {
				Nodes         []map[string]any `json:"nodes"`
				Relationships []map[string]any `json:"relationships"`
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &decoded), "output must be valid JSON")
			assert.Len(t, decoded.Nodes, len(tt.give.nodes))
			assert.Len(t, decoded.Relationships, len(tt.give.rels))
		})
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	badProps := &fakeStore{nodes: []graph.Node{{Label: "Person", Key: "a", Properties: map[string]any{"m": map[string]any{}}}}}
	badRel := &fakeStore{rels: []graph.Relationship{{Type: "MANAGES", Properties: map[string]any{"f": math.NaN()}}}}
	tests := []struct {
		name    string
		write   func(context.Context, graph.Store, io.Writer) error
		give    graph.Store
		w       io.Writer
		wantErr string
	}{
		{name: "json export error", write: graph.WriteJSON, give: &fakeStore{err: boom}, w: &bytes.Buffer{}, wantErr: "boom"},
		{name: "json writer error", write: graph.WriteJSON, give: sampleGraph(), w: &failWriter{n: 10}, wantErr: "disk full"},
		{name: "json unencodable", write: graph.WriteJSON, give: &fakeStore{nodes: []graph.Node{{Properties: map[string]any{"f": math.Inf(1)}}}}, w: &bytes.Buffer{}, wantErr: "unsupported value"},
		{name: "cypher stats error", write: graph.WriteCypher, give: &fakeStore{err: boom}, w: &bytes.Buffer{}, wantErr: "boom"},
		{name: "cypher writer error", write: graph.WriteCypher, give: sampleGraph(), w: &failWriter{n: 10}, wantErr: "disk full"},
		{name: "cypher bad node property", write: graph.WriteCypher, give: badProps, w: &bytes.Buffer{}, wantErr: `node Person "a": property "m"`},
		{name: "cypher bad relationship property", write: graph.WriteCypher, give: badRel, w: &bytes.Buffer{}, wantErr: `relationship MANAGES: property "f"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.write(t.Context(), tt.give, tt.w)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestWriteCypher(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, graph.WriteCypher(t.Context(), sampleGraph(), &buf))
	want := "// docgraph graph export: 3 nodes, 2 relationships\n" +
		"CREATE CONSTRAINT IF NOT EXISTS FOR (n:`Document`) REQUIRE n.key IS UNIQUE;\n" +
		"CREATE CONSTRAINT IF NOT EXISTS FOR (n:`Person`) REQUIRE n.key IS UNIQUE;\n" +
		"CREATE CONSTRAINT IF NOT EXISTS FOR (n:`Project`) REQUIRE n.key IS UNIQUE;\n" +
		"UNWIND [\n  {key: 'a.md', props: {`path`: 'a.md', `size`: 12}}\n] AS row\n" +
		"MERGE (n:`Document` {key: row.key}) SET n += row.props;\n" +
		"UNWIND [\n  {key: 'x`}) DETACH DELETE n //', props: {`active`: true, `big`: 1e21, `min`: (-9223372036854775807 - 1), " +
		"`name`: 'O\\'Brien \\\\ \"q\"\\n<b>&', `score`: 2.5, `tags`: ['a', 'b'], `whole`: 3.0}}\n] AS row\n" +
		"MERGE (n:`Person` {key: row.key}) SET n += row.props;\n" +
		"UNWIND [\n  {key: 'apollo', props: {}}\n] AS row\n" +
		"MERGE (n:`Project` {key: row.key}) SET n += row.props;\n" +
		"UNWIND [\n  {from: 'a.md', to: 's:0', source: '', props: {}}\n] AS row\n" +
		"MATCH (a:`Document` {key: row.from})\nMATCH (b:`Chunk` {key: row.to})\n" +
		"MERGE (a)-[r:`HAS_CHUNK`]->(b) SET r += row.props;\n" +
		"UNWIND [\n  {from: 'x`}) DETACH DELETE n //', to: 'apollo', source: 'text', props: {`source`: 'text'}}\n] AS row\n" +
		"MATCH (a:`Person` {key: row.from})\nMATCH (b:`Project` {key: row.to})\n" +
		"MERGE (a)-[r:`MANAGES` {source: row.source}]->(b) SET r += row.props;\n"
	assert.Equal(t, want, buf.String())
}

func TestWriteCypherHostileStringsStayData(t *testing.T) {
	hostiles := []string{
		hostile,
		`'}) MATCH (n) DETACH DELETE n //`,
		"\\'; MATCH (n) DETACH DELETE n; //",
		"line\nbreak\r\n\ttab\x00nul\x1bescape\u2028sep",
		"ünïcödé ✓ 🚀 julia łukasiewicz",
		"\\u0027 literal backslash-u",
	}
	g := &fakeStore{}
	for i, h := range hostiles {
		props := map[string]any{"value": h, "list": []any{h}}
		if !hasControl(h) {
			props[h] = h
		}
		g.nodes = append(g.nodes, graph.Node{Label: "Person", Key: fmt.Sprint(i) + h, Properties: props})
	}
	g.nodes = append(g.nodes, graph.Node{Label: "Weird`Label", Key: "k"})
	g.rels = append(g.rels, graph.Relationship{Type: "A`]->() DELETE x //", From: graph.NodeRef{Label: "Person", Key: "0" + hostile},
		To: graph.NodeRef{Label: "Weird`Label", Key: "k"}, Source: hostile, Properties: map[string]any{"source": hostile}})
	var buf bytes.Buffer
	require.NoError(t, graph.WriteCypher(t.Context(), g, &buf))

	lx := lexCypher(t, buf.String())
	// Two constraints, two node statements, one relationship statement.
	assert.Equal(t, 5, lx.statements, buf.String())
	for i, h := range hostiles {
		assert.Contains(t, lx.strings, h, "value %d", i)
		assert.Contains(t, lx.strings, fmt.Sprint(i)+h, "key %d", i)
		if !hasControl(h) {
			assert.Contains(t, lx.names, h, "property name %d", i)
		}
	}
	assert.Contains(t, lx.names, "Weird`Label")
	assert.Contains(t, lx.names, "A`]->() DELETE x //")
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < 0x20 }) >= 0
}

type lexed struct {
	statements int
	strings    []string
	names      []string
}

// lexCypher splits a script into string literals, quoted names and
// statements the way Cypher's lexer does, failing on a bad escape.
func lexCypher(t *testing.T, s string) lexed {
	t.Helper()
	var out lexed
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == '/' && i+1 < len(rs) && rs[i+1] == '/':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
		case rs[i] == ';':
			out.statements++
		case rs[i] == '`':
			var b strings.Builder
			for i++; ; i++ {
				require.Less(t, i, len(rs), "unterminated name")
				if rs[i] == '`' {
					if i+1 < len(rs) && rs[i+1] == '`' {
						b.WriteRune('`')
						i++
						continue
					}
					break
				}
				b.WriteRune(rs[i])
			}
			out.names = append(out.names, b.String())
		case rs[i] == '\'':
			var b strings.Builder
			for i++; ; i++ {
				require.Less(t, i, len(rs), "unterminated string")
				if rs[i] == '\'' {
					break
				}
				require.NotContains(t, []rune{'\n', '\r'}, rs[i], "raw line break in string literal")
				if rs[i] != '\\' {
					b.WriteRune(rs[i])
					continue
				}
				i++
				switch rs[i] {
				case '\\', '\'', '"':
					b.WriteRune(rs[i])
				case 'n':
					b.WriteRune('\n')
				case 'r':
					b.WriteRune('\r')
				case 't':
					b.WriteRune('\t')
				case 'u':
					n, err := strconv.ParseUint(string(rs[i+1:i+5]), 16, 32)
					require.NoError(t, err)
					b.WriteRune(rune(n))
					i += 4
				default:
					t.Fatalf("bad escape \\%c", rs[i])
				}
			}
			out.strings = append(out.strings, b.String())
		}
	}
	return out
}

func TestWriteCypherBatches(t *testing.T) {
	g := &fakeStore{}
	for i := range 1201 {
		g.nodes = append(g.nodes, graph.Node{Label: "Person", Key: fmt.Sprintf("p%05d", i)})
	}
	var buf bytes.Buffer
	require.NoError(t, graph.WriteCypher(t.Context(), g, &buf))
	assert.Equal(t, 3, strings.Count(buf.String(), "UNWIND"), "1201 rows in batches of 500")
	assert.Equal(t, 1201, strings.Count(buf.String(), "{key: 'p"))
}
