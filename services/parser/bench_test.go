package parser

import (
	"strings"
	"testing"
)

// BenchmarkSplit splits the bad corpus's 5 MiB single-line text.
func BenchmarkSplit(b *testing.B) {
	text := string(corpusFile(b, "bad/input/huge-single-line.txt"))
	c := Chunker{Size: DefaultChunkSize, Overlap: DefaultChunkOverlap}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if len(c.Split(text)) == 0 {
			b.Fatal("no chunks")
		}
	}
}

// BenchmarkExtractHTML extracts a ~1 MiB page built from the sample
// corpus's risk register.
func BenchmarkExtractHTML(b *testing.B) {
	page := string(corpusFile(b, "sample/input/risks/risk-register-2024-02-21.html"))
	body := page[strings.Index(page, "<body>")+len("<body>") : strings.Index(page, "</body>")]
	src := "<html><body>" + strings.Repeat(body, (1<<20)/len(body)) + "</body></html>"
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ExtractText("page.html", []byte(src)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtractMarkdown extracts a ~1 MiB document built from the
// sample corpus's Markdown minutes.
func BenchmarkExtractMarkdown(b *testing.B) {
	doc := string(corpusFile(b, "sample/input/minutes/2024-02-14-steering-committee.md"))
	src := strings.Repeat(doc+"\n", (1<<20)/len(doc))
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ExtractText("minutes.md", []byte(src)); err != nil {
			b.Fatal(err)
		}
	}
}
