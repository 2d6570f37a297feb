package parser

import (
	"strings"
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

// isQuotedLine reports whether a line starts, after spaces and tabs, with
// a quote marker.
func isQuotedLine(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

func FuzzUnquoteMail(f *testing.F) {
	f.Add("Thanks, noted.\n\n> On Tuesday Chidi wrote:\n> Bruno\n> Matsumoto leads PRJ-5833.\n>\n> Regards")
	f.Add("> Agreed.\n> > Aisha\n> > manages PRJ-4355\n>> from May.\nOK")
	f.Add("Progress\n> 50% done\nnext\n>a\n>\t> b\n \t>  c\n>")
	f.Add("a > b\nc > d")
	f.Add(">\n>\n\n> x\r\n> y\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		got := unquoteMail(in)
		if !strings.Contains(in, ">") {
			if got != in {
				t.Fatalf("text without '>' changed: %q -> %q", in, got)
			}
			return
		}
		lines := strings.Split(in, "\n")
		// want: each input line as it must read, a quoted line of a block
		// of two or more without its markers.
		var want []string
		for i, l := range lines {
			inBlock := isQuotedLine(l) && (i > 0 && isQuotedLine(lines[i-1]) || i+1 < len(lines) && isQuotedLine(lines[i+1]))
			if inBlock {
				prefix := len(l) - len(strings.TrimLeft(l, "> \t"))
				l = strings.TrimPrefix(l[strings.LastIndexByte(l[:prefix], '>')+1:], " ")
				if strings.HasPrefix(l, ">") {
					t.Fatalf("reference stripping left a marker: %q", l)
				}
			}
			want = append(want, l)
		}
		// The output is the input's lines, each as it must read, with
		// empty lines added between paragraphs only.
		out := strings.Split(got, "\n")
		j := 0
		for i, w := range want {
			for j < len(out) && out[j] != w && out[j] == "" {
				j++
			}
			if j == len(out) || out[j] != w {
				t.Fatalf("input line %d %q: want %q in the output, got %q (input %q)", i+1, lines[i], w, got, in)
			}
			j++
		}
		if j != len(out) {
			t.Fatalf("extra output lines after the input's: %q (input %q)", out[j:], in)
		}
		if again := unquoteMail(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
	})
}
