package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// What the parser does with a CSV or XLSX file that no mapping source names
// (Mapping.Unmapped).
const (
	// UnmappedDocument treats the file as an ordinary document (the default):
	// a file is never guessed at as a table.
	UnmappedDocument = "document"
	// UnmappedSkip ignores the file.
	UnmappedSkip = "skip"
	// UnmappedReject reports the file as an error.
	UnmappedReject = "reject"
)

// What the parser does with a row that fails validation (on_row_error).
const (
	// OnRowErrorSkip reports the row (file, line, column, value) and ingests
	// the other rows (the default).
	OnRowErrorSkip = "skip_row"
	// OnRowErrorReject rejects the whole file: nothing of it is ingested.
	OnRowErrorReject = "reject_file"
)

// Source formats.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// MaxSheetRows is the number of rows of an XLSX worksheet, the largest
// header_row of an XLSX source.
const MaxSheetRows = 1 << 20

// Column types. Values are validated and converted per row; an empty cell
// is "no value" whatever the type.
const (
	// TypeString keeps the text.
	TypeString = "string"
	// TypeInt is a whole number (int64); "12.0" is accepted, "12.5" is not.
	// Column.Decimal and Column.Thousands say how its text is written.
	TypeInt = "int"
	// TypeFloat is a number (float64), its text written as TypeInt's.
	TypeFloat = "float"
	// TypeBool accepts true/false, yes/no, 1/0 (any case).
	TypeBool = "bool"
	// TypeDate becomes "YYYY-MM-DD": from a date cell (an Excel serial
	// number) or from text, ISO or in the column's Format.
	TypeDate = "date"
	// TypeDateTime becomes "YYYY-MM-DDThh:mm:ss" (RFC 3339 when the text
	// carries a zone).
	TypeDateTime = "datetime"
)

// Value normalisations a mapping may apply besides the key normalisations
// (KeyLowerCollapse, KeyUpper, KeyUpperCode, KeyExact).
const (
	// NormTrim removes leading and trailing whitespace (the default).
	NormTrim = "trim"
	// NormCollapse trims and collapses whitespace runs to one space.
	NormCollapse = "collapse"
	// NormLower trims and lower-cases.
	NormLower = "lower"
)

// CSV text encodings (CSVOptions.Encoding). A file in another encoding
// than UTF-8 is read only when its source declares it: encodings are never
// guessed.
const (
	// EncodingUTF8 is UTF-8, with or without a byte order mark (the
	// default).
	EncodingUTF8 = "utf-8"
	// EncodingWindows1252 is the Western European ANSI code page, what
	// Excel on Windows writes as "CSV (Comma delimited)".
	EncodingWindows1252 = "windows-1252"
	// EncodingISO88591 is ISO-8859-1 (latin-1).
	EncodingISO88591 = "iso-8859-1"
	// EncodingUTF16 is UTF-16 whose byte order mark gives the byte order;
	// a file without one is refused. Excel's "Unicode Text" is UTF-16LE
	// with a byte order mark, tab-delimited.
	EncodingUTF16 = "utf-16"
	// EncodingUTF16LE is little-endian UTF-16; a byte order mark, if any,
	// must say little-endian.
	EncodingUTF16LE = "utf-16le"
	// EncodingUTF16BE is big-endian UTF-16; a byte order mark, if any,
	// must say big-endian.
	EncodingUTF16BE = "utf-16be"
)

// encodingAliases maps other common names of the encodings (lower case)
// to the canonical ones.
var encodingAliases = map[string]string{
	"utf8":        EncodingUTF8,
	"cp1252":      EncodingWindows1252,
	"windows1252": EncodingWindows1252,
	"latin1":      EncodingISO88591,
	"latin-1":     EncodingISO88591,
	"iso8859-1":   EncodingISO88591,
	"iso_8859-1":  EncodingISO88591,
	"utf16":       EncodingUTF16,
	"utf16le":     EncodingUTF16LE,
	"utf16be":     EncodingUTF16BE,
}

var (
	mappingEncodings  = []string{EncodingUTF8, EncodingWindows1252, EncodingISO88591, EncodingUTF16, EncodingUTF16LE, EncodingUTF16BE}
	mappingUnmapped   = []string{UnmappedDocument, UnmappedSkip, UnmappedReject}
	mappingRowErrors  = []string{OnRowErrorSkip, OnRowErrorReject}
	mappingFormats    = []string{FormatCSV, FormatXLSX}
	mappingTypes      = []string{TypeString, TypeInt, TypeFloat, TypeBool, TypeDate, TypeDateTime}
	mappingNormalizes = []string{NormTrim, NormCollapse, NormLower, KeyLowerCollapse, KeyUpper, KeyUpperCode, KeyExact}
)

// Mapping is the structured-data mapping: which files are tables, their
// columns with types, and the nodes and relationships each row gives. A
// loaded Mapping is validated and must not be modified; it is safe for
// concurrent use.
type Mapping struct {
	// Unmapped says what happens to a CSV or XLSX file no source names:
	// UnmappedDocument (default), UnmappedSkip or UnmappedReject.
	Unmapped string `yaml:"unmapped"`
	// OnRowError is the default row policy: OnRowErrorSkip (default) or
	// OnRowErrorReject.
	OnRowError string `yaml:"on_row_error"`
	// Sources are the tables, tried in order by Match.
	Sources []Source `yaml:"sources"`
}

// Source maps the files that match Files to one table.
type Source struct {
	// Name identifies the source (unique); it travels in event.Records.
	Name string `yaml:"name"`
	// Files are paths relative to the watched root (forward slashes), each
	// an exact path or a glob (path.Match syntax, plus "**" for any number
	// of directories). A pattern without "/" also matches the base name.
	Files []string `yaml:"files"`
	// Format is FormatCSV or FormatXLSX.
	Format string `yaml:"format"`
	// Sheet names the XLSX worksheet; empty means the first visible one.
	Sheet string `yaml:"sheet,omitempty"`
	// HeaderRow is the 1-based number of the header row: the physical
	// line of a CSV file (as a text editor numbers lines, so a quoted
	// value spanning lines counts each of them), the row of an XLSX sheet.
	// The rows above it (a title block) are ignored, whatever their
	// content and number of fields, and the header must be exactly that
	// row. Nil means the default: a CSV file's first line, an XLSX sheet's
	// first row with content. Not for a CSV source without a header.
	HeaderRow *int `yaml:"header_row,omitempty"`
	// CSV holds the CSV dialect.
	CSV CSVOptions `yaml:"csv,omitempty"`
	// Columns are the columns the mapping reads, found by header name
	// (trimmed, case-insensitive, runs of white space as one space); other
	// columns are ignored.
	Columns []Column `yaml:"columns"`
	// Nodes each row gives.
	Nodes []NodeMap `yaml:"nodes,omitempty"`
	// Relationships each row gives.
	Relationships []RelationshipMap `yaml:"relationships,omitempty"`
	// OnRowError overrides Mapping.OnRowError for this source.
	OnRowError string `yaml:"on_row_error,omitempty"`
}

// CSVOptions is a CSV dialect. Zero values mean the defaults.
type CSVOptions struct {
	// Delimiter is one ASCII character; default ",".
	Delimiter string `yaml:"delimiter,omitempty"`
	// Quote is one ASCII character; default `"`.
	Quote string `yaml:"quote,omitempty"`
	// Escape is the character that escapes a quote inside a quoted field;
	// default: the quote itself (a doubled quote).
	Escape string `yaml:"escape,omitempty"`
	// Header says whether a header line names the columns (default true):
	// the first line, or the one Source.HeaderRow names. Without a header,
	// Columns are the file's columns in order.
	Header *bool `yaml:"header,omitempty"`
	// Encoding is the files' text encoding, one of the Encoding constants
	// (common aliases such as cp1252 and latin1 are accepted and
	// normalised); default EncodingUTF8.
	Encoding string `yaml:"encoding,omitempty"`
}

// Column declares one column the mapping reads.
type Column struct {
	// Name is the header text.
	Name string `yaml:"name"`
	// Type is one of the Type constants; default TypeString.
	Type string `yaml:"type,omitempty"`
	// Required columns must be present in the header; a file without them
	// is rejected. Cells may still be empty.
	Required bool `yaml:"required,omitempty"`
	// Format is the format of the text of a date or datetime column, in
	// the tokens of ParseDateFormat ("DD/MM/YYYY"); text must then match
	// it. Empty means ISO 8601 text. Date and number cells of a workbook
	// are read as the dates they are whatever it says.
	Format string `yaml:"format,omitempty"`
	// Locale is the language of the month and weekday names (MMMM, MMM,
	// dddd, ddd) of Format, one of DateLocales; empty is en, English. It
	// needs a Format with such a name. See ParseLocalDateFormat.
	Locale string `yaml:"locale,omitempty"`
	// Decimal is the decimal separator of the text of an int or float
	// column: "." (the default, also for "") or ",".
	Decimal string `yaml:"decimal,omitempty"`
	// Thousands is the separator of the digit groups of the text of an int
	// or float column: ",", ".", " " (also a no-break space) or "'"; empty
	// means none. A number may omit it, but where it is used every group
	// after the first must have three digits, the first one to three.
	// Number cells of a workbook are read as the numbers they are whatever
	// Decimal and Thousands say.
	Thousands string `yaml:"thousands,omitempty"`
}

// HasTextFormat reports whether the column reads text with a format: a
// date layout or number separators other than the default.
func (c Column) HasTextFormat() bool {
	return c.NumberText() || c.Format != "" && (c.Type == TypeDate || c.Type == TypeDateTime)
}

// NumberText reports whether the column reads the text of numbers with
// separators other than the default (a "." decimal point, no thousands
// separator).
func (c Column) NumberText() bool {
	return (c.Type == TypeInt || c.Type == TypeFloat) && (c.Decimal == "," || c.Thousands != "")
}

// NodeMap makes one node per row.
type NodeMap struct {
	// Label is the node label.
	Label string `yaml:"label"`
	// Key is the column holding the key; it must be declared and required.
	// A row whose key is empty is a row error.
	Key string `yaml:"key"`
	// Normalize is the key normalisation; default KeyExact after trimming.
	Normalize string `yaml:"normalize,omitempty"`
	// Properties the node gets; an empty value sets nothing.
	Properties PropertyList `yaml:"properties,omitempty"`
}

// Endpoint names a relationship end by label and the column holding its
// key. Normalize defaults to the key normalisation of the node mapping that
// makes the label.
type Endpoint struct {
	Label     string `yaml:"label"`
	Key       string `yaml:"key"`
	Normalize string `yaml:"normalize,omitempty"`
}

// RelationshipMap makes one relationship per row. A row where either end's
// key is empty gives no relationship (it is not a row error).
type RelationshipMap struct {
	Type       string       `yaml:"type"`
	From       Endpoint     `yaml:"from"`
	To         Endpoint     `yaml:"to"`
	Properties PropertyList `yaml:"properties,omitempty"`
}

// Property maps one column to one property.
type Property struct {
	// Name of the property.
	Name string
	// Column it is read from.
	Column string
	// Normalize applies to text values; default NormTrim.
	Normalize string
}

// PropertyList is written in YAML as a list of column names (each becomes
// the property of the same name) or as a map from property name to a column
// name or to {column, normalize}.
type PropertyList []Property

// UnmarshalYAML decodes either form strictly (unknown keys are errors).
func (l *PropertyList) UnmarshalYAML(n *yaml.Node) error {
	var out PropertyList
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: property list entries must be column names", c.Line)
			}
			out = append(out, Property{Name: c.Value, Column: c.Value})
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: property names must be strings", k.Line)
			}
			p := Property{Name: k.Value}
			switch v.Kind {
			case yaml.ScalarNode:
				p.Column = v.Value
			case yaml.MappingNode:
				for j := 0; j+1 < len(v.Content); j += 2 {
					fk, fv := v.Content[j], v.Content[j+1]
					if fv.Kind != yaml.ScalarNode {
						return fmt.Errorf("line %d: property %q: %s must be a string", fv.Line, k.Value, fk.Value)
					}
					switch fk.Value {
					case "column":
						p.Column = fv.Value
					case "normalize":
						p.Normalize = fv.Value
					default:
						return fmt.Errorf("line %d: property %q: field %s not found (want column, normalize)", fk.Line, k.Value, fk.Value)
					}
				}
			default:
				return fmt.Errorf("line %d: property %q must be a column name or {column, normalize}", v.Line, k.Value)
			}
			out = append(out, p)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		return fmt.Errorf("line %d: properties must be a list of columns or a map", n.Line)
	default:
		return fmt.Errorf("line %d: properties must be a list of columns or a map", n.Line)
	}
	*l = out
	return nil
}

// MarshalYAML writes the map form.
func (l PropertyList) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, p := range l {
		v := &yaml.Node{Kind: yaml.ScalarNode, Value: p.Column}
		if p.Normalize != "" {
			v = &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Value: "column"}, {Kind: yaml.ScalarNode, Value: p.Column},
				{Kind: yaml.ScalarNode, Value: "normalize"}, {Kind: yaml.ScalarNode, Value: p.Normalize},
			}}
		}
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: p.Name}, v)
	}
	return n, nil
}

// LoadMapping reads, strictly decodes and validates a structured mapping.
func LoadMapping(r io.Reader) (*Mapping, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read mapping: %w", err)
	}
	return ParseMapping(data)
}

// LoadMappingFile is LoadMapping for a file; errors name the file.
func LoadMappingFile(name string) (*Mapping, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	m, err := ParseMapping(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// ParseMapping strictly decodes (unknown fields are errors), fills the
// defaults and validates a structured mapping. Every problem is reported at
// once (errors.Join), each naming the source and the field, e.g.
// "sources[1] (teams): nodes[0].key: column \"x\" is not declared".
func ParseMapping(data []byte) (*Mapping, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Mapping
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("mapping: empty document")
		}
		return nil, fmt.Errorf("mapping: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("mapping: more than one YAML document")
	}
	m.setDefaults()
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	return &m, nil
}

func (m *Mapping) setDefaults() {
	if m.Unmapped == "" {
		m.Unmapped = UnmappedDocument
	}
	if m.OnRowError == "" {
		m.OnRowError = OnRowErrorSkip
	}
	for i := range m.Sources {
		s := &m.Sources[i]
		if s.OnRowError == "" {
			s.OnRowError = m.OnRowError
		}
		for j := range s.Columns {
			if s.Columns[j].Type == "" {
				s.Columns[j].Type = TypeString
			}
		}
		if s.Format == FormatCSV {
			if s.CSV.Delimiter == "" {
				s.CSV.Delimiter = ","
			}
			if s.CSV.Quote == "" {
				s.CSV.Quote = `"`
			}
			if s.CSV.Escape == "" {
				s.CSV.Escape = s.CSV.Quote
			}
			if s.CSV.Header == nil {
				t := true
				s.CSV.Header = &t
			}
			s.CSV.Encoding = canonicalEncoding(s.CSV.Encoding)
		}
		for j := range s.Nodes {
			n := &s.Nodes[j]
			if n.Normalize == "" {
				n.Normalize = NormTrim
			}
			defaultNormalize(n.Properties)
		}
		for j := range s.Relationships {
			defaultNormalize(s.Relationships[j].Properties)
		}
	}
	// Relationship ends take the key normalisation of the node mapping
	// that makes their label, so both sides of an edge agree on keys.
	norms := m.keyNormalizations()
	for i := range m.Sources {
		for j := range m.Sources[i].Relationships {
			r := &m.Sources[i].Relationships[j]
			for _, e := range []*Endpoint{&r.From, &r.To} {
				if e.Normalize == "" {
					if k, ok := norms[e.Label]; ok {
						e.Normalize = k
					} else {
						e.Normalize = NormTrim
					}
				}
			}
		}
	}
}

func defaultNormalize(props PropertyList) {
	for k := range props {
		if props[k].Normalize == "" {
			props[k].Normalize = NormTrim
		}
	}
}

// keyNormalizations maps each label made by a node mapping to the key
// normalisation of its first node mapping.
func (m *Mapping) keyNormalizations() map[string]string {
	out := map[string]string{}
	for _, s := range m.Sources {
		for _, n := range s.Nodes {
			if _, ok := out[n.Label]; !ok && n.Label != "" {
				out[n.Label] = n.Normalize
			}
		}
	}
	return out
}

func (m *Mapping) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !slices.Contains(mappingUnmapped, m.Unmapped) {
		add("unmapped: %q is not one of %s", m.Unmapped, strings.Join(mappingUnmapped, ", "))
	}
	if !slices.Contains(mappingRowErrors, m.OnRowError) {
		add("on_row_error: %q is not one of %s", m.OnRowError, strings.Join(mappingRowErrors, ", "))
	}
	if len(m.Sources) == 0 {
		add("sources: at least one source is required")
	}
	// Labels any source makes, with the key normalisation of each maker.
	made := map[string]string{}
	names := map[string]int{}
	files := map[string]string{}
	for i, s := range m.Sources {
		where := fmt.Sprintf("sources[%d]", i)
		if s.Name != "" {
			where = fmt.Sprintf("sources[%d] (%s)", i, s.Name)
		}
		for _, n := range s.Nodes {
			if n.Label == "" {
				continue
			}
			if prev, ok := made[n.Label]; ok && prev != n.Normalize {
				add("%s: nodes label %s: key normalize %q differs from %q used by another node mapping of %s", where, n.Label, n.Normalize, prev, n.Label)
				continue
			}
			made[n.Label] = n.Normalize
		}
		if s.Name == "" {
			add("%s: name: required", where)
		} else if j, dup := names[s.Name]; dup {
			add("%s: name: duplicate of sources[%d]", where, j)
		} else {
			names[s.Name] = i
		}
		if len(s.Files) == 0 {
			add("%s: files: at least one path or glob is required", where)
		}
		for j, f := range s.Files {
			if err := validateGlob(f); err != nil {
				add("%s: files[%d] %q: %v", where, j, f, err)
				continue
			}
			if other, dup := files[f]; dup {
				add("%s: files[%d] %q: already named by source %s", where, j, f, other)
			}
			files[f] = s.Name
		}
		if !slices.Contains(mappingRowErrors, s.OnRowError) {
			add("%s: on_row_error: %q is not one of %s", where, s.OnRowError, strings.Join(mappingRowErrors, ", "))
		}
		errs = append(errs, s.validateFormat(where)...)
		cols := map[string]Column{}
		for j, c := range s.Columns {
			switch key := strings.ToLower(strings.TrimSpace(c.Name)); {
			case key == "":
				add("%s: columns[%d].name: required", where, j)
			case cols[key].Name != "":
				add("%s: columns[%d].name %q: duplicate column", where, j, c.Name)
			default:
				cols[key] = c
			}
			if !slices.Contains(mappingTypes, c.Type) {
				add("%s: columns[%d] (%s).type: %q is not one of %s", where, j, c.Name, c.Type, strings.Join(mappingTypes, ", "))
				continue
			}
			errs = append(errs, validateColumnFormat(fmt.Sprintf("%s: columns[%d] (%s)", where, j, c.Name), c)...)
		}
		if len(s.Columns) == 0 {
			add("%s: columns: at least one column is required", where)
		}
		if len(s.Nodes) == 0 && len(s.Relationships) == 0 {
			add("%s: nodes, relationships: a source must make at least one node or relationship", where)
		}
		keyCol := func(field, col string) {
			c, ok := cols[strings.ToLower(strings.TrimSpace(col))]
			switch {
			case col == "":
				add("%s: %s: required", where, field)
			case !ok:
				add("%s: %s: column %q is not declared in columns", where, field, col)
			case !c.Required:
				add("%s: %s: key column %q must be required: true", where, field, col)
			}
		}
		props := func(field string, pl PropertyList) {
			seen := map[string]bool{}
			for k, p := range pl {
				pf := fmt.Sprintf("%s.properties[%d]", field, k)
				switch {
				case p.Name == "":
					add("%s: %s: property name required", where, pf)
				case !labelRE.MatchString(p.Name):
					add("%s: %s: property name %q must be letters, digits and _", where, pf, p.Name)
				case seen[p.Name]:
					add("%s: %s: duplicate property %q", where, pf, p.Name)
				}
				seen[p.Name] = true
				if _, ok := cols[strings.ToLower(strings.TrimSpace(p.Column))]; !ok {
					add("%s: %s (%s): column %q is not declared in columns", where, pf, p.Name, p.Column)
				}
				if !slices.Contains(mappingNormalizes, p.Normalize) {
					add("%s: %s (%s).normalize: %q is not one of %s", where, pf, p.Name, p.Normalize, strings.Join(mappingNormalizes, ", "))
				}
			}
		}
		for j, n := range s.Nodes {
			field := fmt.Sprintf("nodes[%d]", j)
			if n.Label == "" {
				add("%s: %s.label: required", where, field)
			} else if !labelRE.MatchString(n.Label) {
				add("%s: %s.label %q: must start with a letter and hold only letters, digits and _", where, field, n.Label)
			}
			keyCol(field+".key", n.Key)
			if !slices.Contains(mappingNormalizes, n.Normalize) {
				add("%s: %s.normalize: %q is not one of %s", where, field, n.Normalize, strings.Join(mappingNormalizes, ", "))
			}
			props(field, n.Properties)
		}
		for j, r := range s.Relationships {
			field := fmt.Sprintf("relationships[%d]", j)
			if r.Type == "" {
				add("%s: %s.type: required", where, field)
			} else if !relRE.MatchString(r.Type) {
				add("%s: %s.type %q: must be upper-case letters, digits and _", where, field, r.Type)
			}
			for _, e := range []struct {
				name string
				ep   Endpoint
			}{{"from", r.From}, {"to", r.To}} {
				ef := field + "." + e.name
				if e.ep.Label == "" {
					add("%s: %s.label: required", where, ef)
				}
				keyCol(ef+".key", e.ep.Key)
				if !slices.Contains(mappingNormalizes, e.ep.Normalize) {
					add("%s: %s.normalize: %q is not one of %s", where, ef, e.ep.Normalize, strings.Join(mappingNormalizes, ", "))
				}
			}
			props(field, r.Properties)
		}
	}
	// Relationship ends must name labels some source makes as nodes, or
	// the edge would point at nothing.
	for i, s := range m.Sources {
		for j, r := range s.Relationships {
			for _, e := range []struct {
				name  string
				label string
			}{{"from", r.From.Label}, {"to", r.To.Label}} {
				if _, ok := made[e.label]; e.label != "" && !ok {
					add("sources[%d] (%s): relationships[%d].%s.label %q: no source makes %s nodes", i, s.Name, j, e.name, e.label, e.label)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (s Source) validateFormat(where string) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !slices.Contains(mappingFormats, s.Format) {
		add("%s: format: %q is not one of %s", where, s.Format, strings.Join(mappingFormats, ", "))
		return errs
	}
	if h := s.HeaderRow; h != nil {
		switch {
		case *h < 1:
			add("%s: header_row: %d must be 1 or more (the header's row number, counted from 1)", where, *h)
		case s.Format == FormatXLSX && *h > MaxSheetRows:
			add("%s: header_row: %d is beyond the last row a worksheet can have (%d)", where, *h, MaxSheetRows)
		case !s.HasHeader():
			add("%s: header_row: only for files with a header row (csv.header is false)", where)
		}
	}
	if s.Format == FormatXLSX {
		if s.CSV != (CSVOptions{}) {
			add("%s: csv: only for format csv", where)
		}
		return errs
	}
	if s.Sheet != "" {
		add("%s: sheet: only for format xlsx", where)
	}
	for _, o := range []struct{ name, v string }{{"delimiter", s.CSV.Delimiter}, {"quote", s.CSV.Quote}, {"escape", s.CSV.Escape}} {
		if r, size := utf8.DecodeRuneInString(o.v); len(o.v) != 1 || size != 1 || r == '\n' || r == '\r' || r == 0 {
			add("%s: csv.%s: %q must be one ASCII character (not a line break)", where, o.name, o.v)
		}
	}
	if s.CSV.Delimiter == s.CSV.Quote && s.CSV.Delimiter != "" {
		add("%s: csv.delimiter and csv.quote: must differ", where)
	}
	if !slices.Contains(mappingEncodings, s.CSV.Encoding) {
		add("%s: csv.encoding: %q is not one of %s", where, s.CSV.Encoding, strings.Join(mappingEncodings, ", "))
	}
	return errs
}

// canonicalEncoding returns the canonical name of a known encoding name or
// alias (any case), EncodingUTF8 for "", and anything else unchanged, for
// validation to report.
func canonicalEncoding(name string) string {
	if name == "" {
		return EncodingUTF8
	}
	n := strings.ToLower(strings.TrimSpace(name))
	if slices.Contains(mappingEncodings, n) {
		return n
	}
	if c, ok := encodingAliases[n]; ok {
		return c
	}
	return name
}

// validateGlob checks a files entry: relative, forward slashes, a valid
// pattern.
func validateGlob(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case strings.HasPrefix(p, "/"):
		return errors.New("must be relative to the watched folder")
	case strings.Contains(p, `\`):
		return errors.New(`use forward slashes (and no \ escapes)`)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("segment %q not allowed", seg)
		}
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return errors.New(`"**" must be a whole path segment`)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("bad glob: %w", err)
		}
	}
	return nil
}

// Match returns the first source whose Files name relPath (relative to the
// watched root, forward slashes). A pattern without "/" matches the base
// name too, so "teams.csv" or "*.csv" match in any folder.
func (m *Mapping) Match(relPath string) (*Source, bool) {
	base := path.Base(relPath)
	for i := range m.Sources {
		for _, p := range m.Sources[i].Files {
			if matchGlob(p, relPath) || (!strings.Contains(p, "/") && matchGlob(p, base)) {
				return &m.Sources[i], true
			}
		}
	}
	return nil, false
}

// matchGlob matches name against a pattern of path.Match segments where a
// "**" segment matches any number (also zero) of segments.
func matchGlob(pattern, name string) bool {
	return matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for i := range name {
				if matchSegments(pat, name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// Source returns the source called name.
func (m *Mapping) Source(name string) (*Source, bool) {
	for i := range m.Sources {
		if m.Sources[i].Name == name {
			return &m.Sources[i], true
		}
	}
	return nil, false
}

// Column returns the declared column called name (trimmed,
// case-insensitive).
func (s *Source) Column(name string) (Column, bool) {
	name = strings.TrimSpace(name)
	for _, c := range s.Columns {
		if strings.EqualFold(strings.TrimSpace(c.Name), name) {
			return c, true
		}
	}
	return Column{}, false
}

// HasHeader reports whether the source's files have a header row (always
// for XLSX).
func (s *Source) HasHeader() bool {
	return s.Format == FormatXLSX || s.CSV.Header == nil || *s.CSV.Header
}

// CheckAgainst reports labels and relationship types the mapping uses that
// the extraction schema x does not declare, and node key normalisations
// that differ from the schema's, so that text mentions and structured rows
// agree on keys.
func (m *Mapping) CheckAgainst(x *Extraction) error {
	var errs []error
	for i, s := range m.Sources {
		for j, n := range s.Nodes {
			e, ok := x.Entity(n.Label)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("sources[%d] (%s): nodes[%d].label %q: not an entity type of the extraction schema", i, s.Name, j, n.Label))
			case n.Normalize != e.Key:
				errs = append(errs, fmt.Errorf("sources[%d] (%s): nodes[%d].normalize %q: the extraction schema normalises %s keys with %q", i, s.Name, j, n.Normalize, n.Label, e.Key))
			}
		}
		for j, r := range s.Relationships {
			rt, ok := x.Relationship(r.Type)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("sources[%d] (%s): relationships[%d].type %q: not a relationship type of the extraction schema", i, s.Name, j, r.Type))
			case rt.From != r.From.Label || rt.To != r.To.Label:
				errs = append(errs, fmt.Errorf("sources[%d] (%s): relationships[%d] %s: goes %s->%s, the extraction schema says %s->%s", i, s.Name, j, r.Type, r.From.Label, r.To.Label, rt.From, rt.To))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("mapping: %w", errors.Join(errs...))
	}
	return nil
}

// NormalizeValue applies a mapping normalisation (NormTrim, NormCollapse,
// NormLower or a key normalisation) to s.
func NormalizeValue(kind, s string) string {
	switch kind {
	case NormTrim:
		return strings.TrimSpace(s)
	case NormCollapse:
		return collapse(s)
	case NormLower:
		return strings.ToLower(strings.TrimSpace(s))
	case KeyExact:
		return s
	}
	return NormalizeKey(kind, s)
}
