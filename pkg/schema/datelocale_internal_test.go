package schema

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLocaleSpellings checks that no spelling, without its accents, names
// two months or two weekdays of a language, and that every DateLocales
// entry but English has spellings.
func TestLocaleSpellings(t *testing.T) {
	for _, loc := range DateLocales {
		sp, ok := localeSpellings[loc]
		assert.Equal(t, loc != "en", ok, loc)
		if !ok {
			continue
		}
		for kind, lists := range map[string][][]string{"months": sp.months[:], "weekdays": sp.weekdays[:]} {
			seen := map[string]int{}
			for i, names := range lists {
				assert.NotEmpty(t, names, "%s %s %d", loc, kind, i)
				for _, name := range names {
					key := foldName(name)
					if j, dup := seen[key]; dup && j != i {
						t.Errorf("%s %s: %q names %d and %d", loc, kind, name, j, i)
					}
					seen[key] = i
				}
			}
		}
	}
	for loc := range localeSpellings {
		assert.Contains(t, DateLocales, loc)
	}
}

// TestLocaleSpellingsRead reads every spelling of every month and weekday
// of every language, in lower, upper and title case, with and without a
// dot and its accents, where a full name and an abbreviation are wanted.
func TestLocaleSpellingsRead(t *testing.T) {
	variants := func(name string) []string {
		title := strings.ToUpper(name[:1]) + name[1:]
		if r, size := utf8.DecodeRuneInString(name); size > 1 {
			title = strings.ToUpper(string(r)) + name[size:]
		}
		var out []string
		for _, v := range []string{name, strings.ToUpper(name), title, foldName(name)} {
			out = append(out, v, v+".")
		}
		return out
	}
	for loc, sp := range localeSpellings {
		for _, pattern := range []string{"ddd, D MMM YYYY", "dddd, D MMMM YYYY"} {
			df, err := ParseLocalDateFormat(pattern, loc)
			require.NoError(t, err)
			for m, names := range sp.months {
				for _, name := range names {
					for _, v := range variants(name) {
						got, ok := df.EnglishNames(sp.weekdays[0][0] + ", 5 " + v + " 2024")
						require.True(t, ok, "%s %q: %q", loc, v, got)
						tm, err := time.Parse(df.Layout, got)
						require.NoError(t, err, "%s %q: %q", loc, v, got)
						assert.Equal(t, time.Month(m+1), tm.Month(), "%s %q", loc, v)
					}
				}
			}
			for d, names := range sp.weekdays {
				for _, name := range names {
					for _, v := range variants(name) {
						got, ok := df.EnglishNames(v + ", 5 " + sp.months[2][0] + " 2024")
						require.True(t, ok, "%s %q: %q", loc, v, got)
						_, err := time.Parse(df.Layout, got)
						require.NoError(t, err, "%s %q: %q", loc, v, got)
						assert.True(t, strings.HasPrefix(got, englishName(df.names[0], d)+","), "%s %q: %q", loc, v, got)
					}
				}
			}
		}
	}
}
