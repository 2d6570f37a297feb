package parser_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/parser"
)

// encodedMapping maps plain.csv (UTF-8) and coded.csv (in encoding enc)
// alike: name (key), city and age (int), with delimiter delim; enc ""
// declares no encoding.
func encodedMapping(enc, delim string) string {
	source := func(name, file, csv string) string {
		return fmt.Sprintf(`
  - name: %s
    files: [%s]
    format: csv
    csv: {%s}
    columns:
      - {name: name, required: true}
      - {name: city}
      - {name: age, type: int}
    nodes:
      - label: Person
        key: name
        normalize: exact
        properties: [city, age]
`, name, file, csv)
	}
	coded := fmt.Sprintf("delimiter: %q", delim)
	if enc != "" {
		coded += fmt.Sprintf(", encoding: %q", enc)
	}
	return "sources:" + source("plain", "plain.csv", fmt.Sprintf("delimiter: %q", delim)) + source("coded", "coded.csv", coded)
}

// encodedRows is what Excel writes: CRLF line ends, a quoted value holding
// a line break, a blank line and a bad age on line 6.
const encodedRows = "name,city,age\r\n" +
	"Renée Dupré,Orléans,41\r\n" +
	"\"Müller\",\"Köln\r\nEhrenfeld\",38\r\n" +
	"\r\n" +
	"François Lefèvre,Besançon,vingt\r\n" +
	"Zoë Ångström,Malmö,29\r\n"

// personNodes lists the nodes of the records by key.
func personNodes(t *testing.T, p parsed) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range p.records {
		for _, n := range r.Nodes {
			out[n.Key] = normJSON(t, n.Properties)
		}
	}
	return out
}

func TestCSVDeclaredEncoding(t *testing.T) {
	utf16LE := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM)
	utf16BE := unicode.UTF16(unicode.BigEndian, unicode.UseBOM)
	tests := []struct {
		name  string
		enc   string // csv.encoding
		delim string
		give  encoding.Encoding // the file's encoding; a UseBOM encoder writes a BOM
		bare  bool              // UTF-16 without a byte order mark
		extra string            // rows only this encoding can write
		want  map[string]map[string]any
	}{
		{
			name: "windows-1252", enc: "windows-1252", delim: ",", give: charmap.Windows1252,
			extra: "Œuvre Café,€uro,7\r\n",
			want:  map[string]map[string]any{"Œuvre Café": {"city": "€uro", "age": 7.0}},
		},
		{name: "cp1252 alias", enc: "cp1252", delim: ",", give: charmap.Windows1252},
		{name: "latin-1", enc: "latin1", delim: ",", give: charmap.ISO8859_1},
		{name: "Unicode Text: UTF-16LE with BOM, tabs", enc: "utf-16", delim: "\t", give: utf16LE,
			extra: "李小龍,香港,32\r\n",
			want:  map[string]map[string]any{"李小龍": {"city": "香港", "age": 32.0}},
		},
		{name: "UTF-16BE with BOM", enc: "utf-16", delim: "\t", give: utf16BE},
		{name: "declared UTF-16LE with BOM", enc: "utf-16le", delim: "\t", give: utf16LE},
		{name: "declared UTF-16LE without BOM", enc: "utf-16le", delim: ",", give: utf16LE, bare: true},
		{name: "declared UTF-16BE without BOM", enc: "utf-16be", delim: ";", give: utf16BE, bare: true,
			extra: "Emoji 🙂,Zürich,1\r\n",
			want:  map[string]map[string]any{"Emoji 🙂": {"city": "Zürich", "age": 1.0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.ReplaceAll(encodedRows+tt.extra, ",", tt.delim)
			data, err := tt.give.NewEncoder().Bytes([]byte(text))
			require.NoError(t, err)
			if tt.bare {
				data = data[2:]
			}
			tmp := t.TempDir()
			s := newStructured(t, mustMapping(t, encodedMapping(tt.enc, tt.delim)), parser.StructuredConfig{TempDir: tmp})
			got, err := parseFile(t, s, "coded.csv", writeTemp(t, "coded.csv", string(data)))
			require.NoError(t, err)
			plain, err := parseFile(t, s, "plain.csv", writeTemp(t, "plain.csv", text))
			require.NoError(t, err)

			want := map[string]map[string]any{
				"Renée Dupré":  {"city": "Orléans", "age": 41.0},
				"Müller":       {"city": "Köln\r\nEhrenfeld", "age": 38.0},
				"Zoë Ångström": {"city": "Malmö", "age": 29.0},
			}
			for k, v := range tt.want {
				want[k] = v
			}
			assert.Equal(t, want, personNodes(t, got))
			assert.Equal(t, personNodes(t, plain), personNodes(t, got), "the same records as the UTF-8 file")
			wantRejected := []event.RowError{{Line: 6, Column: "age", Value: "vingt", Error: "not a whole number"}}
			assert.Equal(t, wantRejected, got.rejected(), "physical line of the original")
			assert.Equal(t, plain.rejected(), got.rejected())
			assert.Empty(t, utf8Copies(t, tmp), "the UTF-8 copy is removed")
		})
	}
}

// TestCSVDeclaredEncodingHeaderRow reads Excel's "Unicode Text" of a sheet
// with a title block: the UTF-8 copy keeps the lines, so header_row and
// row lines are the original file's.
func TestCSVDeclaredEncodingHeaderRow(t *testing.T) {
	m := strings.ReplaceAll(encodedMapping("utf-16", "\t"), "    format: csv\n", "    format: csv\n    header_row: 3\n")
	s := newStructured(t, mustMapping(t, m), parser.StructuredConfig{})
	text := strings.ReplaceAll("Équipes — Q3 2024\r\n\r\n"+encodedRows, ",", "\t")
	data, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	p, err := parseFile(t, s, "coded.csv", writeTemp(t, "coded.csv", string(data)))
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"Renée Dupré":  {"city": "Orléans", "age": 41.0},
		"Müller":       {"city": "Köln\r\nEhrenfeld", "age": 38.0},
		"Zoë Ångström": {"city": "Malmö", "age": 29.0},
	}, personNodes(t, p))
	assert.Equal(t, []event.RowError{{Line: 8, Column: "age", Value: "vingt", Error: "not a whole number"}}, p.rejected())
}

// utf8Copies lists the UTF-8 copies left in dir.
func utf8Copies(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "docgraph-utf8-") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func TestCSVUndeclaredEncodingRefused(t *testing.T) {
	data, err := charmap.Windows1252.NewEncoder().String(encodedRows)
	require.NoError(t, err)
	tmp := t.TempDir()
	s := newStructured(t, mustMapping(t, encodedMapping("", ",")), parser.StructuredConfig{TempDir: tmp})
	p, err := parseFile(t, s, "coded.csv", writeTemp(t, "coded.csv", data))
	requireRejected(t, p, err, "coded.csv: not UTF-8 text at line 2", "convert the file to UTF-8 or declare its encoding (csv.encoding)")
}

func TestCSVDeclaredEncodingErrors(t *testing.T) {
	le := func(s string) string {
		b, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(s)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name    string
		enc     string
		content string
		want    []string
	}{
		{
			name: "utf-16 without a byte order mark", enc: "utf-16", content: le("name,city\r\na,b\r\n")[2:],
			want: []string{"coded.csv: no UTF-16 byte order mark, which csv.encoding utf-16 requires; declare utf-16le or utf-16be"},
		},
		{
			name: "big-endian mark, declared little-endian", enc: "utf-16le", content: "\xFE\xFF\x00n",
			want: []string{"coded.csv: starts with a UTF-16BE byte order mark, but its mapping declares csv.encoding utf-16le"},
		},
		{
			name: "UTF-8 mark, declared windows-1252", enc: "windows-1252", content: "\xEF\xBB\xBFname\r\nRen\xc3\xa9e\r\n",
			want: []string{"coded.csv: starts with a UTF-8 byte order mark, but its mapping declares csv.encoding windows-1252"},
		},
		{
			name: "UTF-16 mark, declared latin-1", enc: "latin1", content: le("name\r\n"),
			want: []string{"coded.csv: starts with a UTF-16LE byte order mark, but its mapping declares csv.encoding iso-8859-1"},
		},
		{
			// FF FE, "name\r\n" (12 bytes), "a" (2), then a low surrogate
			// alone at byte offset 16 on line 2.
			name: "unpaired low surrogate", enc: "utf-16", content: le("name\r\na") + "\x00\xDC" + le("b\r\n")[2:],
			want: []string{"coded.csv: not UTF-16 text: unpaired surrogate 0xDC00 at byte offset 16 (line 2)"},
		},
		{
			name: "high surrogate before a letter", enc: "utf-16le", content: le("name\r\n")[2:] + "\x3D\xD8" + "b\x00",
			want: []string{"coded.csv: not UTF-16 text: unpaired surrogate 0xD83D at byte offset 12 (line 2)"},
		},
		{
			name: "high surrogate at the end", enc: "utf-16le", content: le("name\r\nx")[2:] + "\x3D\xD8",
			want: []string{"unpaired surrogate 0xD83D at byte offset 14 (line 2)"},
		},
		{
			name: "odd number of bytes", enc: "utf-16", content: le("name\r\nab") + "c",
			want: []string{"coded.csv: not UTF-16 text: odd number of bytes, the last (byte offset 18, line 2) is half a code unit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			s := newStructured(t, mustMapping(t, encodedMapping(tt.enc, ",")), parser.StructuredConfig{TempDir: tmp})
			p, err := parseFile(t, s, "coded.csv", writeTemp(t, "coded.csv", tt.content))
			requireRejected(t, p, err, tt.want...)
			assert.Empty(t, utf8Copies(t, tmp), "the UTF-8 copy is removed")
		})
	}
}

func TestCSVDeclaredEncodingCleanup(t *testing.T) {
	data, err := charmap.Windows1252.NewEncoder().String(encodedRows)
	require.NoError(t, err)
	file := writeTemp(t, "coded.csv", data)
	doc := event.NewDocument("coded.csv", "abc", int64(len(data)), 1)

	t.Run("error after transcoding", func(t *testing.T) {
		m := mustMapping(t, strings.Replace(encodedMapping("windows-1252", ","), "{name: city}", "{name: city}\n      - {name: born, required: true}", 2))
		tmp := t.TempDir()
		s := newStructured(t, m, parser.StructuredConfig{TempDir: tmp})
		_, err := parseFile(t, s, "coded.csv", file)
		require.ErrorContains(t, err, "missing required columns: born")
		assert.Empty(t, utf8Copies(t, tmp), "the UTF-8 copy is removed")
	})
	t.Run("reject_file reads one copy twice", func(t *testing.T) {
		m := mustMapping(t, strings.Replace(encodedMapping("windows-1252", ","), "format: csv", "format: csv\n    on_row_error: reject_file", 2))
		tmp := t.TempDir()
		s := newStructured(t, m, parser.StructuredConfig{TempDir: tmp})
		p, err := parseFile(t, s, "coded.csv", file)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "line 6")
		assert.Empty(t, p.msgs)
		assert.Empty(t, utf8Copies(t, tmp), "the UTF-8 copy is removed")
	})
	t.Run("canceled while reading", func(t *testing.T) {
		tmp := t.TempDir()
		s := newStructured(t, mustMapping(t, encodedMapping("windows-1252", ",")), parser.StructuredConfig{BatchSize: 1, TempDir: tmp})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := s.Parse(ctx, doc, file, func(pipeline.Message) error {
			cancel()
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, utf8Copies(t, tmp), "the UTF-8 copy is removed")
	})
	t.Run("canceled before", func(t *testing.T) {
		tmp := t.TempDir()
		s := newStructured(t, mustMapping(t, encodedMapping("windows-1252", ",")), parser.StructuredConfig{TempDir: tmp})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Parse(ctx, doc, file, func(pipeline.Message) error { return nil })
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, pipeline.IsPermanent(err))
		assert.Empty(t, utf8Copies(t, tmp), "the UTF-8 copy is removed")
	})
}
