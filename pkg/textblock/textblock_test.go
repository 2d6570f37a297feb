package textblock_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/docgraph/docgraph/pkg/textblock"
)

func TestIsStructural(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{"", false},
		{"   ", false},
		{"Lars Çelik manages", false},
		{"- item", true},
		{"  * item", true},
		{"+ item", true},
		{"-dash", false},
		{"• bullet", true},
		{"# Heading", true},
		{"> quote", true},
		{"| a | b |", true},
		{"a | b", true},
		{"a\tb", true},
		{"12. item", true},
		{"3) item", true},
		{"12.5 percent", false},
		{"2024. The year", true},
		{"12345. too long a number", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, textblock.IsStructural(tt.line), "%q", tt.line)
	}
}

func TestLineAt(t *testing.T) {
	assert.Equal(t, "second", textblock.LineAt("first\nsecond\nthird", 6))
	assert.Equal(t, "third", textblock.LineAt("first\nsecond\nthird", 13))
	assert.Equal(t, "", textblock.LineAt("first\n", 6))
}

func TestEndsSentence(t *testing.T) {
	tests := []struct {
		text string
		want bool
		rest string // text after the run
	}{
		{"wrapped\nline", false, "line"},
		{"wrapped \n\t line", false, "line"},
		{"para\n\nnext", true, "next"},
		{"para\n \t\n  next", true, "next"},
		{"text\n- item", true, "- item"},
		{"# Heading\ntext", true, "text"},
		{"- item\n  wrapped", false, "wrapped"},
		{"12. item\n\twrapped", false, "wrapped"},
		{"  - nested item\n    wrapped", false, "wrapped"},
		{"- item\nat the margin", true, "at the margin"},
		{"  - nested item\n  as deep as the marker", true, "as deep as the marker"},
		{"- item\n  - next item", true, "- next item"},
		{"- item\n  | cell |", true, "| cell |"},
		{"# Heading\n  indented", true, "indented"},
		{"last\n", false, ""},
	}
	for _, tt := range tests {
		i := strings.IndexByte(tt.text, '\n')
		ends, end, next := textblock.EndsSentence(tt.text, 0, i)
		assert.Equal(t, tt.want, ends, "%q", tt.text)
		assert.Equal(t, tt.rest, tt.text[end:], "%q", tt.text)
		assert.Equal(t, strings.LastIndexByte(tt.text[:end], '\n')+1, next, "%q", tt.text)
	}
	_, lines, _ := textblock.SpaceRun("a\n\n\nb", 1)
	assert.Equal(t, 3, lines)
}
