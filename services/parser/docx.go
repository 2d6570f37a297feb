package parser

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// docxLimits bound what a .docx may make the parser read.
type docxLimits struct {
	part    int64 // decompressed size of an XML part
	entries int   // entries in the archive
	depth   int   // XML element nesting
}

// defaultDocxLimits are the limits ExtractText applies.
var defaultDocxLimits = docxLimits{part: 64 << 20, entries: 10000, depth: 512}

// WordprocessingML namespaces whose text elements are document text.
const (
	nsWordTransitional = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsWordStrict       = "http://purl.oclc.org/ooxml/wordprocessingml/main"
	nsMath             = "http://schemas.openxmlformats.org/officeDocument/2006/math"
	nsMarkup           = "http://schemas.openxmlformats.org/markup-compatibility/2006"
)

var errNotDocx = errors.New("not a Word document")

// extractDocx returns the text of the main document part of a .docx: one
// paragraph per block separated by blank lines, the runs of a paragraph
// concatenated (runs may split a word), tabs and breaks kept, and tables one
// row per line with cells separated by " | ". Deleted revisions and the
// source of tracked moves, field instructions, hidden runs, phonetic guides
// and the fallback copies of text boxes are left out.
func extractDocx(data []byte, lim docxLimits) (string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", errEmpty
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: not a zip archive: %w", errNotDocx, err)
	}
	if len(zr.File) > lim.entries {
		return "", fmt.Errorf("%w: archive has %d entries (limit %d)", errNotDocx, len(zr.File), lim.entries)
	}
	name := mainPart(zr, lim)
	f := findEntry(zr, name)
	if f == nil {
		return "", fmt.Errorf("%w: no %s in the archive", errNotDocx, name)
	}
	rc, err := openPart(f, lim.part)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	text, err := docxText(rc, lim.depth)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Name, err)
	}
	return normaliseNewlines(text), nil
}

// mainPart finds the main document part through the package relationships
// (_rels/.rels), falling back to word/document.xml.
func mainPart(zr *zip.Reader, lim docxLimits) string {
	const fallback = "word/document.xml"
	f := findEntry(zr, "_rels/.rels")
	if f == nil {
		return fallback
	}
	rc, err := openPart(f, lim.part)
	if err != nil {
		return fallback
	}
	defer rc.Close()
	var rels struct {
		Rel []struct {
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.NewDecoder(rc).Decode(&rels); err != nil {
		return fallback
	}
	for _, r := range rels.Rel {
		if strings.HasSuffix(r.Type, "/officeDocument") && r.Target != "" {
			return strings.TrimPrefix(path.Clean("/"+r.Target), "/")
		}
	}
	return fallback
}

// findEntry returns the archive entry called name (exactly, else ignoring
// case), or nil.
func findEntry(zr *zip.Reader, name string) *zip.File {
	var fold *zip.File
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
		if fold == nil && strings.EqualFold(f.Name, name) {
			fold = f
		}
	}
	return fold
}

// openPart opens an archive entry, refusing parts whose stated or actual
// decompressed size exceeds limit bytes.
func openPart(f *zip.File, limit int64) (io.ReadCloser, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: decompressed size %d bytes exceeds the limit of %d", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Name, err)
	}
	return &limitedPart{rc: rc, name: f.Name, limit: limit, left: limit}, nil
}

// limitedPart fails a read once more than left bytes came out, whatever
// the archive's directory claimed.
type limitedPart struct {
	rc    io.ReadCloser
	name  string
	limit int64
	left  int64
}

func (l *limitedPart) Read(p []byte) (int, error) {
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("%s: decompressed size exceeds the limit of %d bytes", l.name, l.limit)
	}
	return n, err
}

func (l *limitedPart) Close() error { return l.rc.Close() }

// docxTable is the state of one table being read.
type docxTable struct {
	row   []string        // finished cells of the current row
	cell  strings.Builder // text of the current cell
	lines []string        // finished rows
}

// docxReader walks a WordprocessingML body.
type docxReader struct {
	out    strings.Builder
	paras  []*strings.Builder // open paragraphs (text boxes nest them)
	tables []*docxTable
	stack  []xml.Name
	skip   int // depth of a skipped subtree (0 = not skipping)

	inText    bool // inside a text element
	runHidden bool // the current run is hidden (w:vanish)
}

// docxText reads document XML from r.
func docxText(r io.Reader, maxDepth int) (string, error) {
	d := xml.NewDecoder(r)
	var x docxReader
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(x.stack) >= maxDepth {
				return "", fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			x.stack = append(x.stack, t.Name)
			x.start(t)
		case xml.EndElement:
			x.end(t.Name)
			if len(x.stack) > 0 {
				x.stack = x.stack[:len(x.stack)-1]
			}
		case xml.CharData:
			if x.skip == 0 && x.inText && !x.runHidden {
				x.write(string(t))
			}
		}
	}
	// The decoder rejects unclosed elements, so every paragraph and table
	// has been closed here.
	return strings.TrimSpace(x.out.String()), nil
}

func isWordNS(space string) bool { return space == nsWordTransitional || space == nsWordStrict }

// start handles an opening element; x.stack already includes it.
func (x *docxReader) start(t xml.StartElement) {
	if x.skip > 0 {
		x.skip++
		return
	}
	n := t.Name
	switch {
	case n.Space == nsMarkup && n.Local == "Fallback":
		// mc:Fallback repeats the content of mc:Choice (e.g. text boxes).
		x.skip = 1
	case isWordNS(n.Space):
		switch n.Local {
		case "p":
			x.paras = append(x.paras, &strings.Builder{})
		case "r":
			x.runHidden = false
		case "t":
			x.inText = true
		case "tab", "ptab":
			if x.parent(1) == "r" {
				x.write("\t")
			}
		case "br", "cr":
			if x.parent(1) == "r" {
				x.write("\n")
			}
		case "noBreakHyphen":
			if x.parent(1) == "r" {
				x.write("-")
			}
		case "vanish":
			if x.parent(1) == "rPr" && x.parent(2) == "r" && on(t) {
				x.runHidden = true
			}
		case "tbl":
			x.tables = append(x.tables, &docxTable{})
		case "tr":
			if tb := x.table(); tb != nil {
				tb.row = tb.row[:0]
			}
		case "tc":
			if tb := x.table(); tb != nil {
				tb.cell.Reset()
			}
		case "delText", "instrText", "delInstrText", "moveFrom", "rt":
			// Deleted text, field codes, the old place of text moved with
			// changes tracked (moveTo holds it at its new place) and
			// phonetic guides (ruby text over its base) are not document
			// text.
			x.skip = 1
		}
	case n.Space == nsMath && n.Local == "t":
		x.inText = true
	}
}

// end handles a closing element; x.stack still includes it.
func (x *docxReader) end(n xml.Name) {
	if x.skip > 0 {
		x.skip--
		return
	}
	switch {
	case isWordNS(n.Space):
		switch n.Local {
		case "p":
			x.endParagraph()
		case "r":
			x.runHidden = false
		case "t":
			x.inText = false
		case "tc":
			if tb := x.table(); tb != nil {
				tb.row = append(tb.row, strings.TrimSpace(tb.cell.String()))
				tb.cell.Reset()
			}
		case "tr":
			if tb := x.table(); tb != nil {
				if line := joinCells(tb.row); line != "" {
					tb.lines = append(tb.lines, line)
				}
				tb.row = tb.row[:0]
			}
		case "tbl":
			x.endTable()
		}
	case n.Space == nsMath && n.Local == "t":
		x.inText = false
	}
}

// parent returns the local name of the element i levels above the current
// one (0 = the current element), or "".
func (x *docxReader) parent(i int) string {
	j := len(x.stack) - 1 - i
	if j < 0 {
		return ""
	}
	if !isWordNS(x.stack[j].Space) {
		return ""
	}
	return x.stack[j].Local
}

// on reports whether a toggle property such as <w:vanish/> is switched on
// (no w:val, or a true value).
func on(t xml.StartElement) bool {
	for _, a := range t.Attr {
		if a.Name.Local == "val" {
			switch strings.ToLower(a.Value) {
			case "0", "false", "off":
				return false
			}
		}
	}
	return true
}

func (x *docxReader) table() *docxTable {
	if len(x.tables) == 0 {
		return nil
	}
	return x.tables[len(x.tables)-1]
}

// write appends run text to the innermost open paragraph (or, outside any
// paragraph, to the output).
func (x *docxReader) write(s string) {
	if len(x.paras) > 0 {
		x.paras[len(x.paras)-1].WriteString(s)
		return
	}
	x.emit(s)
}

// endParagraph closes the innermost paragraph: inside a table cell its text
// joins the cell's, otherwise it becomes a block of the output.
func (x *docxReader) endParagraph() {
	if len(x.paras) == 0 {
		return
	}
	p := x.paras[len(x.paras)-1]
	x.paras = x.paras[:len(x.paras)-1]
	x.emit(p.String())
}

// emit adds a finished block of text where it belongs.
func (x *docxReader) emit(s string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if tb := x.table(); tb != nil {
		if tb.cell.Len() > 0 {
			tb.cell.WriteByte(' ')
		}
		tb.cell.WriteString(s)
		return
	}
	// Outside tables (also for a text box inside a paragraph) a block
	// stands apart.
	x.out.WriteString(s)
	x.out.WriteString("\n\n")
}

// endTable closes the innermost table: a nested table becomes text of the
// enclosing cell, an outer one a block of rows.
func (x *docxReader) endTable() {
	if len(x.tables) == 0 {
		return
	}
	tb := x.tables[len(x.tables)-1]
	if len(tb.row) > 0 { // cells outside a row (invalid but well-formed)
		if line := joinCells(tb.row); line != "" {
			tb.lines = append(tb.lines, line)
		}
	}
	x.tables = x.tables[:len(x.tables)-1]
	if len(tb.lines) == 0 {
		return
	}
	if len(x.tables) > 0 {
		x.emit(strings.Join(tb.lines, "; "))
		return
	}
	x.out.WriteString(strings.Join(tb.lines, "\n"))
	x.out.WriteString("\n\n")
}

// joinCells joins a row's cells with " | ", or returns "" for an empty row.
func joinCells(cells []string) string {
	empty := true
	for _, c := range cells {
		if c != "" {
			empty = false
			break
		}
	}
	if empty {
		return ""
	}
	return strings.Join(cells, " | ")
}
