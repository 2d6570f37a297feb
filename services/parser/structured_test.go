package parser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/schemas"
	"github.com/docgraph/docgraph/services/parser"
)

// structuredCorpus returns ../shared/corpus relative to the module root.
func structuredCorpus(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test directory")
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Fatalf("test corpus missing: %s must hold the shared corpus (sample/, bad/, external/): %v", corpus, err)
	}
	return corpus
}

// shippedMapping loads schemas/structured.yaml.
func shippedMapping(t testing.TB) *schema.Mapping {
	t.Helper()
	f, err := schemas.FS.Open("structured.yaml")
	require.NoError(t, err)
	defer f.Close()
	m, err := schema.LoadMapping(f)
	require.NoError(t, err)
	return m
}

// newStructured builds a Structured for m with small test defaults.
func newStructured(t testing.TB, m *schema.Mapping, cfg parser.StructuredConfig) *parser.Structured {
	t.Helper()
	if cfg.TempDir == "" {
		cfg.TempDir = t.TempDir()
	}
	if cfg.DuckDBThreads == 0 {
		cfg.DuckDBThreads = 2
	}
	s, err := parser.NewStructured(m, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// mustMapping parses a mapping written in a test.
func mustMapping(t testing.TB, y string) *schema.Mapping {
	t.Helper()
	m, err := schema.ParseMapping([]byte(y))
	require.NoError(t, err)
	return m
}

// parsed is what one Parse call emitted.
type parsed struct {
	msgs    []pipeline.Message
	records []event.Records
}

// rejected lists every rejected row of all batches.
func (p parsed) rejected() []event.RowError {
	var out []event.RowError
	for _, r := range p.records {
		out = append(out, r.Rejected...)
	}
	return out
}

// properties returns the properties of every node emitted, by key, as
// JSON reads them back.
func (p parsed) properties(t testing.TB) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	for _, r := range p.records {
		for _, n := range r.Nodes {
			got[n.Key] = normJSON(t, n.Properties)
		}
	}
	return got
}

// requireRejected checks that a file was refused, permanently, with an
// error containing each of want, and that nothing of it was emitted.
func requireRejected(t *testing.T, p parsed, err error, want ...string) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, pipeline.IsPermanent(err), "permanent: %v", err)
	for _, w := range want {
		assert.Contains(t, err.Error(), w)
	}
	assert.Empty(t, p.msgs)
}

// parseFile runs Parse on a file as if it were at relPath.
func parseFile(t testing.TB, s *parser.Structured, relPath, localPath string) (parsed, error) {
	t.Helper()
	data, err := os.ReadFile(localPath)
	require.NoError(t, err)
	doc := event.NewDocument(relPath, fmt.Sprintf("%x", len(data))+"sha", int64(len(data)), 7)
	var out parsed
	err = s.Parse(context.Background(), doc, localPath, func(m pipeline.Message) error {
		out.msgs = append(out.msgs, m)
		var r event.Records
		require.NoError(t, m.Decode(&r))
		out.records = append(out.records, r)
		return nil
	})
	return out, err
}

// checkBatches asserts the batch numbering contract.
func checkBatches(t *testing.T, p parsed) {
	t.Helper()
	require.NotEmpty(t, p.records, "at least the final batch")
	for i, r := range p.records {
		assert.Equal(t, i, r.Batch)
		assert.Equal(t, event.SubjectRecords, p.msgs[i].Subject)
		assert.Equal(t, parser.RecordsMsgID(r.Source, i), p.msgs[i].ID)
		if i == len(p.records)-1 {
			assert.True(t, r.Final)
			assert.Equal(t, len(p.records), r.Batches)
		} else {
			assert.False(t, r.Final)
		}
	}
}

// graphSet is a union of nodes (merged by label and key, properties
// united) and relationships (by type, ends and source).
type graphSet struct {
	nodes map[string]map[string]any
	rels  map[string]map[string]any
}

func newGraphSet() graphSet {
	return graphSet{nodes: map[string]map[string]any{}, rels: map[string]map[string]any{}}
}

// normJSON makes numbers comparable (JSON round trip).
func normJSON(t testing.TB, v map[string]any) map[string]any {
	t.Helper()
	if v == nil {
		v = map[string]any{}
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}

func (g graphSet) addNode(t testing.TB, label, key string, props map[string]any) {
	id := label + "|" + key
	dst := g.nodes[id]
	if dst == nil {
		dst = map[string]any{}
		g.nodes[id] = dst
	}
	for k, v := range normJSON(t, props) {
		dst[k] = v
	}
}

func (g graphSet) addRel(t testing.TB, typ string, from, to event.NodeRef, source string, props map[string]any) {
	id := fmt.Sprintf("%s|%s:%s|%s:%s|%s", typ, from.Label, from.Key, to.Label, to.Key, source)
	dst := g.rels[id]
	if dst == nil {
		dst = map[string]any{}
		g.rels[id] = dst
	}
	for k, v := range normJSON(t, props) {
		dst[k] = v
	}
}

func (g graphSet) addRecords(t testing.TB, recs []event.Records) {
	for _, r := range recs {
		for _, n := range r.Nodes {
			g.addNode(t, n.Label, n.Key, n.Properties)
		}
		for _, rel := range r.Relationships {
			g.addRel(t, rel.Type, rel.From, rel.To, rel.Source, rel.Properties)
		}
	}
}

// expectedGraph reads the structured part of a corpus expected.json.
type expectedGraph struct {
	Nodes []struct {
		Label      string         `json:"label"`
		Key        string         `json:"key"`
		Properties map[string]any `json:"properties"`
	} `json:"nodes"`
	Relationships []struct {
		Type       string         `json:"type"`
		From       event.NodeRef  `json:"from"`
		To         event.NodeRef  `json:"to"`
		Source     string         `json:"source"`
		Properties map[string]any `json:"properties"`
	} `json:"relationships"`
	Files []struct {
		Path          string   `json:"path"`
		Expect        string   `json:"expect"`
		RejectedLines []int    `json:"rejected_lines"`
		ErrorMentions []string `json:"error_mentions"`
	} `json:"files"`
	MustNotExist []event.NodeRef `json:"must_not_exist"`
}

func loadExpected(t testing.TB, file string) expectedGraph {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var e expectedGraph
	require.NoError(t, json.Unmarshal(data, &e))
	return e
}

// structuredPart keeps the labels and relationships structured data gives.
func (e expectedGraph) structuredPart(t testing.TB) graphSet {
	g := newGraphSet()
	for _, n := range e.Nodes {
		switch n.Label {
		case "Person", "Project", "Team":
			g.addNode(t, n.Label, n.Key, n.Properties)
		}
	}
	for _, r := range e.Relationships {
		if r.Source == event.SourceStructured {
			g.addRel(t, r.Type, r.From, r.To, r.Source, r.Properties)
		}
	}
	return g
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestStructuredSampleCorpus(t *testing.T) {
	corpus := structuredCorpus(t)
	s := newStructured(t, shippedMapping(t), parser.StructuredConfig{BatchSize: 4})
	input := filepath.Join(corpus, "sample", "input")
	got := newGraphSet()
	for _, rel := range []string{"projects.xlsx", "managers.xlsx", "teams.csv"} {
		require.True(t, s.Match(rel), rel)
		p, err := parseFile(t, s, rel, filepath.Join(input, rel))
		require.NoError(t, err, rel)
		checkBatches(t, p)
		assert.Empty(t, p.rejected(), rel)
		got.addRecords(t, p.records)
	}
	want := loadExpected(t, filepath.Join(corpus, "sample", "expected.json")).structuredPart(t)
	assert.Equal(t, sortedKeys(want.nodes), sortedKeys(got.nodes))
	assert.Equal(t, want.nodes, got.nodes)
	assert.Equal(t, sortedKeys(want.rels), sortedKeys(got.rels))
	assert.Equal(t, want.rels, got.rels)
	assert.False(t, s.Match("project_manager_report.csv"))
	assert.False(t, s.Match("people_notes.txt"))
}

// badCorpusMapping maps the bad corpus's structured/ files by glob, as a
// user would, next to the shipped sources.
const badCorpusMapping = `
sources:
  - name: projects
    files: [projects.xlsx, "structured/projects*.xlsx"]
    format: xlsx
    sheet: Projects
    columns: &projectColumns
      - {name: code, required: true}
      - {name: name, required: true}
      - {name: manager, required: true}
      - {name: status, required: true}
      - {name: budget, type: float, required: true}
      - {name: start_date, type: date, required: true}
    nodes: &projectNodes
      - label: Project
        key: code
        normalize: upper
        properties: [name, status, budget, start_date]
      - label: Person
        key: manager
        normalize: lower_collapse
        properties:
          name: {column: manager, normalize: collapse}
    relationships: &projectRels
      - type: MANAGES
        from: {label: Person, key: manager}
        to: {label: Project, key: code}
  - name: projects_csv
    files: ["structured/projects*.csv"]
    format: csv
    columns: *projectColumns
    nodes: *projectNodes
    relationships: *projectRels
  - name: managers
    files: [managers.xlsx, "structured/managers*.xlsx"]
    format: xlsx
    sheet: Managers
    columns:
      - {name: name, required: true}
      - {name: role, required: true}
      - {name: email, required: true}
    nodes:
      - label: Person
        key: name
        normalize: lower_collapse
        properties:
          name: {column: name, normalize: collapse}
          role: role
          email: email
  - name: teams
    files: [teams.csv, "structured/teams*.csv"]
    format: csv
    columns:
      - {name: team_name, required: true}
      - {name: member_name, required: true}
      - {name: role, required: true}
      - {name: project_code, required: true}
    nodes:
      - label: Person
        key: member_name
        normalize: lower_collapse
        properties:
          name: {column: member_name, normalize: collapse}
      - label: Team
        key: team_name
        normalize: lower_collapse
        properties:
          name: team_name
    relationships:
      - type: MEMBER_OF
        from: {label: Person, key: member_name}
        to: {label: Team, key: team_name}
        properties: [role]
      - type: WORKS_ON
        from: {label: Team, key: team_name}
        to: {label: Project, key: project_code}
`

func TestStructuredBadCorpus(t *testing.T) {
	corpus := structuredCorpus(t)
	input := filepath.Join(corpus, "bad", "input")
	exp := loadExpected(t, filepath.Join(corpus, "bad", "expected.json"))
	m := mustMapping(t, badCorpusMapping)
	s := newStructured(t, m, parser.StructuredConfig{BatchSize: 2})
	got := newGraphSet()
	seen := 0
	for _, f := range exp.Files {
		if !s.Match(f.Path) {
			continue // a document case, for the text path
		}
		seen++
		t.Run(f.Path, func(t *testing.T) {
			p, err := parseFile(t, s, f.Path, filepath.Join(input, f.Path))
			switch f.Expect {
			case "reject_file":
				require.Error(t, err)
				assert.True(t, pipeline.IsPermanent(err), "permanent: %v", err)
				for _, want := range f.ErrorMentions {
					assert.Contains(t, err.Error(), want)
				}
				assert.Empty(t, p.msgs, "nothing emitted from a rejected file")
			case "reject_rows":
				require.NoError(t, err)
				checkBatches(t, p)
				var lines []int
				for _, re := range p.rejected() {
					lines = append(lines, re.Line)
					assert.NotEmpty(t, re.Error)
				}
				assert.Equal(t, f.RejectedLines, lines)
				got.addRecords(t, p.records)
			case "ingest":
				require.NoError(t, err)
				checkBatches(t, p)
				assert.Empty(t, p.rejected())
				got.addRecords(t, p.records)
			default:
				t.Fatalf("unknown expectation %q", f.Expect)
			}
		})
	}
	assert.Equal(t, 6, seen, "every structured case of the bad corpus is mapped")
	for _, rel := range []string{"projects.xlsx", "managers.xlsx", "teams.csv"} {
		p, err := parseFile(t, s, rel, filepath.Join(input, rel))
		require.NoError(t, err)
		got.addRecords(t, p.records)
	}
	for _, n := range exp.MustNotExist {
		assert.NotContains(t, got.nodes, n.Label+"|"+n.Key)
	}
	// Everything ingested is in the ground truth with the same properties.
	want := exp.structuredPart(t)
	for id, props := range got.nodes {
		if assert.Contains(t, want.nodes, id) {
			assert.Equal(t, want.nodes[id], props, id)
		}
	}
	for id, props := range got.rels {
		if assert.Contains(t, want.rels, id) {
			assert.Equal(t, want.rels[id], props, id)
		}
	}
	assert.Equal(t, sortedKeys(want.nodes), sortedKeys(got.nodes))
	assert.Equal(t, sortedKeys(want.rels), sortedKeys(got.rels))
}

func TestStructuredBadCorpusMessages(t *testing.T) {
	corpus := structuredCorpus(t)
	input := filepath.Join(corpus, "bad", "input")
	s := newStructured(t, mustMapping(t, badCorpusMapping), parser.StructuredConfig{})
	tests := []struct {
		file string
		want []event.RowError
	}{
		{
			file: "structured/projects_bad_budget.csv",
			want: []event.RowError{{Line: 3, Column: "budget", Value: "TBD", Error: "not a number"}},
		},
		{
			file: "structured/teams_ragged.csv",
			want: []event.RowError{
				{Line: 3, Value: "Granite Design,Esther Richter,Estimator,PRJ-1412,unexpected extra field", Error: "5 fields, the header has 4"},
				{Line: 5, Value: "Granite Design,Ana Patel,Risk Analyst", Error: "3 fields, the header has 4"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := parseFile(t, s, tt.file, filepath.Join(input, tt.file))
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.rejected())
		})
	}
}

func TestStructuredRejectFilePolicy(t *testing.T) {
	corpus := structuredCorpus(t)
	input := filepath.Join(corpus, "bad", "input")
	y := strings.Replace(badCorpusMapping, "sources:", "on_row_error: reject_file\nsources:", 1)
	s := newStructured(t, mustMapping(t, y), parser.StructuredConfig{BatchSize: 1})
	tests := []struct {
		file string
		want []string
	}{
		{"structured/projects_bad_budget.csv", []string{"structured/projects_bad_budget.csv", "line 3", "column budget", `"TBD"`, "not a number"}},
		{"structured/teams_ragged.csv", []string{"structured/teams_ragged.csv", "line 3", "5 fields"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := parseFile(t, s, tt.file, filepath.Join(input, tt.file))
			require.Error(t, err)
			assert.True(t, pipeline.IsPermanent(err))
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, p.msgs, "a rejected file emits nothing, not even the rows before the bad one")
		})
	}
	p, err := parseFile(t, s, "teams.csv", filepath.Join(input, "teams.csv"))
	require.NoError(t, err)
	checkBatches(t, p)
}

func TestStructuredBombMemoryBounded(t *testing.T) {
	corpus := structuredCorpus(t)
	file := filepath.Join(corpus, "bad", "input", "structured", "projects_bomb.xlsx")
	s := newStructured(t, mustMapping(t, badCorpusMapping), parser.StructuredConfig{})
	before := vmHWM(t)
	_, err := parseFile(t, s, "structured/projects_bomb.xlsx", file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused")
	assert.Contains(t, err.Error(), "xl/worksheets/sheet1.xml")
	// The sheet inflates to 1.25 GiB: refusing it must not get anywhere near.
	assert.Less(t, vmHWM(t)-before, int64(64<<20), "peak RSS grew while refusing the bomb")
}

// vmHWM reads the process's peak resident set size in bytes (0 where
// /proc is missing).
// resetPeakRSS returns the garbage of a benchmark's setup to the OS and
// resets the process's peak RSS (VmHWM), so that vmHWM measures what comes
// after (Linux: writing 5 to clear_refs).
func resetPeakRSS(t testing.TB) {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Logf("peak RSS not reset (%v): it includes the setup", err)
	}
}

func vmHWM(t testing.TB) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			require.NoError(t, err)
			return kb << 10
		}
	}
	return 0
}

func TestStructuredParseNoSource(t *testing.T) {
	s := newStructured(t, shippedMapping(t), parser.StructuredConfig{})
	_, err := parseFile(t, s, "other.csv", writeTemp(t, "other.csv", "a\n1\n"))
	require.Error(t, err)
	assert.True(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), "other.csv: no structured mapping")
}

func TestNewStructuredConfig(t *testing.T) {
	m := shippedMapping(t)
	tests := []struct {
		name string
		cfg  parser.StructuredConfig
		want string
	}{
		{"negative batch", parser.StructuredConfig{BatchSize: -1}, "batch_size"},
		{"negative threads", parser.StructuredConfig{DuckDBThreads: -1}, "duckdb_threads"},
		{"xml over unzip", parser.StructuredConfig{XLSXMaxUnzipSize: 10, XLSXMaxXMLSize: 20}, "xlsx_max_xml_size"},
		{"negative rejects", parser.StructuredConfig{MaxRejectedRows: -1}, "max_rejected_rows"},
		{"quote in memory", parser.StructuredConfig{DuckDBMemoryLimit: "1'GB"}, "duckdb_memory_limit"},
		{"bad memory", parser.StructuredConfig{DuckDBMemoryLimit: "lots"}, "duckdb settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.TempDir = t.TempDir()
			_, err := parser.NewStructured(m, tt.cfg, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := parser.NewStructured(nil, parser.StructuredConfig{}, nil)
	assert.ErrorContains(t, err, "mapping: required")
}

// writeTemp writes a test file and returns its path.
func writeTemp(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestStructuredEmitError(t *testing.T) {
	corpus := structuredCorpus(t)
	s := newStructured(t, shippedMapping(t), parser.StructuredConfig{BatchSize: 1})
	boom := errors.New("publisher gone")
	doc := event.NewDocument("teams.csv", "abc", 1, 1)
	err := s.Parse(context.Background(), doc, filepath.Join(corpus, "sample", "input", "teams.csv"), func(pipeline.Message) error { return boom })
	require.ErrorIs(t, err, boom)
	assert.False(t, pipeline.IsPermanent(err))
}

func TestStructuredCanceled(t *testing.T) {
	corpus := structuredCorpus(t)
	s := newStructured(t, shippedMapping(t), parser.StructuredConfig{BatchSize: 1})
	for _, f := range []string{"teams.csv", "projects.xlsx"} {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := s.Parse(ctx, event.NewDocument(f, "abc", 1, 1), filepath.Join(corpus, "sample", "input", f), func(pipeline.Message) error {
			n++
			cancel()
			return nil
		})
		require.ErrorIs(t, err, context.Canceled, f)
		assert.Equal(t, 1, n, f)
	}
}

// recordsJSON renders records for failure messages.
func recordsJSON(recs []event.Records) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, r := range recs {
		_ = enc.Encode(r)
	}
	return b.String()
}

// TestStructuredHeaderWhiteSpace finds columns by header names written as
// spreadsheets write them: padded, in another case, with a line break
// (a wrapped header cell, Alt+Enter in Excel) or a non-breaking space
// between the words.
func TestStructuredHeaderWhiteSpace(t *testing.T) {
	s := newStructured(t, mustMapping(t, `
sources:
  - name: csv
    files: ["*.csv"]
    format: csv
    columns: &cols
      - {name: code, required: true}
      - {name: start date, type: date}
      - {name: budget (eur), type: float}
    nodes: &nodes
      - label: Project
        key: code
        properties:
          start: start date
          budget: budget (eur)
  - name: xlsx
    files: ["*.xlsx"]
    format: xlsx
    columns: *cols
    nodes: *nodes
`), parser.StructuredConfig{})
	header := []any{" Code\u00a0", "Start\nDate", "Budget\u00a0 (EUR)"}
	want := map[string]map[string]any{"P1": {"start": "2024-01-31", "budget": 1500.0}}
	tests := []struct {
		name string
		file func(t *testing.T) string
	}{
		{"csv", func(t *testing.T) string {
			return writeTemp(t, "p.csv", "\" Code\u00a0\",\"Start\r\nDate\",Budget\u00a0 (EUR)\r\nP1,2024-01-31,1500\r\n")
		}},
		{"xlsx", func(t *testing.T) string {
			return writeWorkbook(t, "p.xlsx", map[string][][]any{"Data": {header, {"P1", "2024-01-31", 1500}}}, false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file(t)
			p, err := parseFile(t, s, filepath.Base(file), file)
			require.NoError(t, err)
			assert.Equal(t, want, p.properties(t))
			assert.Empty(t, p.rejected())
		})
	}
}
