// Package parser is the parser stage: it reads a discovered file from the
// object store and turns it into text chunks (documents) or mapped record
// batches (files that the structured mapping names).
package parser

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/disk"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Objects reads the file bytes that the watcher stored.
type Objects interface {
	// Open returns a reader for the object called name. When the object
	// does not exist the error matches fs.ErrNotExist (or
	// jetstream.ErrObjectNotFound). The caller closes the reader.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}

// StructuredParser reads files that the structured mapping names.
type StructuredParser interface {
	// Match reports whether the mapping names relPath.
	Match(relPath string) bool
	// Parse reads the file at localPath (a temporary copy of the object) and emits Records batches.
	Parse(ctx context.Context, doc event.Document, localPath string, emit pipeline.Emit) error
}

// Values of Config.Unmapped.
const (
	// UnmappedDocument treats a file that no mapping names as a document:
	// its text is extracted. Spreadsheet formats without a text form (.xlsx,
	// .xls, .xlsm, .ods) are rejected with a permanent error saying that the
	// mapping does not name them.
	UnmappedDocument = "document"
	// UnmappedSkip consumes a spreadsheet file (.csv, .tsv, .xlsx, .xls,
	// .xlsm, .ods) that no mapping names without output. Other files are
	// still documents.
	UnmappedSkip = "skip"
	// UnmappedReject fails a spreadsheet file that no mapping names with a
	// permanent error (it is dead-lettered and so reported). Other files
	// are still documents.
	UnmappedReject = "reject"
)

// DefaultMaxFileSize is the largest object the parser reads when
// Config.MaxFileSize is zero.
const DefaultMaxFileSize = 64 << 20

// Config configures the parser stage.
type Config struct {
	// ChunkSize is the target chunk size in bytes (DefaultChunkSize if 0).
	ChunkSize int
	// ChunkOverlap is the overlap between consecutive chunks in bytes
	// (0 = none); it must be less than ChunkSize.
	ChunkOverlap int
	// MaxFileSize is the largest object read, in bytes
	// (DefaultMaxFileSize if 0). Larger files are rejected.
	MaxFileSize int64
	// Unmapped says what to do with spreadsheet files that the structured
	// mapping does not name: UnmappedDocument (the default, when empty),
	// UnmappedSkip or UnmappedReject.
	Unmapped string
	// Mapping names the structured mapping in errors about files it does
	// not name (its file; "the shipped schemas/structured.yaml" if empty).
	Mapping string
	// TempDir holds the temporary copies of structured files (the system
	// temporary directory if empty).
	TempDir string
	// ReadTimeout is the time an object read gets, plus a second per MiB of
	// the object (DefaultReadTimeout if 0). A read that stalls (the NATS
	// server streaming it failed) ends with a retryable error instead of
	// holding its message until the handler's own timeout.
	ReadTimeout time.Duration
	// PDFCache is the directory where the PDF engine keeps its compiled
	// code between runs: DefaultPDFCache() if empty, PDFCacheOff for none.
	// The engine is the process's: the first parser's setting holds.
	PDFCache string
}

// DefaultReadTimeout is the time an object read gets before its per-MiB
// allowance when Config.ReadTimeout is zero.
const DefaultReadTimeout = 30 * time.Second

// Parser is the parser stage's handler. It is safe for concurrent use.
type Parser struct {
	cfg        Config
	chunker    Chunker
	objects    Objects
	structured StructuredParser
	log        *slog.Logger
	unmapped   *prometheus.CounterVec
}

// RegisterMetrics registers the parser's own metrics with reg.
func (p *Parser) RegisterMetrics(reg prometheus.Registerer) error {
	p.unmapped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "docgraph", Subsystem: "parser", Name: "unmapped_spreadsheets_total",
		Help: "Spreadsheet files the structured mapping does not name, by what was done with them.",
	}, []string{"action"})
	if err := reg.Register(p.unmapped); err != nil {
		return fmt.Errorf("register parser metrics: %w", err)
	}
	return nil
}

// New returns a Parser. objects is required; structured may be nil (no
// mapping); a nil logger discards debug lines.
func New(cfg Config, objects Objects, structured StructuredParser, logger *slog.Logger) (*Parser, error) {
	if objects == nil {
		return nil, errors.New("parser: objects: required")
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.Unmapped == "" {
		cfg.Unmapped = UnmappedDocument
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	var errs []error
	if cfg.ChunkSize < MinChunkSize {
		errs = append(errs, fmt.Errorf("chunk_size (%d): must be at least %d", cfg.ChunkSize, MinChunkSize))
	}
	if cfg.ChunkOverlap < 0 || cfg.ChunkOverlap >= cfg.ChunkSize {
		errs = append(errs, fmt.Errorf("chunk_overlap (%d): must be from 0 to less than chunk_size (%d)", cfg.ChunkOverlap, cfg.ChunkSize))
	}
	if cfg.MaxFileSize < 0 {
		errs = append(errs, fmt.Errorf("max_file_size (%d): must not be negative", cfg.MaxFileSize))
	}
	if cfg.ReadTimeout < 0 {
		errs = append(errs, fmt.Errorf("read_timeout (%s): must not be negative", cfg.ReadTimeout))
	}
	switch cfg.Unmapped {
	case UnmappedDocument, UnmappedSkip, UnmappedReject:
	default:
		errs = append(errs, fmt.Errorf("unmapped (%q): must be %q, %q or %q", cfg.Unmapped, UnmappedDocument, UnmappedSkip, UnmappedReject))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("parser: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PDFCache != "" {
		SetPDFCache(cfg.PDFCache)
	}
	return &Parser{
		cfg:        cfg,
		chunker:    Chunker{Size: cfg.ChunkSize, Overlap: cfg.ChunkOverlap},
		objects:    objects,
		structured: structured,
		log:        logger,
	}, nil
}

// Handle is a pipeline.StreamHandler. For a FileDiscovered event it emits
// the file's text chunks (event.Chunk on event.SubjectChunk), or, for a
// file the structured mapping names, whatever the StructuredParser emits.
// For a FileDeleted event it emits event.DocumentDeleted. Outputs carry the
// input's stream sequence as the document version and deterministic IDs,
// so a redelivered input produces duplicates that JetStream drops.
//
// A file version that cannot be read (a permanent error: empty, corrupt,
// not text, a spreadsheet rejected whole) states nothing, so it also
// withdraws what earlier versions of the path stated, as a deletion does:
// the graph never keeps facts from content the folder no longer holds.
// The error still dead-letters the input; a fixed file is a new version.
func (p *Parser) Handle(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
	switch in.Subject {
	case event.SubjectFileDiscovered:
		var ev event.FileDiscovered
		if err := in.Decode(&ev); err != nil {
			return err
		}
		err := p.discovered(ctx, in.StreamSeq, ev, emit)
		if disk.Full(err) {
			// Not the file's fault: its version must not be withdrawn, nor
			// the message dead-lettered. The stage waits for room.
			dir := p.cfg.TempDir
			if dir == "" {
				dir = os.TempDir()
			}
			return pipeline.Unavailable(fmt.Errorf("%s: no room on the parser's disk (temporary files in %s): %w", ev.Path, dir, err))
		}
		if unreadable(ev, err) {
			if werr := p.withdraw(ev.Path, in.StreamSeq, emit); werr != nil {
				return werr // retried: the withdrawal must not be lost
			}
			p.log.WarnContext(ctx, "unreadable version: the graph keeps nothing of the document (what earlier versions stated, if any, is withdrawn)",
				slog.String("path", ev.Path))
		}
		return err
	case event.SubjectFileDeleted:
		var ev event.FileDeleted
		if err := in.Decode(&ev); err != nil {
			return err
		}
		if ev.Path == "" {
			return pipeline.Permanent(fmt.Errorf("decode %s: path: required", in.Subject))
		}
		return p.withdraw(ev.Path, in.StreamSeq, emit)
	}
	return pipeline.Permanent(fmt.Errorf("parser: unexpected subject %q", in.Subject))
}

// unreadable reports whether err says that the file version ev names
// cannot be read: permanently, and not because the event is malformed or
// its bytes are gone from the object store (the file changed again, and a
// newer event carries it; or the store lost part of it, and the file
// itself is fine).
func unreadable(ev event.FileDiscovered, err error) bool {
	return err != nil && pipeline.IsPermanent(err) && ev.Path != "" && ev.Object != "" && ev.SHA256 != "" &&
		!errors.Is(err, fs.ErrNotExist) && !errors.Is(err, jetstream.ErrObjectNotFound) &&
		!errors.Is(err, bus.ErrObjectIncomplete)
}

// withdraw emits the deletion of path's versions up to version.
func (p *Parser) withdraw(path string, version uint64, emit pipeline.Emit) error {
	msg, err := pipeline.NewMessage(event.SubjectDocumentDeleted, event.DocumentDeleted{Path: path, Version: version})
	if err != nil {
		return pipeline.Permanent(err)
	}
	return emit(msg)
}

// discovered parses one file version.
func (p *Parser) discovered(ctx context.Context, seq uint64, ev event.FileDiscovered, emit pipeline.Emit) error {
	if ev.Path == "" || ev.Object == "" || ev.SHA256 == "" {
		return pipeline.Permanent(fmt.Errorf("decode %s: path, object and sha256 are required", event.SubjectFileDiscovered))
	}
	if ev.Size > p.cfg.MaxFileSize {
		return pipeline.Permanent(fmt.Errorf("%s: %d bytes exceeds the maximum file size of %d bytes", ev.Path, ev.Size, p.cfg.MaxFileSize))
	}
	doc := event.NewDocument(ev.Path, ev.SHA256, ev.Size, seq)
	if p.structured != nil && p.structured.Match(ev.Path) {
		p.log.DebugContext(ctx, "parsing structured file", slog.String("path", ev.Path))
		return p.parseStructured(ctx, doc, ev, emit)
	}
	if IsSpreadsheet(doc.Format) {
		// Never guessed at: say what happens to it.
		p.log.InfoContext(ctx, "spreadsheet not named by the structured mapping",
			slog.String("path", ev.Path), slog.String("unmapped", p.cfg.Unmapped))
		if p.unmapped != nil {
			p.unmapped.WithLabelValues(p.cfg.Unmapped).Inc()
		}
		switch unmappedFor(doc.Format, p.cfg.Unmapped) {
		case unmappedSkipped:
			return nil
		case unmappedRejected:
			return pipeline.Permanent(fmt.Errorf("%s: spreadsheet not named by the structured mapping (%s)", ev.Path, p.mappingName()))
		case unmappedNoTextForm:
			return pipeline.Permanent(fmt.Errorf("%s: spreadsheet not named by the structured mapping (%s); .%s files are "+
				"read only through the mapping: add an entry, or set unmapped: skip", ev.Path, p.mappingName(), doc.Format))
		}
	}
	return p.parseDocument(ctx, doc, ev, emit)
}

// mappingName names the structured mapping for messages.
func (p *Parser) mappingName() string {
	if p.cfg.Mapping == "" {
		return "the shipped schemas/structured.yaml"
	}
	return p.cfg.Mapping
}

// UnmappedOutcome says what the parser does with a file of format (a
// lower-case extension without the dot) that no mapping source names,
// under unmapped (a Config.Unmapped value; "" means UnmappedDocument), and
// whether that fails the file.
func UnmappedOutcome(format, unmapped string) (what string, fails bool) {
	switch {
	case !slices.Contains(Formats(), format):
		return fmt.Sprintf("not a format docgraph reads (.%s): the watcher leaves it out", format), false
	case !IsSpreadsheet(format):
		return "not a spreadsheet: read as a document, its text extracted", false
	}
	switch unmappedFor(format, unmapped) {
	case unmappedSkipped:
		return "skipped (unmapped: skip): nothing is ingested from it", false
	case unmappedRejected:
		return "rejected (unmapped: reject)", true
	case unmappedNoTextForm:
		return fmt.Sprintf("rejected (unmapped: document): .%s files are read only through the mapping", format), true
	}
	return "read as a document (unmapped: document): its text is extracted, its rows are not mapped", false
}

// unmappedAction is what becomes of a spreadsheet no mapping source names.
type unmappedAction int

const (
	unmappedAsDocument unmappedAction = iota // its text is read as a document
	unmappedSkipped                          // consumed, nothing ingested
	unmappedRejected                         // failed (unmapped: reject)
	unmappedNoTextForm                       // failed: a format with no text to read
)

// unmappedFor decides, for a spreadsheet of format, under unmapped (a
// Config.Unmapped value; "" means UnmappedDocument): the parser acts on
// it, and UnmappedOutcome describes it.
func unmappedFor(format, unmapped string) unmappedAction {
	switch {
	case unmapped == UnmappedSkip:
		return unmappedSkipped
	case unmapped == UnmappedReject:
		return unmappedRejected
	case !hasTextForm(format):
		return unmappedNoTextForm
	}
	return unmappedAsDocument
}

// hasTextForm reports spreadsheet formats whose bytes are text, which an
// unmapped file of can be read as a document.
func hasTextForm(format string) bool { return format == "csv" || format == "tsv" }

// spreadsheetFormats are the formats that are tables rather than
// documents: read through the structured mapping, or as Config.Unmapped
// says.
var spreadsheetFormats = []string{"csv", "tsv", "xlsx", "xls", "xlsm", "ods"}

// documentFormats are the formats whose text the parser reads (extract).
var documentFormats = []string{"txt", "text", "md", "markdown", "html", "htm", "docx", "pdf"}

// IsSpreadsheet reports formats that are tables rather than documents.
func IsSpreadsheet(format string) bool { return slices.Contains(spreadsheetFormats, format) }

// Formats are the formats the parser reads (lower-case file extensions
// without the dot): documents and spreadsheets. A file of any other
// format is not published for it.
func Formats() []string { return slices.Concat(documentFormats, spreadsheetFormats) }

// parseDocument extracts, splits and emits the text of a document. The
// bytes are held in memory (at most MaxFileSize): a .docx needs random
// access, and the text of every format is needed whole to be split.
func (p *Parser) parseDocument(ctx context.Context, doc event.Document, ev event.FileDiscovered, emit pipeline.Emit) error {
	r, err := p.open(ctx, ev)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	data, err := io.ReadAll(io.TeeReader(io.LimitReader(r, p.cfg.MaxFileSize+1), h))
	if err != nil {
		return fmt.Errorf("read object %s for %s: %w", ev.Object, ev.Path, err)
	}
	if int64(len(data)) > p.cfg.MaxFileSize {
		return pipeline.Permanent(fmt.Errorf("%s: larger than the maximum file size of %d bytes", ev.Path, p.cfg.MaxFileSize))
	}
	if err := checkSum(ev, h); err != nil {
		return err
	}
	text, err := ExtractTextContext(ctx, ev.Path, data)
	if took, ok := sharedPDF.compiled(); ok {
		cache, cacheErr := sharedPDF.cacheState()
		if cacheErr != nil {
			p.log.WarnContext(ctx, "PDF engine: compilation cache not used; compiling at every start",
				slog.String("path", ev.Path), slog.Any("error", cacheErr))
		}
		p.log.InfoContext(ctx, "PDF engine ready", slog.String("path", ev.Path), slog.Duration("compiled_in", took),
			slog.String("cache", cache))
	}
	if err != nil {
		return err
	}
	chunks := p.chunker.Split(text)
	p.log.DebugContext(ctx, "document split",
		slog.String("path", ev.Path), slog.Int("bytes", len(data)), slog.Int("chunks", len(chunks)))
	for i, c := range chunks {
		if err := ctx.Err(); err != nil {
			return err
		}
		ch := event.Chunk{Document: doc, Index: i, Total: len(chunks), Text: c}
		msg, err := pipeline.NewMessage(event.SubjectChunk, ch)
		if err != nil {
			return pipeline.Permanent(err)
		}
		msg.ID = ChunkMsgID(ch)
		if err := emit(msg); err != nil {
			return err
		}
	}
	return nil
}

// ChunkMsgID is the message ID of chunk c: its key ("<sha256>:<index>")
// qualified by the document version, the number of chunks and a digest of
// its text. A redelivered input produces the same IDs (so JetStream drops
// the copies), while the same bytes published again as a newer version, or
// under another path, are not mistaken for duplicates, nor is a version cut
// anew with other chunk settings (a parser replica configured otherwise
// takes over a redelivered file): each chunk of the new cut reaches the
// graph, which drops the old cut's chunks past the new last.
func ChunkMsgID(c event.Chunk) string {
	sum := sha256.Sum256([]byte(c.Text))
	return fmt.Sprintf("%s@%d/%d#%x", c.Key(), c.Document.Version, c.Total, sum[:8])
}

// parseStructured copies the object to a temporary file for the
// StructuredParser, which needs random access (zip, DuckDB).
func (p *Parser) parseStructured(ctx context.Context, doc event.Document, ev event.FileDiscovered, emit pipeline.Emit) error {
	r, err := p.open(ctx, ev)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.CreateTemp(p.cfg.TempDir, "docgraph-parser-*"+extOf(ev.Path))
	if err != nil {
		return fmt.Errorf("create temporary copy of %s: %w", ev.Path, err)
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, p.cfg.MaxFileSize+1))
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy object %s for %s: %w", ev.Object, ev.Path, err)
	}
	if n > p.cfg.MaxFileSize {
		return pipeline.Permanent(fmt.Errorf("%s: larger than the maximum file size of %d bytes", ev.Path, p.cfg.MaxFileSize))
	}
	if err := checkSum(ev, h); err != nil {
		return err
	}
	return p.structured.Parse(ctx, doc, f.Name(), emit)
}

// open opens the event's object, classifying a missing object as permanent.
// The read must end within ReadTimeout plus a second per MiB of the
// object's size.
func (p *Parser) open(ctx context.Context, ev event.FileDiscovered) (io.ReadCloser, error) {
	limit := p.cfg.ReadTimeout + time.Duration(max(ev.Size, 0)>>20)*time.Second
	rctx, cancel := context.WithTimeoutCause(ctx, limit,
		fmt.Errorf("%s: object %s not read within %s (did the NATS server streaming it fail?): %w",
			ev.Path, ev.Object, limit, context.DeadlineExceeded))
	r, err := p.objects.Open(rctx, ev.Object)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, jetstream.ErrObjectNotFound):
		cancel()
		// The file changed or disappeared again; a newer event carries it.
		return nil, pipeline.Permanent(fmt.Errorf("%s: object %s not found: %w", ev.Path, ev.Object, err))
	case err != nil:
		cancel()
		return nil, fmt.Errorf("open object %s for %s: %w", ev.Object, ev.Path, err)
	}
	return &boundedReader{ReadCloser: r, ctx: rctx, cancel: cancel}, nil
}

// boundedReader is an object reader with a deadline: once its context
// ends, a failed read reports why (the deadline, or the handler's
// cancellation) rather than the store's own timeout error.
type boundedReader struct {
	io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
}

func (b *boundedReader) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	switch {
	case err == nil || err == io.EOF:
	case errors.Is(err, bus.ErrObjectIncomplete):
		// Reading again cannot help: the bytes must be stored again.
		err = pipeline.Permanent(fmt.Errorf("%w; 'docgraph reconcile --fix' stores the file again", err))
	case b.ctx.Err() != nil:
		err = context.Cause(b.ctx)
	}
	return n, err
}

func (b *boundedReader) Close() error {
	defer b.cancel()
	return b.ReadCloser.Close()
}

// checkSum compares the hash of the bytes read with the event's. A
// mismatch is retryable: the object may have been replaced by a newer
// version whose own event follows.
func checkSum(ev event.FileDiscovered, h hash.Hash) error {
	got := hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(got, ev.SHA256) {
		return fmt.Errorf("%s: object %s has sha256 %s, event says %s", ev.Path, ev.Object, got, ev.SHA256)
	}
	return nil
}

// extOf returns the lower-case extension of p with its dot, kept on
// temporary copies so that format detection by name still works.
func extOf(p string) string {
	f := event.FormatOf(p)
	if f == "" || len(f) > 16 {
		return ""
	}
	for _, c := range f {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return ""
		}
	}
	return "." + f
}
