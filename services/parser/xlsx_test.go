package parser_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/services/parser"
)

// xlsxCaseMapping reads sheet Data of data.xlsx, and the first sheet of
// any other workbook.
const xlsxCaseMapping = `
sources:
  - name: data
    files: [data.xlsx]
    format: xlsx
    sheet: Data
    columns: &cols
      - {name: id, type: int, required: true}
      - {name: day, type: date}
      - {name: at, type: datetime}
      - {name: amount, type: float}
      - {name: ok, type: bool}
      - {name: name}
    nodes: &nodes
      - label: Thing
        key: id
        properties: [day, at, amount, ok, name]
  - name: first
    files: ["*.xlsx"]
    format: xlsx
    columns: *cols
    nodes: *nodes
`

// writeWorkbook writes rows (A1 onwards) into sheet of a new workbook.
func writeWorkbook(t *testing.T, name string, sheets map[string][][]any, date1904 bool) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	first := true
	for _, sheet := range sortedKeys(sheets) {
		if first {
			require.NoError(t, f.SetSheetName("Sheet1", sheet))
			first = false
		} else {
			_, err := f.NewSheet(sheet)
			require.NoError(t, err)
		}
		for i, row := range sheets[sheet] {
			cell, err := excelize.CoordinatesToCellName(1, i+1)
			require.NoError(t, err)
			require.NoError(t, f.SetSheetRow(sheet, cell, &row))
		}
	}
	if date1904 {
		require.NoError(t, f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &date1904}))
	}
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, f.SaveAs(p))
	return p
}

func TestXLSXValues(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC)
	file := writeWorkbook(t, "data.xlsx", map[string][][]any{
		"Cover": {{"not", "this"}},
		"Data": {
			{"name", "ok", "amount", "at", "day", "id", "unmapped"},
			{"Widget", true, 1234.5, at, day, 1, "x"},
			{},
			{nil, "no", "", "2024-03-02T08:00:00", "2024-03-02", "2.0"},
			{"Bad", nil, "lots", nil, nil, 3},
			{nil, nil, nil, nil, "31/12/2024", 4},
			{nil, nil, nil, nil, -5, 5},
			{nil, "perhaps", nil, nil, nil, 6},
		},
	}, false)
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	checkBatches(t, p)
	got := p.properties(t)
	assert.Equal(t, map[string]map[string]any{
		"1": {"name": "Widget", "ok": true, "amount": 1234.5, "at": "2024-03-01T10:20:30", "day": "2024-03-01"},
		"2": {"ok": false, "at": "2024-03-02T08:00:00", "day": "2024-03-02"},
	}, got)
	assert.Equal(t, []event.RowError{
		{Line: 5, Column: "amount", Value: "lots", Error: "not a number"},
		{Line: 6, Column: "day", Value: "31/12/2024", Error: "not a date (want YYYY-MM-DD)"},
		{Line: 7, Column: "day", Value: "-5", Error: "not a date: serial -5 out of range"},
		{Line: 8, Column: "ok", Value: "perhaps", Error: "not a boolean (true/false, yes/no, 1/0)"},
	}, p.rejected(), "line numbers are sheet row numbers")
}

func TestXLSXDate1904(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	file := writeWorkbook(t, "book.xlsx", map[string][][]any{
		"Only": {{"id", "day"}, {1, 0}, {2, 1461}},
	}, true)
	p, err := parseFile(t, s, "book.xlsx", file)
	require.NoError(t, err)
	require.Len(t, p.records, 1)
	require.Len(t, p.records[0].Nodes, 2)
	assert.Equal(t, "1904-01-01", p.records[0].Nodes[0].Properties["day"])
	assert.Equal(t, "1908-01-01", p.records[0].Nodes[1].Properties["day"])
}

// TestXLSXNumberText reads number cells written as Apache POI writes them
// (Java's Double.toString: "1042.0", "1.0E10") and as Excel writes some
// (17 significant digits: "0.10299999999999999" for 0.103): a string column
// takes the shortest form of the number, as the spreadsheet shows it, while
// a text cell keeps its text.
func TestXLSXNumberText(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2"><c r="A2" t="n"><v>1.0</v></c><c r="B2" t="n"><v>1042.0</v></c><c r="C2" t="n"><v>2.5</v></c></row>` +
		`<row r="3"><c r="A3" t="n"><v>2.0</v></c><c r="B3" t="n"><v>1.0E10</v></c><c r="C3" t="n"><v>1.25E2</v></c></row>` +
		`<row r="4"><c r="A4"><v>3</v></c><c r="B4"><v>-0.5</v></c><c r="C4"><v>1.0E-7</v></c></row>` +
		`<row r="5"><c r="A5" t="n"><v>4.0</v></c><c r="B5" t="inlineStr"><is><t>1042.0</t></is></c></row>` +
		`<row r="6"><c r="A6" t="n"><v>5.0</v></c><c r="B6" t="n"><v>1.0E-7</v></c></row>` +
		`<row r="7"><c r="A7"><v>6</v></c><c r="B7"><v>0.10299999999999999</v></c><c r="C7"><v>0.27600000000000002</v></c></row>` +
		`<row r="8"><c r="A8"><v>7</v></c><c r="B8"><v>1001.0000000000001</v></c></row>` +
		`</sheetData></worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	got := p.properties(t)
	assert.Equal(t, map[string]map[string]any{
		"1": {"name": "1042", "amount": 2.5},
		"2": {"name": "10000000000", "amount": 125.0},
		"3": {"name": "-0.5", "amount": 1e-7},
		"4": {"name": "1042.0"},
		"5": {"name": "1.0E-7"},
		"6": {"name": "0.103", "amount": 0.276},
		"7": {"name": "1001.0000000000001"},
	}, got)
	assert.Empty(t, p.rejected())

	// Without other numbers to shorten in the sheet.
	const excel = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>` +
		`<row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>0.27600000000000002</v></c></row>` +
		`</sheetData></worksheet>`
	file = withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": excel})
	p, err = parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{"1": {"name": "0.276"}}, p.properties(t))
}

// TestXLSXWholeNumberPrecision reads an int column's number as the whole
// number the spreadsheet shows, to Excel's 15 significant digits: Excel
// stores a formula's result with 17 (=0.1*30 as 3.0000000000000004).
// Other columns read numbers as stored, and a fraction within those 15
// digits is still no whole number.
func TestXLSXWholeNumberPrecision(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2"><c r="A2"><f>0.1*30</f><v>3.0000000000000004</v></c><c r="C2"><f>0.1+0.2</f><v>0.30000000000000004</v></c></row>` +
		`<row r="3"><c r="A3"><v>4.9999999999999991</v></c><c r="B3"><v>1001.0000000000001</v></c></row>` +
		`<row r="4"><c r="A4"><v>6.00000000000001</v></c></row>` +
		`</sheetData></worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"3": {"amount": 0.30000000000000004},
		"5": {"name": "1001.0000000000001"},
	}, p.properties(t))
	assert.Equal(t, []event.RowError{
		{Line: 4, Column: "id", Value: "6.00000000000001", Error: "not a whole number"},
	}, p.rejected())
}

// TestXLSXBooleanCells reads boolean cells (t="b", stored as 1 or 0) as
// the spreadsheet shows them, TRUE or FALSE: in a text column, as a CSV
// saved from the same sheet has them, and in a bool column.
// booleanNumbers writes booleans as LibreOffice saves them: number cells,
// 1 or 0, with the format "TRUE";"TRUE";"FALSE" (localised, as
// "WAHR";"WAHR";"FALSCH").
func booleanNumbers(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Data"))
	for i, row := range [][]any{{"id", "name", "ok"}, {3, 1, 0}, {4, 0, 1}} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Data", cell, &row))
	}
	for cells, code := range map[[2]string]string{{"B2", "C2"}: `"TRUE";"TRUE";"FALSE"`, {"B3", "C3"}: `"WAHR";"WAHR";"FALSCH"`} {
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle("Data", cells[0], cells[1], style))
	}
	file := filepath.Join(t.TempDir(), "data.xlsx")
	require.NoError(t, f.SaveAs(file))
	return file
}

func TestXLSXBooleanCells(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id", "name", "ok"}, {1, true, false}}}, false)
	// A formula giving a boolean, as LibreOffice writes it.
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>ok</t></is></c></row>` +
		`<row r="2" customFormat="false" ht="12.8" hidden="false" customHeight="false" outlineLevel="0" collapsed="false"><c r="A2" s="0" t="n"><v>2</v></c><c r="B2" s="0" t="b"><f aca="false">AND(A2&gt;1)</f><v>1</v></c><c r="C2" s="0" t="b"><f aca="false">FALSE()</f><v>0</v></c></row>` +
		`</sheetData></worksheet>`
	tests := []struct {
		name string
		file string
		want map[string]map[string]any
	}{
		{"values", base, map[string]map[string]any{"1": {"name": "TRUE", "ok": false}}},
		{"formulas", withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet}), map[string]map[string]any{"2": {"name": "TRUE", "ok": false}}},
		{"numbers with a boolean format", booleanNumbers(t), map[string]map[string]any{
			"3": {"name": "TRUE", "ok": false},
			"4": {"name": "FALSE", "ok": true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseFile(t, s, "data.xlsx", tt.file)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.properties(t))
			assert.Empty(t, p.rejected())
		})
	}
}

// TestXLSXMergedCells reads a cell merged down over rows (a team name
// written once for its members) as the sheet shows it: in each row of the
// merge. A merge from the header down is part of the header.
func TestXLSXMergedCells(t *testing.T) {
	s := newStructured(t, mustMapping(t, `
sources:
  - name: teams
    files: [teams.xlsx]
    format: xlsx
    columns:
      - {name: name, required: true}
      - {name: team, required: true}
    nodes:
      - {label: Person, key: name, normalize: lower_collapse}
      - {label: Team, key: team, normalize: lower_collapse}
    relationships:
      - type: MEMBER_OF
        from: {label: Person, key: name}
        to: {label: Team, key: team}
`), parser.StructuredConfig{BatchSize: 2})
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range [][]any{
		{"name", "team", "note"},
		{"Zoe Lin"},
		{"Nora Bishop", "Ops", "merged over three rows"},
		{"Ann Lee"},
		{"Bob Ray"},
		{"Cy Dee", "QA", "merged over a blank row"},
		{},
		{"Di Eve"},
		{"Ed Fox", "Sales", "merged across"},
	} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Sheet1", cell, &row))
	}
	for _, r := range [][2]string{{"B1", "B2"}, {"B3", "B5"}, {"B6", "B8"}, {"A9", "A10"}, {"B9", "C9"}} {
		require.NoError(t, f.MergeCell("Sheet1", r[0], r[1]))
	}
	file := filepath.Join(t.TempDir(), "teams.xlsx")
	require.NoError(t, f.SaveAs(file))
	p, err := parseFile(t, s, "teams.xlsx", file)
	require.NoError(t, err)
	checkBatches(t, p)
	var got []string
	for _, r := range p.records {
		for _, rel := range r.Relationships {
			got = append(got, rel.From.Key+" -> "+rel.To.Key)
		}
	}
	assert.ElementsMatch(t, []string{
		"nora bishop -> ops", "ann lee -> ops", "bob ray -> ops",
		"cy dee -> qa", "di eve -> qa", "ed fox -> sales",
	}, got)
	assert.Empty(t, p.rejected())
}

// TestXLSXDatesInTextColumns reads a date cell (a serial number with a
// date format) in a text column as the date it shows, in ISO form, not as
// its serial, and a time of day (a format of times alone) as hh:mm:ss;
// date and datetime columns read it as before, and numbers with other
// formats (a number of hours, [h]:mm, among them) stay numbers.
func TestXLSXDatesInTextColumns(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC)
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Data"))
	for i, row := range [][]any{
		{"id", "name", "day", "at", "amount"},
		{1, day, day, at, 1234.5},
		{2, at, nil, nil, nil},
		{3, 45352, nil, nil, 45352},
		{4, 45352, nil, nil, nil},
		{5, 0.5, nil, nil, nil},
		{6, 1234.5, nil, nil, nil},
		{7, 45352.5, nil, nil, nil},
		{8, 0.466099537037037, nil, nil, nil},
		{9, 1.5, nil, nil, nil},
		{10, 0.5, nil, nil, nil},
		{11, 0.75, nil, nil, nil},
	} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Data", cell, &row))
	}
	for cell, code := range map[string]string{"B4": "dd/mm/yyyy", "E4": "dd/mm/yyyy", "B5": `[$-409]d\-mmm\-yy;@`, "B6": "h:mm", "B7": "#,##0.00", "E2": "#,##0.00", "B8": `"Day "yyyy-mm-dd hh:mm`,
		"B9": "H:MM:SS;@", "B10": "[h]:mm", "B11": `0.00 "h"`, "B12": "h:mm AM/PM"} {
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle("Data", cell, cell, style))
	}
	file := filepath.Join(t.TempDir(), "data.xlsx")
	require.NoError(t, f.SaveAs(file))
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1":  {"name": "2024-03-01", "day": "2024-03-01", "at": "2024-03-01T10:20:30", "amount": 1234.5},
		"2":  {"name": "2024-03-01T10:20:30"},
		"3":  {"name": "2024-03-01", "amount": 45352.0},
		"4":  {"name": "2024-03-01"},
		"5":  {"name": "12:00:00"},
		"6":  {"name": "1234.5"},
		"7":  {"name": "2024-03-01T12:00:00"},
		"8":  {"name": "11:11:11"},
		"9":  {"name": "1.5"},
		"10": {"name": "0.5"},
		"11": {"name": "18:00:00"},
	}, p.properties(t))
	assert.Empty(t, p.rejected())
}

// TestXLSXISODateCells reads dates stored as ISO 8601 text (t="d", as
// openpyxl writes them with iso_dates and Excel in its strict format): a
// text column reads them as it reads a date stored as a serial, a date at
// midnight without its time, whatever the cell's style.
func TestXLSXISODateCells(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>day</t></is></c><c r="D1" t="inlineStr"><is><t>at</t></is></c></row>` +
		`<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="d"><v>2024-03-01T00:00:00</v></c><c r="C2" t="d"><v>2024-03-02T00:00:00</v></c><c r="D2" t="d"><v>2024-03-01T10:20:30.500</v></c></row>` +
		`<row r="3"><c r="A3"><v>2</v></c><c r="B3" t="d"><v>2024-03-01T10:20:30.500</v></c></row>` +
		`<row r="4"><c r="A4"><v>3</v></c><c r="B4" t="d"><v>09:30:00</v></c></row>` +
		`<row r="5"><c r="A5"><v>4</v></c><c r="B5" t="d"><v>2024-03-01</v></c></row>` +
		`</sheetData></worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"name": "2024-03-01", "day": "2024-03-02", "at": "2024-03-01T10:20:30"},
		"2": {"name": "2024-03-01T10:20:30"},
		"3": {"name": "09:30:00"},
		"4": {"name": "2024-03-01"},
	}, p.properties(t))
	assert.Empty(t, p.rejected())
}

// TestXLSXDateSerials reads dates and times stored as serial numbers in
// the 1900 date system, around the days Excel counts wrongly.
func TestXLSXDateSerials(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	file := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {
		{"id", "day", "at"},
		{1, 1, nil},
		{2, 59, 59.5},
		{3, 61, nil},
		{4, nil, 45352.5},
		{5, 60, nil},
		{6, nil, 0.5},
		{7, 0, nil},
	}}, false)
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	got := p.properties(t)
	assert.Equal(t, map[string]map[string]any{
		"1": {"day": "1900-01-01"},
		"2": {"day": "1900-02-28", "at": "1900-02-28T12:00:00"},
		"3": {"day": "1900-03-01"},
		"4": {"at": "2024-03-01T12:00:00"},
	}, got)
	assert.Equal(t, []event.RowError{
		{Line: 6, Column: "day", Value: "60", Error: "not a date: serial 60 is 1900-02-29, a day that did not exist"},
		{Line: 7, Column: "at", Value: "0.5", Error: "not a date: serial 0.5 is a time of day without a date"},
		{Line: 8, Column: "day", Value: "0", Error: "not a date: serial 0 is a time of day without a date"},
	}, p.rejected())
}

func TestXLSXSheets(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	tests := []struct {
		name   string
		file   string
		sheets map[string][][]any
		want   []string // error substrings; nil: parses with one node
	}{
		{"missing sheet", "data.xlsx", map[string][][]any{"Cover": {{"id"}, {1}}, "Other": {{"id"}}}, []string{`data.xlsx: sheet "Data" not found (sheets: "Cover", "Other")`}},
		{"sheet name in another case", "data.xlsx", map[string][][]any{"DATA": {{"id"}, {1}}}, nil},
		{"sheet name with a trailing space", "data.xlsx", map[string][][]any{"Cover": {{"x"}}, "Data ": {{"id"}, {1}}}, nil},
		{"missing sheet, names quoted", "data.xlsx", map[string][][]any{"Cover": {{"id"}, {1}}, "Dates ": {{"id"}}}, []string{`data.xlsx: sheet "Data" not found (sheets: "Cover", "Dates ")`}},
		{"first sheet when none is named", "any.xlsx", map[string][][]any{"A": {{"id"}, {1}}, "B": {{"x"}}}, nil},
		{"empty sheet", "data.xlsx", map[string][][]any{"Data": {}}, []string{"data.xlsx: sheet Data is empty: no header row"}},
		{"header below a blank row", "data.xlsx", map[string][][]any{"Data": {{}, {"id"}, {1}}}, nil},
		{"missing column", "data.xlsx", map[string][][]any{"Data": {{"name"}, {"x"}}}, []string{"data.xlsx: sheet Data: source data: header (row 1): missing required columns: id (header: name); if the header is below a title block, set header_row in the source to its row number"}},
		{"missing column in the first sheet, when none is named", "any.xlsx", map[string][][]any{"A": {{"name"}}, "B": {{"id"}, {1}}}, []string{"any.xlsx: sheet A: source first: header (row 1): missing required columns: id (header: name)"}},
		{"missing column in a header reaching XFD", "data.xlsx", map[string][][]any{"Data": {wideRow("name", "far"), {"x"}}}, []string{"data.xlsx: sheet Data: source data: header (row 1): missing required columns: id (header: name, far)"}},
		{"missing column in a long header", "data.xlsx", map[string][][]any{"Data": {longRow(60), {"x"}}}, []string{"missing required columns: id (header: h1, h2, ", ", h50, and 10 more)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseFile(t, s, tt.file, writeWorkbook(t, tt.file, tt.sheets, false))
			if tt.want == nil {
				require.NoError(t, err)
				require.Len(t, p.records, 1)
				assert.Len(t, p.records[0].Nodes, 1)
				return
			}
			requireRejected(t, p, err, tt.want...)
		})
	}
}

// Without a sheet in the mapping, the first visible worksheet is read,
// the one Excel opens on: a hidden sheet before it (lookups) is passed
// over.
func TestXLSXFirstVisibleSheet(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Lookup"))
	require.NoError(t, f.SetSheetRow("Lookup", "A1", &[]any{"name"}))
	require.NoError(t, f.SetSheetRow("Lookup", "A2", &[]any{"not this"}))
	i, err := f.NewSheet("Register")
	require.NoError(t, err)
	require.NoError(t, f.SetSheetRow("Register", "A1", &[]any{"id", "name"}))
	require.NoError(t, f.SetSheetRow("Register", "A2", &[]any{7, "Widget"}))
	f.SetActiveSheet(i)
	require.NoError(t, f.SetSheetVisible("Lookup", false))
	file := filepath.Join(t.TempDir(), "any.xlsx")
	require.NoError(t, f.SaveAs(file))

	p, err := parseFile(t, s, "any.xlsx", file)
	require.NoError(t, err)
	require.Len(t, p.records, 1)
	assert.Equal(t, []event.Node{{Label: "Thing", Key: "7", Properties: map[string]any{"name": "Widget"}}}, p.records[0].Nodes)
}

// TestXLSXChartSheets reads the first worksheet when the mapping names no
// sheet: Excel puts a chart moved to a sheet of its own before its data.
// A chart sheet named in the mapping is refused, saying so.
func TestXLSXChartSheets(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Data"))
	for i, row := range [][]any{{"id", "amount"}, {1, 2.5}, {2, 3.5}} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Data", cell, &row))
	}
	require.NoError(t, f.AddChartSheet("Chart1", &excelize.Chart{Type: excelize.Col, Series: []excelize.ChartSeries{
		{Name: "Data!$B$1", Categories: "Data!$A$2:$A$3", Values: "Data!$B$2:$B$3"},
	}}))
	saved := filepath.Join(t.TempDir(), "book.xlsx")
	require.NoError(t, f.SaveAs(saved))
	// The chart sheet first, as Excel places it (excelize cannot move it).
	file := rewriteZip(t, saved, func(name string, data []byte) []byte {
		if name != "xl/workbook.xml" {
			return data
		}
		sheets := regexp.MustCompile(`<sheet [^>]*>(</sheet>)?`).FindAll(data, -1)
		require.Len(t, sheets, 2)
		return bytes.Replace(data, append(slices.Clone(sheets[0]), sheets[1]...), append(slices.Clone(sheets[1]), sheets[0]...), 1)
	})
	p, err := parseFile(t, s, "book.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{"1": {"amount": 2.5}, "2": {"amount": 3.5}}, p.properties(t))

	m := mustMapping(t, strings.Replace(xlsxCaseMapping, "sheet: Data", "sheet: Chart1", 1))
	p, err = parseFile(t, newStructured(t, m, parser.StructuredConfig{}), "data.xlsx", file)
	requireRejected(t, p, err, `data.xlsx: sheet "Chart1" is not a worksheet, with cells, but a chart sheet or the like (worksheets: "Data")`)
}

// wideRow is a row of excelize.MaxColumns cells: first at A, last at XFD.
func wideRow(first, last any) []any {
	row := make([]any, excelize.MaxColumns)
	row[0], row[len(row)-1] = first, last
	return row
}

// longRow is a row of n cells h1, h2...
func longRow(n int) []any {
	row := make([]any, n)
	for i := range row {
		row[i] = fmt.Sprintf("h%d", i+1)
	}
	return row
}

// withParts copies the workbook at src with the contents of the named
// parts replaced.
func withParts(t *testing.T, src string, parts map[string]string) string {
	t.Helper()
	return rewriteZip(t, src, func(name string, data []byte) []byte {
		if v, ok := parts[name]; ok {
			return []byte(v)
		}
		return data
	})
}

// rewriteZip copies the zip at src to a new file, passing every part
// through edit (nil from edit drops the part).
func rewriteZip(t *testing.T, src string, edit func(name string, data []byte) []byte) string {
	t.Helper()
	zr, err := zip.OpenReader(src)
	require.NoError(t, err)
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		data = edit(f.Name, data)
		if data == nil {
			continue
		}
		w, err := zw.Create(f.Name)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	out := filepath.Join(t.TempDir(), "edited-"+filepath.Base(src))
	require.NoError(t, os.WriteFile(out, buf.Bytes(), 0o600))
	return out
}

// TestXLSXCellForms reads cells written the ways other tools write them:
// inline strings (openpyxl, LibreOffice), rich text shared strings with
// phonetic runs, cells and rows without an r attribute, empty rows inside
// the dimension, formula strings and error cells.
func TestXLSXCellForms(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"shared"}}}, false)
	const sst = `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` +
		`<si><r><t xml:space="preserve">Lina </t></r><r><rPr><b/></rPr><t>Far</t></r><r><t>rell</t></r></si>` +
		`<si><t>山田</t><rPh sb="0" eb="2"><t>ヤマダ</t></rPh><phoneticPr fontId="1"/></si></sst>`
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:C12"/><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2" spans="1:3"/><row r="3"><c r="A3" s="0"/></row>` +
		`<row r="4"><c r="A4"><v>1</v></c><c r="B4" t="s"><v>0</v></c><c r="C4" t="inlineStr"><is><r><t>2</t></r><r><t>.5</t></r></is></c></row>` +
		`<row r="5"><c r="A5"><v>2</v></c><c r="B5" t="s"><v>1</v></c></row>` +
		`<row><c><v>3</v></c><c t="str"><f>"Bo"&amp;"b"</f><v>Bob</v></c><c><v>4</v></c></row>` +
		`<row r="8"><c r="A8"><v>4</v></c><c r="B8" t="e"><f>VLOOKUP(A8,X!A:B,2,FALSE)</f><v>#N/A</v></c></row>` +
		`<row r="9"><c r="A9"><v>5</v></c><c r="B9" t="inlineStr"><is><t>Ann</t></is></c><c r="C9" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>` +
		`<row r="10"><c r="A10" t="e"><v>#REF!</v></c></row>` +
		`</sheetData></worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet, "xl/sharedStrings.xml": sst})
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	got := p.properties(t)
	assert.Equal(t, map[string]map[string]any{
		"1": {"name": "Lina Farrell", "amount": 2.5},
		"2": {"name": "山田"},
		"3": {"name": "Bob", "amount": 4.0},
	}, got)
	assert.Equal(t, []event.RowError{
		{Line: 8, Column: "name", Value: "#N/A", Error: "a formula error, not a value"},
		{Line: 9, Column: "amount", Value: "#DIV/0!", Error: "a formula error, not a value"},
		{Line: 10, Column: "id", Value: "#REF!", Error: "a formula error, not a value"},
	}, p.rejected())
}

func TestXLSXCraftedRowNumbers(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}, {1}, {2}}}, false)
	tests := []struct {
		name string
		from string
		to   string
		want string
	}{
		{"row number beyond the sheet limit", `<row r="3"`, `<row r="2147483647"`, `data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row number "2147483647" out of range (1 to 1048576)`},
		{"negative row number", `<row r="2"`, `<row r="-1"`, `data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row number "-1" out of range`},
		{"rows out of order", `<row r="3"`, `<row r="1"`, "xl/worksheets/sheet1.xml: row 1 follows row 2: rows out of order"},
		{"cell reference out of range", `r="A3"`, `r="A2147483647"`, "data.xlsx: sheet Data, row 3: unreadable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := rewriteZip(t, base, func(name string, data []byte) []byte {
				if name == "xl/worksheets/sheet1.xml" {
					require.Contains(t, string(data), tt.from)
					return []byte(strings.Replace(string(data), tt.from, tt.to, 1))
				}
				return data
			})
			p, err := parseFile(t, s, "data.xlsx", file)
			requireRejected(t, p, err, tt.want)
		})
	}
}

// TestXLSXCellOrder reads rows whose cells are not in column order, which
// excelize's row iterator would shift into other columns (B3 after C3 lands
// in D), and rows whose cells omit their references, which are in order.
func TestXLSXCellOrder(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>Ana</t></is></c><c r="C2"><v>2.5</v></c></row>` +
		`<row r="3">ROW3</row>` +
		`</sheetData></worksheet>`
	tests := []struct {
		name string
		give string // the cells of row 3
		want string // error substring; "": parses
	}{
		{"in order", `<c r="A3"><v>2</v></c><c r="C3"><v>4</v></c>`, ""},
		{"references omitted", `<c><v>2</v></c><c t="inlineStr"><is><t>Bo</t></is></c><c s="1"><v>4</v></c>`, ""},
		{"reference after the first attribute", `<c s="0" r="A3"><v>2</v></c><c t="n" r="C3"><v>4</v></c>`, ""},
		{"out of order", `<c r="A3"><v>2</v></c><c r="C3"><v>4</v></c><c r="B3" t="inlineStr"><is><t>Bo</t></is></c>`, "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: cell B3 follows C3: cells out of order"},
		{"twice", `<c r="A3"><v>2</v></c><c s="0" r="A3"><v>3</v></c>`, "row 3: cell A3 follows A3: cells out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": strings.Replace(sheet, "ROW3", tt.give, 1)})
			p, err := parseFile(t, s, "data.xlsx", file)
			if tt.want == "" {
				require.NoError(t, err)
				require.Len(t, p.records, 1)
				assert.Len(t, p.records[0].Nodes, 2)
				return
			}
			requireRejected(t, p, err, tt.want)
		})
	}
}

// TestXLSXMalformedXML reads worksheets that programs writing XML without
// escaping produce. excelize's row iterator stops at the first bad
// character as if the sheet ended there; the file must fail instead of
// losing its remaining rows.
func TestXLSXMalformedXML(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>` +
		`<row r="2"><c r="A2"><v>1</v></c><c r="B2" t="inlineStr"><is><t>Ana</t></is></c></row>` +
		`<row r="3"><c r="A3"><v>2</v></c><c r="B3" t="inlineStr"><is><t>NAME</t></is></c></row>` +
		`<row r="4"><c r="A4"><v>3</v></c><c r="B4" t="inlineStr"><is><t>Di</t></is></c></row>` +
		`</sheetData></worksheet>`
	tests := []struct {
		name string
		give string // the cell text of row 3, as written
		want string
	}{
		{"control character", "Bo\x01b", "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: character U+0001, which XML does not allow"},
		{"ampersand", "AT&T", "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: an & that starts no XML entity"},
		{"HTML entity", "caf&eacute;", "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: an & that starts no XML entity"},
		{"reference to a control character", "Bo&#1;b", "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: an & that starts no XML entity (or one naming a character XML does not allow)"},
		{"Latin-1 text", "Jos\xe9", "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: byte 0xE9, not UTF-8"},
		{"end tag out of place", "Cy</is></c></c>", "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: <t> not closed before </is>: malformed XML"},
		{"]]> in text", "a]]>b", `data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: "]]>" in text, outside a CDATA section: malformed XML`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": strings.Replace(sheet, "NAME", tt.give, 1)})
			p, err := parseFile(t, s, "data.xlsx", file)
			requireRejected(t, p, err, tt.want)
		})
	}
	t.Run("escaped", func(t *testing.T) {
		file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": strings.Replace(sheet, "NAME", "AT&amp;T &#233;&#xE9; &lt;&gt;&quot;&apos;", 1)})
		p, err := parseFile(t, s, "data.xlsx", file)
		require.NoError(t, err)
		require.Len(t, p.records, 1)
		require.Len(t, p.records[0].Nodes, 3)
		assert.Equal(t, "AT&T éé <>\"'", p.records[0].Nodes[1].Properties["name"])
	})
}

// A text longer than the worksheet check's buffer (64 KiB) is read in
// pieces: a character or an entity cut between two is read whole, and
// refused only if it is not one.
func TestXLSXLongText(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	workbook := func(t *testing.T, text string) string {
		t.Helper()
		cells := strings.Replace(strings.ReplaceAll(markupCells, "#", "4"), "Name 4", text, 1)
		sheet := strings.NewReplacer("ROW3", strings.ReplaceAll(markupCells, "#", "3"), "ROW4", cells).Replace(markupSheet)
		return withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	}
	for pad := range 8 { // every place of the cut in "&amp;€"
		t.Run(fmt.Sprintf("pad %d", pad), func(t *testing.T) {
			p, err := parseFile(t, s, "data.xlsx", workbook(t, strings.Repeat("a", pad)+strings.Repeat("&amp;€", 10000)))
			require.NoError(t, err)
			assert.Equal(t, strings.Repeat("a", pad)+strings.Repeat("&€", 10000), p.properties(t)["4"]["name"])
		})
	}
	// The piece holding the text starts with "t>", after the '<' of <t>.
	const before = 64<<10 - len("t>")
	tests := []struct {
		name, give, want string
	}{
		{"entity cut", strings.Repeat("a", before-3) + "&nbsp;", "row 4: an & that starts no XML entity"},
		{"character cut", strings.Repeat("a", before-1) + "\xe2\x82x", "row 4: byte 0xE2, not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseFile(t, s, "data.xlsx", workbook(t, tt.give))
			requireRejected(t, p, err, tt.want)
		})
	}
}

// markupSheet is a worksheet of a header and rows 2 to 4, whose cells
// markupCells gives (# standing for the row number) but for ROW3 and ROW4.
const (
	markupSheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2"><c r="A2"><v>2</v></c><c r="B2" t="inlineStr"><is><t>Name 2</t></is></c><c r="C2"><v>2.5</v></c></row>` +
		`<row r="3">ROW3</row>` +
		`<row r="4">ROW4</row>` +
		`</sheetData></worksheet>`
	markupCells = `<c r="A#"><v>#</v></c><c r="B#" t="inlineStr"><is><t>Name #</t></is></c><c r="C#"><v>2.5</v></c>`
)

// markupWorkbook returns a workbook of markupSheet whose row (3 or 4) has
// markupCells with old replaced by new (# standing for the row number in
// both too), and the other markupCells.
func markupWorkbook(t *testing.T, base string, row int, old, new string) string {
	t.Helper()
	sheet := markupSheet
	for r := 3; r <= 4; r++ {
		n := strconv.Itoa(r)
		cells := strings.ReplaceAll(markupCells, "#", n)
		if r == row {
			old, new := strings.ReplaceAll(old, "#", n), strings.ReplaceAll(new, "#", n)
			require.Contains(t, cells, old)
			cells = strings.Replace(cells, old, new, 1)
		}
		sheet = strings.Replace(sheet, "ROW"+n, cells, 1)
	}
	return withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
}

// excelize's row reader stops, without an error, at markup encoding/xml
// refuses. Below a row, the rows missed show it; in the last row, the
// cells after it would be lost without a word (the whole row, for a <v>
// never closed). The worksheet check refuses such markup wherever it is,
// naming its row.
func TestXLSXMalformedTags(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	tests := []struct {
		name     string
		old, new string // the edit of the row's cells
		want     string
	}{
		{"stray </v>", `<v>#</v></c>`, `<v>#</v></v></c>`, "end tag </v> without its start"},
		{"stray </f>", `<v>#</v></c>`, `<v>#</v></f></c>`, "end tag </f> without its start"},
		{"stray </is>", `<v>#</v></c>`, `<v>#</v></is></c>`, "end tag </is> without its start"},
		{"stray </t>", `<v>#</v></c>`, `<v>#</v></t></c>`, "end tag </t> without its start"},
		{"stray </r>", `<t>Name #</t>`, `<t>Name #</t></r>`, "end tag </r> without its start"},
		{"stray </rPh>", `<v>#</v></c>`, `<v>#</v></rPh></c>`, "end tag </rPh> without its start"},
		{"stray </c>", `<v>#</v></c>`, `<v>#</v></c></c>`, "end tag </c> without its start"},
		{"stray </row> in a cell", `<v>#</v></c>`, `<v>#</v></row></c>`, "<c> not closed before </row>"},
		{"stray </row> after a cell", `<v>#</v></c>`, `<v>#</v></c></row>`, "end tag </row> without its start"},
		{"stray </sheetData>", `<v>#</v></c>`, `<v>#</v></c></sheetData>`, "<row> not closed before </sheetData>"},
		{"<v> not closed", `<v>#</v></c>`, `<v>#</c>`, "<v> not closed before </c>"},
		{"<f> not closed", `<v>#</v></c>`, `<f>1<v>#</v></c>`, "<f> not closed before </c>"},
		{"<c> not closed", `<v>#</v></c>`, `<v>#</v>`, "<c> not closed before </row>"},
		{"<is> not closed", `<t>Name #</t></is>`, `<t>Name #</t>`, "<is> not closed before </c>"},
		{"<t> not closed", `<t>Name #</t>`, `<t>Name #`, "<t> not closed before </is>"},
		{"<r> not closed", `<t>Name #</t>`, `<r><t>Name #</t>`, "<r> not closed before </is>"},
		{"<rPh> not closed", `<t>Name #</t>`, `<t>Name #</t><rPh sb="0" eb="1"><t>N</t>`, "<rPh> not closed before </is>"},
		{"other prefix", `<v>#</v></c>`, `<v>#</x:v></c>`, "end tag </x:v> without its start"},
		{"no prefix", `<t>Name #</t>`, `<x:t xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">Name #</t>`, "end tag </t> without its start"},
		{"end tag with an attribute", `<v>#</v>`, `<v>#</v a="1">`, "end tag </v> not ended by '>'"},
		{"attribute without quotes", `<c r="C#">`, `<c r=C#>`, "start tag <c>: an attribute value without quotes"},
		{"attribute without a value", `<c r="C#">`, `<c r="C#" hidden>`, "start tag <c>: an attribute without '='"},
		{"< in an attribute value", `<c r="C#">`, `<c r="C#" a="<">`, "start tag <c>: '<' in an attribute value"},
		{"start tag not ended", `<c r="C#">`, `<c r="C#"`, "start tag <c>: no attribute name where one must be"},
		{"/ not followed by >", `<c r="C#">`, `<c r="C#"/ >`, "start tag <c>: '/' not followed by '>'"},
		{"bad element name", `<v>#</v></c>`, `<v>#</v><1a/></c>`, `a tag named "1a", not an XML name`},
		{"end tag without a name", `<v>#</v></c>`, `<v>#</v></></c>`, `an end tag named "", not an XML name`},
		{"comment not ended by -->", `<v>#</v></c>`, `<v>#</v><!-- a -- b --></c>`, `"--" inside a comment`},
		{"bad <!", `<v>#</v></c>`, `<v>#</v><!DOCTYPE x></c>`, "a declaration (<!...>) inside the worksheet element"},
		{"XML declaration", `<v>#</v></c>`, `<v>#</v><?xml version="1.0" encoding="ISO-8859-1"?></c>`, "an XML declaration inside the worksheet"},
		{"CDATA with a control character", `<t>Name #</t>`, "<t><![CDATA[Name\x01 #]]></t>", "character U+0001, which XML does not allow: the program that wrote the workbook did not escape it"},
	}
	for _, tt := range tests {
		for _, row := range []int{3, 4} { // a middle row, and the last
			t.Run(fmt.Sprintf("%s in row %d", tt.name, row), func(t *testing.T) {
				p, err := parseFile(t, s, "data.xlsx", markupWorkbook(t, base, row, tt.old, tt.new))
				requireRejected(t, p, err, fmt.Sprintf("data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row %d: %s: malformed XML", row, tt.want))
			})
		}
	}
	t.Run("not closed at the end", func(t *testing.T) {
		for _, end := range []string{`</row></sheetData></worksheet>`, `</sheetData></worksheet>`} {
			sheet := strings.NewReplacer("ROW3", strings.ReplaceAll(markupCells, "#", "3"), "ROW4", strings.ReplaceAll(markupCells, "#", "4")).Replace(markupSheet)
			sheet = strings.TrimSuffix(sheet, end)
			file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
			p, err := parseFile(t, s, "data.xlsx", file)
			requireRejected(t, p, err, "not closed at the end of the worksheet: malformed XML")
		}
	})
}

// Markup that writers use, or that XML allows, is read: every cell of
// the last row is there.
func TestXLSXWellFormedTags(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	tests := []struct {
		name     string
		old, new string // the edit of row 4's cells
		wantName string
	}{
		{"as written", `</c>`, `</c>`, "Name 4"},
		{"self-closing", `<c r="C4"><v>2.5</v></c>`, `<c r="C4"><v>2.5</v></c><c r="D4"/><c r="E4" s="1"><v/></c>`, "Name 4"},
		{"white space", `<c r="B4" t="inlineStr"><is><t>Name 4</t></is></c>`, "<c\n r = 'B4'\tt=\"inlineStr\"\r\n><is ><t\n>Name 4</t\n></is\t></c >", "Name 4"},
		{"> and / in attribute values", `<c r="B4" t="inlineStr">`, `<c r="B4" a="x/>" b='/' t="inlineStr">`, "Name 4"},
		{"comment", `<v>4</v></c>`, `<v>4</v><!-- </c></row> <row r="9"> - --></c><!----><!-- <![CDATA[ -->`, "Name 4"},
		{"processing instruction", `<v>4</v></c>`, `<v>4</v><?pi </c> > ? ?></c><?p?>`, "Name 4"},
		{"CDATA", `<t>Name 4</t>`, `<t><![CDATA[</c>]] >Name]]><![CDATA[ 4]]></t>`, "</c>]] >Name 4"},
		{"rich text", `<t>Name 4</t>`, `<r><rPr><b/><sz val="11"/><rFont val="Calibri"/></rPr><t>Name</t></r><r><t xml:space="preserve"> 4</t></r><rPh sb="0" eb="1"><t>ネーム</t></rPh><phoneticPr fontId="1"/>`, "Name 4"},
		{"prefixed", `<c r="B4" t="inlineStr"><is><t>Name 4</t></is></c>`, `<x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="B4" t="inlineStr"><x:is><x:t>Name 4</x:t></x:is></x:c>`, "Name 4"},
		{"extension", `<v>4</v></c>`, `<v>4</v><extLst><ext uri="{X}"><y:z xmlns:y="urn:y"><y:w/></y:z></ext></extLst></c>`, "Name 4"},
		{"]]> in an attribute value", `<c r="B4" t="inlineStr">`, `<c r="B4" a="]]>" t="inlineStr">`, "Name 4"},
		{"entities", `<t>Name 4</t>`, `<t>Name 4&gt;&amp;&apos;</t>`, "Name 4>&'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseFile(t, s, "data.xlsx", markupWorkbook(t, base, 4, tt.old, tt.new))
			require.NoError(t, err)
			assert.Equal(t, map[string]map[string]any{
				"2": {"name": "Name 2", "amount": 2.5},
				"3": {"name": "Name 3", "amount": 2.5},
				"4": {"name": tt.wantName, "amount": 2.5},
			}, p.properties(t))
			assert.Empty(t, p.rejected())
		})
	}
}

// A start tag longer than the check's buffer (64 KiB) is read through
// outside the cells, where Excel may write a list of ranges that long,
// and refused in a row.
func TestXLSXLongStartTag(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	var ranges []string
	for i := range 10000 {
		ranges = append(ranges, fmt.Sprintf("D%d:E%d", 2*i+1, 2*i+1))
	}
	sqref := strings.Join(ranges, " ")
	require.Greater(t, len(sqref), 64<<10)
	sheet := strings.NewReplacer("ROW3", strings.ReplaceAll(markupCells, "#", "3"), "ROW4", strings.ReplaceAll(markupCells, "#", "4")).Replace(markupSheet)
	sheet = strings.Replace(sheet, `<row r="4">`, `<row r="4" `+`a="/>" x="`+sqref+`">`, 1)
	sheet = strings.Replace(sheet, "<sheetData>", `<sheetViews><sheetView workbookViewId="0"><selection activeCell="D1" sqref="`+sqref+`"/></sheetView></sheetViews><sheetData>`, 1)
	outside := strings.Replace(sheet, `a="/>" x="`+sqref+`"`, ``, 1)
	outside = strings.Replace(outside, "</sheetData>", `</sheetData><dataValidations count="1"><dataValidation type="list" allowBlank="1" sqref="`+sqref+`"><formula1>"a,b"</formula1></dataValidation></dataValidations>`, 1)
	t.Run("outside the cells", func(t *testing.T) {
		file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": outside})
		p, err := parseFile(t, s, "data.xlsx", file)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"name": "Name 4", "amount": 2.5}, p.properties(t)["4"])
		assert.Len(t, p.properties(t), 3)
	})
	t.Run("in a row", func(t *testing.T) {
		file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
		p, err := parseFile(t, s, "data.xlsx", file)
		requireRejected(t, p, err, "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 3: a start tag longer than the buffer (65536 bytes): malformed XML")
	})
}

// The cell scan, reading what the row iterator does not say (here, a
// formula without a result), passes over comments and processing
// instructions, and reads a start tag to its end past '>' and "/>" in
// attribute values.
func TestXLSXCellScanMarkup(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	tests := []struct {
		name     string
		old, new string // the edit of row 4's cells
	}{
		{"comment", `<c r="C#"><v>2.5</v></c>`, `<!-- <row r="9"><c r="C9"><v>1</v></c></row> --><c r="C#"><f>1+1</f><v/></c>`},
		{"processing instruction", `<c r="C#"><v>2.5</v></c>`, `<?pi <row r="9"> ?><c r="C#"><f>1+1</f><v/></c>`},
		{"/> in an attribute value", `<c r="C#"><v>2.5</v></c>`, `<c r="C#" a="/>"><f>1+1</f><v/></c>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseFile(t, s, "data.xlsx", markupWorkbook(t, base, 4, tt.old, tt.new))
			require.NoError(t, err)
			assert.Equal(t, []event.RowError{{Line: 4, Column: "amount", Value: "=1+1",
				Error: "a formula without a calculated result (the workbook was saved by a program that does not calculate formulas): open and save it in a spreadsheet application"}}, p.rejected())
		})
	}
}

// TestXLSXMalformedSharedStrings reads a bad character in shared strings
// larger than XLSXMaxXMLSize, which excelize reads from a temporary file
// item by item, stopping at the first it cannot decode.
func TestXLSXMalformedSharedStrings(t *testing.T) {
	rows := [][]any{{"id", "name"}}
	for i := range 600 {
		rows = append(rows, []any{i + 1, fmt.Sprintf("Name %d, padded to make the shared strings large", i+1)})
	}
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": rows}, false)
	file := rewriteZip(t, base, func(name string, data []byte) []byte {
		if name == "xl/sharedStrings.xml" {
			require.Greater(t, len(data), 20000)
			return bytes.Replace(data, []byte("Name 300,"), []byte("Name 300,\x01"), 1)
		}
		return data
	})
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{XLSXMaxXMLSize: 20000})
	p, err := parseFile(t, s, "data.xlsx", file)
	requireRejected(t, p, err, "data.xlsx: unreadable workbook: xl/sharedStrings.xml: shared string 301: character U+0001, which XML does not allow")
}

func TestXLSXUnreadable(t *testing.T) {
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}, {1}}}, false)
	data, err := os.ReadFile(base)
	require.NoError(t, err)
	tests := []struct {
		name string
		file string
		cfg  parser.StructuredConfig
		want string
	}{
		{"not a zip", writeTemp(t, "data.xlsx", "id\n1\n"), parser.StructuredConfig{}, "data.xlsx: unreadable workbook (not a complete zip archive)"},
		{"truncated", writeTemp(t, "data.xlsx", string(data[:len(data)/2])), parser.StructuredConfig{}, "data.xlsx: unreadable workbook"},
		{"zip without a workbook", rewriteZip(t, base, func(name string, data []byte) []byte {
			if strings.HasPrefix(name, "xl/") {
				return nil
			}
			return data
		}), parser.StructuredConfig{}, "data.xlsx: unreadable workbook"},
		{"password-protected workbook", filepath.Join("testdata", "xlsx", "encrypted.xlsx"), parser.StructuredConfig{}, "data.xlsx: not an XLSX workbook: a password-protected workbook or an Excel 97-2003 (.xls) file"},
		{"Excel 97-2003 workbook", filepath.Join("testdata", "xlsx", "excel97.xls"), parser.StructuredConfig{}, "data.xlsx: not an XLSX workbook: a password-protected workbook or an Excel 97-2003 (.xls) file"},
		{"OpenDocument spreadsheet", zipFile(t, "data.ods",
			"mimetype", "application/vnd.oasis.opendocument.spreadsheet",
			"META-INF/manifest.xml", "<manifest/>",
			"content.xml", "<office:document-content/>",
		), parser.StructuredConfig{}, "data.xlsx: not an XLSX workbook: an OpenDocument spreadsheet (.ods): save it as .xlsx"},
		{"Excel binary workbook", zipFile(t, "data.xlsb",
			"[Content_Types].xml", "<Types/>",
			"_rels/.rels", "<Relationships/>",
			"xl/workbook.bin", "\x83\x01\x00",
		), parser.StructuredConfig{}, "data.xlsx: not an XLSX workbook: an Excel binary workbook (.xlsb): save it as .xlsx"},
		{"zip of something else", zipFile(t, "data.zip", "readme.txt", "hello"), parser.StructuredConfig{}, "data.xlsx: not an XLSX workbook: a zip archive without [Content_Types].xml or xl/workbook.xml: save it as .xlsx"},
		{"part over the in-memory limit", base, parser.StructuredConfig{XLSXMaxXMLSize: 100}, "data.xlsx: refused: part"},
		{"workbook over the total limit", base, parser.StructuredConfig{XLSXMaxUnzipSize: 9000, XLSXMaxXMLSize: 8000}, "data.xlsx: refused: the workbook inflates to more than 9000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStructured(t, mustMapping(t, xlsxCaseMapping), tt.cfg)
			p, err := parseFile(t, s, "data.xlsx", tt.file)
			requireRejected(t, p, err, tt.want)
		})
	}
}

// zipFile writes a zip of parts (name, content, name, content...).
func zipFile(t *testing.T, name string, parts ...string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i+1 < len(parts); i += 2 {
		w, err := zw.Create(parts[i])
		require.NoError(t, err)
		_, err = w.Write([]byte(parts[i+1]))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o600))
	return p
}

func TestXLSXFormulaCachedValues(t *testing.T) {
	corpus := structuredCorpus(t)
	s := newStructured(t, mustMapping(t, badCorpusMapping), parser.StructuredConfig{})
	p, err := parseFile(t, s, "structured/projects_formula.xlsx", filepath.Join(corpus, "bad", "input", "structured", "projects_formula.xlsx"))
	require.NoError(t, err)
	exp := loadExpected(t, filepath.Join(corpus, "bad", "expected.json")).structuredPart(t)
	n := 0
	for _, r := range p.records {
		for _, node := range r.Nodes {
			if node.Label != "Project" {
				continue
			}
			n++
			want := exp.nodes["Project|"+node.Key]
			require.NotNil(t, want, node.Key)
			assert.Equal(t, want, normJSON(t, node.Properties), node.Key)
			for _, k := range []string{"name", "budget", "start_date"} {
				assert.Contains(t, node.Properties, k, "cached formula value of %s", k)
			}
		}
	}
	assert.Positive(t, n)
}

// BenchmarkXLSX parses a generated 200,000-row x 6-column sheet (written
// with excelize's StreamWriter) into Records batches; the peak RSS is the
// parse's (the setup's is reset). DOCGRAPH_BENCH_XLSX_ROWS sets the rows
// (a multiple of the batch size), to show the RSS does not grow with them.
//
//	go test ./services/parser -run '^$' -bench BenchmarkXLSX -benchtime 1x
func BenchmarkXLSX(b *testing.B) {
	rows := 200000
	if v := os.Getenv("DOCGRAPH_BENCH_XLSX_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(b, err)
		rows = n
	}
	file := filepath.Join(b.TempDir(), "book.xlsx")
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	require.NoError(b, err)
	require.NoError(b, sw.SetRow("A1", []any{"id", "name", "day", "amount", "ok", "at"}))
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		require.NoError(b, err)
		require.NoError(b, sw.SetRow(cell, []any{i, "Item " + strconv.Itoa(i%5000), day.AddDate(0, 0, i%3650), float64(i) * 1.5, i%2 == 0, day.Add(time.Duration(i) * time.Minute)}))
	}
	require.NoError(b, sw.Flush())
	require.NoError(b, f.SaveAs(file))
	require.NoError(b, f.Close())
	s := newStructured(b, mustMapping(b, xlsxCaseMapping), parser.StructuredConfig{})
	resetPeakRSS(b)
	for b.Loop() {
		n := 0
		err := s.Parse(b.Context(), event.NewDocument("book.xlsx", "bench", 0, 1), file, func(m pipeline.Message) error {
			n++
			return nil
		})
		require.NoError(b, err)
		require.Equal(b, rows/parser.DefaultBatchSize+1, n)
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(vmHWM(b))/(1<<20), "peak-rss-MiB")
}

// TestXLSXFormulasWithoutResults reads formulas stored without a calculated
// result: openpyxl writes an empty <v/>, XlsxWriter a placeholder 0 under
// fullCalcOnLoad unless it is given the result (testdata/xlsx/gen.py). A
// mapped column holding one is a row error, not an empty value or a 0; an
// unmapped one does not matter, nor one in a row empty otherwise (a
// template's formula filled down).
func TestXLSXFormulasWithoutResults(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	const (
		none        = "a formula without a calculated result (the workbook was saved by a program that does not calculate formulas): open and save it in a spreadsheet application"
		placeholder = "a formula whose stored result, 0, may be a placeholder (the workbook asks to be recalculated when opened, as programs that do not calculate formulas write it): open and save it in a spreadsheet application"
	)
	nodes := map[string]map[string]any{
		"1": {"name": "Ana", "amount": 2.5, "day": "2024-03-01"},
		"4": {"name": "Di", "amount": 3.0},
	}
	tests := []struct {
		file      string
		wantNodes map[string]map[string]any
		why       string
	}{
		{"openpyxl_formulas.xlsx", nodes, none},
		{"xlsxwriter_formulas.xlsx", map[string]map[string]any{"1": nodes["1"], "4": nodes["4"], "6": {"name": "Fay"}}, placeholder},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			p, err := parseFile(t, s, "data.xlsx", filepath.Join("testdata", "xlsx", tt.file))
			require.NoError(t, err)
			got := p.properties(t)
			assert.Equal(t, tt.wantNodes, got)
			assert.Equal(t, []event.RowError{
				{Line: 3, Column: "name", Value: `="Bo"&"b"`, Error: tt.why},
				{Line: 4, Column: "amount", Value: "=1/4", Error: tt.why},
				{Line: 6, Column: "id", Value: "=2+3", Error: tt.why},
			}, p.rejected())
		})
	}
}

// TestXLSXFormulaResults reads formulas stored with their results, as
// Excel and LibreOffice write them (a result 0 is a result without
// fullCalcOnLoad): shared formulas, a text formula giving "", and one
// shared formula follower stored without a result.
func TestXLSXFormulaResults(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>` +
		`<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>id</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>amount</x:t></x:is></x:c><x:c r="C1" t="inlineStr"><x:is><x:t>name</x:t></x:is></x:c></x:row>` +
		`<x:row r="2"><x:c r="A2"><x:v>1</x:v></x:c><x:c r="B2"><x:f t="shared" ref="B2:B4" si="0">(A2-1)*2</x:f><x:v>0</x:v></x:c><x:c r="C2" t="str"><x:f>IF(A2&gt;1,"big","")</x:f><x:v></x:v></x:c></x:row>` +
		`<x:row r="3"><x:c r="A3"><x:v>2</x:v></x:c><x:c r="B3"><x:f t="shared" si="0"/><x:v>2</x:v></x:c><x:c r="C3" t="str"><x:f>IF(A3&gt;1,"big","")</x:f><x:v>big</x:v></x:c></x:row>` +
		`<x:row r="4"><x:c r="A4"><x:v>3</x:v></x:c><x:c r="B4"><x:f t="shared" si="0"/><x:v/></x:c></x:row>` +
		`</x:sheetData></x:worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	got := p.properties(t)
	assert.Equal(t, map[string]map[string]any{
		"1": {"amount": 0.0},
		"2": {"amount": 2.0, "name": "big"},
	}, got)
	assert.Equal(t, []event.RowError{{Line: 4, Column: "amount",
		Error: "a formula without a calculated result (the workbook was saved by a program that does not calculate formulas): open and save it in a spreadsheet application"}}, p.rejected())
}

// writeRegister writes register.xlsx: a title merged over A1:A2, a row
// wider than the table with a formula never calculated in B2, an empty
// row 3 and the header on row 4, then rows 5 to 8 (6 with a bad budget, 7
// empty).
func writeRegister(t *testing.T) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Register"))
	for i, row := range [][]any{
		{"Project register — Q3 2024"},
		{nil, nil, nil, "Exported", "2024-10-01", "by finance"},
		{},
		{"code", "name", "budget"},
		{"P1", "Alpha", 10},
		{"P2", "Beta", "lots"},
		{},
		{"P3", "Gamma", 30},
	} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Register", cell, &row))
	}
	require.NoError(t, f.MergeCell("Register", "A1", "A2"))
	require.NoError(t, f.SetCellFormula("Register", "B2", "TODAY()"))
	file := filepath.Join(t.TempDir(), "register.xlsx")
	require.NoError(t, f.SaveAs(file))
	return file
}

// TestXLSXHeaderRow reads a sheet whose header is below a title block:
// the rows above header_row are not data (merged title cells fill no
// column), and rows keep their sheet row numbers.
func TestXLSXHeaderRow(t *testing.T) {
	s := newStructured(t, mustMapping(t, registerMapping("4", "skip_row")), parser.StructuredConfig{BatchSize: 2})
	p, err := parseFile(t, s, "register.xlsx", writeRegister(t))
	require.NoError(t, err)
	checkBatches(t, p)
	assert.Equal(t, map[string]map[string]any{
		"P1": {"name": "Alpha", "budget": 10.0},
		"P3": {"name": "Gamma", "budget": 30.0},
	}, p.properties(t))
	assert.Equal(t, []event.RowError{
		{Line: 6, Column: "budget", Value: "lots", Error: "not a whole number"},
	}, p.rejected())
}

// TestXLSXHeaderCells matches header cells that are numbers, dates or
// booleans by the text the spreadsheet shows: a column per month headed
// by date cells, a number Excel stores with 17 significant digits.
func TestXLSXHeaderCells(t *testing.T) {
	const mapping = `
sources:
  - name: months
    files: [months.xlsx]
    format: xlsx
    columns:
      - {name: id, type: int, required: true}
      - {name: 2024-01-01, type: float, required: true}
      - {name: 2024-02-01T12:30:00, type: float, required: true}
      - {name: "0.103", required: true}
      - {name: "TRUE", required: true}
    nodes:
      - label: Thing
        key: id
        properties: {jan: 2024-01-01, feb: 2024-02-01T12:30:00, rate: "0.103", flag: "TRUE"}
`
	s := newStructured(t, mustMapping(t, mapping), parser.StructuredConfig{})
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range [][]any{
		{"id", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 2, 1, 12, 30, 0, 0, time.UTC), nil, true},
		{1, 10, 20, "a", "b"},
	} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Sheet1", cell, &row))
	}
	require.NoError(t, f.SetCellFloat("Sheet1", "D1", 0.103, -1, 64))
	code := "mmm yyyy"
	style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
	require.NoError(t, err)
	require.NoError(t, f.SetCellStyle("Sheet1", "B1", "C1", style))
	base := filepath.Join(t.TempDir(), "base.xlsx")
	require.NoError(t, f.SaveAs(base))
	// D1 as Excel writes 0.103.
	file := rewriteZip(t, base, func(name string, data []byte) []byte {
		if name == "xl/worksheets/sheet1.xml" {
			return bytes.Replace(data, []byte("<v>0.103</v>"), []byte("<v>0.10299999999999999</v>"), 1)
		}
		return data
	})
	p, err := parseFile(t, s, "months.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"jan": 10.0, "feb": 20.0, "rate": "a", "flag": "b"},
	}, p.properties(t))
}

func TestXLSXHeaderRowErrors(t *testing.T) {
	require.Equal(t, excelize.TotalRows, schema.MaxSheetRows, "the largest header_row the mapping allows is a worksheet's last row")
	tests := []struct {
		name      string
		headerRow string
		want      string
	}{
		{"past the end", "20", "register.xlsx: sheet Register: header_row 20: past the end of the sheet, whose last row is 8"},
		{"an empty row", "3", "register.xlsx: sheet Register: header_row 3: row 3 is empty, not a header"},
		{"on a title row", "2", "register.xlsx: sheet Register: source book: header (row 2, header_row: 2): missing required columns: code (header: Project register — Q3 2024, Exported, 2024-10-01, by finance)"},
		{"one row too low", "5", "register.xlsx: sheet Register: source book: header (row 5, header_row: 5): missing required columns: code (header: P1, Alpha, 10)"},
		{"a title, without header_row", "", "register.xlsx: sheet Register: source book: header (row 1): missing required columns: code (header: Project register — Q3 2024); if the header is below a title block, set header_row in the source to its row number"},
	}
	file := writeRegister(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStructured(t, mustMapping(t, registerMapping(tt.headerRow, "skip_row")), parser.StructuredConfig{})
			p, err := parseFile(t, s, "register.xlsx", file)
			requireRejected(t, p, err, tt.want)
		})
	}
}

// TestXLSXLocalFormats reads text cells in the formats their columns
// declare, while number and date cells stay the numbers and dates they
// are: a number cell 1.234 is 1.234, a text cell "1.234" with "." grouping
// thousands is 1234.
func TestXLSXLocalFormats(t *testing.T) {
	m := mustMapping(t, `
sources:
  - name: book
    files: ["*.xlsx"]
    format: xlsx
    columns:
      - {name: id, type: int, required: true}
      - {name: day, type: date, format: DD.MM.YYYY}
      - {name: at, type: datetime, format: "DD.MM.YYYY HH:mm"}
      - {name: amount, type: float, decimal: ",", thousands: "."}
      - {name: count, type: int, decimal: ",", thousands: "."}
    nodes:
      - label: Thing
        key: id
        properties: [day, at, amount, count]
`)
	s := newStructured(t, m, parser.StructuredConfig{})
	file := writeWorkbook(t, "book.xlsx", map[string][][]any{
		"Data": {
			{"id", "day", "at", "amount", "count"},
			{1, "31.12.2024", "31.12.2024 23:59", "1.234,56", "1.234"},
			{2, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 10, 20, 30, 0, time.UTC), 1234.5, 1234},
			{3, nil, nil, 1.234, 12},
			{4, nil, nil, "1.234", "12.345.678"},
			{5, "2024-12-31", nil, nil, nil},
			{6, "45657", nil, nil, nil},
			{7, nil, nil, "1234.56", nil},
			{8, nil, nil, nil, "1.234,5"},
		},
	}, false)
	p, err := parseFile(t, s, "book.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"day": "2024-12-31", "at": "2024-12-31T23:59:00", "amount": 1234.56, "count": 1234.0},
		"2": {"day": "2024-03-01", "at": "2024-03-01T10:20:30", "amount": 1234.5, "count": 1234.0},
		"3": {"amount": 1.234, "count": 12.0},
		"4": {"amount": 1234.0, "count": 12345678.0},
	}, p.properties(t))
	assert.Equal(t, []event.RowError{
		{Line: 6, Column: "day", Value: "2024-12-31", Error: "not a date in the format DD.MM.YYYY"},
		{Line: 7, Column: "day", Value: "45657", Error: "not a date in the format DD.MM.YYYY"},
		{Line: 8, Column: "amount", Value: "1234.56", Error: `not a number in the format 1.234.567,89 (decimal ",", thousands ".")`},
		{Line: 9, Column: "count", Value: "1.234,5", Error: "not a whole number"},
	}, p.rejected(), "line numbers are sheet row numbers")

	// A sheet without dates, formulas or booleans: the text format alone
	// tells number cells from text.
	file = writeWorkbook(t, "plain.xlsx", map[string][][]any{
		"Data": {{"id", "amount"}, {1, 1.234}, {2, "1.234"}, {3, "1,5"}},
	}, false)
	p, err = parseFile(t, s, "plain.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"amount": 1.234},
		"2": {"amount": 1234.0},
		"3": {"amount": 1.5},
	}, p.properties(t))
	assert.Empty(t, p.rejected())
}

// TestXLSXLocalFormatsMergedCells fills the rows of a merged number cell
// with the number, and those of a merged text cell with the text read in
// its column's format.
func TestXLSXLocalFormatsMergedCells(t *testing.T) {
	s := newStructured(t, mustMapping(t, `
sources:
  - name: book
    files: [book.xlsx]
    format: xlsx
    columns:
      - {name: id, type: int, required: true}
      - {name: amount, type: float, decimal: ",", thousands: "."}
    nodes:
      - {label: Thing, key: id, properties: [amount]}
`), parser.StructuredConfig{})
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range [][]any{{"id", "amount"}, {1, 1.234}, {2}, {3, "1.234"}, {4}} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Sheet1", cell, &row))
	}
	require.NoError(t, f.MergeCell("Sheet1", "B2", "B3"))
	require.NoError(t, f.MergeCell("Sheet1", "B4", "B5"))
	file := filepath.Join(t.TempDir(), "book.xlsx")
	require.NoError(t, f.SaveAs(file))
	p, err := parseFile(t, s, "book.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"1": {"amount": 1.234}, "2": {"amount": 1.234},
		"3": {"amount": 1234.0}, "4": {"amount": 1234.0},
	}, p.properties(t))
	assert.Empty(t, p.rejected())
}

// TestXLSXNumberFormatsInTextColumns reads number cells whose format
// shows them as other text than the number in text columns as the sheet
// shows them: zero-padded identifiers (00000, "EMP"0000, 000-00-0000),
// as the same identifiers written as text elsewhere are, and percentages
// (0%, 0.00%), rounded as shown. Number columns read the number, and
// formats that only round or group digits or add a unit (0, #,##0.00,
// 0.00 "h") or mark text (@) leave a text column the number, as other
// number cells are read.
func TestXLSXNumberFormatsInTextColumns(t *testing.T) {
	s := newStructured(t, mustMapping(t, `
sources:
  - name: people
    files: [people.xlsx]
    format: xlsx
    columns:
      - {name: id, required: true}
      - {name: emp}
      - {name: ssn}
      - {name: number, type: int}
      - {name: share}
      - {name: rate, type: float}
      - {name: plain}
      - {name: text}
    nodes:
      - label: Person
        key: id
        properties: [emp, ssn, number, share, rate, plain, text]
`), parser.StructuredConfig{})
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range [][]any{
		{"id", "emp", "ssn", "number", "share", "rate", "plain", "text"},
		{123, 42, 123456789, 123, 0.25, 0.25, 12.5, 123},
		{"00124", 7, 12345678, 124, 0.1234, 0.125, 1234.5, "00123"},
		{125.6, -42, 0, nil, -0.05, -0.05, 3, nil},
		{127, 12345, 1234567890, nil, 1, nil, nil, nil},
		{1234567, nil, nil, nil, -0.0025, nil, nil, nil},
		{128, nil, nil, nil, 0.5, 0.5},
	} {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Sheet1", cell, &row))
	}
	for cells, code := range map[[2]string]string{
		{"A2", "A6"}: "00000", {"B2", "B6"}: `"EMP"0000`, {"C2", "C6"}: "000-00-0000", {"D2", "D6"}: "00000",
		{"E2", "E2"}: "0%", {"E3", "E3"}: "0.00%", {"E4", "E6"}: "0.0%;[Red]-0.0%", {"F2", "F6"}: "0.0%",
		{"G2", "G2"}: "0", {"G3", "G3"}: "#,##0.00", {"G4", "G4"}: `0.00 "h"`, {"H2", "H6"}: "@",
	} {
		style, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle("Sheet1", cells[0], cells[1], style))
	}
	// The built-in percentage formats, 0% and 0.00%.
	for cell, id := range map[string]int{"E7": 9, "F7": 10} {
		style, err := f.NewStyle(&excelize.Style{NumFmt: id})
		require.NoError(t, err)
		require.NoError(t, f.SetCellStyle("Sheet1", cell, cell, style))
	}
	file := filepath.Join(t.TempDir(), "people.xlsx")
	require.NoError(t, f.SaveAs(file))
	p, err := parseFile(t, s, "people.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{
		"00123":   {"emp": "EMP0042", "ssn": "123-45-6789", "number": 123.0, "share": "25%", "rate": 0.25, "plain": "12.5", "text": "123"},
		"00124":   {"emp": "EMP0007", "ssn": "012-34-5678", "number": 124.0, "share": "12.34%", "rate": 0.125, "plain": "1234.5", "text": "00123"},
		"00126":   {"emp": "-EMP0042", "ssn": "000-00-0000", "share": "-5.0%", "rate": -0.05, "plain": "3"},
		"00127":   {"emp": "EMP12345", "ssn": "1234-56-7890", "share": "100.0%"},
		"1234567": {"share": "-0.3%"},
		"128":     {"share": "50%", "rate": 0.5},
	}, p.properties(t))
	assert.Empty(t, p.rejected())
}

// payMapping reads id and the two pay columns of pay.xlsx, below the
// header row headerRow ("" for the default).
func payMapping(headerRow string) string {
	hr := ""
	if headerRow != "" {
		hr = "\n    header_row: " + headerRow
	}
	return `
sources:
  - name: pay
    files: [pay.xlsx]
    format: xlsx` + hr + `
    columns:
      - {name: id, required: true}
      - {name: net, type: float, required: true}
      - {name: gross, type: float}
    nodes:
      - {label: Payslip, key: id, properties: [net, gross]}
`
}

// writeMerged writes rows into pay.xlsx and merges the ranges.
func writeMerged(t *testing.T, rows [][]any, merges ...string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	require.NoError(t, f.SetSheetName("Sheet1", "Pay"))
	for i, row := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		require.NoError(t, err)
		require.NoError(t, f.SetSheetRow("Pay", cell, &row))
	}
	for _, m := range merges {
		from, to, _ := strings.Cut(m, ":")
		require.NoError(t, f.MergeCell("Pay", from, to))
	}
	file := filepath.Join(t.TempDir(), "pay.xlsx")
	require.NoError(t, f.SaveAs(file))
	return file
}

// TestXLSXMergedHeaderCells reads headers with merged cells: a header of
// two rows, whose cells merged down from the row above name their columns
// in the row header_row names, a title merged across the sheet above it,
// and a header cell merged across columns, which names the first of them:
// Excel keeps a merged range's value in its first cell, and a cell merged
// in each row as the header is has its value there too. The other columns
// of the range have no name, and are not read.
func TestXLSXMergedHeaderCells(t *testing.T) {
	tests := []struct {
		name      string
		headerRow string
		rows      [][]any
		merges    []string
		want      map[string]map[string]any
	}{
		{"a header of two rows", "2", [][]any{{"id", "pay"}, {nil, "net", "gross"}, {"a", 1, 2}}, []string{"A1:A2", "B1:C1"},
			map[string]map[string]any{"a": {"net": 1.0, "gross": 2.0}}},
		{"a title merged across, with header_row", "2", [][]any{{"Payroll 2024"}, {"id", "net", "gross"}, {"a", 1, 2}}, []string{"A1:C1"},
			map[string]map[string]any{"a": {"net": 1.0, "gross": 2.0}}},
		{"a header cell merged across columns, merged rows below", "", [][]any{{"id", "net"}, {"a", 1}, {"b", 3}}, []string{"B1:C1", "B2:C2", "B3:C3"},
			map[string]map[string]any{"a": {"net": 1.0}, "b": {"net": 3.0}}},
		{"a header cell merged across columns, values in both", "", [][]any{{"id", "net"}, {"a", 1, "EUR"}}, []string{"B1:C1"},
			map[string]map[string]any{"a": {"net": 1.0}}},
		{"a header cell merged over two rows and columns", "2", [][]any{{"id", "net", nil, "pay"}, {nil, nil, nil, "gross"}, {"a", 1, "EUR", 2}}, []string{"A1:A2", "B1:C2"},
			map[string]map[string]any{"a": {"net": 1.0, "gross": 2.0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStructured(t, mustMapping(t, payMapping(tt.headerRow)), parser.StructuredConfig{})
			p, err := parseFile(t, s, "pay.xlsx", writeMerged(t, tt.rows, tt.merges...))
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.properties(t))
			assert.Empty(t, p.rejected())
		})
	}
}

// TestXLSXMergedHeaderCellsErrors rejects a header missing columns below
// a title or a heading merged across columns, naming the merged cells.
func TestXLSXMergedHeaderCellsErrors(t *testing.T) {
	const hint = "a title or a heading over several columns: if the header is below it, set header_row in the source to its row number"
	twoRows := [][]any{{"id", "pay"}, {nil, "net", "gross"}, {"a", 1, 2}}
	tests := []struct {
		name      string
		headerRow string
		rows      [][]any
		merges    []string
		want      string
	}{
		{"a heading over two columns, without header_row", "", twoRows, []string{"A1:A2", "B1:C1"},
			`pay.xlsx: sheet Pay: source pay: header (row 1): missing required columns: net (header: id, pay); cells B1:C1 ("pay") are merged, ` + hint},
		{"a heading over two columns, header_row on it", "1", twoRows, []string{"A1:A2", "B1:C1"},
			`pay.xlsx: sheet Pay: source pay: header (row 1, header_row: 1): missing required columns: net (header: id, pay); cells B1:C1 ("pay") are merged, ` + hint},
		{"a title merged across, without header_row", "", [][]any{{"Payroll 2024"}, {"id", "net", "gross"}, {"a", 1, 2}}, []string{"A1:C1"},
			`pay.xlsx: sheet Pay: source pay: header (row 1): missing required columns: id, net (header: Payroll 2024); cells A1:C1 ("Payroll 2024") are merged, ` + hint},
		{"two headings", "", [][]any{{"id", "pay", nil, "tax"}, {nil, "net", "gross", "rate", "due"}, {"a", 1, 2, 3, 4}}, []string{"B1:C1", "D1:E1"},
			`pay.xlsx: sheet Pay: source pay: header (row 1): missing required columns: net (header: id, pay, tax); cells B1:C1 ("pay"), D1:E1 ("tax") are merged, titles or headings over several columns: if the header is below them, set header_row in the source to its row number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStructured(t, mustMapping(t, payMapping(tt.headerRow)), parser.StructuredConfig{})
			p, err := parseFile(t, s, "pay.xlsx", writeMerged(t, tt.rows, tt.merges...))
			requireRejected(t, p, err)
			assert.EqualError(t, err, tt.want)
		})
	}
}

// A value or formula outside any cell is passed over (as excelize's row
// reader does), not read as a cell before the first.
func TestXLSXValueOutsideCell(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><v>0</v><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2"><f>1+1</f><v>7</v><c r="A2"><v>1</v></c><c r="B2"><v>2.5</v></c></row>` +
		`</sheetData></worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	p, err := parseFile(t, s, "data.xlsx", file)
	require.NoError(t, err)
	assert.Equal(t, map[string]map[string]any{"1": {"amount": 2.5}}, p.properties(t))
	assert.Empty(t, p.rejected())
}

// excelize's row reader stops at a cell end tag without its start as if
// the sheet ended there: in the last row, the cells after it would be
// lost without an error.
func TestXLSXStrayCellEndTag(t *testing.T) {
	s := newStructured(t, mustMapping(t, xlsxCaseMapping), parser.StructuredConfig{})
	base := writeWorkbook(t, "data.xlsx", map[string][][]any{"Data": {{"id"}}}, false)
	const sheet = `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>amount</t></is></c></row>` +
		`<row r="2"><c r="A2"/></c><c r="B2"><v>2.5</v></c></row>` +
		`</sheetData></worksheet>`
	file := withParts(t, base, map[string]string{"xl/worksheets/sheet1.xml": sheet})
	p, err := parseFile(t, s, "data.xlsx", file)
	requireRejected(t, p, err, "data.xlsx: unreadable workbook: xl/worksheets/sheet1.xml: row 2: end tag </c> without its start: malformed XML")
}
