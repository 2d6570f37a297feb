package parser

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// feedAll reads a feed to its end.
func feedAll(t *testing.T, f *rowFeed) (rows [][]string, colErr, err error) {
	t.Helper()
	for {
		cells, ok, cerr, err := f.next()
		if !ok {
			return rows, colErr, err
		}
		if cerr != nil {
			colErr = cerr
			continue
		}
		rows = append(rows, cells)
	}
}

// The feed yields what excelize's iterator yields, row for row: the empty
// rows of a gap, rows wider than a batch's byte bound, and more rows than
// its batches hold at once.
func TestRowFeedYieldsTheIteratorsRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "book.xlsx")
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	require.NoError(t, err)
	const batches, batchRows, batchBytes = 4, 16, 8 << 10
	wide := make([]any, 20)
	for i := range wide {
		wide[i] = strings.Repeat(strconv.Itoa(i%10), 1000)
	}
	rowNums := []int{1, 2, 5}
	for r := 7; r < 7+batches*batchRows*3; r++ {
		rowNums = append(rowNums, r)
	}
	for _, r := range rowNums {
		cell, err := excelize.CoordinatesToCellName(1, r)
		require.NoError(t, err)
		vals := []any{"r" + strconv.Itoa(r), r}
		if r%50 == 0 {
			vals = wide
		}
		require.NoError(t, sw.SetRow(cell, vals))
	}
	require.NoError(t, sw.Flush())
	require.NoError(t, f.SaveAs(path))
	require.NoError(t, f.Close())

	read := func(feed bool) [][]string {
		wb, err := excelize.OpenFile(path, excelize.Options{RawCellValue: true})
		require.NoError(t, err)
		defer wb.Close()
		it, err := wb.Rows("Sheet1")
		require.NoError(t, err)
		defer it.Close()
		if feed {
			fd := startRowFeed(it, batches, batchRows, batchBytes)
			defer fd.close()
			rows, colErr, err := feedAll(t, fd)
			require.NoError(t, colErr)
			require.NoError(t, err)
			return rows
		}
		var rows [][]string
		for it.Next() {
			cells, err := it.Columns()
			require.NoError(t, err)
			rows = append(rows, cells)
		}
		require.NoError(t, it.Error())
		return rows
	}
	want := read(false)
	require.Len(t, want, rowNums[len(rowNums)-1], "the iterator yields every row number, gaps as empty rows")
	assert.Empty(t, want[2], "row 3, in the gap")
	got := read(true)
	require.Equal(t, len(want), len(got))
	for i := range want {
		if !assert.Equal(t, want[i], got[i], "row %d", i+1) {
			break
		}
	}
}

// fakeRows is an iterator of endless one-cell rows that fails as told.
type fakeRows struct {
	n        int
	panicAt  int // panics reading this row
	colErrAt int // Columns fails on this row
	endAt    int // Next is false on this row, with endErr
	endErr   error
}

func (r *fakeRows) Next() bool {
	r.n++
	return r.endAt == 0 || r.n < r.endAt
}

func (r *fakeRows) Columns(...excelize.Options) ([]string, error) {
	switch r.n {
	case r.panicAt:
		panic("iterator bug at row " + strconv.Itoa(r.n))
	case r.colErrAt:
		return nil, errors.New("bad cell")
	}
	return []string{strconv.Itoa(r.n)}, nil
}

func (r *fakeRows) Error() error { return r.endErr }

func TestRowFeedEnds(t *testing.T) {
	t.Run("iterator error", func(t *testing.T) {
		fd := newRowFeed(&fakeRows{endAt: 4, endErr: excelize.ErrMaxRows})
		defer fd.close()
		rows, colErr, err := feedAll(t, fd)
		assert.Equal(t, [][]string{{"1"}, {"2"}, {"3"}}, rows)
		require.NoError(t, colErr)
		require.ErrorIs(t, err, excelize.ErrMaxRows)
	})
	t.Run("unreadable row", func(t *testing.T) {
		fd := newRowFeed(&fakeRows{colErrAt: 3})
		defer fd.close()
		rows, colErr, err := feedAll(t, fd)
		assert.Equal(t, [][]string{{"1"}, {"2"}}, rows, "the rows before it, then its error, then the end")
		require.EqualError(t, colErr, "bad cell")
		require.NoError(t, err)
	})
	t.Run("panic", func(t *testing.T) {
		fd := newRowFeed(&fakeRows{panicAt: 700})
		defer fd.close()
		for i := 1; i < 700; i++ {
			cells, ok, colErr, err := fd.next()
			require.True(t, ok)
			require.NoError(t, colErr)
			require.NoError(t, err)
			require.Equal(t, []string{strconv.Itoa(i)}, cells)
		}
		v := func() (v any) {
			defer func() { v = recover() }()
			fd.next()
			return nil
		}()
		require.IsType(t, "", v, "the iterator's panic is raised again in the reader")
		assert.Contains(t, v, "iterator bug at row 700")
		assert.Contains(t, v, "fakeRows).Columns", "with the iterator goroutine's stack")
	})
}

// Closing a feed whose reader stopped early (a rejected file, a
// cancelled parse) stops its goroutine, also when it waits for room to
// send: close returns.
func TestRowFeedCloseStopsItsGoroutine(t *testing.T) {
	fd := newRowFeed(&fakeRows{})
	_, ok, _, _ := fd.next()
	require.True(t, ok)
	fd.close()
	select {
	case <-fd.done:
	default:
		t.Fatal("the feed's goroutine still runs after close")
	}
	fd.close() // twice is harmless
}

// panicTable is a tableReader whose rows panic, as a reader's bug would.
type panicTable struct{ rows int }

func (p *panicTable) header() []string                      { return []string{"name"} }
func (p *panicTable) headerLine() int                       { return 1 }
func (p *panicTable) sheetName() string                     { return "" }
func (p *panicTable) where() string                         { return "people.csv" }
func (p *panicTable) cellKind() cellKind                    { return cellKind{} }
func (p *panicTable) selectColumns([]int, []string, []bool) {}
func (p *panicTable) headerHeadings() []string              { return nil }
func (p *panicTable) close() error                          { return nil }

func (p *panicTable) next(context.Context) (tableRow, bool, error) {
	if p.rows++; p.rows > 3 {
		panic("reader bug")
	}
	return tableRow{line: p.rows + 1, cells: []string{"Ada " + strconv.Itoa(p.rows)}}, true, nil
}

// A panic in the goroutine reading a table's rows is raised again in the
// caller's goroutine, where the stage runner recovers it, naming the file
// and keeping the reader's stack, instead of crashing the process.
func TestReaderPanicRaisedInCaller(t *testing.T) {
	m, err := schema.ParseMapping([]byte(`
sources:
  - name: people
    files: [people.csv]
    format: csv
    columns:
      - {name: name, required: true}
    nodes:
      - {label: Person, key: name}
`))
	require.NoError(t, err)
	src, ok := m.Match("people.csv")
	require.True(t, ok)
	for _, emit := range []pipeline.Emit{nil, func(pipeline.Message) error { return nil }} {
		s := &Structured{cfg: StructuredConfig{BatchSize: 2, MapWorkers: 2}}
		v := func() (v any) {
			defer func() { v = recover() }()
			_, _ = s.readTable(t.Context(), event.NewDocument("people.csv", "sha", 1, 1), src,
				func(context.Context) (tableReader, error) { return &panicTable{}, nil }, emit)
			return nil
		}()
		require.IsType(t, "", v)
		assert.Contains(t, v, "people.csv: reading rows: reader bug")
		assert.Contains(t, v, "panicTable).next", "the reader's stack")
	}
}
