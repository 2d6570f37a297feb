package parser

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/responses"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A PDF's text has a blank line where the layout starts a paragraph (a
// heading, paragraph spacing, a list item, a table row), and none between
// the lines of a wrapped paragraph or list item.
func TestExtractPDFParagraphs(t *testing.T) {
	text := extractFixturePDF(t, "paragraphs.pdf")
	want := []string{
		"Project PRJ-1042",
		"Ada Quinlan leads the review of PRJ-2001 for the steering committee, which meets every second\n" +
			"month to decide on the budget, the schedule and the staffing of the delivery organisation.",
		"The review found that the estimate follows AACE-101 and that ISO 21500 applies to the whole\n" +
			"portfolio; the committee accepted both findings at its last meeting.",
		"• Nora Bishop owns the schedule",
		"• Omar Haddad owns the budget and reports on it to the steering committee at each of its\n" +
			"meetings, with the forecast for the rest of the year",
		"• Zoe Park owns the staffing plan",
		"Project Manager Status",
		"PRJ-1042 Ada Quinlan green",
		"PRJ-2001 Omar Haddad amber",
	}
	assert.Equal(t, want, strings.Split(strings.TrimSpace(text), "\n\n"))
}

// A heading without a full stop is a sentence of its own, not the start of
// the next paragraph's first sentence, so that the people named there are
// not related to the heading's project.
func TestExtractPDFHeadingApart(t *testing.T) {
	text := extractFixturePDF(t, "paragraphs.pdf")
	var sentences []string
	for _, u := range segment(text, DefaultChunkSize, 2*DefaultChunkSize) {
		sentences = append(sentences, text[u.start:u.end])
	}
	require.NotEmpty(t, sentences)
	assert.Equal(t, "Project PRJ-1042", sentences[0])
	require.Greater(t, len(sentences), 1)
	assert.True(t, strings.HasPrefix(sentences[1], "Ada Quinlan leads the review of PRJ-2001"), sentences[1])
	for _, s := range sentences[1:] {
		if strings.Contains(s, "Ada Quinlan leads") {
			assert.NotContains(t, s, "PRJ-1042")
		}
	}
}

// noLayout is an engine instance that gives no page's text with positions.
type noLayout struct{ pdfium.Pdfium }

func (noLayout) FPDFText_LoadPage(*requests.FPDFText_LoadPage) (*responses.FPDFText_LoadPage, error) {
	return nil, errors.New("no text page")
}

// A page whose layout cannot be read keeps PDFium's plain text: the same
// lines, without blank lines between paragraphs.
func TestExtractPDFPlainTextFallback(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "extract", "minutes.pdf"))
	require.NoError(t, err)
	want, err := ExtractText("minutes.pdf", data)
	require.NoError(t, err)
	require.Contains(t, want, "\n\n")

	pool, err := sharedPDF.get(t.Context())
	require.NoError(t, err)
	inst, err := pool.GetInstanceWithContext(t.Context())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, inst.Close()) })
	got, err := pdfText(t.Context(), noLayout{inst}, data)
	require.NoError(t, err)
	assert.Equal(t, strings.ReplaceAll(want, "\n\n", "\n"), got)
}

func extractFixturePDF(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "pdf", name))
	require.NoError(t, err)
	text, err := ExtractText(name, data)
	require.NoError(t, err)
	return text
}

func TestPDFParagraphs(t *testing.T) {
	// body returns n lines of 10-point text from y down, lead apart.
	body := func(y, lead float64, texts ...string) []pdfSpan {
		var lines []pdfSpan
		for i, s := range texts {
			b := y - float64(i)*lead
			lines = append(lines, pdfSpan{pdfLine: pdfLine{text: s, baseline: b, end: b, size: 10}})
		}
		return lines
	}
	join := func(parts ...[]pdfSpan) []pdfSpan {
		var lines []pdfSpan
		for _, p := range parts {
			lines = append(lines, p...)
		}
		return lines
	}
	heading := pdfSpan{pdfLine: pdfLine{text: "Project PRJ-1042", baseline: 800, end: 800, size: 14}}
	joined := body(788, 12, "a word broken at the line's end and", "d", "e")
	joined[0].end = 776 // PDFium joined two lines
	joined[1].baseline, joined[1].end = 764, 764
	joined[2].baseline, joined[2].end = 752, 752
	tests := []struct {
		name string
		give []pdfSpan
		want string
	}{
		{"evenly spaced lines", body(800, 12, "a", "b", "c", "d"), "a\nb\nc\nd"},
		{"paragraph spacing", join(body(800, 12, "a", "b", "c"), body(758, 12, "d", "e")), "a\nb\nc\n\nd\ne"},
		{"a blank line", join(body(800, 12, "a", "b"), body(764, 12, "c", "d")), "a\nb\n\nc\nd"},
		{"double spacing", body(800, 24, "a", "b", "c", "d"), "a\nb\nc\nd"},
		{"loose spacing under the threshold", join(body(800, 12, "a", "b", "c"), body(761, 12, "d")), "a\nb\nc\nd"},
		{"a few lines", join(body(800, 12, "a", "b"), body(770, 12, "c")), "a\nb\n\nc"},
		{"heading", join([]pdfSpan{heading}, body(786, 12, "a", "b")), "Project PRJ-1042\n\na\nb"},
		{"bullets", body(800, 12, "• a", "b", "• c", "\uF0B7 d"), "• a\nb\n\n• c\n\n\uF0B7 d"},
		{"next column", join(body(100, 12, "a", "b"), body(800, 12, "c", "d")), "a\nb\nc\nd"},
		{"a line joined by PDFium", joined, "a word broken at the line's end and\nd\ne"},
		{
			"a line without letters",
			join(body(800, 12, "a", "b"), []pdfSpan{{pdfLine: pdfLine{text: "--"}}}, body(764, 12, "c", "d")),
			"a\nb\n--\n\nc\nd",
		},
		{
			"close lines do not set the usual advance",
			join(body(800, 5, "x", "y", "z"), body(760, 12, "a", "b", "c", "d")),
			"x\ny\nz\n\na\nb\nc\nd",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, pdfParagraphs(tt.give))
		})
	}
}

func TestPDFSplitLines(t *testing.T) {
	lines := pdfSplitLines("• Ab 1\r\n--\r\n\U0001F600 x\x02y")
	require.Len(t, lines, 3)
	assert.Equal(t, pdfSpan{pdfLine: pdfLine{text: "• Ab 1"}, first: 2, last: 5}, lines[0])
	assert.Equal(t, pdfSpan{pdfLine: pdfLine{text: "--"}, first: -1, last: -1}, lines[1])
	// A character beyond the BMP counts as two, as in UTF-16.
	assert.Equal(t, pdfSpan{pdfLine: pdfLine{text: "\U0001F600 x\x02y"}, first: 15, last: 17}, lines[2])
}
