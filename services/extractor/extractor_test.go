package extractor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/schemas"
)

func defaultSchema(t testing.TB) *schema.Extraction {
	t.Helper()
	data, err := schemas.FS.ReadFile("extraction.yaml")
	require.NoError(t, err)
	s, err := schema.ParseExtraction(data)
	require.NoError(t, err)
	return s
}

func newTestExtractor(t testing.TB, entries []Entry) *Extractor {
	t.Helper()
	x, err := New(defaultSchema(t), NewGazetteer(entries))
	require.NoError(t, err)
	return x
}

// refs returns "Label:key" of each mention.
func refs(nodes []event.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Label+":"+n.Key)
	}
	return out
}

// relStrings returns "from -TYPE-> to | evidence" of each relationship.
func relStrings(rels []event.Relationship) []string {
	var out []string
	for _, r := range rels {
		out = append(out, fmt.Sprintf("%s -%s-> %s | %s", r.From.Key, r.Type, r.To.Key, r.Evidence))
	}
	return out
}

func TestNew(t *testing.T) {
	s := defaultSchema(t)
	g := NewGazetteer(nil)
	tests := []struct {
		name    string
		s       *schema.Extraction
		g       *Gazetteer
		wantErr string
	}{
		{"ok", s, g, ""},
		{"nil schema", nil, g, "nil schema"},
		{"nil gazetteer", s, nil, "nil gazetteer"},
		{"unvalidated pattern", &schema.Extraction{Entities: []schema.EntityType{{
			Label: "Code", Key: schema.KeyUpper, Source: schema.StringList{schema.SourcePattern},
			Patterns: []schema.Pattern{{Regex: "C-[0-9]+"}},
		}}}, g, "entities[0].patterns[0]: schema not validated"},
		{"unvalidated trigger", &schema.Extraction{Relationships: []schema.RelationshipType{{
			Type: "R", From: "A", To: "A", Triggers: []string{"{from} r {to}"},
		}}}, g, "relationship R: schema not validated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := New(tt.s, tt.g)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Nil(t, x)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, x)
		})
	}
}

func TestExtractMentions(t *testing.T) {
	x := newTestExtractor(t, testEntries())
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"procedure AACE-101", "See AACE-101.", []string{"Procedure:AACE-101"}},
		{"procedure AACE 101", "See AACE 101.", []string{"Procedure:AACE-101"}},
		{"procedure aace-101", "See aace-101.", []string{"Procedure:AACE-101"}},
		{"procedure aace 101", "See aace 101.", []string{"Procedure:AACE-101"}},
		{"procedure AACE101", "See AACE101.", []string{"Procedure:AACE-101"}},
		{"procedure Aace-101", "See Aace-101.", []string{"Procedure:AACE-101"}},
		{"procedure ISO 21500", "Per ISO 21500, and", []string{"Procedure:ISO-21500"}},
		{"procedure prefixes", "PMI 14, IEC-61508, ASME8, api 580 and Iso-9001:2015", []string{
			"Procedure:PMI-14", "Procedure:IEC-61508", "Procedure:ASME-8", "Procedure:API-580", "Procedure:ISO-9001",
		}},
		{"procedure in a list item", "- aace-17 – integrity", []string{"Procedure:AACE-17"}},
		{"procedure without number", "ISO standards, AACE guidance, the API was down", nil},
		{"procedure style word", "The templates are PMI-style.", nil},
		{"procedure unknown prefix", "BS 8888 and EN 1090", nil},
		{"procedure glued to a word", "XISO 9001 and ISO 9001X and ISO-9001a", nil},
		{"project code", "PRJ-1234 and (PRJ-5678).", []string{"Project:PRJ-1234", "Project:PRJ-5678"}},
		{"project code lower case", "prj-1234", []string{"Project:PRJ-1234"}},
		{"project code placeholder", "use the PRJ-XXXX placeholder", nil},
		{"project code too short", "PRJ-12, PRJ-7 and PRJ-88", nil},
		{"project code too long", "PRJ-12345", nil},
		{"project code glued", "XPRJ-1234 and PRJ-1234X", nil},
		{"project code in a link", "[PRJ-9597](https://intranet.example.com/projects/PRJ-9597)", []string{"Project:PRJ-9597"}},
		{"project name", "the Highcliff Ring Road Renewal project", []string{"Project:PRJ-8034"}},
		{"person possessive", "Lars Çelik's plan", []string{"Person:lars çelik"}},
		{"person full stop", "Apologies: Nora Bishop.", []string{"Person:nora bishop"}},
		{"unicode names", "Julia Łukasiewicz, Mateo Öztürk", []string{"Person:julia łukasiewicz", "Person:mateo öztürk"}},
		{"decomposed unicode", "Mateo O\u0308ztu\u0308rk", []string{"Person:mateo öztürk"}},
		{"team", "Titan Scheduling works on PRJ-4355.", []string{"Team:titan scheduling", "Project:PRJ-4355"}},
		{"dedup by label and key", "Nora Bishop, PRJ-8034, Nora Bishop, Highcliff Ring Road Renewal", []string{
			"Person:nora bishop", "Project:PRJ-8034",
		}},
		{"first name only", "Karin will circulate the notes", nil},
		{"unknown person", "Ambrose Quenby joined the call.", nil},
		{"empty", "", nil},
		// Typographic variants that word processors, web pages and PDFs write.
		{"no-break spaces in codes", "Per ISO\u00a021500, PMI\u202f14 and PRJ-1234.", []string{
			"Procedure:ISO-21500", "Procedure:PMI-14", "Project:PRJ-1234",
		}},
		{"hyphen variants in codes", "AACE\u2011101, ISO\u2010 9001 no, IEC\u221261508, PRJ\u20111234 and PRJ\uFF0D5678", []string{
			"Procedure:AACE-101", "Procedure:IEC-61508", "Project:PRJ-1234", "Project:PRJ-5678",
		}},
		{"dashes between prefix and number", "AACE\u2013101 and API\u2014580 and PRJ\u20131234", []string{
			"Procedure:AACE-101", "Procedure:API-580", "Project:PRJ-1234",
		}},
		{"soft hyphens inside words", "No\u00adra Bi\u00adshop and AA\u00adCE-17", []string{"Person:nora bishop", "Procedure:AACE-17"}},
		{"zero-width characters", "Nora\u200d Bishop, \ufeffLars Çelik\u200b, PRJ-\u20601234", []string{
			"Person:nora bishop", "Person:lars çelik", "Project:PRJ-1234",
		}},
		{"zero-width space glues words", "Nora\u200bBishop", nil},
		{"direction marks around a name", "\u200fNora Bishop\u200e and \u2068Lars Çelik\u2069", []string{"Person:nora bishop", "Person:lars çelik"}},
		{"curly apostrophe in a name", "Aisha O\u2019Connor and Aisha O\u02bcConnor", []string{"Person:aisha o'connor"}},
		{"non-breaking hyphen in a name", "Mary\u2011Kate Çelik", []string{"Person:mary-kate çelik"}},
		{"curly possessive", "Nora Bishop\u2019s plan", []string{"Person:nora bishop"}},
		{"dash joining two names", "the Nora Bishop\u2013Lars Çelik report", []string{"Person:nora bishop", "Person:lars çelik"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mentions, rels := x.Extract(tt.give)
			assert.Equal(t, tt.want, refs(mentions))
			assert.Empty(t, rels)
		})
	}
}

func TestExtractMentionProperties(t *testing.T) {
	x := newTestExtractor(t, append(testEntries(),
		Entry{Label: "Project", Key: "PRJ-1111", Name: "PRJ-1111"}, // a name that is also a code
		Entry{Label: "Unknown", Key: "u", Name: "Unknown Thing"},   // label not in the schema
		Entry{Label: "Person", Key: " Nora  BISHOP ", Name: "N. Bishop"},
	))
	mentions, _ := x.Extract("PRJ-8034 (Highcliff Ring Road Renewal) by Nora Bishop; AACE-17; PRJ-1111; Unknown Thing; N. Bishop")
	assert.Equal(t, []event.Node{
		{Label: "Project", Key: "PRJ-8034", Properties: map[string]any{"name": "Highcliff Ring Road Renewal"}},
		{Label: "Person", Key: "nora bishop", Properties: map[string]any{"name": "Nora Bishop"}},
		{Label: "Procedure", Key: "AACE-17"},
		{Label: "Project", Key: "PRJ-1111"},
	}, mentions)
}

func TestExtractRelationships(t *testing.T) {
	x := newTestExtractor(t, testEntries())
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"manages", "Since the re-baseline, Lars Çelik manages PRJ-5833.", []string{
			"lars çelik -MANAGES-> PRJ-5833 | Since the re-baseline, Lars Çelik manages PRJ-5833.",
		}},
		{"is managed by", "For the year, PRJ-9597 is managed by Nora Bishop and chairs the meeting.", []string{
			"nora bishop -MANAGES-> PRJ-9597 | For the year, PRJ-9597 is managed by Nora Bishop and chairs the meeting.",
		}},
		{"is the project manager for", "With immediate effect, Lars Çelik is the project manager for PRJ-9514.", []string{
			"lars çelik -MANAGES-> PRJ-9514 | With immediate effect, Lars Çelik is the project manager for PRJ-9514.",
		}},
		{"leads", "Irene Çelik leads PRJ-5833", []string{"irene çelik -MANAGES-> PRJ-5833 | Irene Çelik leads PRJ-5833"}},
		{"whitespace and case in the phrase", "PRJ-9597  IS\tmanaged By Nora Bishop.", []string{
			"nora bishop -MANAGES-> PRJ-9597 | PRJ-9597 IS managed By Nora Bishop.",
		}},
		{"markdown emphasis", "**Lars Çelik** manages **PRJ-5833**.", []string{
			"lars çelik -MANAGES-> PRJ-5833 | **Lars Çelik** manages **PRJ-5833**.",
		}},
		{"list item marker removed from evidence", "- PRJ-6746: Invoices were certified. Nora Bishop leads PRJ-6746.\n- 2. Lars Çelik leads PRJ-1000", []string{
			"nora bishop -MANAGES-> PRJ-6746 | Nora Bishop leads PRJ-6746.",
			"lars çelik -MANAGES-> PRJ-1000 | Lars Çelik leads PRJ-1000",
		}},
		{"numbered item and heading", "1. Nora Bishop leads PRJ-1000\n## Lars Çelik leads PRJ-2000", []string{
			"nora bishop -MANAGES-> PRJ-1000 | Nora Bishop leads PRJ-1000",
			"lars çelik -MANAGES-> PRJ-2000 | Lars Çelik leads PRJ-2000",
		}},
		{"quoted sentence", `She said "Nora Bishop leads PRJ-1000." Then left.`, []string{
			`nora bishop -MANAGES-> PRJ-1000 | She said "Nora Bishop leads PRJ-1000."`,
		}},
		{"one relationship per pair", "Nora Bishop leads PRJ-1000. Nora Bishop manages PRJ-1000.", []string{
			"nora bishop -MANAGES-> PRJ-1000 | Nora Bishop leads PRJ-1000.",
		}},
		{"two pairs in one sentence", "Nora Bishop leads PRJ-1000 and Lars Çelik leads PRJ-2000.", []string{
			"nora bishop -MANAGES-> PRJ-1000 | Nora Bishop leads PRJ-1000 and Lars Çelik leads PRJ-2000.",
			"lars çelik -MANAGES-> PRJ-2000 | Nora Bishop leads PRJ-1000 and Lars Çelik leads PRJ-2000.",
		}},
		{"abbreviation splits but adjacency holds", "Dr. Nora Bishop leads PRJ-1000.", []string{
			"nora bishop -MANAGES-> PRJ-1000 | Nora Bishop leads PRJ-1000.",
		}},
		{"negated", "Lars Çelik no longer manages PRJ-4355 after the reorganisation.", nil},
		{"does not manage", "Lars Çelik does not manage PRJ-4355.", nil},
		{"swapped direction", "PRJ-4355 manages Lars Çelik.", nil},
		{"passive with the wrong order", "Lars Çelik is managed by PRJ-4355.", nil},
		{"first name only", "Lars manages PRJ-4355.", nil},
		{"unknown person", "Desmond Vukovich manages PRJ-8034 on behalf of the joint venture.", nil},
		{"team leads project", "Titan Scheduling leads PRJ-9514 estimating support this quarter.", nil},
		{"cross sentence", "Lars Çelik manages the change log. PRJ-9687 is on hold pending funding.", nil},
		{"wrapped line", "The steering group noted that Lars Çelik manages\nPRJ-9687 from next week.", []string{"lars çelik -MANAGES-> PRJ-9687 | The steering group noted that Lars Çelik manages PRJ-9687 from next week."}},
		{"wrapped line, crlf and indent", "PRJ-9687 is managed by\r\n   Lars Çelik.", []string{"lars çelik -MANAGES-> PRJ-9687 | PRJ-9687 is managed by Lars Çelik."}},
		{"blank line between", "Lars Çelik manages\n\nPRJ-9687", nil},
		{"blank line with spaces", "Lars Çelik manages\n  \t\nPRJ-9687", nil},
		{"list items", "- Lars Çelik manages\n- PRJ-9687", nil},
		{"numbered list item", "Lars Çelik manages\n2. PRJ-9687", nil},
		{"heading", "# Lars Çelik manages\nPRJ-9687", nil},
		{"table cells", "| Lars Çelik | manages | PRJ-9687 |", nil},
		{"manages without entities", "The project manager reviewed the baseline and manages the change budget.", nil},
		{"manages without project", "Lars Çelik manages the document control inbox.", nil},
		{"managed by non-person", "PRJ-9687 is managed by the PMO until a manager is appointed.", nil},
		{"project name is not a code", "Lars Çelik manages Highcliff Ring Road Renewal.", nil},
		{"no trigger", "Nora Bishop and Lars Çelik reviewed PRJ-7770 on site.", nil},
		{"works on in text", "Titan Scheduling works on PRJ-4355 and PRJ-9514.", nil},
		{"entity in between", "Nora Bishop leads Lars Çelik PRJ-1000.", nil},
		{"placeholder code", "Lars Çelik manages PRJ-XXXX.", nil},
		{"no-break spaces and hyphen", "Nora\u00a0Bishop\u00a0manages PRJ\u20111000.", []string{
			"nora bishop -MANAGES-> PRJ-1000 | Nora Bishop manages PRJ-1000.",
		}},
		{"zero-width space and soft hyphen around the phrase", "PRJ-1000 is man\u00adaged by\u200b Nora Bishop\u2019s deputy.", []string{
			"nora bishop -MANAGES-> PRJ-1000 | PRJ-1000 is managed by Nora Bishop's deputy.",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rels := x.Extract(tt.give)
			assert.Equal(t, tt.want, relStrings(rels))
			for _, r := range rels {
				assert.Equal(t, event.SourceText, r.Source)
				assert.Equal(t, "Person", r.From.Label)
				assert.Equal(t, "Project", r.To.Label)
			}
		})
	}
}

// A list item wrapped over several lines, its continuation indented under
// the item's text, is one sentence, as in a paragraph; the next item, or a
// line back at the margin, still ends it.
func TestExtractRelationshipsInWrappedListItems(t *testing.T) {
	x := newTestExtractor(t, []Entry{
		{Label: "Person", Key: "bo li", Name: "Bo Li"},
		{Label: "Person", Key: "siobhán o'brien", Name: "Siobhán O'Brien"},
		{Label: "Person", Key: "anne-marie lefèvre", Name: "Anne-Marie Lefèvre"},
	})
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"bullet", "- The steering group noted that Bo Li manages\n  PRJ-2004 from next week.", []string{
			"bo li -MANAGES-> PRJ-2004 | The steering group noted that Bo Li manages PRJ-2004 from next week.",
		}},
		{"name across the wrap", "* PRJ-2003 is managed by Siobhán\n  O'Brien until March.", []string{
			"siobhán o'brien -MANAGES-> PRJ-2003 | PRJ-2003 is managed by Siobhán O'Brien until March.",
		}},
		{"numbered item, three lines", "1. Since the re-baseline,\n   Anne-Marie Lefèvre is the project manager\n   for PRJ-2002.", []string{
			"anne-marie lefèvre -MANAGES-> PRJ-2002 | Since the re-baseline, Anne-Marie Lefèvre is the project manager for PRJ-2002.",
		}},
		{"nested item", "- Actions\n  - Bo Li leads\n    PRJ-2001", []string{"bo li -MANAGES-> PRJ-2001 | Bo Li leads PRJ-2001"}},
		{"next item", "- Bo Li manages\n- PRJ-2004", nil},
		{"nested next item", "- Bo Li manages\n  - PRJ-2004", nil},
		{"line at the margin", "- Bo Li manages\nPRJ-2004 is late.", nil},
		{"table row after the item", "- Bo Li manages\n  | PRJ-2004 |", nil},
		{"heading is one line", "# Bo Li manages\n  PRJ-2004", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rels := x.Extract(tt.give)
			assert.Equal(t, tt.want, relStrings(rels))
		})
	}
}

// Names in scripts whose vowel signs are spacing marks (Devanagari, Tamil)
// match on word boundaries too: a mark continues the word it stands in.
func TestExtractNamesWithSpacingMarks(t *testing.T) {
	x := newTestExtractor(t, []Entry{
		{Label: "Person", Key: "राम", Name: "राम"},
		{Label: "Person", Key: "प्रिया शर्मा", Name: "प्रिया शर्मा"},
		{Label: "Person", Key: "கமலா ராஜா", Name: "கமலா ராஜா"},
	})
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"name", "प्रिया शर्मा leads PRJ-2001.", []string{"Person:प्रिया शर्मा", "Project:PRJ-2001"}},
		{"name ending in a vowel sign", "கமலா ராஜா, राम.", []string{"Person:கமலா ராஜா", "Person:राम"}},
		{"inside a longer word", "सीताराम attended.", nil},
		{"word going on after a vowel sign", "प्रिया शर्माजी and கமலா ராஜாவின் report", nil},
		{"word ending in a vowel sign before", "श्रीप्रिया शर्मा attended.", nil},
		{"code after a vowel sign", "शर्माPRJ-2001", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mentions, _ := x.Extract(tt.give)
			assert.Equal(t, tt.want, refs(mentions))
		})
	}
}

// A pattern of the user's that matches a runaway run of text makes no
// mention whose key no graph could hold; its other matches still count.
func TestExtractSkipsKeysTooLong(t *testing.T) {
	s, err := schema.ParseExtraction([]byte(`version: 1
entities:
  - {label: Asset, key: exact, source: pattern, patterns: [{regex: 'A#(?P<key>[0-9]+)'}]}
`))
	require.NoError(t, err)
	x, err := New(s, NewGazetteer(nil))
	require.NoError(t, err)
	mentions, _ := x.Extract("A#" + strings.Repeat("9", event.MaxKeyBytes+1) + " and A#12.")
	assert.Equal(t, []event.Node{{Label: "Asset", Key: "12"}}, mentions)
}

func TestExtractCustomTriggers(t *testing.T) {
	s, err := schema.ParseExtraction([]byte(`version: 1
entities:
  - {label: Person, key: lower_collapse, source: gazetteer}
  - {label: Asset, key: exact, source: [pattern, gazetteer], patterns: [{regex: 'A#(?P<key>[0-9]+)'}]}
relationships:
  - type: OWNS
    from: Person
    to: Asset
    from_source: gazetteer
    triggers: ['the owner of {to} is {from} today', '{from} owns {to}']
  - type: STRUCTURED_ONLY
    from: Person
    to: Person
`))
	require.NoError(t, err)
	g := NewGazetteer([]Entry{
		{Label: "Person", Key: "nora bishop", Name: "Nora Bishop"},
		{Label: "Asset", Key: "7", Name: "The Crane"},
	})
	x, err := New(s, g)
	require.NoError(t, err)
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"before and after words", "Yes, the owner of A#12 is Nora Bishop today.", []string{
			"nora bishop -OWNS-> 12 | Yes, the owner of A#12 is Nora Bishop today.",
		}},
		{"missing before words", "Owner of A#12 is Nora Bishop today.", nil},
		{"missing after words", "The owner of A#12 is Nora Bishop.", nil},
		{"wrong after words", "The owner of A#12 is Nora Bishop tomorrow.", nil},
		{"to from the gazetteer", "Nora Bishop owns The Crane.", []string{"nora bishop -OWNS-> 7 | Nora Bishop owns The Crane."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rels := x.Extract(tt.give)
			assert.Equal(t, tt.want, relStrings(rels))
		})
	}
	g.Delete("Person", "nora bishop")
	mentions, rels := x.Extract("Nora Bishop owns A#1.")
	assert.Equal(t, []string{"Asset:1"}, refs(mentions))
	assert.Empty(t, rels)
}

func TestSplitSentences(t *testing.T) {
	text := "First one. Second? Third!\nFourth | fifth cell |\n\nIndex 0.97 stays. Dr.X stays.   \n  Last\nline wrapped\n- item\nafter"
	var got []string
	for _, s := range splitSentences(text, nil) {
		got = append(got, text[s.start:s.end])
	}
	assert.Equal(t, []string{
		"First one.", " Second?", " Third!", "Fourth ", " fifth cell ",
		"Index 0.97 stays.", " Dr.X stays.", "   \n  Last\nline wrapped", "- item", "after",
	}, got)

	// A mention is never split, even when it contains a boundary character.
	text = "Ask J. Smith | Jones. Then go."
	spans := []span{{start: 4, end: 20}}
	got = nil
	for _, s := range splitSentences(text, spans) {
		got = append(got, text[s.start:s.end])
	}
	assert.Equal(t, []string{"Ask J. Smith | Jones.", " Then go."}, got)
}

func TestEvidence(t *testing.T) {
	tests := []struct{ give, want string }{
		{"  Plain   text.\n", "Plain text."},
		{"- item.", "item."},
		{"* item", "item"},
		{"+ item", "item"},
		{"> quoted", "quoted"},
		{"### Heading", "Heading"},
		{"12. numbered", "numbered"},
		{"3) numbered", "numbered"},
		{"-", "-"},
		{"1.5 stays", "1.5 stays"},
		{"A. stays", "A. stays"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, evidence(tt.give))
		})
	}
}

func chunkMessage(t *testing.T, c event.Chunk) pipeline.Message {
	t.Helper()
	m, err := pipeline.NewMessage(event.SubjectChunk, c)
	require.NoError(t, err)
	return m
}

func TestHandleChunk(t *testing.T) {
	x := newTestExtractor(t, testEntries())
	doc := event.NewDocument("minutes/a.md", "abc123", 42, 7)
	tests := []struct {
		name         string
		text         string
		wantMentions []event.Node
		wantRels     []event.Relationship
	}{
		{
			name: "mentions and relationship",
			text: "Nora Bishop leads PRJ-1000. See aace 17.",
			wantMentions: []event.Node{
				{Label: "Person", Key: "nora bishop", Properties: map[string]any{"name": "Nora Bishop"}},
				{Label: "Project", Key: "PRJ-1000"},
				{Label: "Procedure", Key: "AACE-17"},
			},
			wantRels: []event.Relationship{{
				Type: "MANAGES", From: event.NodeRef{Label: "Person", Key: "nora bishop"},
				To: event.NodeRef{Label: "Project", Key: "PRJ-1000"}, Source: event.SourceText,
				Evidence: "Nora Bishop leads PRJ-1000.",
			}},
		},
		{name: "nothing found", text: "Nothing to see here.", wantMentions: []event.Node{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := event.Chunk{Document: doc, Index: 2, Total: 3, Text: tt.text}
			out, err := x.Handle(t.Context(), chunkMessage(t, c))
			require.NoError(t, err)
			require.Len(t, out, 1)
			assert.Equal(t, event.SubjectExtraction, out[0].Subject)
			assert.Equal(t, "abc123:2@7", out[0].ID)
			assert.Equal(t, event.TypeExtraction, out[0].Header.Get(pipeline.HeaderType))

			var got event.Extraction
			require.NoError(t, out[0].Decode(&got))
			assert.Equal(t, c, got.Chunk)
			assert.Equal(t, tt.wantMentions, got.Mentions)
			assert.Equal(t, tt.wantRels, got.Relationships)
			assert.Contains(t, string(out[0].Data), `"mentions":[`)
		})
	}
}

// TestHandleStampsTheGazetteerRevision checks that an extraction carries the
// revision of the names it was made with, so that the graph writer can
// ignore one made with older names than the chunk's stored extraction.
func TestHandleStampsTheGazetteerRevision(t *testing.T) {
	g := NewGazetteer(nil)
	x, err := New(defaultSchema(t), g)
	require.NoError(t, err)
	c := event.Chunk{Document: event.NewDocument("a.md", "abc", 1, 1), Index: 0, Total: 1, Text: "Nora Bishop leads PRJ-1000."}
	extract := func() event.Extraction {
		t.Helper()
		out, err := x.Handle(t.Context(), chunkMessage(t, c))
		require.NoError(t, err)
		require.Len(t, out, 1)
		var got event.Extraction
		require.NoError(t, out[0].Decode(&got))
		return got
	}
	got := extract()
	assert.Zero(t, got.GazetteerRevision)
	assert.Equal(t, []string{"Project:PRJ-1000"}, refs(got.Mentions))

	g.Put(Entry{Label: "Person", Key: "Nora Bishop", Name: "Nora Bishop"})
	got = extract()
	assert.Zero(t, got.GazetteerRevision, "names applied, revision not yet recorded: the older revision")
	g.SetRevision(12)
	got = extract()
	assert.EqualValues(t, 12, got.GazetteerRevision)
	assert.Equal(t, []string{"Person:nora bishop", "Project:PRJ-1000"}, refs(got.Mentions))
}

func TestHandleDeletion(t *testing.T) {
	x := newTestExtractor(t, nil)
	d := event.DocumentDeleted{Path: "minutes/a.md", Version: 9}
	in, err := pipeline.NewMessage(event.SubjectDocumentDeleted, d)
	require.NoError(t, err)
	out, err := x.Handle(t.Context(), in)
	require.NoError(t, err)
	require.Len(t, out, 1)
	assert.Equal(t, event.SubjectExtractionDeletion, out[0].Subject)
	assert.Equal(t, event.TypeExtractionDeletion, out[0].Header.Get(pipeline.HeaderType))
	var got event.ExtractionDeletion
	require.NoError(t, out[0].Decode(&got))
	assert.Equal(t, d, got)
}

func TestHandleBadInput(t *testing.T) {
	x := newTestExtractor(t, testEntries())
	doc := event.NewDocument("a.md", "abc", 1, 1)
	raw := func(subject, data string) pipeline.Message {
		m := pipeline.MustMessage(subject, json.RawMessage(`{}`))
		m.Data = []byte(data)
		return m
	}
	wrongVersion := chunkMessage(t, event.Chunk{Document: doc, Total: 1, Text: "x"})
	wrongVersion.Header.Set(pipeline.HeaderVersion, "0")
	tests := []struct {
		name    string
		in      pipeline.Message
		wantErr string
	}{
		{"unknown subject", pipeline.MustMessage(event.SubjectRecords, event.Records{}), `unexpected subject "docgraph.records.rows"`},
		{"chunk not json", raw(event.SubjectChunk, "{"), "decode docgraph.chunks.text"},
		{"chunk unknown field", raw(event.SubjectChunk, `{"text":"x","extra":1}`), "unknown field"},
		{"chunk wrong version", wrongVersion, "unsupported message version"},
		{"chunk without path", chunkMessage(t, event.Chunk{Text: "x"}), "chunk without document path"},
		{"chunk without sha", chunkMessage(t, event.Chunk{Document: event.Document{Path: "a.md"}}), "chunk of a.md without sha256"},
		{"chunk index out of range", chunkMessage(t, event.Chunk{Document: doc, Index: 3, Total: 3}), "index 3 out of range"},
		{"negative index", chunkMessage(t, event.Chunk{Document: doc, Index: -1}), "index -1 out of range"},
		{"deletion not json", raw(event.SubjectDocumentDeleted, "[]"), "decode docgraph.chunks.deleted"},
		{"deletion without path", pipeline.MustMessage(event.SubjectDocumentDeleted, event.DocumentDeleted{Version: 1}), "empty path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := x.Handle(context.Background(), tt.in)
			require.Error(t, err)
			assert.Nil(t, out)
			assert.True(t, pipeline.IsPermanent(err), "want a permanent error, got %v", err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestExtractIsStableUnderChunking(t *testing.T) {
	x := newTestExtractor(t, testEntries())
	text := strings.Repeat("Nora Bishop leads PRJ-1000. AACE 17 applies.\n\n", 3)
	whole, wholeRels := x.Extract(text)
	var parts []string
	var partRels []string
	for _, p := range strings.Split(text, "\n\n") {
		m, r := x.Extract(p)
		parts = append(parts, refs(m)...)
		partRels = append(partRels, relStrings(r)...)
	}
	assert.Subset(t, refs(whole), parts)
	assert.Subset(t, partRels, relStrings(wholeRels))
}

func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"Nora Bishop leads PRJ-1000. See aace 17.",
		"PRJ-9597 is managed by Nora Bishop | Lars Çelik is the project manager for PRJ-9514.\n",
		"Mateo O\u0308ztu\u0308rk, (Acme) and Highcliff Ring Road Renewal; ISO9001",
		"\xff\xfeNora Bishop\x00 manages PRJ-0000",
	} {
		f.Add(s)
	}
	x := newTestExtractor(f, testEntries())
	f.Fuzz(func(t *testing.T, text string) {
		mentions, rels := x.Extract(text)
		seen := map[event.NodeRef]bool{}
		for _, m := range mentions {
			assert.False(t, seen[m.Ref()], "duplicate mention %v", m.Ref())
			seen[m.Ref()] = true
			assert.NotEmpty(t, m.Key)
		}
		for _, r := range rels {
			assert.True(t, seen[r.From] && seen[r.To], "relationship ends are mentions: %v", r)
			assert.NotEmpty(t, r.Evidence)
		}
	})
}
