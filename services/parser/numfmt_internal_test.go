package parser

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNumberFormatRender(t *testing.T) {
	tests := []struct {
		code string
		give string
		want string
	}{
		{"00000", "123", "00123"},
		{"00000", "1234567", "1234567"},
		{"00000", "123.5", "00124"},
		{"00000", "-123", "-00123"},
		{"00000", "0", "00000"},
		{"00000", "1E+3", "01000"},
		{`"EMP"0000`, "42", "EMP0042"},
		{`\E\M\P0000`, "42", "EMP0042"},
		{"000-00-0000", "12345678", "012-34-5678"},
		{"000-00-0000", "1234567890", "1234-56-7890"},
		{"00000-0000", "12345678", "01234-5678"},
		{"00000;(00000);\"none\"", "-12", "(00012)"},
		{"00000;(00000);\"none\"", "0", "none"},
		{"[Blue]00000;[Red]-00000", "-7", "-00007"},
		{"#00000", "12", "00012"},
		{"00,000", "1234", "01,234"},
		{"00000_)", "12", "00012"},
		{"0%", "0.25", "25%"},
		{"0%", "0.125", "13%"},
		{"0%", "1.5", "150%"},
		{"0.0%", "0.0025", "0.3%"},
		{"0.0%", "-0.0025", "-0.3%"},
		{"0.00%", "0.1234", "12.34%"},
		{"0.00%", "0.1", "10.00%"},
		{"0.0#%", "0.1", "10.0%"},
		{"0.0#%", "0.12345", "12.35%"},
		{"#.0%", "0.001", ".1%"},
		{"#,##0%", "12.5", "1,250%"},
		{"0.0%;[Red]-0.0%", "-0.05", "-5.0%"},
		{"[$€-407]0.0%", "0.5", "€50.0%"},
		{"0.0 %", "0.999", "99.9 %"},
		{"0%", "0.99999999999999989", "100%"},
		{"0%", "text", ""},
		{"0%", "1E+307", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code+" "+tt.give, func(t *testing.T) {
			nf, ok := parseNumberFormat(tt.code)
			require.True(t, ok)
			assert.Equal(t, tt.want, nf.render([]byte(tt.give)))
		})
	}
}

// Formats that round, group digits, add a unit or mark text leave a
// text column the number: they are no numberFormat.
func TestNumberFormatNotShown(t *testing.T) {
	for _, code := range []string{
		"General", "0", "#", "0.00", "#,##0", "#,##0.00", `0.00 "h"`, `"EMP"0`, "00000.00", "@",
		"0.00E+00", "# ?/?", "0,", "00000,", "[>100]00000", "[h]:mm", `$#,##0_);($#,##0)`, "00000;@;General",
		`"unterminated`, "0%;[<0]0%", "", "[<=9999999]###-####;(###) ###-####",
	} {
		t.Run(code, func(t *testing.T) {
			_, ok := parseNumberFormat(code)
			assert.False(t, ok)
		})
	}
}

// FuzzNumberFormat checks that any format parseNumberFormat accepts
// renders any number, without a panic, as text holding its digits.
func FuzzNumberFormat(f *testing.F) {
	for _, c := range []string{"00000", `"EMP"0000`, "000-00-0000", "0.0%", "#,##0.00%", "0.0#%;(0.0#%);\"-\"", "[Red]#.?%", "00,000_)"} {
		f.Add(c, "123.456")
	}
	f.Add("0%", "-1E+300")
	f.Fuzz(func(t *testing.T, code, value string) {
		nf, ok := parseNumberFormat(code)
		if !ok {
			return
		}
		got := nf.render([]byte(value))
		if _, err := strconv.ParseFloat(value, 64); err != nil {
			assert.Empty(t, got)
		}
	})
}
