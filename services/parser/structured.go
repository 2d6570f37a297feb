package parser

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// Defaults of StructuredConfig.
const (
	DefaultBatchSize         = 500
	DefaultDuckDBMemoryLimit = "256MB"
	// DefaultXLSXMaxUnzipSize refuses workbooks whose parts inflate to more
	// than 512 MiB in total (zip bombs), before inflating anything.
	DefaultXLSXMaxUnzipSize = 512 << 20
	// DefaultXLSXMaxXMLSize is the largest worksheet or shared-strings part
	// kept in memory; larger parts are inflated to TempDir and streamed.
	DefaultXLSXMaxXMLSize = 16 << 20
	// DefaultMaxRejectedRows is how many malformed CSV rows a file may have
	// before it is rejected as a whole.
	DefaultMaxRejectedRows = 10000
)

// rowWarnings is how many rejected rows per file are logged one by one;
// the rest are counted in one summary line.
const rowWarnings = 20

// StructuredConfig configures the structured path of the parser.
type StructuredConfig struct {
	// BatchSize is the number of rows per Records message
	// (DefaultBatchSize if 0).
	BatchSize int
	// TempDir is where DuckDB spills, large worksheets are inflated and
	// CSV files in a declared encoding other than UTF-8 are transcoded
	// (the system temporary directory if empty).
	TempDir string
	// DuckDBMemoryLimit caps DuckDB's memory, e.g. "256MB"
	// (DefaultDuckDBMemoryLimit if empty).
	DuckDBMemoryLimit string
	// DuckDBThreads is DuckDB's worker thread count (DuckDB's default, the
	// number of cores, if 0).
	DuckDBThreads int
	// XLSXMaxUnzipSize is the largest total inflated size of a workbook
	// (DefaultXLSXMaxUnzipSize if 0).
	XLSXMaxUnzipSize int64
	// XLSXMaxXMLSize is the largest workbook part kept in memory
	// (DefaultXLSXMaxXMLSize if 0); it must not exceed XLSXMaxUnzipSize.
	XLSXMaxXMLSize int64
	// MaxRejectedRows is the most malformed CSV rows (wrong field count,
	// bad quoting) a file may have before it is rejected as a whole
	// (DefaultMaxRejectedRows if 0).
	MaxRejectedRows int
	// MapWorkers is how many goroutines map a table's rows to records and
	// encode them while one reads the file (GOMAXPROCS if 0).
	MapWorkers int
	// OnRejected, if set, is told the rows of a file that a batch rejects
	// (on_row_error: skip_row) as the batch is emitted: ingest reports
	// them in its summary. A redelivered file tells them again.
	OnRejected func(file string, rows []event.RowError)
	// OnTable, if set, is told the table of each file Parse reads (its
	// sheet, header and how the declared columns matched it) once the
	// header is read and before any row is: also when the header then
	// rejects the file. A file under on_row_error: reject_file is read
	// twice, and told twice.
	OnTable func(Table)
}

// Structured reads the CSV and XLSX files that the structured mapping
// names, validates every row against the mapping's column types and emits
// the nodes and relationships the rows give as event.Records batches. CSV
// goes through an in-process DuckDB, XLSX through excelize's streaming row
// iterator, so memory stays flat as files grow. It is safe for concurrent
// use; Close releases DuckDB.
type Structured struct {
	m   *schema.Mapping
	cfg StructuredConfig
	log *slog.Logger
	db  *sql.DB
	con *duckdb.Connector
}

var _ StructuredParser = (*Structured)(nil)

// NewStructured validates cfg, fills its defaults and opens an in-memory
// DuckDB with the configured memory limit, spill directory and threads.
func NewStructured(m *schema.Mapping, cfg StructuredConfig, logger *slog.Logger) (*Structured, error) {
	if m == nil {
		return nil, errors.New("structured parser: mapping: required")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.DuckDBMemoryLimit == "" {
		cfg.DuckDBMemoryLimit = DefaultDuckDBMemoryLimit
	}
	if cfg.XLSXMaxUnzipSize == 0 {
		cfg.XLSXMaxUnzipSize = DefaultXLSXMaxUnzipSize
	}
	if cfg.XLSXMaxXMLSize == 0 {
		cfg.XLSXMaxXMLSize = min(DefaultXLSXMaxXMLSize, cfg.XLSXMaxUnzipSize)
	}
	if cfg.MaxRejectedRows == 0 {
		cfg.MaxRejectedRows = DefaultMaxRejectedRows
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.MapWorkers == 0 {
		cfg.MapWorkers = runtime.GOMAXPROCS(0)
	}
	var errs []error
	if cfg.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch_size (%d): must be positive", cfg.BatchSize))
	}
	if cfg.DuckDBThreads < 0 {
		errs = append(errs, fmt.Errorf("duckdb_threads (%d): must not be negative", cfg.DuckDBThreads))
	}
	if cfg.XLSXMaxUnzipSize < 0 || cfg.XLSXMaxXMLSize < 0 || cfg.XLSXMaxXMLSize > cfg.XLSXMaxUnzipSize {
		errs = append(errs, fmt.Errorf("xlsx_max_xml_size (%d): must be between 0 and xlsx_max_unzip_size (%d)", cfg.XLSXMaxXMLSize, cfg.XLSXMaxUnzipSize))
	}
	if cfg.MapWorkers < 0 {
		errs = append(errs, fmt.Errorf("map_workers (%d): must not be negative", cfg.MapWorkers))
	}
	if cfg.MaxRejectedRows < 0 {
		errs = append(errs, fmt.Errorf("max_rejected_rows (%d): must not be negative", cfg.MaxRejectedRows))
	}
	if strings.ContainsAny(cfg.DuckDBMemoryLimit, `'\`) {
		errs = append(errs, fmt.Errorf("duckdb_memory_limit (%q): not a size", cfg.DuckDBMemoryLimit))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("structured parser: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	settings := []string{
		"SET memory_limit = " + sqlString(cfg.DuckDBMemoryLimit),
		"SET temp_directory = " + sqlString(cfg.TempDir),
		// Never download or load extensions: the parser reads local files.
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
	}
	if cfg.DuckDBThreads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", cfg.DuckDBThreads))
	}
	con, err := duckdb.NewConnector("", func(ex driver.ExecerContext) error {
		for _, q := range settings {
			if _, err := ex.ExecContext(context.Background(), q, nil); err != nil { //nolint:contextcheck // connection init has no caller context
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("structured parser: open duckdb: %w", err)
	}
	db := sql.OpenDB(con)
	if err := db.Ping(); err != nil { //nolint:noctx // constructor validates the settings once
		closeErr := errors.Join(db.Close(), con.Close())
		return nil, fmt.Errorf("structured parser: duckdb settings: %w", errors.Join(err, closeErr))
	}
	return &Structured{m: m, cfg: cfg, log: logger, db: db, con: con}, nil
}

// Close releases DuckDB.
func (s *Structured) Close() error {
	return errors.Join(s.db.Close(), s.con.Close())
}

// Match reports whether the mapping names relPath.
func (s *Structured) Match(relPath string) bool {
	_, ok := s.m.Match(relPath)
	return ok
}

// Parse reads the file at localPath (a temporary copy of doc) with the
// mapping source that names doc.Path and emits its rows as Records batches
// numbered from 0, the last with Final set. Bad input (unreadable file,
// missing required columns, a bad row under reject_file) is a permanent
// error naming the file, and then nothing is emitted; under skip_row a bad
// row is reported in its batch's Rejected and the other rows are ingested.
// A CSV file whose source declares another encoding than UTF-8 is read
// from a UTF-8 copy in TempDir, removed when Parse returns.
func (s *Structured) Parse(ctx context.Context, doc event.Document, localPath string, emit pipeline.Emit) error {
	src, ok := s.m.Match(doc.Path)
	if !ok {
		return pipeline.Permanent(fmt.Errorf("%s: no structured mapping names this file", doc.Path))
	}
	if src.Format == schema.FormatCSV && src.CSV.Encoding != schema.EncodingUTF8 {
		// Once for both passes of reject_file.
		utf8Path, err := transcodeCSV(ctx, doc.Path, localPath, src.CSV.Encoding, s.cfg.TempDir)
		if err != nil {
			return err
		}
		defer os.Remove(utf8Path)
		localPath = utf8Path
	}
	var open func(ctx context.Context) (tableReader, error)
	switch src.Format {
	case schema.FormatCSV:
		open = func(ctx context.Context) (tableReader, error) { return s.openCSV(ctx, doc, src, localPath) }
	case schema.FormatXLSX:
		open = func(ctx context.Context) (tableReader, error) { return s.openXLSX(ctx, doc, src, localPath) }
	default:
		return pipeline.Permanent(fmt.Errorf("%s: source %s: unsupported format %q", doc.Path, src.Name, src.Format))
	}
	if src.OnRowError == schema.OnRowErrorReject {
		// A first pass validates every row without emitting, so that a
		// rejected file leaves nothing behind.
		if _, err := s.readTable(ctx, doc, src, open, nil); err != nil {
			return err
		}
	}
	_, err := s.readTable(ctx, doc, src, open, emit)
	return err
}

// tableRow is one record of a table: its cells (by file column) or, for a
// row the reader could not split into cells, rowErr.
type tableRow struct {
	line   int
	cells  []string
	rowErr *event.RowError
	// typed lists the file columns, among those read with a text format
	// (selectColumns), whose cells the file stores as numbers or dates
	// rather than text: a workbook's number and date cells. Text formats
	// do not apply to them. Nil for CSV.
	typed []int
}

// blankRow reports whether every cell of a row is empty or white space:
// such a row is skipped, not mapped.
func blankRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// tableReader yields the header and then the rows of one table.
type tableReader interface {
	// header returns the header cells (nil for a file without header).
	header() []string
	// headerLine returns the line (CSV) or sheet row (XLSX) number of the
	// header (0 for a file without header).
	headerLine() int
	// sheetName returns the worksheet read ("" for CSV).
	sheetName() string
	// where names the table in messages: the file, and a workbook's sheet.
	where() string
	// next returns the next row; ok is false at the end.
	next(ctx context.Context) (row tableRow, ok bool, err error)
	// cellKind says how cells encode dates.
	cellKind() cellKind
	// selectColumns names the file columns (by position) the mapping
	// reads, their types and whether they read text with a format (a
	// date layout, number separators); it is called once, before the
	// first next.
	selectColumns(positions []int, types []string, formatted []bool)
	// headerHeadings describes the header's cells merged across columns
	// (`B1:C1 ("pay")`), for messages; nil for none.
	headerHeadings() []string
	close() error
}

// cellKind says where cells come from: text (CSV) or raw XLSX values,
// where dates are serial numbers.
type cellKind struct {
	xlsx     bool
	date1904 bool
}

// RecordsMsgID is the message ID of batch of doc's records:
// "<sha256>:<batch>" qualified by the document version, so a redelivered
// input produces the same IDs while the same bytes published again as a
// newer version are not dropped as duplicates.
func RecordsMsgID(doc event.Document, batch int) string {
	return fmt.Sprintf("%s:%d@%d", doc.SHA256, batch, doc.Version)
}

// recordBatcher collects the nodes and relationships of BatchSize rows,
// merging duplicates within the batch, and emits them.
type recordBatcher struct {
	doc    event.Document
	source string
	size   int
	emit   pipeline.Emit

	cur     event.Records
	rows    int
	bufSize int // capacity for the next batch's encoding
	// nodes and rels index the batch's records by kind (the plans'
	// kind: a label, or a relationship type between two labels) and key
	// (a node's key, a relationship's end keys).
	nodes []map[string]int
	rels  []map[[2]string]int
	// nodeProps and relProps (by index in cur) are the records'
	// properties, their values cut from slab: the records' Properties
	// maps stay nil.
	nodeProps, relProps []propRow
	slab                []propVal
}

// propRow is a record's properties: vals[i] is the value of names[i],
// the names its label (or relationship type and end labels) may have,
// sorted.
type propRow struct {
	names []string
	vals  []propVal
}

// propVal is a property's value in a batch; text stays unboxed.
type propVal struct {
	set   bool
	isStr bool
	str   string
	v     any
}

func (b *recordBatcher) reset() {
	// The batch's slices and maps are reused: a flushed batch has been
	// encoded, nothing refers to it any more.
	clear(b.cur.Nodes)
	clear(b.cur.Relationships)
	clear(b.cur.Rejected)
	b.cur = event.Records{
		Source: b.doc, Mapping: b.source, Batch: b.cur.Batch,
		Nodes: b.cur.Nodes[:0], Relationships: b.cur.Relationships[:0], Rejected: b.cur.Rejected[:0],
	}
	b.rows = 0
	for _, m := range b.nodes {
		clear(m)
	}
	for _, m := range b.rels {
		clear(m)
	}
	clear(b.nodeProps)
	clear(b.relProps)
	b.nodeProps, b.relProps, b.slab = b.nodeProps[:0], b.relProps[:0], b.slab[:0]
}

// propRow returns an empty row of values for names.
func (b *recordBatcher) propRow(names []string) propRow {
	n := len(names)
	if len(b.slab)+n > cap(b.slab) {
		// The rows cut so far keep the slab they were cut from.
		b.slab = make([]propVal, 0, max(2*cap(b.slab), 256*n))
	}
	at := len(b.slab)
	b.slab = b.slab[:at+n]
	row := b.slab[at : at+n : at+n]
	clear(row)
	return propRow{names: names, vals: row}
}

// node returns the index in the batch of the node of plan n with key,
// adding it (without properties) if it is new.
func (b *recordBatcher) node(n *nodePlan, key string) int {
	for len(b.nodes) <= n.kind {
		b.nodes = append(b.nodes, make(map[string]int, b.size))
	}
	if i, ok := b.nodes[n.kind][key]; ok {
		return i
	}
	i := len(b.cur.Nodes)
	b.nodes[n.kind][key] = i
	b.cur.Nodes = append(b.cur.Nodes, event.Node{Label: n.label, Key: key})
	b.nodeProps = append(b.nodeProps, b.propRow(n.names))
	return i
}

// rel returns the index in the batch of the structured relationship of
// plan r between the keys from and to, adding it (without properties) if
// it is new.
func (b *recordBatcher) rel(r *relPlan, from, to string) int {
	for len(b.rels) <= r.kind {
		b.rels = append(b.rels, make(map[[2]string]int, b.size))
	}
	id := [2]string{from, to}
	if i, ok := b.rels[r.kind][id]; ok {
		return i
	}
	i := len(b.cur.Relationships)
	b.rels[r.kind][id] = i
	b.cur.Relationships = append(b.cur.Relationships, event.Relationship{
		Type: r.typ, From: event.NodeRef{Label: r.fromLabel, Key: from}, To: event.NodeRef{Label: r.toLabel, Key: to}, Source: event.SourceStructured,
	})
	b.relProps = append(b.relProps, b.propRow(r.names))
	return i
}

// rowMapper turns the cells of a row into nodes and relationships. The
// mapping is resolved once into plans over value slots, one slot per
// distinct (column, normalisation) pair, so that a row converts and
// normalises each value once and allocates only what it emits.
type rowMapper struct {
	file  string
	kind  cellKind
	cols  []mappedColumn // declared columns, with their file position
	byCol map[string]int // lower-cased declared name -> index in cols
	src   *schema.Source

	nodes    []nodePlan
	rels     []relPlan
	slots    []slotKey
	keySlots []int         // slots read as node keys
	keys     []internCache // by slot: raw text -> normalised

	// Per-row state, reused from row to row.
	vals  []cellValue // by column
	slotV []slotValue // by slot
}

type mappedColumn struct {
	schema.Column
	pos int // index in the row's cells; -1 when absent from the file
	// date is the column's date format (Layout "" for ISO text).
	date schema.DateFormat
	// numberText says the column reads numbers with the separators
	// decimal and thousands.
	numberText bool
	decimal    byte
	thousands  string
}

// cellValue is a converted cell: text stays unboxed.
type cellValue struct {
	set   bool
	isStr bool
	str   string
	v     any
}

// slotKey names a value slot: a column read with a normalisation.
type slotKey struct {
	col  int
	norm string
}

// slotValue is a slot's value in the current row.
type slotValue struct {
	done  bool
	ok    bool
	isStr bool
	str   string // normalised text
	v     any    // non-text value
	key   string // key text, when keyDone
	kdone bool
}

type propPlan struct {
	slot int
	idx  int // the property's index in its plan's names
}

type nodePlan struct {
	label string
	kind  int      // the label's index among the source's labels
	key   int      // slot
	names []string // the property names of the label's nodes, sorted
	props []propPlan
}

type relPlan struct {
	typ                string
	fromLabel, toLabel string
	kind               int      // the index of (typ, fromLabel, toLabel) among the source's
	from, to           int      // slots
	names              []string // the property names of such relationships, sorted
	props              []propPlan
}

// internMax bounds an internCache; internTrial is how many lookups decide
// whether it is worth keeping.
const (
	internMax   = 4096
	internTrial = 4096
)

// internCache remembers the normalised values of cell text so that
// repeated cells (a team name on every row of its members) are normalised
// and allocated once. It switches itself off when fewer than half of its
// first internTrial lookups hit, and starts over when full.
type internCache struct {
	m             map[string]string
	lookups, hits int
	off           bool
}

func (c *internCache) get(k string) (string, bool) {
	if c.off {
		return "", false
	}
	v, ok := c.m[k]
	if ok {
		c.hits++
	}
	if c.lookups++; c.lookups == internTrial && c.hits < internTrial/2 {
		c.off, c.m = true, nil
	}
	return v, ok
}

func (c *internCache) put(k, v string) {
	if c.off {
		return
	}
	if c.m == nil {
		c.m = make(map[string]string, 64)
	} else if len(c.m) >= internMax {
		clear(c.m)
	}
	c.m[k] = v
}

// newRowMapper finds the declared columns in the header, on line (or
// sheet row) headerLine, as columnKey reads names. Missing required
// columns are a permanent error naming the file, the header's line and
// every missing column.
func newRowMapper(file string, src *schema.Source, header []string, headerLine int, kind cellKind, headings []string) (*rowMapper, error) {
	rm := &rowMapper{file: file, kind: kind, src: src, byCol: map[string]int{}}
	matches := MatchColumns(src, header)
	for _, cm := range matches.Declared {
		pos := -1
		if cm.Status == ColumnMatched {
			pos = cm.Positions[0]
		}
		mc, err := newMappedColumn(cm.Column, pos)
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("%s: source %s: %w", file, src.Name, err))
		}
		rm.byCol[columnKey(cm.Column.Name)] = len(rm.cols)
		rm.cols = append(rm.cols, mc)
	}
	missing, dup := matches.MissingRequired(), matches.Duplicated()
	var errs []string
	if len(missing) > 0 {
		errs = append(errs, fmt.Sprintf("missing required columns: %s", strings.Join(missing, ", ")))
	}
	if len(dup) > 0 {
		errs = append(errs, fmt.Sprintf("columns named more than once in the header: %s", strings.Join(dup, ", ")))
	}
	if len(errs) > 0 {
		row := "row"
		if src.Format == schema.FormatCSV {
			row = "line"
		}
		// Where the header was looked for: a header_row set wrong, or a
		// title block it should skip, shows here.
		at := fmt.Sprintf("header (%s %d)", row, headerLine)
		if src.HeaderRow != nil {
			at = fmt.Sprintf("header (%s %d, header_row: %d)", row, headerLine, *src.HeaderRow)
		}
		hint := ""
		switch d := otherDelimiter(src, header); {
		case len(missing) == 0:
		case d != "":
			hint = fmt.Sprintf("; the header is one column holding %q: if the file is delimited by %[1]q, set csv.delimiter: %[1]q in the source", d)
		case len(headings) > 0:
			// A title, or a heading over columns the row below names.
			what := "a title or a heading over several columns: if the header is below it"
			if len(headings) > 1 {
				what = "titles or headings over several columns: if the header is below them"
			}
			hint = fmt.Sprintf("; cells %s are merged, %s, set header_row in the source to its %s number", strings.Join(headings, ", "), what, row)
		case src.HeaderRow == nil:
			hint = fmt.Sprintf("; if the header is below a title block, set header_row in the source to its %s number", row)
		}
		return nil, pipeline.Permanent(fmt.Errorf("%s: source %s: %s: %s (header: %s)%s", file, src.Name, at, strings.Join(errs, "; "), describeHeader(header), hint))
	}
	rm.plan()
	return rm, nil
}

// newMappedColumn resolves column c's text format; pos is its file
// position.
func newMappedColumn(c schema.Column, pos int) (mappedColumn, error) {
	mc := mappedColumn{Column: c, pos: pos}
	if c.Format != "" && (c.Type == schema.TypeDate || c.Type == schema.TypeDateTime) {
		df, err := schema.ParseLocalDateFormat(c.Format, c.Locale)
		if err != nil {
			return mc, fmt.Errorf("column %s: format %q: %w", c.Name, c.Format, err)
		}
		mc.date = df
	}
	if c.NumberText() {
		mc.numberText, mc.decimal, mc.thousands = true, '.', c.Thousands
		if c.Decimal == "," {
			mc.decimal = ','
		}
	}
	return mc, nil
}

// columnKey is how a header or a declared column is known: trimmed, runs
// of white space as one space, in lower case. A header cell may wrap its
// words onto lines (a line break typed in the cell) or join them with a
// non-breaking space, and still looks like the name the mapping declares.
func columnKey(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// otherDelimiter returns the delimiter, other than its source's, that the
// header of a CSV file read as one column holds ("" for none): Excel saves
// "CSV" with ";" where the decimal separator is a comma, and "Unicode
// Text" with tabs.
func otherDelimiter(src *schema.Source, header []string) string {
	if src.Format != schema.FormatCSV || len(header) != 1 {
		return ""
	}
	for _, d := range []string{";", "\t", "|", ","} {
		if d != src.CSV.Delimiter && strings.Contains(header[0], d) {
			return d
		}
	}
	return ""
}

// headerNames is how many header names an error message lists.
const headerNames = 50

// describeHeader lists the non-empty cells of a header for an error
// message, the first headerNames of them: a workbook row reaching column
// XFD has 16384 cells.
func describeHeader(header []string) string {
	var names []string
	n := 0
	for _, h := range header {
		if strings.TrimSpace(h) == "" {
			continue
		}
		if n++; n <= headerNames {
			names = append(names, clip(h))
		}
	}
	if n > headerNames {
		names = append(names, fmt.Sprintf("and %d more", n-headerNames))
	}
	return strings.Join(names, ", ")
}

// plan resolves the mapping's nodes and relationships into slot plans.
func (rm *rowMapper) plan() {
	slotOf := func(col, norm string) int {
		k := slotKey{col: rm.byCol[columnKey(col)], norm: norm}
		if i := slices.Index(rm.slots, k); i >= 0 {
			return i
		}
		rm.slots = append(rm.slots, k)
		return len(rm.slots) - 1
	}
	// Entries that make the same records (nodes of a label, relationships
	// of a type between two labels) merge them: they share one list of
	// property names.
	nodeNames := map[string][]string{}
	for _, n := range rm.src.Nodes {
		for _, p := range n.Properties {
			nodeNames[n.Label] = append(nodeNames[n.Label], p.Name)
		}
	}
	type relKind struct{ typ, from, to string }
	relNames := map[relKind][]string{}
	for _, r := range rm.src.Relationships {
		k := relKind{r.Type, r.From.Label, r.To.Label}
		for _, p := range r.Properties {
			relNames[k] = append(relNames[k], p.Name)
		}
	}
	sorted := func(names []string) []string {
		slices.Sort(names)
		return slices.Compact(names)
	}
	props := func(pl schema.PropertyList, names []string) []propPlan {
		out := make([]propPlan, 0, len(pl))
		for _, p := range pl {
			idx, _ := slices.BinarySearch(names, p.Name)
			out = append(out, propPlan{slot: slotOf(p.Column, p.Normalize), idx: idx})
		}
		return out
	}
	nodeKinds := map[string]int{}
	for _, n := range rm.src.Nodes {
		names := sorted(nodeNames[n.Label])
		nodeNames[n.Label] = names
		kind, ok := nodeKinds[n.Label]
		if !ok {
			kind = len(nodeKinds)
			nodeKinds[n.Label] = kind
		}
		rm.nodes = append(rm.nodes, nodePlan{label: n.Label, kind: kind, key: slotOf(n.Key, n.Normalize), names: names, props: props(n.Properties, names)})
	}
	relKinds := map[relKind]int{}
	for _, r := range rm.src.Relationships {
		k := relKind{r.Type, r.From.Label, r.To.Label}
		names := sorted(relNames[k])
		relNames[k] = names
		kind, ok := relKinds[k]
		if !ok {
			kind = len(relKinds)
			relKinds[k] = kind
		}
		rm.rels = append(rm.rels, relPlan{
			typ: r.Type, fromLabel: r.From.Label, toLabel: r.To.Label, kind: kind,
			from: slotOf(r.From.Key, r.From.Normalize), to: slotOf(r.To.Key, r.To.Normalize),
			names: names, props: props(r.Properties, names),
		})
	}
	for _, n := range rm.nodes {
		rm.keySlots = append(rm.keySlots, n.key)
	}
	for _, r := range rm.rels {
		rm.keySlots = append(rm.keySlots, r.from, r.to)
	}
	slices.Sort(rm.keySlots)
	rm.keySlots = slices.Compact(rm.keySlots)
	rm.vals = make([]cellValue, len(rm.cols))
	rm.slotV = make([]slotValue, len(rm.slots))
	rm.keys = make([]internCache, len(rm.slots))
}

// usedColumns lists the file positions of the declared columns present,
// their types and whether they read text with a format.
func (rm *rowMapper) usedColumns() (positions []int, types []string, formatted []bool) {
	for i := range rm.cols {
		if c := &rm.cols[i]; c.pos >= 0 {
			positions, types, formatted = append(positions, c.pos), append(types, c.Type), append(formatted, c.HasTextFormat())
		}
	}
	return positions, types, formatted
}

// get returns the value of slot i in the current row: normalised text or
// a converted value; ok is false for no value.
func (rm *rowMapper) get(i int) *slotValue {
	sv := &rm.slotV[i]
	if sv.done {
		return sv
	}
	sv.done = true
	cv := &rm.vals[rm.slots[i].col]
	if !cv.set {
		return sv
	}
	if !cv.isStr {
		sv.ok, sv.v = true, cv.v
		return sv
	}
	s, ok := rm.keys[i].get(cv.str)
	if !ok {
		s = normalizeValue(rm.slots[i].norm, cv.str)
		rm.keys[i].put(cv.str, s)
	}
	if s == "" {
		return sv
	}
	sv.ok, sv.isStr, sv.str = true, true, s
	return sv
}

// key returns slot i's value as node key text ("" for none).
func (rm *rowMapper) key(i int) string {
	sv := rm.get(i)
	if !sv.ok {
		return ""
	}
	if sv.isStr {
		return sv.str
	}
	if !sv.kdone {
		sv.kdone = true
		sv.key = normalizeValue(rm.slots[i].norm, formatValue(sv.v))
	}
	return sv.key
}

// setProps sets the plan's present properties in dst, a row of the
// batch's property values: a value merged into a record already in the
// batch replaces the one it had.
func (rm *rowMapper) setProps(pl []propPlan, dst propRow) {
	for _, p := range pl {
		sv := rm.get(p.slot)
		if !sv.ok {
			continue
		}
		if sv.isStr {
			dst.vals[p.idx] = propVal{set: true, isStr: true, str: sv.str}
		} else {
			dst.vals[p.idx] = propVal{set: true, v: sv.v}
		}
	}
}

// mapRow converts the row's values and adds its nodes and relationships
// to b. A row with a bad value or an empty node key adds nothing and
// returns the error. typed lists the file columns whose cells are stored
// as numbers or dates (tableRow.typed). cells is not retained.
func (rm *rowMapper) mapRow(line int, cells []string, typed []int, b *recordBatcher) *event.RowError {
	clear(rm.slotV)
	for i := range rm.cols {
		c := &rm.cols[i]
		cv := &rm.vals[i]
		*cv = cellValue{}
		if c.pos < 0 || c.pos >= len(cells) {
			continue
		}
		raw := cells[c.pos]
		if isSheetError(raw) {
			return &event.RowError{Line: line, Column: c.Name, Value: raw, Error: "a formula error, not a value"}
		}
		if c.Type == schema.TypeString || c.Type == "" {
			if hasText(raw) {
				cv.set, cv.isStr, cv.str = true, true, raw
			}
			continue
		}
		v, err := convertCell(c, raw, rm.kind, len(typed) > 0 && slices.Contains(typed, c.pos))
		if err != nil {
			return &event.RowError{Line: line, Column: c.Name, Value: clip(raw), Error: err.Error()}
		}
		if v == nil {
			continue
		}
		cv.set = true
		if s, ok := v.(string); ok {
			cv.isStr, cv.str = true, s
		} else {
			cv.v = v
		}
	}
	// A key too long for the graph fails the row before it adds anything.
	for _, i := range rm.keySlots {
		if k := rm.key(i); len(k) > event.MaxKeyBytes {
			return &event.RowError{Line: line, Column: rm.cols[rm.slots[i].col].Name, Value: clip(k),
				Error: fmt.Sprintf("a key of %d bytes: at most %d", len(k), event.MaxKeyBytes)}
		}
	}
	made := false
	for i := range rm.nodes {
		n := &rm.nodes[i]
		// A node whose key cell is empty is not made (a project without a
		// manager still is a project).
		if k := rm.key(n.key); k != "" {
			idx := b.node(n, k)
			rm.setProps(n.props, b.nodeProps[idx])
			made = true
		}
	}
	for i := range rm.rels {
		r := &rm.rels[i]
		from, to := rm.key(r.from), rm.key(r.to)
		if from == "" || to == "" {
			continue
		}
		made = true
		idx := b.rel(r, from, to)
		rm.setProps(r.props, b.relProps[idx])
	}
	if !made {
		return &event.RowError{Line: line, Column: strings.Join(rm.keyColumns(), ", "), Error: "every key column is empty: the row gives nothing"}
	}
	return nil
}

// normalizeValue is schema.NormalizeValue with a fast path for the common
// case of ASCII text without runs of white space, where collapsing
// changes nothing.
func normalizeValue(kind, s string) string {
	switch kind {
	case schema.NormCollapse, schema.KeyLowerCollapse:
		if !isCollapsedASCII(s) {
			break
		}
		if kind == schema.NormCollapse {
			return s
		}
		return strings.ToLower(s)
	}
	return schema.NormalizeValue(kind, s)
}

// isCollapsedASCII reports whether s is ASCII with single spaces between
// words and none at either end (strings.Fields and a join give s back).
func isCollapsedASCII(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	prevSpace := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ':
			if prevSpace {
				return false
			}
			prevSpace = true
		default:
			prevSpace = false
		}
	}
	return true
}

// keyColumns lists the node key columns of the source.
func (rm *rowMapper) keyColumns() []string {
	var out []string
	for _, n := range rm.src.Nodes {
		if !slices.Contains(out, n.Key) {
			out = append(out, n.Key)
		}
	}
	if len(out) == 0 {
		for _, r := range rm.src.Relationships {
			for _, k := range []string{r.From.Key, r.To.Key} {
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		}
	}
	return out
}

// clip bounds a value quoted in an error.
func clip(s string) string {
	const maxLen = 200
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// formatValue renders a converted value as key text.
func formatValue(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// sheetErrors are the error values a spreadsheet cell shows when its
// formula fails (#N/A from a lookup that found nothing, say). The raw
// value of an error cell is this text, like a string cell's, and a
// spreadsheet saved as CSV writes it as the cell's text.
var sheetErrors = map[string]bool{
	"#NULL!": true, "#DIV/0!": true, "#VALUE!": true, "#REF!": true, "#NAME?": true,
	"#NUM!": true, "#N/A": true, "#GETTING_DATA": true, "#SPILL!": true, "#CALC!": true,
	"#FIELD!": true, "#BLOCKED!": true, "#CONNECT!": true, "#BUSY!": true,
	"#UNKNOWN!": true, "#EXTERNAL!": true, "#PYTHON!": true,
}

// isSheetError reports whether a cell value is a spreadsheet error.
func isSheetError(raw string) bool {
	return len(raw) > 0 && raw[0] == '#' && sheetErrors[raw]
}

// hasText reports whether s holds anything but white space.
func hasText(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c > ' ' && c < utf8.RuneSelf {
		return true
	}
	return strings.TrimSpace(s) != ""
}

// convertCell validates raw as c's type. An empty (or all-space) cell is
// nil, no value, for every type. Text is read with c's text format, if it
// has one; a typed cell (a workbook's number or date cell, whose raw value
// is the number) is read as the number it is.
func convertCell(c *mappedColumn, raw string, kind cellKind, typed bool) (any, error) {
	typ := c.Type
	if typ == schema.TypeString || typ == "" {
		if !hasText(raw) {
			return nil, nil
		}
		return raw, nil
	}
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil, nil
	}
	if c.numberText && !typed {
		plain, ok := plainNumber(s, c.decimal, c.thousands)
		if !ok {
			return nil, fmt.Errorf("not a number in the format %s", schema.NumberExample(c.Decimal, c.Thousands))
		}
		s = plain
	}
	switch typ {
	case schema.TypeInt:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err == nil && kind.xlsx && f != math.Trunc(f) {
			// Excel stores a result with 17 significant digits
			// (=0.1*30 as 3.0000000000000004) and shows, and computes
			// with, 15.
			f, err = strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
		}
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, errors.New("not a whole number")
		}
		return int64(f), nil
	case schema.TypeFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("not a number")
		}
		return f, nil
	case schema.TypeBool:
		switch strings.ToLower(s) {
		case "true", "yes", "y", "1":
			return true, nil
		case "false", "no", "n", "0":
			return false, nil
		}
		return nil, errors.New("not a boolean (true/false, yes/no, 1/0)")
	case schema.TypeDate:
		t, _, err := parseDate(s, c.date, kind, typed)
		if err != nil {
			return nil, err
		}
		return t.Format(time.DateOnly), nil
	case schema.TypeDateTime:
		t, zoned, err := parseDate(s, c.date, kind, typed)
		if err != nil {
			return nil, err
		}
		if zoned {
			return t.Format(time.RFC3339), nil
		}
		return t.Format("2006-01-02T15:04:05"), nil
	}
	return nil, fmt.Errorf("unknown column type %q", typ)
}

// dateLayouts are the text forms accepted for dates and datetimes, and
// zonedDateLayouts those of datetimes with a time zone (Z or an offset).
var (
	dateLayouts = []string{
		time.DateOnly,
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05",
		"2006-01-02T15:04",
		"2006-01-02 15:04",
	}
	zonedDateLayouts = []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999Z07:00",
	}
)

// parseDate reads a date cell: text in the format df, if the column has
// one, or else as parseDateCell does. A workbook's typed cell holds a
// serial, whatever the format. Month and weekday names in the format's
// locale are read as the English ones time.Parse knows.
func parseDate(s string, df schema.DateFormat, kind cellKind, typed bool) (time.Time, bool, error) {
	if df.Layout == "" || typed {
		return parseDateCell(s, kind)
	}
	english, ok := df.EnglishNames(s)
	t, err := time.Parse(df.Layout, english)
	if !ok || err != nil {
		if df.Locale != "" {
			return time.Time{}, false, fmt.Errorf("not a date in the format %s (locale %s)", df.Pattern, df.Locale)
		}
		return time.Time{}, false, fmt.Errorf("not a date in the format %s", df.Pattern)
	}
	return t, df.Zoned, nil
}

// plainNumber rewrites s, a number written with the decimal separator
// decimal and the digit-group separator thousands ("" for none), as Go
// reads numbers ("-1234.5"); ok is false if s is not such a number. A
// number is an optional sign, an integer part, and optionally the
// decimal separator and at least one digit; the integer part may be empty
// before a fraction (",5"). It may omit the group separators, but where it
// has them the first group has one to three digits and every other group
// three. The separator " " also stands for the no-break spaces (U+00A0,
// U+202F) spreadsheets write in its place.
func plainNumber(s string, decimal byte, thousands string) (string, bool) {
	b := make([]byte, 0, len(s))
	i := 0
	if s[0] == '+' || s[0] == '-' {
		if s[0] == '-' {
			b = append(b, '-')
		}
		i++
	}
	digits, run, grouped := 0, 0, false
	for i < len(s) {
		if c := s[i]; c >= '0' && c <= '9' {
			b = append(b, c)
			digits++
			run++
			i++
			continue
		}
		n := groupSeparator(s[i:], thousands)
		if n == 0 {
			break
		}
		// A separator follows a group: the first of one to three digits,
		// the others of three.
		if run == 0 || run > 3 || grouped && run != 3 {
			return "", false
		}
		grouped, run = true, 0
		i += n
	}
	if grouped && run != 3 {
		return "", false
	}
	if i < len(s) && s[i] == decimal {
		b = append(b, '.')
		i++
		frac := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			b = append(b, s[i])
			frac++
		}
		if frac == 0 {
			return "", false
		}
	} else if digits == 0 {
		return "", false
	}
	if i != len(s) {
		return "", false
	}
	return string(b), true
}

// groupSeparator returns the length of the digit-group separator thousands
// at the start of s, or 0.
func groupSeparator(s, thousands string) int {
	switch {
	case thousands == "":
		return 0
	case strings.HasPrefix(s, thousands):
		return len(thousands)
	case thousands != " ":
		return 0
	case strings.HasPrefix(s, "\u00a0"):
		return len("\u00a0")
	case strings.HasPrefix(s, "\u202f"):
		return len("\u202f")
	}
	return 0
}

// parseDateCell reads an Excel serial number (XLSX cells) or ISO text; the
// bool says the text gave a time zone.
func parseDateCell(s string, kind cellKind) (time.Time, bool, error) {
	if kind.xlsx {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			// Serials beyond 9999-12-31 are not dates.
			if f < 0 || f > 2958465 || math.IsNaN(f) {
				return time.Time{}, false, fmt.Errorf("not a date: serial %s out of range", s)
			}
			// In the 1900 date system, day 1 is 1900-01-01: a serial
			// below is a time of day alone (Excel shows 1900-01-00), and
			// day 60 is 1900-02-29, which Excel counts (as Lotus 1-2-3
			// did) but which did not exist.
			switch {
			case kind.date1904:
			case f < 1:
				return time.Time{}, false, fmt.Errorf("not a date: serial %s is a time of day without a date", s)
			case f >= 60 && f < 61:
				return time.Time{}, false, fmt.Errorf("not a date: serial %s is 1900-02-29, a day that did not exist", s)
			}
			t, err := excelize.ExcelDateToTime(f, kind.date1904)
			if err != nil {
				return time.Time{}, false, fmt.Errorf("not a date: %w", err)
			}
			return t, false, nil
		}
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, false, nil
		}
	}
	for _, l := range zonedDateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, errors.New("not a date (want YYYY-MM-DD)")
}

// appendRecordsJSON appends r encoded exactly as encoding/json encodes it
// (field order, omitempty, sorted property keys, HTML-safe escaping),
// without reflection for the common value types. The records' properties
// are nodeProps and relProps (by index in r's nodes and relationships);
// their Properties maps are ignored.
func appendRecordsJSON(buf []byte, r *event.Records, nodeProps, relProps []propRow) ([]byte, error) {
	var err error
	buf = append(buf, `{"source":{"path":`...)
	buf = appendJSONString(buf, r.Source.Path)
	buf = append(buf, `,"name":`...)
	buf = appendJSONString(buf, r.Source.Name)
	buf = append(buf, `,"format":`...)
	buf = appendJSONString(buf, r.Source.Format)
	buf = append(buf, `,"sha256":`...)
	buf = appendJSONString(buf, r.Source.SHA256)
	buf = append(buf, `,"size":`...)
	buf = strconv.AppendInt(buf, r.Source.Size, 10)
	buf = append(buf, `,"version":`...)
	buf = strconv.AppendUint(buf, r.Source.Version, 10)
	buf = append(buf, `},"mapping":`...)
	buf = appendJSONString(buf, r.Mapping)
	buf = append(buf, `,"batch":`...)
	buf = strconv.AppendInt(buf, int64(r.Batch), 10)
	if r.Final {
		buf = append(buf, `,"final":true`...)
	}
	if r.Batches != 0 {
		buf = append(buf, `,"batches":`...)
		buf = strconv.AppendInt(buf, int64(r.Batches), 10)
	}
	if len(r.Nodes) > 0 {
		buf = append(buf, `,"nodes":[`...)
		for i := range r.Nodes {
			n := &r.Nodes[i]
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"label":`...)
			buf = appendJSONString(buf, n.Label)
			buf = append(buf, `,"key":`...)
			buf = appendJSONString(buf, n.Key)
			if buf, err = appendJSONProps(buf, nodeProps[i]); err != nil {
				return nil, err
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if len(r.Relationships) > 0 {
		buf = append(buf, `,"relationships":[`...)
		for i := range r.Relationships {
			rel := &r.Relationships[i]
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"type":`...)
			buf = appendJSONString(buf, rel.Type)
			buf = append(buf, `,"from":{"label":`...)
			buf = appendJSONString(buf, rel.From.Label)
			buf = append(buf, `,"key":`...)
			buf = appendJSONString(buf, rel.From.Key)
			buf = append(buf, `},"to":{"label":`...)
			buf = appendJSONString(buf, rel.To.Label)
			buf = append(buf, `,"key":`...)
			buf = appendJSONString(buf, rel.To.Key)
			buf = append(buf, `},"source":`...)
			buf = appendJSONString(buf, rel.Source)
			if buf, err = appendJSONProps(buf, relProps[i]); err != nil {
				return nil, err
			}
			if rel.Evidence != "" {
				buf = append(buf, `,"evidence":`...)
				buf = appendJSONString(buf, rel.Evidence)
			}
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	if len(r.Rejected) > 0 {
		buf = append(buf, `,"rejected":[`...)
		for i := range r.Rejected {
			e := &r.Rejected[i]
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `{"line":`...)
			buf = strconv.AppendInt(buf, int64(e.Line), 10)
			if e.Column != "" {
				buf = append(buf, `,"column":`...)
				buf = appendJSONString(buf, e.Column)
			}
			if e.Value != "" {
				buf = append(buf, `,"value":`...)
				buf = appendJSONString(buf, e.Value)
			}
			buf = append(buf, `,"error":`...)
			buf = appendJSONString(buf, e.Error)
			buf = append(buf, '}')
		}
		buf = append(buf, ']')
	}
	return append(buf, '}'), nil
}

// appendJSONProps appends `,"properties":{...}` with the values set, in
// the order of their names, or nothing for none.
func appendJSONProps(buf []byte, row propRow) ([]byte, error) {
	names := row.names
	first := true
	for i := range row.vals {
		v := &row.vals[i]
		if !v.set {
			continue
		}
		if first {
			buf = append(buf, `,"properties":{`...)
			first = false
		} else {
			buf = append(buf, ',')
		}
		if v.isStr {
			buf = appendJSONString(buf, names[i])
			buf = append(buf, ':')
			buf = appendJSONString(buf, v.str)
			continue
		}
		var err error
		if buf, err = appendJSONProp(buf, names[i], v.v); err != nil {
			return nil, err
		}
	}
	if !first {
		buf = append(buf, '}')
	}
	return buf, nil
}

// appendJSONProp appends one "key":value pair.
func appendJSONProp(buf []byte, k string, v any) ([]byte, error) {
	buf = appendJSONString(buf, k)
	buf = append(buf, ':')
	switch v := v.(type) {
	case string:
		return appendJSONString(buf, v), nil
	case int64:
		return strconv.AppendInt(buf, v, 10), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("property %s: %w", k, err)
	}
	return append(buf, b...), nil
}

// jsonPlain marks the bytes encoding/json writes as they are.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONString appends s as a JSON string; text other than plain
// printable ASCII goes through encoding/json for identical escaping.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonPlain[s[i]] {
			b, _ := json.Marshal(s) // a string always encodes
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
