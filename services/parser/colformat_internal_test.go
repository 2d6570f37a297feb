package parser

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/schema"
)

func TestPlainNumber(t *testing.T) {
	tests := []struct {
		give      string
		decimal   byte
		thousands string
		want      string // "" for not a number
	}{
		{"1.234,56", ',', ".", "1234.56"},
		{"1.234.567,89", ',', ".", "1234567.89"},
		{"-1.234,5", ',', ".", "-1234.5"},
		{"+12,5", ',', ".", "12.5"},
		{"1234,56", ',', ".", "1234.56"},
		{",5", ',', ".", ".5"},
		{"0,75", ',', "", "0.75"},
		{"1.234", ',', ".", "1234"},
		{"999", ',', ".", "999"},
		{"1 234,56", ',', " ", "1234.56"},
		{"1\u00a0234,56", ',', " ", "1234.56"},
		{"1\u202f234\u202f567", ',', " ", "1234567"},
		{"1,234.56", '.', ",", "1234.56"},
		{"1'234'567.5", '.', "'", "1234567.5"},
		{"12.34.567", ',', ".", ""},
		{"1234.567", ',', ".", ""},
		{"1.2345", ',', ".", ""},
		{"1.23", ',', ".", ""},
		{".123", ',', ".", ""},
		{"1..234", ',', ".", ""},
		{"1.234,", ',', ".", ""},
		{"1.234,5.6", ',', ".", ""},
		{"1,234.56", ',', ".", ""},
		{"1234.5", ',', "", ""},
		{"1 234,5", ',', "", ""},
		{"1\u00a0234", ',', "'", ""},
		{"1e5", ',', ".", ""},
		{"NaN", ',', ".", ""},
		{"-", ',', ".", ""},
		{"+,", ',', ".", ""},
		{"12 %", ',', " ", ""},
		{"€ 12", ',', " ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := plainNumber(tt.give, tt.decimal, tt.thousands)
			assert.Equal(t, tt.want != "", ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestConvertCellFormats converts text with a column's text format to
// the property values the records carry: int64, float64 and the ISO text
// of dates.
func TestConvertCellFormats(t *testing.T) {
	tests := []struct {
		name   string
		column schema.Column
		give   string
		kind   cellKind
		typed  bool
		want   any
		errMsg string
	}{
		{"float", schema.Column{Type: schema.TypeFloat, Decimal: ",", Thousands: "."}, "1.234,56", cellKind{}, false, 1234.56, ""},
		{"int", schema.Column{Type: schema.TypeInt, Decimal: ",", Thousands: "."}, "1.234.567", cellKind{}, false, int64(1234567), ""},
		{"int with a zero fraction", schema.Column{Type: schema.TypeInt, Decimal: ","}, "12,0", cellKind{}, false, int64(12), ""},
		{"int with a fraction", schema.Column{Type: schema.TypeInt, Decimal: ","}, "12,5", cellKind{}, false, nil, "not a whole number"},
		{"grouped wrongly", schema.Column{Type: schema.TypeFloat, Decimal: ",", Thousands: "."}, "12.34.567", cellKind{}, false, nil,
			`not a number in the format 1.234.567,89 (decimal ",", thousands ".")`},
		{"beyond float64", schema.Column{Type: schema.TypeFloat, Decimal: ",", Thousands: "."}, "1" + strings.Repeat("0", 400) + ",5", cellKind{}, false, nil, "not a number"},
		{"a number cell", schema.Column{Type: schema.TypeFloat, Decimal: ",", Thousands: "."}, "1.234", cellKind{xlsx: true}, true, 1.234, ""},
		{"a text cell", schema.Column{Type: schema.TypeFloat, Decimal: ",", Thousands: "."}, "1.234", cellKind{xlsx: true}, false, 1234.0, ""},
		{"default separators", schema.Column{Type: schema.TypeFloat}, "1234.5", cellKind{}, false, 1234.5, ""},
		{"date", schema.Column{Type: schema.TypeDate, Format: "DD/MM/YYYY"}, "31/12/2024", cellKind{}, false, "2024-12-31", ""},
		{"US date", schema.Column{Type: schema.TypeDate, Format: "MM/DD/YYYY"}, "12/31/2024", cellKind{}, false, "2024-12-31", ""},
		{"not in the format", schema.Column{Type: schema.TypeDate, Format: "MM/DD/YYYY"}, "31/12/2024", cellKind{}, false, nil, "not a date in the format MM/DD/YYYY"},
		{"ISO text with a format", schema.Column{Type: schema.TypeDate, Format: "DD.MM.YYYY"}, "2024-12-31", cellKind{}, false, nil, "not a date in the format DD.MM.YYYY"},
		{"datetime", schema.Column{Type: schema.TypeDateTime, Format: "DD.MM.YYYY HH:mm"}, "31.12.2024 23:59", cellKind{}, false, "2024-12-31T23:59:00", ""},
		{"datetime with a zone", schema.Column{Type: schema.TypeDateTime, Format: "D MMM YYYY h:mm A Z"}, "5 mar 2024 3:04 PM +01:00", cellKind{}, false, "2024-03-05T15:04:00+01:00", ""},
		{"a date serial", schema.Column{Type: schema.TypeDate, Format: "DD.MM.YYYY"}, "45657", cellKind{xlsx: true}, true, "2024-12-31", ""},
		{"serial text with a format", schema.Column{Type: schema.TypeDate, Format: "DD.MM.YYYY"}, "45657", cellKind{xlsx: true}, false, nil, "not a date in the format DD.MM.YYYY"},
		{"German month", schema.Column{Type: schema.TypeDate, Format: "D. MMMM YYYY", Locale: "de"}, "5. März 2024", cellKind{}, false, "2024-03-05", ""},
		{"Spanish weekday and month", schema.Column{Type: schema.TypeDateTime, Format: "ddd D [de] MMM [de] YYYY HH:mm", Locale: "es"}, "mar 5 de mar de 2024 09:30", cellKind{}, false, "2024-03-05T09:30:00", ""},
		{"English month with a locale", schema.Column{Type: schema.TypeDate, Format: "D. MMMM YYYY", Locale: "de"}, "5. March 2024", cellKind{}, false, nil, "not a date in the format D. MMMM YYYY (locale de)"},
		{"German month without a locale", schema.Column{Type: schema.TypeDate, Format: "D. MMMM YYYY"}, "5. März 2024", cellKind{}, false, nil, "not a date in the format D. MMMM YYYY"},
		{"literal text", schema.Column{Type: schema.TypeDate, Format: "[Stand:] DD.MM.YYYY"}, "Stand: 31.12.2024", cellKind{}, false, "2024-12-31", ""},
		{"a date cell with a locale", schema.Column{Type: schema.TypeDate, Format: "D. MMMM YYYY", Locale: "de"}, "45657", cellKind{xlsx: true}, true, "2024-12-31", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := newMappedColumn(tt.column, 0)
			require.NoError(t, err)
			got, err := convertCell(&c, tt.give, tt.kind, tt.typed)
			if tt.errMsg != "" {
				assert.EqualError(t, err, tt.errMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// FuzzPlainNumber checks that what plainNumber accepts is a number Go
// reads, and the digits and sign of the text, in order.
func FuzzPlainNumber(f *testing.F) {
	for _, s := range []string{"1.234,56", "-1 234 567,89", "1\u00a0234", "12.34.567", ",5", "+1'234.5", "1e5", "1,234.56", "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // convertCell never passes empty text
		}
		for _, sep := range []struct {
			decimal   byte
			thousands string
		}{{',', "."}, {',', " "}, {'.', ","}, {'.', "'"}, {',', ""}} {
			got, ok := plainNumber(s, sep.decimal, sep.thousands)
			if !ok {
				continue
			}
			// A number beyond float64 is a number all the same: the
			// column's conversion refuses it (ErrRange), not plainNumber.
			_, err := strconv.ParseFloat(got, 64)
			if !errors.Is(err, strconv.ErrRange) {
				require.NoError(t, err, "%q read as %q", s, got)
			}
			keep := func(r rune) rune {
				switch {
				case r >= '0' && r <= '9', r == '-':
					return r
				case r == rune(sep.decimal):
					return '.'
				}
				return -1
			}
			assert.Equal(t, strings.Map(keep, s), got, "%q with decimal %q, thousands %q", s, sep.decimal, sep.thousands)
		}
	})
}
