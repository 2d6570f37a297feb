package parser

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/config"
)

func TestChunkerSplit(t *testing.T) {
	tests := []struct {
		name string
		c    Chunker
		give string
		want []string
	}{
		{name: "empty", c: Chunker{}, give: "", want: nil},
		{name: "only whitespace", c: Chunker{}, give: " \n\n\t ", want: nil},
		{name: "short text is one trimmed chunk", c: Chunker{}, give: "\n  Lina Farrell manages PRJ-5833.  \n", want: []string{"Lina Farrell manages PRJ-5833."}},
		{
			name: "breaks after whole sentences",
			c:    Chunker{Size: 30},
			give: "One two three four five. Six seven eight nine ten. Eleven twelve!",
			want: []string{"One two three four five.", "Six seven eight nine ten.", "Eleven twelve!"},
		},
		{
			name: "packs sentences up to the size",
			c:    Chunker{Size: 30},
			give: "A b c. D e f. G h i. J k l. M n o.",
			want: []string{"A b c. D e f. G h i. J k l.", "M n o."},
		},
		{
			name: "overlap repeats whole trailing sentences",
			c:    Chunker{Size: 30, Overlap: 14},
			give: "Aa bb cc. Dd ee ff. Gg hh ii. Jj kk ll.",
			want: []string{"Aa bb cc. Dd ee ff. Gg hh ii.", "Gg hh ii. Jj kk ll."},
		},
		{
			name: "overlap never cuts a sentence",
			c:    Chunker{Size: 40, Overlap: 10},
			give: "First sentence is long. Second sentence is long too. Third.",
			want: []string{"First sentence is long.", "Second sentence is long too. Third."},
		},
		{
			name: "overlap never repeats a whole chunk",
			c:    Chunker{Size: 20, Overlap: 78},
			give: "000000000! 0000000000",
			want: []string{"000000000!", "0000000000"},
		},
		{
			name: "prefers a paragraph break in the second half",
			c:    Chunker{Size: 60},
			give: "Para one first. Para one second.\n\nPara two first. Para two second.",
			want: []string{"Para one first. Para one second.", "Para two first. Para two second."},
		},
		{
			name: "ignores a paragraph break in the first half",
			c:    Chunker{Size: 60},
			give: "Short.\n\nThe next paragraph goes on. And on and on. And then some more.",
			want: []string{"Short.\n\nThe next paragraph goes on. And on and on.", "And then some more."},
		},
		{
			name: "keeps a heading with its paragraph",
			c:    Chunker{Size: 50},
			give: "Intro sentence is here.\n\nHeading\n\nBody text of the section.",
			want: []string{"Intro sentence is here.", "Heading\n\nBody text of the section."},
		},
		{
			name: "numbered heading stays whole",
			c:    Chunker{Size: 30},
			give: "Intro sentence is here.\n\n2. Project updates\n\nBody of the section.",
			want: []string{"Intro sentence is here.", "2. Project updates", "Body of the section."},
		},
		{
			name: "abbreviations and initials do not end sentences",
			c:    Chunker{Size: 30},
			give: "Dr. Ann Lee manages J. R. Smith. Next one.",
			want: []string{"Dr. Ann Lee manages J. R. Smith.", "Next one."},
		},
		{
			name: "closing quotes stay with the sentence",
			c:    Chunker{Size: 20},
			give: `He said "done." Then (left.) Bye`,
			want: []string{`He said "done."`, `Then (left.) Bye`},
		},
		{
			name: "a non-breaking space after a period ends a sentence",
			c:    Chunker{Size: 16},
			give: "First one.\u00a0Second one.",
			want: []string{"First one.", "Second one."},
		},
		{
			name: "decimals do not end sentences",
			c:    Chunker{Size: 20},
			give: "The index rose to 1.02 today. Ok.",
			want: []string{"The index rose to 1.02 today.", "Ok."},
		},
		{
			name: "list items and table rows are units",
			c:    Chunker{Size: 30},
			give: "- first item here\n- second item here\n| a | b |\n| c | d |",
			want: []string{"- first item here", "- second item here\n| a | b |", "| c | d |"},
		},
		{
			name: "wrapped prose lines are not units",
			c:    Chunker{Size: 40},
			give: "Lina\nFarrell manages the long\nproject. Short.",
			want: []string{"Lina\nFarrell manages the long\nproject.", "Short."},
		},
		{
			name: "sentence up to the hard limit stays whole",
			c:    Chunker{Size: 20},
			give: "Tiny. This sentence is thirty-six long. End.",
			want: []string{"Tiny.", "This sentence is thirty-six long.", "End."},
		},
		{
			name: "over-long sentence is cut at whitespace with overlap",
			c:    Chunker{Size: 16, Overlap: 8},
			give: "aaaa bbbb cccc dddd eeee ffff gggg hhhh iiii",
			want: []string{"aaaa bbbb cccc", "cccc dddd eeee ffff", "ffff gggg hhhh iiii"},
		},
		{
			name: "over-long sentence prefers line breaks",
			c:    Chunker{Size: 20},
			give: "aaaaaaa bbbbbbb\ncccccccccccc ddddddd eeeeeeee ffff",
			want: []string{"aaaaaaa bbbbbbb", "cccccccccccc ddddddd", "eeeeeeee ffff"},
		},
		{
			name: "no whitespace is cut at rune boundaries",
			c:    Chunker{Size: 16},
			give: strings.Repeat("é", 20),
			want: []string{strings.Repeat("é", 8), strings.Repeat("é", 8), strings.Repeat("é", 4)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.c.Split(tt.give)
			assert.Equal(t, tt.want, got)
			checkChunks(t, tt.c, tt.give)
		})
	}
}

func TestChunkerLimits(t *testing.T) {
	tests := []struct {
		name                      string
		c                         Chunker
		wantSize, wantHard, wantO int
	}{
		{name: "zero value", c: Chunker{}, wantSize: DefaultChunkSize, wantHard: 2 * DefaultChunkSize, wantO: 0},
		{name: "defaults", c: Chunker{Size: DefaultChunkSize, Overlap: DefaultChunkOverlap}, wantSize: 4000, wantHard: 8000, wantO: 200},
		{name: "tiny size raised", c: Chunker{Size: 3, Overlap: 1}, wantSize: MinChunkSize, wantHard: 2 * MinChunkSize, wantO: 1},
		{name: "negative size", c: Chunker{Size: -5}, wantSize: DefaultChunkSize, wantHard: 2 * DefaultChunkSize},
		{name: "large overlap kept", c: Chunker{Size: 100, Overlap: 80}, wantSize: 100, wantHard: 200, wantO: 80},
		{name: "overlap capped below size", c: Chunker{Size: 100, Overlap: 500}, wantSize: 100, wantHard: 200, wantO: 99},
		{name: "negative overlap", c: Chunker{Size: 100, Overlap: -1}, wantSize: 100, wantHard: 200, wantO: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, hard, overlap := tt.c.limits()
			assert.Equal(t, tt.wantSize, size)
			assert.Equal(t, tt.wantHard, hard)
			assert.Equal(t, tt.wantO, overlap)
		})
	}
}

// The configuration's chunk defaults are the parser's own.
func TestChunkDefaultsMatchTheConfiguration(t *testing.T) {
	d := config.Default().Parser
	assert.Equal(t, DefaultChunkSize, d.ChunkSize)
	assert.Equal(t, DefaultChunkOverlap, d.ChunkOverlap)
}

// TestChunkerHugeSingleLine splits the bad corpus's 5 MiB single-line text
// and checks that every sentence lies wholly inside some chunk.
func TestChunkerHugeSingleLine(t *testing.T) {
	text, err := ExtractText("huge-single-line.txt", corpusFile(t, "bad/input/huge-single-line.txt"))
	require.NoError(t, err)
	require.Greater(t, len(text), 5<<20-10)
	c := Chunker{Size: DefaultChunkSize, Overlap: DefaultChunkOverlap}
	spans := checkChunks(t, c, text)
	require.Greater(t, len(spans), (5<<20)/DefaultChunkSize)

	// Sentences are separated by ". " on the one line.
	j, sentences := 0, 0
	for start := 0; start < len(text); {
		end := strings.Index(text[start:], ". ")
		if end < 0 {
			end = len(text)
		} else {
			end += start + 1 // keep the period
		}
		for j < len(spans) && spans[j].end < end {
			j++
		}
		require.Less(t, j, len(spans), "sentence at %d not in any chunk", start)
		// spans[j] is the first chunk reaching the sentence's end; an
		// earlier chunk cannot contain it, a later one starts later.
		assert.LessOrEqual(t, spans[j].start, start, "sentence %q at %d is cut", text[start:end], start)
		sentences++
		start = end + 1
	}
	assert.Greater(t, sentences, 40000)

	chunks := c.Split(text)
	for _, s := range []string{
		"PRJ-4489 is managed by Karin dos Santos until the handover to operations.",
	} {
		assert.True(t, anyMatch(chunks, func(c string) bool { return strings.Contains(c, s) }), "%q not whole in any chunk", s)
	}
	for _, trigger := range []string{" manages ", " is managed by ", " leads ", " is the project manager for "} {
		for i := 0; ; {
			k := strings.Index(text[i:], trigger)
			if k < 0 {
				break
			}
			k += i
			s := sentenceAround(text, k)
			assert.True(t, anyMatch(chunks, func(c string) bool { return strings.Contains(c, s) }), "%q not whole in any chunk", s)
			i = k + len(trigger)
		}
	}
}

// sentenceAround returns the ". "-separated sentence containing text[i].
func sentenceAround(text string, i int) string {
	start := strings.LastIndex(text[:i], ". ") + 2
	if start < 2 {
		start = 0
	}
	end := strings.Index(text[i:], ". ")
	if end < 0 {
		return text[start:]
	}
	return text[start : i+end+1]
}

func TestChunkerDeterministic(t *testing.T) {
	text := string(corpusFile(t, "bad/input/huge-single-line.txt"))[:200000] + "\n\n" +
		string(corpusFile(t, "sample/input/minutes/2024-02-14-steering-committee.md"))
	c := Chunker{Size: 500, Overlap: 100}
	first := c.Split(text)
	for range 3 {
		assert.Equal(t, first, c.Split(text))
	}
}

// checkChunks asserts the chunk invariants for text and returns the spans.
func checkChunks(t testing.TB, c Chunker, text string) []span {
	t.Helper()
	_, hard, _ := c.limits()
	spans := c.spans(text)
	chunks := c.Split(text)
	require.Len(t, chunks, len(spans))
	if strings.TrimSpace(text) == "" {
		require.Empty(t, spans)
		return spans
	}
	require.NotEmpty(t, spans)
	first, last := trimSpan(text, 0, len(text))
	require.Equal(t, first, spans[0].start, "first chunk must start at the text")
	require.Equal(t, last, spans[len(spans)-1].end, "last chunk must end at the end of the text")
	valid := utf8.ValidString(text)
	for i, s := range spans {
		require.True(t, 0 <= s.start && s.start < s.end && s.end <= len(text), "chunk %d: bad span %v", i, s)
		chunk := text[s.start:s.end]
		require.Equal(t, chunk, chunks[i])
		require.LessOrEqual(t, len(chunk), hard, "chunk %d longer than the hard limit", i)
		a, b := trimSpan(text, s.start, s.end)
		require.Equal(t, [2]int{s.start, s.end}, [2]int{a, b}, "chunk %d has surrounding whitespace", i)
		if valid {
			require.True(t, utf8.ValidString(chunk), "chunk %d is not valid UTF-8", i)
		}
		if i == 0 {
			continue
		}
		prev := spans[i-1]
		require.Greater(t, s.start, prev.start, "chunk %d does not advance", i)
		require.Greater(t, s.end, prev.end, "chunk %d does not advance", i)
		if s.start > prev.end {
			require.Empty(t, strings.TrimSpace(text[prev.end:s.start]), "text between chunks %d and %d is lost", i-1, i)
		}
	}
	return spans
}
