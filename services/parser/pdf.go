package parser

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/klippa-app/go-pdfium"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// How a PDF is read.
//
// The text comes from PDFium, the PDF engine of Chromium, compiled to
// WebAssembly (go-pdfium) and run inside the process by wazero: nothing to
// install and no cgo. Its page text keeps words apart and puts each line
// (a table row, too) on its own line, as a reader sees them; where the
// layout starts a paragraph, a blank line is written (pdfparagraph.go).
// The engine runs sandboxed: it sees no file system (a document's bytes
// are copied into it), its memory is bounded (pdfMemoryPages), a crash
// inside it is an error of that one call, and a call that outlives its
// context is interrupted. Instances are reused, except after a large
// document, whose memory they would keep.
//
// Compiling the engine takes a few seconds, once per process, at its first
// PDF; the handler's heartbeat keeps that message meanwhile. The compiled
// code is kept in a cache directory (SetPDFCache; DefaultPDFCache), so a
// worker started again, or a new replica on the same machine, loads it in
// a fraction of that. A cache that cannot be used costs only the compile.

const (
	// pdfMemoryPages bounds an engine instance's memory, in 64 KiB
	// WebAssembly pages: 1 GiB.
	pdfMemoryPages = 16384
	// pdfInstances is how many PDFs are read at once; more wait.
	pdfInstances = 2
	// pdfMaxText bounds the text of one PDF (as decompressed .docx text).
	pdfMaxText = 256 << 20
	// pdfReuseMax is the largest PDF after which its engine instance is
	// kept for the next one. An instance's memory only grows, so one that
	// read a larger document is dropped.
	pdfReuseMax = 8 << 20
)

// errPDFEncrypted says a PDF needs a password.
var errPDFEncrypted = errors.New("encrypted PDF: it needs a password to open; save an unprotected copy")

// errPDFFormat says PDFium could not read the bytes as a PDF (its error
// codes, "3: incorrect format", mean nothing to the reader of a dead letter).
var errPDFFormat = errors.New("unreadable PDF: not a PDF, or a damaged or truncated one")

// pdfEngine is the process's PDFium, compiled at first use.
type pdfEngine struct {
	once  sync.Once
	ready chan struct{}
	pool  pdfium.Pool
	err   error
	busy  atomic.Int32 // documents open (tests watch it)

	cacheMu   sync.Mutex
	cache     string // the compilation cache directory SetPDFCache chose
	cacheUsed string // the directory compiling used; "" for none
	cacheErr  error  // why the cache could not be used; nil if it was
	// init makes the instances (webassembly.Init with pdfConfig if nil).
	init func(cache wazero.CompilationCache) (pdfium.Pool, error)

	took     atomic.Int64 // nanoseconds compiling took; 0 until it succeeded
	reported atomic.Bool
}

// compiled returns how long compiling the engine took, once, after it
// succeeded: the first parser to see it says so.
func (e *pdfEngine) compiled() (time.Duration, bool) {
	took := e.took.Load()
	if took == 0 || e.reported.Swap(true) {
		return 0, false
	}
	return time.Duration(took), true
}

var sharedPDF pdfEngine

// PDFCacheOff, as the cache directory, turns the compilation cache off.
const PDFCacheOff = "off"

// DefaultPDFCache is where the PDF engine's compiled code is kept unless
// SetPDFCache says otherwise: docgraph/pdfium in the user's cache
// directory ($XDG_CACHE_HOME or ~/.cache on Linux), or none without one.
func DefaultPDFCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "docgraph", "pdfium")
}

// SetPDFCache sets the directory of the PDF engine's compilation cache:
// "" for DefaultPDFCache, PDFCacheOff for none. The engine is the
// process's, so it takes effect only before the process's first PDF.
func SetPDFCache(dir string) { sharedPDF.setCache(dir) }

func (e *pdfEngine) setCache(dir string) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	e.cache = dir
}

// cacheDir is the cache directory the engine compiles with ("" for none).
func (e *pdfEngine) cacheDir() string {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	switch {
	case e.cache == PDFCacheOff:
		return ""
	case e.cache == "":
		return DefaultPDFCache()
	}
	return e.cache
}

// cacheState says which cache the compiled engine used ("" for none) and,
// when one was set but could not be used, why.
func (e *pdfEngine) cacheState() (string, error) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	return e.cacheUsed, e.cacheErr
}

// get returns the engine, compiling it at the first call; ctx bounds the
// wait, not the compilation, which other callers may be waiting for.
func (e *pdfEngine) get(ctx context.Context) (pdfium.Pool, error) {
	e.once.Do(func() {
		e.ready = make(chan struct{})
		go func() {
			defer close(e.ready)
			start := time.Now()
			defer func() {
				if e.err == nil {
					e.took.Store(max(1, int64(time.Since(start))))
				}
			}()
			e.pool, e.err = e.compile()
		}()
	})
	select {
	case <-e.ready:
		return e.pool, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// compile makes the engine's instances, with the compilation cache if
// there is one. Should compiling fail with it (its files damaged), the
// versioned folders it wrote are removed and the engine compiled without
// it; the next start writes the cache afresh.
func (e *pdfEngine) compile() (pdfium.Pool, error) {
	dir := e.cacheDir()
	var cache wazero.CompilationCache
	var cacheErr error
	if dir != "" {
		if cache, cacheErr = wazero.NewCompilationCacheWithDir(dir); cacheErr != nil {
			cache = nil
		}
	}
	init := e.init
	if init == nil {
		init = func(cache wazero.CompilationCache) (pdfium.Pool, error) { return webassembly.Init(pdfConfig(cache)) }
	}
	pool, err := init(cache)
	if err != nil && cache != nil {
		cacheErr = err
		if olds, gerr := filepath.Glob(filepath.Join(dir, "wazero-*")); gerr == nil {
			for _, old := range olds {
				_ = os.RemoveAll(old)
			}
		}
		pool, err = init(nil)
	}
	e.cacheMu.Lock()
	e.cacheUsed, e.cacheErr = dir, cacheErr
	if cacheErr != nil {
		e.cacheUsed = ""
	}
	e.cacheMu.Unlock()
	return pool, err
}

func pdfConfig(cache wazero.CompilationCache) webassembly.Config {
	rc := wazero.NewRuntimeConfig().
		// The module lowers setjmp/longjmp to exception handling.
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithMemoryLimitPages(pdfMemoryPages).
		WithCloseOnContextDone(true)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	return webassembly.Config{
		MaxIdle:       pdfInstances,
		MaxTotal:      pdfInstances,
		ReuseWorkers:  true,
		FSConfig:      wazero.NewFSConfig(), // no file system
		Stdout:        io.Discard,
		Stderr:        io.Discard,
		RuntimeConfig: rc,
	}
}

// engineError is an error of the PDF engine or of the context, not of the
// document: the same bytes may read another time.
type engineError struct{ err error }

func (e *engineError) Error() string { return "PDF engine: " + e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

// extractPDF returns the text of a PDF, page after page (pages apart like
// paragraphs). Errors that are not the document's are *engineError.
func extractPDF(ctx context.Context, data []byte) (string, error) {
	if len(data) == 0 {
		return "", errEmpty
	}
	pool, err := sharedPDF.get(ctx)
	if err != nil {
		return "", &engineError{err}
	}
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		return "", &engineError{err}
	}
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- result{err: &engineError{fmt.Errorf("panic: %v", v)}}
			}
		}()
		text, err := pdfText(ctx, inst, data)
		done <- result{text, err}
	}()
	select {
	case r := <-done:
		if len(data) > pdfReuseMax {
			_ = inst.Kill() // its memory grew with the document: drop it
		} else {
			_ = inst.Close()
		}
		return r.text, r.err
	case <-ctx.Done():
		// Interrupts the engine's call in flight; the instance is dropped.
		_ = inst.Kill()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		return "", &engineError{ctx.Err()}
	}
}

// pdfText reads every page's text with inst, with paragraphs apart, or as
// PDFium's plain text where the page's layout cannot be read.
func pdfText(ctx context.Context, inst pdfium.Pdfium, data []byte) (string, error) {
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &data})
	switch {
	case errors.Is(err, pdfiumerrors.ErrPassword), errors.Is(err, pdfiumerrors.ErrSecurity):
		return "", errPDFEncrypted
	case errors.Is(err, pdfiumerrors.ErrFormat), errors.Is(err, pdfiumerrors.ErrFile):
		return "", errPDFFormat
	case err != nil:
		return "", fmt.Errorf("unreadable PDF: %w", err)
	}
	defer func() {
		_, _ = inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
	}()
	pages, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return "", fmt.Errorf("unreadable PDF: %w", err)
	}
	sharedPDF.busy.Add(1)
	defer sharedPDF.busy.Add(-1)
	var b strings.Builder
	for i := range pages.PageCount {
		if err := ctx.Err(); err != nil {
			return "", &engineError{err}
		}
		page := requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document, Index: i}}
		flattenAnnotations(inst, page)
		text, ok := pdfPageParagraphs(inst, page)
		if !ok {
			plain, err := inst.GetPageText(&requests.GetPageText{Page: page})
			if err != nil {
				return "", fmt.Errorf("unreadable PDF: page %d: %w", i+1, err)
			}
			text = plain.Text
		}
		if b.Len()+len(text) > pdfMaxText {
			return "", fmt.Errorf("more than %d MiB of text (page %d of %d)", pdfMaxText>>20, i+1, pages.PageCount)
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(cleanPDFText(text))
	}
	if strings.TrimSpace(b.String()) == "" {
		return "", fmt.Errorf("%w: a PDF of %d page(s) without a text layer (a scan needs OCR first)", errNoText, pages.PageCount)
	}
	return b.String(), nil
}

// cleanPDFText normalises line ends, restores the hyphens PDFium takes
// for soft ones (pdfLineEndHyphens), spells out ligatures, and drops what
// PDFium marks but a reader does not see: control characters other than
// line breaks and tabs, noncharacters, and invalid UTF-8.
func cleanPDFText(s string) string {
	s = normaliseNewlines(strings.ToValidUTF8(s, ""))
	s = pdfLineEndHyphens(s)
	s = pdfLigatures.Replace(s)
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\f' || r == '\v':
			return '\n'
		case unicode.IsControl(r), r == 0xFFFE, r == 0xFFFF, r == unicode.ReplacementChar:
			return -1
		}
		return r
	}, s)
}

// flattenAnnotations draws the annotations of a page into its content, as
// a viewer shows them (not those hidden from view), in the document open
// in the engine only: a filled form's values are drawn by its fields'
// widgets, not by the page's content, and would be no text. A page that
// cannot be flattened is read as it is.
func flattenAnnotations(inst pdfium.Pdfium, page requests.Page) {
	n, err := inst.FPDFPage_GetAnnotCount(&requests.FPDFPage_GetAnnotCount{Page: page})
	if err != nil || n.Count == 0 {
		return
	}
	_, _ = inst.FPDFPage_Flatten(&requests.FPDFPage_Flatten{Page: page, Usage: requests.FPDFPage_FlattenUsageNormalDisplay})
}

// pdfLineEndHyphens handles the hyphens that end a line. PDFium takes every
// one for a soft hyphen (a word broken by the layout): it joins the line to
// the next and writes U+0002 in the hyphen's place. Documents mostly break
// lines at real hyphens, so that would turn PRJ-4355, AACE-101 or
// Anne-Marie, broken after the hyphen, into PRJ4355, AACE101 or AnneMarie,
// and lose them. The hyphen stays, except between two lower-case letters,
// where a word was more likely broken ("manage-ment" becomes "management").
func pdfLineEndHyphens(s string) string {
	if !strings.ContainsRune(s, '\x02') {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\x02' {
			b.WriteByte(s[i])
			continue
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+1:])
		if !unicode.IsLower(before) || !unicode.IsLower(after) {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// pdfLigatures spells out the Latin ligatures a font may map its ligature
// glyphs to, so that "Gri\uFB03n" reads as "Griffin".
var pdfLigatures = strings.NewReplacer(
	"\uFB00", "ff", "\uFB01", "fi", "\uFB02", "fl", "\uFB03", "ffi", "\uFB04", "ffl", "\uFB05", "st", "\uFB06", "st")
