package parser

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
)

// docxLimits bound what a .docx may make the parser read.
type docxLimits struct {
	part    int64 // decompressed size of an XML part
	entries int   // entries in the archive
	depth   int   // XML element nesting
	imports int   // levels of .docx packages imported into one another
	total   int64 // decompressed bytes of all parts together, imports included
}

// defaultDocxLimits are the limits ExtractText applies.
var defaultDocxLimits = docxLimits{part: 64 << 20, entries: 10000, depth: 512, imports: 3, total: 256 << 20}

// WordprocessingML namespaces whose text elements are document text.
const (
	nsWordTransitional = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
	nsWordStrict       = "http://purl.oclc.org/ooxml/wordprocessingml/main"
	nsMath             = "http://schemas.openxmlformats.org/officeDocument/2006/math"
	nsMarkup           = "http://schemas.openxmlformats.org/markup-compatibility/2006"
	nsRelTransitional  = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsRelStrict        = "http://purl.oclc.org/ooxml/officeDocument/relationships"
)

var errNotDocx = errors.New("not a Word document")

// extractDocx returns the text of the main document part of a .docx,
// then of its footnotes and endnotes: one paragraph per block separated by
// blank lines, the runs of a paragraph concatenated (runs may split a
// word; a superscript or subscript run, such as a footnote mark typed
// after a name, stands apart), tabs and breaks kept, symbols of the
// Symbol font (w:sym: Greek letters, ±, °) as their characters, and tables
// one row per line with cells separated by " | " (a break in a cell is a
// space, as between a cell's paragraphs). Tracked changes read as
// accepted: deleted revisions and the source of tracked moves are left
// out, and a paragraph whose mark is deleted runs on into the next one.
// Field instructions (with the fields nested in them), hidden runs,
// phonetic guides and the fallback copies of text boxes are left out; so
// are headers, footers and comments (page furniture and review notes, not
// what the document says). Imported
// content (w:altChunk, as web applications export HTML to Word) is read
// in place when it is HTML, MHTML, plain text or WordprocessingML; other
// formats (RTF) are skipped.
func extractDocx(data []byte, lim docxLimits) (string, error) {
	left := lim.total
	if left <= 0 {
		left = math.MaxInt64
	}
	return extractDocxWithin(data, lim, &left)
}

// extractDocxWithin is extractDocx reading at most *left decompressed
// bytes, shared with the documents it imports: content imported many
// times over (a small part named by many w:altChunk elements, or nested
// packages) must not multiply into unbounded text.
func extractDocxWithin(data []byte, lim docxLimits, left *int64) (string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return "", errEmpty
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: not a zip archive: %w", errNotDocx, err)
	}
	if len(zr.File) > lim.entries {
		return "", fmt.Errorf("%w: archive has %d entries (limit %d)", errNotDocx, len(zr.File), lim.entries)
	}
	pkg := &docxPackage{zr: zr, lim: lim, left: left}
	name := pkg.mainPart()
	if findEntry(zr, name) == nil {
		return "", fmt.Errorf("%w: no %s in the archive", errNotDocx, name)
	}
	rels := pkg.rels(name)
	pkg.hidden = pkg.hiddenStyles(rels)
	text, err := pkg.partText(name, rels)
	if err != nil {
		return "", err
	}
	parts := []string{text}
	for _, typ := range []string{"/footnotes", "/endnotes"} {
		for _, r := range rels {
			if !strings.HasSuffix(r.Type, typ) || r.External() || findEntry(zr, r.target) == nil {
				continue
			}
			notes, err := pkg.partText(r.target, nil)
			if err != nil {
				return "", err
			}
			parts = append(parts, notes)
		}
	}
	return normaliseNewlines(strings.TrimSpace(strings.Join(parts, "\n\n"))), nil
}

// docxPackage reads the parts of a .docx archive.
type docxPackage struct {
	zr    *zip.Reader
	lim   docxLimits
	left  *int64            // decompressed bytes this document may still read
	types map[string]string // content type by part name ("word/x.html") or by "*.ext"

	// hidden tells by style ID whether a style's text is hidden (w:vanish,
	// its own or inherited through w:basedOn), for the styles that say.
	hidden map[string]bool
}

// docxRel is a package relationship, its target resolved to a part name.
type docxRel struct {
	ID         string `xml:"Id,attr"`
	Type       string `xml:"Type,attr"`
	Target     string `xml:"Target,attr"`
	TargetMode string `xml:"TargetMode,attr"`
	target     string
}

// External reports a relationship to something outside the package (a
// hyperlink's URL).
func (r docxRel) External() bool { return strings.EqualFold(r.TargetMode, "External") }

// partText returns the text of the WordprocessingML part called name,
// whose relationships (for imported content) are rels.
func (p *docxPackage) partText(name string, rels []docxRel) (string, error) {
	f := findEntry(p.zr, name)
	rc, err := p.open(f)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	text, err := docxText(rc, p.lim.depth, p.hidden, func(id string) (string, error) { return p.altChunk(rels, id) })
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Name, err)
	}
	return text, nil
}

// mainPart finds the main document part through the package relationships
// (_rels/.rels), falling back to word/document.xml.
func (p *docxPackage) mainPart() string {
	for _, r := range p.rels("") {
		if strings.HasSuffix(r.Type, "/officeDocument") && r.Target != "" && !r.External() {
			return r.target
		}
	}
	return "word/document.xml"
}

// decodePart decodes the XML part called name into v; false if the part
// is missing or unreadable.
func (p *docxPackage) decodePart(name string, v any) bool {
	f := findEntry(p.zr, name)
	if f == nil {
		return false
	}
	rc, err := p.open(f)
	if err != nil {
		return false
	}
	defer rc.Close()
	return xml.NewDecoder(rc).Decode(v) == nil
}

// rels reads the relationships of the part called name ("" for the
// package's own); none if they are missing or unreadable.
func (p *docxPackage) rels(name string) []docxRel {
	dir, base := path.Split(name)
	var doc struct {
		Rel []docxRel `xml:"Relationship"`
	}
	if !p.decodePart(dir+"_rels/"+base+".rels", &doc) {
		return nil
	}
	for i := range doc.Rel {
		r := &doc.Rel[i]
		t := r.Target
		if !strings.HasPrefix(t, "/") {
			t = "/" + dir + t
		}
		r.target = strings.TrimPrefix(path.Clean(t), "/")
	}
	return doc.Rel
}

// hiddenStyles reads the styles part that the main part's relationships
// rels name (else word/styles.xml) and tells by style ID whether a style
// hides its text; none if the part is missing or unreadable.
func (p *docxPackage) hiddenStyles(rels []docxRel) map[string]bool {
	name := "word/styles.xml"
	for _, r := range rels {
		if strings.HasSuffix(r.Type, "/styles") && !r.External() {
			name = r.target
		}
	}
	type val struct {
		Val *string `xml:"val,attr"`
	}
	var doc struct {
		Style []struct {
			ID      string `xml:"styleId,attr"`
			BasedOn val    `xml:"basedOn"`
			Vanish  *val   `xml:"rPr>vanish"`
		} `xml:"style"`
	}
	if !p.decodePart(name, &doc) {
		return nil
	}
	basedOn := map[string]string{}
	own := map[string]bool{}
	for _, st := range doc.Style {
		if st.BasedOn.Val != nil {
			basedOn[st.ID] = *st.BasedOn.Val
		}
		if v := st.Vanish; v != nil {
			own[st.ID] = v.Val == nil || !slices.Contains([]string{"0", "false", "off"}, strings.ToLower(*v.Val))
		}
	}
	hidden := map[string]bool{}
	for _, st := range doc.Style {
		// A style inherits what the nearest style it is based on says;
		// chains are short, and a cycle of w:basedOn says nothing.
		id := st.ID
		for range 64 {
			if v, ok := own[id]; ok {
				hidden[st.ID] = v
				break
			}
			if id = basedOn[id]; id == "" {
				break
			}
		}
	}
	return hidden
}

// contentType returns the declared content type of the part called name,
// lower case and without parameters, or "".
func (p *docxPackage) contentType(name string) string {
	if p.types == nil {
		p.types = map[string]string{}
		var doc struct {
			Default []struct {
				Extension   string `xml:",attr"`
				ContentType string `xml:",attr"`
			}
			Override []struct {
				PartName    string `xml:",attr"`
				ContentType string `xml:",attr"`
			}
		}
		if p.decodePart("[Content_Types].xml", &doc) {
			for _, d := range doc.Default {
				p.types["*."+strings.ToLower(d.Extension)] = d.ContentType
			}
			for _, o := range doc.Override {
				p.types[strings.ToLower(strings.TrimPrefix(o.PartName, "/"))] = o.ContentType
			}
		}
	}
	ct, ok := p.types[strings.ToLower(name)]
	if !ok {
		ct = p.types["*."+strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))]
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// altChunk returns the text of the imported content that relationship id
// names: "" when it names nothing in the package or a format not read.
func (p *docxPackage) altChunk(rels []docxRel, id string) (string, error) {
	i := slices.IndexFunc(rels, func(r docxRel) bool { return r.ID == id })
	if i < 0 || rels[i].External() {
		return "", nil
	}
	f := findEntry(p.zr, rels[i].target)
	if f == nil {
		return "", nil
	}
	ct := p.contentType(f.Name)
	var read func([]byte) (string, error)
	switch {
	case ct == "text/html" || ct == "application/xhtml+xml":
		read = htmlText
	case ct == "text/plain":
		read = decodeText
	case ct == "message/rfc822" || ct == "multipart/related":
		read = mhtmlText
	case strings.HasPrefix(ct, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"):
		read = p.importedDocument
	default:
		return "", nil
	}
	rc, err := p.open(f)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return "", err
	}
	text, err := read(data)
	if errors.Is(err, errEmpty) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("imported content %s: %w", f.Name, err)
	}
	return text, nil
}

// importedDocument returns the text of an imported Word document: a whole
// .docx package (as the Open XML SDK imports documents, under the main
// part's content type), or a main part alone.
func (p *docxPackage) importedDocument(data []byte) (string, error) {
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return docxText(bytes.NewReader(data), p.lim.depth, nil, nil)
	}
	if p.lim.imports <= 0 {
		return "", fmt.Errorf("documents imported deeper than %d levels", defaultDocxLimits.imports)
	}
	lim := p.lim
	lim.imports--
	return extractDocxWithin(data, lim, p.left)
}

// open opens part f within the limit of one part and what is left of the
// document's total.
func (p *docxPackage) open(f *zip.File) (io.ReadCloser, error) {
	if *p.left < p.lim.part && f.UncompressedSize64 > uint64(max(*p.left, 0)) {
		return nil, fmt.Errorf("%s: the document's parts decompress to more than %d bytes in all", f.Name, p.lim.total)
	}
	rc, err := openPart(f, p.lim.part)
	if err != nil {
		return nil, err
	}
	lp := rc.(*limitedPart)
	lp.total, lp.totalLimit = p.left, p.lim.total
	return lp, nil
}

// htmlText returns the visible text of HTML data.
func htmlText(data []byte) (string, error) {
	text, err := decodeHTML(data)
	if err != nil {
		return "", err
	}
	return extractHTML(text), nil
}

// mhtmlText returns the visible text of the first HTML part of an MHTML
// (web archive) message, decoded from its transfer encoding and charset.
func mhtmlText(data []byte) (string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("not an MHTML message: %w", err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return "", fmt.Errorf("not an MHTML message: %w", err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return mimePartText(textproto.MIMEHeader(msg.Header), msg.Body)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", errEmpty
		}
		if err != nil {
			return "", fmt.Errorf("not an MHTML message: %w", err)
		}
		if t, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); t == "text/html" {
			return mimePartText(part.Header, part)
		}
	}
}

// mimePartText returns the visible text of one HTML part of an MHTML
// message, or of a message that is one HTML part. (A multipart reader
// undoes quoted-printable itself and drops the header; a message's body
// is read as it is sent.)
func mimePartText(h textproto.MIMEHeader, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	_, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	enc, name := charset.Lookup(params["charset"])
	if enc == nil { // no charset (or an unknown one): as the HTML declares
		return htmlText(data)
	}
	// The message's charset wins over the document's, as HTTP's does.
	var text string
	if name == "utf-8" {
		text, err = decodeUTF8(data)
	} else {
		text, err = decodeFrom(data, enc, name)
	}
	if err != nil {
		return "", err
	}
	return extractHTML(text), nil
}

// findEntry returns the archive entry called name (exactly, else ignoring
// case), or nil.
func findEntry(zr *zip.Reader, name string) *zip.File {
	var fold *zip.File
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
		if fold == nil && strings.EqualFold(f.Name, name) {
			fold = f
		}
	}
	return fold
}

// openPart opens an archive entry, refusing parts whose stated or actual
// decompressed size exceeds limit bytes.
func openPart(f *zip.File, limit int64) (io.ReadCloser, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: decompressed size %d bytes exceeds the limit of %d", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.Name, err)
	}
	return &limitedPart{rc: rc, name: f.Name, limit: limit, left: limit}, nil
}

// limitedPart fails a read once more than left bytes came out, whatever
// the archive's directory claimed.
type limitedPart struct {
	rc    io.ReadCloser
	name  string
	limit int64
	left  int64

	// total, if set, is what the whole document may still read, of
	// totalLimit.
	total      *int64
	totalLimit int64
}

func (l *limitedPart) Read(p []byte) (int, error) {
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("%s: decompressed size exceeds the limit of %d bytes", l.name, l.limit)
	}
	if l.total != nil {
		if *l.total -= int64(n); *l.total < 0 {
			return 0, fmt.Errorf("%s: the document's parts decompress to more than %d bytes in all", l.name, l.totalLimit)
		}
	}
	return n, err
}

func (l *limitedPart) Close() error { return l.rc.Close() }

// docxTable is the state of one table being read.
type docxTable struct {
	row   []string        // finished cells of the current row
	cell  strings.Builder // text of the current cell
	lines []string        // finished rows
}

// docxReader walks a WordprocessingML body.
type docxReader struct {
	out    strings.Builder
	paras  []*strings.Builder // open paragraphs (text boxes nest them)
	tables []*docxTable
	stack  []xml.Name
	skip   int // depth of a skipped subtree (0 = not skipping)

	inText    bool // inside a text element
	runHidden bool // the current run is hidden (w:vanish, its own or its style's)
	runScript bool // the current run is a superscript or subscript (w:vertAlign)

	// hidden tells by style ID whether a style hides its text, and
	// paraHidden whether each open paragraph's style does (a run's own
	// style, then its own w:vanish, override it).
	hidden     map[string]bool
	paraHidden []bool

	// The text written last in the current paragraph: whether there is
	// any, whether it ends with whitespace and whether it was a
	// superscript or subscript. A superscript or subscript stands apart
	// from the text around it: a footnote mark typed after a name
	// ("Lina Farrell¹") is not part of the name.
	wrote, wroteSpace, wroteScript bool

	// A paragraph whose mark is a tracked deletion runs on into the next
	// paragraph, as Word shows the changes accepted: markDeleted is the
	// open paragraph whose mark is deleted, joined the text of a closed
	// one that the next paragraph at depth joinedDepth (of the element
	// stack) continues. Anything else that comes first ends it.
	markDeleted *strings.Builder
	joined      *strings.Builder
	joinedDepth int

	// fields are the open complex fields (w:fldChar begin ... separate
	// ... end), innermost last, each true once past its separator. Word
	// shows a field's result, not its instruction, nor the results of
	// the fields nested in the instruction (an IF over a MERGEFIELD), so
	// text shows only while every open field is in its result. An
	// instruction ends with its paragraph at the latest: a field never
	// separated must not hide the rest of the document.
	fields []bool

	// altChunk returns the text of the imported content a relationship
	// ID names; nil reads none.
	altChunk func(id string) (string, error)
	err      error // the first error of altChunk
}

// docxText reads document XML from r; hidden tells by style ID whether a
// style hides its text, and altChunk (nil: none) reads the imported
// content that a w:altChunk names.
func docxText(r io.Reader, maxDepth int, hidden map[string]bool, altChunk func(id string) (string, error)) (string, error) {
	d := xml.NewDecoder(r)
	x := docxReader{hidden: hidden, altChunk: altChunk}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(x.stack) >= maxDepth {
				return "", fmt.Errorf("elements nested deeper than %d", maxDepth)
			}
			x.stack = append(x.stack, t.Name)
			x.start(t)
			if x.err != nil {
				return "", x.err
			}
		case xml.EndElement:
			x.end(t.Name)
			if len(x.stack) > 0 {
				x.stack = x.stack[:len(x.stack)-1]
			}
		case xml.CharData:
			if x.skip == 0 && x.inText && !x.runHidden {
				x.runText(string(t))
			}
		}
	}
	// The decoder rejects unclosed elements, so every paragraph and table
	// has been closed here.
	x.endJoined()
	return strings.TrimSpace(x.out.String()), nil
}

func isWordNS(space string) bool { return space == nsWordTransitional || space == nsWordStrict }

// start handles an opening element; x.stack already includes it.
func (x *docxReader) start(t xml.StartElement) {
	if x.skip > 0 {
		x.skip++
		return
	}
	n := t.Name
	switch {
	case n.Space == nsMarkup && n.Local == "Fallback":
		// mc:Fallback repeats the content of mc:Choice (e.g. text boxes).
		x.skip = 1
	case isWordNS(n.Space):
		switch n.Local {
		case "p":
			x.paraHidden = append(x.paraHidden, false)
			if x.joined != nil && x.joinedDepth == len(x.stack) {
				x.paras = append(x.paras, x.joined)
				x.joined = nil
				break
			}
			x.endJoined()
			x.paras = append(x.paras, &strings.Builder{})
			x.wrote = false
		case "r":
			x.runHidden, x.runScript = false, false
			if n := len(x.paraHidden); n > 0 {
				x.runHidden = x.paraHidden[n-1]
			}
		case "pStyle":
			if x.parent(1) == "pPr" && x.parent(2) == "p" && len(x.paraHidden) > 0 {
				x.paraHidden[len(x.paraHidden)-1] = x.hidden[attrVal(t)]
			}
		case "rStyle":
			if v, ok := x.hidden[attrVal(t)]; ok && x.parent(1) == "rPr" && x.parent(2) == "r" {
				x.runHidden = v
			}
		case "t":
			x.inText = true
		case "fldChar":
			if x.parent(1) == "r" {
				x.fieldChar(t)
			}
		case "tab", "ptab":
			if x.parent(1) == "r" {
				x.write("\t")
			}
		case "br", "cr":
			switch {
			case x.parent(1) != "r":
			case len(x.tables) > 0:
				// In a table a break is a space: a row stays one line, as
				// the paragraphs of a cell do.
				if !x.wrote || !x.wroteSpace {
					x.write(" ")
				}
			default:
				x.write("\n")
			}
		case "noBreakHyphen":
			if x.parent(1) == "r" {
				x.write("-")
			}
		case "sym":
			if x.parent(1) == "r" && !x.runHidden {
				x.runText(symbolChar(t))
			}
		case "vertAlign":
			if x.parent(1) == "rPr" && x.parent(2) == "r" {
				for _, a := range t.Attr {
					if a.Name.Local == "val" && (a.Value == "superscript" || a.Value == "subscript") {
						x.runScript = true
					}
				}
			}
		case "vanish":
			// After w:rStyle in w:rPr, so a run's own setting wins.
			if x.parent(1) == "rPr" && x.parent(2) == "r" {
				x.runHidden = on(t)
			}
		case "altChunk":
			x.readAltChunk(t)
		case "tbl":
			x.endJoined()
			x.tables = append(x.tables, &docxTable{})
		case "tr":
			if tb := x.table(); tb != nil {
				tb.row = tb.row[:0]
			}
		case "tc":
			if tb := x.table(); tb != nil {
				tb.cell.Reset()
			}
		case "del", "delText", "instrText", "delInstrText", "moveFrom", "rt":
			if n.Local == "del" && x.parent(1) == "rPr" && x.parent(2) == "pPr" && len(x.paras) > 0 {
				x.markDeleted = x.paras[len(x.paras)-1]
			}
			// Deleted revisions (whatever element their text is in: Word
			// writes w:delText, other producers w:t), field codes, the old
			// place of text moved with changes tracked (moveTo holds it at
			// its new place) and phonetic guides (ruby text over its base)
			// are not document text. A w:del that marks a deleted
			// paragraph mark or table row holds nothing.
			x.skip = 1
		}
	case n.Space == nsMath && n.Local == "t":
		x.inText = true
	}
}

// fieldChar follows a w:fldChar: the begin, separator or end of a complex
// field.
func (x *docxReader) fieldChar(t xml.StartElement) {
	for _, a := range t.Attr {
		if a.Name.Local != "fldCharType" {
			continue
		}
		switch a.Value {
		case "begin":
			x.fields = append(x.fields, false)
		case "separate":
			if len(x.fields) > 0 {
				x.fields[len(x.fields)-1] = true
			}
		case "end":
			if len(x.fields) > 0 {
				x.fields = x.fields[:len(x.fields)-1]
			}
		}
	}
}

// inFieldCode reports whether run content is part of a field's
// instruction rather than shown.
func (x *docxReader) inFieldCode() bool { return slices.Contains(x.fields, false) }

// readAltChunk emits the text of the imported content a w:altChunk names
// (its r:id) in its place.
func (x *docxReader) readAltChunk(t xml.StartElement) {
	if x.altChunk == nil {
		return
	}
	for _, a := range t.Attr {
		if a.Name.Local != "id" || a.Name.Space != nsRelTransitional && a.Name.Space != nsRelStrict {
			continue
		}
		text, err := x.altChunk(a.Value)
		if err != nil {
			x.err = err
			return
		}
		for block := range strings.SplitSeq(text, "\n\n") {
			x.emit(block)
		}
		return
	}
}

// end handles a closing element; x.stack still includes it.
func (x *docxReader) end(n xml.Name) {
	if x.skip > 0 {
		x.skip--
		return
	}
	switch {
	case isWordNS(n.Space):
		switch n.Local {
		case "p":
			x.endParagraph()
			if len(x.paraHidden) > 0 {
				x.paraHidden = x.paraHidden[:len(x.paraHidden)-1]
			}
		case "r":
			x.runHidden, x.runScript = false, false
		case "t":
			x.inText = false
		case "tc":
			x.endJoined()
			if tb := x.table(); tb != nil {
				tb.row = append(tb.row, strings.TrimSpace(tb.cell.String()))
				tb.cell.Reset()
			}
		case "tr":
			if tb := x.table(); tb != nil {
				if line := joinCells(tb.row); line != "" {
					tb.lines = append(tb.lines, line)
				}
				tb.row = tb.row[:0]
			}
		case "tbl":
			x.endTable()
		}
	case n.Space == nsMath && n.Local == "t":
		x.inText = false
	}
}

// parent returns the local name of the element i levels above the current
// one (0 = the current element), or "".
func (x *docxReader) parent(i int) string {
	j := len(x.stack) - 1 - i
	if j < 0 {
		return ""
	}
	if !isWordNS(x.stack[j].Space) {
		return ""
	}
	return x.stack[j].Local
}

// The characters of the Symbol font from 0x20 to 0x7E and from 0xA0 to
// 0xFE, as the dingbat-to-unicode package maps them (BSD-2-Clause).
const (
	symbolFontLow  = " !∀#∃%&∍()*+,−./0123456789:;<=>?≅ΑΒΧΔΕΦΓΗΙϑΚΛΜΝΟΠΘΡΣΤΥςΩΞΨΖ[∴]⊥_‾αβχδεφγηιϕκλμνοπθρστυϖωξψζ{|}~"
	symbolFontHigh = "€ϒ′≤⁄∞ƒ♣♦♥♠↔←↑→↓°±″≥×∝∂•÷≠≡≈…⏐⎯↵ℵℑℜ℘⊗⊕∅∩∪⊃⊇⊄⊂⊆∈∉∠∇®©™∏√⋅¬∧∨⇔⇐⇑⇒⇓◊〈®©™∑⎛⎜⎝⎡⎢⎣⎧⎨⎩⎪\uf8ff〉∫⌠⎮⌡⎞⎟⎠⎤⎥⎦⎫⎬⎭"
)

// symbolChar returns the character a w:sym shows. Word stores a symbol
// font's character by its code in the font, in the private use area
// (U+F020-F0FF) or not: the Symbol font's (Greek letters, ±, °, ≥) read
// as their Unicode characters, other symbol fonts' (Wingdings' pictures)
// as nothing, and a character outside the private use area as itself.
func symbolChar(t xml.StartElement) string {
	var font, char string
	for _, a := range t.Attr {
		switch a.Name.Local {
		case "font":
			font = a.Value
		case "char":
			char = a.Value
		}
	}
	n, err := strconv.ParseUint(char, 16, 32)
	if err != nil {
		return ""
	}
	r := rune(n)
	if !strings.EqualFold(strings.TrimSpace(font), "Symbol") || r > 0xFF && (r < 0xF000 || r > 0xF0FF) {
		if r > 0xFF && utf8.ValidRune(r) && !unicode.Is(unicode.Co, r) {
			return string(r)
		}
		return ""
	}
	code := r & 0xFF
	var table string
	switch {
	case code >= 0x20 && code <= 0x7E:
		table, code = symbolFontLow, code-0x20
	case code >= 0xA0 && code <= 0xFE:
		table, code = symbolFontHigh, code-0xA0
	default:
		return ""
	}
	return string([]rune(table)[code])
}

// attrVal returns an element's w:val attribute, or "".
func attrVal(t xml.StartElement) string {
	for _, a := range t.Attr {
		if a.Name.Local == "val" {
			return a.Value
		}
	}
	return ""
}

// on reports whether a toggle property such as <w:vanish/> is switched on
// (no w:val, or a true value).
func on(t xml.StartElement) bool {
	for _, a := range t.Attr {
		if a.Name.Local == "val" {
			switch strings.ToLower(a.Value) {
			case "0", "false", "off":
				return false
			}
		}
	}
	return true
}

func (x *docxReader) table() *docxTable {
	if len(x.tables) == 0 {
		return nil
	}
	return x.tables[len(x.tables)-1]
}

// runText writes the text of a run, apart from the text before it if one
// of the two is a superscript or subscript and neither has whitespace
// between them.
func (x *docxReader) runText(s string) {
	if s == "" {
		return
	}
	if first, _ := utf8.DecodeRuneInString(s); x.wrote && x.runScript != x.wroteScript && !x.wroteSpace && !unicode.IsSpace(first) {
		x.write(" ")
	}
	x.write(s)
}

// write appends run text to the innermost open paragraph (or, outside any
// paragraph, to the output).
func (x *docxReader) write(s string) {
	if x.runHidden || x.inFieldCode() {
		return
	}
	if len(x.paras) > 0 {
		x.paras[len(x.paras)-1].WriteString(s)
		last, _ := utf8.DecodeLastRuneInString(s)
		x.wrote, x.wroteSpace, x.wroteScript = true, unicode.IsSpace(last), x.runScript
		return
	}
	x.emit(s)
}

// endParagraph closes the innermost paragraph: inside a table cell its text
// joins the cell's, otherwise it becomes a block of the output.
func (x *docxReader) endParagraph() {
	for i := range x.fields {
		x.fields[i] = true
	}
	if len(x.paras) == 0 {
		return
	}
	p := x.paras[len(x.paras)-1]
	x.paras = x.paras[:len(x.paras)-1]
	if p == x.markDeleted {
		x.markDeleted = nil
		x.endJoined()
		x.joined, x.joinedDepth = p, len(x.stack)
		return
	}
	x.emit(p.String())
}

// endJoined emits the text of a paragraph whose mark is deleted when no
// paragraph continues it.
func (x *docxReader) endJoined() {
	if p := x.joined; p != nil {
		x.joined = nil
		x.emit(p.String())
	}
}

// emit adds a finished block of text where it belongs.
func (x *docxReader) emit(s string) {
	x.endJoined()
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if tb := x.table(); tb != nil {
		if tb.cell.Len() > 0 {
			tb.cell.WriteByte(' ')
		}
		tb.cell.WriteString(s)
		return
	}
	// Outside tables (also for a text box inside a paragraph) a block
	// stands apart.
	x.out.WriteString(s)
	x.out.WriteString("\n\n")
}

// endTable closes the innermost table: a nested table becomes text of the
// enclosing cell, an outer one a block of rows.
func (x *docxReader) endTable() {
	if len(x.tables) == 0 {
		return
	}
	tb := x.tables[len(x.tables)-1]
	if len(tb.row) > 0 { // cells outside a row (invalid but well-formed)
		if line := joinCells(tb.row); line != "" {
			tb.lines = append(tb.lines, line)
		}
	}
	x.tables = x.tables[:len(x.tables)-1]
	if len(tb.lines) == 0 {
		return
	}
	if len(x.tables) > 0 {
		x.emit(strings.Join(tb.lines, "; "))
		return
	}
	x.out.WriteString(strings.Join(tb.lines, "\n"))
	x.out.WriteString("\n\n")
}

// joinCells joins a row's cells with " | ", or returns "" for an empty row.
func joinCells(cells []string) string {
	empty := true
	for _, c := range cells {
		if c != "" {
			empty = false
			break
		}
	}
	if empty {
		return ""
	}
	return strings.Join(cells, " | ")
}
