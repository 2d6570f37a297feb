package extractor

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestReadable(t *testing.T) {
	tests := []struct {
		name, give, want string
	}{
		{"plain", "Nora Bishop leads PRJ-1000.", "Nora Bishop leads PRJ-1000."},
		{"space separators", "ISO\u00a021500, PMI\u202f14, a\u2009b, 1\u2007000", "ISO 21500, PMI 14, a b, 1 000"},
		{"hyphens and minus signs", "AACE\u2011101 Mary\u2010Kate \u22125 x\uFE63y PRJ\uFF0D1", "AACE-101 Mary-Kate -5 x-y PRJ-1"},
		{"dash between letter and digit", "AACE\u2013101, API\u2014580", "AACE-101, API-580"},
		{"other dashes kept", "2019\u20132024, Bishop\u2013Çelik, a \u2014 b, 7\u2013A", "2019\u20132024, Bishop\u2013Çelik, a \u2014 b, 7\u2013A"},
		{"invisible characters dropped", "No\u00adra\u200b \u200dBi\u2060shop\ufeff \u200e\u202a\u2066x\u2069\u202c\u200f", "Nora Bishop x"},
		{"zero-width non-joiner kept", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"},
		{"apostrophe inside a word", "O\u2019Connor, Bishop\u2019s, O\u02bcConnor, 1990\u2019s", "O'Connor, Bishop's, O'Connor, 1990's"},
		{"closing quotation mark kept", "\u2018Nora\u2019 and \u2019tis", "\u2018Nora\u2019 and \u2019tis"},
		{"ligatures", "Gri\ufb03n and Ra\ufb00erty o\ufb00er a \ufb01ne \ufb02ow, \ufb04 \ufb05 \ufb06", "Griffin and Rafferty offer a fine flow, ffl st st"},
		{"NFC after a dropped character", "Mateo O\u00ad\u0308ztu\u0308rk", "Mateo Öztürk"},
		{"decomposed text", "Mateo O\u0308ztu\u0308rk", "Mateo Öztürk"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readable(tt.give))
		})
	}
}

func TestGazetteerNamesInTheirReadableForm(t *testing.T) {
	// Names as spreadsheets hold them, with the variants documents may or
	// may not repeat.
	x := newTestExtractor(t, []Entry{
		{Label: "Person", Key: "seán o’brien", Name: "Seán O’Brien"},
		{Label: "Person", Key: "nora bishop", Name: "Nora\u00a0Bishop"},
	})
	mentions, _ := x.Extract("Seán O'Brien, Seán O’Brien, Nora Bishop")
	assert.Equal(t, []string{"Person:seán o’brien", "Person:nora bishop"}, refs(mentions))
}

// A name a PDF writes with a ligature is the name: "Griﬃn" finds Griffin,
// and a name the spreadsheet holds with one finds the plain spelling.
func TestNamesThroughLigatures(t *testing.T) {
	x := newTestExtractor(t, []Entry{
		{Label: "Person", Key: "nora griffin", Name: "Nora Griffin"},
		{Label: "Person", Key: "fiona stafford", Name: "Fiona Sta\ufb00ord"},
	})
	mentions, _ := x.Extract("Nora Gri\ufb03n met Fiona Stafford.")
	assert.Equal(t, []string{"Person:nora griffin", "Person:fiona stafford"}, refs(mentions))
}

func TestVariantLeadCoversEveryVariant(t *testing.T) {
	var buf [utf8.UTFMax]byte
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if isVariant(r) {
			utf8.EncodeRune(buf[:], r)
			assert.True(t, variantLead[buf[0]], "U+%04X", r)
		}
	}
}
