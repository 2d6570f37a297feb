package parser

import (
	"strconv"

	"github.com/docgraph/docgraph/pkg/schema"
)

// ColumnStatus says how a declared column matched a table's header.
type ColumnStatus string

// Values of ColumnStatus.
const (
	// ColumnMatched: one header cell names the column (without a header,
	// the column is the file's column at its position).
	ColumnMatched ColumnStatus = "matched"
	// ColumnMissing: no header cell names the column. A missing required
	// column rejects the file; a missing optional one reads as empty.
	ColumnMissing ColumnStatus = "missing"
	// ColumnDuplicate: more than one header cell names the column, which
	// rejects the file.
	ColumnDuplicate ColumnStatus = "duplicate"
)

// ColumnMatch is how one declared column matched a header.
type ColumnMatch struct {
	// Column is the declared column.
	Column schema.Column
	// Status says whether it matched.
	Status ColumnStatus
	// Positions are the header positions (from 0) of the cells naming
	// the column: one when matched, several when duplicated, none when
	// missing.
	Positions []int
}

// ColumnMatches is how a source's declared columns matched a header.
type ColumnMatches struct {
	// Declared are the source's columns, in the mapping's order.
	Declared []ColumnMatch
	// Ignored are the positions (from 0) of the non-empty header cells
	// that no declared column names: Parse does not read them.
	Ignored []int
}

// MatchColumns matches src's declared columns to a table's header cells
// as Parse does: by name, trimmed, case-insensitive and with runs of white
// space (line breaks and non-breaking spaces too) as one space. A CSV
// source without a header (csv: {header: false}) matches by position, and
// header is then ignored.
func MatchColumns(src *schema.Source, header []string) ColumnMatches {
	var m ColumnMatches
	positions := map[string][]int{}
	if src.HasHeader() {
		for i, h := range header {
			k := columnKey(h)
			positions[k] = append(positions[k], i)
		}
	}
	declared := map[string]bool{}
	for i, c := range src.Columns {
		cm := ColumnMatch{Column: c}
		k := columnKey(c.Name)
		declared[k] = true
		switch {
		case !src.HasHeader():
			cm.Status, cm.Positions = ColumnMatched, []int{i}
		case len(positions[k]) == 1:
			cm.Status, cm.Positions = ColumnMatched, positions[k]
		case len(positions[k]) > 1:
			cm.Status, cm.Positions = ColumnDuplicate, positions[k]
		default:
			cm.Status = ColumnMissing
		}
		m.Declared = append(m.Declared, cm)
	}
	if src.HasHeader() {
		for i, h := range header {
			if k := columnKey(h); k != "" && !declared[k] {
				m.Ignored = append(m.Ignored, i)
			}
		}
	}
	return m
}

// MissingRequired lists the required columns that are missing, by their
// declared names.
func (m ColumnMatches) MissingRequired() []string {
	var out []string
	for _, c := range m.Declared {
		if c.Status == ColumnMissing && c.Column.Required {
			out = append(out, c.Column.Name)
		}
	}
	return out
}

// Duplicated lists the columns that several header cells name, by their
// declared names.
func (m ColumnMatches) Duplicated() []string {
	var out []string
	for _, c := range m.Declared {
		if c.Status == ColumnDuplicate {
			out = append(out, c.Column.Name)
		}
	}
	return out
}

// Table describes the table Parse found in a file, once it has read the
// header and before it reads the rows.
type Table struct {
	// File is the document's path.
	File string
	// Source is the name of the mapping source that names the file.
	Source string
	// Format is the source's format (schema.FormatCSV or FormatXLSX).
	Format string
	// Sheet is the worksheet read; "" for CSV.
	Sheet string
	// HeaderLine is the header's line (CSV, as an editor numbers lines) or
	// sheet row (XLSX); 0 for a CSV file without a header.
	HeaderLine int
	// Header are the header's cells; nil without a header.
	Header []string
	// Columns says how the source's declared columns matched the header.
	Columns ColumnMatches
}

// ColumnName names the column at position pos (from 0) as a user finds
// it: a workbook's column letter ("C"), a CSV file's field number ("3").
func (t Table) ColumnName(pos int) string {
	if t.Format == schema.FormatXLSX {
		return columnName(pos + 1)
	}
	return strconv.Itoa(pos + 1)
}
