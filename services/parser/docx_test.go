package parser

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/pipeline"
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
		{name: "breaks in a cell keep the row on one line", body: `<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Lina Farrell</w:t><w:br/><w:t>Project manager</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>PRJ-1</w:t><w:cr/><w:t>PRJ-2</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p><w:r><w:t>a</w:t><w:br/><w:t>b</w:t></w:r></w:p>`, want: "Lina Farrell Project manager | PRJ-1 PRJ-2\n\na\nb"},
		{name: "cells outside a row", body: `<w:tbl><w:tc><w:p><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tbl>`, want: "a | b"},
		{name: "text outside paragraphs", body: `<w:r><w:t>loose</w:t></w:r><w:p><w:r><w:t>para</w:t></w:r></w:p>`, want: "loose\n\npara"},
		{name: "deleted text and field codes", body: `<w:p><w:del><w:r><w:delText>gone</w:delText></w:r></w:del><w:r><w:instrText>HYPERLINK</w:instrText></w:r><w:r><w:t>kept</w:t></w:r></w:p>`, want: "kept"},
		{name: "deleted runs left out whatever holds their text", body: `<w:p><w:ins w:id="1"><w:r><w:t xml:space="preserve">Lina Farrell </w:t></w:r></w:ins><w:del w:id="2"><w:r><w:t xml:space="preserve">Paul Saito </w:t></w:r><w:r><w:tab/></w:r></w:del><w:r><w:t>manages PRJ-1.</w:t></w:r></w:p><w:tbl><w:tr><w:trPr><w:del w:id="3"/></w:trPr><w:tc><w:p><w:r><w:delText>Paul Saito</w:delText></w:r></w:p></w:tc></w:tr></w:tbl>`, want: "Lina Farrell manages PRJ-1."},
		{name: "deleted paragraph mark joins the next paragraph", body: `<w:p><w:pPr><w:rPr><w:del w:id="1"/></w:rPr></w:pPr><w:r><w:t xml:space="preserve">Lina </w:t></w:r></w:p><w:p><w:pPr><w:rPr><w:del w:id="2"/></w:rPr></w:pPr><w:r><w:t xml:space="preserve">Farrell </w:t></w:r></w:p><w:p><w:pPr><w:rPr><w:ins w:id="3"/></w:rPr></w:pPr><w:r><w:t>manages PRJ-1.</w:t></w:r></w:p><w:p><w:r><w:t>Next.</w:t></w:r></w:p>`, want: "Lina Farrell manages PRJ-1.\n\nNext."},
		{name: "deleted paragraph mark before a table or the end", body: `<w:p><w:pPr><w:rPr><w:del w:id="1"/></w:rPr></w:pPr><w:r><w:t>Before</w:t></w:r></w:p><w:tbl><w:tr><w:tc><w:p><w:pPr><w:rPr><w:del w:id="2"/></w:rPr></w:pPr><w:r><w:t>a</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b</w:t></w:r></w:p></w:tc></w:tr></w:tbl><w:p><w:pPr><w:rPr><w:del w:id="3"/></w:rPr></w:pPr><w:r><w:t>Last</w:t></w:r></w:p>`, want: "Before\n\na | b\n\nLast"},
		{name: "superscript and subscript runs stand apart", body: `<w:p><w:r><w:t>Lina Farrell</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:t>1</w:t></w:r><w:r><w:t xml:space="preserve"> manages PRJ-1234</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:t>2,3</w:t></w:r><w:r><w:t>. CO</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="subscript"/></w:rPr><w:t>2</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="baseline"/></w:rPr><w:t>x</w:t></w:r></w:p><w:p><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:t>a</w:t></w:r><w:r><w:t>b</w:t></w:r></w:p>`, want: "Lina Farrell 1 manages PRJ-1234 2,3 . CO 2 x\n\na b"},
		{name: "tracked move kept once, at its new place", body: `<w:p><w:moveFrom w:id="1"><w:r><w:t xml:space="preserve">Lina Farrell </w:t></w:r></w:moveFrom><w:r><w:t xml:space="preserve">manages PRJ-1</w:t></w:r><w:moveTo w:id="2"><w:r><w:t xml:space="preserve"> with Lina Farrell</w:t></w:r></w:moveTo><w:r><w:rPr><w:moveFrom w:id="3"/></w:rPr><w:t>.</w:t></w:r></w:p>`, want: "manages PRJ-1 with Lina Farrell."},
		{name: "ruby phonetic guide left out", body: `<w:p><w:ruby><w:rubyPr/><w:rt><w:r><w:t>やまだ</w:t></w:r></w:rt><w:rubyBase><w:r><w:t>山田</w:t></w:r></w:rubyBase></w:ruby><w:r><w:t>さん</w:t></w:r></w:p>`, want: "山田さん"},
		{name: "hyperlink, smart tag, simple field and content control text", body: `<w:sdt><w:sdtPr><w:alias w:val="Owner"/></w:sdtPr><w:sdtContent><w:p><w:r><w:t xml:space="preserve">Lina </w:t></w:r><w:hyperlink r:id="rId4"><w:r><w:t>Far</w:t></w:r></w:hyperlink><w:smartTag w:element="x"><w:r><w:t>rell</w:t></w:r></w:smartTag><w:fldSimple w:instr=" AUTHOR "><w:r><w:t xml:space="preserve"> Paul Saito</w:t></w:r></w:fldSimple></w:p></w:sdtContent></w:sdt>`, want: "Lina Farrell Paul Saito"},
		{name: "field results shown, the fields nested in an instruction not", body: `<w:p><w:r><w:t xml:space="preserve">Owner: </w:t></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> IF </w:instrText></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>MERGEFIELD owner</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>«owner»</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:instrText xml:space="preserve"> = "" "Paul Saito" "Lina Farrell" </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>Lina Farrell</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r><w:r><w:t xml:space="preserve"> manages PRJ-1.</w:t></w:r></w:p>`, want: "Owner: Lina Farrell manages PRJ-1."},
		{name: "field result over paragraphs", body: `<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>TOC \o "1-3"</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>Scope</w:t></w:r><w:r><w:tab/><w:t>1</w:t></w:r></w:p><w:p><w:r><w:t>Risks</w:t></w:r><w:r><w:tab/><w:t>2</w:t></w:r></w:p><w:p><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p><w:p><w:r><w:t>Body.</w:t></w:r></w:p>`, want: "Scope\t1\n\nRisks\t2\n\nBody."},
		{name: "field instruction without a result ends with its paragraph", body: `<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>SEQ</w:instrText></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>7</w:t></w:r></w:p><w:p><w:r><w:t>Lina Farrell manages PRJ-1.</w:t></w:r></w:p>`, want: "Lina Farrell manages PRJ-1."},
		{name: "symbols of the Symbol font read as their characters", body: `<w:p><w:r><w:t xml:space="preserve">Tolerance </w:t><w:sym w:font="Symbol" w:char="F0B1"/><w:t xml:space="preserve">5 </w:t><w:sym w:font="Symbol" w:char="F06D"/><w:t>m, </w:t><w:sym w:font="Symbol" w:char="44"/><w:t xml:space="preserve">T </w:t><w:sym w:font="Symbol" w:char="F0B3"/><w:t xml:space="preserve"> 2</w:t><w:sym w:font="Symbol" w:char="F0B0"/><w:t>C</w:t></w:r></w:p><w:p><w:r><w:t>Lina Farrell</w:t><w:sym w:font="Arial" w:char="2192"/><w:t>PRJ-1</w:t><w:sym w:font="Wingdings" w:char="F0FC"/></w:r><w:r><w:rPr><w:vanish/></w:rPr><w:sym w:font="Symbol" w:char="F061"/></w:r></w:p>`, want: "Tolerance ±5 μm, ΔT ≥ 2°C\n\nLina Farrell→PRJ-1"},
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

func TestExtractDocxParts(t *testing.T) {
	const (
		relsNS  = `xmlns="http://schemas.openxmlformats.org/package/2006/relationships"`
		relType = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
		types   = `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="xml" ContentType="application/xml"/><Default Extension="mht" ContentType="message/rfc822"/>` +
			`<Default Extension="txt" ContentType="text/plain"/><Default Extension="rtf" ContentType="application/rtf"/>` +
			`<Override PartName="/word/chunk1.htm" ContentType="text/html"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`
		// As html-docx-js writes it: MHTML, quoted-printable.
		mht = "MIME-Version: 1.0\r\nContent-Type: multipart/related;\r\n    type=\"text/html\";\r\n    boundary=\"----=mhtDocumentPart\"\r\n\r\n\r\n" +
			"------=mhtDocumentPart\r\nContent-Type: text/html;\r\n    charset=\"windows-1252\"\r\nContent-Transfer-Encoding: quoted-printable\r\nContent-Location: file:///C:/fake/document.html\r\n\r\n" +
			"<!DOCTYPE html><html><body><p>Ren=E9e Dupr=E9 manages <b>PRJ-2</b>=\r\n.</p><p class=3D\"x\">Second</p></body></html>\r\n\r\n------=mhtDocumentPart--\r\n"
	)
	ns := `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	doc := `<w:document ` + ns + `><w:body>` +
		`<w:p><w:r><w:t>Body by Lina Farrell</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>` +
		`<w:altChunk r:id="rIdHtml"/><w:altChunk r:id="rIdMht"/>` +
		`<w:tbl><w:tr><w:tc><w:altChunk r:id="rIdTxt"/><w:p/></w:tc><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl>` +
		`<w:altChunk r:id="rIdRtf"/><w:altChunk r:id="rIdMissing"/><w:altChunk r:id="rIdNone"/>` +
		`<w:p><w:r><w:t>End</w:t></w:r></w:p><w:sectPr><w:headerReference r:id="rIdHdr"/></w:sectPr></w:body></w:document>`
	docRels := `<Relationships ` + relsNS + `>` +
		`<Relationship Id="rIdFn" Type="` + relType + `footnotes" Target="footnotes.xml"/>` +
		`<Relationship Id="rIdEn" Type="` + relType + `endnotes" Target="/word/endnotes.xml"/>` +
		`<Relationship Id="rIdHdr" Type="` + relType + `header" Target="header1.xml"/>` +
		`<Relationship Id="rIdHtml" Type="` + relType + `aFChunk" Target="chunk1.htm"/>` +
		`<Relationship Id="rIdMht" Type="` + relType + `aFChunk" Target="/word/afchunk.mht"/>` +
		`<Relationship Id="rIdTxt" Type="` + relType + `aFChunk" Target="../word/chunk.txt"/>` +
		`<Relationship Id="rIdRtf" Type="` + relType + `aFChunk" Target="chunk.rtf"/>` +
		`<Relationship Id="rIdMissing" Type="` + relType + `aFChunk" Target="gone.htm"/>` +
		`</Relationships>`
	notes := func(kind string) string {
		return `<w:` + kind + `s ` + ns + `><w:` + kind + ` w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:` + kind + `>` +
			`<w:` + kind + ` w:id="1"><w:p><w:r><w:` + kind + `Ref/></w:r><w:r><w:t xml:space="preserve"> Interview with Paul Saito (` + kind + `).</w:t></w:r></w:p></w:` + kind + `></w:` + kind + `s>`
	}
	data := makeZip(t,
		zipEntry{"[Content_Types].xml", types},
		zipEntry{"_rels/.rels", docxRels},
		zipEntry{"word/document.xml", doc},
		zipEntry{"word/_rels/document.xml.rels", docRels},
		zipEntry{"word/footnotes.xml", notes("footnote")},
		zipEntry{"word/endnotes.xml", notes("endnote")},
		zipEntry{"word/header1.xml", `<w:hdr ` + ns + `><w:p><w:r><w:t>Header Person</w:t></w:r></w:p></w:hdr>`},
		zipEntry{"word/chunk1.htm", `<html><head><meta charset="utf-8"><style>p{}</style></head><body><h1>Imported</h1><p>Ines <i>Fos</i>ter leads PRJ-1.</p></body></html>`},
		zipEntry{"word/afchunk.mht", mht},
		zipEntry{"word/chunk.txt", "\xEF\xBB\xBFplain\r\nchunk"},
		zipEntry{"word/chunk.rtf", `{\rtf1 RTF Person}`},
	)
	got, err := ExtractText("x.docx", data)
	require.NoError(t, err)
	assert.Equal(t, "Body by Lina Farrell\n\nImported\n\nInes Foster leads PRJ-1.\n\nRenée Dupré manages PRJ-2.\n\nSecond\n\n"+
		"plain\nchunk | cell\n\nEnd\n\nInterview with Paul Saito (footnote).\n\nInterview with Paul Saito (endnote).", got)
}

func TestExtractDocxImportedDocument(t *testing.T) {
	ns := `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	// importing wraps body (a w:body's content, importing further
	// documents itself) into a .docx that imports inner as rId1.
	importing := func(body string, inner []byte) []byte {
		entries := []zipEntry{
			{"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="docx" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
			{"word/document.xml", `<w:document ` + ns + `><w:body>` + body + `</w:body></w:document>`},
		}
		if inner != nil {
			entries = append(entries,
				zipEntry{"word/_rels/document.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="part.docx"/></Relationships>`},
				zipEntry{"word/part.docx", string(inner)})
		}
		return makeZip(t, entries...)
	}
	para := func(s string) string { return `<w:p><w:r><w:t>` + s + `</w:t></w:r></w:p>` }
	inner := importing(para("Inner by Ines Foster"), nil)
	got, err := ExtractText("x.docx", importing(para("Outer")+`<w:altChunk r:id="rId1"/>`+para("After"), inner))
	require.NoError(t, err)
	assert.Equal(t, "Outer\n\nInner by Ines Foster\n\nAfter", got)

	deep := inner
	for range defaultDocxLimits.imports + 1 {
		deep = importing(`<w:altChunk r:id="rId1"/>`, deep)
	}
	_, err = ExtractText("x.docx", deep)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "documents imported deeper than 3 levels")
}

// TestExtractDocxImportsAreBoundedInAll: one small part imported many times
// over must not multiply into unbounded text.
func TestExtractDocxImportsAreBoundedInAll(t *testing.T) {
	ns := `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	part := "<p>" + strings.Repeat("Lina Farrell manages PRJ-1. ", 600) + "</p>" // about 16 KiB
	data := makeZip(t,
		zipEntry{"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="html" ContentType="text/html"/></Types>`},
		zipEntry{"word/document.xml", `<w:document ` + ns + `><w:body>` + strings.Repeat(`<w:altChunk r:id="rId1"/>`, 10) + `</w:body></w:document>`},
		zipEntry{"word/_rels/document.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="a.html"/></Relationships>`},
		zipEntry{"word/a.html", part},
	)
	lim := defaultDocxLimits
	lim.part, lim.total = 32<<10, 64<<10
	_, err := extractDocx(data, lim)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "word/a.html: the document's parts decompress to more than 65536 bytes in all")

	lim.total = 256 << 10
	got, err := extractDocx(data, lim)
	require.NoError(t, err)
	assert.Equal(t, 10*600, strings.Count(got, "manages PRJ-1"))
}

func TestExtractDocxBadImportedContent(t *testing.T) {
	ns := `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	data := makeZip(t,
		zipEntry{"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="html" ContentType="text/html"/></Types>`},
		zipEntry{"word/document.xml", `<w:document ` + ns + `><w:body><w:altChunk r:id="rId1"/></w:body></w:document>`},
		zipEntry{"word/_rels/document.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="a.html"/></Relationships>`},
		zipEntry{"word/a.html", "<p>caf\xE9</p>"},
	)
	_, err := ExtractText("x.docx", data)
	require.Error(t, err)
	assert.Equal(t, "x.docx: word/document.xml: imported content word/a.html: not valid UTF-8 at byte offset 6 (0xE9), and the document declares no charset (<meta charset>)", err.Error())
	assert.True(t, pipeline.IsPermanent(err))
}

// TestExtractDocxSinglePartMHTML: an imported web archive that is one HTML
// part, not a multipart message, is decoded from its transfer encoding
// too.
func TestExtractDocxSinglePartMHTML(t *testing.T) {
	ns := `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	tests := []struct {
		name string
		give string
	}{
		{"quoted-printable", "MIME-Version: 1.0\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"<p class=3D\"x\">Ren=C3=A9e Dupr=C3=A9 manages PRJ-=\r\n2.</p>\r\n"},
		{"base64", "MIME-Version: 1.0\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"PHAgY2xhc3M9IngiPlJlbsOpZSBEdXByw6kgbWFuYWdlcyBQUkotMi48L3A+\r\n"},
		{"8bit", "MIME-Version: 1.0\r\nContent-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			"<p class=\"x\">Renée Dupré manages PRJ-2.</p>\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := makeZip(t,
				zipEntry{"[Content_Types].xml", `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="mht" ContentType="message/rfc822"/></Types>`},
				zipEntry{"word/document.xml", `<w:document ` + ns + `><w:body><w:altChunk r:id="rId1"/></w:body></w:document>`},
				zipEntry{"word/_rels/document.xml.rels", `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/aFChunk" Target="a.mht"/></Relationships>`},
				zipEntry{"word/a.mht", tt.give},
			)
			got, err := ExtractText("x.docx", data)
			require.NoError(t, err)
			assert.Equal(t, "Renée Dupré manages PRJ-2.", got)
		})
	}
}

func TestExtractDocxHiddenByStyle(t *testing.T) {
	ns := `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`
	styles := `<w:styles ` + ns + `>` +
		`<w:style w:type="paragraph" w:styleId="Guidance"><w:name w:val="Guidance"/><w:rPr><w:vanish/><w:color w:val="0000FF"/></w:rPr></w:style>` +
		`<w:style w:type="paragraph" w:styleId="GuidanceNote"><w:basedOn w:val="Guidance"/></w:style>` +
		`<w:style w:type="paragraph" w:styleId="ShownNote"><w:basedOn w:val="Guidance"/><w:rPr><w:vanish w:val="0"/></w:rPr></w:style>` +
		`<w:style w:type="character" w:styleId="HiddenChar"><w:rPr><w:vanish/></w:rPr></w:style>` +
		`<w:style w:type="character" w:styleId="Shown"><w:rPr><w:vanish w:val="false"/></w:rPr></w:style>` +
		`<w:style w:type="character" w:styleId="Loop"><w:basedOn w:val="Loop"/></w:style>` +
		`</w:styles>`
	body := `<w:p><w:pPr><w:pStyle w:val="Guidance"/></w:pPr><w:r><w:t>Replace this with the owner, e.g. Paul Saito.</w:t></w:r></w:p>` +
		`<w:p><w:pPr><w:pStyle w:val="GuidanceNote"/></w:pPr><w:r><w:t>Amir van der Berg</w:t></w:r><w:r><w:rPr><w:rStyle w:val="Shown"/></w:rPr><w:t>Shown in a hidden paragraph.</w:t></w:r></w:p>` +
		`<w:p><w:pPr><w:pStyle w:val="ShownNote"/></w:pPr><w:r><w:t xml:space="preserve">Lina Farrell </w:t></w:r><w:r><w:rPr><w:rStyle w:val="HiddenChar"/></w:rPr><w:t>(draft: Paul Saito) </w:t></w:r><w:r><w:rPr><w:rStyle w:val="HiddenChar"/><w:vanish w:val="0"/></w:rPr><w:t xml:space="preserve">manages </w:t></w:r><w:r><w:rPr><w:rStyle w:val="Loop"/></w:rPr><w:t>PRJ-1.</w:t></w:r></w:p>`
	rels := `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
		`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`
	data := makeZip(t,
		zipEntry{"[Content_Types].xml", docxContentTypes},
		zipEntry{"_rels/.rels", docxRels},
		zipEntry{"word/document.xml", wordBody(body)},
		zipEntry{"word/_rels/document.xml.rels", rels},
		zipEntry{"word/styles.xml", styles},
	)
	got, err := ExtractText("x.docx", data)
	require.NoError(t, err)
	assert.Equal(t, "Shown in a hidden paragraph.\n\nLina Farrell manages PRJ-1.", got)
}
