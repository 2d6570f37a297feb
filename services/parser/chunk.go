package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/docgraph/docgraph/pkg/textblock"
)

// Chunk size defaults, in bytes of UTF-8 text.
const (
	DefaultChunkSize    = 4000
	DefaultChunkOverlap = 200
	// MinChunkSize is the smallest Size a Chunker uses; smaller values are
	// raised to it.
	MinChunkSize = 16
)

// Chunker splits extracted text into chunks for the extractor.
//
// Sizes are counted in bytes of UTF-8 text (a chunk never splits a rune).
// Size is the target length of a chunk, overlap included
// (DefaultChunkSize when zero or negative, at least MinChunkSize). Overlap
// is how many bytes of whole sentences from the end of a chunk are
// repeated at the start of the next one (0 means none; at most Size-1).
// The zero value is usable: DefaultChunkSize without overlap.
//
// Split breaks text in this order of preference: at a blank line (paragraph)
// if one lies in the second half of the chunk, otherwise after the last
// sentence that fits. A sentence ends after '.', '!' or '?' (and any closing
// quotes or brackets) followed by whitespace, at a blank line, or at a line
// break next to a structural line (list item, table row, heading; a list
// item's own text wrapped onto indented lines is one sentence); a period
// after an initial or a common abbreviation ("Dr.", "e.g.") does not end a
// sentence. A sentence is never cut unless it alone is longer than the hard
// limit of 2*Size bytes; only then is it split at line breaks, then at
// whitespace, then at a rune boundary, and the next chunk starts with up to
// Overlap bytes of the cut piece so that a name cut at that point is still
// whole in one of the two chunks.
//
// Every chunk is at most 2*Size bytes and has no leading or trailing
// whitespace. Because of the overlap, consumers may see the same sentence in
// two consecutive chunks; extractors must tolerate (deduplicate) that. Split
// is deterministic and runs in time linear in the length of the text.
type Chunker struct {
	Size    int
	Overlap int
}

// span is one chunk as byte offsets into the text.
type span struct{ start, end int }

// unit is a sentence (or a piece of an over-long one) as byte offsets into
// the text, without surrounding whitespace.
type unit struct {
	start, end int
	// para is set when a blank line precedes the unit.
	para bool
	// cut is set when the unit is a piece of a sentence that continues in
	// the next unit.
	cut bool
}

// limits returns the effective target size, hard limit and overlap.
func (c Chunker) limits() (size, hard, overlap int) {
	size = c.Size
	switch {
	case size <= 0:
		size = DefaultChunkSize
	case size < MinChunkSize:
		size = MinChunkSize
	}
	overlap = c.Overlap
	if overlap < 0 {
		overlap = 0
	}
	if overlap >= size {
		overlap = size - 1
	}
	return size, 2 * size, overlap
}

// Split returns the chunks of text in order. Text that is empty or only
// whitespace gives no chunks.
func (c Chunker) Split(text string) []string {
	spans := c.spans(text)
	if len(spans) == 0 {
		return nil
	}
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = text[s.start:s.end]
	}
	return out
}

// spans computes the chunk boundaries.
func (c Chunker) spans(text string) []span {
	size, hard, overlap := c.limits()
	units := segment(text, size, hard)
	if len(units) == 0 {
		return nil
	}
	var out []span
	next := 0                  // first unit not yet in any chunk
	startOff := units[0].start // start of the current chunk (overlap included)
	for next < len(units) {
		first := next
		// Drop overlap that would push the first new unit over the hard limit.
		if units[first].end-startOff > hard {
			startOff = units[first].start
		}
		end := first + 1 // units [first, end) are the chunk's new content
		lastPara := -1
		for end < len(units) && units[end].end-startOff <= size {
			if units[end].para {
				lastPara = end
			}
			end++
		}
		// Prefer a paragraph break in the second half of the chunk over
		// filling it to the last sentence that fits.
		if end < len(units) && !units[end].para && lastPara > first &&
			units[lastPara].start-startOff >= size/2 {
			end = lastPara
		}
		// Keep a heading with the paragraph it introduces.
		if end < len(units) && end-1 > first && isHeading(text, units, end-1) {
			end--
		}
		out = append(out, span{start: startOff, end: units[end-1].end})
		next = end
		if next < len(units) {
			startOff = overlapStart(text, units[first:end], startOff, overlap, units[next].start)
		}
	}
	return out
}

// isHeading reports whether units[i] looks like a heading: a short
// paragraph of its own that does not end like a sentence.
func isHeading(text string, units []unit, i int) bool {
	u := units[i]
	if !u.para || i+1 >= len(units) || !units[i+1].para || u.end-u.start > 200 {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(text[u.start:u.end])
	return last != '.' && last != '!' && last != '?'
}

// overlapStart returns where the chunk after the units in prev (a chunk
// that starts at chunkStart) starts: at the first of the whole trailing
// units of prev that fit in overlap bytes, or, when the last unit is a cut
// piece of a sentence, at a word boundary within its last overlap bytes;
// otherwise at fallback (no overlap). The result is always after
// chunkStart, so a chunk never repeats all of the previous one.
func overlapStart(text string, prev []unit, chunkStart, overlap, fallback int) int {
	if overlap <= 0 || len(prev) == 0 {
		return fallback
	}
	last := prev[len(prev)-1]
	if last.cut {
		from := max(last.end-overlap, chunkStart+1)
		if from <= last.start {
			return last.start
		}
		// Move forward to just after whitespace so no word is cut.
		for i := from; i < last.end; {
			r, n := utf8.DecodeRuneInString(text[i:])
			i += n
			if unicode.IsSpace(r) {
				s, _ := trimSpan(text, i, last.end)
				return s
			}
		}
		return fallback
	}
	start := fallback
	for i := len(prev) - 1; i >= 0; i-- {
		if last.end-prev[i].start > overlap || prev[i].start <= chunkStart {
			break
		}
		start = prev[i].start
	}
	return start
}

// segment splits text into units: sentences no longer than hard bytes, with
// longer sentences cut into pieces of at most size bytes.
func segment(text string, size, hard int) []unit {
	var units []unit
	para := false
	add := func(s, e int) {
		s, e = trimSpan(text, s, e)
		if s >= e {
			return
		}
		if e-s <= hard {
			units = append(units, unit{start: s, end: e, para: para && len(units) > 0})
			para = false
			return
		}
		units = cutLong(text, s, e, size, para && len(units) > 0, units)
		para = false
	}
	start, lineStart := 0, 0
	n := len(text)
	for i := 0; i < n; {
		b := text[i]
		switch {
		case b == '.' || b == '!' || b == '?':
			j := skipClosers(text, i+1)
			if j >= n || isSpaceAt(text, j) {
				if b != '.' || !isAbbreviation(text, start, i) {
					add(start, j)
					start = j
				}
			}
			i = j
		case b == '\n':
			// A run of whitespace with a second line break is a paragraph break.
			j, lines, next := textblock.SpaceRun(text, i)
			switch {
			case lines >= 2:
				add(start, i)
				start = j
				if len(units) > 0 {
					para = true
				}
			case textblock.EndsBetween(text[lineStart:i], textblock.LineAt(text, next)):
				add(start, i)
				start = j
			}
			lineStart = next
			i = j
		default:
			i++
		}
	}
	add(start, n)
	return units
}

// cutLong cuts the over-long sentence text[s:e] into pieces of at most size
// bytes, preferring line breaks, then whitespace, then rune boundaries.
func cutLong(text string, s, e, size int, para bool, units []unit) []unit {
	for s < e {
		if e-s <= size {
			units = append(units, unit{start: s, end: e, para: para})
			return units
		}
		limit := s + size
		// A break at limit itself leaves a piece of exactly size bytes.
		cut := lastBreak(text, s+size/4, limit+1, func(b byte) bool { return b == '\n' })
		if cut < 0 {
			cut = lastBreak(text, s+1, limit+1, isASCIISpace)
		}
		if cut < 0 {
			cut = limit
			for cut > s && !utf8.RuneStart(text[cut]) {
				cut--
			}
			if cut == s { // a rune longer than size: keep it whole
				_, w := utf8.DecodeRuneInString(text[s:])
				cut = s + w
			}
		}
		ps, pe := trimSpan(text, s, cut)
		if ps < pe {
			units = append(units, unit{start: ps, end: pe, para: para, cut: true})
			para = false
		}
		s, _ = trimSpan(text, cut, e)
	}
	return units
}

// lastBreak returns the largest index i in [from, to) with ok(text[i]), or -1.
func lastBreak(text string, from, to int, ok func(byte) bool) int {
	for i := to - 1; i >= from; i-- {
		if ok(text[i]) {
			return i
		}
	}
	return -1
}

// trimSpan narrows text[s:e] to exclude leading and trailing whitespace.
func trimSpan(text string, s, e int) (int, int) {
	for s < e {
		r, w := utf8.DecodeRuneInString(text[s:e])
		if !unicode.IsSpace(r) {
			break
		}
		s += w
	}
	for e > s {
		r, w := utf8.DecodeLastRuneInString(text[s:e])
		if !unicode.IsSpace(r) {
			break
		}
		e -= w
	}
	return s, e
}

// skipClosers skips closing quotes and brackets after sentence punctuation.
func skipClosers(text string, i int) int {
	for i < len(text) {
		r, w := utf8.DecodeRuneInString(text[i:])
		switch r {
		case '"', '\'', ')', ']', '}', '’', '”', '»', '*', '_':
			i += w
		default:
			return i
		}
	}
	return i
}

func isASCIISpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// isSpaceAt reports whether a whitespace rune starts at text[i].
func isSpaceAt(text string, i int) bool {
	if b := text[i]; b < utf8.RuneSelf {
		return isASCIISpace(b)
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return unicode.IsSpace(r)
}

// abbreviations never end a sentence when followed by a period.
var abbreviations = map[string]bool{
	"mr": true, "mrs": true, "ms": true, "dr": true, "prof": true, "sr": true,
	"jr": true, "st": true, "vs": true, "e.g": true, "i.e": true, "cf": true,
	"approx": true, "fig": true, "no": true, "nr": true, "dept": true,
}

// isAbbreviation reports whether the period at text[dot] follows an initial
// ("J.") or an abbreviation, looking back no further than from.
func isAbbreviation(text string, from, dot int) bool {
	i := dot
	for i > from && dot-i < 8 {
		r, w := utf8.DecodeLastRuneInString(text[from:i])
		if unicode.IsSpace(r) || r == '(' || r == '"' || r == '\'' {
			break
		}
		i -= w
	}
	word := text[i:dot]
	if word == "" {
		return false
	}
	if isDigits(word) && lineStartBefore(text, i) {
		return true // "1. Scope": a numbered heading or list item
	}
	if r, w := utf8.DecodeRuneInString(word); w == len(word) && unicode.IsUpper(r) {
		return true
	}
	return abbreviations[strings.ToLower(word)]
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// lineStartBefore reports whether only spaces or tabs separate text[i] from
// the start of its line.
func lineStartBefore(text string, i int) bool {
	for i > 0 {
		switch text[i-1] {
		case ' ', '\t':
			i--
		case '\n':
			return true
		default:
			return false
		}
	}
	return true
}
