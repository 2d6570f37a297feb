package graph

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEncodeStringsAsJSON: properties of plain strings are encoded without
// reflection, byte for byte as the general encoding writes them, and every
// string JSON would escape goes the general way.
func TestEncodeStringsAsJSON(t *testing.T) {
	for _, props := range []map[string]any{
		{"name": "Ada Lovelace"},
		{"name": "Karin Søndergaard", "role": "lead", "a": ""},
		{"z": "1", "y": "2", "x": "3", "émoji": "✓ 🚀"},
		{"name": "O'Neill", "del": "\x7f"},
	} {
		got, ok := encodeStrings(props)
		require.True(t, ok, "%v", props)
		want, err := encodeTagged(props)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, s := range []string{`say "hi"`, `back\slash`, "tab\there", "line\nbreak", "nul\x00", "<b>", "a > b", "R&D",
		"sep\u2028", "para\u2029", "bad\xffutf8", "cut\xe2\x82"} {
		for _, props := range []map[string]any{{"name": s}, {s: "value"}} {
			_, ok := encodeStrings(props)
			assert.False(t, ok, "%q must take the general encoding", s)
			got, err := EncodeProperties(props)
			require.NoError(t, err)
			want, err := encodeTagged(props)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		}
	}
	for _, props := range []map[string]any{{"n": int64(3)}, {"name": "x", "ok": true}, {"gone": nil}, {"l": []any{"a"}}} {
		_, ok := encodeStrings(props)
		assert.False(t, ok, "%v is not all strings", props)
	}
}

// FuzzEncodeStrings checks the fast encoding against the general one.
func FuzzEncodeStrings(f *testing.F) {
	for _, s := range []string{"Ada", "Søndergaard", `"`, "<", "\u2028", "\xff", ""} {
		f.Add("name", s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		props := map[string]any{k: v, "name": "Ada"}
		got, ok := encodeStrings(props)
		if !ok {
			return
		}
		want, err := encodeTagged(props)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("encodeStrings(%q) = %s, want %s", props, got, want)
		}
	})
}
