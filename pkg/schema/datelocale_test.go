package schema_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/schema"
)

func TestMappingDateLocales(t *testing.T) {
	m, err := schema.LoadMappingFile(mappingTestdata("date-locales.good.yaml"))
	require.NoError(t, err)
	s, ok := m.Source("register")
	require.True(t, ok)
	tests := []struct {
		column, format, locale string
	}{
		{"de", "D. MMMM YYYY", "de"},
		{"es", "D [de] MMMM [de] YYYY", "es"},
		{"en", "D MMM YYYY", "en"},
		{"dotted", "D[.] MMMM YYYY", ""},
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			c, ok := s.Column(tt.column)
			require.True(t, ok)
			assert.Equal(t, tt.format, c.Format)
			assert.Equal(t, tt.locale, c.Locale)
			assert.True(t, c.HasTextFormat())
		})
	}
}

func TestParseLocalDateFormat(t *testing.T) {
	tests := []struct {
		pattern, locale string
		wantLocale      string
		wantLayout      string
	}{
		{"D. MMMM YYYY", "de", "de", "2. January 2006"},
		{"D [de] MMMM [de] YYYY", "es", "es", "2 de January de 2006"},
		{"ddd D MMM YYYY", "it", "it", "Mon 2 Jan 2006"},
		{"D MMM YYYY", "en", "", "2 Jan 2006"},
		{"D MMM YYYY", "", "", "2 Jan 2006"},
		{"DD.MM.YYYY", "", "", "02.01.2006"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.locale, func(t *testing.T) {
			df, err := schema.ParseLocalDateFormat(tt.pattern, tt.locale)
			require.NoError(t, err)
			assert.Equal(t, tt.wantLocale, df.Locale)
			assert.Equal(t, tt.wantLayout, df.Layout)
			assert.Equal(t, tt.pattern, df.Pattern)
		})
	}
}

func TestParseLocalDateFormatBad(t *testing.T) {
	tests := []struct {
		pattern, locale string
		want            string
	}{
		{"D MMMM YYYY", "sv", `locale "sv" is not one of en, de, fr, es, it, nl, pt`},
		{"D MMMM YYYY", "DE", `locale "DE" is not one of`},
		{"DD.MM.YYYY", "de", `the format "DD.MM.YYYY" has no month or weekday names (MMMM, MMM, dddd, ddd)`},
		{"DD.MM.YYYY", "en", "has no month or weekday names"},
		{"[März] DD.MM.YYYY", "de", "has no month or weekday names"},
		{"D MMMM JJJJ", "de", `unknown token "JJJJ"`},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.locale, func(t *testing.T) {
			_, err := schema.ParseLocalDateFormat(tt.pattern, tt.locale)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

// TestDateFormatEnglishNames reads names in each language, full and
// abbreviated, in any case, with and without a dot and accents, and tells
// a weekday from a month by the token it stands for.
func TestDateFormatEnglishNames(t *testing.T) {
	tests := []struct {
		locale, pattern, give string
		want                  string // "" when a name is missing
	}{
		{"de", "D. MMMM YYYY", "5. März 2024", "5. March 2024"},
		{"de", "D. MMMM YYYY", "5. MÄRZ 2024", "5. March 2024"},
		{"de", "D. MMMM YYYY", "5. Marz 2024", "5. March 2024"},
		{"de", "D. MMMM YYYY", "5. Maerz 2024", "5. March 2024"},
		{"de", "D. MMMM YYYY", "5. Ma\u0308rz 2024", "5. March 2024"},
		{"de", "D. MMMM YYYY", "5. Mär. 2024", "5. March 2024"},
		{"de", "D. MMM YYYY", "5. Mrz 2024", "5. Mar 2024"},
		{"de", "D. MMM YYYY", "5. Dezember 2024", "5. Dec 2024"},
		{"de", "D. MMMM YYYY", "5. Jänner 2024", "5. January 2024"},
		{"de", "dddd, D. MMMM YYYY", "Dienstag, 5. März 2024", "Tuesday, 5. March 2024"},
		{"de", "ddd., D. MMM YYYY", "Di, 5. Mär 2024", "Tue., 5. Mar 2024"},
		{"de", "ddd., D. MMM YYYY", "Di., 5. Mär. 2024", "Tue., 5. Mar 2024"},
		{"de", "D. MMMM YYYY", "5. March 2024", ""},
		{"de", "D. MMMM YYYY", "5. 3. 2024", ""},
		{"fr", "D MMM YYYY", "5 janv. 2024", "5 Jan 2024"},
		{"fr", "D MMMM YYYY", "5 février 2024", "5 February 2024"},
		{"fr", "D MMMM YYYY", "5 fevrier 2024", "5 February 2024"},
		{"fr", "D MMMM YYYY", "5 AOÛT 2024", "5 August 2024"},
		{"fr", "D MMMM YYYY", "5 aout 2024", "5 August 2024"},
		{"fr", "D MMM YYYY", "5 sept. 2024", "5 Sep 2024"},
		{"fr", "dddd D MMMM YYYY", "mardi 5 mars 2024", "Tuesday 5 March 2024"},
		{"es", "ddd D MMM YYYY", "mar 5 mar 2024", "Tue 5 Mar 2024"},
		{"es", "D [de] MMMM [de] YYYY", "5 de marzo de 2024", "5 de March de 2024"},
		{"es", "dddd D MMMM YYYY", "Miércoles 6 Marzo 2024", "Wednesday 6 March 2024"},
		{"it", "ddd D MMM YYYY", "mar 5 mag 2024", "Tue 5 May 2024"},
		{"it", "dddd D MMMM YYYY", "martedì 5 maggio 2024", "Tuesday 5 May 2024"},
		{"it", "dddd D MMMM YYYY", "martedi 5 maggio 2024", "Tuesday 5 May 2024"},
		{"nl", "D MMM YYYY", "5 mrt 2024", "5 Mar 2024"},
		{"nl", "dddd D MMMM YYYY", "dinsdag 5 maart 2024", "Tuesday 5 March 2024"},
		{"pt", "dddd, D [de] MMMM [de] YYYY", "terça-feira, 5 de março de 2024", "Tuesday, 5 de March de 2024"},
		{"pt", "dddd, D [de] MMMM [de] YYYY", "Terca, 5 de Marco de 2024", "Tuesday, 5 de March de 2024"},
		{"pt", "ddd D MMM YYYY", "ter 5 mar 2024", "Tue 5 Mar 2024"},
	}
	for _, tt := range tests {
		t.Run(tt.locale+" "+tt.give, func(t *testing.T) {
			df, err := schema.ParseLocalDateFormat(tt.pattern, tt.locale)
			require.NoError(t, err)
			got, ok := df.EnglishNames(tt.give)
			if tt.want == "" {
				assert.False(t, ok, "read as %q", got)
				return
			}
			assert.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// layoutCheck is a date that formats differently from the text of every
// element of Go's time layouts.
var layoutCheck = time.Date(2031, time.November, 23, 9, 48, 37, 0, time.FixedZone("XYZ", 5*3600+30*60))

// literalPatterns place a literal (%s) in the formats it is checked in:
// alone, and beside every kind of token.
var literalPatterns = []string{
	"D [%s] MMMM YYYY",
	"[%s]D MMM YYYY",
	"DD.MM.YYYY[%s]",
	"dddd[%s]D[%s]MM[%s]YYYY",
	"ddd[%s]DD/MM/YY[%s]hh:mm:ss[%s]A[%s]",
	"YYYY-MM-DD[%s]HH[%s]mm[%s]a[%s]Z",
	"YYYY-MM-DD H:m:s[%s]ZZ[%s]",
	"[%s]MMMM[%s]D[%s]YYYY",
	"[%s]ddd[%s]D MMM[%s]YYYY",
	"D MMMM YYYY, [%s]dddd[%s]",
}

// checkLiteral checks the literal lit in each literal pattern: either the
// format is refused, or its layout writes lit as it is and reads the date
// back.
func checkLiteral(t *testing.T, lit string) {
	t.Helper()
	for _, p := range literalPatterns {
		pattern := strings.ReplaceAll(p, "%s", lit)
		df, err := schema.ParseDateFormat(pattern)
		if err != nil {
			continue
		}
		// The pattern's tokens, one by one, give the expected text.
		want := formatPattern(t, pattern)
		got := layoutCheck.Format(df.Layout)
		require.Equal(t, want, got, "pattern %q, layout %q", pattern, df.Layout)
		back, err := time.Parse(df.Layout, got)
		require.NoError(t, err, "pattern %q, layout %q", pattern, df.Layout)
		assert.Equal(t, truncateTo(layoutCheck, pattern), back.Format(time.RFC3339), "pattern %q", pattern)
	}
}

// formatPattern formats layoutCheck in a literal pattern by hand: the
// bracketed text as it is, each token on its own.
func formatPattern(t *testing.T, pattern string) string {
	t.Helper()
	tokens := []struct{ token, text string }{
		{"YYYY", "2031"}, {"YY", "31"}, {"MMMM", "November"}, {"MMM", "Nov"}, {"MM", "11"},
		{"DD", "23"}, {"D", "23"}, {"dddd", "Sunday"}, {"ddd", "Sun"}, {"HH", "09"}, {"H", "09"},
		{"hh", "09"}, {"mm", "48"}, {"m", "48"}, {"ss", "37"}, {"s", "37"}, {"A", "AM"}, {"a", "am"},
		{"ZZ", "+0530"}, {"Z", "+05:30"},
	}
	var b strings.Builder
	for i := 0; i < len(pattern); {
		if pattern[i] == '[' {
			end := strings.IndexByte(pattern[i:], ']')
			require.Positive(t, end)
			b.WriteString(pattern[i+1 : i+end])
			i += end + 1
			continue
		}
		matched := false
		for _, tok := range tokens {
			if strings.HasPrefix(pattern[i:], tok.token) {
				b.WriteString(tok.text)
				i += len(tok.token)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(pattern[i])
			i++
		}
	}
	return b.String()
}

// truncateTo is tm as a pattern without time (or zone) reads it.
func truncateTo(tm time.Time, pattern string) string {
	noBrackets := pattern
	for {
		a := strings.IndexByte(noBrackets, '[')
		if a < 0 {
			break
		}
		b := strings.IndexByte(noBrackets[a:], ']')
		noBrackets = noBrackets[:a] + noBrackets[a+b+1:]
	}
	if !strings.ContainsAny(noBrackets, "Hh") {
		tm = time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC)
	} else if !strings.Contains(noBrackets, "Z") {
		tm = time.Date(tm.Year(), tm.Month(), tm.Day(), tm.Hour(), tm.Minute(), tm.Second(), 0, time.UTC)
	}
	return tm.Format(time.RFC3339)
}

// TestDateFormatLiterals checks every literal of up to three characters
// from an alphabet holding the pieces of Go's layout elements: a format
// either refuses it or writes it as it is and reads the date back.
func TestDateFormatLiterals(t *testing.T) {
	alphabet := []string{"J", "a", "n", "M", "o", "S", "T", "P", "p", "m", "Z", "_", "-", ".", ",", "0", "1", "7", "9", " ", "u", "d", "e", "ä"}
	lits := []string{""}
	for range 3 {
		for _, l := range lits {
			if len([]rune(l)) < 3 {
				for _, c := range alphabet {
					lits = append(lits, l+c)
				}
			}
		}
	}
	seen := map[string]bool{}
	accepted := 0
	for _, lit := range lits {
		if seen[lit] {
			continue
		}
		seen[lit] = true
		checkLiteral(t, lit)
		if _, err := schema.ParseDateFormat("D [" + lit + "] MMMM YYYY"); err == nil {
			accepted++
		}
	}
	assert.Greater(t, accepted, 1000, "most literals are allowed")
}

func FuzzDateFormatLiteral(f *testing.F) {
	for _, s := range []string{"de", "um", "Uhr", "Jan", "Janv", "Mon", "Monat", "PM", "P", "pm", "MST", "_", "-07", "Z07", ".000", ",999", "1", "15", "年", "T", "uary", "day"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lit string) {
		if strings.ContainsAny(lit, "[]") {
			return
		}
		checkLiteral(t, lit)
	})
}
