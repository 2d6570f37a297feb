package corpusgen

import (
	"bufio"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// pdfRenderer lays a document out as a PDF: Helvetica in windows-1252
// (WinAnsiEncoding), paragraphs wrapped at pdfLineChars, pdfPageLines lines
// per page, table rows as lines of cells apart. Letters windows-1252 lacks
// are drawn through the codes it leaves unused, named by a /Differences
// array, as PDF writers do.
type pdfRenderer struct {
	w     *bufio.Writer
	n     int
	lines []string // encoded in windows-1252 (or pdfExtra)
}

const (
	pdfLineChars = 90
	pdfPageLines = 60
)

// pdfExtra maps letters beyond windows-1252 to unused codes of it and
// their glyph names.
var pdfExtra = map[rune]struct {
	code  byte
	glyph string
}{
	'Ł': {0x81, "Lslash"}, 'ł': {0x8D, "lslash"}, 'Ś': {0x8F, "Sacute"}, 'ś': {0x90, "sacute"}, 'ő': {0x9D, "ohungarumlaut"},
}

func newPDFRenderer(w *bufio.Writer) *pdfRenderer { return &pdfRenderer{w: w} }

func (p *pdfRenderer) textBytes() int { return p.n }

// line adds one line of text ("" for a blank line).
func (p *pdfRenderer) line(s string) {
	p.n += len(s) + 1
	var b []byte
	for _, r := range s {
		if x, ok := pdfExtra[r]; ok {
			b = append(b, x.code)
		} else if c, ok := charmap.Windows1252.EncodeRune(r); ok {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	p.lines = append(p.lines, string(b))
}

// wrap adds text as lines of at most pdfLineChars characters, broken at
// the last space that fits (a word longer than a line is cut).
func (p *pdfRenderer) wrap(text string) {
	for utf8.RuneCountInString(text) > pdfLineChars {
		limit, n := 0, 0
		for i := range text {
			if n == pdfLineChars {
				limit = i
				break
			}
			n++
		}
		cut := strings.LastIndexByte(text[:limit+1], ' ')
		if cut <= 0 {
			cut = limit
		}
		p.line(text[:cut])
		text = strings.TrimLeft(text[cut:], " ")
	}
	if text != "" {
		p.line(text)
	}
}

func (p *pdfRenderer) heading(_ int, text string) { p.wrap(text); p.line("") }

func (p *pdfRenderer) para(text string) { p.wrap(text); p.line("") }

func (p *pdfRenderer) bullets(items []string) {
	for _, it := range items {
		p.wrap("\u2022 " + it)
	}
	p.line("")
}

func (p *pdfRenderer) table(header []string, rows [][]string) {
	p.wrap(strings.Join(header, "  |  "))
	for _, r := range rows {
		p.wrap(strings.Join(r, "  |  "))
	}
	p.line("")
}

// close writes the PDF: a catalog, a page tree, the font, then a page and
// its content stream per pdfPageLines lines, and the cross-reference table.
func (p *pdfRenderer) close() error {
	var offsets []int
	at := 0
	write := func(s string) {
		n, _ := p.w.WriteString(s) //nolint:errcheck // sticky; Flush reports it
		at += n
	}
	obj := func(body string) {
		offsets = append(offsets, at)
		write(fmt.Sprintf("%d 0 obj\n%s\nendobj\n", len(offsets), body))
	}
	var pages [][]string
	for len(p.lines) > 0 {
		k := min(pdfPageLines, len(p.lines))
		pages = append(pages, p.lines[:k])
		p.lines = p.lines[k:]
	}
	if len(pages) == 0 {
		pages = [][]string{{""}}
	}
	write("%PDF-1.4\n%\xE2\xE3\xCF\xD3\n")
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	var diff strings.Builder
	for _, x := range pdfExtra {
		fmt.Fprintf(&diff, " %d /%s", x.code, x.glyph)
	}
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [" + diff.String() + "] >> >>")
	esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	for i, lines := range pages {
		var c strings.Builder
		c.WriteString("BT /F1 10 Tf 12 TL 50 800 Td\n")
		for _, l := range lines {
			fmt.Fprintf(&c, "(%s) '\n", esc.Replace(l))
		}
		c.WriteString("ET")
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len(), c.String()))
	}
	xref := at
	write(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1))
	for _, o := range offsets {
		write(fmt.Sprintf("%010d 00000 n \n", o))
	}
	write(fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref))
	return p.w.Flush()
}
