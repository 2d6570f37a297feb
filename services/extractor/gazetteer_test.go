package extractor

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
)

func testEntries() []Entry {
	return []Entry{
		{Label: "Person", Key: "lars çelik", Name: "Lars Çelik"},
		{Label: "Person", Key: "irene çelik", Name: "Irene Çelik"},
		{Label: "Person", Key: "nora bishop", Name: "Nora Bishop"},
		{Label: "Person", Key: "julia łukasiewicz", Name: "Julia Łukasiewicz"},
		{Label: "Person", Key: "mateo öztürk", Name: "Mateo Öztürk"},
		{Label: "Person", Key: "aisha o'connor", Name: "Aisha O'Connor"},
		{Label: "Person", Key: "karin dos santos", Name: "Karin dos Santos"},
		{Label: "Person", Key: "mary-kate çelik", Name: "Mary-Kate Çelik"},
		{Label: "Person", Key: "kate çelik", Name: "Kate Çelik"},
		{Label: "Project", Key: "PRJ-8034", Name: "Highcliff Ring Road Renewal"},
		{Label: "Project", Key: "PRJ-8035", Name: "Highcliff Ring Road"},
		{Label: "Team", Key: "titan scheduling", Name: "Titan Scheduling"},
		{Label: "Team", Key: "(acme)", Name: "(Acme)"},
	}
}

type found struct{ Key, Text string }

func matches(g *Gazetteer, text string) []found {
	var out []found
	for _, m := range g.Match(text) {
		out = append(out, found{m.Key, text[m.Start:m.End]})
	}
	return out
}

func TestGazetteerMatch(t *testing.T) {
	g := NewGazetteer(testEntries())
	tests := []struct {
		name string
		give string
		want []found
	}{
		{"possessive", "Lars Çelik's plan", []found{{"lars çelik", "Lars Çelik"}}},
		{"full stop", "Signed by Nora Bishop.", []found{{"nora bishop", "Nora Bishop"}}},
		{"comma semicolon colon paren", "(Nora Bishop, Lars Çelik; Irene Çelik: Mateo Öztürk)", []found{
			{"nora bishop", "Nora Bishop"}, {"lars çelik", "Lars Çelik"},
			{"irene çelik", "Irene Çelik"}, {"mateo öztürk", "Mateo Öztürk"},
		}},
		{"markdown bold", "**Nora Bishop**", []found{{"nora bishop", "Nora Bishop"}}},
		{"end of text", "Nora Bishop", []found{{"nora bishop", "Nora Bishop"}}},
		{"unicode names", "Julia Łukasiewicz and Mateo Öztürk", []found{
			{"julia łukasiewicz", "Julia Łukasiewicz"}, {"mateo öztürk", "Mateo Öztürk"},
		}},
		{"apostrophe in name", "Aisha O'Connor joined", []found{{"aisha o'connor", "Aisha O'Connor"}}},
		{"lower-case particle", "Karin dos Santos", []found{{"karin dos santos", "Karin dos Santos"}}},
		{"whitespace run and line break", "Karin  dos\nSantos", []found{{"karin dos santos", "Karin  dos\nSantos"}}},
		{"blank line is not a space", "Karin dos\n\nSantos", nil},
		{"preceding letter", "XNora Bishop", nil},
		{"preceding digit", "1Nora Bishop", nil},
		{"following letter", "Nora Bishops", nil},
		{"following digit", "Nora Bishop2", nil},
		{"following hyphen", "Nora Bishop-Smith", nil},
		{"hyphenated first name wins", "Mary-Kate Çelik", []found{{"mary-kate çelik", "Mary-Kate Çelik"}}},
		{"no match inside a hyphenated name", "Anne-Kate Çelik", nil},
		{"case sensitive", "nora bishop and NORA BISHOP", nil},
		{"first name only", "Karin will circulate the notes", nil},
		{"swapped name", "Julia Çelik was copied", nil},
		{"longest wins", "the Highcliff Ring Road Renewal project", []found{{"PRJ-8034", "Highcliff Ring Road Renewal"}}},
		{"shorter when longer absent", "the Highcliff Ring Road works", []found{{"PRJ-8035", "Highcliff Ring Road"}}},
		{"name starting with punctuation", "team (Acme) and Titan Scheduling", []found{
			{"(acme)", "(Acme)"}, {"titan scheduling", "Titan Scheduling"},
		}},
		{"every occurrence", "Nora Bishop, Nora Bishop", []found{{"nora bishop", "Nora Bishop"}, {"nora bishop", "Nora Bishop"}}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, matches(g, tt.give))
		})
	}
}

func TestGazetteerUpdates(t *testing.T) {
	g := NewGazetteer(nil)
	assert.Nil(t, g.Match("Nora Bishop"))

	g.Put(Entry{Label: "Person", Key: "nora bishop", Name: "Nora Bishop"})
	assert.Equal(t, []found{{"nora bishop", "Nora Bishop"}}, matches(g, "Nora Bishop"))

	// Put replaces the name of the same entity.
	g.Put(Entry{Label: "Person", Key: "nora bishop", Name: "Nora B. Bishop"})
	assert.Nil(t, matches(g, "Nora Bishop"))
	assert.Equal(t, []found{{"nora bishop", "Nora B. Bishop"}}, matches(g, "Nora B. Bishop."))
	assert.Equal(t, 1, g.Len())

	g.Put(Entry{Label: "Team", Key: "titan", Name: "Titan"})
	assert.Equal(t, []Entry{
		{Label: "Person", Key: "nora bishop", Name: "Nora B. Bishop"},
		{Label: "Team", Key: "titan", Name: "Titan"},
	}, g.Entries())

	g.Delete("Person", "nora bishop")
	g.Delete("Person", "unknown")
	assert.Nil(t, matches(g, "Nora B. Bishop"))

	g.Replace([]Entry{{Label: "Person", Key: "lars çelik", Name: "Lars Çelik"}})
	assert.Nil(t, matches(g, "Titan"))
	assert.Equal(t, []found{{"lars çelik", "Lars Çelik"}}, matches(g, "Lars Çelik"))

	// Incomplete entries are kept but never match.
	g.Replace([]Entry{{Label: "Person", Key: "", Name: "Nobody"}, {Label: "Person", Key: "blank", Name: "  "}})
	assert.Equal(t, 2, g.Len())
	assert.Nil(t, matches(g, "Nobody"))
}

func TestGazetteerConcurrentUse(t *testing.T) {
	g := NewGazetteer(testEntries())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 200 {
				g.Put(Entry{Label: "Person", Key: fmt.Sprintf("p%d-%d", w, i), Name: fmt.Sprintf("Person%d %d", w, i)})
				if i%10 == 5 {
					g.Delete("Person", fmt.Sprintf("p%d-%d", w, i-5))
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				// Names present from the start are always found.
				assert.Len(t, g.Match("Nora Bishop and Lars Çelik"), 2)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, len(testEntries())+4*200-4*20, g.Len())
}

func TestLoadGazetteerFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	want := []Entry{
		{Label: "Person", Key: "nora bishop", Name: "Nora Bishop"},
		{Label: "Project", Key: "PRJ-8034", Name: "Highcliff Ring Road Renewal"},
	}
	tests := []struct {
		name, file, content string
		want                []Entry
		wantErr             string
	}{
		{
			name: "json", file: "g.json",
			content: `[{"label":"Person","key":"nora bishop","name":"Nora Bishop"},
			           {"label":"Project","key":"PRJ-8034","name":"Highcliff Ring Road Renewal"}]`,
			want: want,
		},
		{
			name: "yaml", file: "g.yaml",
			content: "- {label: Person, key: nora bishop, name: Nora Bishop}\n" +
				"- label: Project\n  key: PRJ-8034\n  name: Highcliff Ring Road Renewal\n",
			want: want,
		},
		{name: "empty file", file: "empty.yaml", content: ""},
		{name: "unknown field", file: "u.yaml", content: "- {label: Person, key: a, name: A, role: x}", wantErr: "field role not found"},
		{name: "not a list", file: "m.yaml", content: "label: Person", wantErr: "cannot unmarshal"},
		{
			name: "missing fields", file: "f.json", content: `[{"label":"Person","key":"a"},{"name":"B"}]`,
			wantErr: "[0].name: required",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.file, tt.content)
			got, err := LoadGazetteerFile(p)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.ErrorContains(t, err, p)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := LoadGazetteerFile(filepath.Join(dir, "missing.json"))
	require.ErrorContains(t, err, "missing.json")
}

func TestEntriesFromNodes(t *testing.T) {
	got := EntriesFromNodes([]event.Node{
		{Label: "Person", Key: "nora bishop", Properties: map[string]any{"name": "Nora Bishop", "role": "PM"}},
		{Label: "Procedure", Key: "AACE-17"},
		{Label: "Project", Key: "PRJ-1", Properties: map[string]any{"name": 12}},
		{Label: "Team", Key: "t", Properties: map[string]any{"name": " "}},
	})
	assert.Equal(t, []Entry{{Label: "Person", Key: "nora bishop", Name: "Nora Bishop"}}, got)
}
