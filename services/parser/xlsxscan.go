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
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// What excelize's row iterator does not say about a cell, cellScan reads
// from the worksheet alongside it.
//
// A formula cell stores its formula and, in a <v> element, the result its
// writer calculated. Excel and LibreOffice always store the result; programs
// that cannot calculate store none (openpyxl writes <v/>) or, as Microsoft
// recommends, the placeholder 0 (XlsxWriter) and set the workbook's
// fullCalcOnLoad, asking the application that opens it to recalculate. The
// iterator gives the stored text either way ("" or "0"). Other results
// stored under fullCalcOnLoad are taken as calculated (EPPlus sets it by
// default, and may have calculated them).
//
// A number cell stores the number as its writer printed it: Excel writes
// the shortest form ("1042") or 17 significant digits
// ("0.10299999999999999" for 0.103), Apache POI "1042.0" and "1.0E10". The
// iterator's raw values keep that text, which a string column would take
// as it is: the same number would give different keys by writer.
//
// A boolean cell stores 1 or 0, which the iterator's raw values keep; the
// spreadsheet shows TRUE or FALSE, and writes them when it saves CSV.
// LibreOffice saves booleans as number cells, 1 or 0, whose format shows
// them as such ("TRUE";"TRUE";"FALSE"): they read as boolean cells do.
//
// A date cell stores its serial number (days since 1900 or 1904) and shows
// the date its style's number format gives; a text column reads the date,
// in ISO form, where the iterator's raw values give the serial (and a
// date cell of ISO 8601 text, t="d", the same form). A time of
// day (a fraction of a day with a format of times alone, h:mm) reads as
// hh:mm:ss.
//
// A number cell whose format pads it with zeros or shows it as a
// percentage (numfmt.go) reads in a text column as the sheet shows it
// (00123, EMP0123, 25.0%).
//
// A number cell and a text cell holding the same characters ("1.234") give
// the same raw value, while a column that reads text with a format (1.234
// meaning 1234) must tell them apart: the scan says which of its cells are
// numbers or dates.

// cellNote is what cellScan tells about one cell.
type cellNote struct {
	col int // 0-based column
	// uncached marks a formula without a usable result: none stored, or
	// (placeholder) the placeholder 0; formula is its text ("" for a shared
	// formula's follower).
	uncached, placeholder bool
	formula               string
	// text is the value as the spreadsheet shows it, where the stored
	// text differs ("" otherwise): the shortest form of a number stored in
	// another, TRUE or FALSE for a boolean (stored as 1 or 0).
	text string
	// shown is the value a text column reads where a number's format
	// shows it as other text: the date a number with a date format
	// shows, in ISO form (YYYY-MM-DD, with THH:MM:SS for a time of day),
	// the time of day (hh:mm:ss) one with a format of times alone shows,
	// or the text of a zero-padded number or a percentage (shownNumber);
	// "" for other cells and serials that are no date or time.
	shown string
	// typed marks a number or date cell (rather than text) in a column
	// of cellScan.typedCols.
	typed bool
}

// cellScan reads a worksheet part row by row, in step with excelize's row
// iterator, and notes each row's formula cells without a usable result,
// number cells not in their shortest form and the number and date cells of
// typedCols. It scans bytes, as checkWorksheet does, and runs only for
// worksheets checkWorksheet found such cells in, or whose source reads
// text with a format.
type cellScan struct {
	rc     io.ReadCloser
	br     *bufio.Reader
	recalc bool // fullCalcOnLoad: a stored 0 is a placeholder
	dates  dateStyles
	eof    bool
	row    int        // number of the row scanned last
	notes  []cellNote // its notes
	// typedCols marks the columns (0-based) whose number and date cells
	// are noted as typed: those read with a text format.
	typedCols []bool
}

// maxFormulaText bounds the formula text kept for an error message.
const maxFormulaText = 256

// openCellScan opens a cellScan of the worksheet part zf.
func openCellScan(zf *zip.File, recalc bool, dates dateStyles) (*cellScan, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	return &cellScan{rc: rc, br: bufio.NewReaderSize(rc, 64<<10), recalc: recalc, dates: dates}, nil
}

// rowNotes returns the notes on the cells of sheet row n. Rows are asked
// for in increasing order.
func (s *cellScan) rowNotes(n int) ([]cellNote, error) {
	for s.row < n && !s.eof {
		if err := s.readRow(); err != nil {
			return nil, err
		}
	}
	if s.row != n {
		return nil, nil // row n has no element
	}
	return s.notes, nil
}

func (s *cellScan) close() error { return s.rc.Close() }

// readRow scans the next row element: its number and notes.
func (s *cellScan) readRow() error {
	s.notes = s.notes[:0]
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
	var cell struct {
		col                int
		typ                string
		hasFormula, cached bool
		zero               bool          // the stored result is the number 0
		date               bool          // a date or time format
		time               bool          // a format of times alone
		boolean            bool          // a number with a boolean format
		format             *numberFormat // a format showing other text (shownNumber)
		note               cellNote
	}
	cell.col = -1
	inCell := false // between a c start tag and its end
	done := func() {
		if !inCell {
			return // an end tag without its start
		}
		inCell = false
		cell.note.col = cell.col
		cell.note.placeholder = cell.hasFormula && cell.zero && s.recalc
		cell.note.uncached = cell.hasFormula && !cell.cached || cell.note.placeholder
		if cell.note.uncached || cell.note.text != "" || cell.note.shown != "" || cell.note.typed {
			s.notes = append(s.notes, cell.note)
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
			cell.col++
			inCell = true
			if r, ok := xmlAttr(attrs, "r"); ok {
				c, _, err := excelize.CellNameToCoordinates(r)
				if err != nil {
					return fmt.Errorf("row %d: %w", s.row, err)
				}
				cell.col = c - 1
			}
			cell.typ, _ = xmlAttr(attrs, "t")
			cell.hasFormula, cell.cached, cell.zero, cell.note = false, false, false, cellNote{}
			style, kind := s.dates.style(attrs)
			number := cell.typ == "" || cell.typ == "n"
			cell.date = number && (kind == dateTime || kind == timeOfDay)
			cell.time = kind == timeOfDay
			cell.boolean = number && kind == booleanNumber
			cell.format = nil
			if number && kind == shownNumber {
				cell.format = s.dates.shown[style]
			}
			if empty {
				done()
			}
		case "/c":
			done()
		case "f", "v":
			if !inCell {
				// A value outside a cell (excelize's row reader passes
				// it over): not a note.
				continue
			}
		}
		switch name {
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
				cell.note.formula = html.UnescapeString(string(text))
			}
		case "v":
			_, empty, err := s.startTag()
			if err != nil {
				return err
			}
			if empty {
				continue
			}
			text, err := s.text()
			if err != nil {
				return err
			}
			// An empty result is a result for a formula giving text
			// (t="str"), not for one giving a number.
			cell.cached = len(text) > 0 || cell.typ == "str"
			number := cell.typ == "" || cell.typ == "n" || cell.typ == "d"
			cell.note.typed = number && len(text) > 0 && cell.col < len(s.typedCols) && s.typedCols[cell.col]
			switch cell.typ {
			case "", "n":
				cell.zero = string(text) == "0"
				if n, ok := shorterNumber(text); ok {
					cell.note.text = n
				}
				switch {
				case cell.boolean:
					cell.note.text = boolText[string(text)]
				case cell.time:
					cell.note.shown = timeText(text)
				case cell.date:
					cell.note.shown = s.dates.iso(text)
				case cell.format != nil:
					cell.note.shown = cell.format.render(text)
				}
			case "b":
				cell.note.text = boolText[string(text)]
			case "d":
				cell.note.shown = isoDateCell(text)
			}
		}
	}
}

// dateStyles are the cell styles (by index) of a workbook whose number
// format shows a date, a time of day, a boolean or a number as other text
// (shown has the formats of those); date1904 is its date system.
type dateStyles struct {
	styles   map[int]dateKind
	shown    map[int]*numberFormat
	date1904 bool
}

// dateKind is what a number format shows of a number: a date, a time of
// day, a boolean, other text than the number or none of these.
type dateKind int

const (
	notDate       dateKind = iota
	dateTime               // a date, maybe with a time
	timeOfDay              // a time alone (h:mm, mm:ss)
	booleanNumber          // 1 or 0 as TRUE or FALSE ("TRUE";"TRUE";"FALSE")
	shownNumber            // zero-padded or a percentage (parseNumberFormat)
)

// kind returns the dateKind of the style of a cell with the attribute
// text attrs.
func (d dateStyles) kind(attrs []byte) dateKind {
	_, k := d.style(attrs)
	return k
}

// style returns the style index of a cell with the attribute text attrs
// and its dateKind; the index is meaningless for notDate.
func (d dateStyles) style(attrs []byte) (int, dateKind) {
	if len(d.styles) == 0 {
		return 0, notDate
	}
	var v []byte
	if i := bytes.Index(attrs, styleAttr); i >= 0 { // as writers write it
		v = attrs[i+len(styleAttr):]
		v = v[:max(0, bytes.IndexByte(v, '"'))]
	} else if s, ok := attrValue(attrs, "s"); ok {
		v = s
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' || n > excelize.MaxCellStyles {
			return 0, notDate
		}
		n = n*10 + int(c-'0')
	}
	if len(v) == 0 {
		return 0, notDate
	}
	return n, d.styles[n]
}

// styleAttr starts a cell's style attribute, as writers write it.
var styleAttr = []byte(` s="`)

// iso renders a serial as the date it is, or "" if it is none (as
// parseDateCell refuses it).
func (d dateStyles) iso(serial []byte) string {
	t, _, err := parseDateCell(string(serial), cellKind{xlsx: true, date1904: d.date1904})
	if err != nil {
		return ""
	}
	return isoText(t)
}

// isoDateCell renders the ISO 8601 text of a date cell (t="d") as iso
// renders a serial, or returns "" for text without a date and time in
// the local time of the sheet (a time alone, a time with an offset).
func isoDateCell(text []byte) string {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, string(text)); err == nil {
			return isoText(t)
		}
	}
	return ""
}

// isoText renders a date as a text column reads it: YYYY-MM-DD, with
// THH:MM:SS unless at midnight.
func isoText(t time.Time) string {
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02T15:04:05")
}

// readDateStyles finds the cell styles of the workbook's styles part whose
// number format shows a date (a built-in date format or a custom one with
// days or years), a time of day (h:mm; not [h]:mm, which shows a number
// of hours), a boolean or a number as other text (a built-in or custom
// percentage, a zero-padded custom format).
func readDateStyles(zr *zip.Reader, date1904 bool) (dateStyles, error) {
	d := dateStyles{date1904: date1904}
	if findPart(zr, "xl/styles.xml") == nil {
		return d, nil
	}
	var st struct {
		NumFmts []struct {
			ID   int    `xml:"numFmtId,attr"`
			Code string `xml:"formatCode,attr"`
		} `xml:"numFmts>numFmt"`
		Xfs []struct {
			NumFmtID int `xml:"numFmtId,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := readXMLPart(zr, "xl/styles.xml", &st); err != nil {
		return d, err
	}
	dateFmt := map[int]dateKind{}
	for _, id := range builtInDateFormats {
		dateFmt[id] = dateTime
	}
	for _, id := range builtInTimeFormats {
		dateFmt[id] = timeOfDay
	}
	shown := map[int]*numberFormat{}
	for id, f := range builtInShownFormats {
		dateFmt[id], shown[id] = shownNumber, f
	}
	for _, nf := range st.NumFmts {
		dateFmt[nf.ID] = formatKind(nf.Code)
		delete(shown, nf.ID)
		switch f, ok := parseNumberFormat(nf.Code); {
		case isBooleanFormat(nf.Code):
			dateFmt[nf.ID] = booleanNumber
		case dateFmt[nf.ID] == notDate && ok:
			dateFmt[nf.ID], shown[nf.ID] = shownNumber, f
		}
	}
	for i, xf := range st.Xfs {
		if k := dateFmt[xf.NumFmtID]; k != notDate {
			if d.styles == nil {
				d.styles = map[int]dateKind{}
			}
			d.styles[i] = k
			if k == shownNumber {
				if d.shown == nil {
					d.shown = map[int]*numberFormat{}
				}
				d.shown[i] = shown[xf.NumFmtID]
			}
		}
	}
	return d, nil
}

// builtInShownFormats are the built-in number formats that show numbers
// as other text: percentages. A numberFormat is read-only once parsed.
var builtInShownFormats = map[int]*numberFormat{9: mustNumberFormat("0%"), 10: mustNumberFormat("0.00%")}

// mustNumberFormat parses a format code known to be a numberFormat, for
// package-level values.
func mustNumberFormat(code string) *numberFormat {
	f, ok := parseNumberFormat(code)
	if !ok {
		panic("parser: not a number format showing other text: " + code)
	}
	return f
}

// builtInDateFormats are the built-in number formats of dates (14 to 17,
// 22; 27 to 31, 34 to 36 and 50 to 58 in East Asian locales).
var builtInDateFormats = []int{14, 15, 16, 17, 22, 27, 28, 29, 30, 31, 34, 35, 36, 50, 51, 52, 53, 54, 55, 56, 57, 58}

// builtInTimeFormats are the built-in number formats of times of day (18
// to 21, 45 and 47; 46 is [h]:mm:ss, a number of hours).
var builtInTimeFormats = []int{18, 19, 20, 21, 45, 47}

// formatKind says what the first section of a number format code shows:
// a date for a d or y outside quoted text, escapes and brackets, a time
// of day for an h or s there (without an elapsed [h], [m] or [s]).
func formatKind(code string) dateKind {
	kind := notDate
	for i := 0; i < len(code); i++ {
		switch c := code[i]; c {
		case '"':
			if j := strings.IndexByte(code[i+1:], '"'); j >= 0 {
				i += j + 1
			} else {
				return notDate
			}
		case '[':
			j := strings.IndexByte(code[i+1:], ']')
			if j < 0 {
				return notDate
			}
			if strings.Trim(strings.ToLower(code[i+1:i+1+j]), "hms") == "" {
				return notDate // elapsed time
			}
			i += j + 1
		case '\\', '_', '*':
			i++ // the next character is literal, or padding
		case ';':
			return kind
		case 'd', 'D', 'y', 'Y':
			return dateTime
		case 'h', 'H', 's', 'S':
			kind = timeOfDay
		}
	}
	return kind
}

// isBooleanFormat reports whether a number format code shows numbers as
// a boolean, as LibreOffice writes it: three sections of quoted text, the
// first two the same ("TRUE";"TRUE";"FALSE", "WAHR";"WAHR";"FALSCH").
func isBooleanFormat(code string) bool {
	sections := strings.Split(code, ";")
	if len(sections) != 3 || sections[0] != sections[1] || sections[1] == sections[2] {
		return false
	}
	for _, s := range sections {
		if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' || strings.Contains(s[1:len(s)-1], `"`) {
			return false
		}
	}
	return true
}

// timeText renders a serial below 1 as the time of day it is (hh:mm:ss,
// to the second, as Excel shows it), or "" for another.
func timeText(serial []byte) string {
	f, err := strconv.ParseFloat(string(serial), 64)
	if err != nil || f < 0 || f >= 1 {
		return ""
	}
	sec := int(math.Round(f * 86400))
	if sec == 86400 {
		return ""
	}
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

// boolText is how a spreadsheet shows the values of boolean cells.
var boolText = map[string]string{"1": "TRUE", "0": "FALSE"}

// shorterNumber returns the shortest form of the number text stores
// ("1042" for "1042.0" or "1.042E3", "0.103" for "0.10299999999999999"),
// the same float64, if text has an exponent, a plus sign, a trailing zero
// after a decimal point or more digits than the shortest form of any
// float64 needs (16 or 17, as Excel writes some numbers); and false
// otherwise, or if text is not a number or is of a magnitude printed with
// an exponent (then left as written).
func shorterNumber(text []byte) (string, bool) {
	trailingZero := len(text) > 0 && text[len(text)-1] == '0' && bytes.IndexByte(text, '.') >= 0
	if !trailingZero && !bytes.ContainsAny(text, "eE+") && digits(text) < 16 {
		return "", false
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return "", false
	}
	n := strconv.FormatFloat(f, 'f', -1, 64)
	return n, n != string(text)
}

// digits counts the decimal digits in text.
func digits(text []byte) int {
	n := 0
	for _, c := range text {
		if c >= '0' && c <= '9' {
			n++
		}
	}
	return n
}

// nextTag reads up to and including the next '<' and returns the tag's
// local name, with a leading "/" for an end tag.
func (s *cellScan) nextTag() (string, error) {
	for {
		if _, err := s.br.ReadSlice('<'); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			return "", err
		}
		head, _ := s.br.Peek(tagPeek)
		if len(head) > 0 && (head[0] == '!' || head[0] == '?') {
			// A comment, CDATA section or processing instruction, whose
			// text may look like tags (checkWorksheet checked them).
			if err := skipMarkup(s.br, head, false, true); err != nil {
				return "", err
			}
			continue
		}
		closing := bytes.HasPrefix(head, []byte("/"))
		if closing {
			head = head[1:]
		}
		tag, end := tagName(head)
		switch {
		case end < 0:
			continue
		case closing:
			return "/" + string(tag), nil
		}
		return string(tag), nil
	}
}

// startTag reads the rest of the start tag nextTag found: its attribute
// text, and whether it is empty (<x/>).
// Like ReadSlice's, attrs is valid until the next read. A '>' or "/>" in an
// attribute value does not end the tag.
func (s *cellScan) startTag() (attrs []byte, empty bool, err error) {
	elem, err := peekStartTag(s.br)
	if err != nil {
		return nil, false, fmt.Errorf("start tag: %w", err)
	}
	if _, err := s.br.Discard(len(elem)); err != nil {
		return nil, false, err
	}
	return elem, bytes.HasSuffix(elem, []byte("/>")), nil
}

// text reads the character data up to the next tag (keeping at most
// maxFormulaText bytes) and then that tag's '<'.
func (s *cellScan) text() ([]byte, error) {
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

// sheetPart finds the part of sheet, as excelize does: the workbook part
// from the package relationships, the sheet's relationship from the
// workbook's; worksheet says it is a worksheet (not a chart sheet, say).
func sheetPart(zr *zip.Reader, sheet string) (zf *zip.File, worksheet bool, err error) {
	rels, err := readRels(zr, "_rels/.rels")
	if err != nil {
		return nil, false, err
	}
	var wbPart string
	for _, r := range rels {
		if strings.HasSuffix(r.Type, "/officeDocument") {
			wbPart = path.Clean(strings.TrimPrefix(r.Target, "/"))
		}
	}
	if wbPart == "" {
		return nil, false, errors.New("no workbook part")
	}
	var wb struct {
		Sheets []struct {
			Name  string     `xml:"name,attr"`
			Attrs []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := readXMLPart(zr, wbPart, &wb); err != nil {
		return nil, false, err
	}
	dir := path.Dir(wbPart)
	wbRels, err := readRels(zr, path.Join(dir, "_rels", path.Base(wbPart)+".rels"))
	if err != nil {
		return nil, false, err
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
				target := strings.ReplaceAll(r.Target, `\`, "/")
				name := path.Join(dir, target)
				if strings.HasPrefix(target, "/") {
					name = strings.TrimPrefix(path.Clean(target), "/")
				}
				if zf := findPart(zr, name); zf != nil {
					return zf, strings.HasSuffix(r.Type, "/worksheet"), nil
				}
				return nil, false, fmt.Errorf("sheet %s: part %s missing", sheet, name)
			}
		}
	}
	return nil, false, fmt.Errorf("sheet %s: no worksheet part", sheet)
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

// findPart returns the part named name (case-insensitive, as excelize
// reads them), or nil.
func findPart(zr *zip.Reader, name string) *zip.File {
	for _, zf := range zr.File {
		if strings.EqualFold(strings.ReplaceAll(zf.Name, `\`, "/"), name) {
			return zf
		}
	}
	return nil
}

// readXMLPart decodes a small part (checkZipSizes bounds it).
func readXMLPart(zr *zip.Reader, name string, v any) error {
	zf := findPart(zr, name)
	if zf == nil {
		return fmt.Errorf("part %s missing", name)
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
