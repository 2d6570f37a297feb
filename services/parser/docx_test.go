package parser

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExtractDocx(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{name: "runs concatenated", body: `<w:p><w:r><w:t>Lina F</w:t></w:r><w:r><w:t xml:space="preserve">arrell leads PRJ-1.</w:t></w:r></w:p>`, want: "Lina Farrell leads PRJ-1."},
		{name: "paragraphs separated", body: `<w:p><w:r><w:t>One.</w:t></w:r></w:p><w:p/><w:p><w:r><w:t>Two.</w:t></w:r></w:p>`, want: "One.\n\nTwo."},
		{name: "tab and breaks", body: `<w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t><w:cr/><w:t>d</w:t></w:r></w:p>`, want: "a\tb\nc\nd"},
		{name: "tab stops are not text", body: `<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="1"/></w:tabs></w:pPr><w:r><w:t>x</w:t></w:r></w:p>`, want: "x"},
		{name: "table rows and cells", body: `<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>c</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>d</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p><w:r><w:t>after</w:t></w:r></w:p>`, want: "a | b\nc | d\n\nafter"},
		{name: "cells outside a row", body: `<w:tbl><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tbl>`, want: "a | b"},
		{name: "text outside paragraphs", body: `<w:r><w:t>loose</w:t></w:r><w:p><w:r><w:t>para</w:t></w:r></w:p>`, want: "loose\n\npara"},
		{name: "deleted text and field codes", body: `<w:p><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:r><w:instrText>HYPERLINK</w:instrText></w:r><w:r><w:t>kept</w:t></w:r></w:p>`, want: "kept"},
		{name: "tracked move kept once, at its new place", body: `<w:p><w:moveFrom w:id="1"><w:r><w:t xml:space="preserve">Lina Farrell </w:t></w:r></w:moveFrom><w:r><w:t xml:space="preserve">manages PRJ-1</w:t></w:r><w:moveTo w:id="2"><w:r><w:t xml:space="preserve"> with Lina Farrell</w:t></w:r></w:moveTo><w:r><w:rPr><w:moveFrom w:id="3"/></w:rPr><w:t>.</w:t></w:r></w:p>`, want: "manages PRJ-1 with Lina Farrell."},
		{name: "ruby phonetic guide left out", body: `<w:p><w:ruby><w:rubyPr/><w:rt><w:r><w:t>やまだ</w:t></w:r></w:rt><w:rubyBase><w:r><w:t>山田</w:t></w:r></w:rubyBase></w:ruby><w:r><w:t>さん</w:t></w:r></w:p>`, want: "山田さん"},
		{name: "hyperlink, smart tag, simple field and content control text", body: `<w:sdt><w:sdtPr><w:alias w:val="Owner"/></w:sdtPr><w:sdtContent><w:p><w:r><w:t xml:space="preserve">Lina </w:t></w:r><w:hyperlink r:id="rId4"><w:r><w:t>Far</w:t></w:r></w:hyperlink><w:smartTag w:element="x"><w:r><w:t>rell</w:t></w:r></w:smartTag><w:fldSimple w:instr=" AUTHOR "><w:r><w:t xml:space="preserve"> Paul Saito</w:t></w:r></w:fldSimple></w:p></w:sdtContent></w:sdt>`, want: "Lina Farrell Paul Saito"},
		{name: "hidden runs", body: `<w:p><w:r><w:rPr><w:vanish/></w:rPr><w:t>hidden</w:t></w:r><w:r><w:rPr><w:vanish w:val="0"/></w:rPr><w:t>shown</w:t></w:r></w:p>`, want: "shown"},
		{name: "no body text", body: `<w:sectPr/>`, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractDocx(makeDocx(t, wordBody(tt.body)), defaultDocxLimits)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestExtractDocxStrictNamespace(t *testing.T) {
	doc := `<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"><w:body><w:p><w:r><w:t>strict</w:t></w:r></w:p></w:body></w:document>`
	got, err := extractDocx(makeDocx(t, doc), defaultDocxLimits)
	require.NoError(t, err)
	assert.Equal(t, "strict", got)
}

func TestExtractDocxMainPartFromRelationships(t *testing.T) {
	rels := strings.Replace(docxRels, "word/document.xml", "/word/document2.xml", 1)
	data := makeZip(t,
		zipEntry{"_rels/.rels", rels},
		zipEntry{"word/document.xml", wordBody(`<w:p><w:r><w:t>wrong part</w:t></w:r></w:p>`)},
		zipEntry{"word/document2.xml", wordBody(`<w:p><w:r><w:t>main part</w:t></w:r></w:p>`)},
	)
	got, err := ExtractText("x.docx", data)
	require.NoError(t, err)
	assert.Equal(t, "main part", got)
}

func TestExtractDocxBadRelationshipsFallBack(t *testing.T) {
	data := makeZip(t,
		zipEntry{"_rels/.rels", "<Relationships><unclosed"},
		zipEntry{"word/document.xml", wordBody(`<w:p><w:r><w:t>fallback part</w:t></w:r></w:p>`)},
	)
	got, err := ExtractText("x.docx", data)
	require.NoError(t, err)
	assert.Equal(t, "fallback part", got)
}

func TestExtractDocxCaseInsensitiveEntry(t *testing.T) {
	data := makeZip(t, zipEntry{"Word/Document.xml", wordBody(`<w:p><w:r><w:t>found</w:t></w:r></w:p>`)})
	got, err := ExtractText("x.docx", data)
	require.NoError(t, err)
	assert.Equal(t, "found", got)
}

func TestExtractDocxErrors(t *testing.T) {
	small := docxLimits{part: 1 << 10, entries: 5, depth: 8}
	big := wordBody(`<w:p><w:r><w:t>` + strings.Repeat("x", 2<<10) + `</w:t></w:r></w:p>`)
	tests := []struct {
		name    string
		give    []byte
		lim     docxLimits
		wantErr string
	}{
		{name: "not a zip", give: []byte("PK but not really"), lim: defaultDocxLimits, wantErr: "not a Word document: not a zip archive"},
		{name: "truncated zip", give: makeDocx(t, wordBody(""))[:100], lim: defaultDocxLimits, wantErr: "not a zip archive"},
		{name: "zip without document", give: makeZip(t, zipEntry{"readme.txt", "hello"}), lim: defaultDocxLimits, wantErr: "not a Word document: no word/document.xml in the archive"},
		{name: "too many entries", give: makeZip(t, zipEntry{"a", ""}, zipEntry{"b", ""}, zipEntry{"c", ""}, zipEntry{"d", ""}, zipEntry{"e", ""}, zipEntry{"f", ""}), lim: small, wantErr: "archive has 6 entries (limit 5)"},
		{name: "part too large", give: makeDocx(t, big), lim: small, wantErr: "word/document.xml: decompressed size"},
		// archive/zip itself stops reading past the stated size.
		{name: "lying size header", give: lyingDocx(t, big), lim: small, wantErr: "word/document.xml: zip: not a valid zip file"},
		{name: "truncated xml", give: makeDocx(t, strings.TrimSuffix(wordBody(`<w:p><w:r><w:t>open`), "</w:body></w:document>")), lim: defaultDocxLimits, wantErr: "word/document.xml: XML syntax error on line 1: unexpected EOF"},
		{name: "xml syntax error", give: makeDocx(t, `<w:document><w:body><w:p></w:body>`), lim: defaultDocxLimits, wantErr: "word/document.xml: XML syntax error"},
		{name: "nesting too deep", give: makeDocx(t, wordBody(strings.Repeat("<w:p>", 20))), lim: small, wantErr: "word/document.xml: elements nested deeper than 8"},
		{name: "invalid UTF-8 in XML", give: makeDocx(t, wordBody("<w:p><w:r><w:t>caf\xE9</w:t></w:r></w:p>")), lim: defaultDocxLimits, wantErr: "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := extractDocx(tt.give, tt.lim)
			require.Error(t, err)
			assert.Empty(t, got)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// lyingDocx builds a .docx whose directory understates the decompressed
// size of word/document.xml.
func lyingDocx(t *testing.T, documentXML string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{
		Name:               "word/document.xml",
		Method:             zip.Store,
		CompressedSize64:   uint64(len(documentXML)),
		UncompressedSize64: 10, // a lie
	})
	require.NoError(t, err)
	_, err = w.Write([]byte(documentXML))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestLimitedPart(t *testing.T) {
	l := &limitedPart{rc: io.NopCloser(strings.NewReader("0123456789")), name: "word/document.xml", limit: 4, left: 4}
	_, err := io.ReadAll(l)
	require.EqualError(t, err, "word/document.xml: decompressed size exceeds the limit of 4 bytes")
	require.NoError(t, l.Close())

	l = &limitedPart{rc: io.NopCloser(strings.NewReader("0123")), name: "p", limit: 4, left: 4}
	got, err := io.ReadAll(l)
	require.NoError(t, err)
	assert.Equal(t, "0123", string(got))
}
