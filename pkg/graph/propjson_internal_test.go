package graph

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeFlatAsJSON: properties without lists are encoded without
// reflection, byte for byte as the general encoding writes them, whatever
// their strings hold.
func TestEncodeFlatAsJSON(t *testing.T) {
	strs := []string{"Ada Lovelace", "Karin Søndergaard", "", "O'Neill", "del\x7f", "✓ 🚀", `say "hi"`, `back\slash`,
		"tab\there", "line\nbreak\r\n", "nul\x00 bell\x07 bs\b ff\f", "<b>", "a > b", "R&D", "sep\u2028", "para\u2029",
		"bad\xffutf8", "cut\xe2\x82"}
	var cases []map[string]any
	for _, s := range strs {
		cases = append(cases, map[string]any{"name": s}, map[string]any{s: "value", "z": s})
	}
	cases = append(cases,
		map[string]any{"index": int64(3), "text": "Ada leads \"PRJ-1\".\nNext <line> & more."},
		map[string]any{"i": int64(-9007199254740993), "f": 2.5, "g": 1e21, "h": math.SmallestNonzeroFloat64, "t": true, "u": false},
		map[string]any{"gone": nil, "kept": "x"},
		map[string]any{"z": "1", "y": "2", "x": "3", "é": "4", "Z": "5", "": "6"},
	)
	for _, props := range cases {
		got, ok := encodeFlat(props)
		require.True(t, ok, "%q", props)
		want, err := encodeTagged(props)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%q", props)
	}
	_, ok := encodeFlat(map[string]any{"name": "x", "l": []any{"a"}})
	assert.False(t, ok, "lists take the general encoding")
}

// FuzzEncodeFlat checks the flat encoding against the general one.
func FuzzEncodeFlat(f *testing.F) {
	for _, s := range []string{"Ada", "Søndergaard", `"`, "<", "\u2028", "\xff", "\x00", ""} {
		f.Add("name", s, int64(1), 1.5, true)
	}
	f.Fuzz(func(t *testing.T, k, v string, i int64, x float64, b bool) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return // not a property value (NormalizeProperties refuses them)
		}
		props := map[string]any{k: v, "i" + k: i, "f" + k: x, "b" + k: b, "n" + k: nil}
		got, ok := encodeFlat(props)
		if !ok {
			t.Fatalf("encodeFlat(%q) refused", props)
		}
		want, err := encodeTagged(props)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("encodeFlat(%q) = %s, want %s", props, got, want)
		}
	})
}
