package parser

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/pipeline"
)

// TestExtractTextGolden extracts every file under testdata/extract and
// compares the text with <file>.golden.txt (go test -update rewrites them).
// A file named x.docx.xml is wrapped into a .docx archive called x.docx.
func TestExtractTextGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "extract", "*"))
	require.NoError(t, err)
	var inputs []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.txt") {
			inputs = append(inputs, f)
		}
	}
	require.NotEmpty(t, inputs)
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			data, err := os.ReadFile(in)
			require.NoError(t, err)
			name := filepath.Base(in)
			if strings.HasSuffix(name, ".docx.xml") {
				name = strings.TrimSuffix(name, ".xml")
				data = makeDocx(t, string(data))
			}
			got, err := ExtractText(name, data)
			require.NoError(t, err)
			golden := in + ".golden.txt"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden file")
			assert.Equal(t, string(want), got)
		})
	}
}

func TestExtractTextContent(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		give    string
		want    []string // substrings that must be present
		wantNot []string // substrings that must be absent
	}{
		{
			name:    "txt keeps text, strips BOM, normalises line ends",
			file:    "a.txt",
			give:    "\uFEFFLine one\r\nLine two\rLine three\n",
			want:    []string{"Line one\nLine two\nLine three"},
			wantNot: []string{"\r", "\uFEFF"},
		},
		{
			name: "upper-case extension",
			file: "NOTES.TXT",
			give: "Emily Rossi leads PRJ-1234.",
			want: []string{"Emily Rossi leads PRJ-1234."},
		},
		{
			name: "csv is plain text",
			file: "report.csv",
			give: "id,summary\n1,All good\n",
			want: []string{"id,summary\n1,All good"},
		},
		{
			name:    "markdown strong emphasis and headings",
			file:    "m.md",
			give:    "## Owner\n\nAttendees: **Emily Rossi**, __Lina Farrell__.\n",
			want:    []string{"Owner\n\nAttendees: Emily Rossi, Lina Farrell."},
			wantNot: []string{"#", "**", "__"},
		},
		{
			name:    "markdown heading with closing hashes and deep levels",
			file:    "m.markdown",
			give:    "###### Six ######\n####### seven\n#hashtag\n",
			want:    []string{"Six\n\n####### seven\n#hashtag"},
			wantNot: []string{"Six #"},
		},
		{
			name:    "markdown links keep their text only",
			file:    "m.md",
			give:    "See [PRJ-7770](https://x.example/PRJ-9999) and ![alt text](PRJ-8888.png) and [broken](no end.\n",
			want:    []string{"See PRJ-7770 and alt text and [broken](no end."},
			wantNot: []string{"PRJ-9999", "PRJ-8888"},
		},
		{
			name:    "markdown tables keep cell separators, drop delimiter rows",
			file:    "m.md",
			give:    "| a | b |\n| --- | :-: |\n| Hannah O'Neill | 2024 |\n",
			want:    []string{"| a | b |\n| Hannah O'Neill | 2024 |"},
			wantNot: []string{"---"},
		},
		{
			name:    "markdown comments removed, also unterminated at the start of a line",
			file:    "m.md",
			give:    "Before <!-- Chidi Vasquez --> after.\n\nText\n\n<!-- open to the end\n\nPRJ-9514",
			want:    []string{"Before  after.\n\nText\n"},
			wantNot: []string{"Chidi", "PRJ-9514"},
		},
		{
			name:    "markdown reference links keep their text, definitions are not shown",
			file:    "m.md",
			give:    "See [the plan][plan] by [Lina Farrell][] and [PRJ-7770].\n\n[plan]: https://x.example/PRJ-9999 \"Plan PRJ-8888\"\n  [Lina Farrell]: <mailto:lina@x.example>\n[PRJ-7770]: https://x.example/PRJ-7777\n[^1]: Footnote by Paul Saito.\n",
			want:    []string{"See the plan by Lina Farrell and PRJ-7770.", "Footnote by Paul Saito."},
			wantNot: []string{"PRJ-9999", "PRJ-8888", "PRJ-7777", "mailto"},
		},
		{
			name:    "markdown link around an image (badge) keeps no target",
			file:    "m.md",
			give:    "[![Build PRJ-1111](https://img.example/PRJ-2222.svg)](https://ci.example/PRJ-3333) done\n",
			want:    []string{"Build PRJ-1111 done"},
			wantNot: []string{"PRJ-2222", "PRJ-3333", "](", "["},
		},
		{
			name:    "markdown link target with parentheses",
			file:    "m.md",
			give:    "See [Go](https://en.wikipedia.org/wiki/Go_(PRJ-9999)) and [x](<a b PRJ-8888>) now.\n",
			want:    []string{"See Go and x now."},
			wantNot: []string{"PRJ-9999", "PRJ-8888", ")"},
		},
		{
			name:    "markdown inline HTML: tags removed, entities decoded",
			file:    "m.md",
			give:    "Owner: <span style=\"color:red\">Lina</span> <b>Far</b>rell&nbsp;&amp; <a href=\"https://x.example/PRJ-9999\">Paul Saito</a><br>next<img src=\"PRJ-8888.png\">\n<div align=\"center\">\n<p>O&#39;Neill</p>\n</div>\n\nAuto <https://x.example/PRJ-7770> and <ann@x.example>\n",
			want:    []string{"Owner: Lina Farrell\u00a0& Paul Saito next", "O'Neill", "Auto https://x.example/PRJ-7770 and ann@x.example"},
			wantNot: []string{"<b>", "</span>", "PRJ-9999", "PRJ-8888", "&amp;", "<div", "<p>"},
		},
		{
			name: "markdown fenced code kept as is",
			file: "m.md",
			give: "```\n# not a heading **x**\n```\n",
			want: []string{"# not a heading **x**"},
		},
		{
			name:    "markdown thematic breaks and setext underlines become blank lines",
			file:    "m.md",
			give:    "Title\n=====\nText\n\n- - -\n\nMore\n",
			want:    []string{"Title\n\nText"},
			wantNot: []string{"==", "- - -"},
		},
		{
			name:    "markdown snake case keeps double underscores inside words",
			file:    "m.md",
			give:    "The snake__case name and __init__ here.",
			want:    []string{"snake__case", " init here"},
			wantNot: []string{"__init"},
		},
		{
			name:    "txt in UTF-16LE with a BOM (Notepad's Unicode)",
			file:    "notepad.txt",
			give:    "\xFF\xFEZ\x00o\x00\xEB\x00 \x00K\x00\r\x00\n\x00P\x00R\x00J\x00-\x001\x00",
			want:    []string{"Zoë K\nPRJ-1"},
			wantNot: []string{"\uFEFF", "\x00", "\r"},
		},
		{
			name:    "markdown in UTF-16BE with a BOM",
			file:    "m.md",
			give:    "\xFE\xFF\x00#\x00 \x00*\x00*\x00Z\x00o\x00\xEB\x00*\x00*",
			want:    []string{"Zoë"},
			wantNot: []string{"#", "**", "\uFEFF"},
		},
		{
			name: "html meta charset windows-1252",
			file: "w.html",
			give: "<html><head><meta charset=\"windows-1252\"><title>Caf\xE9</title></head><body><p>\x93Ren\xE9e Dupr\xE9\x94 \x96 PRJ-1</p>",
			want: []string{"Café\n\n“Renée Dupré” – PRJ-1"},
		},
		{
			name: "html http-equiv charset iso-8859-1 (Word's Save as Web Page)",
			file: "w.htm",
			give: "<html xmlns:o=\"urn:schemas-microsoft-com:office:office\">\r\n<head>\r\n<meta http-equiv=Content-Type content=\"text/html; charset=iso-8859-1\">\r\n</head><body><p class=MsoNormal>J\xFCrgen M\xFCller<o:p></o:p></p>",
			want: []string{"Jürgen Müller"},
		},
		{
			name: "html meta charset shift_jis",
			file: "j.html",
			give: "<meta charset=shift_jis><p>\x93\x8C\x8B\x9E PRJ-1</p>",
			want: []string{"東京 PRJ-1"},
		},
		{
			name:    "html in UTF-8 under a stale legacy charset stays UTF-8",
			file:    "s.html",
			give:    "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><p>Ren\xC3\xA9e Dupr\xC3\xA9</p>",
			want:    []string{"Renée Dupré"},
			wantNot: []string{"Ã"},
		},
		{
			name: "html in a 7-bit charset (ISO-2022-JP)",
			file: "jis.html",
			give: "<meta charset=iso-2022-jp><p>\x1b$BEl5~\x1b(B PRJ-1</p>",
			want: []string{"東京 PRJ-1"},
		},
		{
			name: "html in UTF-16LE with a BOM",
			file: "u.html",
			give: "\xFF\xFE<\x00p\x00>\x00Z\x00o\x00\xEB\x00",
			want: []string{"Zoë"},
		},
		{
			name:    "html UTF-8 BOM wins over a meta charset",
			file:    "b.html",
			give:    "\xEF\xBB\xBF<meta charset=windows-1252><p>Zo\xC3\xAB</p>",
			want:    []string{"Zoë"},
			wantNot: []string{"\uFEFF"},
		},
		{
			name: "htm extension",
			file: "page.HTM",
			give: "<p>Hello <b>W</b>orld</p>",
			want: []string{"Hello World"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractText(tt.file, []byte(tt.give))
			require.NoError(t, err)
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
			for _, w := range tt.wantNot {
				assert.NotContains(t, got, w)
			}
		})
	}
}

func TestExtractTextErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		give    []byte
		wantErr string
		wantIs  error
	}{
		{name: "zero bytes", file: "dir/empty.txt", give: nil, wantErr: "dir/empty.txt: empty", wantIs: errEmpty},
		{name: "only whitespace", file: "blank.md", give: []byte(" \r\n\t\n"), wantErr: "blank.md: empty", wantIs: errEmpty},
		{name: "only a BOM", file: "bom.txt", give: []byte("\xEF\xBB\xBF\n"), wantErr: "bom.txt: empty", wantIs: errEmpty},
		{name: "NUL byte", file: "nul.txt", give: []byte("text\x00more"), wantErr: "nul.txt: binary content, not text", wantIs: errBinary},
		{name: "UTF-16LE without a BOM", file: "u16le.txt", give: []byte("N\x00o\x00r\x00a\x00 \x00\xe9\x00\r\x00\n\x00"), wantErr: "u16le.txt: binary content, not text: every other byte is NUL, as in UTF-16LE text without a byte order mark; save the file as UTF-8, or as UTF-16 with a byte order mark", wantIs: errBinary},
		{name: "UTF-16BE without a BOM", file: "u16be.md", give: []byte("\x00N\x00o\x00r\x00a"), wantErr: "u16be.md: binary content, not text: every other byte is NUL, as in UTF-16BE text without a byte order mark", wantIs: errBinary},
		{name: "PNG magic", file: "image.md", give: []byte("\x89PNG\r\n\x1a\nabc"), wantErr: "image.md: binary content, not text", wantIs: errBinary},
		{name: "PDF magic", file: "doc.txt", give: []byte("%PDF-1.7 text"), wantErr: "doc.txt: binary content, not text", wantIs: errBinary},
		{name: "control characters", file: "ctl.txt", give: []byte("a\x01\x02\x03\x04b"), wantErr: "ctl.txt: binary content, not text", wantIs: errBinary},
		{name: "UTF-16 BOM only", file: "u16.txt", give: []byte("\xFF\xFE\r\x00\n\x00"), wantErr: "u16.txt: empty", wantIs: errEmpty},
		{name: "UTF-16 NUL character", file: "u16.md", give: []byte("\xFE\xFF\x00a\x00\x00\x00b"), wantErr: "u16.md: binary content, not text", wantIs: errBinary},
		{name: "html without charset", file: "l1.html", give: []byte("<p>caf\xE9</p>"), wantErr: "l1.html: not valid UTF-8 at byte offset 6 (0xE9), and the document declares no charset (<meta charset>)"},
		{name: "html declaring UTF-8", file: "u8.html", give: []byte("<meta charset=utf-8><p>caf\xE9</p>"), wantErr: "u8.html: not valid UTF-8 at byte offset 26 (0xE9)"},
		{name: "html charset browsers refuse", file: "kr.html", give: []byte("<meta charset=iso-2022-kr><p>x</p>"), wantErr: "kr.html: declared charset is not supported"},
		{name: "latin-1 byte", file: "l1.txt", give: []byte("caf\xE9 au lait"), wantErr: "l1.txt: not valid UTF-8 at byte offset 3 (0xE9)"},
		{name: "truncated sequence at the end", file: "t.html", give: []byte("<p>ok \xE2\x82"), wantErr: "t.html: not valid UTF-8 at byte offset 6 (0xE2)"},
		{name: "offset counts the BOM", file: "b.txt", give: []byte("\xEF\xBB\xBFab\xFF"), wantErr: "b.txt: not valid UTF-8 at byte offset 5 (0xFF)"},
		{name: "unsupported extension", file: "slides.pptx", give: []byte("x"), wantErr: `slides.pptx: unsupported format ".pptx"`, wantIs: errUnsupported},
		{name: "xlsx is not text", file: "book.xlsx", give: []byte("x"), wantErr: `book.xlsx: unsupported format ".xlsx"`, wantIs: errUnsupported},
		{name: "no extension", file: "README", give: []byte("x"), wantErr: "README: unsupported format: no file extension", wantIs: errUnsupported},
		{name: "html without visible text", file: "s.html", give: []byte("<script>var a = 1</script><!-- c -->"), wantErr: "s.html: no text content", wantIs: errNoText},
		{name: "markdown without text", file: "r.md", give: []byte("---\n\n***\n"), wantErr: "r.md: no text content", wantIs: errNoText},
		{name: "docx not a zip", file: "x.docx", give: []byte("plain text"), wantErr: "x.docx: not a Word document: not a zip archive", wantIs: errNotDocx},
		{name: "docx empty", file: "x.docx", give: nil, wantErr: "x.docx: empty", wantIs: errEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractText(tt.file, tt.give)
			require.Error(t, err)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), tt.file+": "), "error %q must start with the file name", err)
			assert.True(t, pipeline.IsPermanent(err), "error must be permanent")
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

// TestExtractTextBadCorpus checks the bad corpus's rejected text files.
func TestExtractTextBadCorpus(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string
	}{
		{file: "empty.txt", wantErr: "empty.txt: empty"},
		{file: "notes.txt", wantErr: "notes.txt: binary content, not text"},
		{file: "minutes/latin1-minutes.txt", wantErr: "minutes/latin1-minutes.txt: not valid UTF-8 at byte offset 82 (0xE9)"},
		{file: "broken.docx", wantErr: "broken.docx: not a Word document: no word/document.xml in the archive"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := corpusFile(t, "bad/input/"+tt.file)
			_, err := ExtractText(tt.file, data)
			require.Error(t, err)
			assert.Equal(t, tt.wantErr, err.Error())
			assert.True(t, pipeline.IsPermanent(err))
		})
	}
}

// TestExtractTextBadCorpusIngest checks that the bad corpus's odd but valid
// documents are read normally.
func TestExtractTextBadCorpusIngest(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{file: "Überprüfung Protokoll – März 2024 (Entwurf) ✓.md"},
		{file: "teams_overview.md"},
		{file: "people_notes.txt"},
		{file: "minutes/2024-01-27-controls-meeting.docx"},
		{file: "huge-single-line.txt", want: "PRJ-4489 is managed by Karin dos Santos until the handover to operations."},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ExtractText(tt.file, corpusFile(t, "bad/input/"+tt.file))
			require.NoError(t, err)
			assert.NotEmpty(t, strings.TrimSpace(got))
			assert.Contains(t, got, tt.want)
		})
	}
}

func TestEncodingErrorMessage(t *testing.T) {
	err := checkUTF8([]byte("ok\xC3"))
	var enc *encodingError
	require.True(t, errors.As(err, &enc))
	assert.Equal(t, 2, enc.Offset)
	assert.Equal(t, byte(0xC3), enc.Byte)
	assert.NoError(t, checkUTF8([]byte("ünïcödé ✓")))
}

// Formats lists what the parser reads, which the watcher publishes: every
// document format is extracted, every spreadsheet format is a table, and a
// format not listed is unsupported.
func TestFormats(t *testing.T) {
	for _, f := range Formats() {
		if IsSpreadsheet(f) {
			continue
		}
		_, err := ExtractTextContext(t.Context(), "x."+f, []byte("not a valid file of this format"))
		assert.False(t, errors.Is(err, errUnsupported), "%s: %v", f, err)
	}
	for _, f := range []string{"csv", "xlsx"} {
		assert.Contains(t, Formats(), f)
		assert.True(t, IsSpreadsheet(f), f)
	}
	for _, f := range []string{"png", "zip", "", "doc"} {
		assert.NotContains(t, Formats(), f)
		_, err := ExtractTextContext(t.Context(), "x."+f, []byte("text"))
		assert.ErrorIs(t, err, errUnsupported, f)
	}
}
