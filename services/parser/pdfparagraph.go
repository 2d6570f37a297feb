package parser

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
)

// Where a PDF's paragraphs are.
//
// PDFium's page text has a line break per visual line and no paragraph
// breaks, so a heading without a full stop runs into the sentence after it,
// and table rows or list items read as one sentence. The layout shows the
// paragraphs: a line starts one when it is clearly further below the
// previous line than the page's lines usually are (paragraph spacing, or
// a blank line), when its font is markedly larger or smaller (a heading,
// the text after it, a footer), or when it starts with a bullet. A line
// above the previous one (the top of the next column) tells nothing. Lines
// of one paragraph stay joined by a line break; a paragraph ends with a
// blank line, as in a text file.
//
// The text of a page comes in one call; the layout is asked only about the
// first and last letters of each line, so this costs a few engine calls per
// line instead of one per character.

const (
	// pdfParaGap is how many times the page's usual line advance (relative
	// to the font size) a line must be below the previous one to start a
	// paragraph. Lines within a paragraph are evenly spaced; paragraph
	// spacing adds half a line or more (Word's and LibreOffice's defaults
	// add some 0.5 to 0.6 of a line).
	pdfParaGap = 1.3
	// pdfParaSize is the ratio of font sizes between two lines from which
	// the second starts a paragraph: a heading is at least a size larger
	// than body text, while inline code or a footnote mark in a line of
	// body text (sizes that change within a line) stays below it.
	pdfParaSize = 1.15
	// pdfMinAdvance is the smallest line advance, relative to the font
	// size, that counts as one line below another: less is an overlap (a
	// subscript, text set apart on the same line) or a move up (the next
	// column), which tells nothing of paragraphs.
	pdfMinAdvance = 0.5
	// pdfMinUsual is the smallest usual advance, relative to the font
	// size: lines are rarely set closer than their font is large, and
	// a few close ones (a formula, a table cell) must not make ordinary
	// lines look far apart.
	pdfMinUsual = 1.0
)

// pdfBullets are the characters that start a list item, as PDF writers
// draw them (the last ones are Symbol and Wingdings bullets that PDFium
// reads from the fonts' private code points).
const pdfBullets = "•◦▪▫●○■□‣⁃∙➢►▶✓✔\uF0A7\uF0B7\uF0D8\uF0FC"

// pdfLine is one line of a page's text with where it sits on the page.
type pdfLine struct {
	text string
	// baseline is the height of the line's first letter's baseline, in
	// points from the page's bottom; end is its last letter's, lower when
	// PDFium joined a word broken at the line's end to the next line.
	baseline, end float64
	// size is the larger font size of the line's first and last letters,
	// in points as drawn; 0 when the line has none, or the engine did not
	// tell.
	size float64
}

// pdfPageParagraphs returns the text of page with a blank line where a
// paragraph starts. It reports false when the engine does not give the
// page's text with positions, so that the caller reads the plain text.
func pdfPageParagraphs(inst pdfium.Pdfium, page requests.Page) (string, bool) {
	tp, err := inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: page})
	if err != nil {
		return "", false
	}
	defer func() {
		_, _ = inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})
	}()
	count, err := inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp.TextPage})
	if err != nil {
		return "", false
	}
	if count.Count == 0 {
		return "", true
	}
	text, err := inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp.TextPage, Count: count.Count})
	if err != nil {
		return "", false
	}
	// The text holds one UTF-16 unit per character of the page (PDFium
	// keeps a letter beyond the BMP as two, its surrogates, which this
	// text pairs again), so that a position in it is a character's index;
	// the engine leaves out characters it knows no Unicode of, and then
	// the positions are lost.
	units := 0
	for _, r := range text.Text {
		units += utf16.RuneLen(r)
	}
	if units != count.Count {
		return "", false
	}
	// Where the plain text has U+0002 for a hyphen that ended a line
	// (see pdfLineEndHyphens), this text has U+FFFE.
	lines := pdfSplitLines(strings.ReplaceAll(text.Text, "\uFFFE", "\x02"))
	for i := range lines {
		lines[i].locate(inst, tp.TextPage)
	}
	return pdfParagraphs(lines), true
}

// pdfSpan is a line of a page's text before it is located: the indexes of
// its first and last letters or digits, -1 when it has none.
type pdfSpan struct {
	pdfLine
	first, last int
}

// pdfSplitLines splits a page's text at the line breaks PDFium writes
// ("\r\n"), noting the character indexes of each line's first and last
// letters or digits, whose positions stand for the line's.
func pdfSplitLines(text string) []pdfSpan {
	var lines []pdfSpan
	index := 0 // in UTF-16 units, as the engine counts characters
	for {
		line, rest, more := strings.Cut(text, "\r\n")
		s := pdfSpan{pdfLine: pdfLine{text: line}, first: -1, last: -1}
		for _, r := range line {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				if s.first < 0 {
					s.first = index
				}
				s.last = index
			}
			index += utf16.RuneLen(r)
		}
		lines = append(lines, s)
		if !more {
			return lines
		}
		index += 2
		text = rest
	}
}

// locate sets the line's position: the baselines of its first and last
// letters, and the larger of their font sizes.
func (s *pdfSpan) locate(inst pdfium.Pdfium, tp references.FPDF_TEXTPAGE) {
	if s.first < 0 {
		return
	}
	origin, err := inst.FPDFText_GetCharOrigin(&requests.FPDFText_GetCharOrigin{TextPage: tp, Index: s.first})
	if err != nil {
		return
	}
	size := pdfFontSize(inst, tp, s.first)
	if s.last != s.first {
		size = max(size, pdfFontSize(inst, tp, s.last))
	}
	s.baseline, s.end, s.size = origin.Y, origin.Y, size
	if strings.ContainsRune(s.text, '\x02') {
		last, err := inst.FPDFText_GetCharOrigin(&requests.FPDFText_GetCharOrigin{TextPage: tp, Index: s.last})
		if err != nil {
			s.size = 0
			return
		}
		s.end = last.Y
	}
}

// pdfFontSize returns the size a character is drawn at, in points: its
// font's size scaled by its matrix (writers may set text in a font of
// size 1 scaled up), or 0 if the engine does not tell.
func pdfFontSize(inst pdfium.Pdfium, tp references.FPDF_TEXTPAGE, i int) float64 {
	size, err := inst.FPDFText_GetFontSize(&requests.FPDFText_GetFontSize{TextPage: tp, Index: i})
	if err != nil {
		return 0
	}
	m, err := inst.FPDFText_GetMatrix(&requests.FPDFText_GetMatrix{TextPage: tp, Index: i})
	if err != nil {
		return 0
	}
	return size.FontSize * math.Hypot(float64(m.Matrix.C), float64(m.Matrix.D))
}

// pdfParagraphs joins a page's lines, with a blank line before each one
// that starts a paragraph.
func pdfParagraphs(lines []pdfSpan) string {
	// The page's usual advance: that of lines within a paragraph. Most
	// are, the rest are between paragraphs or table rows; surely within
	// one is a line that goes on with a lower-case word. So it is the
	// lower quartile of the advances between lines of one size (the
	// smallest of up to four), or the median of those before a lower-case
	// line if smaller; no less than pdfMinUsual.
	var advances, wrapped []float64
	for i := 1; i < len(lines); i++ {
		prev, line := lines[i-1].pdfLine, lines[i].pdfLine
		if a, ok := pdfAdvance(prev, line); ok && !pdfResized(prev, line) {
			advances = append(advances, a)
			if r, _ := utf8.DecodeRuneInString(strings.TrimLeft(line.text, " \t")); unicode.IsLower(r) {
				wrapped = append(wrapped, a)
			}
		}
	}
	usual := 0.0
	if len(advances) > 0 {
		slices.Sort(advances)
		usual = advances[(len(advances)-1)/4]
	}
	if len(wrapped) > 0 {
		slices.Sort(wrapped)
		usual = min(usual, wrapped[len(wrapped)/2])
	}
	if usual > 0 {
		usual = max(usual, pdfMinUsual)
	}
	var b strings.Builder
	var prev pdfLine // the last line with a position
	for i, line := range lines {
		if i > 0 {
			b.WriteByte('\n')
			if pdfStartsParagraph(prev, line.pdfLine, usual) {
				b.WriteByte('\n')
			}
		}
		b.WriteString(line.text)
		if line.size > 0 {
			prev = line.pdfLine
		}
	}
	return b.String()
}

// pdfAdvance returns how far line is below prev, relative to the larger
// font size of the two, if it is below it.
func pdfAdvance(prev, line pdfLine) (float64, bool) {
	if prev.size <= 0 || line.size <= 0 {
		return 0, false
	}
	a := (prev.end - line.baseline) / max(prev.size, line.size)
	return a, a >= pdfMinAdvance
}

// pdfStartsParagraph reports whether line, after prev (the last line
// with a position, if any), starts a paragraph, given the page's usual
// advance.
func pdfStartsParagraph(prev, line pdfLine, usual float64) bool {
	if first := strings.TrimLeft(line.text, " \t"); first != "" {
		r, _ := utf8.DecodeRuneInString(first)
		if strings.ContainsRune(pdfBullets, r) {
			return true
		}
	}
	if prev.size <= 0 || line.size <= 0 {
		return false
	}
	if pdfResized(prev, line) {
		return true
	}
	a, ok := pdfAdvance(prev, line)
	return ok && usual > 0 && a > pdfParaGap*usual
}

// pdfResized reports whether the font size changes markedly from prev to
// line, both with a position.
func pdfResized(prev, line pdfLine) bool {
	return max(prev.size, line.size)/min(prev.size, line.size) >= pdfParaSize
}
