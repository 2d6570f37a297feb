package extractor

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// readable returns text (and names) in the form the rules read: Unicode
// NFC, and the same letters whichever typographic variant a word
// processor, a web page or a PDF wrote for them:
//
//   - invisible characters inside words are dropped: the soft hyphen
//     (U+00AD, &shy;), zero-width space and joiner, word joiner, byte
//     order mark (zero-width no-break space) and the direction marks and
//     controls that editors leave around names. The zero-width non-joiner
//     stays: it is part of the spelling of Persian and Indic words.
//   - every space separator (no-break space U+00A0 and &nbsp;, narrow
//     no-break space, thin and figure spaces, ...) is a plain space, so
//     "ISO&nbsp;21500" is "ISO 21500".
//   - the hyphen, non-breaking hyphen, minus sign and the small and
//     full-width hyphen-minus are '-'; an en or em dash is '-' only
//     between a letter and a digit ("AACE–101"), where it stands for the
//     hyphen of a code and nowhere else ("Bishop–Çelik", "2019–2024").
//   - a right single quotation mark or modifier letter apostrophe inside a
//     word (after a letter or digit, before a letter) is an apostrophe
//     ("O’Connor", "Bishop’s"); a closing quotation mark stays.
//   - the Latin ligatures U+FB00 to U+FB06, which PDFs (and text copied
//     from them) hold for "ff", "fi", "fl", "ffi", "ffl" and "st", are
//     their letters: "Griﬃn" is "Griffin".
//
// Text that holds none of these characters is returned as it is (after
// NFC), without copying.
func readable(text string) string {
	text = norm.NFC.String(text)
	i := firstVariant(text)
	if i < 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	b.WriteString(text[:i])
	dropped := false
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isVariant(r) {
			b.WriteString(text[i : i+size])
			i += size
			continue
		}
		prev, _ := utf8.DecodeLastRuneInString(text[:i])
		next, _ := utf8.DecodeRuneInString(text[i+size:])
		switch {
		case isInvisible(r):
			dropped = true
		case unicode.Is(unicode.Zs, r):
			b.WriteByte(' ')
		case r == '\u2013' || r == '\u2014': // en and em dash
			if unicode.IsLetter(prev) && unicode.IsDigit(next) {
				b.WriteByte('-')
			} else {
				b.WriteRune(r)
			}
		case '\uFB00' <= r && r <= '\uFB06': // Latin ligatures
			b.WriteString(ligatures[r-'\uFB00'])
		case r == '\u2019' || r == '\u02BC': // right single quotation mark, modifier apostrophe
			if isWordRune(prev) && unicode.IsLetter(next) {
				b.WriteByte('\'')
			} else {
				b.WriteRune(r)
			}
		default: // a hyphen or minus sign
			b.WriteByte('-')
		}
		i += size
	}
	if dropped {
		// A dropped character may have stood between a letter and its
		// combining mark.
		return norm.NFC.String(b.String())
	}
	return b.String()
}

// firstVariant returns the index of the first rune of text that readable
// may change, or -1. It decodes only the runes that start with the first
// byte of such a rune (see variantLead), so text in other scripts, or with
// accented letters, is scanned byte by byte.
func firstVariant(text string) int {
	for i := 0; i < len(text); i++ {
		if variantLead[text[i]] {
			if r, _ := utf8.DecodeRuneInString(text[i:]); isVariant(r) {
				return i
			}
		}
	}
	return -1
}

// ligatures are the letters of the Latin ligatures U+FB00 to U+FB06.
var ligatures = [...]string{"ff", "fi", "fl", "ffi", "ffl", "st", "st"}

// variantLead marks the first bytes of the UTF-8 encodings of the runes
// isVariant reports: U+00A0 and U+00AD (0xC2), U+02BC (0xCA), U+1680
// (0xE1), U+2000 to U+206F (0xE2), U+3000 (0xE3) and U+FB00 to U+FB06,
// U+FE63, U+FEFF and U+FF0D (0xEF).
var variantLead = [256]bool{0xC2: true, 0xCA: true, 0xE1: true, 0xE2: true, 0xE3: true, 0xEF: true}

// isVariant reports whether readable may change r.
func isVariant(r rune) bool {
	if r < utf8.RuneSelf {
		return false
	}
	switch r {
	case '\u2010', '\u2011', '\u2212', '\uFE63', '\uFF0D', // hyphens and minus signs
		'\u2013', '\u2014', // en and em dash
		'\u2019', '\u02BC': // apostrophes
		return true
	}
	if '\uFB00' <= r && r <= '\uFB06' { // Latin ligatures
		return true
	}
	return isInvisible(r) || unicode.Is(unicode.Zs, r)
}

// isInvisible reports whether r is a format character without a glyph that
// readable drops.
func isInvisible(r rune) bool {
	switch {
	case r == '\u00AD', // soft hyphen
		r == '\u200B', r == '\u200D', // zero-width space, zero-width joiner
		r == '\u200E', r == '\u200F', // left-to-right and right-to-left marks
		'\u202A' <= r && r <= '\u202E', // direction embeddings and overrides
		'\u2060' <= r && r <= '\u2064', // word joiner, invisible operators
		'\u2066' <= r && r <= '\u2069', // direction isolates
		r == '\uFEFF':                  // zero-width no-break space (byte order mark)
		return true
	}
	return false
}
