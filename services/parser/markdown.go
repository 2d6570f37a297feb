package parser

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	gmparser "github.com/yuin/goldmark/parser"
	gmtext "github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
	"golang.org/x/net/html/atom"
)

// markdownParser parses CommonMark with GitHub's pipe tables, strikethrough
// and footnotes.
// Footnote definitions stay where the first of them is written (the
// extension's AST transformer, which moves them to the end and drops those
// never referenced, is left out). A goldmark parser is safe for concurrent
// use.
var markdownParser = gmparser.NewParser(
	gmparser.WithBlockParsers(append(gmparser.DefaultBlockParsers(),
		util.Prioritized(extension.NewFootnoteBlockParser(), 999))...),
	gmparser.WithInlineParsers(append(gmparser.DefaultInlineParsers(),
		util.Prioritized(extension.NewFootnoteParser(), 101),
		util.Prioritized(extension.NewStrikethroughParser(), 500))...),
	gmparser.WithParagraphTransformers(append(gmparser.DefaultParagraphTransformers(),
		util.Prioritized(extension.NewTableParagraphTransformer(), 200))...),
	gmparser.WithASTTransformers(util.Prioritized(extension.NewTableASTTransformer(), 0)),
)

// extractMarkdown returns the text a reader of rendered Markdown sees.
//
// Every block (paragraph, heading, list item, table row, code block, HTML
// block) ends with a line break, and blocks are separated by a blank line,
// except the items of a tight list and the rows of a table, which are
// separated by a line break. List items keep their marker ("- ", "2. ") and
// table rows their cell separators ("| a | b |"), so that sentences end
// there. Line breaks inside a paragraph are kept; the later lines of a list
// item's text are indented under its first, so that a wrapped item reads as
// one sentence (see textblock.EndsBetween). Emphasis markers, link
// targets, link reference definitions, footnote references, YAML front
// matter, HTML comments and struck-through text ("~~PRJ-1~~", rendered as
// <del>: what the document no longer says, as HTML's del) are dropped;
// links and images keep their text,
// autolinks their address. Inline HTML tags are dropped: inline ones (<b>,
// <span>) leave nothing, so "<b>Far</b>rell" is one word, block ones (<p>,
// <br>, <td>) a space. HTML blocks give their visible text. Entities and
// backslash escapes are decoded, except in code, which is kept as written.
func extractMarkdown(text string) string {
	src := []byte(stripFrontMatter(text))
	doc := markdownParser.Parse(gmtext.NewReader(src))
	w := markdownWriter{src: src}
	w.w.b.Grow(len(src))
	w.walk(doc)
	if w.w.b.Len() == 0 {
		return ""
	}
	w.w.b.WriteByte('\n')
	return w.w.String()
}

// stripFrontMatter removes a YAML front matter block: text that starts with
// a "---" line, up to and including the next "---" or "..." line. Without
// that closing line nothing is removed.
func stripFrontMatter(text string) string {
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return text
	}
	for i := 0; i < len(rest); {
		line := rest[i:]
		next := len(rest)
		if j := strings.IndexByte(line, '\n'); j >= 0 {
			line, next = line[:j], i+j+1
		}
		if t := strings.TrimRight(line, " \t"); t == "---" || t == "..." {
			return rest[next:]
		}
		i = next
	}
	return text
}

// markdownWriter writes the text of a goldmark document.
type markdownWriter struct {
	src []byte
	w   textWriter
	// prefix is the marker of the list item just entered, written before
	// the item's first text, or the indentation of a line that continues
	// an item's text.
	prefix string
	// indents holds, for each list item being walked, the indentation of
	// the lines that continue its text: as deep as the text after its
	// marker, so that a wrapped item stays one sentence.
	indents []string
	// buf holds unescaped text while it is written.
	buf []byte
	// num is the number of the item of an ordered list about to be walked.
	num int
}

// walk writes the text of n and its descendants.
func (m *markdownWriter) walk(n ast.Node) {
	if m.node(n, true) {
		list, _ := n.(*ast.List)
		i := 0
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			if list != nil {
				m.num = list.Start + i
			}
			m.walk(c)
			i++
		}
	}
	m.node(n, false)
}

// write writes s after any pending break and list item marker.
func (m *markdownWriter) write(s string) {
	if s != "" {
		m.writePrefix()
		m.w.raw(s)
	}
}

// writeBytes is write for a byte slice.
func (m *markdownWriter) writeBytes(s []byte) {
	if len(s) > 0 {
		m.writePrefix()
		m.w.rawBytes(s)
	}
}

// writeText writes Markdown text with backslash escapes and entity and
// numeric character references resolved, as CommonMark renders it.
func (m *markdownWriter) writeText(s []byte) {
	if bytes.IndexByte(s, '\\') < 0 && bytes.IndexByte(s, '&') < 0 {
		m.writeBytes(s)
		return
	}
	m.buf = appendUnescaped(m.buf[:0], s)
	m.writeBytes(m.buf)
}

// writePrefix writes the marker of the list item just entered, if any.
func (m *markdownWriter) writePrefix() {
	if m.prefix != "" {
		m.w.raw(m.prefix)
		m.prefix = ""
	}
}

// node writes what n adds to the text of its children when the walk enters
// and leaves it, and reports whether to walk the children.
func (m *markdownWriter) node(n ast.Node, entering bool) bool {
	switch n := n.(type) {
	case *ast.Text:
		if entering {
			if n.IsRaw() {
				m.writeBytes(n.Value(m.src))
			} else {
				m.writeText(n.Value(m.src))
			}
			if n.SoftLineBreak() || n.HardLineBreak() {
				m.w.brk(breakLine)
				m.continueItem()
			}
		}
	case *ast.String:
		if entering {
			if n.IsCode() || n.IsRaw() {
				m.writeBytes(n.Value)
			} else {
				m.writeText(n.Value)
			}
		}
	case *ast.CodeSpan:
		// Code is literal: no escapes or entities, line breaks are spaces.
		for c := n.FirstChild(); entering && c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				v := t.Value(m.src)
				if l, ok := bytes.CutSuffix(v, []byte("\n")); ok {
					m.writeBytes(l)
					m.write(" ")
				} else {
					m.writeBytes(v)
				}
			}
		}
		return false
	case *ast.AutoLink:
		if entering {
			m.writeBytes(n.Label(m.src))
		}
	case *ast.RawHTML:
		if entering && n.Segments.Len() > 0 && htmlTagBreaks(m.src[n.Segments.At(0).Start:]) {
			m.w.brk(breakSpace)
		}
		return false
	case *extast.FootnoteLink, *extast.Strikethrough:
		return false
	case *ast.Paragraph, *ast.Heading, *ast.Blockquote, *ast.ThematicBreak,
		*extast.Table, *extast.FootnoteList, *extast.Footnote:
		m.w.brk(breakPara)
		m.laterBlock(n, entering)
	case *ast.TextBlock:
		m.w.brk(breakLine)
		m.laterBlock(n, entering)
	case *ast.List:
		m.w.brk(listBreak(n))
	case *ast.ListItem:
		m.listItem(n, entering)
	case *extast.TableHeader, *extast.TableRow:
		m.w.brk(breakLine)
		if entering {
			m.write("|")
		}
	case *extast.TableCell:
		if entering {
			m.write(" ")
		} else {
			m.write(" |")
		}
	case *ast.FencedCodeBlock, *ast.CodeBlock:
		m.w.brk(breakPara)
		if entering {
			m.writeBytes(bytes.TrimRight(n.Lines().Value(m.src), "\n"))
		}
	case *ast.HTMLBlock:
		m.w.brk(breakPara)
		if entering {
			raw := n.Lines().Value(m.src)
			if n.HasClosure() {
				raw = append(raw, n.ClosureLine.Value(m.src)...)
			}
			m.write(extractHTML(string(raw)))
		}
	}
	return true
}

// listItem starts or ends a list item: a line break between the items of a
// tight list, a blank line in a loose one, and the item's marker, indented
// by two spaces per enclosing list.
func (m *markdownWriter) listItem(n *ast.ListItem, entering bool) {
	list, ok := n.Parent().(*ast.List)
	if !ok {
		return
	}
	if list.IsTight {
		m.w.brk(breakLine)
	} else {
		m.w.brk(breakPara)
	}
	if !entering {
		m.prefix = "" // an item without text shows nothing
		m.indents = m.indents[:len(m.indents)-1]
		return
	}
	var b strings.Builder
	for p := list.Parent(); p != nil; p = p.Parent() {
		if _, ok := p.(*ast.List); ok {
			b.WriteString("  ")
		}
	}
	if list.IsOrdered() {
		b.WriteString(strconv.Itoa(m.num))
	}
	b.WriteByte(list.Marker)
	b.WriteByte(' ')
	m.prefix = b.String()
	m.indents = append(m.indents, strings.Repeat(" ", len(m.prefix)))
}

// continueItem indents the next line as the text of the list item being
// walked, if any.
func (m *markdownWriter) continueItem() {
	if len(m.indents) > 0 {
		m.prefix = m.indents[len(m.indents)-1]
	}
}

// laterBlock indents a paragraph of a list item after its first block.
func (m *markdownWriter) laterBlock(n ast.Node, entering bool) {
	if _, ok := n.Parent().(*ast.ListItem); ok && entering && n.PreviousSibling() != nil {
		m.continueItem()
	}
}

// listBreak is the break around a list: a line break for a list nested in
// an item of a tight list, else a blank line.
func listBreak(l *ast.List) int {
	if item, ok := l.Parent().(*ast.ListItem); ok {
		if outer, ok := item.Parent().(*ast.List); ok && outer.IsTight {
			return breakLine
		}
	}
	return breakPara
}

// htmlTagBreaks reports whether the inline HTML tag starting raw separates
// words: block elements (<p>, <div>, <br>, <td>, ...) and superscripts and
// subscripts (a footnote mark) do, other inline ones (<b>, <span>),
// comments and other declarations do not.
func htmlTagBreaks(raw []byte) bool {
	name := bytes.TrimPrefix(bytes.TrimPrefix(raw, []byte("<")), []byte("/"))
	end := 0
	for end < len(name) && (util.IsAlphaNumeric(name[end]) || name[end] == '-') {
		end++
	}
	switch a := atom.Lookup(bytes.ToLower(name[:end])); {
	case htmlParagraph[a], a == atom.Br, a == atom.Tr, a == atom.Td, a == atom.Th, a == atom.Sup, a == atom.Sub:
		return true
	}
	return false
}

// appendUnescaped appends Markdown text s to out with backslash escapes and
// entity and numeric character references resolved.
func appendUnescaped(out, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && util.IsPunct(s[i+1]):
			i++
			out = append(out, s[i])
		case c == '&':
			if ref, n := charRef(s[i:]); n > 0 {
				out = append(out, ref...)
				i += n - 1
				continue
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	return out
}

// charRef decodes the character reference at the start of s ("&amp;",
// "&#39;", "&#x2013;") and returns its text and length, or 0 if s does not
// start with one. A code point that is not a valid character becomes
// U+FFFD.
func charRef(s []byte) ([]byte, int) {
	// The longest entity name has 31 letters.
	end := bytes.IndexByte(s[:min(len(s), 33)], ';')
	if end < 2 {
		return nil, 0
	}
	body := s[1:end]
	if body[0] != '#' {
		for _, c := range body {
			if !util.IsAlphaNumeric(c) {
				return nil, 0
			}
		}
		if e, ok := util.LookUpHTML5EntityByName(string(body)); ok {
			return e.Characters, end + 1
		}
		return nil, 0
	}
	digits, base, maxLen := body[1:], 10, 7
	if len(digits) > 0 && (digits[0] == 'x' || digits[0] == 'X') {
		digits, base, maxLen = digits[1:], 16, 6
	}
	if len(digits) == 0 || len(digits) > maxLen {
		return nil, 0
	}
	v, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil {
		return nil, 0
	}
	return utf8.AppendRune(nil, util.ToValidRune(rune(v))), end + 1
}
