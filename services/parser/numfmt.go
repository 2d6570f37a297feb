package parser

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A number cell's format may show it as other text than the number: an
// identifier padded with zeros to a fixed number of digits (00000 shows 123
// as 00123, "EMP"0000 as EMP0123, 000-00-0000 as 012-34-5678) or a
// percentage (0.0% shows 0.25 as 25.0%). A text column reads such a cell as
// the sheet shows it, as a CSV file saved from the sheet has it and as the
// same identifier typed as text elsewhere is written: 123 would never join
// with a "00123" key. A number column reads the number.
//
// Other formats leave a text column the number, in its shortest form: those
// that only round it or group its digits (0, 0.00, #,##0), add a unit or a
// currency without padding (0.00 "h", $#,##0), or mark the cell as text
// (@): the number is what the cell holds, and reads the same whatever its
// presentation.

// numberFormat is a number format that shows numbers as other text than
// the number (shownNumber): its sections, for positive numbers, negative
// ones and zero (the last two optional).
type numberFormat struct {
	sections []numberSection
}

// numberSection is one section of a number format.
type numberSection struct {
	tokens []numberToken
	// intZeros counts the 0 placeholders before the decimal point,
	// fracPlaces the placeholders after it.
	intZeros, fracPlaces int
	percent              int  // % signs: each multiplies by 100
	group                bool // a comma between digit placeholders: groups of three
}

// numberToken is literal text, or a digit placeholder (0, # or ?) or the
// decimal point (place).
type numberToken struct {
	lit   string
	place byte
	frac  bool // a placeholder after the decimal point
}

// colorNames are the colors a section may name in brackets ([Red]).
var colorNames = []string{"black", "blue", "cyan", "green", "magenta", "red", "white", "yellow"}

// parseNumberFormat parses a format code that shows numbers as other text
// than the number: a zero-padded whole number or a percentage, in its first
// section. ok is false for any other code, and for one with parts it does
// not render (a condition, an exponent, a fraction, scaling by thousands).
func parseNumberFormat(code string) (nf *numberFormat, ok bool) {
	nf = &numberFormat{}
	for i, text := range splitSections(code) {
		if i == 3 {
			break // the section for text cells
		}
		sec, ok := parseNumberSection(text)
		if !ok {
			return nil, false
		}
		// The first section, for positive numbers, says what the format
		// shows; the others may be text alone ("-" for zero).
		if i == 0 && (!slices.ContainsFunc(sec.tokens, numberToken.digit) ||
			sec.percent == 0 && (sec.fracPlaces > 0 || sec.intZeros < 2)) {
			return nil, false
		}
		nf.sections = append(nf.sections, sec)
	}
	return nf, len(nf.sections) > 0
}

// digit reports whether t is a digit placeholder.
func (t numberToken) digit() bool { return t.place != 0 && t.place != '.' }

// splitSections splits a format code at the semicolons outside quotes,
// escapes and brackets.
func splitSections(code string) []string {
	var out []string
	start := 0
	for i := 0; i < len(code); i++ {
		switch code[i] {
		case '"':
			if j := strings.IndexByte(code[i+1:], '"'); j >= 0 {
				i += j + 1
			}
		case '[':
			if j := strings.IndexByte(code[i+1:], ']'); j >= 0 {
				i += j + 1
			}
		case '\\':
			i++
		case ';':
			out = append(out, code[start:i])
			start = i + 1
		}
	}
	return append(out, code[start:])
}

// parseNumberSection parses one section; ok is false for parts it does not
// render.
func parseNumberSection(s string) (sec numberSection, ok bool) {
	frac := false
	lit := func(text string) {
		if n := len(sec.tokens); n > 0 && sec.tokens[n-1].place == 0 {
			sec.tokens[n-1].lit += text
			return
		}
		sec.tokens = append(sec.tokens, numberToken{lit: text})
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return sec, false
			}
			lit(s[i+1 : i+1+j])
			i += j + 1
		case '\\':
			if i+1 == len(s) {
				return sec, false
			}
			_, size := utf8.DecodeRuneInString(s[i+1:])
			lit(s[i+1 : i+1+size])
			i += size
		case '_', '*':
			// Padding the width of a character, or filling the cell
			// with it: no text.
			_, size := utf8.DecodeRuneInString(s[i+1:])
			i += size
		case '[':
			j := strings.IndexByte(s[i+1:], ']')
			if j < 0 {
				return sec, false
			}
			inner := s[i+1 : i+1+j]
			i += j + 1
			switch lower := strings.ToLower(inner); {
			case strings.HasPrefix(inner, "$"):
				// A currency symbol and a locale ([$€-407]), or a locale
				// alone ([$-409]).
				sym, _, _ := strings.Cut(inner[1:], "-")
				lit(sym)
			case slices.Contains(colorNames, lower), strings.HasPrefix(lower, "color"):
			default:
				return sec, false // a condition, elapsed time, a calendar
			}
		case '0', '#', '?':
			sec.tokens = append(sec.tokens, numberToken{place: c, frac: frac})
			switch {
			case frac:
				sec.fracPlaces++
			case c == '0':
				sec.intZeros++
			}
		case '.':
			if frac {
				return sec, false
			}
			frac = true
			sec.tokens = append(sec.tokens, numberToken{place: '.'})
		case ',':
			// Only between digit placeholders, grouping them; after
			// them it scales by thousands.
			n := len(sec.tokens)
			if frac || n == 0 || sec.tokens[n-1].place == 0 || i+1 == len(s) || !strings.ContainsRune("0#?", rune(s[i+1])) {
				return sec, false
			}
			sec.group = true
		case '%':
			sec.percent++
			lit("%")
		case ' ', '-', '+', '(', ')', ':', '$', '!', '^', '&', '\'', '~', '{', '}', '<', '>', '=':
			lit(string(c))
		default:
			if c < 0x80 {
				return sec, false // an exponent, a fraction, General, @, a date part
			}
			_, size := utf8.DecodeRuneInString(s[i:])
			lit(s[i : i+size]) // a currency sign (€, £)
			i += size - 1
		}
	}
	if sec.group {
		// Groups apply to the digits as one run: no text between them.
		first, last := -1, -1
		for k, t := range sec.tokens {
			if t.digit() && !t.frac {
				if first < 0 {
					first = k
				}
				last = k
			}
		}
		for k := first; k >= 0 && k <= last; k++ {
			if sec.tokens[k].place == 0 {
				return sec, false
			}
		}
	}
	return sec, true
}

// render renders the number text stores (a cell's raw value) as the format
// shows it, or returns "" if text is not a number. Like Excel, it rounds
// the number to 15 significant digits, then to the section's decimal
// places, halves away from zero.
func (nf *numberFormat) render(text []byte) string {
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	sec, sign := &nf.sections[0], ""
	switch {
	case f < 0 && len(nf.sections) > 1:
		sec, f = &nf.sections[1], -f
	case f < 0:
		sign, f = "-", -f
	case f == 0 && len(nf.sections) > 2:
		sec = &nf.sections[2]
	}
	for range sec.percent {
		f *= 100
	}
	if math.IsInf(f, 0) {
		return "" // beyond float64 as a percentage: the number as stored
	}
	digits := roundDecimal(strconv.FormatFloat(f, 'g', 15, 64), sec.fracPlaces)
	intPart, fracPart, _ := strings.Cut(digits, ".")
	if intPart == "0" && sec.intZeros == 0 {
		intPart = "" // #.0% shows 0.001 as .1%
	}
	if sec.group {
		intPart = groupThousands(strings.Repeat("0", max(0, sec.intZeros-len(intPart))) + intPart)
	}
	var b strings.Builder
	b.WriteString(sign)
	// Integer placeholders take digits from the right; the first takes
	// all that are left.
	intPlaces := 0
	for _, t := range sec.tokens {
		if t.digit() && !t.frac {
			intPlaces++
		}
	}
	// Fraction placeholders take digits from the left; # shows no
	// trailing zero, ? a space for one.
	significant := len(strings.TrimRight(fracPart, "0"))
	seen, rest, fi := 0, intPart, 0
	for _, t := range sec.tokens {
		switch {
		case t.place == 0:
			b.WriteString(t.lit)
		case t.place == '.':
			b.WriteByte('.')
		case t.frac:
			switch {
			case fi < significant || t.place == '0':
				b.WriteByte(fracPart[fi])
			case t.place == '?':
				b.WriteByte(' ')
			}
			fi++
		case sec.group:
			if seen == 0 {
				b.WriteString(rest)
			}
			seen++
		default:
			seen++
			left := intPlaces - seen // placeholders after this one
			take := len(rest) - left
			switch {
			case seen == 1 && take > 0:
				b.WriteString(rest[:take])
				rest = rest[take:]
			case take > 0:
				b.WriteByte(rest[0])
				rest = rest[1:]
			case t.place == '0':
				b.WriteByte('0')
			case t.place == '?':
				b.WriteByte(' ')
			}
		}
	}
	return b.String()
}

// roundDecimal rounds the non-negative number s (as strconv writes it,
// maybe with an exponent) to places decimal places, halves away from
// zero, and writes it without an exponent.
func roundDecimal(s string, places int) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	plain := strconv.FormatFloat(f, 'f', -1, 64) // exact decimal digits of s
	intPart, fracPart, _ := strings.Cut(plain, ".")
	if len(fracPart) <= places {
		fracPart += strings.Repeat("0", places-len(fracPart))
	} else {
		up := fracPart[places] >= '5'
		fracPart = fracPart[:places]
		if up {
			d := []byte(intPart + fracPart)
			i := len(d) - 1
			for ; i >= 0 && d[i] == '9'; i-- {
				d[i] = '0'
			}
			if i < 0 {
				d = append([]byte{'1'}, d...)
			} else {
				d[i]++
			}
			intPart, fracPart = string(d[:len(d)-places]), string(d[len(d)-places:])
		}
	}
	if places == 0 {
		return intPart
	}
	return intPart + "." + fracPart
}

// groupThousands puts a comma between groups of three digits.
func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	head := len(digits) % 3
	if head > 0 {
		b.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
