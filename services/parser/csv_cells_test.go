package parser

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
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
		{name: "empty fields past the header's", data: []byte("a,b\n1,2,\n3,4,,\"\"\n5,6,,\r\n,,,\n7,8,")},
		{name: "unicode", data: []byte("a,b\nÉté,\"naïve, ok\"\n日本,\"😀\"\"\"\n")},
		{name: "backslash escape", data: []byte("a,b\n\"x\\\"y\",\"p\\\\q\"\n"), esc: '\\'},
		{name: "spaces around quotes", data: []byte("a,b,c\n1, \"x,y\",3\n \"p\nq\" ,  \"r\" , s\n\"t\"  \"u,v\",w, \"\"\n")},
		{name: "spaces around quotes, backslash escape", data: []byte("a;b\n \"x\\\"y;\" ;z\n\"p\"  ; \"q\nr\"\n"), delim: ';', esc: '\\'},
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
			rows, err := db.QueryContext(t.Context(), duckDBCellsQuery(path, width, delim, quote, esc))
			require.NoError(t, err)
			defer rows.Close()
			want, err := scanCells(t, rows, width)
			require.NoError(t, err)
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
		{raw: `a,b,,""`, want: []string{"a", "b"}, n: 2},
		{raw: `a,b,,x`, want: []string{"a", "b"}, n: 4},
		{raw: "a,b,\x00,\"\x00\"", want: []string{"a", "b"}, n: 2},
		{raw: "a,b,\x00\x00", want: []string{"a", "b"}, n: 2},
		{raw: "a,b,\x00x", want: []string{"a", "b"}, n: 3},
		{raw: ` "a,b" , "c"`, want: []string{"a,b", "c"}, n: 2},
		{raw: `"a"  "b,c",d`, want: []string{"a  b,c", "d"}, n: 2},
		{raw: `  "a",b`, want: []string{`  "a"`, "b"}, n: 2},
		{raw: `a,b, `, want: []string{"a", "b"}, n: 3},
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

// A line of white space alone is blank, as an empty one is, unless a
// tab delimits its fields or a quote makes the spaces a value.
func TestCSVTrackerBlankLines(t *testing.T) {
	tests := []struct {
		name  string
		give  string
		delim byte
		want  []bool // blank, by record
	}{
		{"empty and spaces", "a,b\n\n   \n1,2\n", ',', []bool{false, true, true, false}},
		{"tabs and CRLF", "a,b\r\n\t \r\n1,2\r\n", ',', []bool{false, true, false}},
		{"last line without a break", "a,b\n \t", ',', []bool{false, true}},
		{"tabs that delimit", "a\tb\n\t\n \n", '\t', []bool{false, false, true}},
		{"quoted spaces", "a,b\n\"  \"\n", ',', []bool{false, false}},
		{"spaces between delimiters", "a,b\n , \n", ',', []bool{false, false}},
		{"a long line of spaces", "a,b\n" + strings.Repeat(" ", 3*csvTrackerBuffer) + "\n1,2\n", ',', []bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newCSVTracker(strings.NewReader(tt.give), tt.delim, '"', '"')
			var got []bool
			for {
				rec, ok, err := tr.next(false)
				require.NoError(t, err)
				if !ok {
					break
				}
				got = append(got, rec.blank)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// csvTable.next places DuckDB's rejects among the records it splits; the
// rejects it cannot place are still reported, by record number.
func TestCSVTableNextRejectPlacement(t *testing.T) {
	newTable := func(data string, rejects ...csvReject) *csvTable {
		tr := newCSVTracker(strings.NewReader(data), ',', '"', '"')
		tr.captureMax = 0
		return &csvTable{file: "f.csv", width: 2, hdr: []string{"a", "b"}, tracker: tr, rejects: rejects}
	}
	drain := func(t *testing.T, tb *csvTable) []tableRow {
		var out []tableRow
		for {
			row, ok, err := tb.next(t.Context())
			require.NoError(t, err)
			if !ok {
				return out
			}
			row.cells = append([]string(nil), row.cells...)
			out = append(out, row)
		}
	}
	t.Run("placed and after the end", func(t *testing.T) {
		tb := newTable("1,2\n3,4,5\n\n6,7\n",
			csvReject{ord: 2, typ: "TOO MANY COLUMNS", csvLine: "3,4,5"},
			csvReject{ord: 9, typ: "LINE SIZE OVER MAXIMUM", csvLine: "x"})
		rows := drain(t, tb)
		require.Len(t, rows, 4)
		assert.Equal(t, tableRow{line: 1, cells: []string{"1", "2"}}, rows[0])
		assert.Equal(t, &event.RowError{Line: 2, Value: "3,4,5", Error: "3 fields, the header has 2"}, rows[1].rowErr)
		assert.Equal(t, []string{"6", "7"}, rows[2].cells)
		assert.Equal(t, 4, rows[2].line)
		assert.Equal(t, &event.RowError{Value: "x", Error: "line longer than the maximum line size, 2000000 bytes (record 9)"}, rows[3].rowErr)
	})
	t.Run("behind the tracker", func(t *testing.T) {
		tb := newTable("1,2\n3,4\n", csvReject{ord: 1, typ: "UNQUOTED VALUE", column: "c1", csvLine: "q"})
		_, _, err := tb.tracker.next(false) // the tracker is past record 1
		require.NoError(t, err)
		rows := drain(t, tb)
		require.Len(t, rows, 2)
		assert.Equal(t, &event.RowError{Column: "b", Value: "q", Error: "unterminated or misplaced quote (record 1)"}, rows[0].rowErr)
		assert.Equal(t, []string{"3", "4"}, rows[1].cells)
	})
	t.Run("readers disagree", func(t *testing.T) {
		rows := drain(t, newTable("1,2,3\n"))
		require.Len(t, rows, 1)
		assert.Equal(t, &event.RowError{Line: 1, Value: "1,2,3", Error: "3 fields where DuckDB read 2: the parser's two CSV readers disagree (a bug)"}, rows[0].rowErr)
	})
	t.Run("cancelled", func(t *testing.T) {
		tb := newTable(strings.Repeat("1,2\n", 2000))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var err error
		for range 2000 {
			if _, _, err = tb.next(ctx); err != nil {
				break
			}
		}
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestCSVTableDuckErr(t *testing.T) {
	tb := &csvTable{file: "in/f.csv", path: "/tmp/x/data.csv"}
	err := tb.duckErr(errors.New("Invalid Input Error: bad thing in /tmp/x/data.csv\n  file = /tmp/x/data.csv\n  delimiter = ','"))
	require.EqualError(t, err, "in/f.csv: unreadable CSV: Invalid Input Error: bad thing in in/f.csv")
	assert.True(t, pipeline.IsPermanent(err))
	require.ErrorIs(t, tb.duckErr(fmt.Errorf("wrapped: %w", context.Canceled)), context.Canceled)
}

// FuzzSplitCSVCellsMatchesDuckDB reads arbitrary bytes as a CSV file of
// three columns, in the dialects of FuzzStructuredCSV: where DuckDB's
// read_csv (strict mode, the options openCSV uses) accepts every record,
// csvTracker and splitCSVCells give the same records and cells.
func FuzzSplitCSVCellsMatchesDuckDB(f *testing.F) {
	dialects := [][3]byte{{',', '"', '"'}, {';', '"', '\\'}, {'\t', '\'', '\''}, {'|', '"', '\\'}}
	f.Add([]byte("a,b,c\n1, \"x,y\" ,3\n\"p\"\"q\",,\n"), byte(0))
	f.Add([]byte("a;b;c\r\n\"x\\\"y\";\"p\\\\q\";\r\n"), byte(1))
	f.Add([]byte("a\tb\tc\n'x\ty'\t'it''s'\t\n"), byte(2))
	f.Add([]byte("a|b|c\n\"x\ny\"|2|3,\n"), byte(3))
	// Quoting that resumes after spaces: DuckDB pairs the quotes between
	// the field's first and last from the left.
	f.Add([]byte("\"\" \"\" \"\",,\n\"a\" \"b\"\"c\" \"d\",\"a\"\"b\" \"c\",\"a\" \"\"\n"), byte(0))
	db, err := sql.Open("duckdb", "")
	require.NoError(f, err)
	f.Cleanup(func() { db.Close() })
	dir := f.TempDir()
	const width = 3
	f.Fuzz(func(t *testing.T, data []byte, dialect byte) {
		d := dialects[int(dialect)%len(dialects)]
		delim, quote, esc := d[0], d[1], d[2]
		path := filepath.Join(dir, "in.csv")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		rows, err := db.QueryContext(t.Context(), duckDBCellsQuery(path, width, delim, quote, esc))
		if err != nil {
			return // DuckDB rejects a record, or the file
		}
		want, err := scanCells(t, rows, width)
		rows.Close()
		if err != nil {
			return
		}
		tr := newCSVTracker(bytes.NewReader(data), delim, quote, esc)
		tr.captureMax = 0
		var got [][]string
		for {
			rec, ok, err := tr.next(true)
			require.NoError(t, err)
			if !ok {
				break
			}
			if rec.blank {
				continue
			}
			if rec.bareCR || rec.mixedEnd {
				return // the parser refuses the file
			}
			cells := make([]string, width)
			if n := splitCSVCells(rec.raw, delim, quote, esc, cells); n != width {
				t.Fatalf("line %d: %d fields, DuckDB read %d: %q", rec.line, n, width, rec.raw)
			}
			got = append(got, cells)
		}
		if len(got) != len(want) {
			t.Fatalf("%d records, DuckDB read %d: got %q, want %q", len(got), len(want), got, want)
		}
		for i := range got {
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("record %d: got %q, DuckDB read %q", i+1, got[i], want[i])
			}
		}
	})
}

// csvTracker notes a CR outside quotes that no LF follows, also across
// its read buffer's boundary, and a change of line end.
func TestCSVTrackerLineEnds(t *testing.T) {
	long := strings.Repeat("x", csvTrackerBuffer-1)
	tests := []struct {
		name      string
		give      string
		wantBare  []bool
		wantMixed []bool
	}{
		{"LF", "a\nb\n", []bool{false, false}, []bool{false, false}},
		{"CRLF", "a\r\nb\r\nc", []bool{false, false, false}, []bool{false, false, false}},
		{"CR inside a line", "a\rb\nc\n", []bool{true, false}, []bool{false, false}},
		{"CR inside quotes", "\"a\rb\"\n\"c\r\"\n", []bool{false, false}, []bool{false, false}},
		{"CR after a closing quote", "\"a\"\rb\n", []bool{true}, []bool{false}},
		{"CR at the end of the file", "a\nb\r", []bool{false, false}, []bool{false, false}},
		{"CR at the buffer's end", long + "\ry\n", []bool{true}, []bool{false}},
		{"CRLF across the buffer's end", long + "\r\ny\r\n", []bool{false, false}, []bool{false, false}},
		{"LF after CRLF", "a\r\nb\nc\r\n", []bool{false, false, false}, []bool{false, true, false}},
		{"CRLF after LF", "\nb\r\n", []bool{false, false}, []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newCSVTracker(strings.NewReader(tt.give), ',', '"', '"')
			var bare, mixed []bool
			for {
				rec, ok, err := tr.next(false)
				require.NoError(t, err)
				if !ok {
					break
				}
				bare, mixed = append(bare, rec.bareCR), append(mixed, rec.mixedEnd)
			}
			assert.Equal(t, tt.wantBare, bare, "bare CR")
			assert.Equal(t, tt.wantMixed, mixed, "mixed line end")
		})
	}
}

// duckDBCellsQuery reads the CSV file at path as DuckDB's strict reader
// does, every field of width columns as text (empty for a missing one).
func duckDBCellsQuery(path string, width int, delim, quote, esc byte) string {
	cols := make([]string, width)
	sel := make([]string, width)
	for i := range cols {
		cols[i] = fmt.Sprintf("'c%d': 'VARCHAR'", i)
		sel[i] = fmt.Sprintf("coalesce(c%d, '')", i)
	}
	return fmt.Sprintf("SELECT %s FROM read_csv(%s, header = false, auto_detect = false, columns = {%s}, delim = %s, quote = %s, escape = %s, strict_mode = true, encoding = 'utf-8')",
		strings.Join(sel, ", "), sqlString(path), strings.Join(cols, ", "), sqlString(string(delim)), sqlString(string(quote)), sqlString(string(esc)))
}

// scanCells reads the rows of duckDBCellsQuery; the error is the rows'
// (DuckDB rejecting a record as it reads on).
func scanCells(t *testing.T, rows *sql.Rows, width int) ([][]string, error) {
	t.Helper()
	var all [][]string
	for rows.Next() {
		cells := make([]string, width)
		ptrs := make([]any, width)
		for i := range cells {
			ptrs[i] = &cells[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		all = append(all, cells)
	}
	return all, rows.Err()
}
