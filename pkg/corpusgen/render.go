package corpusgen

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"strings"
)

// renderer writes a document's blocks in one format. Write errors are
// sticky and reported by close.
type renderer interface {
	heading(level int, text string)
	para(text string)
	bullets(items []string)
	table(header []string, rows [][]string)
	// textBytes is the size of the text written so far.
	textBytes() int
	close() error
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newRenderer(format string, w io.Writer, rng *rand.Rand) (renderer, *countingWriter) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 32<<10)
	switch format {
	case "txt":
		return &textRenderer{plain{w: bw}}, cw
	case "html":
		return newHTMLRenderer(bw), cw
	case "docx":
		return newDocxRenderer(bw, rng), cw
	case "pdf":
		return newPDFRenderer(bw), cw
	default:
		return newMarkdown(bw), cw
	}
}

// plain accumulates the text size for the renderers that write text.
type plain struct {
	w *bufio.Writer
	n int
}

func (p *plain) print(parts ...string) {
	for _, s := range parts {
		p.n += len(s)
		p.w.WriteString(s) //nolint:errcheck // sticky; Flush reports it
	}
}

func (p *plain) textBytes() int { return p.n }

func (p *plain) close() error { return p.w.Flush() }

type markdownRenderer struct{ plain }

func newMarkdown(w *bufio.Writer) *markdownRenderer { return &markdownRenderer{plain{w: w}} }

func (m *markdownRenderer) heading(level int, text string) {
	m.print(strings.Repeat("#", level), " ", text, "\n\n")
}

func (m *markdownRenderer) para(text string) { m.print(text, "\n\n") }

func (m *markdownRenderer) bullets(items []string) {
	for _, it := range items {
		m.print("- ", it, "\n")
	}
	m.print("\n")
}

func (m *markdownRenderer) table(header []string, rows [][]string) {
	m.print("| ", strings.Join(header, " | "), " |\n|", strings.Repeat(" --- |", len(header)), "\n")
	for _, r := range rows {
		m.print("| ", strings.Join(r, " | "), " |\n")
	}
	m.print("\n")
}

type textRenderer struct{ plain }

func (t *textRenderer) heading(level int, text string) {
	u := "="
	if level > 1 {
		u = "-"
	}
	t.print(text, "\n", strings.Repeat(u, len([]rune(text))), "\n\n")
}

func (t *textRenderer) para(text string) { t.print(text, "\n\n") }

func (t *textRenderer) bullets(items []string) {
	for _, it := range items {
		t.print("* ", it, "\n")
	}
	t.print("\n")
}

func (t *textRenderer) table(header []string, rows [][]string) {
	t.print(strings.Join(header, "  |  "), "\n")
	for _, r := range rows {
		t.print(strings.Join(r, "  |  "), "\n")
	}
	t.print("\n")
}

type htmlRenderer struct {
	plain
	started bool
}

func newHTMLRenderer(w *bufio.Writer) *htmlRenderer { return &htmlRenderer{plain: plain{w: w}} }

const htmlHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%s</title>
<style>
body { font-family: sans-serif; max-width: 50em; }
td, th { border: 1px solid #999; padding: 2px 6px; }
</style>
<script>
// page metadata, not document text
var reviewed = true;
</script>
</head>
<body>
<!-- generated page; remove before issue -->
`

func (h *htmlRenderer) heading(level int, text string) {
	if !h.started {
		h.started = true
		h.print(fmt.Sprintf(htmlHead, html.EscapeString(text)))
	}
	h.print(fmt.Sprintf("<h%d>", level), html.EscapeString(text), fmt.Sprintf("</h%d>\n", level))
}

func (h *htmlRenderer) para(text string) { h.print("<p>", html.EscapeString(text), "</p>\n") }

func (h *htmlRenderer) bullets(items []string) {
	h.print("<ul>\n")
	for _, it := range items {
		h.print("<li>", html.EscapeString(it), "</li>\n")
	}
	h.print("</ul>\n")
}

func (h *htmlRenderer) table(header []string, rows [][]string) {
	h.print("<table>\n<tr>")
	for _, c := range header {
		h.print("<th>", html.EscapeString(c), "</th>")
	}
	h.print("</tr>\n")
	for _, r := range rows {
		h.print("<tr>")
		for _, c := range r {
			h.print("<td>", html.EscapeString(c), "</td>")
		}
		h.print("</tr>\n")
	}
	h.print("</table>\n")
}

func (h *htmlRenderer) close() error {
	h.print("</body>\n</html>\n")
	return h.plain.close()
}

// docxRenderer streams word/document.xml into a zip archive. Paragraphs
// are split into two runs at a random point, as word processors do.
type docxRenderer struct {
	bw   *bufio.Writer
	zw   *zip.Writer
	part *bufio.Writer
	rng  *rand.Rand
	n    int
	err  error
}

const (
	docxContentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`
	docxRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`
	docxHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`
	docxTail = `<w:sectPr/></w:body></w:document>`
)

func newDocxRenderer(bw *bufio.Writer, rng *rand.Rand) *docxRenderer {
	d := &docxRenderer{bw: bw, zw: zip.NewWriter(bw), rng: rng}
	for _, f := range []struct{ name, body string }{
		{"[Content_Types].xml", docxContentTypes}, {"_rels/.rels", docxRels},
	} {
		w, err := d.zw.Create(f.name)
		if err == nil {
			_, err = io.WriteString(w, f.body)
		}
		d.fail(err)
	}
	w, err := d.zw.Create("word/document.xml")
	d.fail(err)
	if w == nil {
		w = io.Discard
	}
	d.part = bufio.NewWriterSize(w, 16<<10)
	d.part.WriteString(docxHead) //nolint:errcheck // sticky; Flush reports it
	return d
}

func (d *docxRenderer) fail(err error) {
	if err != nil && d.err == nil {
		d.err = err
	}
}

func (d *docxRenderer) textBytes() int { return d.n }

// paragraph writes one w:p; style may be "".
func (d *docxRenderer) paragraph(style, text string) {
	d.n += len(text) + 2
	d.part.WriteString("<w:p>") //nolint:errcheck // sticky; Flush reports it
	if style != "" {
		d.part.WriteString(`<w:pPr><w:pStyle w:val="` + style + `"/></w:pPr>`) //nolint:errcheck // as above
	}
	cut := 0
	if len(text) > 1 {
		cut = d.rng.IntN(len(text))
		for cut > 0 && !utf8Start(text[cut]) {
			cut--
		}
	}
	for _, run := range []string{text[:cut], text[cut:]} {
		if run == "" {
			continue
		}
		d.part.WriteString(`<w:r><w:t xml:space="preserve">`) //nolint:errcheck // as above
		xmlEscape(d.part, run)
		d.part.WriteString(`</w:t></w:r>`) //nolint:errcheck // as above
	}
	d.part.WriteString("</w:p>") //nolint:errcheck // as above
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func xmlEscape(w *bufio.Writer, s string) {
	for len(s) > 0 {
		i := strings.IndexAny(s, `&<>"'`)
		if i < 0 {
			w.WriteString(s) //nolint:errcheck // sticky; Flush reports it
			return
		}
		w.WriteString(s[:i]) //nolint:errcheck // as above
		switch s[i] {
		case '&':
			w.WriteString("&amp;") //nolint:errcheck // as above
		case '<':
			w.WriteString("&lt;") //nolint:errcheck // as above
		case '>':
			w.WriteString("&gt;") //nolint:errcheck // as above
		case '"':
			w.WriteString("&quot;") //nolint:errcheck // as above
		default:
			w.WriteString("&apos;") //nolint:errcheck // as above
		}
		s = s[i+1:]
	}
}

func (d *docxRenderer) heading(level int, text string) {
	d.paragraph(fmt.Sprintf("Heading%d", level), text)
}

func (d *docxRenderer) para(text string) { d.paragraph("", text) }

func (d *docxRenderer) bullets(items []string) {
	for _, it := range items {
		d.paragraph("ListBullet", it)
	}
}

func (d *docxRenderer) table(header []string, rows [][]string) {
	d.part.WriteString("<w:tbl>") //nolint:errcheck // sticky; Flush reports it
	for _, r := range append([][]string{header}, rows...) {
		d.part.WriteString("<w:tr>") //nolint:errcheck // as above
		for _, c := range r {
			d.part.WriteString("<w:tc>") //nolint:errcheck // as above
			d.paragraph("", c)
			d.part.WriteString("</w:tc>") //nolint:errcheck // as above
		}
		d.part.WriteString("</w:tr>") //nolint:errcheck // as above
	}
	d.part.WriteString("</w:tbl>") //nolint:errcheck // as above
}

func (d *docxRenderer) close() error {
	d.part.WriteString(docxTail) //nolint:errcheck // sticky; Flush reports it
	d.fail(d.part.Flush())
	d.fail(d.zw.Close())
	d.fail(d.bw.Flush())
	return errors.Join(d.err)
}
