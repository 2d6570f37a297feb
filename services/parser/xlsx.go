package parser

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// xlsxTable is a tableReader over one worksheet, read with excelize's
// streaming row iterator on raw cell values (no number formatting).
type xlsxTable struct {
	file   string
	sheet  string
	zr     *zip.ReadCloser
	f      *excelize.File
	rows   *excelize.Rows
	scan   *cellScan // nil unless the worksheet needs one
	used   []int     // the file columns the mapping reads
	hdr    []string
	rowNum int // sheet row number of the last row read
	kind   cellKind
}

// openXLSX checks the workbook's declared part sizes, opens it and reads
// the header row of the mapped sheet. The zip stays open for the formula
// scan.
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
	scanParts, err := s.checkZipSizes(doc.Path, &zr.Reader)
	if err != nil {
		return nil, err
	}
	if kind := otherZipKind(&zr.Reader); kind != "" {
		return nil, pipeline.Permanent(fmt.Errorf("%s: not an XLSX workbook: %s: save it as .xlsx", doc.Path, kind))
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
		t.sheet = sheets[0]
	case !slices.Contains(sheets, t.sheet):
		i := slices.IndexFunc(sheets, func(n string) bool { return strings.EqualFold(n, t.sheet) })
		if i < 0 {
			return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %q not found (sheets: %s)", doc.Path, src.Sheet, strings.Join(sheets, ", ")))
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
	recalc := calc.FullCalcOnLoad != nil && *calc.FullCalcOnLoad
	if t.scan, err = openCellScan(&zr.Reader, t.sheet, scanParts, recalc); err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %w", doc.Path, err))
	}
	t.rows, err = f.Rows(t.sheet)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %s: unreadable: %w", doc.Path, t.sheet, err))
	}
	// The header is the first row with any content.
	for {
		row, ok, err := t.next(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %s is empty: no header row", doc.Path, t.sheet))
		}
		t.hdr = row.cells
		break
	}
	return t, nil
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
	var contentTypes, xlsb bool
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
		case "xl/workbook.bin":
			xlsb = true
		}
	}
	switch {
	case xlsb:
		return "an Excel binary workbook (.xlsb)"
	case !contentTypes:
		return "a zip archive without [Content_Types].xml"
	}
	return ""
}

// checkZipSizes refuses, from the zip directory alone, a workbook whose
// parts would inflate beyond the limits: worksheets and shared strings
// (streamed through TempDir) up to XLSXMaxUnzipSize, every other part (read
// into memory) up to XLSXMaxXMLSize. archive/zip fails a part that inflates
// beyond its declared size, so the declared sizes bound the work. It
// returns the worksheet parts (lower-cased names) that need a cellScan.
func (s *Structured) checkZipSizes(file string, zr *zip.Reader) (scanParts map[string]bool, err error) {
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
			return nil, pipeline.Permanent(fmt.Errorf("%s: refused: part %s inflates to %d bytes, over the limit of %d (%d compressed)", file, zf.Name, size, limit, zf.CompressedSize64))
		}
		if total > uint64(s.cfg.XLSXMaxUnzipSize) {
			return nil, pipeline.Permanent(fmt.Errorf("%s: refused: the workbook inflates to more than %d bytes", file, s.cfg.XLSXMaxUnzipSize))
		}
	}
	for _, zf := range zr.File {
		name := strings.ToLower(strings.ReplaceAll(zf.Name, `\`, "/"))
		if !strings.HasPrefix(name, "xl/worksheets/sheet") {
			continue
		}
		needsScan, err := checkWorksheet(zf)
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("%s: unreadable workbook: %s: %w", file, zf.Name, err))
		}
		if needsScan {
			if scanParts == nil {
				scanParts = map[string]bool{}
			}
			scanParts[name] = true
		}
	}
	return scanParts, nil
}

// checkWorksheet scans a worksheet part for <row r="N"> attributes that
// are out of range (1..excelize.TotalRows) or not increasing. excelize's
// row iterator trusts them, so a crafted -1 or a row going backwards would
// silently misplace rows; a byte scan (no XML decoding) is cheap next to
// the parse. It also reports whether the part needs a cellScan: whether it
// holds formulas (<f>) or values that may be numbers not in their shortest
// form.
func checkWorksheet(zf *zip.File) (needsScan bool, err error) {
	rc, err := zf.Open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 64<<10)
	prev, value := 0, false
	for {
		chunk, err := br.ReadSlice('<')
		if value && err == nil && !needsScan {
			// The rest of a <v> start tag, the value and '<'.
			if i := bytes.IndexByte(chunk, '>'); i >= 0 {
				_, needsScan = shorterNumber(chunk[i+1 : len(chunk)-1])
			}
		}
		value = false
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				return needsScan, nil
			}
			return needsScan, err
		}
		head, _ := br.Peek(32)
		end := bytes.IndexAny(head, " \t\r\n/>")
		if end < 0 {
			continue
		}
		tag := head[:end]
		if i := bytes.IndexByte(tag, ':'); i >= 0 {
			tag = tag[i+1:]
		}
		switch string(tag) {
		case "f":
			needsScan = true
		case "v":
			value = true
		}
		if string(tag) != "row" {
			continue
		}
		elem, err := br.ReadSlice('>')
		if err != nil {
			return needsScan, fmt.Errorf("row element: %w", err)
		}
		r, ok := xmlAttr(elem[end:], "r")
		if !ok {
			prev++
			continue
		}
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 || n > excelize.TotalRows {
			return needsScan, fmt.Errorf("row number %q out of range (1 to %d)", r, excelize.TotalRows)
		}
		if n <= prev {
			return needsScan, fmt.Errorf("row %d follows row %d: rows out of order", n, prev)
		}
		prev = n
	}
}

// xmlAttr finds attribute name in the attribute text of a start tag.
func xmlAttr(attrs []byte, name string) (string, bool) {
	for _, q := range []string{`"`, "'"} {
		for _, sp := range []string{" ", "\t", "\n", "\r"} {
			key := []byte(sp + name + "=" + q)
			if i := bytes.Index(attrs, key); i >= 0 {
				rest := attrs[i+len(key):]
				if j := bytes.IndexByte(rest, q[0]); j >= 0 {
					return string(rest[:j]), true
				}
			}
		}
	}
	return "", false
}

func (t *xlsxTable) header() []string { return t.hdr }

func (t *xlsxTable) cellKind() cellKind { return t.kind }

func (t *xlsxTable) selectColumns(positions []int) { t.used = positions }

// next returns the next row with any content; line is its sheet row number.
func (t *xlsxTable) next(ctx context.Context) (tableRow, bool, error) {
	for {
		if err := ctx.Err(); err != nil {
			return tableRow{}, false, err
		}
		if !t.rows.Next() {
			if err := t.rows.Error(); err != nil {
				return tableRow{}, false, pipeline.Permanent(fmt.Errorf("%s: sheet %s after row %d: %w", t.file, t.sheet, t.rowNum, err))
			}
			return tableRow{}, false, nil
		}
		t.rowNum++
		cells, err := t.rows.Columns()
		if err != nil {
			return tableRow{}, false, pipeline.Permanent(fmt.Errorf("%s: sheet %s, row %d: unreadable: %w", t.file, t.sheet, t.rowNum, err))
		}
		if rowErr, err := t.applyNotes(cells); err != nil || rowErr != nil {
			return tableRow{line: t.rowNum, rowErr: rowErr}, err == nil, err
		}
		if slices.ContainsFunc(cells, func(c string) bool { return strings.TrimSpace(c) != "" }) {
			return tableRow{line: t.rowNum, cells: cells}, true, nil
		}
	}
}

// applyNotes applies the cell scan's notes on the current row: numbers
// take their shortest form, and a formula without a usable result (its
// value, "" or a writer's placeholder 0, is not the formula's) in a column
// the mapping reads is a row error.
func (t *xlsxTable) applyNotes(cells []string) (*event.RowError, error) {
	if t.scan == nil || t.used == nil { // nothing to note, or the header row
		return nil, nil
	}
	notes, err := t.scan.rowNotes(t.rowNum)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: sheet %s, row %d: unreadable: %w", t.file, t.sheet, t.rowNum, err))
	}
	for _, n := range notes {
		if n.uncached && slices.Contains(t.used, n.col) {
			e := &event.RowError{Line: t.rowNum, Column: strings.TrimSpace(t.hdr[n.col]),
				Error: "a formula without a calculated result (the workbook was saved by a program that does not calculate formulas): open and save it in a spreadsheet application"}
			if n.formula != "" {
				e.Value = clip("=" + n.formula)
			}
			return e, nil
		}
		if n.number != "" && n.col < len(cells) {
			cells[n.col] = n.number
		}
	}
	return nil, nil
}

func (t *xlsxTable) close() error {
	var errs []error
	if t.scan != nil {
		errs = append(errs, t.scan.close())
		t.scan = nil
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
