package schema_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/schemas"
)

func loadDefault(t *testing.T) *schema.Extraction {
	t.Helper()
	f, err := schemas.FS.Open("extraction.yaml")
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	x, err := schema.LoadExtraction(f)
	require.NoError(t, err)
	return x
}

func TestDefaultExtractionSchema(t *testing.T) {
	x := loadDefault(t)
	assert.Equal(t, []string{"Person", "Project", "Team", "Procedure"}, x.Labels())
	assert.Equal(t, []string{"MANAGES", "MEMBER_OF", "WORKS_ON"}, x.RelationshipTypes())
	assert.True(t, x.HasLabel("Person"))
	assert.False(t, x.HasLabel("Document"))
	assert.True(t, x.HasRelationship("WORKS_ON"))
	assert.False(t, x.HasRelationship("LEADS"))

	manages, ok := x.Relationship("MANAGES")
	require.True(t, ok)
	assert.Equal(t, "Person", manages.From)
	assert.Equal(t, "Project", manages.To)
	assert.Equal(t, schema.SourcePattern, manages.ToSource)
	trig := manages.CompiledTriggers()
	require.Len(t, trig, 4)
	assert.Equal(t, schema.Trigger{
		Template: "{to} is managed by {from}", FromFirst: false,
		Middle: []string{"is", "managed", "by"},
	}, trig[1])

	project, ok := x.Entity("Project")
	require.True(t, ok)
	assert.True(t, project.HasSource(schema.SourcePattern))
	assert.True(t, project.HasSource(schema.SourceGazetteer))
	require.Len(t, project.Patterns, 1)
	assert.NotNil(t, project.Patterns[0].Regexp())
	_, ok = x.Entity("Nope")
	assert.False(t, ok)
	_, ok = x.Relationship("NOPE")
	assert.False(t, ok)
}

func TestDefaultExtractionPatterns(t *testing.T) {
	x := loadDefault(t)
	procedure, _ := x.Entity("Procedure")
	project, _ := x.Entity("Project")
	tests := []struct {
		name   string
		entity schema.EntityType
		give   string
		want   string // "" = no match
	}{
		{"procedure dash", procedure, "AACE-101", "AACE-101"},
		{"procedure space", procedure, "AACE 101", "AACE 101"},
		{"procedure lower dash", procedure, "aace-101", "aace-101"},
		{"procedure glued", procedure, "AACE101", "AACE101"},
		{"procedure iso", procedure, "ISO 21500", "ISO 21500"},
		{"procedure without number", procedure, "ISO standards", ""},
		{"procedure other prefix", procedure, "BS 8888", ""},
		{"project code", project, "PRJ-1234", "PRJ-1234"},
		{"project placeholder", project, "PRJ-XXXX", ""},
		{"project short", project, "PRJ-12", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.entity.Patterns[0].Regexp().FindString(tt.give))
		})
	}
}

func TestNormalizeKey(t *testing.T) {
	tests := []struct {
		kind, give, want string
	}{
		{schema.KeyLowerCollapse, "  Lars \t Çelik ", "lars çelik"},
		{schema.KeyLowerCollapse, "Julia Łukasiewicz", "julia łukasiewicz"},
		{schema.KeyUpper, " prj-1234 ", "PRJ-1234"},
		{schema.KeyUpperCode, "AACE-101", "AACE-101"},
		{schema.KeyUpperCode, "AACE 101", "AACE-101"},
		{schema.KeyUpperCode, "aace-101", "AACE-101"},
		{schema.KeyUpperCode, "aace 101", "AACE-101"},
		{schema.KeyUpperCode, "AACE101", "AACE-101"},
		{schema.KeyUpperCode, "Aace-101", "AACE-101"},
		{schema.KeyUpperCode, "ISO 21500", "ISO-21500"},
		{schema.KeyUpperCode, "iso_9001", "ISO-9001"},
		{schema.KeyUpperCode, "not a code", "NOT A CODE"},
		{schema.KeyUpperCode, "ISO", "ISO"},
		{schema.KeyUpperCode, "101", "101"},
		{schema.KeyExact, " As Is ", " As Is "},
		{"unknown", "As Is", "As Is"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+"/"+tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, schema.NormalizeKey(tt.kind, tt.give))
		})
	}
}

func TestExtractionKey(t *testing.T) {
	x := loadDefault(t)
	k, ok := x.Key("Procedure", "aace 17")
	assert.True(t, ok)
	assert.Equal(t, "AACE-17", k)
	k, ok = x.Key("Person", " Nora  Bishop")
	assert.True(t, ok)
	assert.Equal(t, "nora bishop", k)
	_, ok = x.Key("Document", "x")
	assert.False(t, ok)
}

func TestParseExtractionGood(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "extraction-minimal.good.yaml"))
	require.NoError(t, err)
	x, err := schema.ParseExtraction(data)
	require.NoError(t, err)
	assert.Equal(t, "Minutes of a stamp collectors' club.\n", x.Prompt)
	code, ok := x.Entity("Code")
	require.True(t, ok)
	assert.Equal(t, schema.StringList{schema.SourcePattern}, code.Source)
	owns, _ := x.Relationship("OWNS")
	assert.Equal(t, []schema.Trigger{{
		Template: "owner of {to} is {from} today", FromFirst: false,
		Before: []string{"owner", "of"}, Middle: []string{"is"}, After: []string{"today"},
	}}, owns.CompiledTriggers())
}

func TestParseExtractionBad(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{"unknown-normalisation", `entities[0].key: unknown normalisation "titlecase"`},
		{"bad-regex", `entities[0].patterns[0].regex: invalid regular expression`},
		{"empty-match-regex", `entities[0].patterns[0].regex: "[0-9]*" matches the empty string`},
		{"trigger-unknown-label", `relationships[0].to: unknown label "Projekt"`},
		{"duplicate-label", `entities[1].label: duplicate label "Person" (first declared at entities[0])`},
		{"unknown-field", `field colour not found`},
		{"unknown-source", `entities[0].source[1]: unknown source "llm"`},
		{"missing-source", `entities[0].source: required`},
		{"pattern-source-without-patterns", `entities[0].patterns: required when source includes pattern`},
		{"patterns-without-pattern-source", `entities[0].patterns: given but source does not include pattern`},
		{"prefix-without-number", `named groups "prefix" and "number" go together`},
		{"prefix-without-upper-code", `need key upper_code`},
		{"trigger-missing-placeholder", `relationships[0].triggers[0]: "{from} knows" must contain {from} and {to} exactly once`},
		{"trigger-unknown-placeholder", `relationships[0].triggers[0]: "{from} knows {whom} and {to}": unknown placeholder`},
		{"trigger-no-words", `needs words between the placeholders`},
		{"duplicate-trigger", `relationships[0].triggers[1]: duplicate trigger`},
		{"duplicate-relationship", `relationships[1].type: duplicate relationship type "KNOWS"`},
		{"bad-relationship-type", `relationships[0].type: "knows-well" must be upper case`},
		{"end-source-not-declared", `relationships[0].to_source: pattern is not a source of Person`},
		{"unknown-end-source", `relationships[0].from_source: unknown source "llm"`},
		{"bad-label", `entities[0].label: "Person Name" must start with a letter`},
		{"missing-label", `entities[0].label: required`},
		{"no-entities", `entities: at least one entity type required`},
		{"wrong-version", `version: 2 not supported`},
		{"two-documents", `more than one YAML document`},
		{"not-a-mapping", `cannot unmarshal`},
		{"missing-ends", `relationships[0].from: required`},
		{"empty", `empty document`},
		{"long-prompt", `prompt: 4001 characters, at most 4000`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "extraction-"+tt.file+".bad.yaml")
			_, err := schema.LoadExtractionFile(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), path)
		})
	}
}

func TestParseExtractionReportsEveryProblem(t *testing.T) {
	_, err := schema.ParseExtraction([]byte(`version: 1
entities:
  - {label: A, key: nope, source: gazetteer}
  - {label: A, key: exact, source: gazetteer}
relationships:
  - {type: R, from: A, to: B}
`))
	require.Error(t, err)
	for _, want := range []string{"entities[0].key", "entities[1].label", "relationships[0].to"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestLoadExtractionErrors(t *testing.T) {
	_, err := schema.LoadExtraction(iotest.ErrReader(errors.New("boom")))
	require.ErrorContains(t, err, "read extraction schema: boom")

	_, err = schema.LoadExtractionFile(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "missing.yaml")
}

func TestLoadExtractionFileDefault(t *testing.T) {
	path := filepath.Join("..", "..", "schemas", "extraction.yaml")
	x, err := schema.LoadExtractionFile(path)
	require.NoError(t, err)
	assert.Len(t, x.Entities, 4)
}

func FuzzParseExtraction(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "extraction-*.yaml"))
	require.NoError(f, err)
	seeds = append(seeds, filepath.Join("..", "..", "schemas", "extraction.yaml"))
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte("version: 1\nentities: [{label: X, key: exact, source: [pattern], patterns: [{regex: '(?P<prefix>a)(?P<number>1)'}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := schema.ParseExtraction(data)
		if err != nil {
			assert.Nil(t, x)
			return
		}
		// A schema that validates is internally consistent.
		for _, r := range x.Relationships {
			assert.True(t, x.HasLabel(r.From), r.From)
			assert.True(t, x.HasLabel(r.To), r.To)
			assert.Len(t, r.CompiledTriggers(), len(r.Triggers))
		}
		for _, e := range x.Entities {
			for _, p := range e.Patterns {
				assert.NotNil(t, p.Regexp())
			}
			_ = schema.NormalizeKey(e.Key, strings.Repeat(e.Label, 2))
		}
	})
}
