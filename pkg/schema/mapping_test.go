package schema_test

import (
	"bytes"
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/schemas"
)

func mappingTestdata(name string) string { return filepath.Join("testdata", "mapping", name) }

func loadShippedMapping(t *testing.T) *schema.Mapping {
	t.Helper()
	f, err := schemas.FS.Open("structured.yaml")
	require.NoError(t, err)
	defer f.Close()
	m, err := schema.LoadMapping(f)
	require.NoError(t, err)
	return m
}

func TestShippedMapping(t *testing.T) {
	m := loadShippedMapping(t)
	assert.Equal(t, schema.UnmappedDocument, m.Unmapped)
	assert.Equal(t, schema.OnRowErrorSkip, m.OnRowError)
	tests := []struct {
		path   string
		source string
		format string
		sheet  string
	}{
		{"projects.xlsx", "projects", schema.FormatXLSX, "Projects"},
		{"managers.xlsx", "managers", schema.FormatXLSX, "Managers"},
		{"teams.csv", "teams", schema.FormatCSV, ""},
		{"sub/dir/teams.csv", "teams", schema.FormatCSV, ""},
		{"project_manager_report.csv", "", "", ""},
		{"teams_overview.md", "", "", ""},
		{"structured/projects_formula.xlsx", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s, ok := m.Match(tt.path)
			require.Equal(t, tt.source != "", ok)
			if !ok {
				return
			}
			assert.Equal(t, tt.source, s.Name)
			assert.Equal(t, tt.format, s.Format)
			assert.Equal(t, tt.sheet, s.Sheet)
		})
	}
	x, err := schema.LoadExtractionFile(filepath.Join("..", "..", "schemas", "extraction.yaml"))
	require.NoError(t, err)
	require.NoError(t, m.CheckAgainst(x), "the shipped mapping agrees with the shipped extraction schema")
}

func TestMappingDefaults(t *testing.T) {
	m, err := schema.LoadMappingFile(mappingTestdata("minimal.good.yaml"))
	require.NoError(t, err)
	s, ok := m.Source("teams")
	require.True(t, ok)
	assert.Equal(t, schema.OnRowErrorSkip, s.OnRowError)
	assert.Equal(t, ",", s.CSV.Delimiter)
	assert.Equal(t, `"`, s.CSV.Quote)
	assert.Equal(t, `"`, s.CSV.Escape)
	assert.True(t, s.HasHeader())
	assert.Equal(t, schema.EncodingUTF8, s.CSV.Encoding)
	assert.Nil(t, s.HeaderRow, "the header is the first line")
	assert.Equal(t, schema.TypeString, s.Columns[0].Type)
	// Relationship ends take the key normalisation of the label's nodes.
	assert.Equal(t, schema.KeyLowerCollapse, s.Relationships[0].From.Normalize)
	c, ok := s.Column(" MEMBER_NAME ")
	require.True(t, ok)
	assert.Equal(t, "member_name", c.Name)
	_, ok = s.Column("nope")
	assert.False(t, ok)
	_, ok = m.Source("nope")
	assert.False(t, ok)
}

func TestMappingFull(t *testing.T) {
	m, err := schema.LoadMappingFile(mappingTestdata("full.good.yaml"))
	require.NoError(t, err)
	assert.Equal(t, schema.UnmappedSkip, m.Unmapped)
	people, ok := m.Source("people")
	require.True(t, ok)
	assert.Equal(t, schema.OnRowErrorSkip, people.OnRowError, "the source overrides the default")
	assert.False(t, people.HasHeader())
	assert.Equal(t, "\t", people.CSV.Delimiter)
	assert.Equal(t, `\`, people.CSV.Escape)
	assert.Equal(t, schema.EncodingWindows1252, people.CSV.Encoding, "an alias, in any case, is normalised")
	assert.Equal(t, schema.PropertyList{
		{Name: "name", Column: "name", Normalize: schema.NormCollapse},
		{Name: "active", Column: "active", Normalize: schema.NormTrim},
		{Name: "joined", Column: "joined", Normalize: schema.NormTrim},
		{Name: "seen", Column: "seen", Normalize: schema.NormTrim},
		{Name: "score", Column: "score", Normalize: schema.NormTrim},
	}, people.Nodes[0].Properties)
	book, ok := m.Source("book")
	require.True(t, ok)
	assert.Equal(t, schema.OnRowErrorReject, book.OnRowError)
	assert.Equal(t, schema.KeyExact, book.Relationships[0].From.Normalize)
	assert.Equal(t, schema.NormTrim, book.Relationships[0].To.Normalize, "Person nodes of people use the default")
	assert.True(t, book.HasHeader())
}

func TestMappingMatch(t *testing.T) {
	m, err := schema.ParseMapping([]byte(`
sources:
  - name: exact
    files: [data/teams.csv]
    format: csv
    columns: [{name: k, required: true}]
    nodes: [{label: T, key: k}]
  - name: deep
    files: ["hr/**/people-*.csv", "**/all/*.csv"]
    format: csv
    columns: [{name: k, required: true}]
    nodes: [{label: T, key: k}]
  - name: base
    files: ["*.xlsx", "x/**"]
    format: xlsx
    columns: [{name: k, required: true}]
    nodes: [{label: T, key: k}]
`))
	require.NoError(t, err)
	tests := []struct {
		path string
		want string
	}{
		{"data/teams.csv", "exact"},
		{"teams.csv", ""},
		{"other/data/teams.csv", ""},
		{"hr/people-1.csv", "deep"},
		{"hr/a/b/people-2.csv", "deep"},
		{"hr/a/b/persons.csv", ""},
		{"all/z.csv", "deep"},
		{"q/r/all/z.csv", "deep"},
		{"book.xlsx", "base"},
		{"deep/dir/book.xlsx", "base"},
		{"x/anything/at/all.txt", "base"},
		{"x", "base"},
		{"book.xlsx.bak", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s, ok := m.Match(tt.path)
			if tt.want == "" {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, s.Name)
		})
	}
}

func TestParseMappingBad(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"empty.bad.yaml", []string{"mapping: empty document"}},
		{"two-documents.bad.yaml", []string{"more than one YAML document"}},
		{"unknown-field.bad.yaml", []string{"field sheets not found"}},
		{"not-a-mapping.bad.yaml", []string{"mapping: yaml"}},
		{"no-sources.bad.yaml", []string{"sources: at least one source"}},
		{"bad-unmapped.bad.yaml", []string{`unmapped: "guess" is not one of document, skip, reject`}},
		{"bad-on-row-error.bad.yaml", []string{`on_row_error: "ignore" is not one of skip_row, reject_file`}},
		{"source-on-row-error.bad.yaml", []string{`sources[0] (teams): on_row_error: "shrug"`}},
		{"missing-name.bad.yaml", []string{"sources[0]: name: required"}},
		{"duplicate-source.bad.yaml", []string{"sources[1] (teams): name: duplicate of sources[0]"}},
		{"duplicate-file.bad.yaml", []string{`sources[1] (teams2): files[0] "teams.csv": already named by source teams`}},
		{"no-files.bad.yaml", []string{"sources[0] (teams): files: at least one"}},
		{"bad-glob.bad.yaml", []string{`files[0] "data/[a-.csv": bad glob`}},
		{"absolute-glob.bad.yaml", []string{`files[0] "/etc/teams.csv": must be relative`}},
		{"dotdot-glob.bad.yaml", []string{`files[0] "../teams.csv": segment ".." not allowed`}},
		{"partial-doublestar.bad.yaml", []string{`"**" must be a whole path segment`}},
		{"backslash-glob.bad.yaml", []string{"use forward slashes"}},
		{"bad-format.bad.yaml", []string{`sources[0] (teams): format: "ods" is not one of csv, xlsx`}},
		{"sheet-on-csv.bad.yaml", []string{"sheet: only for format xlsx"}},
		{"csv-on-xlsx.bad.yaml", []string{"csv: only for format csv"}},
		{"bad-delimiter.bad.yaml", []string{`csv.delimiter: ";;" must be one ASCII character`}},
		{"delimiter-is-quote.bad.yaml", []string{"csv.delimiter and csv.quote: must differ"}},
		{"bad-encoding.bad.yaml", []string{`sources[0] (teams): csv.encoding: "klingon" is not one of utf-8, windows-1252, iso-8859-1, utf-16, utf-16le, utf-16be`}},
		{"unknown-type.bad.yaml", []string{`columns[1] (member_name).type: "text" is not one of string, int, float, bool, date, datetime`}},
		{"duplicate-column.bad.yaml", []string{`columns[2].name "Member_Name": duplicate column`}},
		{"empty-column-name.bad.yaml", []string{"columns[2].name: required"}},
		{"no-columns.bad.yaml", []string{"sources[0] (t): columns: at least one column", `nodes[0].key: column "team_name" is not declared`}},
		{"nothing-made.bad.yaml", []string{"must make at least one node or relationship"}},
		{"key-not-declared.bad.yaml", []string{`sources[0] (teams): nodes[0].key: column "team" is not declared in columns`}},
		{"key-not-required.bad.yaml", []string{`nodes[1].key: key column "member_name" must be required: true`, `relationships[0].from.key: key column "member_name" must be required`}},
		{"missing-key.bad.yaml", []string{"nodes[0].key: required"}},
		{"bad-label.bad.yaml", []string{`nodes[0].label "1Team": must start with a letter`}},
		{"missing-label.bad.yaml", []string{"nodes[0].label: required"}},
		{"unknown-normalize.bad.yaml", []string{`nodes[0].normalize: "soundex" is not one of trim, collapse, lower, lower_collapse, upper, upper_code, exact`}},
		{"relationship-unknown-label.bad.yaml", []string{`relationships[0].to.label "Squad": no source makes Squad nodes`}},
		{"relationship-bad-type.bad.yaml", []string{`relationships[0].type "member-of": must be upper-case`}},
		{"relationship-missing.bad.yaml", []string{"relationships[0].type: required"}},
		{"endpoint-missing-label.bad.yaml", []string{"relationships[0].from.label: required"}},
		{"endpoint-bad-normalize.bad.yaml", []string{`relationships[0].from.normalize: "nope"`}},
		{"conflicting-key-normalize.bad.yaml", []string{`sources[1] (other): nodes label Team: key normalize "exact" differs from "lower_collapse"`}},
		{"property-undeclared.bad.yaml", []string{`nodes[0].properties[0] (budget): column "budget" is not declared`}},
		{"property-bad-name.bad.yaml", []string{`property name "team name" must be letters, digits and _`}},
		{"property-duplicate.bad.yaml", []string{`nodes[0].properties[1]: duplicate property "team_name"`}},
		{"property-bad-normalize.bad.yaml", []string{`nodes[0].properties[0] (name).normalize: "shout"`}},
		{"property-unknown-field.bad.yaml", []string{`property "name": field type not found (want column, normalize)`}},
		{"property-not-scalar.bad.yaml", []string{"property list entries must be column names"}},
		{"property-wrong-shape.bad.yaml", []string{"properties must be a list of columns or a map"}},
		{"property-value-list.bad.yaml", []string{`property "name" must be a column name or {column, normalize}`}},
		{"property-field-list.bad.yaml", []string{`property "name": column must be a string`}},
		{"property-key-not-scalar.bad.yaml", []string{"property names must be strings"}},
		{"header-row-zero.bad.yaml", []string{"sources[0] (teams): header_row: 0 must be 1 or more"}},
		{"header-row-negative.bad.yaml", []string{"sources[0] (book): header_row: -2 must be 1 or more"}},
		{"header-row-past-sheet.bad.yaml", []string{"sources[0] (book): header_row: 1048577 is beyond the last row a worksheet can have (1048576)"}},
		{"header-row-without-header.bad.yaml", []string{"sources[0] (teams): header_row: only for files with a header row (csv.header is false)"}},
		{"header-row-not-a-number.bad.yaml", []string{"cannot unmarshal !!str `three` into int"}},
		{"format-unknown-token.bad.yaml", []string{`sources[0] (budget): columns[1] (start).format "DD.MM.JJJJ": unknown token "JJJJ" (tokens: YYYY YY`}},
		{"format-incomplete.bad.yaml", []string{`sources[0] (budget): columns[1] (start).format "MM/YYYY": no day`}},
		{"format-not-a-date.bad.yaml", []string{"columns[1] (budget).format: only for date and datetime columns (the type is float)", "columns[2] (note).format: only for date and datetime columns (the type is string)"}},
		{"format-bad-literal.bad.yaml", []string{
			`sources[0] (budget): columns[1] (start).format "D [Q1] MMMM YYYY": literal [Q1]: digit '1': Go's time layouts read digits as date elements`,
			`columns[2] (due).format "[Jan] D.M.YYYY": literal [Jan]: "Jan": Go's time layouts read it as a date element`,
			`columns[3] (end).format "D [de MMMM YYYY": "[" without "]"`,
			`columns[4] (signed).format "D MMM[uary] YYYY": MMM next to [uary]: Go's time layouts read them together as another date element`,
		}},
		{"locale-unknown.bad.yaml", []string{`sources[0] (budget): columns[1] (start).locale: "sv" is not one of en, de, fr, es, it, nl, pt`}},
		{"locale-without-names.bad.yaml", []string{
			"sources[0] (budget): columns[1] (start).locale: needs a format with month or weekday names (MMMM, MMM, dddd, ddd)",
			`columns[2] (due).locale: the format "DD.MM.YYYY" has no month or weekday names (MMMM, MMM, dddd, ddd)`,
		}},
		{"locale-not-a-date.bad.yaml", []string{
			"sources[0] (budget): columns[1] (month).locale: only for date and datetime columns (the type is string)",
			"columns[2] (budget).locale: only for date and datetime columns (the type is float)",
		}},
		{"separator-not-a-number.bad.yaml", []string{"columns[1] (start).decimal: only for int and float columns (the type is date)", "columns[2] (note).thousands: only for int and float columns (the type is string)"}},
		{"bad-decimal.bad.yaml", []string{`sources[0] (budget): columns[1] (budget).decimal: ";" is not one of ".", ","`}},
		{"bad-thousands.bad.yaml", []string{`sources[0] (budget): columns[1] (budget).thousands: "_" is not one of ",", ".", " ", "'"`}},
		{"thousands-is-decimal.bad.yaml", []string{`columns[1] (budget).decimal and thousands: must differ (both ".")`, `columns[2] (staff).decimal and thousands: must differ (both ",")`}},
		{"many-problems.bad.yaml", []string{`unmapped: "guess"`, "sources[0] (a): files: at least one", `format: "ods"`, `columns[0] (x).type: "text"`, `nodes[0].key: column "y" is not declared`}},
	}
	files, err := filepath.Glob(mappingTestdata("*.bad.yaml"))
	require.NoError(t, err)
	require.Len(t, tests, len(files), "one case per testdata/mapping/*.bad.yaml")
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := schema.LoadMappingFile(mappingTestdata(tt.file))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.file, "errors name the file")
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestMappingHeaderRow(t *testing.T) {
	m, err := schema.LoadMappingFile(mappingTestdata("header-row.good.yaml"))
	require.NoError(t, err)
	tests := []struct {
		source string
		want   *int
	}{
		{"register", ptr(3)},
		{"budget", ptr(schema.MaxSheetRows)},
		{"plain", nil},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			s, ok := m.Source(tt.source)
			require.True(t, ok)
			assert.Equal(t, tt.want, s.HeaderRow)
			assert.True(t, s.HasHeader())
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestMappingColumnFormats(t *testing.T) {
	m, err := schema.LoadMappingFile(mappingTestdata("column-formats.good.yaml"))
	require.NoError(t, err)
	s, ok := m.Source("budget")
	require.True(t, ok)
	tests := []struct {
		column     string
		format     string
		decimal    string
		thousands  string
		numberText bool
		textFormat bool
	}{
		{"code", "", "", "", false, false},
		{"start", "DD.MM.YYYY", "", "", false, true},
		{"updated", "YYYY-MM-DD HH:mm", "", "", false, true},
		{"budget", "", ",", ".", true, true},
		{"staff", "", "", " ", true, true},
		{"spent", "", ".", ",", true, true},
		{"plain", "", ".", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.column, func(t *testing.T) {
			c, ok := s.Column(tt.column)
			require.True(t, ok)
			assert.Equal(t, tt.format, c.Format)
			assert.Equal(t, tt.decimal, c.Decimal)
			assert.Equal(t, tt.thousands, c.Thousands)
			assert.Equal(t, tt.numberText, c.NumberText())
			assert.Equal(t, tt.textFormat, c.HasTextFormat())
		})
	}
}

func TestParseDateFormat(t *testing.T) {
	tests := []struct {
		give      string
		want      string
		wantZoned bool
	}{
		{"DD/MM/YYYY", "02/01/2006", false},
		{"MM/DD/YYYY", "01/02/2006", false},
		{"DD.MM.YYYY", "02.01.2006", false},
		{"D.M.YY", "2.1.06", false},
		{"YYYYMMDD", "20060102", false},
		{"YYYY-MM-DD HH:mm", "2006-01-02 15:04", false},
		{"D MMM YYYY", "2 Jan 2006", false},
		{"dddd, D MMMM YYYY", "Monday, 2 January 2006", false},
		{"M/D/YYYY h:mm:ss A", "1/2/2006 3:04:05 PM", false},
		{"DD/MM/YYYY hh:mm a", "02/01/2006 03:04 pm", false},
		{"YYYY-MM-DDTHH:mm:ssZ", "2006-01-02T15:04:05Z07:00", true},
		{"DD.MM.YYYY H:m:s ZZ", "02.01.2006 15:4:5 Z0700", true},
		{"YYYY年M月D日", "2006年1月2日", false},
		{"D [de] MMMM [de] YYYY", "2 de January de 2006", false},
		{"D[.] MMMM YYYY", "2. January 2006", false},
		{"[Stand:] DD.MM.YYYY[, um] HH:mm [Uhr]", "Stand: 02.01.2006, um 15:04 Uhr", false},
		{"[[]DD/MM/YYYY]", "[02/01/2006]", false},
		{"D[M]M YYYY", "2M1 2006", false},
		{"YYYY-MM-DD[T]HH:mm", "2006-01-02T15:04", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			df, err := schema.ParseDateFormat(tt.give)
			require.NoError(t, err)
			assert.Equal(t, schema.DateFormat{Pattern: tt.give, Layout: tt.want, Zoned: tt.wantZoned}, df)
		})
	}
}

func TestParseDateFormatBad(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"", "empty"},
		{"DD/MM/JJJJ", `unknown token "JJJJ"`},
		{"Do MMM YYYY", `unknown token "o"`},
		{"DD/MM/YYYYY", `unknown token "Y"`},
		{"DD/MM/YYYY HH:mm:ss.SSS", `unknown token "SSS": a fraction of a second after ss needs no token`},
		{"DD/MM", "no year"},
		{"HH:mm", "no year, month, day"},
		{"DD/MM/2024", `digit '2'`},
		{"DD_MM_YYYY", `"_" is not allowed`},
		{"DD/MM/YYYY/DD", "DD and DD: the day appears twice"},
		{"DD/MM/YYYY HH:mm hh", "HH and hh: the hour appears twice"},
		{"DMYYYY", "D followed directly by M"},
		{"YYYY-MM-DD hh:mm", "a 12-hour hour (hh, h) and AM/PM (A, a) go together"},
		{"YYYY-MM-DD HH:mm A", "a 12-hour hour (hh, h) and AM/PM (A, a) go together"},
		{"DD/MM/YYYY\xff", "not UTF-8"},
		{"D [de MMMM YYYY", `"[" without "]"`},
		{"D [2] MMMM YYYY", `literal [2]: digit '2'`},
		{"[Q1] DD.MM.YYYY", `literal [Q1]: digit '1'`},
		{"DD_[_]MM", `"_" is not allowed`},
		{"DD[_]MM.YYYY", `literal [_]: "_"`},
		{"DD.MM.YYYY [Mon]", `literal [Mon]: "Mon": Go's time layouts read it as a date element`},
		{"DD.MM.YYYY [MST]", `literal [MST]: "MST"`},
		{"DD.MM.YYYY HH:mm [PM]", `literal [PM]: "PM"`},
		{"DD.MM.YYYY [pm]", `literal [pm]: "pm"`},
		{"DD.MM.YYYY [January]", `literal [January]: "Jan"`},
		{"DD.MM.YYYY[\xff]", `: not UTF-8`},
		{"D MMM[uary] YYYY", "MMM next to [uary]: Go's time layouts read them together as another date element"},
		{"D MMMM YYYY [P]ddd", "[P] next to ddd"},
		{"D[]M YYYY", "D followed directly by M"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			_, err := schema.ParseDateFormat(tt.give)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestNumberExample(t *testing.T) {
	assert.Equal(t, `1.234.567,89 (decimal ",", thousands ".")`, schema.NumberExample(",", "."))
	assert.Equal(t, `1234567,89 (decimal ",", no thousands separator)`, schema.NumberExample(",", ""))
	assert.Equal(t, `1 234 567.89 (decimal ".", thousands " ")`, schema.NumberExample("", " "))
}

func TestMappingEncoding(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"", schema.EncodingUTF8},
		{"utf-8", schema.EncodingUTF8},
		{"UTF8", schema.EncodingUTF8},
		{"windows-1252", schema.EncodingWindows1252},
		{"cp1252", schema.EncodingWindows1252},
		{"Windows1252", schema.EncodingWindows1252},
		{"iso-8859-1", schema.EncodingISO88591},
		{"latin1", schema.EncodingISO88591},
		{"Latin-1", schema.EncodingISO88591},
		{"utf-16", schema.EncodingUTF16},
		{"UTF-16LE", schema.EncodingUTF16LE},
		{"utf16be", schema.EncodingUTF16BE},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			m, err := schema.ParseMapping([]byte(`
sources:
  - name: s
    files: [s.csv]
    format: csv
    csv: {encoding: "` + tt.give + `"}
    columns: [{name: k, required: true}]
    nodes: [{label: T, key: k}]
`))
			require.NoError(t, err)
			assert.Equal(t, tt.want, m.Sources[0].CSV.Encoding)
		})
	}
}

func TestParseMappingGood(t *testing.T) {
	files, err := filepath.Glob(mappingTestdata("*.good.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m, err := schema.LoadMappingFile(f)
			require.NoError(t, err)
			// Writing the loaded mapping back gives the same mapping.
			out, err := yaml.Marshal(m)
			require.NoError(t, err)
			again, err := schema.ParseMapping(out)
			require.NoError(t, err, string(out))
			assert.Equal(t, m, again)
		})
	}
}

func TestLoadMappingErrors(t *testing.T) {
	_, err := schema.LoadMapping(iotest.ErrReader(errors.New("disk gone")))
	assert.ErrorContains(t, err, "read mapping: disk gone")
	_, err = schema.LoadMappingFile(mappingTestdata("does-not-exist.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestMappingCheckAgainst(t *testing.T) {
	x, err := schema.LoadExtractionFile(filepath.Join("..", "..", "schemas", "extraction.yaml"))
	require.NoError(t, err)
	m, err := schema.ParseMapping([]byte(`
sources:
  - name: s
    files: [s.csv]
    format: csv
    columns: [{name: a, required: true}, {name: b, required: true}]
    nodes:
      - {label: Person, key: a, normalize: exact}
      - {label: Robot, key: b}
      - {label: Team, key: b, normalize: lower_collapse}
    relationships:
      - {type: MEMBER_OF, from: {label: Team, key: b}, to: {label: Person, key: a}}
      - {type: BUILT, from: {label: Robot, key: b}, to: {label: Person, key: a}}
`))
	require.NoError(t, err)
	err = m.CheckAgainst(x)
	require.Error(t, err)
	for _, w := range []string{
		`nodes[0].normalize "exact": the extraction schema normalises Person keys with "lower_collapse"`,
		`nodes[1].label "Robot": not an entity type`,
		`relationships[0] MEMBER_OF: goes Team->Person, the extraction schema says Person->Team`,
		`relationships[1].type "BUILT": not a relationship type`,
	} {
		assert.Contains(t, err.Error(), w)
	}
}

func TestNormalizeValue(t *testing.T) {
	tests := []struct {
		kind, give, want string
	}{
		{schema.NormTrim, "  a  b ", "a  b"},
		{schema.NormCollapse, "  a \t b ", "a b"},
		{schema.NormLower, " Ab  C ", "ab  c"},
		{schema.KeyLowerCollapse, " Lars   Çelik ", "lars çelik"},
		{schema.KeyUpper, " prj-1 ", "PRJ-1"},
		{schema.KeyUpperCode, "aace 101", "AACE-101"},
		{schema.KeyExact, " x ", " x "},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			assert.Equal(t, tt.want, schema.NormalizeValue(tt.kind, tt.give))
		})
	}
}

func FuzzParseMapping(f *testing.F) {
	files, err := filepath.Glob(mappingTestdata("*.yaml"))
	require.NoError(f, err)
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte("sources: [{properties: {a: {column: [x]}}}]"))
	f.Add([]byte("sources: [{name: s, files: [s.csv], format: csv, csv: {header: false}, header_row: 2, columns: [{name: k, required: true}], nodes: [{label: T, key: k}]}]"))
	f.Add([]byte("sources: [{name: s, files: [s.csv], format: csv, columns: [{name: k, required: true}, {name: d, type: date, format: DD/MM/YYYY}, {name: n, type: float, decimal: ',', thousands: '.'}], nodes: [{label: T, key: k, properties: [d, n]}]}]"))
	f.Add([]byte("sources: [{name: s, files: [s.csv], format: csv, columns: [{name: k, required: true}, {name: d, type: datetime, format: 'D MMM YYYY h:mm A Z'}, {name: n, type: int, thousands: ' '}], nodes: [{label: T, key: k}]}]"))
	f.Add([]byte("sources: [{name: s, files: [s.csv], format: csv, columns: [{name: k, required: true}, {name: d, type: date, format: DMYYYY}, {name: n, type: int, thousands: '.'}], nodes: [{label: T, key: k}]}]"))
	f.Add([]byte("sources: [{name: s, files: [s.csv], format: csv, columns: [{name: k, required: true}, {name: d, type: date, format: 'D [de] MMMM [de] YYYY', locale: es}, {name: e, type: datetime, format: 'ddd D[.] MMM YYYY HH:mm', locale: de}], nodes: [{label: T, key: k}]}]"))
	f.Add([]byte("sources: [{name: s, files: [s.csv], format: csv, columns: [{name: k, required: true}, {name: d, type: date, format: 'DD.MM.YYYY', locale: fr}, {name: e, type: date, format: 'D [Jan] MMM[uary] YYYY', locale: xx}, {name: f, locale: it}], nodes: [{label: T, key: k}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := schema.ParseMapping(data)
		if err != nil {
			require.Nil(t, m)
			return
		}
		// A valid mapping matches without panicking and re-encodes, and
		// a header row it names is a row of a file with a header.
		for _, s := range m.Sources {
			if s.HeaderRow != nil {
				require.GreaterOrEqual(t, *s.HeaderRow, 1)
				require.True(t, s.HasHeader())
			}
			// Column formats are valid where they are allowed.
			for _, c := range s.Columns {
				if c.Format != "" {
					require.Contains(t, []string{schema.TypeDate, schema.TypeDateTime}, c.Type)
					df, err := schema.ParseDateFormat(c.Format)
					require.NoError(t, err)
					require.NotEmpty(t, df.Layout)
				}
				if c.Locale != "" {
					require.Contains(t, schema.DateLocales, c.Locale)
					df, err := schema.ParseLocalDateFormat(c.Format, c.Locale)
					require.NoError(t, err)
					require.NotEmpty(t, df.Layout)
				}
				if c.Decimal != "" || c.Thousands != "" {
					require.Contains(t, []string{schema.TypeInt, schema.TypeFloat}, c.Type)
					require.NotEqual(t, cmp.Or(c.Decimal, "."), c.Thousands)
				}
			}
			for _, p := range s.Files {
				m.Match(p)
				m.Match(strings.ReplaceAll(p, "*", "x"))
			}
		}
		var buf bytes.Buffer
		require.NoError(t, yaml.NewEncoder(&buf).Encode(m))
	})
}
