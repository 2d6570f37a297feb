package parser

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnquoteMail(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no quote", "Bruno\nMatsumoto leads PRJ-5833.", "Bruno\nMatsumoto leads PRJ-5833."},
		{"a quoted reply", "Thanks, noted.\n\n> On Tuesday Chidi wrote:\n> Bruno\n> Matsumoto leads PRJ-5833.\n>\n> Regards",
			"Thanks, noted.\n\nOn Tuesday Chidi wrote:\nBruno\nMatsumoto leads PRJ-5833.\n\nRegards"},
		{"the reply right below the quote", "> Connor Ghosh is\n> the project manager for PRJ-6746.\nAgreed.",
			"Connor Ghosh is\nthe project manager for PRJ-6746.\n\nAgreed."},
		{"nested levels are paragraphs", "> Agreed.\n> > Aisha\n> > manages PRJ-4355\n>> from May.",
			"Agreed.\n\nAisha\nmanages PRJ-4355\nfrom May."},
		{"markers without spaces", ">Aisha\n>manages PRJ-4355", "Aisha\nmanages PRJ-4355"},
		{"indent after the marker is kept", "> Items:\n>   - Aisha", "Items:\n  - Aisha"},
		{"a lone marked line is text", "Progress\n> 50% done\nnext", "Progress\n> 50% done\nnext"},
		{"greater-than inside a line", "a > b\nc > d", "a > b\nc > d"},
		{"CR-free empty input", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, unquoteMail(tt.in))
		})
	}
}

// A management sentence wrapped across the lines of a quoted message is
// found like one that is not quoted.
func TestExtractTextUnquotesMail(t *testing.T) {
	got, err := ExtractText("re-handover.txt", []byte("Thanks.\r\n\r\n> Going forward Bruno\r\n> Matsumoto leads PRJ-5833.\r\n"))
	assert.NoError(t, err)
	assert.Equal(t, "Thanks.\n\nGoing forward Bruno\nMatsumoto leads PRJ-5833.\n", got)

	got, err = ExtractText("quoted.csv", []byte("a\n> b\n> c\n"))
	assert.NoError(t, err)
	assert.Equal(t, "a\n> b\n> c\n", got, "a CSV read as text keeps its cells")
}
