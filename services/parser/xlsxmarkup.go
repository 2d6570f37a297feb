package parser

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// excelize's row iterator reads a worksheet with encoding/xml and ignores
// its errors: at markup encoding/xml refuses (an end tag that does not
// close the element open, a start tag never closed, an attribute without
// quotes), the iterator stops as if the sheet ended there. In any row
// but the last, the rows it did not reach show it; in the last, the cells
// after that point are lost without a word. checkWorksheet therefore
// reads a worksheet's markup as encoding/xml does: names, start tags with
// their attributes, end tags against the elements open, comments, CDATA
// sections and processing instructions. It does so for the whole part,
// as excelize reads rows wherever they are, even outside <sheetData>.

// Limits on a worksheet's markup, far beyond what writers produce: a
// row's cells nest some 8 deep (worksheet, sheetData, row, c, is, r, rPr,
// b), and SpreadsheetML names are short.
const (
	maxOpenElements = 256
	maxNameLen      = 256
	// tagPeek is what checkWorksheet peeks at past a '<': enough for an
	// end tag and most start tags.
	tagPeek = 512
)

// openElements is the stack of the elements open, the root first, by
// name as written, prefix included: encoding/xml matches an end tag with
// its start by both.
type openElements struct {
	names []byte // the names, one after the other
	ends  []int  // the end of each name in names
}

func (o *openElements) depth() int { return len(o.ends) }

// top returns the name of the innermost element open, nil for none.
func (o *openElements) top() []byte {
	n := len(o.ends)
	if n == 0 {
		return nil
	}
	return o.names[o.start(n-1):o.ends[n-1]]
}

// start returns where the name of the i-th element starts in names.
func (o *openElements) start(i int) int {
	if i == 0 {
		return 0
	}
	return o.ends[i-1]
}

// holds reports whether an element named local (without its prefix) is
// open.
func (o *openElements) holds(local string) bool {
	for i := range o.ends {
		if string(localName(o.names[o.start(i):o.ends[i]])) == local {
			return true
		}
	}
	return false
}

func (o *openElements) push(name []byte) error {
	if len(o.ends) == maxOpenElements {
		return fmt.Errorf("elements nested more than %d deep", maxOpenElements)
	}
	o.names = append(o.names, name...)
	o.ends = append(o.ends, len(o.names))
	return nil
}

// pop closes the innermost element with the end tag whose "</" was just
// read; head is what follows it.
func (o *openElements) pop(head []byte) error {
	n := nameLen(head)
	switch {
	case n < 0:
		return errors.New("an end tag without its '>'")
	case n > maxNameLen:
		return fmt.Errorf("a tag name longer than %d bytes", maxNameLen)
	}
	name := head[:n]
	top := o.top()
	if top == nil || !bytes.Equal(name, top) {
		if !validName(name) {
			return fmt.Errorf("an end tag named %q, not an XML name", name)
		}
		for i := range len(o.ends) - 1 {
			if bytes.Equal(name, o.names[o.start(i):o.ends[i]]) {
				return fmt.Errorf("<%s> not closed before </%s>", top, name)
			}
		}
		return fmt.Errorf("end tag </%s> without its start", name)
	}
	if i := skipSpace(head, n); i == len(head) || head[i] != '>' {
		return fmt.Errorf("end tag </%s> not ended by '>'", name)
	}
	o.drop()
	return nil
}

// drop removes the innermost element.
func (o *openElements) drop() {
	last := len(o.ends) - 1
	o.names = o.names[:o.start(last)]
	o.ends = o.ends[:last]
}

// nameBytes marks the bytes that may be part of an XML name as
// encoding/xml reads one: the bytes of characters beyond ASCII all may
// (validName checks them).
var nameBytes = func() (t [256]bool) {
	for c := range len(t) {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == ':' || c == '.' || c == '-' || c >= utf8.RuneSelf
	}
	return t
}()

// nameLen returns the length of the name at the start of b (0 for none),
// or -1 if it runs to b's end.
func nameLen(b []byte) int {
	for i, c := range b {
		if !nameBytes[c] {
			return i
		}
	}
	return -1
}

// validName reports whether encoding/xml reads name as an element or
// attribute name: an XML name with at most one ':'.
func validName(name []byte) bool {
	if len(name) == 0 {
		return false
	}
	if c := name[0]; '0' <= c && c <= '9' || c == '.' || c == '-' {
		return false
	}
	colon := false
	for _, c := range name {
		switch {
		case c == ':':
			if colon {
				return false
			}
			colon = true
		case c >= utf8.RuneSelf:
			// Rare: let encoding/xml judge the characters.
			_, err := xml.NewDecoder(bytes.NewReader(append(append([]byte("<"), name...), "/>"...))).RawToken()
			return err == nil
		}
	}
	return true
}

// skipSpace returns the index of the first byte of b from i on that is not
// XML white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// startTagEnd returns the length of the start tag at the start of b (after
// its '<'), up to and including its '>', as encoding/xml reads it: a name,
// attributes with quoted values, and '>' or "/>". It returns 0 and no
// error if b ends before the tag does.
func startTagEnd(b []byte) (int, error) {
	i := nameLen(b)
	switch {
	case i < 0:
		return 0, nil
	case i > maxNameLen:
		return 0, fmt.Errorf("a tag name longer than %d bytes", maxNameLen)
	case !validName(b[:i]):
		return 0, fmt.Errorf("a tag named %q, not an XML name", b[:i])
	}
	name := b[:i]
	for {
		i = skipSpace(b, i)
		if i == len(b) {
			return 0, nil
		}
		switch b[i] {
		case '>':
			return i + 1, nil
		case '/':
			if i+1 == len(b) {
				return 0, nil
			}
			if b[i+1] != '>' {
				return 0, fmt.Errorf("start tag <%s>: '/' not followed by '>'", name)
			}
			return i + 2, nil
		}
		n := nameLen(b[i:])
		switch {
		case n < 0:
			return 0, nil
		case n == 0 || !validName(b[i:i+n]):
			return 0, fmt.Errorf("start tag <%s>: no attribute name where one must be", name)
		}
		if i = skipSpace(b, i+n); i == len(b) {
			return 0, nil
		}
		if b[i] != '=' {
			return 0, fmt.Errorf("start tag <%s>: an attribute without '='", name)
		}
		if i = skipSpace(b, i+1); i == len(b) {
			return 0, nil
		}
		q := b[i]
		if q != '"' && q != '\'' {
			return 0, fmt.Errorf("start tag <%s>: an attribute value without quotes", name)
		}
		value := b[i+1:]
		if j := bytes.IndexByte(value, q); j >= 0 {
			value = value[:j]
		}
		if bytes.IndexByte(value, '<') >= 0 {
			return 0, fmt.Errorf("start tag <%s>: '<' in an attribute value", name)
		}
		if i += len(value) + 2; i > len(b) {
			return 0, nil
		}
	}
}

// errLongTag is peekStartTag's error for a start tag longer than the
// reader's buffer.
var errLongTag = errors.New("a start tag longer than the buffer")

// peekStartTag returns the start tag whose '<' was just read, up to and
// including its '>', without reading it.
func peekStartTag(br *bufio.Reader) ([]byte, error) {
	for n := tagPeek; ; n = br.Size() {
		b, _ := br.Peek(n)
		end, err := startTagEnd(b)
		switch {
		case err != nil:
			return nil, err
		case end > 0:
			return b[:end], nil
		case len(b) < n:
			return nil, errors.New("a start tag cut by the end of the worksheet")
		case n == br.Size():
			return nil, fmt.Errorf("%w (%d bytes)", errLongTag, n)
		}
	}
}

// skipLongTag reads the start tag whose name was just read up to and
// including its '>' (not one in a quoted attribute value), and reports
// whether it is empty (<x ... />). It checks no more of its syntax: it is
// for the rare start tag longer than the reader's buffer, outside the
// rows (a data validation's list of ranges).
func skipLongTag(br *bufio.Reader) (empty bool, err error) {
	var quote, prev byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return false, errors.New("a start tag cut by the end of the worksheet")
		}
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '<':
			return false, errors.New("a start tag not ended by '>'")
		case b == '>':
			return prev == '/', nil
		}
		prev = b
	}
}

// skipMarkup reads the comment, CDATA section, processing instruction or
// declaration whose '<' was just read, up to and including its end; head
// is what follows the '<'. Inside the root element (inRoot), only
// comments, CDATA sections and processing instructions may be; an XML
// declaration only opens the part (first).
func skipMarkup(br *bufio.Reader, head []byte, inRoot, first bool) error {
	switch {
	case bytes.HasPrefix(head, []byte("!--")):
		if _, err := br.Discard(3); err != nil {
			return err
		}
		return skipComment(br)
	case bytes.HasPrefix(head, []byte("![CDATA[")):
		if _, err := br.Discard(8); err != nil {
			return err
		}
		return skipPast(br, "]]>", "a CDATA section")
	case head[0] == '?':
		n := nameLen(head[1:])
		if n < 0 || n > maxNameLen || !validName(head[1:1+n]) {
			return errors.New("a processing instruction without a name")
		}
		if !first && string(head[1:1+n]) == "xml" {
			return errors.New("an XML declaration inside the worksheet")
		}
		if _, err := br.Discard(1 + n); err != nil {
			return err
		}
		return skipPast(br, "?>", "a processing instruction")
	case inRoot:
		return errors.New("a declaration (<!...>) inside the worksheet element")
	}
	return nil // a document type declaration, before the root
}

// skipComment reads a comment after its "<!--", up to and including its
// "-->". As in encoding/xml, the first "--" must end it.
func skipComment(br *bufio.Reader) error {
	dash := false // the byte before the next one is '-'
	for {
		piece, err := br.ReadSlice('-')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			dash = false
			continue
		case errors.Is(err, io.EOF):
			return errors.New("a comment not closed")
		case err != nil:
			return err
		}
		if dash && len(piece) == 1 {
			if b, err := br.ReadByte(); err != nil || b != '>' {
				return errors.New(`"--" inside a comment`)
			}
			return nil
		}
		dash = true
	}
}

// skipPast reads up to and including end ("]]>" or "?>"). The text of a
// CDATA section must hold only characters XML allows.
func skipPast(br *bufio.Reader, end, what string) error {
	cdata := end == "]]>"
	var chars xmlText // a CDATA section's: '&' is a character as any
	var last [2]byte  // the two bytes before the piece
	for {
		piece, err := br.ReadSlice('>')
		cut := errors.Is(err, bufio.ErrBufferFull)
		switch {
		case errors.Is(err, io.EOF):
			return fmt.Errorf("%s not closed", what)
		case err != nil && !cut:
			return err
		}
		text := piece
		if !cut {
			text = piece[:len(piece)-1]
		}
		if cdata {
			if bad, _ := chars.check(text, cut); bad != "" {
				return errors.New(bad)
			}
		}
		before := func(i int) byte { // the i-th byte before the '>'
			if i <= len(text) {
				return text[len(text)-i]
			}
			return last[2-(i-len(text))]
		}
		if !cut && before(1) == end[len(end)-2] && (len(end) == 2 || before(2) == end[0]) {
			return nil
		}
		switch {
		case len(piece) >= 2:
			last = [2]byte{piece[len(piece)-2], piece[len(piece)-1]}
		case len(piece) == 1:
			last = [2]byte{last[1], piece[0]}
		}
	}
}
