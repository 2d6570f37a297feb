// Package textblock holds the rules for the structure of extracted text
// that the parser (chunk boundaries) and the extractor (sentence
// boundaries) share, so that both read a document the same way.
package textblock

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// IsStructural reports whether line is a list item, table row or heading:
// a line break next to such a line ends a sentence, where elsewhere a
// single line break (a wrapped line) is only whitespace.
func IsStructural(line string) bool {
	if isListItem(line) {
		return true
	}
	line = strings.TrimLeft(line, " \t")
	if line == "" {
		return false
	}
	switch line[0] {
	case '|', '#', '>':
		return true
	}
	return strings.Contains(line, " | ") || strings.Contains(line, "\t")
}

// isListItem reports whether line starts a list item: "- ", "* ", "+ ",
// "• ", "12. " or "3) ", after any indentation.
func isListItem(line string) bool {
	line = strings.TrimLeft(line, " \t")
	if len(line) > 1 && strings.IndexByte("-*+", line[0]) >= 0 && line[1] == ' ' {
		return true
	}
	if strings.HasPrefix(line, "• ") {
		return true
	}
	i := 0
	for i < len(line) && i < 4 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' '
}

// indent is the width of line's leading spaces and tabs.
func indent(line string) int { return len(line) - len(strings.TrimLeft(line, " \t")) }

// LineAt returns the line of text starting at i, without its line break.
func LineAt(text string, i int) string {
	rest := text[i:]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		return rest[:j]
	}
	return rest
}

// SpaceRun reads the run of whitespace that starts at text[i]: it returns
// where the run ends, how many line breaks it holds (two or more make a
// blank line) and where the line after the last one starts (i if none).
func SpaceRun(text string, i int) (end, lines, next int) {
	end, next = i, i
	for end < len(text) {
		r, w := utf8.DecodeRuneInString(text[end:])
		if !unicode.IsSpace(r) {
			break
		}
		if r == '\n' {
			lines++
			next = end + 1
		}
		end += w
	}
	return end, lines, next
}

// EndsSentence reports whether the run of whitespace at the line break
// text[i] (see SpaceRun), on a line starting at lineStart, ends a
// sentence: a blank line, or a single line break that EndsBetween the two
// lines.
func EndsSentence(text string, lineStart, i int) (ends bool, end, next int) {
	end, lines, next := SpaceRun(text, i)
	return lines >= 2 || EndsBetween(text[lineStart:i], LineAt(text, next)), end, next
}

// EndsBetween reports whether a single line break between line and next
// ends a sentence: next to a list item, table row or heading it does,
// elsewhere it is a wrapped line. A list item's own text may wrap: a line
// indented deeper than the item that is not itself structural continues
// it ("- Bo Li manages\n  PRJ-2004.").
func EndsBetween(line, next string) bool {
	if IsStructural(next) {
		return true
	}
	if isListItem(line) {
		return indent(next) <= indent(line)
	}
	return IsStructural(line)
}
