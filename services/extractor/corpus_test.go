package extractor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
)

// expectedCorpus is the part of a corpus's expected.json these tests read.
type expectedCorpus struct {
	Documents []struct {
		Path   string `json:"path"`
		Format string `json:"format"`
	} `json:"documents"`
	Nodes         []event.Node `json:"nodes"`
	Relationships []struct {
		Type     string        `json:"type"`
		From     event.NodeRef `json:"from"`
		To       event.NodeRef `json:"to"`
		Source   string        `json:"source"`
		Evidence []struct {
			File     string `json:"file"`
			Sentence string `json:"sentence"`
		} `json:"evidence"`
	} `json:"relationships"`
	Mentions []struct {
		Document string `json:"document"`
		Label    string `json:"label"`
		Key      string `json:"key"`
	} `json:"mentions"`
	NearMisses []nearMiss `json:"near_misses"`
}

type nearMiss struct {
	Document string `json:"document"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	MustNot  *struct {
		Node         *event.NodeRef `json:"node"`
		Relationship *struct {
			Type string        `json:"type"`
			From event.NodeRef `json:"from"`
			To   event.NodeRef `json:"to"`
		} `json:"relationship"`
	} `json:"must_not"`
}

// corpusDir returns ../shared/corpus/<name> next to the repository root.
// The corpus is part of the test setup: a missing corpus fails, never skips.
func corpusDir(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test directory")
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "corpus", name)
	if _, err := os.Stat(filepath.Join(p, "expected.json")); err != nil {
		t.Fatalf("test corpus %q not found at %s (it lives in ../shared/corpus next to the repository): %v", name, p, err)
	}
	return p
}

func loadCorpus(t testing.TB, name string) (string, *expectedCorpus) {
	t.Helper()
	dir := corpusDir(t, name)
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	require.NoError(t, err)
	var exp expectedCorpus
	require.NoError(t, json.Unmarshal(data, &exp))
	return dir, &exp
}

// corpusGazetteer holds the corpus's people, projects and teams by the
// names the structured data gives them.
func corpusGazetteer(exp *expectedCorpus) *Gazetteer {
	var nodes []event.Node
	for _, n := range exp.Nodes {
		switch n.Label {
		case "Person", "Project", "Team":
			nodes = append(nodes, n)
		}
	}
	return NewGazetteer(EntriesFromNodes(nodes))
}

var corpora = []string{"sample", "bad"}

const hugeDocument = "huge-single-line.txt"

// textDocuments lists the corpus's .md and .txt documents (rejected files
// are not documents).
func textDocuments(exp *expectedCorpus) []string {
	var out []string
	for _, d := range exp.Documents {
		if (d.Format == "md" || d.Format == "txt") && d.Path != hugeDocument {
			out = append(out, d.Path)
		}
	}
	return out
}

func wantMentions(exp *expectedCorpus, doc string) []string {
	var out []string
	for _, m := range exp.Mentions {
		if m.Document == doc {
			out = append(out, m.Label+":"+m.Key)
		}
	}
	sort.Strings(out)
	return out
}

func wantTextRels(exp *expectedCorpus, doc string) []string {
	var out []string
	for _, r := range exp.Relationships {
		if r.Source != event.SourceText {
			continue
		}
		for _, ev := range r.Evidence {
			if ev.File == doc {
				out = append(out, r.From.Key+" -"+r.Type+"-> "+r.To.Key+" | "+ev.Sentence)
			}
		}
	}
	sort.Strings(out)
	return out
}

// extractAll runs Extract over each chunk and returns the sorted, unique
// mentions and relationships of all of them.
func extractAll(x *Extractor, chunks []string) (mentions, rels []string) {
	seenM, seenR := map[string]bool{}, map[string]bool{}
	for _, c := range chunks {
		m, r := x.Extract(c)
		for _, s := range refs(m) {
			if !seenM[s] {
				seenM[s] = true
				mentions = append(mentions, s)
			}
		}
		for _, s := range relStrings(r) {
			if !seenR[s] {
				seenR[s] = true
				rels = append(rels, s)
			}
		}
	}
	sort.Strings(mentions)
	sort.Strings(rels)
	return mentions, rels
}

func TestCorpusDocuments(t *testing.T) {
	for _, name := range corpora {
		dir, exp := loadCorpus(t, name)
		x, err := New(defaultSchema(t), corpusGazetteer(exp))
		require.NoError(t, err)
		docs := textDocuments(exp)
		require.NotEmpty(t, docs)
		for _, doc := range docs {
			data, err := os.ReadFile(filepath.Join(dir, "input", filepath.FromSlash(doc)))
			require.NoError(t, err)
			text := string(data)
			chunkings := map[string][]string{
				"whole":      {text},
				"paragraphs": strings.Split(text, "\n\n"),
			}
			for how, chunks := range chunkings {
				t.Run(name+"/"+doc+"/"+how, func(t *testing.T) {
					mentions, rels := extractAll(x, chunks)
					assert.Equal(t, wantMentions(exp, doc), mentions, "mentions")
					assert.Equal(t, wantTextRels(exp, doc), rels, "text relationships")
				})
			}
		}
	}
}

// splitAtSentences cuts text into pieces of at most about size bytes, each
// ending after ". " so that no sentence is split.
func splitAtSentences(text string, size int) []string {
	var out []string
	for len(text) > size {
		cut := strings.LastIndex(text[:size], ". ")
		if cut < 0 {
			cut = strings.Index(text, ". ")
			if cut < 0 {
				break
			}
		}
		out = append(out, text[:cut+1])
		text = text[cut+2:]
	}
	return append(out, text)
}

func TestCorpusHugeSingleLine(t *testing.T) {
	dir, exp := loadCorpus(t, "bad")
	x, err := New(defaultSchema(t), corpusGazetteer(exp))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, "input", hugeDocument))
	require.NoError(t, err)
	require.Greater(t, len(data), 4<<20)
	chunks := splitAtSentences(string(data), 64<<10)
	require.Greater(t, len(chunks), 60)
	mentions, rels := extractAll(x, chunks)
	assert.Equal(t, wantMentions(exp, hugeDocument), mentions)
	assert.Equal(t, wantTextRels(exp, hugeDocument), rels)
	assert.NotEmpty(t, rels, "the management sentence near 2.5 MiB gives MANAGES")
}

// Labels that near misses of a kind must not produce as mentions.
var nearMissForbiddenLabels = map[string][]string{
	"placeholder_project_code": {"Project"},
	"short_project_code":       {"Project"},
	"standard_without_number":  {"Procedure"},
	"unknown_prefix":           {"Procedure"},
	"first_name_only":          {"Person"},
	"unknown_person":           {"Person"},
	"unknown_person_trigger":   {"Person"},
	"swapped_name":             {"Person"},
	"managed_by_non_person":    {"Person"},
	"team_leads_project":       {"Person"},
	"manages_without_entities": {"Person", "Project"},
}

// Near-miss kinds that are about reading files, not about text: the parser
// drops hidden HTML and rejected files, so the extractor never sees them.
var nearMissParserKinds = map[string]bool{"hidden_html": true, "rejected_file_content": true}

func TestCorpusNearMisses(t *testing.T) {
	for _, name := range corpora {
		_, exp := loadCorpus(t, name)
		require.NotEmpty(t, exp.NearMisses)
		x, err := New(defaultSchema(t), corpusGazetteer(exp))
		require.NoError(t, err)
		for i, nm := range exp.NearMisses {
			if nearMissParserKinds[nm.Kind] {
				continue
			}
			t.Run(name+"/"+nm.Kind+"/"+nm.Document, func(t *testing.T) {
				mentions, rels := x.Extract(nm.Text)
				assert.Empty(t, rels, "near miss %d %q gives no relationship", i, nm.Text)
				for _, label := range nearMissForbiddenLabels[nm.Kind] {
					for _, m := range mentions {
						assert.NotEqual(t, label, m.Label, "near miss %q must not mention a %s", nm.Text, label)
					}
				}
				if nm.MustNot == nil {
					return
				}
				if n := nm.MustNot.Node; n != nil {
					for _, m := range mentions {
						assert.NotEqual(t, *n, m.Ref())
					}
				}
				if r := nm.MustNot.Relationship; r != nil {
					for _, got := range rels {
						assert.False(t, got.Type == r.Type && got.From == r.From && got.To == r.To, "forbidden %v", got)
					}
				}
			})
		}
	}
}
