package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/services/parser"
)

const schemaTryHelp = `Tries the structured mapping (the shipped one, or --schemas.mapping) on files before
they are ingested, with the parser's own reading and mapping, and without NATS, a graph
or a data folder. For each file it prints the mapping source that names it (by its path
from the current folder, as a watched folder here keys it, or by its name, as
'docgraph ingest FILE' keys it), the sheet and header read and how the declared columns
matched the header, the nodes and relationships of the first --rows rows, and totals:
rows read, distinct nodes and relationships made, row errors as ingest reports them,
and whether the file would be rejected whole.

It exits 1 if a file would be rejected or no source names it, 0 if every file would
ingest (rows skipped under on_row_error: skip_row do not stop a file).`

// tryRowErrors is how many row errors of a file 'schema try' lists.
const tryRowErrors = 5

func cmdSchemaTry(ctx context.Context, e env, args []string) error {
	rows := 5
	cfg, files, err := parseFlags(e, "schema try", "[flags] FILE...", schemaTryHelp, args, func(fs *flag.FlagSet) {
		fs.IntVar(&rows, "rows", rows, "rows whose nodes and relationships are shown, per file")
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("schema try: FILE required")
	}
	if rows < 0 {
		return fmt.Errorf("schema try: --rows (%d): must not be negative", rows)
	}
	var errs []error
	for _, f := range files {
		if st, err := os.Stat(f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, describeStatErr(err)))
		} else if st.IsDir() {
			errs = append(errs, fmt.Errorf("%s: a folder: name the files to try", f))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("schema try: %w", err)
	}
	_, m, err := loadSchemas(cfg)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "docgraph-schema-try-")
	if err != nil {
		return fmt.Errorf("schema try: %w", err)
	}
	defer os.RemoveAll(tmp)
	tr := &trier{w: e.stdout, m: m, unmapped: cmp.Or(cfg.Parser.Unmapped, m.Unmapped), rows: rows}
	// One row per Records message: message i holds the table's row i.
	tr.st, err = parser.NewStructured(m, parser.StructuredConfig{
		BatchSize: 1, TempDir: tmp,
		OnTable: func(t parser.Table) { tr.table = &t },
	}, nil)
	if err != nil {
		return err
	}
	defer tr.st.Close()
	counts := map[tryOutcome]int{}
	for i, f := range files {
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		counts[tr.try(ctx, f)]++
		if err := ctx.Err(); err != nil {
			return err // interrupted: the file was not rejected
		}
	}
	fmt.Fprintf(e.stdout, "\nschema try: %d file%s: %d would ingest, %d rejected, %d named by no source\n",
		len(files), plural(len(files)), counts[tryIngests], counts[tryRejected], counts[tryUnnamed])
	if counts[tryIngests] < len(files) {
		return exitCode(1)
	}
	return nil
}

func describeStatErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("no such file")
	}
	return err
}

type tryOutcome int

const (
	tryIngests tryOutcome = iota
	tryRejected
	tryUnnamed
)

// tryKeys are the Document paths a file could have: its path from the
// current folder (a watched folder here), then its name (docgraph ingest
// FILE, or its folder watched).
func tryKeys(file string) []string {
	var keys []string
	if abs, err := filepath.Abs(file); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && filepath.IsLocal(rel) {
				keys = append(keys, filepath.ToSlash(rel))
			}
		}
	}
	if base := filepath.Base(file); !slices.Contains(keys, base) {
		keys = append(keys, base)
	}
	return keys
}

// keyRole says when a file has key as its Document path.
func keyRole(file, key string) string {
	if key == filepath.Base(file) {
		return "its name, as 'docgraph ingest FILE' keys it"
	}
	return "its path from here, as a watched folder here keys it"
}

// trier tries the mapping on files, one at a time.
type trier struct {
	w        io.Writer
	st       *parser.Structured
	m        *schema.Mapping
	unmapped string
	rows     int           // rows to show per file
	table    *parser.Table // the table of the file being parsed, once its header is read
}

// try reports on one file.
func (tr *trier) try(ctx context.Context, file string) tryOutcome {
	w := tr.w
	fmt.Fprintf(w, "%s\n", file)
	keys := tryKeys(file)
	key, src := "", (*schema.Source)(nil)
	for _, k := range keys {
		if s, ok := tr.m.Match(k); ok {
			key, src = k, s
			break
		}
	}
	if src == nil {
		fmt.Fprintf(w, "  source:  none names %s\n", quoteAll(keys))
		what, _ := parser.UnmappedOutcome(event.FormatOf(file), tr.unmapped)
		fmt.Fprintf(w, "  ingest:  %s\n", what)
		fmt.Fprintf(w, "  result:  named by no source\n")
		return tryUnnamed
	}
	fmt.Fprintf(w, "  source:  %s (%s), matching %q (%s)\n", src.Name, src.Format, key, keyRole(file, key))
	for _, k := range keys {
		if k == key {
			continue
		}
		if other, ok := tr.m.Match(k); !ok {
			fmt.Fprintf(w, "  note:    as %q (%s) no source names it\n", k, keyRole(file, k))
		} else if other != src {
			fmt.Fprintf(w, "  note:    as %q (%s) source %s names it\n", k, keyRole(file, k), other.Name)
		}
	}
	tr.table = nil
	rec := tryRecords{show: tr.rows}
	err := tr.st.Parse(ctx, event.NewDocument(key, "", 0, 1), file, rec.add)
	if tr.table != nil {
		printTable(w, tr.table)
	}
	if err != nil {
		fmt.Fprintf(w, "  result:  rejected whole: %v\n", err)
		return tryRejected
	}
	rec.print(w)
	fmt.Fprintf(w, "  result:  would ingest\n")
	return tryIngests
}

func quoteAll(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	return strings.Join(q, " or ")
}

// printTable prints the sheet, the header and how the columns matched.
func printTable(w io.Writer, t *parser.Table) {
	if t.Sheet != "" {
		fmt.Fprintf(w, "  sheet:   %s\n", t.Sheet)
	}
	where := "line"
	if t.Format == schema.FormatXLSX {
		where = "row"
	}
	if t.Header == nil {
		fmt.Fprintf(w, "  header:  none (columns by position)\n")
	} else {
		fmt.Fprintf(w, "  header:  %s %d\n", where, t.HeaderLine)
	}
	fmt.Fprintf(w, "  columns:\n")
	width := 0
	for _, c := range t.Columns.Declared {
		width = max(width, len(c.Column.Name))
	}
	for _, p := range t.Columns.Ignored {
		width = max(width, len(t.Header[p]))
	}
	for _, c := range t.Columns.Declared {
		var s string
		switch c.Status {
		case parser.ColumnMatched:
			s = "matched, column " + t.ColumnName(c.Positions[0])
			if t.Header != nil && c.Positions[0] < len(t.Header) && t.Header[c.Positions[0]] != c.Column.Name {
				s += fmt.Sprintf(" %q", t.Header[c.Positions[0]])
			}
		case parser.ColumnMissing:
			s = "MISSING (optional: read as empty)"
			if c.Column.Required {
				s = "MISSING (required)"
			}
		case parser.ColumnDuplicate:
			names := make([]string, len(c.Positions))
			for i, p := range c.Positions {
				names[i] = t.ColumnName(p)
			}
			s = "NAMED MORE THAN ONCE, columns " + strings.Join(names, ", ")
		}
		fmt.Fprintf(w, "    %-*s  %s\n", width, c.Column.Name, s)
	}
	for _, p := range t.Columns.Ignored {
		fmt.Fprintf(w, "    %-*s  ignored (not declared), column %s\n", width, t.Header[p], t.ColumnName(p))
	}
}

// tryRecords gathers the Records of one file, one row per message.
type tryRecords struct {
	show    int             // rows to keep
	shown   []event.Records // the first rows
	rows    int
	nodes   map[event.NodeRef]bool
	rels    map[tryRel]bool
	nodesBy map[string]int // distinct nodes by label
	relsBy  map[string]int // distinct relationships by type
	rowErrs []event.RowError
	nErrs   int
}

type tryRel struct {
	typ      string
	from, to event.NodeRef
}

func (r *tryRecords) add(msg pipeline.Message) error {
	var rec event.Records
	dec := json.NewDecoder(bytes.NewReader(msg.Data))
	dec.UseNumber() // numbers as written: 23778000, not 2.3778e+07
	if err := dec.Decode(&rec); err != nil {
		return fmt.Errorf("decode records: %w", err)
	}
	if len(rec.Nodes) == 0 && len(rec.Relationships) == 0 && len(rec.Rejected) == 0 {
		return nil // the final message, after the last row
	}
	r.rows++
	if len(r.shown) < r.show {
		r.shown = append(r.shown, rec)
	}
	if r.nodes == nil {
		r.nodes, r.rels, r.nodesBy, r.relsBy = map[event.NodeRef]bool{}, map[tryRel]bool{}, map[string]int{}, map[string]int{}
	}
	for _, n := range rec.Nodes {
		if ref := n.Ref(); !r.nodes[ref] {
			r.nodes[ref] = true
			r.nodesBy[n.Label]++
		}
	}
	for _, rel := range rec.Relationships {
		if id := (tryRel{rel.Type, rel.From, rel.To}); !r.rels[id] {
			r.rels[id] = true
			r.relsBy[rel.Type]++
		}
	}
	for _, e := range rec.Rejected {
		if r.nErrs++; len(r.rowErrs) < tryRowErrors {
			r.rowErrs = append(r.rowErrs, e)
		}
	}
	return nil
}

func (r *tryRecords) print(w io.Writer) {
	if len(r.shown) > 0 {
		fmt.Fprintf(w, "  rows (first %d):\n", len(r.shown))
	}
	for i, rec := range r.shown {
		fmt.Fprintf(w, "    data row %d\n", i+1)
		for _, n := range rec.Nodes {
			fmt.Fprintf(w, "      node %s %q%s\n", n.Label, n.Key, formatProps(n.Properties))
		}
		for _, rel := range rec.Relationships {
			fmt.Fprintf(w, "      rel  %s %s %q -> %s %q%s\n", rel.Type, rel.From.Label, rel.From.Key, rel.To.Label, rel.To.Key, formatProps(rel.Properties))
		}
		for _, e := range rec.Rejected {
			fmt.Fprintf(w, "      skipped: %s\n", e.String())
		}
	}
	fmt.Fprintf(w, "  totals:  %d rows read, %d nodes%s, %d relationships%s, %d row errors\n",
		r.rows, len(r.nodes), countsBy(r.nodesBy), len(r.rels), countsBy(r.relsBy), r.nErrs)
	if r.nErrs > 0 {
		fmt.Fprintf(w, "  row errors (skipped, on_row_error: skip_row):\n")
		for _, e := range r.rowErrs {
			fmt.Fprintf(w, "    %s\n", e.String())
		}
		if r.nErrs > len(r.rowErrs) {
			fmt.Fprintf(w, "    and %d more\n", r.nErrs-len(r.rowErrs))
		}
	}
}

// countsBy renders " (A 3, B 2)", sorted by name; "" for none.
func countsBy(by map[string]int) string {
	if len(by) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, by[k]))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// formatProps renders properties as " {a: "x", b: 2}", sorted by name;
// "" for none.
func formatProps(props map[string]any) string {
	if len(props) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(props)) {
		v := props[k]
		var s string
		switch x := v.(type) {
		case string:
			s = strconv.Quote(x)
		default:
			s = fmt.Sprint(x)
		}
		parts = append(parts, k+": "+s)
	}
	return " {" + strings.Join(parts, ", ") + "}"
}
