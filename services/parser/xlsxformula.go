package parser

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"
)

// A formula cell stores its formula and, in a <v> element, the result its
// writer calculated. Excel and LibreOffice always store the result; programs
// that cannot calculate store none (openpyxl writes <v/>) or a placeholder
// (XlsxWriter writes 0) and set the workbook's fullCalcOnLoad, asking the
// application that opens it to recalculate. excelize's row iterator gives
// the stored text either way ("" or "0"), so formulaScan reads the mapped
// worksheet alongside it to tell such cells apart from real values.

// uncachedCell is a cell holding a formula without a usable result.
type uncachedCell struct {
	col     int    // 0-based column
	formula string // the formula text, "" for a shared formula's follower
}

// formulaScan reads a worksheet part row by row, in step with excelize's
// row iterator, and reports each row's formula cells without a usable
// result. It scans bytes, as checkRowNumbers does, and runs only for
// worksheets holding formulas.
type formulaScan struct {
	rc     io.ReadCloser
	br     *bufio.Reader
	recalc bool // fullCalcOnLoad: every stored result is a placeholder
	eof    bool
	row    int            // number of the row scanned last
	cells  []uncachedCell // its uncached cells
}

// maxFormulaText bounds the formula text kept for an error message.
const maxFormulaText = 256

// openFormulaScan opens the worksheet part of sheet if it is one of
// formulaParts (lower-cased names), and returns nil otherwise.
func openFormulaScan(zr *zip.Reader, sheet string, formulaParts map[string]bool, recalc bool) (*formulaScan, error) {
	if len(formulaParts) == 0 {
		return nil, nil
	}
	part, err := sheetPart(zr, sheet)
	if err != nil {
		return nil, err
	}
	if !formulaParts[strings.ToLower(part)] {
		return nil, nil
	}
	for _, zf := range zr.File {
		if strings.EqualFold(strings.ReplaceAll(zf.Name, `\`, "/"), part) {
			rc, err := zf.Open()
			if err != nil {
				return nil, err
			}
			return &formulaScan{rc: rc, br: bufio.NewReaderSize(rc, 64<<10), recalc: recalc}, nil
		}
	}
	return nil, fmt.Errorf("sheet %s: part %s missing", sheet, part)
}

// uncached returns the formula cells without a usable result of sheet row
// n. Rows are asked for in increasing order.
func (s *formulaScan) uncached(n int) ([]uncachedCell, error) {
	for s.row < n && !s.eof {
		if err := s.readRow(); err != nil {
			return nil, err
		}
	}
	if s.row != n {
		return nil, nil // row n has no element
	}
	return s.cells, nil
}

func (s *formulaScan) close() error { return s.rc.Close() }

// readRow scans the next row element: its number and uncached cells.
func (s *formulaScan) readRow() error {
	s.cells = s.cells[:0]
	for {
		name, err := s.nextTag()
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil
		}
		if err != nil {
			return err
		}
		if name == "row" {
			break
		}
	}
	attrs, empty, err := s.startTag()
	if err != nil {
		return err
	}
	s.row++
	if r, ok := xmlAttr(attrs, "r"); ok {
		n, err := strconv.Atoi(r)
		if err != nil {
			return fmt.Errorf("row number %q: %w", r, err)
		}
		s.row = n
	}
	if empty {
		return nil
	}
	col := -1
	var cell struct {
		typ, formula       string
		hasFormula, cached bool
	}
	done := func() {
		if cell.hasFormula && (!cell.cached || s.recalc) {
			s.cells = append(s.cells, uncachedCell{col: col, formula: cell.formula})
		}
	}
	for {
		name, err := s.nextTag()
		if err != nil {
			return fmt.Errorf("row %d: %w", s.row, err)
		}
		switch name {
		case "/row":
			return nil
		case "c":
			attrs, empty, err := s.startTag()
			if err != nil {
				return err
			}
			col++
			if r, ok := xmlAttr(attrs, "r"); ok {
				c, _, err := excelize.CellNameToCoordinates(r)
				if err != nil {
					return fmt.Errorf("row %d: %w", s.row, err)
				}
				col = c - 1
			}
			cell.typ, _ = xmlAttr(attrs, "t")
			cell.formula, cell.hasFormula, cell.cached = "", false, false
			if empty {
				done()
			}
		case "/c":
			done()
		case "f":
			_, empty, err := s.startTag()
			if err != nil {
				return err
			}
			cell.hasFormula = true
			if !empty {
				text, err := s.text()
				if err != nil {
					return err
				}
				cell.formula = html.UnescapeString(string(text))
			}
		case "v":
			_, empty, err := s.startTag()
			if err != nil {
				return err
			}
			if !empty {
				text, err := s.text()
				if err != nil {
					return err
				}
				// An empty result is a result for a formula giving
				// text (t="str"), not for one giving a number.
				cell.cached = len(text) > 0 || cell.typ == "str"
			}
		}
	}
}

// nextTag reads up to and including the next '<' and returns the tag's
// local name, with a leading "/" for an end tag.
func (s *formulaScan) nextTag() (string, error) {
	for {
		if _, err := s.br.ReadSlice('<'); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			return "", err
		}
		head, _ := s.br.Peek(32)
		end := bytes.IndexAny(head[min(1, len(head)):], " \t\r\n/>") + 1
		if end <= 0 {
			continue
		}
		tag := head[:end]
		closing := tag[0] == '/'
		if closing {
			tag = tag[1:]
		}
		if i := bytes.IndexByte(tag, ':'); i >= 0 {
			tag = tag[i+1:]
		}
		if closing {
			return "/" + string(tag), nil
		}
		return string(tag), nil
	}
}

// startTag reads the rest of the start tag nextTag found: its attribute
// text, and whether it is empty (<x/>).
func (s *formulaScan) startTag() (attrs []byte, empty bool, err error) {
	elem, err := s.br.ReadSlice('>')
	if err != nil {
		return nil, false, fmt.Errorf("start tag: %w", err)
	}
	return elem, bytes.HasSuffix(elem, []byte("/>")), nil
}

// text reads the character data up to the next tag (keeping at most
// maxFormulaText bytes) and then that tag's '<'.
func (s *formulaScan) text() ([]byte, error) {
	var out []byte
	for {
		chunk, err := s.br.ReadSlice('<')
		if len(out) < maxFormulaText {
			out = append(out, chunk[:min(len(chunk), maxFormulaText-len(out))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
		out = bytes.TrimSuffix(out, []byte("<"))
		if err := s.br.UnreadByte(); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// sheetPart finds the part name of sheet, as excelize does: the workbook
// part from the package relationships, the sheet's relationship from the
// workbook's.
func sheetPart(zr *zip.Reader, sheet string) (string, error) {
	rels, err := readRels(zr, "_rels/.rels")
	if err != nil {
		return "", err
	}
	var wbPart string
	for _, r := range rels {
		if strings.HasSuffix(r.Type, "/officeDocument") {
			wbPart = strings.TrimPrefix(r.Target, "/")
		}
	}
	if wbPart == "" {
		return "", errors.New("no workbook part")
	}
	var wb struct {
		Sheets []struct {
			Name  string     `xml:"name,attr"`
			Attrs []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := readXMLPart(zr, wbPart, &wb); err != nil {
		return "", err
	}
	dir := path.Dir(wbPart)
	wbRels, err := readRels(zr, path.Join(dir, "_rels", path.Base(wbPart)+".rels"))
	if err != nil {
		return "", err
	}
	for _, sh := range wb.Sheets {
		if sh.Name != sheet {
			continue
		}
		for _, a := range sh.Attrs {
			if a.Name.Local != "id" {
				continue
			}
			for _, r := range wbRels {
				if r.ID != a.Value {
					continue
				}
				if strings.HasPrefix(r.Target, "/") {
					return strings.TrimPrefix(path.Clean(r.Target), "/"), nil
				}
				return path.Join(dir, r.Target), nil
			}
		}
	}
	return "", fmt.Errorf("sheet %s: no worksheet part", sheet)
}

type relationship struct {
	ID     string `xml:"Id,attr"`
	Type   string `xml:"Type,attr"`
	Target string `xml:"Target,attr"`
}

func readRels(zr *zip.Reader, name string) ([]relationship, error) {
	var rels struct {
		Rels []relationship `xml:"Relationship"`
	}
	err := readXMLPart(zr, name, &rels)
	return rels.Rels, err
}

// readXMLPart decodes a small part (the caller checked its size).
func readXMLPart(zr *zip.Reader, name string, v any) error {
	for _, zf := range zr.File {
		if !strings.EqualFold(strings.ReplaceAll(zf.Name, `\`, "/"), name) {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return err
		}
		defer rc.Close()
		if err := xml.NewDecoder(rc).Decode(v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	return fmt.Errorf("part %s missing", name)
}
