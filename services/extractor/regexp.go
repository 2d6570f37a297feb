package extractor

import (
	"regexp"
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// reRunner finds the matches of one schema pattern that stand on word
// boundaries. Instead of running the automaton over the whole text, it
// tries the pattern, anchored, only where a match can start: at bytes that
// can begin a match (computed from the pattern) and that do not follow a
// letter or digit. On typical prose that is a few percent of positions.
//
// Matches are leftmost-first and do not overlap; a candidate that fails the
// boundary check after it does not hide a later match inside it. A pattern
// sees the text from the candidate position on, so ^ and \A in a pattern
// match at every candidate.
type reRunner struct {
	anchored *regexp.Regexp
	first    [256]bool // bytes that can start a match
}

// window bounds the input of one anchored attempt, so that the regexp
// package can use its fast backtracker; a match that reaches the window's
// end is retried on the whole rest of the text.
const window = 128

func newRERunner(re *regexp.Regexp) *reRunner {
	r := &reRunner{anchored: regexp.MustCompile(`\A(?:` + re.String() + `)`)}
	// re compiled, so it parses; a pattern that may start with anything
	// (or match the empty string) is tried at every position.
	prog, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil || !firstBytes(prog, &r.first) {
		for b := range r.first {
			r.first[b] = b < utf8.RuneSelf || (b >= 0xC2 && b <= 0xF4)
		}
	}
	return r
}

// findAll returns the submatch index slices of the bounded matches in text.
func (r *reRunner) findAll(text string) [][]int {
	var out [][]int
	for i := 0; i < len(text); {
		if !r.first[text[i]] {
			i++
			continue
		}
		if i > 0 {
			if prev, _ := utf8.DecodeLastRuneInString(text[:i]); isWordRune(prev) {
				i++
				continue
			}
		}
		loc := r.matchAt(text, i)
		if loc == nil || loc[1] == i || !boundedAfter(text, loc[1]) {
			i++
			continue
		}
		out = append(out, loc)
		i = loc[1]
	}
	return out
}

// matchAt returns the anchored match at text[i:] with offsets into text.
func (r *reRunner) matchAt(text string, i int) []int {
	end := min(len(text), i+window)
	loc := r.anchored.FindStringSubmatchIndex(text[i:end])
	if loc != nil && loc[1] == end-i && end < len(text) {
		loc = r.anchored.FindStringSubmatchIndex(text[i:])
	}
	for j := range loc {
		if loc[j] >= 0 {
			loc[j] += i
		}
	}
	return loc
}

func boundedAfter(text string, end int) bool {
	if end >= len(text) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(text[end:])
	return !isWordRune(r)
}

// firstBytes marks in set every byte that can begin a non-empty match of re
// and reports whether re cannot match the empty string (only then is the
// set complete).
func firstBytes(re *syntax.Regexp, set *[256]bool) bool {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return false
		}
		markRune(set, re.Rune[0], re.Flags&syntax.FoldCase != 0)
		return true
	case syntax.OpCharClass:
		for k := 0; k+1 < len(re.Rune); k += 2 {
			markRange(set, re.Rune[k], re.Rune[k+1])
		}
		return len(re.Rune) > 0
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		markRange(set, 0, unicode.MaxRune)
		return true
	case syntax.OpCapture, syntax.OpPlus:
		return firstBytes(re.Sub[0], set)
	case syntax.OpStar, syntax.OpQuest:
		firstBytes(re.Sub[0], set)
		return false
	case syntax.OpRepeat:
		return firstBytes(re.Sub[0], set) && re.Min > 0
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if firstBytes(sub, set) {
				return true
			}
		}
		return false
	case syntax.OpAlternate:
		all := true
		for _, sub := range re.Sub {
			if !firstBytes(sub, set) {
				all = false
			}
		}
		return all
	}
	// Empty matches and zero-width assertions consume nothing.
	return false
}

func markRune(set *[256]bool, r rune, fold bool) {
	var buf [utf8.UTFMax]byte
	utf8.EncodeRune(buf[:], r)
	set[buf[0]] = true
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			utf8.EncodeRune(buf[:], f)
			set[buf[0]] = true
		}
	}
}

// markRange marks the first bytes of the UTF-8 encodings of lo..hi.
func markRange(set *[256]bool, lo, hi rune) {
	for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
		set[r] = true
	}
	if hi < utf8.RuneSelf {
		return
	}
	lo = max(lo, utf8.RuneSelf)
	var a, b [utf8.UTFMax]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], min(hi, unicode.MaxRune))
	for c := int(a[0]); c <= int(b[0]); c++ {
		set[c] = true
	}
}
