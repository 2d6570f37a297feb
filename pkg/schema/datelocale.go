package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DateLocales are the languages a date column's month and weekday names
// may be written in (Column.Locale). en, the default, is time.Parse's
// reading: English names and their three-letter abbreviations, in any
// case.
var DateLocales = []string{"en", "de", "fr", "es", "it", "nl", "pt"}

// layoutPiece is one piece of a date format's Go layout: a token's layout
// element or literal text, and how the pattern writes it (for messages).
type layoutPiece struct {
	text, shown string
	token       *dateToken // nil for literal text
}

// goLayoutWords are the letter sequences Go's time layouts read as date
// elements wherever they stand (Jan and Mon unless a lower-case letter
// follows).
var goLayoutWords = []string{"Jan", "Mon", "MST", "PM", "pm"}

// checkLiteral refuses bracketed literal text that Go's time layouts
// would read, in part, as date elements: layouts have no escape.
func checkLiteral(lit string) error {
	if !utf8.ValidString(lit) {
		return errors.New("not UTF-8")
	}
	for _, r := range lit {
		switch {
		case r >= '0' && r <= '9':
			return fmt.Errorf("digit %q: Go's time layouts read digits as date elements and cannot escape them", r)
		case r == '_':
			return errors.New(`"_": Go's time layouts read _2 and __2 as days and cannot escape them`)
		}
	}
	for _, w := range goLayoutWords {
		if strings.Contains(lit, w) {
			return fmt.Errorf("%q: Go's time layouts read it as a date element and cannot escape it", w)
		}
	}
	return nil
}

// layoutCheckTime formats to text other than the layout element for every
// element of Go's time layouts (year 2031, November, the 23rd, a Sunday,
// 09:48:37 AM, offset +05:30 named XYZ), so that a layout which formats
// it as its pieces do, one by one, reads each piece as the pattern means.
var layoutCheckTime = time.Date(2031, time.November, 23, 9, 48, 37, 0, time.FixedZone("XYZ", 5*3600+30*60))

// checkLayout checks that Go reads the layout the pieces make as the
// pieces: literal text next to a token could otherwise join it into
// another element (P before Mon is PM, Jan before a lower-case letter is
// no month).
func checkLayout(pieces []layoutPiece) error {
	var layout, want strings.Builder
	for _, p := range pieces {
		layout.WriteString(p.text)
		want.WriteString(pieceText(p))
	}
	if layoutCheckTime.Format(layout.String()) == want.String() {
		return nil
	}
	// Find the first piece that makes the layout differ, to name it.
	layout.Reset()
	want.Reset()
	for i, p := range pieces {
		layout.WriteString(p.text)
		want.WriteString(pieceText(p))
		if layoutCheckTime.Format(layout.String()) == want.String() {
			continue
		}
		if i == 0 {
			return fmt.Errorf("%s: Go's time layouts read it as another date element", p.shown)
		}
		return fmt.Errorf("%s next to %s: Go's time layouts read them together as another date element; put a separator between them",
			pieces[i-1].shown, p.shown)
	}
	return errors.New("Go's time layouts read it as other date elements")
}

// pieceText is the text a piece's layout gives for layoutCheckTime.
func pieceText(p layoutPiece) string {
	if p.token == nil {
		return p.text
	}
	return layoutCheckTime.Format(p.text)
}

// nameSlot is a month or weekday name token of a pattern: the English
// name the layout expects (full or abbreviated) and whether the pattern
// writes a '.' right after it.
type nameSlot struct {
	weekday, full, dotAfter bool
}

// nameSlots lists the name tokens of a pattern's pieces, in order.
func nameSlots(pieces []layoutPiece) []nameSlot {
	var slots []nameSlot
	for i, p := range pieces {
		if p.token == nil || p.token.numeric || (p.token.field != fieldMonth && p.token.field != fieldWeekday) {
			continue
		}
		dot := i+1 < len(pieces) && pieces[i+1].token == nil && strings.HasPrefix(pieces[i+1].text, ".")
		slots = append(slots, nameSlot{
			weekday:  p.token.field == fieldWeekday,
			full:     len(p.token.token) == 4,
			dotAfter: dot,
		})
	}
	return slots
}

// ParseLocalDateFormat is ParseDateFormat for a format whose month and
// weekday names (MMMM, MMM, dddd, ddd) are written in the language locale,
// one of DateLocales ("" and "en" are English, as ParseDateFormat reads
// them). Such a format reads full names and the usual abbreviations of the
// language, in any case, with or without a trailing '.', accented or not
// (MMM reads full names and MMMM abbreviations as well); see
// DateFormat.EnglishNames. A locale needs a format with a name token.
func ParseLocalDateFormat(pattern, locale string) (DateFormat, error) {
	if locale != "" && !slices.Contains(DateLocales, locale) {
		return DateFormat{Pattern: pattern}, fmt.Errorf("locale %q is not one of %s", locale, strings.Join(DateLocales, ", "))
	}
	df, names, err := parseDateFormat(pattern)
	if err != nil {
		return df, err
	}
	if locale != "" && len(names) == 0 {
		return df, fmt.Errorf("the format %q has no month or weekday names (MMMM, MMM, dddd, ddd)", pattern)
	}
	if locale == "" || locale == "en" {
		return df, nil
	}
	df.Locale, df.names = locale, names
	return df, nil
}

// EnglishNames rewrites the month and weekday names of s, text in the
// format df, as the English names df.Layout expects, so that time.Parse
// reads it. The words of s are matched, in order, against the format's
// name tokens: a word that is a name of the kind (month or weekday) the
// next token wants becomes its English name, with the '.' after it if and
// only if the format writes one there; other words are left for
// time.Parse to match against the literal text. So the Spanish "mar" is
// Tuesday where the format wants a weekday and March where it wants a
// month. ok is false if a name token is left without a name. Without a
// locale, s is returned as it is.
func (df DateFormat) EnglishNames(s string) (english string, ok bool) {
	if len(df.names) == 0 {
		return s, true
	}
	names := localeNames[df.Locale]
	var b strings.Builder
	slot := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if slot == len(df.names) || !unicode.IsLetter(r) {
			b.WriteString(s[i : i+size])
			i += size
			continue
		}
		end := wordEnd(s, i)
		want := df.names[slot]
		table := names.months
		if want.weekday {
			table = names.weekdays
		}
		n, found := table[foldName(s[i:end])]
		// A hyphenated name (the Portuguese segunda-feira) is one word.
		if end < len(s) && s[end] == '-' {
			if end2 := wordEnd(s, end+1); end2 > end+1 {
				if n2, ok2 := table[foldName(s[i:end2])]; ok2 {
					n, found, end = n2, true, end2
				}
			}
		}
		if !found {
			b.WriteString(s[i:end])
			i = end
			continue
		}
		b.WriteString(englishName(want, n))
		if end < len(s) && s[end] == '.' {
			end++
		}
		if want.dotAfter {
			b.WriteByte('.')
		}
		i = end
		slot++
	}
	return b.String(), slot == len(df.names)
}

// wordEnd returns the end of the run of letters of s starting at i,
// with the combining accents of letters written decomposed (a, U+0308).
func wordEnd(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
			break
		}
		i += size
	}
	return i
}

// englishName is the English month (0 January) or weekday (0 Sunday)
// name n as the slot's layout element writes it.
func englishName(slot nameSlot, n int) string {
	var name string
	if slot.weekday {
		name = time.Weekday(n).String()
	} else {
		name = time.Month(n + 1).String()
	}
	if !slot.full {
		name = name[:3]
	}
	return name
}

// foldName is a name as the tables key it: lower case, without accents,
// whether written as one letter (ä) or as a letter and a combining mark
// (decomposed, the marks dropped).
func foldName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, norm.NFD.String(strings.ToLower(s)))
}

// localeSpellings are the ways each language writes the months (January
// first) and weekdays (Sunday first): the full name first, then the usual
// abbreviations and other spellings. Accents may be left out of any of
// them, and the case does not matter.
var localeSpellings = map[string]struct {
	months   [12][]string
	weekdays [7][]string
}{
	"de": {
		months: [12][]string{
			{"januar", "jan", "jän", "jänner"}, {"februar", "feb", "feber"}, {"märz", "mär", "mrz", "maerz"},
			{"april", "apr"}, {"mai"}, {"juni", "jun"}, {"juli", "jul"}, {"august", "aug"},
			{"september", "sep", "sept"}, {"oktober", "okt"}, {"november", "nov"}, {"dezember", "dez"},
		},
		weekdays: [7][]string{
			{"sonntag", "so", "son"}, {"montag", "mo", "mon"}, {"dienstag", "di", "die"}, {"mittwoch", "mi", "mit"},
			{"donnerstag", "do", "don"}, {"freitag", "fr", "fre"}, {"samstag", "sa", "sam", "sonnabend"},
		},
	},
	"fr": {
		months: [12][]string{
			{"janvier", "janv", "jan"}, {"février", "févr", "fév"}, {"mars", "mar"}, {"avril", "avr"},
			{"mai"}, {"juin"}, {"juillet", "juil", "jul"}, {"août", "aoû"},
			{"septembre", "sept", "sep"}, {"octobre", "oct"}, {"novembre", "nov"}, {"décembre", "déc"},
		},
		weekdays: [7][]string{
			{"dimanche", "dim"}, {"lundi", "lun"}, {"mardi", "mar"}, {"mercredi", "mer"},
			{"jeudi", "jeu"}, {"vendredi", "ven"}, {"samedi", "sam"},
		},
	},
	"es": {
		months: [12][]string{
			{"enero", "ene"}, {"febrero", "feb"}, {"marzo", "mar"}, {"abril", "abr"},
			{"mayo", "may"}, {"junio", "jun"}, {"julio", "jul"}, {"agosto", "ago"},
			{"septiembre", "setiembre", "sept", "sep", "set"}, {"octubre", "oct"}, {"noviembre", "nov"}, {"diciembre", "dic"},
		},
		weekdays: [7][]string{
			{"domingo", "dom", "do"}, {"lunes", "lun", "lu"}, {"martes", "mar", "ma"}, {"miércoles", "mié", "mi"},
			{"jueves", "jue", "ju"}, {"viernes", "vie", "vi"}, {"sábado", "sáb", "sa"},
		},
	},
	"it": {
		months: [12][]string{
			{"gennaio", "gen"}, {"febbraio", "feb"}, {"marzo", "mar"}, {"aprile", "apr"},
			{"maggio", "mag"}, {"giugno", "giu"}, {"luglio", "lug"}, {"agosto", "ago"},
			{"settembre", "set", "sett"}, {"ottobre", "ott"}, {"novembre", "nov"}, {"dicembre", "dic"},
		},
		weekdays: [7][]string{
			{"domenica", "dom"}, {"lunedì", "lun"}, {"martedì", "mar"}, {"mercoledì", "mer"},
			{"giovedì", "gio"}, {"venerdì", "ven"}, {"sabato", "sab"},
		},
	},
	"nl": {
		months: [12][]string{
			{"januari", "jan"}, {"februari", "feb"}, {"maart", "mrt", "mar"}, {"april", "apr"},
			{"mei"}, {"juni", "jun"}, {"juli", "jul"}, {"augustus", "aug"},
			{"september", "sep", "sept"}, {"oktober", "okt"}, {"november", "nov"}, {"december", "dec"},
		},
		weekdays: [7][]string{
			{"zondag", "zo", "zon"}, {"maandag", "ma", "maa"}, {"dinsdag", "di", "din"}, {"woensdag", "wo", "woe"},
			{"donderdag", "do", "don"}, {"vrijdag", "vr", "vri"}, {"zaterdag", "za", "zat"},
		},
	},
	"pt": {
		months: [12][]string{
			{"janeiro", "jan"}, {"fevereiro", "fev"}, {"março", "mar"}, {"abril", "abr"},
			{"maio", "mai"}, {"junho", "jun"}, {"julho", "jul"}, {"agosto", "ago"},
			{"setembro", "set"}, {"outubro", "out"}, {"novembro", "nov"}, {"dezembro", "dez"},
		},
		weekdays: [7][]string{
			{"domingo", "dom"}, {"segunda-feira", "segunda", "seg"}, {"terça-feira", "terça", "ter"}, {"quarta-feira", "quarta", "qua"},
			{"quinta-feira", "quinta", "qui"}, {"sexta-feira", "sexta", "sex"}, {"sábado", "sáb"},
		},
	},
}

// dateNames are a language's month and weekday names, folded, to their
// numbers (months from 0, January; weekdays from 0, Sunday).
type dateNames struct {
	months, weekdays map[string]int
}

// localeNames are localeSpellings keyed for lookup.
var localeNames = func() map[string]dateNames {
	out := map[string]dateNames{}
	for loc, sp := range localeSpellings {
		n := dateNames{months: map[string]int{}, weekdays: map[string]int{}}
		for i, names := range sp.months {
			for _, name := range names {
				n.months[foldName(name)] = i
			}
		}
		for i, names := range sp.weekdays {
			for _, name := range names {
				n.weekdays[foldName(name)] = i
			}
		}
		out[loc] = n
	}
	return out
}()
