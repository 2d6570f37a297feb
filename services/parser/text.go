package parser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"

	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Input errors. Every error ExtractText returns is permanent and names the
// file; these are wrapped inside.
var (
	errEmpty       = errors.New("empty")
	errBinary      = errors.New("binary content, not text")
	errNoText      = errors.New("no text content")
	errUnsupported = errors.New("unsupported format")
)

// encodingError reports the first byte that is not valid UTF-8.
type encodingError struct {
	Offset int
	Byte   byte
	// HTML is set for an HTML document, which could have declared
	// another charset.
	HTML bool
}

func (e *encodingError) Error() string {
	msg := fmt.Sprintf("not valid UTF-8 at byte offset %d (0x%02X)", e.Offset, e.Byte)
	if e.HTML {
		msg += ", and the document declares no charset (<meta charset>)"
	}
	return msg
}

// Byte order marks. A UTF-8 BOM is stripped from the start of text files;
// a UTF-16 one says how to decode them.
var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
)

// binaryMagic are file signatures of common non-text formats.
var binaryMagic = [][]byte{
	[]byte("\x89PNG\r\n\x1a\n"),
	{0xFF, 0xD8, 0xFF},           // JPEG
	[]byte("GIF87a"),             // GIF
	[]byte("GIF89a"),             // GIF
	[]byte("%PDF-"),              // PDF
	[]byte("PK\x03\x04"),         // zip (docx, xlsx, ...)
	{0x1F, 0x8B},                 // gzip
	{0xD0, 0xCF, 0x11, 0xE0},     // OLE2 (doc, xls)
	[]byte("\x7FELF"),            // ELF
	{0x28, 0xB5, 0x2F, 0xFD},     // zstd
	[]byte("7z\xBC\xAF\x27\x1C"), // 7-zip
}

// ExtractText returns the text of the file called name (a path; only its
// lower-case extension matters) with content data. Supported: .txt, .csv and
// .tsv (as plain text), .md and .markdown (parsed as CommonMark with GitHub
// pipe tables and footnotes, giving the text a reader of the rendered page
// sees: no YAML front matter, markup, link targets, link definitions, HTML
// tags or comments; each block on its own lines, blank lines between
// paragraphs, list items keeping their markers and table rows their cell
// separators; see extractMarkdown), .html and .htm (visible text only),
// .docx (paragraphs and tables of the main document part, then footnotes and
// endnotes; imported HTML, text and Word content in place) and .pdf (the
// text layer of every page, as PDFium reads it; see pdf.go).
//
// Text files are UTF-8 (a BOM is stripped), or UTF-16 when they start with
// a UTF-16 byte order mark (Windows Notepad's "Unicode"). HTML may also
// declare another charset the way browsers honour it (a <meta charset> or
// <meta http-equiv="Content-Type"> in its first 1024 bytes, e.g. Word's
// "Save as Web Page" in windows-1252), used when the bytes are not valid
// UTF-8. Text in no declared encoding that is not valid UTF-8 is refused,
// naming the first invalid byte: the encoding is never guessed. Line ends
// are normalised to LF. Every error is permanent (the same bytes never
// parse) and starts with name.
func ExtractText(name string, data []byte) (string, error) {
	return ExtractTextContext(context.Background(), name, data)
}

// ExtractTextContext is ExtractText with a context, which bounds reading a
// PDF. Errors of the engine that reads PDFs, and of ctx, are not permanent.
func ExtractTextContext(ctx context.Context, name string, data []byte) (string, error) {
	text, err := extract(ctx, name, data)
	if ee := (*engineError)(nil); errors.As(err, &ee) {
		return "", fmt.Errorf("%s: %w", name, ee)
	}
	if err != nil {
		return "", pipeline.Permanent(fmt.Errorf("%s: %w", name, err))
	}
	if strings.TrimSpace(text) == "" {
		return "", pipeline.Permanent(fmt.Errorf("%s: %w", name, errNoText))
	}
	return text, nil
}

func extract(ctx context.Context, name string, data []byte) (string, error) {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".txt", ".text":
		text, err := decodeText(data)
		if err != nil {
			return "", err
		}
		return unquoteMail(text), nil
	case ".csv", ".tsv":
		return decodeText(data)
	case ".md", ".markdown":
		text, err := decodeText(data)
		if err != nil {
			return "", err
		}
		return extractMarkdown(text), nil
	case ".html", ".htm":
		text, err := decodeHTML(data)
		if err != nil {
			return "", err
		}
		return extractHTML(text), nil
	case ".docx":
		return extractDocx(data, defaultDocxLimits)
	case ".pdf":
		return extractPDF(ctx, data)
	case "":
		return "", fmt.Errorf("%w: no file extension", errUnsupported)
	}
	return "", fmt.Errorf("%w %q", errUnsupported, ext)
}

// decodeText returns text file data as UTF-8 without BOM and with LF line
// ends. Data starting with a UTF-16 byte order mark is decoded from UTF-16;
// anything else must be UTF-8.
func decodeText(data []byte) (string, error) {
	if bytes.HasPrefix(data, utf16LEBOM) || bytes.HasPrefix(data, utf16BEBOM) {
		// ExpectBOM takes the byte order from the mark and drops it.
		return decodeFrom(data, unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), "UTF-16")
	}
	return decodeUTF8(data)
}

// decodeHTML is decodeText for HTML, which may declare its charset: a byte
// order mark, else the first <meta> declaration, as browsers determine it.
// HTML with non-ASCII bytes that are valid UTF-8 is read as UTF-8 whatever
// it declares: a page saved as UTF-8 under a template's stale
// charset=iso-8859-1 would otherwise lose every accented name, and legacy
// text with non-ASCII letters is practically never valid UTF-8 (7-bit
// encodings such as ISO-2022-JP are ASCII bytes, so their declaration
// counts). Undeclared HTML must be UTF-8, like any other text file
// (browsers would guess windows-1252).
func decodeHTML(data []byte) (string, error) {
	if utf8.Valid(data) && slices.ContainsFunc(data, func(b byte) bool { return b >= utf8.RuneSelf }) {
		return decodeUTF8(data)
	}
	enc, name := declaredHTMLEncoding(data)
	switch name {
	case "", "utf-8":
		text, err := decodeUTF8(data)
		if e, ok := errors.AsType[*encodingError](err); ok && name == "" {
			e.HTML = true
		}
		return text, err
	case "replacement":
		// The WHATWG label set maps encodings that are unsafe to decode
		// (ISO-2022-KR, HZ-GB-2312, ...) to "replacement".
		return "", errors.New("declared charset is not supported (an encoding that browsers refuse to decode)")
	}
	return decodeFrom(data, enc, name)
}

// declaredHTMLEncoding returns the encoding that a byte order mark, or a
// <meta> declaration in the first 1024 bytes, gives HTML data, and its
// WHATWG name; nil and "" when nothing declares one.
func declaredHTMLEncoding(data []byte) (encoding.Encoding, string) {
	if enc, name, certain := charset.DetermineEncoding(data, ""); certain {
		return enc, name // a byte order mark
	}
	// Without a declaration DetermineEncoding guesses: UTF-8 when the head
	// is valid UTF-8 with a non-ASCII byte, else windows-1252. So it is
	// asked about the head's markup (non-ASCII bytes masked: declarations
	// are ASCII) twice, once after a non-ASCII letter: only a declaration
	// gives the same answer to both.
	head := make([]byte, 0, 1024)
	head = append(head, "\u00e9"...)
	for _, b := range data[:min(len(data), cap(head)-len(head))] {
		if b >= utf8.RuneSelf {
			b = 'x'
		}
		head = append(head, b)
	}
	enc, name, _ := charset.DetermineEncoding(head, "")
	if _, ascii, _ := charset.DetermineEncoding(head[2:], ""); ascii != name {
		return nil, ""
	}
	return enc, name
}

// decodeFrom decodes data from enc (named name in errors) and then checks
// the result as decodeUTF8 does (UTF-16 has NUL bytes, so binary content
// shows only once decoded).
func decodeFrom(data []byte, enc encoding.Encoding, name string) (string, error) {
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return "", fmt.Errorf("not valid %s: %w", name, err)
	}
	return decodeUTF8(out)
}

// decodeUTF8 validates data as UTF-8 text and returns it without BOM and
// with LF line ends.
func decodeUTF8(data []byte) (string, error) {
	body := bytes.TrimPrefix(data, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return "", errEmpty
	}
	if isBinary(data) {
		if enc := utf16WithoutBOM(data); enc != "" {
			return "", fmt.Errorf("%w: every other byte is NUL, as in %s text without a byte order mark; save the file as UTF-8, or as UTF-16 with a byte order mark", errBinary, enc)
		}
		return "", errBinary
	}
	if err := checkUTF8(data); err != nil {
		return "", err
	}
	return normaliseNewlines(string(body)), nil
}

// isBinary reports whether data looks like a non-text format: a known file
// signature, a NUL byte, or many control characters near the start.
func isBinary(data []byte) bool {
	for _, m := range binaryMagic {
		if bytes.HasPrefix(data, m) {
			return true
		}
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return true
	}
	head := data[:min(len(data), 8192)]
	controls := 0
	for _, b := range head {
		if b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\f' && b != '\v' && b != 0x1B {
			controls++
		}
	}
	return controls*10 > len(head)
}

// utf16WithoutBOM returns "UTF-16LE" or "UTF-16BE" when the start of data
// has the NUL bytes of mostly ASCII text in that encoding (one NUL in
// every pair of bytes, always on the same side), else "". It only names
// the likely cause of a rejection: text without a byte order mark is
// never decoded as UTF-16.
func utf16WithoutBOM(data []byte) string {
	head := data[:min(len(data), 1024)&^1]
	var pairs, le, be int
	for i := 0; i+1 < len(head); i += 2 {
		pairs++
		switch {
		case head[i] != 0 && head[i+1] == 0:
			le++
		case head[i] == 0 && head[i+1] != 0:
			be++
		}
	}
	switch {
	case pairs < 2:
		return ""
	case le*10 >= pairs*9:
		return "UTF-16LE"
	case be*10 >= pairs*9:
		return "UTF-16BE"
	}
	return ""
}

// checkUTF8 returns an *encodingError for the first invalid byte of data.
func checkUTF8(data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && w <= 1 {
			return &encodingError{Offset: i, Byte: data[i]}
		}
		i += w
	}
	return nil
}

// normaliseNewlines turns CRLF and lone CR into LF.
func normaliseNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}
