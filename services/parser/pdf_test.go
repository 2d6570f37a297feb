package parser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/klippa-app/go-pdfium"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// The PDF fixtures are written by testdata/pdf/make.py; the text of the
// readable ones is checked by TestExtractTextGolden (testdata/extract).

func TestExtractPDFErrors(t *testing.T) {
	report, err := os.ReadFile(filepath.Join("testdata", "extract", "status-report.pdf"))
	require.NoError(t, err)
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "pdf", name))
		require.NoError(t, err)
		return data
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"encrypted", read("encrypted.pdf"), "report.pdf: encrypted PDF: it needs a password to open"},
		{"scan", read("scan.pdf"), "report.pdf: no text content: a PDF of 1 page(s) without a text layer (a scan needs OCR first)"},
		{"not a PDF", []byte("just some words, not a PDF at all\n"), "report.pdf: unreadable PDF: not a PDF, or a damaged or truncated one"},
		{"header only", report[:64], "report.pdf: unreadable PDF: not a PDF, or a damaged or truncated one"},
		{"empty", nil, "report.pdf: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ExtractText("report.pdf", tt.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, pipeline.IsPermanent(err), "the same bytes never read: %v", err)
		})
	}
}

// A filled form shows its values through its fields' widgets, not the
// page's content; what a hidden widget would show is not text.
func TestExtractPDFFilledForm(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pdf", "form.pdf"))
	require.NoError(t, err)
	text, err := ExtractText("form.pdf", data)
	require.NoError(t, err)
	assert.Contains(t, text, "Project manager:")
	assert.Contains(t, text, "Lina Farrell")
	assert.NotContains(t, text, "Paul Saito")
}

// A PDF read whose context ends is not the document's fault: the error is
// retryable, and the engine serves the next document.
func TestExtractPDFContext(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "extract", "minutes.pdf"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = ExtractTextContext(ctx, "minutes.pdf", data)
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), "minutes.pdf: PDF engine: ")

	text, err := ExtractTextContext(t.Context(), "minutes.pdf", data)
	require.NoError(t, err)
	assert.Contains(t, text, "Jörg Müller is the project manager for PRJ-2001.")
}

func TestCleanPDFText(t *testing.T) {
	assert.Equal(t, "a\nb\nc\td\ne", cleanPDFText("a\r\nb\rc\td\fe\x00\x01\uFFFE\xff"))
	assert.Equal(t, "Griffin, office, flow, waffle", cleanPDFText("Gri\uFB03n, o\uFB03ce, \uFB02ow, wa\uFB04e"))
	assert.Equal(t, "management, PRJ-4355, Anne-Marie, ISO-\n, -x", cleanPDFText("manage\x02ment, PRJ\x024355, Anne\x02Marie, ISO\x02\n, \x02x"))
}

// Lines that end at a hyphen keep it, so that codes and names broken
// there stay whole; a word broken between lower-case letters is joined.
func TestExtractPDFLineEndHyphens(t *testing.T) {
	text, err := ExtractText("a.pdf", simplePDF([]string{
		"The estimate of PRJ-\n4355 follows AACE-\n101, and Anne-\nMarie Smith leads the manage-\nment of it.",
	}))
	require.NoError(t, err)
	assert.Equal(t, "The estimate of PRJ-4355 follows AACE-101, and Anne-Marie Smith leads the management of it.", strings.TrimSpace(text))
}

// Damaged PDFs (cut short, or with bytes overwritten) read as far as the
// engine can repair them, or fail permanently naming the file; they never
// panic or return invalid text.
func TestExtractPDFDamaged(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "extract", "minutes.pdf"))
	require.NoError(t, err)
	var damaged [][]byte
	for _, n := range []int{5, 100, len(data) / 3, len(data) / 2, len(data) - 200, len(data) - 1} {
		damaged = append(damaged, data[:n])
	}
	for _, at := range []int{9, len(data) / 4, len(data) / 2, len(data) - 100} {
		d := bytes.Clone(data)
		copy(d[at:], bytes.Repeat([]byte{0xFF}, 64))
		damaged = append(damaged, d)
	}
	read := 0
	for i, d := range damaged {
		text, err := ExtractText("minutes.pdf", d)
		if err != nil {
			assert.True(t, pipeline.IsPermanent(err), "case %d: %v", i, err)
			assert.Contains(t, err.Error(), "minutes.pdf: ", "case %d", i)
			continue
		}
		read++
		assert.True(t, utf8.ValidString(text), "case %d", i)
	}
	t.Logf("%d of %d damaged copies read", read, len(damaged))
}

// BenchmarkExtractPDF reads a three-page PDF of some 12 KB of text (the
// engine compiled before the timer starts).
//
//	go test ./services/parser -run '^$' -bench ExtractPDF
func BenchmarkExtractPDF(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "pdf", "three-pages.pdf"))
	require.NoError(b, err)
	_, err = ExtractText("r.pdf", data)
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ExtractText("r.pdf", data); err != nil {
			b.Fatal(err)
		}
	}
}

// simplePDF returns a PDF with one page per entry of pages, each line of
// which is drawn in Helvetica (WinAnsi: ASCII text only).
func simplePDF(pages []string) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.4\n")
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
	for i, text := range pages {
		var content strings.Builder
		content.WriteString("BT /F1 10 Tf 12 TL 40 800 Td\n")
		for line := range strings.Lines(text) {
			fmt.Fprintf(&content, "(%s) '\n", esc.Replace(strings.TrimSuffix(line, "\n")))
		}
		content.WriteString("ET")
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", 5+2*i))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", content.Len(), content.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// A read that outlives its context is interrupted inside the engine: the
// call returns at once with a retryable error, and the engine reads the
// next document.
func TestExtractPDFInterrupted(t *testing.T) {
	page := strings.Repeat("Nora Bishop manages PRJ-4355 and follows AACE-101 in every review.\n", 60)
	pages := make([]string, 2000)
	for i := range pages {
		pages[i] = page
	}
	big := simplePDF(pages)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := ExtractTextContext(ctx, "big.pdf", big)
		done <- err
	}()
	// Cancel once the read is under way (the engine compiled and the
	// document open), not before it starts.
	testwait.Until(t, time.Minute, func() error {
		if sharedPDF.busy.Load() == 0 {
			return errors.New("not reading yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, pipeline.IsPermanent(err))
	case <-time.After(10 * time.Second):
		t.Fatal("the read did not stop with its context")
	}
	text, err := ExtractText("small.pdf", simplePDF([]string{"Ada Quinlan manages PRJ-1234.\nSecond line."}))
	require.NoError(t, err)
	assert.Equal(t, "Ada Quinlan manages PRJ-1234.\nSecond line.", strings.TrimSpace(text))
}

// The engine's compilation is reported once, after it ended well.
func TestPDFEngineCompiledReportsOnce(t *testing.T) {
	e := &pdfEngine{}
	_, ok := e.compiled()
	assert.False(t, ok, "not compiled (yet, or it failed)")
	e.took.Store(int64(3 * time.Second))
	took, ok := e.compiled()
	assert.True(t, ok)
	assert.Equal(t, 3*time.Second, took)
	_, ok = e.compiled()
	assert.False(t, ok, "reported already")
}

// cachedEngineCopy returns a cache directory holding the compiled engine:
// a copy of the one the process's engine compiled into.
func cachedEngineCopy(t *testing.T) string {
	t.Helper()
	_, err := sharedPDF.get(t.Context())
	require.NoError(t, err)
	src, cacheErr := sharedPDF.cacheState()
	require.NoError(t, cacheErr)
	if src == "" { // no user cache directory: compile into one of the test's
		src = t.TempDir()
		e := &pdfEngine{}
		e.setCache(src)
		_, err := e.compile()
		require.NoError(t, err)
	}
	dst := t.TempDir()
	versions, err := filepath.Glob(filepath.Join(src, "wazero-*"))
	require.NoError(t, err)
	require.NotEmpty(t, versions, "the engine wrote its compiled code to %s", src)
	for _, v := range versions {
		require.NoError(t, os.CopyFS(filepath.Join(dst, filepath.Base(v)), os.DirFS(v)))
	}
	return dst
}

// cacheFiles lists the files under dir with their modification times.
func cacheFiles(t *testing.T, dir string) map[string]time.Time {
	t.Helper()
	files := map[string]time.Time{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = info.ModTime()
		return nil
	}))
	return files
}

// An engine started over a cache loads the compiled code from it (it
// writes nothing: a compile would write its result) and reads PDFs.
func TestPDFEngineLoadsItsCompiledCodeFromTheCache(t *testing.T) {
	dir := cachedEngineCopy(t)
	before := cacheFiles(t, dir)
	require.NotEmpty(t, before)

	e := &pdfEngine{}
	e.setCache(dir)
	pool, err := e.compile()
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	cache, cacheErr := e.cacheState()
	assert.Equal(t, dir, cache)
	require.NoError(t, cacheErr)
	assert.Equal(t, before, cacheFiles(t, dir), "loaded, not compiled and written again")

	inst, err := pool.GetInstanceWithContext(t.Context())
	require.NoError(t, err)
	text, err := pdfText(t.Context(), inst, simplePDF([]string{"Ada Quinlan manages PRJ-1234."}))
	require.NoError(t, err)
	assert.Equal(t, "Ada Quinlan manages PRJ-1234.", strings.TrimSpace(text))
}

// A cache that cannot be used never stops the engine: it compiles without
// one, says why, and a damaged cache's files are removed so that the next
// start writes them afresh.
func TestPDFEngineWithoutAUsableCache(t *testing.T) {
	var used []bool // whether each init call had a cache
	fake := func(fail error) func(wazero.CompilationCache) (pdfium.Pool, error) {
		return func(c wazero.CompilationCache) (pdfium.Pool, error) {
			used = append(used, c != nil)
			if c != nil && fail != nil {
				return nil, fail
			}
			return nil, nil
		}
	}

	t.Run("damaged", func(t *testing.T) {
		used = nil
		dir := t.TempDir()
		damaged := filepath.Join(dir, "wazero-v0-test", "module")
		require.NoError(t, os.MkdirAll(filepath.Dir(damaged), 0o700))
		require.NoError(t, os.WriteFile(damaged, []byte("not compiled code"), 0o600))
		mine := filepath.Join(dir, "notes.txt") // not the cache's: kept
		require.NoError(t, os.WriteFile(mine, []byte("x"), 0o600))
		e := &pdfEngine{init: fake(errors.New("compilationcache: invalid header length: 3"))}
		e.setCache(dir)
		_, err := e.compile()
		require.NoError(t, err)
		assert.Equal(t, []bool{true, false}, used, "tried with the cache, then compiled without")
		cache, cacheErr := e.cacheState()
		assert.Empty(t, cache)
		require.ErrorContains(t, cacheErr, "invalid header length")
		assert.NoDirExists(t, filepath.Dir(damaged))
		assert.FileExists(t, mine)
	})
	t.Run("not a directory", func(t *testing.T) {
		used = nil
		file := filepath.Join(t.TempDir(), "cache")
		require.NoError(t, os.WriteFile(file, nil, 0o600))
		e := &pdfEngine{init: fake(nil)}
		e.setCache(file)
		_, err := e.compile()
		require.NoError(t, err)
		assert.Equal(t, []bool{false}, used)
		cache, cacheErr := e.cacheState()
		assert.Empty(t, cache)
		require.Error(t, cacheErr)
	})
	t.Run("off", func(t *testing.T) {
		used = nil
		e := &pdfEngine{init: fake(nil)}
		e.setCache(PDFCacheOff)
		_, err := e.compile()
		require.NoError(t, err)
		assert.Equal(t, []bool{false}, used)
		cache, cacheErr := e.cacheState()
		assert.Empty(t, cache)
		require.NoError(t, cacheErr)
	})
	t.Run("default", func(t *testing.T) {
		used = nil
		home := t.TempDir()
		t.Setenv("XDG_CACHE_HOME", home)
		e := &pdfEngine{init: fake(nil)}
		_, err := e.compile()
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, used)
		cache, cacheErr := e.cacheState()
		assert.Equal(t, filepath.Join(home, "docgraph", "pdfium"), cache)
		require.NoError(t, cacheErr)
		assert.Equal(t, cache, DefaultPDFCache())
	})
}
