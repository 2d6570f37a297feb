package parser

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expected is the part of a corpus's expected.json these tests use.
type expected struct {
	Documents []struct {
		Path string `json:"path"`
	} `json:"documents"`
	Nodes []struct {
		Label      string         `json:"label"`
		Key        string         `json:"key"`
		Properties map[string]any `json:"properties"`
	} `json:"nodes"`
	Mentions []struct {
		Document string `json:"document"`
		Label    string `json:"label"`
		Key      string `json:"key"`
	} `json:"mentions"`
	Relationships []struct {
		Source   string `json:"source"`
		Evidence []struct {
			File     string `json:"file"`
			Sentence string `json:"sentence"`
		} `json:"evidence"`
	} `json:"relationships"`
	NearMisses []struct {
		Document string `json:"document"`
		Kind     string `json:"kind"`
		MustNot  struct {
			Mentions []struct {
				Key string `json:"key"`
			} `json:"mentions"`
		} `json:"must_not"`
	} `json:"near_misses"`
}

func loadExpected(t *testing.T, corpus string) expected {
	t.Helper()
	var e expected
	require.NoError(t, json.Unmarshal(corpusFile(t, corpus+"/expected.json"), &e))
	require.NotEmpty(t, e.Documents)
	return e
}

// normalise lower-cases s and collapses whitespace, as mention keys are.
func normalise(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// mentionMatcher returns a test for normalised text that reports whether
// the mention occurs in it. Literal checks come first: regular expressions
// over megabytes of chunks are slow under the race detector.
func mentionMatcher(e expected, label, key string) func(string) bool {
	switch label {
	case "Procedure":
		prefix, number, _ := strings.Cut(key, "-")
		re := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(prefix) + `[- ]?` + number + `\b`)
		lower := strings.ToLower(prefix)
		return func(s string) bool { return strings.Contains(s, lower) && re.MatchString(s) }
	case "Project":
		alts := []string{strings.ToLower(key)}
		for _, n := range e.Nodes {
			if n.Label == "Project" && n.Key == key {
				if name, ok := n.Properties["name"].(string); ok {
					alts = append(alts, strings.ToLower(name))
				}
			}
		}
		return func(s string) bool {
			for _, a := range alts {
				if strings.Contains(s, a) {
					return true
				}
			}
			return false
		}
	}
	return func(s string) bool { return strings.Contains(s, key) }
}

// TestCorpusDocuments extracts and chunks every document of the sample and
// bad corpora and checks that every expected mention is in the text and in
// at least one chunk, that every management sentence lies wholly inside a
// chunk, and that hidden HTML content is absent.
func TestCorpusDocuments(t *testing.T) {
	chunkers := []Chunker{{}, {Size: 200, Overlap: 50}, {Size: DefaultChunkSize, Overlap: DefaultChunkOverlap}}
	for _, corpus := range []string{"sample", "bad"} {
		e := loadExpected(t, corpus)
		for _, doc := range e.Documents {
			t.Run(corpus+"/"+doc.Path, func(t *testing.T) {
				text, err := ExtractText(doc.Path, corpusFile(t, corpus+"/input/"+doc.Path))
				require.NoError(t, err)
				norm := normalise(text)
				var chunks [][]string
				for _, c := range chunkers {
					if len(text) > 1<<20 && c.Size < DefaultChunkSize {
						continue // TestChunkerHugeSingleLine covers large texts
					}
					var cs []string
					for _, s := range c.Split(text) {
						cs = append(cs, normalise(s))
					}
					require.NotEmpty(t, cs)
					chunks = append(chunks, cs)
				}
				n := 0
				for _, m := range e.Mentions {
					if m.Document != doc.Path {
						continue
					}
					n++
					match := mentionMatcher(e, m.Label, m.Key)
					assert.True(t, match(norm), "mention %s %s not in the text", m.Label, m.Key)
					for i, cs := range chunks {
						assert.True(t, anyMatch(cs, match), "chunker %d: mention %s %s in no chunk", i, m.Label, m.Key)
					}
				}
				assert.Positive(t, n, "no mentions expected for %s", doc.Path)
				for _, r := range e.Relationships {
					for _, ev := range r.Evidence {
						if r.Source != "text" || ev.File != doc.Path {
							continue
						}
						sentence := normalise(ev.Sentence)
						assert.Contains(t, norm, sentence)
						for i, cs := range chunks {
							assert.True(t, anyMatch(cs, func(c string) bool { return strings.Contains(c, sentence) }),
								"chunker %d: sentence %q not whole in any chunk", i, ev.Sentence)
						}
					}
				}
				for _, nm := range e.NearMisses {
					if nm.Document != doc.Path || nm.Kind != "hidden_html" {
						continue
					}
					require.NotEmpty(t, nm.MustNot.Mentions)
					for _, m := range nm.MustNot.Mentions {
						assert.NotContains(t, norm, strings.ToLower(m.Key), "hidden content leaked")
					}
				}
			})
		}
	}
}

func anyMatch(chunks []string, ok func(string) bool) bool {
	for _, c := range chunks {
		if ok(c) {
			return true
		}
	}
	return false
}

// TestCorpusHiddenHTML names the hidden strings of the sample corpus's HTML
// pages explicitly, in case expected.json changes shape.
func TestCorpusHiddenHTML(t *testing.T) {
	tests := []struct {
		file    string
		want    []string
		wantNot []string
	}{
		{
			file:    "procedures/schedule-risk-analysis.html",
			want:    []string{"Contact: Connor Ghosh.", "Sean Eze manages the change log.", "iso-21500 – quality management requirements"},
			wantNot: []string{"Chidi Vasquez", "lastReviewer", "PRJ-9514", "font-family", "template copied"},
		},
		{
			file: "risks/risk-register-2024-02-21.html",
			want: []string{
				"This register covers PRJ-7770 (the Ironbridge Solar Array Replacement project)",
				"R-035 | Scope growth from late stakeholder requests | PRJ-7770 | Lina Farrell | High",
				"With immediate effect, Irene Çelik manages PRJ-7770 until the handover to operations.",
			},
			wantNot: []string{"Amir van der Berg", "PRJ-9597", "intranet.example.com"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text, err := ExtractText(tt.file, corpusFile(t, "sample/input/"+tt.file))
			require.NoError(t, err)
			for _, w := range tt.want {
				assert.Contains(t, text, w)
			}
			for _, w := range tt.wantNot {
				assert.NotContains(t, text, w)
			}
		})
	}
}

// TestCorpusDocxRuns checks that names split across runs come out whole.
func TestCorpusDocxRuns(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{
			file: "sample/input/minutes/2024-02-21-controls-meeting.docx",
			want: []string{
				"Controls Meeting Minutes – 21 February 2024",
				"Attendees: Julia Łukasiewicz, Amir van der Berg, Paul Saito",
				"Apologies: Thảo Novak.",
				"Lina Farrell is the project manager for PRJ-5833.",
				"The templates are PMI-style",
				"1 | Reconcile the commitments report | Ines Foster | 2024-02-28",
			},
		},
		{
			file: "sample/input/procedures/change-control.docx",
			want: []string{"Contact: Aisha O'Connor.", "This note explains how ASME-8 is applied across the portfolio."},
		},
		{
			file: "bad/input/minutes/2024-01-27-controls-meeting.docx",
			want: []string{"For the remainder of the year, PRJ-7458 is managed by Karin dos Santos."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			text, err := ExtractText(tt.file, corpusFile(t, tt.file))
			require.NoError(t, err)
			for _, w := range tt.want {
				assert.Contains(t, text, w)
			}
			for _, line := range strings.Split(text, "\n") {
				assert.Equal(t, strings.TrimSpace(line), line, fmt.Sprintf("line %q has surrounding whitespace", line))
			}
		})
	}
}
