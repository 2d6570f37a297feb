package parser

import "strings"

// unquoteMail takes the e-mail quote markers off plain text: the '>' (one
// per level, spaces between them allowed) that starts each line of a
// quoted message. Left in, a marker falls in the middle of every sentence
// that wraps ("Bruno\n> Matsumoto leads …"). A quoted block is its own
// paragraph, and so is each change of quote level: it is another
// message's text. Only runs of two or more marked lines count as a quote:
// a single line starting with '>' ("> 50% done") is left as written.
func unquoteMail(text string) string {
	if !strings.Contains(text, ">") {
		return text
	}
	lines := strings.Split(text, "\n")
	depth := make([]int, len(lines))
	rest := make([]string, len(lines))
	quoted := false
	for i, l := range lines {
		depth[i], rest[i] = quoteMarkers(l)
		quoted = quoted || (depth[i] > 0 && i > 0 && depth[i-1] > 0)
	}
	if !quoted {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	prev, prevText := 0, "" // the quote level and text of the line before
	for i, l := range lines {
		d, t := depth[i], rest[i]
		if d > 0 && (i == 0 || depth[i-1] == 0) && (i+1 == len(lines) || depth[i+1] == 0) {
			d, t = 0, l // a lone marked line
		}
		if i > 0 {
			b.WriteByte('\n')
			if d != prev && !blankLine(prevText) && !blankLine(t) {
				b.WriteByte('\n')
			}
		}
		b.WriteString(t)
		prev, prevText = d, t
	}
	return b.String()
}

// quoteMarkers returns a line's quote level and the text after its
// markers (and the one space that follows them).
func quoteMarkers(line string) (int, string) {
	d, i := 0, 0
markers:
	for j := 0; j < len(line); j++ {
		switch line[j] {
		case '>':
			d, i = d+1, j+1
		case ' ', '\t':
		default:
			break markers
		}
	}
	if d == 0 {
		return 0, line
	}
	rest := line[i:]
	if strings.HasPrefix(rest, " ") {
		rest = rest[1:]
	}
	return d, rest
}

func blankLine(s string) bool { return strings.TrimSpace(s) == "" }
