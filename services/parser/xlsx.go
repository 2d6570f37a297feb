package parser

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// xlsxTable is a tableReader over one worksheet, read with excelize's
// streaming row iterator on raw cell values (no number formatting).
type xlsxTable struct {
	file    string
	sheet   string
	zr      *zip.ReadCloser
	f       *excelize.File
	rows    *excelize.Rows
	feed    *rowFeed  // reads rows ahead
	scan    *cellScan // nil unless the worksheet needs one
	used    []int     // the file columns the mapping reads
	width   int       // cells a row keeps: up to the last of used
	hdr     []string
	hdrRow  int // sheet row number of the header
	rowNum  int // sheet row number of the last row read
	lastRow int // the worksheet's last row number
	kind    cellKind
	// merges are the worksheet's cells merged down over rows, by first
	// row, from mi on not reached yet; active those filling the rows read.
	merges []mergeRange
	mi     int
	active []activeMerge
	// wide are the worksheet's cells merged across columns; headings
	// those that cover the header row, whose first cell has a name: a
	// title or a heading over several columns. The name is the first
	// column's, where Excel keeps a merged range's value.
	wide     []cellRange
	headings []cellRange
	// shownCols and boolCols mark the columns (0-based) holding cells
	// with a date format or a format showing a number as other text
	// (shownNumber), and boolean cells, text the text columns the mapping
	// reads; needsScan says the scan has notes for any column, scanErr is
	// the error of a scan closed early.
	shownCols, boolCols, text []bool
	needsScan                 bool
	scanErr                   error
	// formatted marks the columns (0-based) the mapping reads with a
	// text format, whose number and date cells the scan tells apart from
	// text.
	formatted []bool
}

// mergeRange is a range of merged cells spanning rows first to last; its
// value is in column col (0-based) of the first.
type mergeRange struct {
	first, last, col int
}

// cellRange is a range of merged cells: rows r1 to r2, columns c1 to c2
// (0-based). Its value is in the cell at r1, c1.
type cellRange struct {
	r1, r2, c1, c2 int
}

// String names the range as the sheet does ("B1:C1").
func (r cellRange) String() string {
	return fmt.Sprintf("%s%d:%s%d", columnName(r.c1+1), r.r1, columnName(r.c2+1), r.r2)
}

// activeMerge is the value of a merged range that fills its column down
// to row last.
type activeMerge struct {
	last, col int
	value     string
	typed     bool // the value is a number or date cell's (tableRow.typed)
}

// openXLSX checks the workbook's declared part sizes, opens it, checks the
// mapped sheet's worksheet part and reads its header row. The zip stays
// open for the cell scan.
func (s *Structured) openXLSX(ctx context.Context, doc event.Document, src *schema.Source, localPath string) (tr tableReader, err error) {
	zr, err := zip.OpenReader(localPath)
	if err != nil {
		if isOLE(localPath) {
			return nil, pipeline.Permanent(fmt.Errorf("%s: not an XLSX workbook: a password-protected workbook or an Excel 97-2003 (.xls) file (OLE compound file): save it without a password as .xlsx", doc.Path))
		}
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook (not a complete zip archive): %w", doc.Path, err))
	}
	t := &xlsxTable{file: doc.Path, zr: zr, kind: cellKind{xlsx: true}}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	if err := s.checkZipSizes(doc.Path, &zr.Reader); err != nil {
		return nil, err
	}
	if kind := otherZipKind(&zr.Reader); kind != "" {
		return nil, pipeline.Permanent(fmt.Errorf("%s: not an XLSX workbook: %s: save it as .xlsx", doc.Path, kind))
	}
	if zf := findPart(&zr.Reader, "xl/sharedStrings.xml"); zf != nil && zf.UncompressedSize64 > uint64(s.cfg.XLSXMaxXMLSize) {
		// excelize reads shared strings this large item by item, and
		// stops without an error at XML it cannot decode: the strings
		// after it would read as empty cells.
		if err := checkSharedStrings(zf); err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %s: %w", doc.Path, zf.Name, err))
		}
	}
	f, err := excelize.OpenFile(localPath, excelize.Options{
		RawCellValue:      true,
		UnzipSizeLimit:    s.cfg.XLSXMaxUnzipSize,
		UnzipXMLSizeLimit: s.cfg.XLSXMaxXMLSize,
		TmpDir:            s.cfg.TempDir,
	})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size") {
			return nil, pipeline.Permanent(fmt.Errorf("%s: refused: the workbook inflates beyond the limit of %d bytes: %w", doc.Path, s.cfg.XLSXMaxUnzipSize, err))
		}
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %w", doc.Path, err))
	}
	t.f = f
	sheets := f.GetSheetList()
	t.sheet = src.Sheet
	switch {
	case len(sheets) == 0:
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: no worksheets", doc.Path))
	case t.sheet == "":
		// The first visible worksheet, the one Excel opens on: a chart
		// moved to a sheet of its own comes before its data, and a
		// hidden sheet holds lookups. With every worksheet hidden, the
		// first of them.
		first := ""
		for _, n := range sheets {
			if _, ws, err := sheetPart(&zr.Reader, n); err != nil || !ws {
				continue
			}
			if first == "" {
				first = n
			}
			if visible, err := f.GetSheetVisible(n); err == nil && visible {
				t.sheet = n
				break
			}
		}
		if t.sheet == "" {
			t.sheet = cmp.Or(first, sheets[0])
		}
	case !slices.Contains(sheets, t.sheet):
		// A sheet renamed by hand may keep a space the tab does not show.
		i := slices.IndexFunc(sheets, func(n string) bool { return strings.EqualFold(n, t.sheet) || columnKey(n) == columnKey(t.sheet) })
		if i < 0 {
			return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %q not found (sheets: %s)", doc.Path, src.Sheet, quoteNames(sheets)))
		}
		t.sheet = sheets[i]
	}
	props, err := f.GetWorkbookProps()
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %w", doc.Path, err))
	}
	t.kind.date1904 = props.Date1904 != nil && *props.Date1904
	calc, err := f.GetCalcProps()
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %w", doc.Path, err))
	}
	zf, isWorksheet, err := sheetPart(&zr.Reader, t.sheet)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %w", doc.Path, err))
	}
	if !isWorksheet {
		worksheets := slices.DeleteFunc(slices.Clone(sheets), func(n string) bool {
			_, ws, err := sheetPart(&zr.Reader, n)
			return err != nil || !ws
		})
		return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %q is not a worksheet, with cells, but a chart sheet or the like (worksheets: %s)", doc.Path, t.sheet, quoteNames(worksheets)))
	}
	dates, err := readDateStyles(&zr.Reader, t.kind.date1904)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %w", doc.Path, err))
	}
	headerRow := 0
	if src.HeaderRow != nil {
		headerRow = *src.HeaderRow
	}
	// The check runs beside the row iterator, which reads ahead (rowFeed);
	// no row is used before the check has passed.
	checked := make(chan worksheetCheck, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				checked <- worksheetCheck{panic: panicText(v)}
			}
		}()
		ws, err := checkWorksheet(zf, dates, headerRow)
		checked <- worksheetCheck{ws: ws, err: err}
	}()
	rows, rowsErr := f.Rows(t.sheet)
	if rowsErr == nil {
		t.rows, t.feed = rows, newRowFeed(rows)
	}
	check := <-checked
	if check.panic != "" {
		t.close()
		panic(check.panic)
	}
	if check.err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %s: %w", doc.Path, zf.Name, check.err))
	}
	if rowsErr != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %s: unreadable: %w", doc.Path, t.sheet, rowsErr))
	}
	ws := check.ws
	t.lastRow = ws.lastRow
	t.merges = ws.merges
	t.wide = ws.wide
	t.shownCols, t.boolCols, t.needsScan = ws.shownCols, ws.boolCols, ws.needsScan
	if ws.needsScan || ws.shownCols != nil || ws.boolCols != nil || readsFormattedText(src) {
		recalc := calc.FullCalcOnLoad != nil && *calc.FullCalcOnLoad
		if t.scan, err = openCellScan(zf, recalc, dates); err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %s: %w", doc.Path, zf.Name, err))
		}
	}
	if err := t.readHeader(ctx, src.HeaderRow); err != nil {
		return nil, err
	}
	return t, nil
}

// readsFormattedText reports whether src reads any column's text with a
// format (a date layout, number separators): the cell scan tells which of
// its cells are numbers or dates rather than text.
func readsFormattedText(src *schema.Source) bool {
	return slices.ContainsFunc(src.Columns, schema.Column.HasTextFormat)
}

// readHeader reads the header: row headerRow, the rows above it (a title
// block, merged cells maybe) ignored, or by default the first row with any
// content.
func (t *xlsxTable) readHeader(ctx context.Context, headerRow *int) error {
	for {
		row, ok, err := t.next(ctx)
		if err != nil {
			return err
		}
		if headerRow == nil {
			if !ok {
				return pipeline.Permanent(fmt.Errorf("%s: sheet %s is empty: no header row", t.file, t.sheet))
			}
			t.setHeader(row)
			return nil
		}
		want := *headerRow
		switch {
		case !ok && want > t.lastRow:
			return pipeline.Permanent(fmt.Errorf("%s: sheet %s: header_row %d: past the end of the sheet, whose last row is %d", t.file, t.sheet, want, t.lastRow))
		case !ok || row.line > want:
			return pipeline.Permanent(fmt.Errorf("%s: sheet %s: header_row %d: row %d is empty, not a header", t.file, t.sheet, want, want))
		case row.line < want:
			continue // a title block
		}
		t.setHeader(row)
		return nil
	}
}

// setHeader makes row the header, and finds its headings: cells merged
// across columns, whose first cell names a column.
func (t *xlsxTable) setHeader(row tableRow) {
	t.hdr, t.hdrRow = row.cells, row.line
	for _, r := range t.wide {
		if r.r1 <= t.hdrRow && t.hdrRow <= r.r2 && r.c1 < len(t.hdr) && strings.TrimSpace(t.hdr[r.c1]) != "" {
			t.headings = append(t.headings, r)
		}
	}
}

// quoteNames lists sheet names for a message, quoted: a name may end with
// a space that a tab does not show.
func quoteNames(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

// oleSignature starts an OLE compound file: an Excel 97-2003 workbook, or
// an encrypted (password-protected) XLSX one.
var oleSignature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// isOLE reports whether the file at localPath is an OLE compound file.
func isOLE(localPath string) bool {
	f, err := os.Open(localPath)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, len(oleSignature))
	_, err = io.ReadFull(f, head)
	return err == nil && bytes.Equal(head, oleSignature)
}

// otherZipKind names the kind of a zip archive that is another document
// format than XLSX, or returns "" (an XLSX workbook, or a damaged one).
func otherZipKind(zr *zip.Reader) string {
	var contentTypes, workbook, xlsb bool
	for _, zf := range zr.File {
		switch name := strings.ToLower(strings.ReplaceAll(zf.Name, `\`, "/")); name {
		case "mimetype":
			// OpenDocument: the media type, stored first.
			rc, err := zf.Open()
			if err != nil {
				return ""
			}
			mt, _ := io.ReadAll(io.LimitReader(rc, 128))
			rc.Close()
			if bytes.HasPrefix(mt, []byte("application/vnd.oasis.opendocument.spreadsheet")) {
				return "an OpenDocument spreadsheet (.ods)"
			}
			if bytes.HasPrefix(mt, []byte("application/vnd.oasis.opendocument.")) {
				return fmt.Sprintf("an OpenDocument file (%q)", mt)
			}
		case "[content_types].xml":
			contentTypes = true
		case "xl/workbook.xml":
			workbook = true
		case "xl/workbook.bin":
			xlsb = true
		}
	}
	switch {
	case xlsb && !workbook:
		return "an Excel binary workbook (.xlsb)"
	case !contentTypes && !workbook:
		return "a zip archive without [Content_Types].xml or xl/workbook.xml"
	}
	return ""
}

// checkZipSizes refuses, from the zip directory alone, a workbook whose
// parts would inflate beyond the limits: worksheets and shared strings
// (streamed through TempDir) up to XLSXMaxUnzipSize, every other part (read
// into memory) up to XLSXMaxXMLSize. archive/zip fails a part that inflates
// beyond its declared size, so the declared sizes bound the work.
func (s *Structured) checkZipSizes(file string, zr *zip.Reader) error {
	var total uint64
	for _, zf := range zr.File {
		size := zf.UncompressedSize64
		total += size
		name := strings.ToLower(strings.ReplaceAll(zf.Name, `\`, "/"))
		streamed := strings.HasPrefix(name, "xl/worksheets/sheet") || name == "xl/sharedstrings.xml"
		limit := uint64(s.cfg.XLSXMaxXMLSize)
		if streamed {
			limit = uint64(s.cfg.XLSXMaxUnzipSize)
		}
		if size > limit {
			return pipeline.Permanent(fmt.Errorf("%s: refused: part %s inflates to %d bytes, over the limit of %d (%d compressed)", file, zf.Name, size, limit, zf.CompressedSize64))
		}
		if total > uint64(s.cfg.XLSXMaxUnzipSize) {
			return pipeline.Permanent(fmt.Errorf("%s: refused: the workbook inflates to more than %d bytes", file, s.cfg.XLSXMaxUnzipSize))
		}
	}
	return nil
}

// worksheetCheck is checkWorksheet's outcome, or its panic.
type worksheetCheck struct {
	ws    worksheet
	err   error
	panic string
}

// worksheet is what checkWorksheet found in a worksheet part.
type worksheet struct {
	lastRow int // number of the last row element
	// needsScan says the part holds formulas (<f>) or values that may be
	// numbers not in their shortest form: it needs a cellScan.
	needsScan bool
	// merges are the ranges of merged cells that span rows, by first row,
	// wide those that span columns over the header row (header_row, or
	// the first row holding a value).
	merges []mergeRange
	wide   []cellRange
	// firstValue is the first row holding a value (0 for none).
	firstValue int
	// shownCols and boolCols mark the columns (0-based) holding numbers
	// with a date format or one showing them as other text (shownNumber)
	// or ISO 8601 date cells, and boolean cells or numbers with a boolean
	// format (nil for none): a cellScan reads them for the columns where
	// they matter.
	shownCols, boolCols []bool
}

// maxMerges bounds the ranges of merged cells a worksheet may have.
const maxMerges = 1 << 20

// checkWorksheet scans a worksheet part, as bytes (cheap next to the
// parse), for what excelize's row iterator trusts or hides:
//
//   - <row r="N"> attributes out of range (1..excelize.TotalRows) or not
//     increasing, and cells of a row out of column order, which would
//     silently misplace rows or values (a crafted -1, a row going
//     backwards, a cell B1 after C1);
//   - characters XML does not allow (control characters, invalid UTF-8,
//     an & starting no entity, "]]>" outside a CDATA section), as written
//     by programs that do not escape text: the iterator stops at the
//     first, as if the sheet ended there;
//   - markup encoding/xml refuses (xlsxmarkup.go): an end tag that does
//     not close the element open, an element never closed, a start tag
//     out of its syntax. The iterator stops there too; in the last row,
//     nothing else would show the cells lost.
//
// It returns the last row number, for the reader to tell the iterator's
// end from such a stop (also at XML malformed otherwise), whether the part
// needs a cellScan, the columns of date (by dates) and boolean cells, for
// which one may need it, and the ranges of cells merged over rows, which
// the iterator reads as empty below their first row, and those across
// columns over the header row, headerRow (0: the first row holding a
// value).
func checkWorksheet(zf *zip.File, dates dateStyles, headerRow int) (ws worksheet, err error) {
	rc, err := zf.Open()
	if err != nil {
		return ws, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	value := false
	col := 0              // column of the last cell of the row
	var open openElements // the elements open
	first := true         // before the part's first markup
	after := afterText    // the markup the next chunk starts with
	text := xmlText{entities: true}
	for {
		chunk, err := br.ReadSlice('<')
		bad, inText := text.check(chunk, errors.Is(err, bufio.ErrBufferFull))
		if bad != "" {
			return ws, fmt.Errorf("%s: %s", rowAt(ws.lastRow), bad)
		}
		if inText && bytes.Contains(textAfter(chunk, after), cdataEnd) {
			// encoding/xml refuses it in text (not in an attribute value).
			return ws, fmt.Errorf("%s: \"]]>\" in text, outside a CDATA section: malformed XML", rowAt(ws.lastRow))
		}
		after = afterText
		if value && err == nil && !ws.needsScan {
			// The rest of a <v> start tag, the value and '<'.
			if i := bytes.IndexByte(chunk, '>'); i >= 0 {
				_, ws.needsScan = shorterNumber(chunk[i+1 : len(chunk)-1])
			}
		}
		value = false
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				if name := open.top(); name != nil {
					return ws, fmt.Errorf("%s: <%s> not closed at the end of the worksheet: malformed XML", rowAt(ws.lastRow), name)
				}
				slices.SortStableFunc(ws.merges, func(a, b mergeRange) int { return a.first - b.first })
				return ws, nil
			}
			return ws, err
		}
		head, _ := br.Peek(tagPeek)
		if len(head) == 0 {
			continue // '<' ends the part
		}
		wasFirst := first
		first = false
		switch head[0] {
		case '/':
			after = afterEndTag
			// excelize's row reader stops at an end tag that does not
			// close the element open, without an error: in the last
			// row, nothing would show that its other cells were not
			// read.
			if err := open.pop(head[1:]); err != nil {
				return ws, fmt.Errorf("%s: %w: malformed XML", rowAt(ws.lastRow), err)
			}
			continue
		case '!', '?':
			if err := skipMarkup(br, head, open.depth() > 0, wasFirst); err != nil {
				return ws, fmt.Errorf("%s: %w: malformed XML", rowAt(ws.lastRow), err)
			}
			continue
		}
		after = afterStartTag
		elem, err := peekStartTag(br) // from its name to its '>'
		if errors.Is(err, errLongTag) && !open.holds("sheetData") && !open.holds("row") {
			// Outside the cells, a long attribute (a data validation's
			// ranges) is read through.
			head, _ = br.Peek(tagPeek)
			if err := open.push(head[:nameLen(head)]); err != nil {
				return ws, fmt.Errorf("%s: %w", rowAt(ws.lastRow), err)
			}
			empty, err := skipLongTag(br)
			if err != nil {
				return ws, fmt.Errorf("%s: %w: malformed XML", rowAt(ws.lastRow), err)
			}
			if empty {
				open.drop()
			}
			after = afterText
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("%s: %w: malformed XML", rowAt(ws.lastRow), err)
		}
		tag, end := tagName(elem)
		if !bytes.HasSuffix(elem, []byte("/>")) {
			if err := open.push(elem[:end]); err != nil {
				return ws, fmt.Errorf("%s: %w", rowAt(ws.lastRow), err)
			}
		}
		switch string(tag) {
		case "f":
			ws.needsScan = true
		case "v", "is":
			value = string(tag) == "v"
			if ws.firstValue == 0 {
				ws.firstValue = ws.lastRow
			}
		case "mergeCell":
			ref, _ := xmlAttr(elem[end:], "ref")
			if r, ok := parseMerge(ref); ok {
				if len(ws.merges)+len(ws.wide) == maxMerges {
					return ws, fmt.Errorf("more than %d ranges of merged cells", maxMerges)
				}
				if r.r2 > r.r1 {
					ws.merges = append(ws.merges, mergeRange{first: r.r1, last: r.r2, col: r.c1})
				}
				// The cells follow the sheet's rows: its first with a value
				// is known.
				if hdr := cmp.Or(headerRow, ws.firstValue); r.c2 > r.c1 && r.r1 <= hdr && hdr <= r.r2 {
					ws.wide = append(ws.wide, r)
				}
			}
		case "c":
			attrs := elem[end : len(elem)-1]
			c := cellColumn(attrs)
			if c == 0 {
				c = col + 1 // no reference: the next column
			}
			if c <= excelize.MaxColumns {
				kind := dates.kind(attrs)
				if bytes.Contains(attrs, boolAttr) || bytes.Contains(attrs, boolAttrSingle) || kind == booleanNumber {
					ws.boolCols = markColumn(ws.boolCols, c-1)
				} else if kind != notDate || bytes.Contains(attrs, dateAttr) || bytes.Contains(attrs, dateAttrSingle) {
					ws.shownCols = markColumn(ws.shownCols, c-1)
				}
			}
			if c <= col {
				return ws, fmt.Errorf("row %d: cell %s%d follows %s%[3]d: cells out of order", ws.lastRow, columnName(c), ws.lastRow, columnName(col))
			}
			col = c
		case "row":
			col = 0
			r, ok := xmlAttr(elem[end:], "r")
			if !ok {
				ws.lastRow++
				continue
			}
			n, err := strconv.Atoi(r)
			if err != nil || n < 1 || n > excelize.TotalRows {
				return ws, fmt.Errorf("row number %q out of range (1 to %d)", r, excelize.TotalRows)
			}
			if n <= ws.lastRow {
				return ws, fmt.Errorf("row %d follows row %d: rows out of order", n, ws.lastRow)
			}
			ws.lastRow = n
		}
	}
}

// rowAt names where checkWorksheet is, after row n (0 for none) started.
func rowAt(n int) string {
	if n == 0 {
		return "before the first row"
	}
	return "row " + strconv.Itoa(n)
}

// What a chunk of a worksheet starts with, before its text: the rest of
// a start tag or of an end tag, or nothing (the part's start, or markup
// read whole).
const (
	afterText = iota
	afterStartTag
	afterEndTag
)

// cdataEnd ends a CDATA section; encoding/xml refuses it in other text.
var cdataEnd = []byte("]]>")

// textAfter returns the text of a chunk that starts with the rest of the
// markup after: its part after that markup's '>'.
func textAfter(chunk []byte, after int) []byte {
	switch after {
	case afterStartTag:
		if end, err := startTagEnd(chunk); err == nil && end > 0 {
			return chunk[end:]
		}
		return nil // refused where it was read, or not read
	case afterEndTag:
		if i := bytes.IndexByte(chunk, '>'); i >= 0 {
			return chunk[i+1:]
		}
		return nil
	}
	return chunk
}

// markColumn marks column i (0-based) in cols, made on first use.
func markColumn(cols []bool, i int) []bool {
	if cols == nil {
		cols = make([]bool, excelize.MaxColumns)
	}
	cols[i] = true
	return cols
}

// parseMerge reads the reference of a range of merged cells ("B3:C5"); ok
// is false for one cell, or a reference excelize would not read.
func parseMerge(ref string) (r cellRange, ok bool) {
	from, to, found := strings.Cut(ref, ":")
	if !found {
		return r, false
	}
	c1, r1, err := excelize.CellNameToCoordinates(from)
	if err != nil {
		return r, false
	}
	c2, r2, err := excelize.CellNameToCoordinates(to)
	if err != nil || r2 < r1 || c2 < c1 || r2 == r1 && c2 == c1 {
		return r, false
	}
	return cellRange{r1: r1, r2: r2, c1: c1 - 1, c2: c2 - 1}, true
}

// checkSharedStrings scans a shared strings part for characters XML does
// not allow, as checkWorksheet does.
func checkSharedStrings(zf *zip.File) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	item := -1 // index of the current <si>, as cells refer to it
	text := xmlText{entities: true}
	for {
		chunk, err := br.ReadSlice('<')
		if bad, _ := text.check(chunk, errors.Is(err, bufio.ErrBufferFull)); bad != "" {
			return fmt.Errorf("shared string %d: %s", item, bad)
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
		head, _ := br.Peek(32)
		if tag, _ := tagName(head); string(tag) == "si" {
			item++
		}
	}
}

// tagName returns the local name of the tag at the start of head (just
// after its '<') and the length of its name with any prefix; end is -1 if
// head holds no whole name. The name ends, as encoding/xml reads it, at
// the first byte that cannot be part of one, and its prefix is what comes
// before a ':' with text on both sides (<:c> and <c:> are named so whole,
// as excelize sees them).
func tagName(head []byte) (tag []byte, end int) {
	end = nameLen(head)
	if end < 0 {
		return nil, -1
	}
	return localName(head[:end]), end
}

// localName returns name without its prefix: what comes before a ':'
// with text on both sides, as encoding/xml reads it.
func localName(name []byte) []byte {
	if prefix, local, ok := bytes.Cut(name, []byte(":")); ok && len(prefix) > 0 && len(local) > 0 {
		return local
	}
	return name
}

// refAttr starts a cell's reference attribute, as writers write it.
var refAttr = []byte(` r="`)

// boolAttr and boolAttrSingle are the type attribute of a boolean cell,
// dateAttr and dateAttrSingle that of a date cell holding ISO 8601 text.
var (
	boolAttr       = []byte(` t="b"`)
	boolAttrSingle = []byte(` t='b'`)
	dateAttr       = []byte(` t="d"`)
	dateAttrSingle = []byte(` t='d'`)
)

// cellColumn returns the column number in the r attribute of a cell start
// tag, 0 without one.
func cellColumn(attrs []byte) int {
	var ref []byte
	if i := bytes.Index(attrs, refAttr); i >= 0 {
		ref = attrs[i+len(refAttr):]
	} else if r, ok := attrValue(attrs, "r"); ok {
		ref = r
	}
	col := 0
	for _, c := range ref {
		c |= 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		if col = col*26 + int(c-'a') + 1; col > excelize.MaxColumns {
			return 0 // not a column: excelize reports the reference
		}
	}
	return col
}

// columnName names column n for a message.
func columnName(n int) string {
	name, err := excelize.ColumnNumberToName(n)
	if err != nil {
		return strconv.Itoa(n)
	}
	return name
}

// xmlEntities are the entities XML predefines.
var xmlEntities = []string{"amp", "lt", "gt", "apos", "quot"}

// xmlText checks text read in chunks for characters XML does not allow,
// as encoding/xml checks them (badXML): a chunk cut by a full buffer may
// end inside a character or an entity, whose end the next chunk holds.
type xmlText struct {
	entities bool // '&' starts an entity (not in a CDATA section)
	kept     [maxEntity + utf8.UTFMax]byte
	n        int // bytes kept: the start of a character or an entity
}

// maxEntity bounds the entities xmlText reads across chunks ("&#x1F600;").
const maxEntity = 32

// check describes the first character in chunk that XML does not allow,
// or returns "", and says whether chunk holds "]]>" (badXML). A chunk cut
// by a full buffer (cut) keeps its end for the next.
func (x *xmlText) check(chunk []byte, cut bool) (bad string, cdataEnd bool) {
	if x.n > 0 {
		// The end of the character or entity kept.
		kept := x.kept[:x.n]
		x.n = 0
		k := 0
		if kept[0] == '&' {
			k = bytes.IndexByte(chunk[:min(len(chunk), maxEntity)], ';') + 1
		} else if need := utf8Len(kept[0]) - len(kept); need > 0 {
			k = min(need, len(chunk))
		}
		var b [2*maxEntity + utf8.UTFMax]byte
		if bad, _ := badXML(append(append(b[:0], kept...), chunk[:k]...), x.entities); bad != "" {
			return bad, false
		}
		chunk = chunk[k:]
	}
	if cut {
		end := len(chunk)
		for i := len(chunk) - 1; i >= 0 && i >= len(chunk)-utf8.UTFMax; i-- {
			if utf8.RuneStart(chunk[i]) {
				if !utf8.FullRune(chunk[i:]) {
					end = i
				}
				break
			}
		}
		if amp := bytes.LastIndexByte(chunk[:end], '&'); x.entities && amp >= 0 && len(chunk)-amp <= maxEntity &&
			bytes.IndexByte(chunk[amp:], ';') < 0 {
			end = amp
		}
		x.n = copy(x.kept[:], chunk[end:])
		chunk = chunk[:end]
	}
	return badXML(chunk, x.entities)
}

// utf8Len returns the length of the UTF-8 sequence lead starts (1 for a
// byte that starts none).
func utf8Len(lead byte) int {
	switch {
	case lead&0xE0 == 0xC0:
		return 2
	case lead&0xF0 == 0xE0:
		return 3
	case lead&0xF8 == 0xF0:
		return 4
	}
	return 1
}

// xmlTextBytes marks the bytes badXML looks at closer: control characters,
// '&', ']' (of "]]>") and the bytes of characters beyond ASCII.
var xmlTextBytes = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = c != '\t' && c != '\n' && c != '\r'
	}
	t['&'], t[']'] = true, true
	for c := utf8.RuneSelf; c < len(t); c++ {
		t[c] = true
	}
	return t
}()

// badXML describes the first character in b that XML does not allow
// (as encoding/xml checks them), or returns "", reading '&' as the start
// of an entity or not (entities); cdataEnd says b holds "]]>", which
// encoding/xml refuses in text (but not in an attribute value).
func badXML(b []byte, entities bool) (bad string, cdataEnd bool) {
	for i := 0; i < len(b); {
		for i < len(b) && !xmlTextBytes[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		c := b[i]
		switch {
		case c == ']':
			cdataEnd = cdataEnd || bytes.HasPrefix(b[i:], []byte("]]>"))
			i++
			continue
		case c == '&' && !entities:
			i++
			continue
		case c == '&':
			end := bytes.IndexByte(b[i:], ';')
			if end < 0 || !slices.Contains(xmlEntities, string(b[i+1:i+end])) && !isCharRef(string(b[i+1:i+end])) {
				return "an & that starts no XML entity (or one naming a character XML does not allow): the program that wrote the workbook did not escape it", cdataEnd
			}
			i += end + 1
			continue
		case c < utf8.RuneSelf:
			return fmt.Sprintf("character U+%04X, which XML does not allow: the program that wrote the workbook did not escape it", c), cdataEnd
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("byte 0x%02X, not UTF-8: the program that wrote the workbook used another encoding", c), cdataEnd
		}
		if !isXMLChar(r) {
			return fmt.Sprintf("character U+%04X, which XML does not allow", r), cdataEnd
		}
		i += size
	}
	return "", cdataEnd
}

// isCharRef reports whether name is the inside of a character reference
// (&#65; or &#x41;) to a character XML allows.
func isCharRef(name string) bool {
	digits, base := strings.CutPrefix(name, "#x")
	if !base {
		var ok bool
		if digits, ok = strings.CutPrefix(name, "#"); !ok {
			return false
		}
	}
	b := 10
	if base {
		b = 16
	}
	n, err := strconv.ParseUint(digits, b, 32)
	return err == nil && isXMLChar(rune(n))
}

// isXMLChar reports whether XML allows r (the Char production).
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= utf8.MaxRune
}

// xmlAttr finds attribute name in the attribute text of a start tag.
func xmlAttr(attrs []byte, name string) (string, bool) {
	v, ok := attrValue(attrs, name)
	return string(v), ok
}

// attrValue finds attribute name in the attribute text of a start tag
// (name="value" or name='value' after white space) and returns its value,
// the first found, without copying it. It runs for every cell and row.
func attrValue(attrs []byte, name string) ([]byte, bool) {
	n := len(name)
	for i := 1; i+n+2 <= len(attrs); i++ {
		switch attrs[i-1] {
		case ' ', '\t', '\n', '\r':
		default:
			continue
		}
		if attrs[i+n] != '=' || string(attrs[i:i+n]) != name {
			continue
		}
		q := attrs[i+n+1]
		if q != '"' && q != '\'' {
			continue
		}
		rest := attrs[i+n+2:]
		if j := bytes.IndexByte(rest, q); j >= 0 {
			return rest[:j], true
		}
	}
	return nil, false
}

func (t *xlsxTable) header() []string { return t.hdr }

// headerHeadings describes the header's headings: cells merged across
// columns, named by range and text (`B1:C1 ("pay")`).
func (t *xlsxTable) headerHeadings() []string {
	var out []string
	for _, r := range t.headings {
		out = append(out, fmt.Sprintf("%s (%q)", r, strings.TrimSpace(t.hdr[r.c1])))
	}
	return out
}

func (t *xlsxTable) headerLine() int { return t.hdrRow }

// where names the sheet too: without one in the mapping, the first
// visible worksheet is read, which may not be the one meant.
func (t *xlsxTable) where() string { return t.file + ": sheet " + t.sheet }

func (t *xlsxTable) sheetName() string { return t.sheet }

func (t *xlsxTable) cellKind() cellKind { return t.kind }

func (t *xlsxTable) selectColumns(positions []int, types []string, formatted []bool) {
	t.used = positions
	t.width = 0
	for _, p := range positions {
		t.width = max(t.width, p+1)
	}
	t.text = make([]bool, t.width)
	t.formatted = make([]bool, t.width)
	scan := t.needsScan
	for i, p := range positions {
		t.text[p] = types[i] == schema.TypeString || types[i] == ""
		t.formatted[p] = formatted[i]
		scan = scan || formatted[i]
		// A date, or a number padded with zeros or shown as a
		// percentage, shows as such in a text column; a boolean's 1 or 0
		// is TRUE or FALSE but in a bool column.
		scan = scan || t.text[p] && t.shownCols != nil && t.shownCols[p] ||
			types[i] != schema.TypeBool && t.boolCols != nil && t.boolCols[p]
	}
	if t.scan != nil && !scan {
		// The scan was for cells that read the same without it here.
		t.scanErr = t.scan.close()
		t.scan = nil
	}
	if t.scan != nil {
		t.scan.typedCols = t.formatted
	}
	// A merge from the header down is part of the header (a header of
	// two rows), and so is one from above it, which filled the header.
	t.merges = slices.DeleteFunc(t.merges, func(m mergeRange) bool {
		return m.first <= t.rowNum || !slices.Contains(positions, m.col)
	})
	t.mi, t.active = 0, nil
}

// fillMerged puts the value of a cell merged down over rows into the
// empty cell of its column in each row of the merge, as the sheet shows
// it (a team name written once for its members; a column name merged
// down over a header of two rows). Excel keeps the value of merged cells
// in the first alone. typed (tableRow.typed) gains the columns filled
// with a number or date cell's value.
func (t *xlsxTable) fillMerged(cells []string, typed []int) ([]string, []int) {
	if len(t.active) == 0 && t.mi == len(t.merges) {
		return cells, typed
	}
	t.active = slices.DeleteFunc(t.active, func(a activeMerge) bool { return a.last < t.rowNum })
	for _, a := range t.active {
		for len(cells) <= a.col {
			cells = append(cells, "")
		}
		if cells[a.col] == "" {
			cells[a.col] = a.value
			if a.typed {
				typed = append(typed, a.col)
			}
		}
	}
	for ; t.mi < len(t.merges) && t.merges[t.mi].first <= t.rowNum; t.mi++ {
		if m := t.merges[t.mi]; m.first == t.rowNum && m.col < len(cells) && cells[m.col] != "" {
			t.active = append(t.active, activeMerge{last: m.last, col: m.col, value: cells[m.col], typed: slices.Contains(typed, m.col)})
		}
	}
	return cells, typed
}

// next returns the next row with any content; line is its sheet row number.
func (t *xlsxTable) next(ctx context.Context) (tableRow, bool, error) {
	for {
		if err := ctx.Err(); err != nil {
			return tableRow{}, false, err
		}
		cells, ok, colErr, err := t.feed.next()
		if !ok {
			if err != nil {
				return tableRow{}, false, pipeline.Permanent(fmt.Errorf("%s: sheet %s after row %d: %w", t.file, t.sheet, t.rowNum, err))
			}
			if t.rowNum < t.lastRow {
				// The iterator stops, without an error, at XML it cannot
				// read.
				return tableRow{}, false, pipeline.Permanent(fmt.Errorf("%s: sheet %s: unreadable after row %d (the sheet has rows up to %d): malformed XML", t.file, t.sheet, t.rowNum, t.lastRow))
			}
			return tableRow{}, false, nil
		}
		t.rowNum++
		if colErr != nil {
			return tableRow{}, false, pipeline.Permanent(fmt.Errorf("%s: sheet %s, row %d: unreadable: %w", t.file, t.sheet, t.rowNum, colErr))
		}
		rowErr, typed, err := t.applyNotes(cells)
		if err != nil {
			return tableRow{}, false, err
		}
		if !blankRow(cells) {
			cells, typed = t.fillMerged(cells, typed)
			if rowErr != nil {
				return tableRow{line: t.rowNum, rowErr: rowErr}, true, nil
			}
			if t.used != nil && len(cells) > t.width {
				// The batch copies every cell it keeps: a row reaching
				// column XFD would cost 16384 of them.
				cells = cells[:t.width]
			}
			return tableRow{line: t.rowNum, cells: cells, typed: typed}, true, nil
		}
	}
}

// applyNotes applies the cell scan's notes on the current row: numbers
// take their shortest form, booleans TRUE or FALSE, dates in text columns
// their ISO form, and formulas without a calculated result are
// blanked (their value, "" or a placeholder 0, is not the formula's). The
// first such formula in a column the mapping reads is returned as a row
// error, for a row that is not empty otherwise: templates fill formulas
// down into rows still without data. typed lists the columns read with a
// text format whose cells are numbers or dates (tableRow.typed).
func (t *xlsxTable) applyNotes(cells []string) (rowErr *event.RowError, typed []int, err error) {
	if t.scan == nil { // nothing to note
		return nil, nil, nil
	}
	notes, err := t.scan.rowNotes(t.rowNum)
	if err != nil {
		return nil, nil, pipeline.Permanent(fmt.Errorf("%s: sheet %s, row %d: unreadable: %w", t.file, t.sheet, t.rowNum, err))
	}
	if t.used == nil {
		// The header, or a row above it: number, date and boolean cells
		// name their columns as the spreadsheet shows them (a month's
		// date, not its serial).
		for _, n := range notes {
			if n.col < len(cells) && !n.uncached {
				cells[n.col] = cmp.Or(n.shown, n.text, cells[n.col])
			}
		}
		return nil, nil, nil
	}
	for _, n := range notes {
		if n.col >= len(cells) {
			continue
		}
		if n.typed {
			typed = append(typed, n.col)
		}
		switch {
		case n.uncached:
			cells[n.col] = ""
			if rowErr != nil || !slices.Contains(t.used, n.col) {
				continue
			}
			rowErr = &event.RowError{Line: t.rowNum, Column: strings.TrimSpace(t.hdr[n.col]), Error: errNoResult}
			if n.placeholder {
				rowErr.Error = errPlaceholderResult
			}
			if n.formula != "" {
				rowErr.Value = clip("=" + n.formula)
			}
		case n.shown != "" && n.col < len(t.text) && t.text[n.col]:
			cells[n.col] = n.shown
		case n.text != "":
			cells[n.col] = n.text
		}
	}
	return rowErr, typed, nil
}

// The row errors of formulas without a calculated result.
const (
	errNoResult          = "a formula without a calculated result (the workbook was saved by a program that does not calculate formulas): open and save it in a spreadsheet application"
	errPlaceholderResult = "a formula whose stored result, 0, may be a placeholder (the workbook asks to be recalculated when opened, as programs that do not calculate formulas write it): open and save it in a spreadsheet application"
)

func (t *xlsxTable) close() error {
	errs := []error{t.scanErr}
	if t.scan != nil {
		errs = append(errs, t.scan.close())
		t.scan = nil
	}
	if t.feed != nil {
		t.feed.close()
		t.feed = nil
	}
	if t.rows != nil {
		if err := t.rows.Close(); err != nil && !errors.Is(err, excelize.ErrMaxRows) {
			errs = append(errs, err)
		}
		t.rows = nil
	}
	if t.f != nil {
		errs = append(errs, t.f.Close())
		t.f = nil
	}
	if t.zr != nil {
		errs = append(errs, t.zr.Close())
		t.zr = nil
	}
	return errors.Join(errs...)
}
