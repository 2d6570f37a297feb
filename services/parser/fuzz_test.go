package parser

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Seed corpora beyond the f.Add calls live in testdata/fuzz/<FuzzName>.

func FuzzSplit(f *testing.F) {
	f.Add("One. Two! Three? Four.", 16, 4)
	f.Add("Para one.\n\nPara two is here.\n\n\n# Heading\n\n- item\n- item two\n| a | b |", 20, 8)
	f.Add(strings.Repeat("word ", 100), 16, 8)
	f.Add(strings.Repeat("é", 50)+". "+strings.Repeat("x", 40), 16, 0)
	f.Add("Dr. J. Smith leads PRJ-1. 1. Next\n2. Item", 17, 5)
	f.Add("\xff\xfe bad. utf8\x80. ok", 16, 3)
	f.Fuzz(func(t *testing.T, text string, size, overlap int) {
		c := Chunker{Size: size % 5000, Overlap: overlap % 5000}
		spans := checkChunks(t, c, text)
		// Every sentence that was not cut lies wholly inside some chunk.
		s, hard, _ := c.limits()
		j := 0
		for _, u := range segment(text, s, hard) {
			if u.cut {
				continue
			}
			for j < len(spans) && spans[j].end < u.end {
				j++
			}
			if j == len(spans) || spans[j].start > u.start {
				t.Fatalf("sentence %q (%d-%d) is not inside one chunk", text[u.start:u.end], u.start, u.end)
			}
		}
	})
}

func FuzzExtractHTML(f *testing.F) {
	f.Add("<p>Con<b>nor</b> Ghosh</p><script>x</script><!-- c -->")
	f.Add("<table><tr><td>a<td>b<tr><td><p>c</table><pre>\n x</pre>")
	f.Add("<div hidden><div>x</div></div><template><template>y</template></template>z")
	f.Add("<p>&amp;&#39;&nbsp;&bogus; <br/>\n<x-y hidden>q</x-y></p><")
	f.Fuzz(func(t *testing.T, src string) {
		got := extractHTML(src)
		if got != strings.TrimSpace(got) {
			t.Fatalf("output has surrounding whitespace: %q", got)
		}
		if utf8.ValidString(src) && !utf8.ValidString(got) {
			t.Fatalf("valid input gave invalid UTF-8: %q", got)
		}
		if !strings.Contains(strings.ToLower(src), "<pre") && strings.Contains(got, "\n\n\n") {
			t.Fatalf("more than one blank line in a row: %q", got)
		}
		// The whole path must not panic either.
		if text, err := ExtractText("f.html", []byte(src)); err == nil {
			checkChunks(t, Chunker{Size: 64, Overlap: 16}, text)
		}
	})
}

func FuzzExtractDocx(f *testing.F) {
	f.Add(makeDocx(f, wordBody(`<w:p><w:r><w:t>Lina F</w:t></w:r><w:r><w:t>arrell</w:t></w:r></w:p>`)))
	f.Add(makeDocx(f, wordBody(`<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc></w:tr></w:tbl>`)))
	f.Add(makeZip(f, zipEntry{"readme.txt", "hello"}))
	f.Add([]byte("PK\x03\x04 not really"))
	f.Fuzz(func(t *testing.T, data []byte) {
		text, err := ExtractText("f.docx", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.docx: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if !utf8.ValidString(text) {
			t.Fatalf("invalid UTF-8 output: %q", text)
		}
		checkChunks(t, Chunker{Size: 64, Overlap: 16}, text)
	})
}

func FuzzExtractMarkdown(f *testing.F) {
	f.Add("See [a][b] and [![x](y)](z) <b>Far</b>rell &amp; [c](d_(e)).\n\n[b]: https://x \"t\"\n")
	f.Add("```\n<b>kept</b> [x](y)\n```\n[[[[[[[[[[x](y)](y)](y)](y)](y)](y)](y)](y)](y)](y)")
	f.Add("]( ][ ]] [( <a <a b=\"> </ &#x; &")
	f.Add("---\ntitle: x\n---\n# H\ntext[^1] `<i>c</i>`\n\n[^1]: note\n| a | b |\n| - | - |\n| c \\| d |\n")
	f.Add("- a\n  - b\n    1. c\n\n> q\n> > r\n\n<div>\n<p>x</p>\n\n*y*\n</div>\n    code\n&#0;&#xD800;&#99999999;")
	f.Fuzz(func(t *testing.T, src string) {
		got := extractMarkdown(src)
		if utf8.ValidString(src) && !utf8.ValidString(got) {
			t.Fatalf("valid input gave invalid UTF-8: %q", got)
		}
		if got != "" && (!strings.HasSuffix(got, "\n") || strings.HasSuffix(got, "\n\n")) {
			t.Fatalf("text does not end with exactly one line break: %q", got)
		}
		// The whole path must not panic either.
		if text, err := ExtractText("f.md", []byte(src)); err == nil {
			if !utf8.ValidString(text) {
				t.Fatalf("invalid UTF-8 output: %q", text)
			}
			checkChunks(t, Chunker{Size: 64, Overlap: 16}, text)
		}
	})
}

// FuzzExtractPDF reads arbitrary bytes as a PDF: PDFium, in WebAssembly,
// returns text that is valid UTF-8 or an error naming the file, within a
// bound. The engine is compiled once per fuzzing process, and each input
// takes milliseconds.
func FuzzExtractPDF(f *testing.F) {
	f.Add(simplePDF([]string{"Lina Farrell manages PRJ-1.\nSecond line", "Page two"}))
	f.Add(simplePDF([]string{"(unbalanced \\ text)"}))
	for _, name := range []string{"pdf/form.pdf", "pdf/paragraphs.pdf", "pdf/scan.pdf", "pdf/encrypted.pdf", "extract/status-report.pdf"} {
		data, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 1 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		type result struct {
			text string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			text, err := ExtractTextContext(ctx, "f.pdf", data)
			done <- result{text, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("ExtractTextContext did not return within 2m, its context bounding it to 1m")
		}
		if r.err != nil {
			if !strings.HasPrefix(r.err.Error(), "f.pdf: ") {
				t.Fatalf("error does not name the file: %v", r.err)
			}
			return
		}
		if !utf8.ValidString(r.text) {
			t.Fatalf("invalid UTF-8 output: %q", r.text)
		}
		checkChunks(t, Chunker{Size: 64, Overlap: 16}, r.text)
	})
}
