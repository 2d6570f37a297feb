package parser

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/schema"
)

// A row reaching the last column (XFD) keeps only the cells up to the
// last column the mapping reads: the batches copy every cell a row keeps,
// 16384 of them otherwise.
func TestXLSXRowWidth(t *testing.T) {
	m, err := schema.ParseMapping([]byte(`
sources:
  - name: data
    files: [data.xlsx]
    format: xlsx
    columns: [{name: id, required: true}, {name: name}]
    nodes: [{label: Thing, key: id, properties: [name]}]
`))
	require.NoError(t, err)
	f := excelize.NewFile()
	for cell, v := range map[string]any{"A1": "id", "C1": "name", "XFD1": "far", "A2": 1, "C2": "Ana", "XFD2": "x"} {
		require.NoError(t, f.SetCellValue("Sheet1", cell, v))
	}
	file := filepath.Join(t.TempDir(), "data.xlsx")
	require.NoError(t, f.SaveAs(file))
	require.NoError(t, f.Close())

	s, err := NewStructured(m, StructuredConfig{TempDir: t.TempDir(), DuckDBThreads: 1}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	src, ok := m.Match("data.xlsx")
	require.True(t, ok)
	tr, err := s.openXLSX(t.Context(), event.NewDocument("data.xlsx", "sha", 1, 1), src, file)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, tr.close()) })
	require.Len(t, tr.header(), excelize.MaxColumns)
	tr.selectColumns([]int{0, 2}, []string{"", ""}, []bool{false, false})
	row, ok, err := tr.next(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 2, row.line)
	assert.Equal(t, []string{"1", "", "Ana"}, row.cells)
}

func TestXMLAttr(t *testing.T) {
	tests := []struct {
		attrs, name, want string
		ok                bool
	}{
		{` r="A1" s="2" t="n"`, "s", "2", true},
		{` r="A1" s="2" t="n"`, "r", "A1", true},
		{` r='B7'`, "r", "B7", true},
		{"\tr=\"C3\"", "r", "C3", true},
		{"\nspans=\"1:4\"\r\nr=\"9\"", "r", "9", true},
		{` xr="1" r="2"`, "r", "2", true}, // not the end of another name
		{` rr="1"`, "r", "", false},
		{` r = "1"`, "r", "", false},   // as before: no space around '='
		{` r="1`, "r", "", false},      // not closed
		{` t='a"b'`, "t", `a"b`, true}, // the other quote inside
		{` s="" r="4"`, "s", "", true},
		{`r="5"`, "r", "", false}, // not after white space
		{` ref="A1:B2"`, "ref", "A1:B2", true},
		{` r=`, "r", "", false},
		{``, "r", "", false},
	}
	for _, tc := range tests {
		got, ok := xmlAttr([]byte(tc.attrs), tc.name)
		assert.Equal(t, tc.ok, ok, "%q %s", tc.attrs, tc.name)
		assert.Equal(t, tc.want, got, "%q %s", tc.attrs, tc.name)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_, _ = attrValue([]byte(` r="A1" t="n"`), "s")
	}), "no allocation when the attribute is missing")
}
