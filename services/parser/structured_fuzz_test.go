package parser_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/parser"
)

// fuzzParseTimeout bounds one Parse call of a fuzz target: longer is a
// hang. It is generous, for the race detector and a busy machine.
const fuzzParseTimeout = 30 * time.Second

// parseBytesWithin runs Parse on data as if it were the file relPath,
// failing the test if Parse does not return within fuzzParseTimeout. The
// emitted batches are decoded; a message that does not decode fails the
// test.
// parsedWhole checks the outcome of a parse that may fail: a failure is
// permanent, names the file and emitted nothing; a success ends with a
// final batch. It reports whether the parse succeeded.
func parsedWhole(t *testing.T, name string, err error, p parsed) bool {
	t.Helper()
	if err != nil {
		if !pipeline.IsPermanent(err) {
			t.Fatalf("error is not permanent: %v", err)
		}
		if !strings.HasPrefix(err.Error(), name+": ") {
			t.Fatalf("error does not name the file: %v", err)
		}
		if len(p.msgs) > 0 {
			t.Fatalf("%d batches emitted before the error %v", len(p.msgs), err)
		}
		return false
	}
	if len(p.records) == 0 || !p.records[len(p.records)-1].Final {
		t.Fatalf("no final batch")
	}
	return true
}

func parseBytesWithin(t *testing.T, s *parser.Structured, relPath string, data []byte) (parsed, error) {
	t.Helper()
	local := filepath.Join(t.TempDir(), filepath.Base(relPath))
	require.NoError(t, os.WriteFile(local, data, 0o600))
	doc := event.NewDocument(relPath, fmt.Sprintf("%x", len(data))+"sha", int64(len(data)), 7)
	type result struct {
		out       parsed
		err       error
		decodeErr error
	}
	done := make(chan result, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		var r result
		r.err = s.Parse(ctx, doc, local, func(m pipeline.Message) error {
			var rec event.Records
			if err := m.Decode(&rec); err != nil && r.decodeErr == nil {
				r.decodeErr = err
			}
			r.out.msgs = append(r.out.msgs, m)
			r.out.records = append(r.out.records, rec)
			return nil
		})
		done <- r
	}()
	select {
	case r := <-done:
		require.NoError(t, r.decodeErr, "emitted batch does not decode")
		return r.out, r.err
	case <-time.After(fuzzParseTimeout):
		t.Fatalf("%s: Parse did not return within %s (%d bytes: %q)", relPath, fuzzParseTimeout, len(data), clipFuzz(data))
		return parsed{}, nil
	}
}

// clipFuzz shortens an input for a failure message.
func clipFuzz(data []byte) string {
	if len(data) > 200 {
		return string(data[:200]) + "…"
	}
	return string(data)
}

// fuzzCSVDialects are the CSV dialects FuzzStructuredCSV reads input in:
// delimiter, quote, escape.
var fuzzCSVDialects = [][3]string{
	{",", `"`, `"`},
	{";", `"`, `\`},
	{"\t", "'", "'"},
	{"|", `"`, `\`},
}

// fuzzCSVMapping maps three text columns a, b, c of files d<N>.csv (with
// a header) and n<N>.csv (without) in dialect N onto a Row node keyed by
// a.
func fuzzCSVMapping() string {
	var b strings.Builder
	b.WriteString("sources:\n")
	for i, d := range fuzzCSVDialects {
		for _, header := range []bool{true, false} {
			name := fmt.Sprintf("d%d", i)
			if !header {
				name = fmt.Sprintf("n%d", i)
			}
			fmt.Fprintf(&b, "  - name: %s\n    files: [%s.csv]\n    format: csv\n", name, name)
			fmt.Fprintf(&b, "    csv: {delimiter: %q, quote: %q, escape: %q, header: %t}\n", d[0], d[1], d[2], header)
			b.WriteString("    columns: [{name: a, required: true}, {name: b}, {name: c}]\n")
			b.WriteString("    nodes:\n      - label: Row\n        key: a\n        normalize: exact\n        properties: [b, c]\n")
		}
	}
	return b.String()
}

// FuzzStructuredCSV reads arbitrary bytes as a mapped CSV file, in several
// dialects, with and without a header. Parse never panics or hangs; it
// returns a permanent error naming the file, or rows and row errors; no
// row error is the two readers of csv.go disagreeing, and every row error
// names its line.
func FuzzStructuredCSV(f *testing.F) {
	corpus := structuredCorpus(f)
	seeds, err := filepath.Glob(filepath.Join(corpus, "external", "csv-spectrum", "csvs", "*.csv"))
	require.NoError(f, err)
	bad, err := filepath.Glob(filepath.Join(corpus, "bad", "input", "structured", "*.csv"))
	require.NoError(f, err)
	seeds = append(seeds, bad...)
	seeds = append(seeds, filepath.Join(corpus, "bad", "input", "teams.csv"))
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data, byte(0), true)
		f.Add(data, byte(0), false)
	}
	f.Add([]byte("a,b,c\n1,2,3\n\"x\ny\",\"q\"\"\",z\n\n  \n,,\n4,5\n6,7,8,9\n\"open,1,2\n"), byte(0), true)
	f.Add([]byte("a;b;c\r\n1;\"2\\\"x\";3\r\n\"\\\\\";b;c\r\n"), byte(1), true)
	f.Add([]byte("a\tb\tc\n'it''s'\t2\t3\n\t\t\n"), byte(2), false)
	f.Add([]byte("a|b|c\n\"x\\\ny\"|2|3\n\"x\"junk|2|3\n"), byte(3), false)
	f.Add([]byte("\xEF\xBB\xBFa,b,c\r\n1,2,3\r\n4,5,6"), byte(0), false)
	f.Add([]byte("a,b,c\n1,2,\xff\n"), byte(0), true)

	s := newStructured(f, mustMapping(f, fuzzCSVMapping()), parser.StructuredConfig{BatchSize: 3, DuckDBThreads: 1, MapWorkers: 1})
	f.Fuzz(func(t *testing.T, data []byte, dialect byte, header bool) {
		name := fmt.Sprintf("d%d.csv", int(dialect)%len(fuzzCSVDialects))
		if !header {
			name = "n" + name[1:]
		}
		p, err := parseBytesWithin(t, s, name, data)
		if !parsedWhole(t, name, err, p) {
			return
		}
		for _, e := range p.rejected() {
			if strings.Contains(e.Error, "readers disagree") {
				t.Fatalf("the CSV readers disagree: %+v", e)
			}
			if e.Line <= 0 {
				t.Fatalf("row error without a line: %+v", e)
			}
		}
	})
}

// fuzzXLSXMapping reads sheet Data of data.xlsx: text, number and date
// columns, keyed by id.
const fuzzXLSXMapping = `
sources:
  - name: data
    files: [data.xlsx]
    format: xlsx
    sheet: Data
    columns:
      - {name: id, required: true}
      - {name: name}
      - {name: amount, type: float}
      - {name: day, type: date}
    nodes:
      - label: Thing
        key: id
        properties: [name, amount, day]
`

// fuzzXLSXAllocLimit bounds what one Parse call of FuzzStructuredXLSX may
// allocate, in all, for a workbook of a few kilobytes read with parts
// limited to fuzzXLSXMaxXML bytes.
const (
	fuzzXLSXAllocLimit = 256 << 20
	fuzzXLSXMaxXML     = 1 << 20
)

// fuzzWorkbook returns a small workbook (sheet Data: a header, text,
// numbers, dates, a merged range) as zip bytes, and its parts.
func fuzzWorkbook(f *testing.F) map[string][]byte {
	f.Helper()
	x := excelize.NewFile()
	defer x.Close()
	require.NoError(f, x.SetSheetName("Sheet1", "Data"))
	rows := [][]any{
		{"id", "name", "amount", "day"},
		{"P-1", "Ana", 12.5, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"P-2", "Bo", 1000, "2024-03-02"},
		{"P-3", "", -3, nil},
	}
	for i, row := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(f, err)
		require.NoError(f, x.SetSheetRow("Data", cell, &row))
	}
	style, err := x.NewStyle(&excelize.Style{NumFmt: 14})
	require.NoError(f, err)
	require.NoError(f, x.SetCellStyle("Data", "D2", "D4", style))
	require.NoError(f, x.MergeCell("Data", "B4", "C4"))
	var buf bytes.Buffer
	require.NoError(f, x.Write(&buf))
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(f, err)
	parts := map[string][]byte{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(f, err)
		data, err := io.ReadAll(rc)
		require.NoError(f, err)
		require.NoError(f, rc.Close())
		parts[zf.Name] = data
	}
	return parts
}

// zipParts writes parts into a zip archive, in name order.
func zipParts(t testing.TB, parts map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range sortedKeys(parts) {
		w, err := zw.Create(name)
		require.NoError(t, err)
		_, err = w.Write(parts[name])
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// FuzzStructuredXLSX reads a small workbook whose worksheet XML is the
// input. Parse never panics, hangs or allocates without bound; it returns
// a permanent error naming the file, or rows and row errors that name
// their row. It reads no worksheet whose sheet data encoding/xml stops
// in: excelize's row reader would stop there without an error, losing
// the cells after it.
func FuzzStructuredXLSX(f *testing.F) {
	parts := fuzzWorkbook(f)
	const sheetPart = "xl/worksheets/sheet1.xml"
	sheet := string(parts[sheetPart])
	for _, want := range []string{`<sheetData>`, `<mergeCell ref="B4:C4">`, `<dimension ref="A1">`} {
		require.Contains(f, sheet, want)
	}
	f.Add(sheet)
	for _, edit := range [][2]string{
		{`<row r="3"`, `<row r="1048576"`},
		{`r="B2"`, `r="XFD2"`},
		{`<c r="A3"`, `<c r="A3" t="inlineStr"><is><t>P-9</t></is></c><c r="A3"`},
		{`<sheetData>`, `<sheetData><row r="2"><c r="A2" t="e"><v>#N/A</v></c></row>`},
		{`<mergeCell ref="B4:C4">`, `<mergeCell ref="A1:XFD1048576">`},
		{`<mergeCell ref="B4:C4">`, `<mergeCell ref="C2:C1048576"></mergeCell><mergeCell ref="B4:C4">`},
		{`<mergeCell ref="B4:C4">`, `<mergeCell ref="A2:A3"></mergeCell><mergeCell ref="B4:C4">`},
		{`<dimension ref="A1">`, `<dimension ref="A1:XFD1048576">`},
		{`<sheetData>`, `<sheetData><row><c><v>1</v></c><c t="str"><f>A1</f><v>x</v></c></row>`},
		{`</sheetData>`, `<row r="9"><c r="A9" t="s"><v>99999</v></c><c r="C9" t="b"><v>1</v></c><c r="D9" t="d"><v>2024-13-01</v></c></row></sheetData>`},
		{`<sheetData>`, `<sheetData><row r="1" spans="1:16384"><c r="A1">&amp;&#1;&lt;</c></row>`},
		{`</sheetData>`, `<row r="9"><c r="A9" t="inlineStr" a='/>'><is><r><rPr><b/></rPr><t>P-<![CDATA[9]]></t></r><rPh sb="0" eb="1"><t>p</t></rPh></is></c><!-- </c> --><?pi </row>?></row></sheetData>`},
		{`</sheetData>`, `<x:row r="9" xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:c r="A9"><x:v>9</x:v></x:c></x:row></sheetData>`},
	} {
		f.Add(strings.Replace(sheet, edit[0], edit[1], 1))
	}
	s := newStructured(f, mustMapping(f, fuzzXLSXMapping), parser.StructuredConfig{
		BatchSize: 2, MapWorkers: 1, DuckDBThreads: 1,
		XLSXMaxXMLSize: fuzzXLSXMaxXML, XLSXMaxUnzipSize: 4 * fuzzXLSXMaxXML,
	})
	f.Fuzz(func(t *testing.T, sheetXML string) {
		if len(sheetXML) > fuzzXLSXMaxXML {
			return
		}
		edited := maps.Clone(parts)
		edited[sheetPart] = []byte(sheetXML)
		data := zipParts(t, edited)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := parseBytesWithin(t, s, "data.xlsx", data)
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > fuzzXLSXAllocLimit {
			t.Fatalf("Parse allocated %d MiB for a sheet of %d bytes", n>>20, len(sheetXML))
		}
		if !parsedWhole(t, "data.xlsx", err, p) {
			return
		}
		for _, e := range p.rejected() {
			if e.Line <= 0 {
				t.Fatalf("row error without a row: %+v", e)
			}
		}
		if err := sheetDataErr(sheetXML); err != nil {
			t.Fatalf("read, but encoding/xml stops in its sheet data: %v", err)
		}
	})
}

// sheetDataErr returns the error encoding/xml, as excelize's row reader
// uses it, meets in a worksheet's XML before the end of its <sheetData>.
func sheetDataErr(sheetXML string) error {
	d := xml.NewDecoder(strings.NewReader(sheetXML))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	inside := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) && !inside {
			return nil
		}
		if err != nil {
			return err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inside = inside || tok.Name.Local == "sheetData"
		case xml.EndElement:
			if tok.Name.Local == "sheetData" {
				return nil
			}
		}
	}
}
