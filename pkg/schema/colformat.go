package schema

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// The separators a number column may declare (Column.Decimal,
// Column.Thousands).
var (
	mappingDecimals  = []string{".", ","}
	mappingThousands = []string{",", ".", " ", "'"}
)

// DateFormat is the format of a date or datetime column's text, written in
// pattern tokens and translated to a Go time layout.
type DateFormat struct {
	// Pattern is the format as the mapping writes it ("DD/MM/YYYY").
	Pattern string
	// Layout is the Go time layout that reads it ("02/01/2006").
	Layout string
	// Zoned says the pattern holds a time zone offset (Z or ZZ).
	Zoned bool
	// Locale is the language of the month and weekday names, set by
	// ParseLocalDateFormat for a locale other than English; "" reads
	// English names, as time.Parse does.
	Locale string
	// names are the pattern's name tokens, in order, when Locale is set.
	names []nameSlot
}

// dateField is what a date token gives.
type dateField int

const (
	fieldYear dateField = iota
	fieldMonth
	fieldDay
	fieldWeekday
	fieldHour24
	fieldHour12
	fieldMinute
	fieldSecond
	fieldAMPM
	fieldZone
)

// dateFieldNames name the fields in messages.
var dateFieldNames = [...]string{"year", "month", "day", "weekday", "hour", "hour", "minute", "second", "AM/PM", "time zone"}

// dateToken is one token of a date format: its Go layout element, the
// field it gives, whether it is a number and whether the number has one or
// two digits (so that a number right after it could not be told apart).
type dateToken struct {
	token, layout string
	field         dateField
	numeric       bool
	variable      bool
}

// dateTokens are the tokens of date formats, longer ones before the
// shorter ones they start with. Tokens are case-sensitive: M is the month,
// m the minute.
var dateTokens = []dateToken{
	{"YYYY", "2006", fieldYear, true, false},
	{"YY", "06", fieldYear, true, false},
	{"MMMM", "January", fieldMonth, false, false},
	{"MMM", "Jan", fieldMonth, false, false},
	{"MM", "01", fieldMonth, true, false},
	{"M", "1", fieldMonth, true, true},
	{"DD", "02", fieldDay, true, false},
	{"D", "2", fieldDay, true, true},
	{"dddd", "Monday", fieldWeekday, false, false},
	{"ddd", "Mon", fieldWeekday, false, false},
	{"HH", "15", fieldHour24, true, false},
	{"H", "15", fieldHour24, true, true},
	{"hh", "03", fieldHour12, true, false},
	{"h", "3", fieldHour12, true, true},
	{"mm", "04", fieldMinute, true, false},
	{"m", "4", fieldMinute, true, true},
	{"ss", "05", fieldSecond, true, false},
	{"s", "5", fieldSecond, true, true},
	{"A", "PM", fieldAMPM, false, false},
	{"a", "pm", fieldAMPM, false, false},
	{"ZZ", "Z0700", fieldZone, false, false},
	{"Z", "Z07:00", fieldZone, false, false},
}

// DateFormatTokens lists the tokens ParseDateFormat knows, for messages.
const DateFormatTokens = "YYYY YY MMMM MMM MM M DD D dddd ddd HH H hh h mm m ss s A a ZZ Z"

// ParseDateFormat translates a date format written in tokens to a Go time
// layout:
//
//	YYYY  year, 4 digits            YY    year, 2 digits (69-99 are 19xx, 00-68 20xx)
//	MM    month, 01-12              M     month, 1-12 (one or two digits)
//	MMMM  month name (January)      MMM   month abbreviation (Jan)
//	DD    day, 01-31                D     day, 1-31 (one or two digits)
//	dddd  weekday name (Monday)     ddd   weekday abbreviation (Mon)
//	HH    hour, 00-23               H     hour, 0-23 (one or two digits)
//	hh    hour, 01-12               h     hour, 1-12 (one or two digits)
//	mm    minute, 00-59             m     minute, 0-59 (one or two digits)
//	ss    second, 00-59             s     second, 0-59 (one or two digits)
//	A     AM or PM (upper case)     a     am or pm (lower case)
//	Z     offset +02:00, or Z       ZZ    offset +0200, or Z
//
// Month and weekday names are English, in any case (a weekday is checked
// for its spelling alone), unless ParseLocalDateFormat names another
// language; a fraction of a second may follow the seconds. Anything else
// is written as it is: punctuation, spaces, the letter T and characters
// outside ASCII; other letters, digits and _ are errors. Other literal
// text is written in brackets, as moment.js does: D [de] MMMM [de] YYYY,
// D[.] MMMM YYYY. A bracketed text may not hold digits, _ or the words
// Go's time layouts read as date elements (Jan, Mon, MST, PM, pm), nor
// make one with the token beside it (MMM[uary]). A format needs a year, a
// month and a day; a 12-hour hour needs A or a; a one-or-two-digit number
// must not be followed directly by another number, which could not be
// told apart from it.
func ParseDateFormat(pattern string) (DateFormat, error) {
	df, _, err := parseDateFormat(pattern)
	return df, err
}

// parseDateFormat is ParseDateFormat, also returning the pattern's month
// and weekday name tokens.
func parseDateFormat(pattern string) (DateFormat, []nameSlot, error) {
	df := DateFormat{Pattern: pattern}
	if strings.TrimSpace(pattern) == "" {
		return df, nil, errors.New("empty")
	}
	var b strings.Builder
	seen := map[dateField]string{}
	var prev *dateToken
	var pieces []layoutPiece
	for i := 0; i < len(pattern); {
		if pattern[i] == '[' {
			end := strings.IndexByte(pattern[i+1:], ']')
			if end < 0 {
				return df, nil, errors.New(`"[" without "]": literal text is written in brackets, [de]`)
			}
			lit := pattern[i+1 : i+1+end]
			if err := checkLiteral(lit); err != nil {
				return df, nil, fmt.Errorf("literal [%s]: %w", lit, err)
			}
			if lit != "" {
				b.WriteString(lit)
				pieces = append(pieces, layoutPiece{text: lit, shown: "[" + lit + "]"})
				prev = nil
			}
			i += end + 2
			continue
		}
		tok := matchDateToken(pattern[i:])
		if tok == nil {
			r, size := utf8.DecodeRuneInString(pattern[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				return df, nil, errors.New("not UTF-8")
			case r >= '0' && r <= '9':
				return df, nil, fmt.Errorf("digit %q: write the date's numbers as tokens (%s)", r, DateFormatTokens)
			case r == '_':
				return df, nil, errors.New(`"_" is not allowed`)
			case r == 'S':
				return df, nil, fmt.Errorf("unknown token %q: a fraction of a second after ss needs no token", unknownToken(pattern[i:]))
			case r != 'T' && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'):
				return df, nil, fmt.Errorf("unknown token %q (tokens: %s)", unknownToken(pattern[i:]), DateFormatTokens)
			}
			b.WriteString(pattern[i : i+size])
			pieces = append(pieces, layoutPiece{text: pattern[i : i+size], shown: pattern[i : i+size]})
			i += size
			prev = nil
			continue
		}
		if prev != nil && prev.variable && tok.numeric {
			return df, nil, fmt.Errorf("%s followed directly by %s: the one-or-two-digit %s needs a separator after it", prev.token, tok.token, dateFieldNames[prev.field])
		}
		f := tok.field
		if f == fieldHour12 {
			f = fieldHour24
		}
		if other, dup := seen[f]; dup {
			return df, nil, fmt.Errorf("%s and %s: the %s appears twice", other, tok.token, dateFieldNames[f])
		}
		seen[f] = tok.token
		if tok.field == fieldZone {
			df.Zoned = true
		}
		b.WriteString(tok.layout)
		pieces = append(pieces, layoutPiece{text: tok.layout, shown: tok.token, token: tok})
		i += len(tok.token)
		prev = tok
	}
	var missing []string
	for _, f := range []dateField{fieldYear, fieldMonth, fieldDay} {
		if _, ok := seen[f]; !ok {
			missing = append(missing, dateFieldNames[f])
		}
	}
	if len(missing) > 0 {
		return df, nil, fmt.Errorf("no %s", strings.Join(missing, ", "))
	}
	h, hasHour := seen[fieldHour24]
	twelve := hasHour && strings.HasPrefix(h, "h")
	if _, ampm := seen[fieldAMPM]; ampm != twelve {
		return df, nil, errors.New("a 12-hour hour (hh, h) and AM/PM (A, a) go together: use HH for a 24-hour clock")
	}
	if err := checkLayout(pieces); err != nil {
		return df, nil, err
	}
	df.Layout = b.String()
	return df, nameSlots(pieces), nil
}

// matchDateToken returns the token s starts with, or nil.
func matchDateToken(s string) *dateToken {
	for i := range dateTokens {
		if strings.HasPrefix(s, dateTokens[i].token) {
			return &dateTokens[i]
		}
	}
	return nil
}

// unknownToken returns the run of letters s starts with.
func unknownToken(s string) string {
	end := 0
	for end < len(s) && (s[end] >= 'a' && s[end] <= 'z' || s[end] >= 'A' && s[end] <= 'Z') {
		end++
	}
	return s[:end]
}

// NumberExample shows a number written with the separators of a column
// (decimal "" is "."): "1.234.567,89" for decimal "," and thousands ".",
// with the separators named, for messages.
func NumberExample(decimal, thousands string) string {
	if decimal == "" {
		decimal = "."
	}
	th := "no thousands separator"
	if thousands != "" {
		th = fmt.Sprintf("thousands %q", thousands)
	}
	return fmt.Sprintf("1%s234%[1]s567%s89 (decimal %q, %s)", thousands, decimal, decimal, th)
}

// validateColumnFormat checks the text format options of column c: where
// names it ("sources[0] (s): columns[2] (day)").
func validateColumnFormat(where string, c Column) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	isDate := c.Type == TypeDate || c.Type == TypeDateTime
	isNumber := c.Type == TypeInt || c.Type == TypeFloat
	if c.Format != "" {
		if !isDate {
			add("%s.format: only for date and datetime columns (the type is %s)", where, c.Type)
		} else if _, err := ParseDateFormat(c.Format); err != nil {
			add("%s.format %q: %v", where, c.Format, err)
		}
	}
	if c.Locale != "" {
		switch {
		case !isDate:
			add("%s.locale: only for date and datetime columns (the type is %s)", where, c.Type)
		case !slices.Contains(DateLocales, c.Locale):
			add("%s.locale: %q is not one of %s", where, c.Locale, strings.Join(DateLocales, ", "))
		case c.Format == "":
			add("%s.locale: needs a format with month or weekday names (MMMM, MMM, dddd, ddd)", where)
		default:
			if _, err := ParseDateFormat(c.Format); err == nil {
				if _, err := ParseLocalDateFormat(c.Format, c.Locale); err != nil {
					add("%s.locale: %v", where, err)
				}
			}
		}
	}
	for _, o := range []struct {
		name, v string
		allowed []string
	}{{"decimal", c.Decimal, mappingDecimals}, {"thousands", c.Thousands, mappingThousands}} {
		switch {
		case o.v == "":
		case !isNumber:
			add("%s.%s: only for int and float columns (the type is %s)", where, o.name, c.Type)
		case !slices.Contains(o.allowed, o.v):
			add("%s.%s: %q is not one of %s", where, o.name, o.v, quoteList(o.allowed))
		}
	}
	if dec := cmp.Or(c.Decimal, "."); isNumber && c.Thousands == dec {
		add("%s.decimal and thousands: must differ (both %q)", where, dec)
	}
	return errs
}

// quoteList renders separators for a message: `".", ","`.
func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
