package parser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// A CSV file in another encoding than UTF-8 is read only when its mapping
// source declares the encoding (csv.encoding): it is transcoded, streaming,
// to a UTF-8 copy in the temporary directory, and the copy goes through
// the UTF-8 path unchanged. Line ends are copied as they are, so line
// numbers in the copy are those of the original. Nothing is guessed: a
// byte order mark that contradicts the declaration, and UTF-16 that is not
// well formed (which the decoder would replace with U+FFFD), reject the
// file.

// transcodeBuffer is the read and write buffer of transcodeCSV.
const transcodeBuffer = 256 << 10

// transcodeCSV writes the UTF-8 form of the file at localPath (the copy of
// the document file), in the encoding enc (a schema encoding other than
// UTF-8), to a new file in tempDir and returns its path; the caller removes
// it. On error, cancellation included, nothing is left behind. Text that
// does not match enc is a permanent error naming file.
func transcodeCSV(ctx context.Context, file, localPath, enc, tempDir string) (_ string, err error) {
	in, err := os.Open(localPath)
	if err != nil {
		return "", fmt.Errorf("%s: open: %w", file, err)
	}
	defer in.Close()
	br := bufio.NewReaderSize(in, transcodeBuffer)
	head, err := br.Peek(len(utf8BOM))
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: read: %w", file, err)
	}
	src, dec, err := decoderFor(br, head, enc)
	if err != nil {
		return "", pipeline.Permanent(fmt.Errorf("%s: %w", file, err))
	}
	out, err := os.CreateTemp(tempDir, "docgraph-utf8-*.csv")
	if err != nil {
		return "", fmt.Errorf("%s: create UTF-8 copy: %w", file, err)
	}
	defer func() {
		if cerr := out.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: write UTF-8 copy: %w", file, cerr)
		}
		if err != nil {
			os.Remove(out.Name())
		}
	}()
	w := bufio.NewWriterSize(out, transcodeBuffer)
	r := transform.NewReader(src, dec.NewDecoder())
	buf := make([]byte, transcodeBuffer)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, rerr := r.Read(buf)
		if _, err := w.Write(buf[:n]); err != nil {
			return "", fmt.Errorf("%s: write UTF-8 copy: %w", file, err)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		var te *textError
		if errors.As(rerr, &te) {
			return "", pipeline.Permanent(fmt.Errorf("%s: %w", file, te))
		}
		if rerr != nil {
			return "", fmt.Errorf("%s: read as %s: %w", file, enc, rerr)
		}
	}
	if err := w.Flush(); err != nil {
		return "", fmt.Errorf("%s: write UTF-8 copy: %w", file, err)
	}
	return out.Name(), nil
}

// decoderFor returns the reader to decode (r, or a UTF-16 check over it)
// and the encoding of a file that starts with head and is declared enc. A
// byte order mark must agree with enc.
func decoderFor(r io.Reader, head []byte, enc string) (io.Reader, encoding.Encoding, error) {
	var bom string
	switch {
	case bytes.HasPrefix(head, utf8BOM):
		bom = "UTF-8"
	case bytes.HasPrefix(head, utf16LEBOM):
		bom = "UTF-16LE"
	case bytes.HasPrefix(head, utf16BEBOM):
		bom = "UTF-16BE"
	}
	contradicts := func() error {
		return fmt.Errorf("starts with a %s byte order mark, but its mapping declares csv.encoding %s; declare the file's encoding", bom, enc)
	}
	switch enc {
	case schema.EncodingWindows1252, schema.EncodingISO88591:
		if bom != "" {
			return nil, nil, contradicts()
		}
		if enc == schema.EncodingWindows1252 {
			return r, charmap.Windows1252, nil
		}
		return r, charmap.ISO8859_1, nil
	case schema.EncodingUTF16:
		switch bom {
		case "UTF-16LE":
			return newUTF16Check(r, false), unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), nil
		case "UTF-16BE":
			return newUTF16Check(r, true), unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), nil
		case "":
			return nil, nil, errors.New("no UTF-16 byte order mark, which csv.encoding utf-16 requires; declare utf-16le or utf-16be for a file without one")
		}
		return nil, nil, contradicts()
	case schema.EncodingUTF16LE:
		if bom != "" && bom != "UTF-16LE" {
			return nil, nil, contradicts()
		}
		return newUTF16Check(r, false), unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), nil
	case schema.EncodingUTF16BE:
		if bom != "" && bom != "UTF-16BE" {
			return nil, nil, contradicts()
		}
		return newUTF16Check(r, true), unicode.UTF16(unicode.BigEndian, unicode.UseBOM), nil
	}
	return nil, nil, fmt.Errorf("unsupported csv.encoding %q", enc)
}

// textError is text that is not in its declared encoding.
type textError struct {
	msg string
}

func (e *textError) Error() string { return e.msg }

// utf16Check passes UTF-16 bytes through and fails at the first code unit
// that is not well formed (an unpaired surrogate, or a lone last byte),
// which the decoder would silently replace with U+FFFD.
type utf16Check struct {
	r        io.Reader
	big      bool
	off      int64 // file offset of the next byte
	line     int   // line of the next code unit
	first    byte  // first byte of an incomplete code unit
	half     bool  // first holds a byte
	high     uint16
	highOff  int64 // offset of an unpaired high surrogate, or -1
	highLine int
}

func newUTF16Check(r io.Reader, big bool) *utf16Check {
	return &utf16Check{r: r, big: big, line: 1, highOff: -1}
}

func (c *utf16Check) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if !c.half {
			c.first, c.half = b, true
			continue
		}
		c.half = false
		u := uint16(c.first) | uint16(b)<<8
		if c.big {
			u = uint16(c.first)<<8 | uint16(b)
		}
		at := c.off + int64(i) - 1
		low := u >= 0xDC00 && u <= 0xDFFF
		switch {
		case c.highOff >= 0 && low:
			c.highOff = -1
		case c.highOff >= 0:
			return 0, c.unpaired(c.high, c.highOff, c.highLine)
		case u >= 0xD800 && u <= 0xDBFF:
			c.high, c.highOff, c.highLine = u, at, c.line
		case low:
			return 0, c.unpaired(u, at, c.line)
		case u == '\n':
			c.line++
		}
	}
	c.off += int64(n)
	if errors.Is(err, io.EOF) {
		if c.highOff >= 0 {
			return 0, c.unpaired(c.high, c.highOff, c.highLine)
		}
		if c.half {
			return 0, &textError{fmt.Sprintf("not UTF-16 text: odd number of bytes, the last (byte offset %d, line %d) is half a code unit", c.off-1, c.line)}
		}
	}
	return n, err
}

func (c *utf16Check) unpaired(u uint16, off int64, line int) error {
	return &textError{fmt.Sprintf("not UTF-16 text: unpaired surrogate 0x%04X at byte offset %d (line %d)", u, off, line)}
}
