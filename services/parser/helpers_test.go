package parser

import (
	"archive/zip"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sharedDir returns the shared test data directory: ../shared next to the
// directory holding go.mod.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above the test directory: cannot locate ../shared")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(filepath.Join(shared, "corpus")); err != nil {
		t.Fatalf("test corpus missing: expected %s (the shared test data next to the repository): %v", filepath.Join(shared, "corpus"), err)
	}
	return shared
}

// corpusFile reads a file of the shared corpus, e.g. "sample/input/x.md".
func corpusFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedDir(t), "corpus", filepath.FromSlash(rel)))
	require.NoError(t, err)
	return data
}

// zipEntry is one file of a test archive.
type zipEntry struct {
	name string
	data string
}

// makeZip builds a zip archive in memory.
func makeZip(t testing.TB, entries ...zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		require.NoError(t, err)
		_, err = w.Write([]byte(e.data))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

const docxContentTypes = `<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`

const docxRels = `<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`

// makeDocx wraps document XML into a minimal .docx archive.
func makeDocx(t testing.TB, documentXML string) []byte {
	t.Helper()
	return makeZip(t,
		zipEntry{"[Content_Types].xml", docxContentTypes},
		zipEntry{"_rels/.rels", docxRels},
		zipEntry{"word/document.xml", documentXML},
	)
}

// wordBody wraps body XML in a w:document element.
func wordBody(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
		body + `</w:body></w:document>`
}
