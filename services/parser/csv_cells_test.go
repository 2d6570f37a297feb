package parser

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Pass 2 splits records in Go: every cell must be what DuckDB's read_csv
// (strict mode, VARCHAR columns, the options openCSV uses) reads.
func TestSplitCSVCellsMatchesDuckDB(t *testing.T) {
	type input struct {
		name              string
		data              []byte
		delim, quote, esc byte
	}
	inputs := []input{
		{name: "quoted newlines", data: []byte("a,b,c\n\"x\ny\",\"\",z\n\"p\"\"q\",,\"r,s\"\n")},
		{name: "crlf and bom", data: []byte("\xEF\xBB\xBFa,b\r\n1,2\r\n\"3\r\n4\",5\r\n")},
		{name: "blank lines and no final newline", data: []byte("a,b\n\n1, 2 \n\n\n x ,y")},
		{name: "trailing empty fields", data: []byte("a,b,c\n1,,\n,,\n\"\",\"\",\"\"\n")},
		{name: "unicode", data: []byte("a,b\nÉté,\"naïve, ok\"\n日本,\"😀\"\"\"\n")},
		{name: "backslash escape", data: []byte("a,b\n\"x\\\"y\",\"p\\\\q\"\n"), esc: '\\'},
		{name: "semicolon single quote", data: []byte("a;b\n'x;y';'it''s'\n"), delim: ';', quote: '\''},
	}
	spectrum := filepath.Join(sharedDir(t), "corpus", "external", "csv-spectrum", "csvs")
	entries, err := os.ReadDir(spectrum)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(spectrum, e.Name()))
		require.NoError(t, err)
		inputs = append(inputs, input{name: e.Name(), data: data})
	}
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			delim, quote, esc := byte(','), byte('"'), byte('"')
			if in.delim != 0 {
				delim = in.delim
			}
			if in.quote != 0 {
				quote = in.quote
				esc = quote
			}
			if in.esc != 0 {
				esc = in.esc
			}
			path := filepath.Join(t.TempDir(), "in.csv")
			require.NoError(t, os.WriteFile(path, in.data, 0o600))
			tr := newCSVTracker(bytes.NewReader(in.data), delim, quote, esc)
			tr.captureMax = 0
			var got [][]string
			width := 0
			for {
				rec, ok, err := tr.next(true)
				require.NoError(t, err)
				if !ok {
					break
				}
				if rec.blank {
					continue
				}
				if width == 0 {
					width = len(splitCSVRecord(rec.raw, delim, quote, esc))
				}
				cells := make([]string, width)
				require.Equal(t, width, splitCSVCells(rec.raw, delim, quote, esc, cells), "line %d", rec.line)
				got = append(got, cells)
			}
			if width == 0 {
				return // nothing to compare
			}
			cols := make([]string, width)
			sel := make([]string, width)
			for i := range cols {
				cols[i] = fmt.Sprintf("'c%d': 'VARCHAR'", i)
				sel[i] = fmt.Sprintf("coalesce(c%d, '')", i)
			}
			q := fmt.Sprintf("SELECT %s FROM read_csv(%s, header = false, auto_detect = false, columns = {%s}, delim = %s, quote = %s, escape = %s, strict_mode = true, encoding = 'utf-8')",
				strings.Join(sel, ", "), sqlString(path), strings.Join(cols, ", "), sqlString(string(delim)), sqlString(string(quote)), sqlString(string(esc)))
			rows, err := db.QueryContext(t.Context(), q)
			require.NoError(t, err)
			defer rows.Close()
			var want [][]string
			for rows.Next() {
				cells := make([]string, width)
				ptrs := make([]any, width)
				for i := range cells {
					ptrs[i] = &cells[i]
				}
				require.NoError(t, rows.Scan(ptrs...))
				want = append(want, cells)
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, want, got)
		})
	}
}

func TestSplitCSVCellsShapes(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
		n    int
	}{
		{raw: "a,b", want: []string{"a", "b"}, n: 2},
		{raw: "a,b,c", want: []string{"a", "b"}, n: 3},
		{raw: "a", want: []string{"a", ""}, n: 1},
		{raw: `"x"y,z`, want: []string{"xy", "z"}, n: 2},
		{raw: `"unterminated`, want: []string{"unterminated", ""}, n: 1},
		{raw: `"a""b",`, want: []string{`a"b`, ""}, n: 2},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			cells := make([]string, 2)
			assert.Equal(t, tc.n, splitCSVCells([]byte(tc.raw), ',', '"', '"', cells))
			assert.Equal(t, tc.want, cells)
			assert.Equal(t, splitCSVRecord([]byte(tc.raw), ',', '"', '"')[:min(tc.n, 2)], cells[:min(tc.n, 2)])
		})
	}
}
