package parser_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/services/parser"
)

const columnsMapping = `
sources:
  - name: people
    files: ["*.csv"]
    format: csv
    columns:
      - {name: Full Name, required: true}
      - {name: team, required: true}
      - {name: email}
    nodes:
      - {label: Person, key: Full Name, properties: [team, email]}
  - name: plain
    files: ["*.txt"]
    format: csv
    csv: {header: false}
    columns:
      - {name: code, required: true}
      - {name: title}
    nodes:
      - {label: Project, key: code, properties: [title]}
`

// summary is what a test compares of a ColumnMatch.
type summary struct {
	Status    parser.ColumnStatus
	Positions []int
}

func TestMatchColumns(t *testing.T) {
	m := mustMapping(t, columnsMapping)
	people, plain := &m.Sources[0], &m.Sources[1]
	tests := []struct {
		name        string
		src         *schema.Source
		header      []string
		want        []summary // by declared column
		wantIgnored []int
		wantMissing []string
		wantDup     []string
	}{
		{
			name:   "by name, in any order, case and spacing aside",
			src:    people,
			header: []string{"EMAIL", "notes", " full\nname ", "Team", ""},
			want: []summary{
				{parser.ColumnMatched, []int{2}}, {parser.ColumnMatched, []int{3}}, {parser.ColumnMatched, []int{0}},
			},
			wantIgnored: []int{1},
		},
		{
			name:        "missing required and optional",
			src:         people,
			header:      []string{"full name", "role"},
			want:        []summary{{parser.ColumnMatched, []int{0}}, {parser.ColumnMissing, nil}, {parser.ColumnMissing, nil}},
			wantIgnored: []int{1},
			wantMissing: []string{"team"},
		},
		{
			name:    "named twice",
			src:     people,
			header:  []string{"full name", "team", "Team "},
			want:    []summary{{parser.ColumnMatched, []int{0}}, {parser.ColumnDuplicate, []int{1, 2}}, {parser.ColumnMissing, nil}},
			wantDup: []string{"team"},
		},
		{
			name:   "without a header, by position",
			src:    plain,
			header: nil,
			want:   []summary{{parser.ColumnMatched, []int{0}}, {parser.ColumnMatched, []int{1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parser.MatchColumns(tt.src, tt.header)
			var sums []summary
			for i, c := range got.Declared {
				assert.Equal(t, tt.src.Columns[i], c.Column)
				sums = append(sums, summary{c.Status, c.Positions})
			}
			assert.Equal(t, tt.want, sums)
			assert.Equal(t, tt.wantIgnored, got.Ignored)
			assert.Equal(t, tt.wantMissing, got.MissingRequired())
			assert.Equal(t, tt.wantDup, got.Duplicated())
		})
	}
}

func TestTableColumnName(t *testing.T) {
	tests := []struct {
		format string
		pos    int
		want   string
	}{
		{schema.FormatXLSX, 0, "A"},
		{schema.FormatXLSX, 27, "AB"},
		{schema.FormatCSV, 0, "1"},
		{schema.FormatCSV, 27, "28"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parser.Table{Format: tt.format}.ColumnName(tt.pos), "%s %d", tt.format, tt.pos)
	}
}

// TestOnTableSample: Parse tells the sheet it read (the second, named by
// the mapping), the header's row and the undeclared column it ignores.
func TestOnTableSample(t *testing.T) {
	var got []parser.Table
	s := newStructured(t, shippedMapping(t), parser.StructuredConfig{OnTable: func(tb parser.Table) { got = append(got, tb) }})
	local := filepath.Join(structuredCorpus(t), "sample", "input", "projects.xlsx")
	err := s.Parse(t.Context(), event.NewDocument("projects.xlsx", "x", 1, 1), local, func(pipeline.Message) error { return nil })
	require.NoError(t, err)
	require.Len(t, got, 1)
	tb := got[0]
	assert.Equal(t, "projects.xlsx", tb.File)
	assert.Equal(t, "projects", tb.Source)
	assert.Equal(t, "Projects", tb.Sheet)
	assert.Equal(t, 1, tb.HeaderLine)
	assert.Equal(t, []string{"code", "region", "start_date", "status", "name", "budget", "manager"}, tb.Header)
	require.Len(t, tb.Columns.Ignored, 1)
	assert.Equal(t, "region", tb.Header[tb.Columns.Ignored[0]])
	assert.Empty(t, tb.Columns.MissingRequired())
}

// TestOnTableBeforeRejection: a header missing a required column is told
// before Parse rejects the file, so that a caller can show it.
func TestOnTableBeforeRejection(t *testing.T) {
	var got []parser.Table
	s := newStructured(t, mustMapping(t, columnsMapping), parser.StructuredConfig{OnTable: func(tb parser.Table) { got = append(got, tb) }})
	local := filepath.Join(t.TempDir(), "people.csv")
	require.NoError(t, os.WriteFile(local, []byte("name,email\nAda,ada@example.com\n"), 0o644))
	err := s.Parse(t.Context(), event.NewDocument("people.csv", "x", 1, 1), local, func(pipeline.Message) error { return nil })
	require.ErrorContains(t, err, "missing required columns: Full Name, team")
	require.Len(t, got, 1)
	assert.Equal(t, "", got[0].Sheet)
	assert.Equal(t, 1, got[0].HeaderLine)
	assert.Equal(t, []string{"Full Name", "team"}, got[0].Columns.MissingRequired())
}

func TestUnmappedOutcome(t *testing.T) {
	tests := []struct {
		format, unmapped string
		want             string
		wantFails        bool
	}{
		{"csv", "", "read as a document (unmapped: document)", false},
		{"csv", parser.UnmappedDocument, "read as a document", false},
		{"xlsx", parser.UnmappedDocument, "rejected (unmapped: document): .xlsx files are read only through the mapping", true},
		{"xlsx", parser.UnmappedSkip, "skipped (unmapped: skip)", false},
		{"csv", parser.UnmappedReject, "rejected (unmapped: reject)", true},
		{"md", parser.UnmappedReject, "not a spreadsheet: read as a document", false},
		{"png", parser.UnmappedDocument, "not a format docgraph reads (.png)", false},
	}
	for _, tt := range tests {
		t.Run(tt.format+" "+tt.unmapped, func(t *testing.T) {
			got, fails := parser.UnmappedOutcome(tt.format, tt.unmapped)
			assert.Contains(t, got, tt.want)
			assert.Equal(t, tt.wantFails, fails)
		})
	}
}
