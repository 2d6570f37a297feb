package corpusgen

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/services/parser"
)

// The PDF renderer's pages read back, through the parser, as the text it
// was given: wrapped lines, letters beyond windows-1252, table rows and
// pages.
func TestPDFRendererReadsBack(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	p := newPDFRenderer(w)
	p.heading(1, "Steering committee (minutes)")
	long := strings.Repeat("Łukasz Wróbel manages PRJ-1042 and Zoë Ångström reviews it. ", 4)
	p.para(long)
	p.bullets([]string{"AACE-101 applies", `a \ backslash`})
	p.table([]string{"Project", "Manager"}, [][]string{{"PRJ-1042", "Łukasz Wróbel"}})
	for range pdfPageLines {
		p.line("filler")
	}
	p.para("Last page: Śmigły leads PRJ-2001.")
	require.NoError(t, p.close())
	assert.Greater(t, p.textBytes(), len(long))

	text, err := parser.ExtractText("minutes.pdf", buf.Bytes())
	require.NoError(t, err)
	lines := strings.Split(text, "\n")
	assert.Equal(t, "Steering committee (minutes)", lines[0])
	for _, l := range lines {
		assert.LessOrEqual(t, len([]rune(l)), pdfLineChars, l)
	}
	flat := strings.Join(strings.Fields(text), " ")
	assert.Contains(t, flat, strings.TrimSpace(long))
	assert.Contains(t, flat, "\u2022 AACE-101 applies \u2022 a \\ backslash")
	assert.Contains(t, text, "Project | Manager\nPRJ-1042 | Łukasz Wróbel")
	// Blocks read back as paragraphs, and pages apart like them.
	assert.Contains(t, text, "Steering committee (minutes)\n\nŁukasz Wróbel manages")
	assert.Contains(t, text, "\n\n\u2022 AACE-101 applies\n\n\u2022 a \\ backslash\n\n")
	i := strings.LastIndex(text, "\n\n")
	require.Positive(t, i, text)
	first, second := text[:i], text[i+2:]
	assert.Contains(t, first, "PRJ-1042 | Łukasz Wróbel")
	assert.True(t, strings.HasSuffix(second, "filler\nLast page: Śmigły leads PRJ-2001."), second)
}
