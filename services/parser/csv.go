package parser

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// How a CSV file is read.
//
// DuckDB parses the file (strict mode, every column as VARCHAR) and the
// parser converts and validates values itself, so that every error names
// the file, line, column and value. DuckDB numbers rows by record, not by
// physical line, and reports line numbers only for the rows it rejects, so
// a light quote-aware scan of the same bytes in Go (csvTracker) runs in
// step with DuckDB's result rows and gives each row its physical line.
//
// A blank line is empty or holds white space alone (spaces, tabs that do
// not delimit): an editor leaves them where a line was cleared. It is not
// a row; DuckDB rejects one of white space in a file of several columns
// (too few fields), and pass 1 ignores that.
//
//  1. The header is read by csvTracker (BOM stripped) and must be UTF-8:
//     the first record, or the one starting on the line header_row names,
//     the records above it (a title block) passed over whatever their
//     fields. A file in another encoding that its source declares
//     (csv.encoding) arrives here as a UTF-8 copy (transcode.go), with the
//     same lines.
//  2. Pass 1: DuckDB reads every column (count(cN) forces UTF-8
//     validation of each) of every record, the title block and the header
//     too, with store_rejects, collecting malformed rows: wrong field
//     count, bad quoting, over-long lines. What it rejects up to the
//     header is not a row and is ignored; invalid UTF-8 anywhere rejects
//     the file.
//  3. Pass 2: csvTracker walks the records again, skipping blank lines
//     (and records of empty cells, as a workbook's empty rows are), and
//     splits each record DuckDB accepted into its cells (the same
//     quoting rules; DuckDB validated the record's shape and encoding in
//     pass 1), so rows stream with no result set held in DuckDB. The rows
//     that pass 1 rejected are reported in order as row errors.

// csvTrackerBuffer is the read buffer of csvTracker.
const csvTrackerBuffer = 1 << 20

// csvDuckDBBuffer is DuckDB's CSV read buffer in pass 1, and
// csvMaxLineSize the longest record it accepts (DuckDB's default; set
// explicitly, since a buffer_size would otherwise raise it).
const (
	csvDuckDBBuffer = 8 << 20
	csvMaxLineSize  = 2000000
)

// csvMaxHeader bounds the header line.
const csvMaxHeader = 1 << 20

// csvReject is one row DuckDB rejected in pass 1.
type csvReject struct {
	ord     int64 // DuckDB's record number ("line" in reject_errors)
	typ     string
	column  string // DuckDB column name (cN) or ""
	csvLine string
	message string
}

// csvTable is a tableReader over one CSV file.
type csvTable struct {
	file    string
	path    string // path DuckDB reads
	src     *schema.Source
	opts    string // read_csv options
	width   int    // columns in the file
	hdr     []string
	hdrLine int // line of the header (0 for none)
	hdrOrd  int // record number of the header (0 for none)
	conn    *sql.Conn
	tracker *csvTracker
	trackF  *os.File
	cleanup func()

	rejects []csvReject
	ri      int

	positions []int
	cells     []string // reused: a row is mapped before the next is read
	reads     int
}

// openCSV reads the header and runs pass 1.
func (s *Structured) openCSV(ctx context.Context, doc event.Document, src *schema.Source, localPath string) (tr tableReader, err error) {
	t := &csvTable{file: doc.Path, src: src}
	defer func() {
		if err != nil {
			err = errors.Join(err, t.close())
		}
	}()
	t.path, t.cleanup, err = safeDuckDBPath(localPath, s.cfg.TempDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doc.Path, err)
	}
	t.trackF, err = os.Open(localPath)
	if err != nil {
		return nil, fmt.Errorf("%s: open: %w", doc.Path, err)
	}
	t.tracker = newCSVTracker(t.trackF, src.CSV.Delimiter[0], src.CSV.Quote[0], src.CSV.Escape[0])
	if src.HasHeader() {
		rec, err := t.readHeader()
		if err != nil {
			return nil, err
		}
		t.hdr = splitCSVRecord(rec.raw, src.CSV.Delimiter[0], src.CSV.Quote[0], src.CSV.Escape[0])
		t.width = len(t.hdr)
		t.hdrLine, t.hdrOrd = rec.line, rec.ord
	} else {
		t.width = len(src.Columns)
	}
	// Data records are captured whole: DuckDB bounds their size (pass 1
	// rejects longer lines).
	t.tracker.captureMax = 0
	cols := make([]string, t.width)
	for i := range cols {
		cols[i] = fmt.Sprintf("'c%d': 'VARCHAR'", i)
	}
	// buffer_size: DuckDB's default (16 x max_line_size, 32 MiB) per
	// buffer in flight doubles the parser's peak memory for no speed.
	// DuckDB reads the header and any title block above it as records
	// too (header = false): its skip option silently drops every row of
	// a file when a skipped line holds a misplaced quote, in strict mode.
	// findRejects ignores what it rejects up to the header.
	t.opts = fmt.Sprintf("header = false, auto_detect = false, columns = {%s}, delim = %s, quote = %s, escape = %s, strict_mode = true, encoding = 'utf-8', buffer_size = %d, max_line_size = %d",
		strings.Join(cols, ", "), sqlString(src.CSV.Delimiter), sqlString(src.CSV.Quote), sqlString(src.CSV.Escape), csvDuckDBBuffer, csvMaxLineSize)
	t.conn, err = s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: duckdb connection: %w", doc.Path, err)
	}
	if err := t.findRejects(ctx, s.cfg.MaxRejectedRows); err != nil {
		return nil, err
	}
	for _, r := range t.rejects {
		if r.typ == "INVALID ENCODING" || r.typ == "INVALID UNICODE" {
			line := lineOfRecord(localPath, src, r.ord)
			return nil, pipeline.Permanent(fmt.Errorf("%s: not UTF-8 text at line %d (%s); convert the file to UTF-8 or declare its encoding (csv.encoding) in the mapping", doc.Path, line, clip(strings.ToValidUTF8(r.csvLine, "?"))))
		}
	}
	if err := t.checkLineEnds(localPath); err != nil {
		return nil, err
	}
	return t, nil
}

// crAloneErr refuses a file whose first line ends with CR alone: DuckDB
// then splits records at CR, and csvTracker only at LF.
func (t *csvTable) crAloneErr() error {
	return pipeline.Permanent(fmt.Errorf(`%s: lines end with CR alone (as Excel's "CSV (Macintosh)" saves them): save the file with CRLF or LF line ends`, t.file))
}

// checkLineEnds refuses, before any row is read, a file whose line ends
// DuckDB reads otherwise than csvTracker: a first data line ending with
// CR alone (in a file without a header; readHeader checks the header),
// and, after a record DuckDB rejected (where DuckDB reads on rather than
// refusing the file), a CR alone or a change of line end (CRLF, LF) on a
// data line. DuckDB's record numbers then no longer follow the lines, and
// its rejects would be placed on the wrong rows.
func (t *csvTable) checkLineEnds(localPath string) error {
	if len(t.rejects) == 0 && t.src.HasHeader() {
		return nil
	}
	f, err := os.Open(localPath)
	if err != nil {
		return fmt.Errorf("%s: open: %w", t.file, err)
	}
	defer f.Close()
	tr := newCSVTracker(f, t.src.CSV.Delimiter[0], t.src.CSV.Quote[0], t.src.CSV.Escape[0])
	for {
		rec, ok, err := tr.next(false)
		if err != nil {
			return fmt.Errorf("%s: read: %w", t.file, err)
		}
		if !ok {
			return nil
		}
		switch {
		case rec.ord <= t.hdrOrd || rec.blank:
			continue
		case rec.bareCR && rec.ord == 1:
			return t.crAloneErr()
		case rec.bareCR:
			return pipeline.Permanent(fmt.Errorf("%s: mixed line ends: a line inside the record on line %d ends with CR alone; save the file with one kind of line end", t.file, rec.line))
		case rec.mixedEnd:
			kind := func(crlf bool) string {
				if crlf {
					return "CRLF"
				}
				return "LF"
			}
			return pipeline.Permanent(fmt.Errorf("%s: mixed line ends: line %d ends with %s, the lines before it with %s; save the file with one kind of line end",
				t.file, rec.endLine, kind(!tr.firstCRLF), kind(tr.firstCRLF)))
		}
		if len(t.rejects) == 0 {
			return nil // without rejects, only the first line matters
		}
	}
}

// readHeader reads the records up to the header, the one starting on the
// line header_row names (the first line by default), and returns it. The
// records above it, a title block, are not data: their fields and
// quoting do not matter, only where they end.
func (t *csvTable) readHeader() (csvRecord, error) {
	want, opt := 1, "" // opt names the option in messages, when set
	if h := t.src.HeaderRow; h != nil {
		want, opt = *h, fmt.Sprintf("header_row %d: ", *h)
	}
	lines := 0 // the last line of the records read
	for {
		rec, ok, err := t.tracker.next(true)
		if err != nil {
			return csvRecord{}, fmt.Errorf("%s: read header: %w", t.file, err)
		}
		if !ok {
			if t.src.HeaderRow == nil {
				return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: empty file: no header line", t.file))
			}
			return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: %spast the end of the file, which has %d lines", t.file, opt, lines))
		}
		if rec.bareCR {
			// Read as one line: the header would take the first row's
			// cells (or lie beyond the end), and the file would give no
			// rows.
			return csvRecord{}, t.crAloneErr()
		}
		// A record ended by a line break leaves the tracker on the next
		// line; one ended by the end of the file, on its own last line.
		lines = t.tracker.line - 1
		if t.tracker.eof {
			lines = t.tracker.line
		}
		if rec.line < want {
			if lines >= want {
				return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: %sline %d is inside the record that starts on line %d (a quoted value spanning lines): header_row counts the file's lines, and must name the line where the header starts", t.file, opt, want, rec.line))
			}
			continue
		}
		switch {
		case rec.blank && t.src.HeaderRow == nil:
			return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: empty file: no header line", t.file))
		case rec.blank:
			return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: %sline %d is blank, not a header", t.file, opt, want))
		case rec.truncated:
			return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: header line longer than %d bytes", t.file, csvMaxHeader))
		}
		if i := invalidUTF8At(rec.raw); i >= 0 {
			return csvRecord{}, pipeline.Permanent(fmt.Errorf("%s: not UTF-8 text: invalid byte 0x%02X in the header (line %d, byte %d); convert the file to UTF-8 or declare its encoding (csv.encoding) in the mapping", t.file, rec.raw[i], rec.line, i+1))
		}
		return rec, nil
	}
}

const (
	csvRejectsTable = "docgraph_csv_rejects"
	csvRejectsScan  = "docgraph_csv_reject_scans"
)

// findRejects runs pass 1.
func (t *csvTable) findRejects(ctx context.Context, maxRejected int) error {
	drop := "DROP TABLE IF EXISTS " + csvRejectsTable + "; DROP TABLE IF EXISTS " + csvRejectsScan
	if _, err := t.conn.ExecContext(ctx, drop); err != nil {
		return fmt.Errorf("%s: duckdb: %w", t.file, err)
	}
	counts := make([]string, t.width)
	for i := range counts {
		counts[i] = fmt.Sprintf("count(c%d)", i)
	}
	q := fmt.Sprintf("SELECT %s FROM read_csv(%s, %s, store_rejects = true, rejects_table = '%s', rejects_scan = '%s')",
		strings.Join(counts, ", "), sqlString(t.path), t.opts, csvRejectsTable, csvRejectsScan)
	if _, err := t.conn.ExecContext(ctx, q); err != nil {
		return t.duckErr(err)
	}
	// column_idx is NULL for errors of the whole line (over-long lines).
	// The title block and the header are not rows: what DuckDB rejects
	// there (a one-cell title) is ignored, but for text that is not
	// UTF-8, refused anywhere in the file. A blank line of white space is
	// not a row either (csvTracker skips it).
	rq := fmt.Sprintf(`SELECT line, arg_min(error_type, coalesce(column_idx, 0)), arg_min(coalesce(column_name, ''), coalesce(column_idx, 0)),
		coalesce(arg_min(csv_line, coalesce(column_idx, 0)), ''), coalesce(arg_min(error_message, coalesce(column_idx, 0)), '')
		FROM %s WHERE (line > %d OR error_type IN ('INVALID ENCODING', 'INVALID UNICODE'))
		AND NOT (error_type = 'MISSING COLUMNS' AND trim(coalesce(csv_line, ''), %s) = '')
		GROUP BY line ORDER BY line LIMIT %d`, csvRejectsTable, t.hdrOrd, sqlChars(blankSpace(t.src.CSV.Delimiter[0])), maxRejected+1)
	rows, err := t.conn.QueryContext(ctx, rq)
	if err != nil {
		return fmt.Errorf("%s: duckdb rejects: %w", t.file, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r csvReject
		if err := rows.Scan(&r.ord, &r.typ, &r.column, &r.csvLine, &r.message); err != nil {
			return fmt.Errorf("%s: duckdb rejects: %w", t.file, err)
		}
		t.rejects = append(t.rejects, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: duckdb rejects: %w", t.file, err)
	}
	if len(t.rejects) > maxRejected {
		return pipeline.Permanent(fmt.Errorf("%s: more than %d malformed rows (first: record %d: %s)", t.file, maxRejected, t.rejects[0].ord, t.rejects[0].message))
	}
	return nil
}

// duckErr classifies a DuckDB read error: the file is bad, permanently.
func (t *csvTable) duckErr(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, "\n  file ="); i > 0 {
		msg = msg[:i] // drop DuckDB's dump of the reader options
	}
	msg = strings.ReplaceAll(msg, t.path, t.file)
	// Strict mode refuses a file whose line ends change (a line appended
	// with LF to a CRLF file) with a message that names neither the line
	// nor a fix the mapping offers.
	if strings.Contains(msg, "state machine reached an invalid state") && t.src != nil {
		if line, first, other := mixedLineEnds(t.path, t.src.CSV.Quote[0]); line > 0 {
			return pipeline.Permanent(fmt.Errorf("%s: mixed line ends: line %d ends with %s, the lines before it with %s; save the file with one kind of line end",
				t.file, line, other, first))
		}
	}
	return pipeline.Permanent(fmt.Errorf("%s: unreadable CSV: %s", t.file, strings.TrimSpace(msg)))
}

// mixedLineEnds returns the first physical line of the file at path whose
// record end (outside quotes) is not of the kind of the first one, and the
// two kinds (CRLF, LF); line is 0 if the file's record ends agree.
func mixedLineEnds(path string, quote byte) (line int, first, other string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", ""
	}
	defer f.Close()
	kind := func(crlf bool) string {
		if crlf {
			return "CRLF"
		}
		return "LF"
	}
	r := bufio.NewReader(f)
	inQuotes, seen, firstCRLF := false, false, false
	var prev byte
	for line = 1; ; prev = 0 {
		b, err := r.ReadByte()
		for ; err == nil && b != '\n'; b, err = r.ReadByte() {
			if b == quote {
				inQuotes = !inQuotes
			}
			prev = b
		}
		if err != nil {
			return 0, "", ""
		}
		if !inQuotes {
			crlf := prev == '\r'
			switch {
			case !seen:
				seen, firstCRLF = true, crlf
			case crlf != firstCRLF:
				return line, kind(firstCRLF), kind(crlf)
			}
		}
		line++
	}
}

func (t *csvTable) header() []string {
	return t.hdr
}

func (t *csvTable) where() string { return t.file }

func (t *csvTable) sheetName() string { return "" }

func (t *csvTable) headerLine() int { return t.hdrLine }

func (t *csvTable) cellKind() cellKind { return cellKind{} }

func (t *csvTable) selectColumns(positions []int, _ []string, _ []bool) { t.positions = positions }

func (t *csvTable) headerHeadings() []string { return nil }

// next returns the next good row or rejected row, in file order.
func (t *csvTable) next(ctx context.Context) (tableRow, bool, error) {
	for {
		if t.reads++; t.reads%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return tableRow{}, false, err
			}
		}
		// A reject the tracker has already passed (it cannot place it):
		// report it by record number rather than lose it.
		if t.ri < len(t.rejects) && t.rejects[t.ri].ord < int64(t.tracker.ord) {
			r := t.rejects[t.ri]
			t.ri++
			return tableRow{rowErr: t.rejectError(r, csvRecord{})}, true, nil
		}
		rec, ok, err := t.tracker.next(true)
		if err != nil {
			return tableRow{}, false, fmt.Errorf("%s: read: %w", t.file, err)
		}
		if !ok {
			if t.ri < len(t.rejects) {
				r := t.rejects[t.ri]
				t.ri++
				return tableRow{rowErr: t.rejectError(r, csvRecord{})}, true, nil
			}
			return tableRow{}, false, nil
		}
		if rec.blank {
			continue
		}
		if t.ri < len(t.rejects) && t.rejects[t.ri].ord == int64(rec.ord) {
			r := t.rejects[t.ri]
			t.ri++
			return tableRow{line: rec.line, rowErr: t.rejectError(r, rec)}, true, nil
		}
		if t.cells == nil {
			t.cells = make([]string, t.width)
		}
		n := splitCSVCells(rec.raw, t.tracker.delim, t.tracker.quote, t.tracker.esc, t.cells)
		if n != t.width {
			// DuckDB accepted the record: unreachable unless the two
			// readers disagree, which must not pass silently.
			return tableRow{line: rec.line, rowErr: &event.RowError{Line: rec.line, Value: clip(string(rec.raw)),
				Error: fmt.Sprintf("%d fields where DuckDB read %d: the parser's two CSV readers disagree (a bug)", n, t.width)}}, true, nil
		}
		if blankRow(t.cells) {
			// Delimiters alone, as spreadsheets save empty rows: a blank
			// line, as in a workbook.
			continue
		}
		return tableRow{line: rec.line, cells: t.cells}, true, nil
	}
}

// rejectError describes a row DuckDB rejected.
func (t *csvTable) rejectError(r csvReject, rec csvRecord) *event.RowError {
	e := &event.RowError{Line: rec.line, Value: clip(strings.Trim(r.csvLine, "\r\n"))}
	switch r.typ {
	case "TOO MANY COLUMNS", "MISSING COLUMNS":
		if rec.fields > 0 {
			e.Error = fmt.Sprintf("%d fields, the header has %d", rec.fields, t.width)
		} else {
			e.Error = fmt.Sprintf("wrong number of fields (the header has %d)", t.width)
		}
	case "UNQUOTED VALUE":
		e.Error = "unterminated or misplaced quote"
		e.Column = t.columnName(r.column)
	case "LINE SIZE OVER MAXIMUM":
		e.Error = fmt.Sprintf("line longer than the maximum line size, %d bytes", csvMaxLineSize)
	default:
		e.Error = strings.ToLower(r.typ) + ": " + r.message
		e.Column = t.columnName(r.column)
	}
	if rec.line == 0 {
		e.Error += fmt.Sprintf(" (record %d)", r.ord)
	}
	return e
}

// columnName maps DuckDB's cN back to the header name.
func (t *csvTable) columnName(c string) string {
	i, err := strconv.Atoi(strings.TrimPrefix(c, "c"))
	if err != nil || !strings.HasPrefix(c, "c") || i < 0 || i >= t.width {
		return ""
	}
	if i < len(t.hdr) {
		return strings.TrimSpace(t.hdr[i])
	}
	if i < len(t.src.Columns) {
		return t.src.Columns[i].Name
	}
	return ""
}

func (t *csvTable) close() error {
	var errs []error
	if t.conn != nil {
		// The rejects tables are temporary, per connection: drop them so a
		// pooled connection starts clean.
		_, err := t.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+csvRejectsTable+"; DROP TABLE IF EXISTS "+csvRejectsScan) //nolint:contextcheck // cleanup must run after cancellation
		errs = append(errs, err, t.conn.Close())
		t.conn = nil
	}
	if t.trackF != nil {
		errs = append(errs, t.trackF.Close())
		t.trackF = nil
	}
	if t.cleanup != nil {
		t.cleanup()
		t.cleanup = nil
	}
	return errors.Join(errs...)
}

// lineOfRecord returns the physical line where record ord starts (0 if
// unknown).
func lineOfRecord(localPath string, src *schema.Source, ord int64) int {
	f, err := os.Open(localPath)
	if err != nil {
		return 0
	}
	defer f.Close()
	tr := newCSVTracker(f, src.CSV.Delimiter[0], src.CSV.Quote[0], src.CSV.Escape[0])
	for {
		rec, ok, err := tr.next(false)
		if err != nil || !ok {
			return 0
		}
		if int64(rec.ord) == ord {
			return rec.line
		}
	}
}

// safeDuckDBPath returns a path DuckDB reads literally: read_csv expands
// glob characters, so a path holding them is linked under a plain name.
func safeDuckDBPath(p, tempDir string) (string, func(), error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", nil, err
	}
	if !strings.ContainsAny(abs, "*?[]{}") && !strings.Contains(abs, "://") {
		return abs, func() {}, nil
	}
	dir, err := os.MkdirTemp(tempDir, "docgraph-csv-")
	if err != nil {
		return "", nil, fmt.Errorf("link for duckdb: %w", err)
	}
	if strings.ContainsAny(dir, "*?[]{}") {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("temporary directory %q holds glob characters", dir)
	}
	link := filepath.Join(dir, "data.csv")
	if err := os.Symlink(abs, link); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("link for duckdb: %w", err)
	}
	return link, func() { os.RemoveAll(dir) }, nil
}

// blankSpace returns the bytes a blank line may hold besides its line
// break, for a file delimited by delim: spaces and tabs, but the
// delimiter (a line of tabs in a tab-delimited file is a row of empty
// cells).
func blankSpace(delim byte) string {
	return strings.ReplaceAll(" \t\r\n", string(delim), "")
}

// sqlChars renders s, ASCII, as a DuckDB string expression (chr for
// control characters).
func sqlChars(s string) string {
	parts := make([]string, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' {
			parts = append(parts, fmt.Sprintf("chr(%d)", c))
		} else {
			parts = append(parts, sqlString(string(c)))
		}
	}
	return strings.Join(parts, " || ")
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// invalidUTF8At returns the offset of the first invalid UTF-8 byte, or -1.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// csvTracker finds record boundaries and physical line numbers in CSV
// bytes the way DuckDB splits them: a quote opens a quoted field only at
// the start of a field, or after one space there; inside it the escape
// character (or a doubled quote) escapes a quote, and line breaks are part
// of the value. After the closing quote, spaces are not data, and (when
// the escape is the quote) a quote after them resumes the quoted value.
// Records end at '\n' ("\r\n" included) outside quotes; a line empty or
// of white space alone (one field of spaces and tabs) is blank.
type csvTracker struct {
	r                 *bufio.Reader
	delim, quote, esc byte
	line              int // physical line where the next record starts
	captureMax        int // longest record captured (0: no bound)
	buf               []byte
	ord               int // DuckDB record number of the next record
	eof               bool
	// seenEnd says a record has ended with a line break; firstCRLF, that
	// the first one was CRLF: DuckDB takes the file's line end from it.
	seenEnd, firstCRLF bool
	// stopUnquoted and stopQuoted mark the bytes that end a run of
	// ordinary bytes inside an unquoted and a quoted field.
	stopUnquoted, stopQuoted [256]bool
}

// csvRecord is one record as csvTracker saw it.
type csvRecord struct {
	ord, line, fields int
	blank             bool
	raw               []byte // only when captured
	truncated         bool
	// mixedEnd says the record ends (on line endLine) with a line break
	// of another kind (CRLF, LF) than the file's first.
	mixedEnd bool
	endLine  int
	// bareCR says a CR that no LF follows lies outside quotes: DuckDB
	// ends a line there.
	bareCR bool
}

func newCSVTracker(r io.Reader, delim, quote, esc byte) *csvTracker {
	br := bufio.NewReaderSize(r, csvTrackerBuffer)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3) // the UTF-8 byte order mark is not data
	}
	t := &csvTracker{r: br, delim: delim, quote: quote, esc: esc, line: 1, ord: 1, captureMax: csvMaxHeader}
	for _, c := range []byte{delim, '\n', '\r'} {
		t.stopUnquoted[c] = true
	}
	for _, c := range []byte{quote, esc, '\n'} {
		t.stopQuoted[c] = true
	}
	return t
}

const (
	csvStField      = iota
	csvStFieldSpace // one space at the start of a field: a quote may follow
	csvStUnquoted
	csvStQuoted
	csvStQuotedQuote // a quote inside a quoted field: closes it unless doubled
	csvStQuotedEsc   // the escape character inside a quoted field
	csvStQuotedSpace // spaces after a closing quote (splitCSVRecord)
)

// fieldSpace reports whether c, at the start of a field, is the one space
// after which a quote still opens a quoted field, as DuckDB reads it.
func fieldSpace(c, delim byte) bool { return c == ' ' && delim != ' ' }

// fieldStartState returns the state after body, a piece of a record
// without quoting that follows state (csvStField, csvStFieldSpace or
// csvStUnquoted).
func fieldStartState(state int, body []byte, delim byte) int {
	n := len(body)
	switch {
	case n == 0:
		return state
	case body[n-1] == delim:
		return csvStField
	case !fieldSpace(body[n-1], delim):
		return csvStUnquoted
	case n >= 2 && body[n-2] == delim, n == 1 && state == csvStField:
		return csvStFieldSpace
	}
	return csvStUnquoted
}

// next scans one record; capture keeps its bytes (up to captureMax) in
// rec.raw, valid until the next call.
func (t *csvTracker) next(capture bool) (csvRecord, bool, error) {
	if t.eof {
		return csvRecord{}, false, nil
	}
	rec := csvRecord{ord: t.ord, line: t.line, fields: 1}
	if capture {
		rec.raw = t.buf[:0]
		defer func() { t.buf = rec.raw[:0] }()
	}
	state := csvStField
	content := false   // any byte other than the line break
	ink := false       // any byte other than white space
	var last byte      // the last byte of the record's previous piece
	pendingCR := false // the previous piece ended with a CR outside quotes
	for {
		chunk, err := t.r.ReadSlice('\n')
		if pendingCR && len(chunk) > 0 {
			pendingCR = false
			rec.bareCR = rec.bareCR || chunk[0] != '\n'
		}
		if capture && len(chunk) > 0 {
			if t.captureMax > 0 && len(rec.raw)+len(chunk) > t.captureMax {
				rec.truncated = true
			} else {
				rec.raw = append(rec.raw, chunk...)
			}
		}
		ended := false
		if (state == csvStField || state == csvStFieldSpace || state == csvStUnquoted) && bytes.IndexByte(chunk, t.quote) < 0 && (t.esc == t.quote || bytes.IndexByte(chunk, t.esc) < 0) {
			// Fast path: no quoting in this piece.
			rec.fields += bytes.Count(chunk, []byte{t.delim})
			body := chunk
			if n := len(body); n > 0 && body[n-1] == '\n' {
				body = body[:n-1]
				ended = true
			}
			if len(bytes.TrimRight(body, "\r")) > 0 || (len(body) > 0 && !ended) {
				content = true
			}
			if !ink && rec.fields == 1 {
				ink = len(bytes.Trim(body, " \t\r")) > 0
			}
			if n := len(body); n > 0 {
				// A CR before the last byte has no LF after it; the
				// last one has, if the next piece starts with it.
				rec.bareCR = rec.bareCR || bytes.IndexByte(body[:n-1], '\r') >= 0
				pendingCR = body[n-1] == '\r' && !ended
			}
			state = fieldStartState(state, body, t.delim)
		} else {
			for i := 0; i < len(chunk); i++ {
				if content && ink {
					// Inside a field, up to the next byte that can
					// change the state: the others change nothing.
					switch state {
					case csvStUnquoted:
						for i < len(chunk) && !t.stopUnquoted[chunk[i]] {
							i++
						}
					case csvStQuoted:
						for i < len(chunk) && !t.stopQuoted[chunk[i]] {
							i++
						}
					}
					if i == len(chunk) {
						break
					}
				}
				c := chunk[i]
				if c == '\n' && state != csvStQuoted && state != csvStQuotedEsc {
					ended = true
					break
				}
				if c != '\r' {
					content = true
				} else if state != csvStQuoted && state != csvStQuotedEsc {
					if i+1 < len(chunk) {
						rec.bareCR = rec.bareCR || chunk[i+1] != '\n'
					} else {
						pendingCR = true
					}
				}
				if c != ' ' && c != '\t' && c != '\r' {
					ink = true
				}
				switch state {
				case csvStField, csvStFieldSpace, csvStUnquoted:
					switch {
					case c == t.delim:
						rec.fields++
						state = csvStField
					case c == t.quote && state != csvStUnquoted:
						state = csvStQuoted
					case state == csvStField && fieldSpace(c, t.delim):
						state = csvStFieldSpace
					default:
						state = csvStUnquoted
					}
				case csvStQuoted:
					switch {
					case c == '\n':
						t.line++
					case c == t.esc && t.esc != t.quote:
						state = csvStQuotedEsc
					case c == t.quote:
						state = csvStQuotedQuote
					}
				case csvStQuotedEsc:
					if c == '\n' {
						t.line++
					}
					state = csvStQuoted
				case csvStQuotedQuote:
					switch {
					case c == t.quote && t.esc == t.quote:
						state = csvStQuoted // a doubled quote, or quoting resumed after spaces
					case c == t.delim:
						rec.fields++
						state = csvStField
					case fieldSpace(c, t.delim):
						// Spaces after the closing quote.
					default:
						// Anything else after the closing quote (with
						// another escape, a quote too) is a bad field:
						// DuckDB reads on to the line end.
						state = csvStUnquoted
					}
				}
			}
		}
		if ended {
			before := last
			if len(chunk) >= 2 {
				before = chunk[len(chunk)-2]
			}
			if crlf := before == '\r'; !t.seenEnd {
				t.seenEnd, t.firstCRLF = true, crlf
			} else {
				rec.mixedEnd = crlf != t.firstCRLF
			}
			rec.endLine = t.line
			t.line++
			t.ord++
			rec.blank = !content || !ink && rec.fields == 1
			if capture {
				rec.raw = bytes.TrimRight(rec.raw, "\r\n")
			}
			return rec, true, nil
		}
		if len(chunk) > 0 {
			last = chunk[len(chunk)-1]
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			t.eof = true
			if !content && state == csvStField && len(chunk) == 0 && rec.fields == 1 {
				return csvRecord{}, false, nil
			}
			t.ord++
			rec.blank = !content || !ink && rec.fields == 1
			if capture {
				rec.raw = bytes.TrimRight(rec.raw, "\r\n")
			}
			return rec, true, nil
		}
		if err != nil {
			return csvRecord{}, false, err
		}
	}
}

// splitCSVRecord splits one record (the header) into fields.
func splitCSVRecord(raw []byte, delim, quote, esc byte) []string {
	var fields []string
	var cur []byte
	spaces := 0 // after a closing quote
	state := csvStField
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch state {
		case csvStField, csvStFieldSpace, csvStUnquoted:
			switch {
			case c == delim:
				fields = append(fields, string(cur))
				cur = cur[:0]
				state = csvStField
			case c == quote && state != csvStUnquoted:
				cur = cur[:0] // the space before the quote is not data
				state = csvStQuoted
			case state == csvStField && fieldSpace(c, delim):
				cur = append(cur, c)
				state = csvStFieldSpace
			default:
				cur = append(cur, c)
				state = csvStUnquoted
			}
		case csvStQuoted:
			switch {
			case c == esc && esc != quote:
				state = csvStQuotedEsc
			case c == quote:
				state = csvStQuotedQuote
			default:
				cur = append(cur, c)
			}
		case csvStQuotedEsc:
			cur = append(cur, c)
			state = csvStQuoted
		case csvStQuotedQuote, csvStQuotedSpace:
			switch {
			case c == quote && state == csvStQuotedQuote:
				cur = append(cur, c) // a doubled quote
				state = csvStQuoted
			case c == quote && esc == quote:
				// Quoting resumes after spaces, which DuckDB keeps.
				cur = append(cur, bytes.Repeat([]byte{' '}, spaces)...)
				state = csvStQuoted
			case c == delim:
				fields = append(fields, string(cur))
				cur = cur[:0]
				state = csvStField
			case fieldSpace(c, delim):
				if state == csvStQuotedQuote {
					spaces = 0
				}
				spaces++
				state = csvStQuotedSpace
			default:
				if state == csvStQuotedSpace {
					cur = append(cur, bytes.Repeat([]byte{' '}, spaces)...)
				}
				cur = append(cur, c)
				state = csvStUnquoted
			}
		}
	}
	return append(fields, string(cur))
}

// unquoteResumed reads the text between the first and the last quote of
// a field whose quoting resumed after spaces ("a" "b"; the escape is the
// quote) as DuckDB does: pairs of quotes, taken from the left, are one
// quote each, and a quote left alone is dropped. So "" "" "" reads ` " `:
// the middle pair is a quote, not an empty quoted section.
func unquoteResumed(s string, quote byte) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != quote {
			b = append(b, s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == quote {
			b = append(b, quote)
			i++
		}
	}
	return string(b)
}

// splitCSVCells splits one accepted record into cells (as
// splitCSVRecord), filling cells up to its length, and returns the number
// of fields. Empty fields past len(cells) are not counted when every
// field there is empty: DuckDB reads such a record (a delimiter ending
// each line, as some programs write) as one of len(cells) fields. The
// record is converted to a string once; cells without escapes are
// substrings of it.
func splitCSVCells(raw []byte, delim, quote, esc byte, cells []string) int {
	line := string(raw)
	n := 0
	over := false // a field past len(cells) holds something
	set := func(v string) {
		if n < len(cells) {
			cells[n] = v
		} else if strings.Trim(v, "\x00") != "" {
			// DuckDB reads NUL bytes alone there as nothing, at times
			// (one, or several at the end of the file); where it rejects
			// them, its reject is reported.
			over = true
		}
		n++
	}
	count := func() int {
		if n > len(cells) && !over {
			return len(cells)
		}
		return n
	}
	for i := 0; ; {
		if i+1 < len(line) && fieldSpace(line[i], delim) && line[i+1] == quote {
			i++ // one space before the opening quote is not data
		}
		if i < len(line) && line[i] == quote {
			// Quoted field: up to the closing quote; escapes force a copy.
			start := i + 1
			j := start
			var cur []byte
			copied, resumed := false, false
			for j < len(line) {
				c := line[j]
				if c == esc && esc != quote && j+1 == len(line) {
					// An escape that ends the file inside quotes: DuckDB
					// reads nothing for it.
					if !copied {
						cur, copied = append(cur, line[start:j]...), true
					}
					j++
					continue
				}
				if c == esc && esc != quote && j+1 < len(line) {
					if !copied {
						cur, copied = append(cur, line[start:j]...), true
					}
					cur = append(cur, line[j+1])
					j += 2
					continue
				}
				if c == quote {
					if j+1 < len(line) && line[j+1] == quote {
						if !copied {
							cur, copied = append(cur, line[start:j]...), true
						}
						cur = append(cur, quote)
						j += 2
						continue
					}
					// Spaces after the closing quote, then a quote: the
					// quoting resumes, the spaces kept.
					m := j + 1
					for m < len(line) && fieldSpace(line[m], delim) {
						m++
					}
					if m > j+1 && m < len(line) && line[m] == quote && esc == quote {
						if !copied {
							cur, copied = append(cur, line[start:j]...), true
						}
						cur = append(cur, line[j+1:m]...)
						j, resumed = m+1, true
						continue
					}
					break
				}
				if copied {
					cur = append(cur, c)
				}
				j++
			}
			var v string
			switch {
			case resumed && j < len(line):
				v = unquoteResumed(line[start:j], quote)
			case copied:
				v = string(cur)
			default:
				v = line[start:min(j, len(line))]
			}
			j++ // the closing quote
			// Spaces between the closing quote and the delimiter are
			// not data. Anything else there is kept, spaces too, as
			// splitCSVRecord does (DuckDB rejects it).
			k := j
			for k < len(line) && line[k] != delim {
				k++
			}
			if k > j && j <= len(line) && strings.Trim(line[j:k], " ") != "" {
				v += line[j:k]
			}
			set(v)
			if k >= len(line) {
				return count()
			}
			i = k + 1
			continue
		}
		k := strings.IndexByte(line[i:], delim)
		if k < 0 {
			set(line[i:])
			return count()
		}
		set(line[i : i+k])
		i += k + 1
	}
}
