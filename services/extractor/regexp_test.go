package extractor

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRERunner(t *testing.T) {
	long := "Q-" + strings.Repeat("7", 300)
	tests := []struct {
		name  string
		regex string
		give  string
		want  []string
	}{
		{"literal", `PRJ-[0-9]{4}`, "PRJ-1234, XPRJ-1234, PRJ-12345, PRJ-1234.", []string{"PRJ-1234", "PRJ-1234"}},
		{"fold case", `(?i:prj)-[0-9]{4}`, "prj-1234 Prj-5678", []string{"prj-1234", "Prj-5678"}},
		{"kelvin sign folds", `(?i)k-[0-9]`, "\u212a-1 k-2", []string{"\u212a-1", "k-2"}},
		{"char class", `[A-C][0-9]+`, "A1 B22 D3 c4", []string{"A1", "B22"}},
		{"unicode class", `[É-Ü]x`, "Éx Öx Ax", []string{"Éx", "Öx"}},
		{"optional start", `(?:Mr )?Smith`, "Mr Smith and Smith", []string{"Mr Smith", "Smith"}},
		{"star start", `a*b`, "aab b", []string{"aab", "b"}},
		{"repeat start", `(?:ab){2}c`, "ababc abc", []string{"ababc"}},
		{"optional repeat start", `(?:ab){0,2}c`, "ababc c", []string{"ababc", "c"}},
		{"alternation with empty branch", `(?:x|)y`, "xy y", []string{"xy", "y"}},
		{"any char", `.-[0-9]`, "a-1 é-2", []string{"a-1", "é-2"}},
		{"word boundary assertion", `\bZ[0-9]`, "Z1 Z2", []string{"Z1", "Z2"}},
		{"candidate failing after boundary does not hide a later match", `[A-Z]+-[0-9]`, "AB-1x B-2", []string{"B-2"}},
		{"match longer than the window", `Q-[0-9]+`, long + " end", []string{long}},
		{"empty text", `A`, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRERunner(regexp.MustCompile(tt.regex))
			var got []string
			for _, loc := range r.findAll(tt.give) {
				got = append(got, tt.give[loc[0]:loc[1]])
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRERunnerSubmatchOffsets(t *testing.T) {
	r := newRERunner(regexp.MustCompile(`(?P<prefix>ISO)[- ]?(?P<number>[0-9]+)(x)?`))
	text := "see ISO 9001."
	locs := r.findAll(text)
	assert.Equal(t, [][]int{{4, 12, 4, 7, 8, 12, -1, -1}}, locs)
}
