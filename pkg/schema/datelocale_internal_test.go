package schema

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
