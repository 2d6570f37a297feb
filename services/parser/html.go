package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Break levels between pieces of extracted text, weakest first.
const (
	breakNone = iota
	breakSpace
	breakLine
	breakPara
)

// htmlSkipped elements have no visible text, or (del: a removal from the
// document, as Word writes a tracked deletion when it saves as a web page)
// text that the document no longer says.
var htmlSkipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Iframe: true, atom.Noembed: true, atom.Noframes: true, atom.Object: true,
	atom.Del: true,
}

// htmlParagraph elements start and end a paragraph.
var htmlParagraph = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.H1: true, atom.H2: true, atom.H3: true,
	atom.H4: true, atom.H5: true, atom.H6: true, atom.Ul: true, atom.Ol: true,
	atom.Dl: true, atom.Table: true, atom.Section: true, atom.Article: true,
	atom.Header: true, atom.Footer: true, atom.Nav: true, atom.Aside: true,
	atom.Main: true, atom.Blockquote: true, atom.Pre: true, atom.Figure: true,
	atom.Figcaption: true, atom.Form: true, atom.Fieldset: true, atom.Address: true,
	atom.Details: true, atom.Summary: true, atom.Hr: true, atom.Title: true,
	atom.Li: true, atom.Dt: true, atom.Dd: true, atom.Caption: true,
	atom.Body: true, atom.Html: true, atom.Legend: true, atom.Thead: true,
	atom.Tbody: true, atom.Tfoot: true, atom.Center: true, atom.Dir: true,
	atom.Menu: true, atom.Hgroup: true, atom.Search: true, atom.Dialog: true,
	atom.Listing: true, atom.Xmp: true,
}

// htmlReplaced elements are drawn as boxes of their own (an image, a
// graphic, a form control, an option of a list): the text on either side
// of one is not one word.
var htmlReplaced = map[atom.Atom]bool{
	atom.Img: true, atom.Svg: true, atom.Canvas: true, atom.Video: true,
	atom.Audio: true, atom.Embed: true, atom.Input: true, atom.Button: true,
	atom.Select: true, atom.Option: true, atom.Textarea: true, atom.Meter: true,
	atom.Progress: true,
}

// htmlOptionalEnd elements may be closed implicitly, so an attribute that
// hides them cannot be matched with an end tag by a tokenizer.
var htmlOptionalEnd = map[atom.Atom]bool{
	atom.P: true, atom.Li: true, atom.Dt: true, atom.Dd: true, atom.Tr: true,
	atom.Td: true, atom.Th: true, atom.Option: true, atom.Optgroup: true,
	atom.Thead: true, atom.Tbody: true, atom.Tfoot: true, atom.Rt: true, atom.Rp: true,
	atom.Colgroup: true, atom.Caption: true, atom.Html: true, atom.Head: true, atom.Body: true,
}

// htmlVoid elements have no content and no end tag.
var htmlVoid = map[atom.Atom]bool{
	atom.Area: true, atom.Base: true, atom.Br: true, atom.Col: true, atom.Embed: true,
	atom.Hr: true, atom.Img: true, atom.Input: true, atom.Link: true, atom.Meta: true,
	atom.Source: true, atom.Track: true, atom.Wbr: true,
}

// textWriter accumulates extracted text, collapsing whitespace and turning
// requested breaks into spaces, line breaks or blank lines.
type textWriter struct {
	b       strings.Builder
	pending int
	space   bool // the text written so far ends with whitespace
}

// brk requests a break of at least level before the next text.
func (w *textWriter) brk(level int) { w.pending = max(w.pending, level) }

// raw writes s as is after any pending break (a pending space is s's own
// leading whitespace, if it has some).
func (w *textWriter) raw(s string) {
	if s == "" {
		return
	}
	if first, _ := utf8.DecodeRuneInString(s); w.pending == breakSpace && unicode.IsSpace(first) {
		w.pending = breakNone
	}
	w.flush()
	w.b.WriteString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	w.space = unicode.IsSpace(last)
}

// rawBytes is raw for a byte slice.
func (w *textWriter) rawBytes(s []byte) {
	if len(s) == 0 {
		return
	}
	if first, _ := utf8.DecodeRune(s); w.pending == breakSpace && unicode.IsSpace(first) {
		w.pending = breakNone
	}
	w.flush()
	w.b.Write(s)
	last, _ := utf8.DecodeLastRune(s)
	w.space = unicode.IsSpace(last)
}

// flush writes the pending break, unless nothing has been written yet.
func (w *textWriter) flush() {
	if w.b.Len() > 0 {
		switch w.pending {
		case breakSpace:
			if !w.space {
				w.b.WriteByte(' ')
			}
		case breakLine:
			w.b.WriteByte('\n')
		case breakPara:
			w.b.WriteString("\n\n")
		}
	}
	w.pending = breakNone
}

// cellSep separates a table cell from the previous one in the same row. At
// the start of a row (or of the text) there is nothing to separate.
func (w *textWriter) cellSep() {
	if w.b.Len() == 0 || w.pending >= breakLine {
		return
	}
	w.pending = breakNone
	w.b.WriteString(" | ")
	w.space = true
}

// rowSep separates a row of a table nested in a cell from the previous
// one: the cell, and so the enclosing row, stays on one line.
func (w *textWriter) rowSep() {
	if w.b.Len() == 0 {
		return
	}
	w.pending = breakNone
	w.b.WriteString("; ")
	w.space = true
}

// text writes s with runs of whitespace collapsed into single spaces.
func (w *textWriter) text(s string) {
	for len(s) > 0 {
		i := strings.IndexFunc(s, unicode.IsSpace)
		if i < 0 {
			w.raw(s)
			return
		}
		w.raw(s[:i])
		w.brk(breakSpace)
		j := strings.IndexFunc(s[i:], func(r rune) bool { return !unicode.IsSpace(r) })
		if j < 0 {
			return
		}
		s = s[i+j:]
	}
}

func (w *textWriter) String() string { return w.b.String() }

// extractHTML returns the visible text of an HTML document: no script,
// style, template, comments or deletions (<del>; insertions, <ins>, are
// text), no attribute values, entities decoded.
// Paragraph-like blocks are separated by blank lines, list items and table
// rows by line breaks, table cells by " | " (a table nested in a cell is
// text of the cell, its rows separated by "; ", as in Word documents);
// inline elements add nothing, so
// "<b>Ann</b>a" stays one word, except superscripts and subscripts, which
// stand apart: a footnote mark ("Nora Bishop<sup>1</sup>") is not part of
// the word it follows. So do images and form controls, boxes of their own.
func extractHTML(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var w textWriter
	var (
		skipTag   atom.Atom // element whose content is being skipped
		skipName  string
		skipDepth int
		pre       int  // depth of <pre>
		preStart  bool // just after a <pre> start tag
		cell      int  // depth of table cells
		rowCells  int  // cells started in the current row
		// The cell depth and row cells of the tables enclosing the
		// open ones, restored when a table ends (closing its cells):
		// a table nested in a cell is text of that cell.
		tables []htmlTable
	)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return strings.TrimSpace(w.String())
		case html.TextToken:
			if skipDepth > 0 {
				continue
			}
			t := string(z.Text())
			if pre > 0 {
				if preStart { // a newline right after <pre> is not content
					t = strings.TrimPrefix(t, "\n")
				}
				w.raw(t)
			} else {
				w.text(t)
			}
			preStart = false
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if tt == html.StartTagToken && a == skipTag && string(name) == skipName {
					skipDepth++
				}
				continue
			}
			if htmlSkipped[a] || tt == html.StartTagToken && !htmlVoid[a] && hasAttr && hidden(z, a) {
				skipTag, skipName, skipDepth = a, string(name), 1
				continue
			}
			switch {
			case a == atom.Sup || a == atom.Sub:
				w.brk(breakSpace)
			case htmlReplaced[a]:
				if !htmlVoid[a] || !hasAttr || !hidden(z, a) {
					w.brk(breakSpace)
				}
			case a == atom.Br:
				if cell > 0 {
					w.brk(breakSpace)
				} else {
					w.brk(breakLine)
				}
			case a == atom.Table:
				blockBreak(&w, cell)
				tables = append(tables, htmlTable{cell: cell, rowCells: rowCells})
				rowCells = 0
			case a == atom.Tr:
				switch {
				case !nestedTable(tables):
					w.brk(breakLine)
				case rowCells > 0:
					w.rowSep()
				}
				rowCells = 0
			case a == atom.Td || a == atom.Th:
				if tt == html.SelfClosingTagToken {
					continue
				}
				if rowCells > 0 {
					w.cellSep()
				}
				rowCells++
				cell++
			case htmlParagraph[a]:
				blockBreak(&w, cell)
				if a == atom.Pre && tt == html.StartTagToken {
					pre++
					preStart = true
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipDepth > 0 {
				if a == skipTag && string(name) == skipName {
					skipDepth--
				}
				continue
			}
			switch {
			case a == atom.Sup || a == atom.Sub || htmlReplaced[a]:
				w.brk(breakSpace)
			case a == atom.Tr:
				// In a nested table the next row's start separates it
				// from this one if this one had cells.
				if !nestedTable(tables) {
					w.brk(breakLine)
					rowCells = 0
				}
			case a == atom.Td || a == atom.Th:
				if cell > 0 {
					cell--
				}
				w.brk(breakSpace)
			case a == atom.Table:
				cell, rowCells = 0, 0
				if n := len(tables); n > 0 {
					cell, rowCells = tables[n-1].cell, tables[n-1].rowCells
					tables = tables[:n-1]
				}
				blockBreak(&w, cell)
			case htmlParagraph[a]:
				blockBreak(&w, cell)
				if a == atom.Pre && pre > 0 {
					pre--
				}
			}
		}
	}
}

// htmlTable is what a table start saves of the enclosing table's state.
type htmlTable struct {
	cell, rowCells int
}

// nestedTable reports whether the innermost open table is in a cell of
// another.
func nestedTable(tables []htmlTable) bool {
	return len(tables) > 0 && tables[len(tables)-1].cell > 0
}

// blockBreak requests the break a block element boundary makes: a blank
// line, or a space inside a table cell so that the row stays on one line.
func blockBreak(w *textWriter, cell int) {
	if cell > 0 {
		w.brk(breakSpace)
		return
	}
	w.brk(breakPara)
}

// hidden reports whether the start tag being read has the hidden attribute,
// aria-hidden="true", an inline display:none / visibility:hidden style or
// (an input) type="hidden".
// Elements whose end tag is optional are never treated as hidden because
// their extent cannot be known without a full parse.
func hidden(z *html.Tokenizer, a atom.Atom) bool {
	if htmlOptionalEnd[a] {
		return false
	}
	for {
		key, val, more := z.TagAttr()
		switch string(key) {
		case "hidden":
			return true
		case "type":
			if a == atom.Input && strings.EqualFold(strings.TrimSpace(string(val)), "hidden") {
				return true
			}
		case "aria-hidden":
			if strings.EqualFold(strings.TrimSpace(string(val)), "true") {
				return true
			}
		case "style":
			s := strings.ToLower(string(val))
			s = strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s)
			if strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden") {
				return true
			}
		}
		if !more {
			return false
		}
	}
}
