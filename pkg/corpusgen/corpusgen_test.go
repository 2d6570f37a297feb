package corpusgen_test

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/corpusgen"
)

// tree maps every file under dir to its sha256 and returns the total size.
func tree(t *testing.T, dir string) (map[string]string, int64) {
	t.Helper()
	out := map[string]string{}
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		size += int64(len(data))
		return nil
	})
	require.NoError(t, err)
	return out, size
}

func TestGenerateDeterministic(t *testing.T) {
	opts := corpusgen.Options{Docs: 30, DocBytes: 2000, Seed: 7, Spreadsheets: true}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	sa, err := corpusgen.Generate(a, opts)
	require.NoError(t, err)
	sb, err := corpusgen.Generate(b, opts)
	require.NoError(t, err)
	opts.Seed = 8
	_, err = corpusgen.Generate(c, opts)
	require.NoError(t, err)

	ta, size := tree(t, a)
	tb, _ := tree(t, b)
	tc, _ := tree(t, c)
	assert.Equal(t, sa, sb)
	// The spreadsheets are zip archives with timestamps: compare the text files.
	for p, h := range ta {
		if strings.HasSuffix(p, ".xlsx") {
			continue
		}
		assert.Equal(t, h, tb[p], p)
	}
	assert.NotEqual(t, ta["minutes/000000-steering-committee.md"], tc["minutes/000000-steering-committee.md"])
	assert.Len(t, ta, 33)
	assert.Equal(t, 30, sa.Documents)
	assert.Equal(t, 33, sa.Files)
	assert.Equal(t, size, sa.Bytes)
}

func TestGenerateStats(t *testing.T) {
	tests := []struct {
		name      string
		give      corpusgen.Options
		wantNodes map[string]int
		wantRels  map[string]int
	}{
		{
			name:      "with spreadsheets",
			give:      corpusgen.Options{Docs: 40, People: 12, Projects: 5, Teams: 3, DocBytes: 3000, Seed: 1, Spreadsheets: true},
			wantNodes: map[string]int{"Document": 43, "Person": 12, "Project": 5, "Team": 3},
			wantRels:  map[string]int{"MEMBER_OF": 12, "WORKS_ON": 3},
		},
		{
			name:      "documents only",
			give:      corpusgen.Options{Docs: 40, People: 12, Projects: 5, Teams: 3, DocBytes: 3000, Seed: 1},
			wantNodes: map[string]int{"Document": 40, "Project": 5},
			wantRels:  map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := corpusgen.Generate(t.TempDir(), tt.give)
			require.NoError(t, err)
			assert.Positive(t, st.Nodes["Procedure"])
			delete(st.Nodes, "Procedure")
			assert.Equal(t, tt.wantNodes, st.Nodes)
			if tt.give.Spreadsheets {
				assert.Equal(t, tt.give.Projects+st.TextManages, st.Relationships["MANAGES"])
				assert.Positive(t, st.TextManages)
				delete(st.Relationships, "MANAGES")
				assert.Equal(t, 4, len(st.MentionsByLabel))
			} else {
				assert.Zero(t, st.TextManages)
				assert.ElementsMatch(t, []string{"Project", "Procedure"}, keys(st.MentionsByLabel))
			}
			assert.Equal(t, tt.wantRels, st.Relationships)
			sum := 0
			for _, n := range st.MentionsByLabel {
				sum += n
			}
			assert.Equal(t, st.Mentions, sum)
		})
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestGenerateFiles checks each format's structure and the spreadsheets
// against the shipped mapping's sources.
func TestGenerateFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := corpusgen.Generate(dir, corpusgen.Options{Docs: 8, People: 9, Projects: 4, Teams: 2, DocBytes: 4000, Seed: 3, Spreadsheets: true})
	require.NoError(t, err)
	files, _ := tree(t, dir)
	formats := map[string]int{}
	codeRE := regexp.MustCompile(`PRJ-[0-9]{4}`)
	for p := range files {
		formats[filepath.Ext(p)]++
		data, err := os.ReadFile(filepath.Join(dir, p))
		require.NoError(t, err)
		switch filepath.Ext(p) {
		case ".md", ".txt":
			assert.GreaterOrEqual(t, len(data), 4000, p)
			assert.Regexp(t, codeRE, string(data), p)
		case ".html":
			assert.Contains(t, string(data), "<p>")
			assert.True(t, strings.HasSuffix(string(data), "</html>\n"))
		case ".docx":
			zr, err := zip.NewReader(strings.NewReader(string(data)), int64(len(data)))
			require.NoError(t, err, p)
			names := map[string]bool{}
			for _, f := range zr.File {
				names[f.Name] = true
			}
			assert.True(t, names["word/document.xml"], p)
			assert.True(t, names["[Content_Types].xml"], p)
		}
	}
	assert.ElementsMatch(t, []string{".md", ".txt", ".html", ".docx", ".xlsx", ".csv"}, keys(formats))
	assert.Equal(t, 2, formats[".xlsx"])
	assert.Equal(t, 11, st.Files)

	f, err := os.Open(filepath.Join(dir, "teams.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 10)
	assert.ElementsMatch(t, []string{"member_name", "project_code", "team_name", "role"}, rows[0])

	for _, tt := range []struct{ file, sheet string }{{"projects.xlsx", "Projects"}, {"managers.xlsx", "Managers"}} {
		x, err := excelize.OpenFile(filepath.Join(dir, tt.file))
		require.NoError(t, err)
		rows, err := x.GetRows(tt.sheet)
		require.NoError(t, err, tt.file)
		assert.GreaterOrEqual(t, len(rows), 2, tt.file)
		require.NoError(t, x.Close())
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name    string
		give    corpusgen.Options
		wantErr string
	}{
		{"unknown format", corpusgen.Options{Docs: 1, Formats: []string{"rtf"}}, `format "rtf"`},
		{"too many people", corpusgen.Options{Docs: 1, People: corpusgen.MaxPeople + 1}, "people"},
		{"too many projects", corpusgen.Options{Docs: 1, Projects: corpusgen.MaxProjects + 1}, "projects"},
		{"more teams than people", corpusgen.Options{Docs: 1, People: 2, Teams: 3}, "teams (3)"},
		{"negative docs", corpusgen.Options{Docs: -1}, "docs (-1)"},
		{"negative size", corpusgen.Options{Docs: 1, DocBytes: -5}, "doc bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := corpusgen.Generate(t.TempDir(), tt.give)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestGenerateDirErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o600))
	_, err := corpusgen.Generate(dir, corpusgen.Options{Docs: 1})
	require.ErrorContains(t, err, "not empty")

	_, err = corpusgen.Generate(filepath.Join(dir, "x", "sub"), corpusgen.Options{Docs: 1})
	require.Error(t, err, "a file in the way")
}

func TestGenerateSpreadsheetsOnly(t *testing.T) {
	st, err := corpusgen.Generate(t.TempDir(), corpusgen.Options{Spreadsheets: true})
	require.NoError(t, err)
	assert.Equal(t, 3, st.Files)
	assert.Zero(t, st.Documents)
	assert.Equal(t, corpusgen.DefaultPeople, st.Nodes["Person"])
	assert.Equal(t, corpusgen.DefaultProjects, st.Relationships["MANAGES"])
}
