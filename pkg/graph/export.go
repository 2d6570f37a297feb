package graph

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonNode and jsonRel are the shapes WriteJSON writes.
type (
	jsonNode struct {
		Label      string         `json:"label"`
		Key        string         `json:"key"`
		Properties map[string]any `json:"properties"`
	}
	jsonRel struct {
		Type       string         `json:"type"`
		From       NodeRef        `json:"from"`
		To         NodeRef        `json:"to"`
		Properties map[string]any `json:"properties"`
	}
)

// WriteJSON streams the whole graph of s to w as
//
//	{"nodes":[{"label":…,"key":…,"properties":{…}},…],
//	 "relationships":[{"type":…,"from":{"label":…,"key":…},"to":{…},"properties":{…}},…]}
//
// with one node or relationship per line, in Export order and with sorted
// property names, so that the same graph always gives the same bytes.
func WriteJSON(ctx context.Context, s Store, w io.Writer) error {
	bw := bufio.NewWriter(w)
	var line strings.Builder
	enc := json.NewEncoder(&line)
	enc.SetEscapeHTML(false)
	first := true
	write := func(v any) error {
		line.Reset()
		if !first {
			line.WriteString(",\n")
		}
		first = false
		if err := enc.Encode(v); err != nil {
			return err
		}
		// Encode ends with a newline; the separator adds it back.
		_, err := bw.WriteString(strings.TrimSuffix(line.String(), "\n"))
		return err
	}
	if _, err := bw.WriteString(`{"nodes":[` + "\n"); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	inRels := false
	err := s.Export(ctx, func(n Node) error {
		return write(jsonNode{Label: n.Label, Key: n.Key, Properties: nonNilProps(n.Properties)})
	}, func(r Relationship) error {
		if !inRels {
			inRels, first = true, true
			if _, err := bw.WriteString("\n],\"relationships\":[\n"); err != nil {
				return err
			}
		}
		return write(jsonRel{Type: r.Type, From: r.From, To: r.To, Properties: nonNilProps(r.Properties)})
	})
	if err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	tail := "\n]}\n"
	if !inRels {
		tail = "\n],\"relationships\":[\n]}\n"
	}
	if _, err := bw.WriteString(tail); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

func nonNilProps(p map[string]any) map[string]any {
	if p == nil {
		return map[string]any{}
	}
	return p
}

// cypherBatch is the number of rows per UNWIND statement.
const cypherBatch = 500

// WriteCypher streams a Cypher script to w that loads the graph of s into
// Neo4j: a uniqueness constraint on key per label, then the nodes and the
// relationships as UNWIND … MERGE statements over literal maps, at most
// cypherBatch rows each. Running it twice changes nothing. Every name and
// value is quoted, so data can never become Cypher.
func WriteCypher(ctx context.Context, s Store, w io.Writer) error {
	stats, err := s.Stats(ctx)
	if err != nil {
		return fmt.Errorf("write cypher: %w", err)
	}
	cw := &cypherWriter{w: bufio.NewWriter(w)}
	var nodes, rels int64
	for _, n := range stats.Nodes {
		nodes += n
	}
	for _, n := range stats.Relationships {
		rels += n
	}
	cw.printf("// docgraph graph export: %d nodes, %d relationships\n", nodes, rels)
	labels := make([]string, 0, len(stats.Nodes))
	for l := range stats.Nodes {
		labels = append(labels, l)
	}
	slices.Sort(labels)
	for _, l := range labels {
		cw.printf("CREATE CONSTRAINT IF NOT EXISTS FOR (n:%s) REQUIRE n.key IS UNIQUE;\n", quoteName(l))
	}
	err = s.Export(ctx, cw.node, cw.rel)
	if err == nil {
		cw.end()
		err = cw.err
	}
	if err == nil {
		err = cw.w.Flush()
	}
	if err != nil {
		return fmt.Errorf("write cypher: %w", err)
	}
	return nil
}

// cypherWriter groups consecutive rows with the same statement header.
type cypherWriter struct {
	w      *bufio.Writer
	err    error
	header string // the statement the pending rows belong to
	footer string
	rows   int
}

func (c *cypherWriter) printf(format string, args ...any) {
	if c.err == nil {
		_, c.err = fmt.Fprintf(c.w, format, args...)
	}
}

func (c *cypherWriter) row(header, footer, literal string) error {
	if header != c.header || c.rows == cypherBatch {
		c.end()
		c.header, c.footer = header, footer
		c.printf("UNWIND [\n  %s", literal)
	} else {
		c.printf(",\n  %s", literal)
	}
	c.rows++
	return c.err
}

func (c *cypherWriter) end() {
	if c.rows > 0 {
		c.printf("\n] AS row\n%s;\n", c.footer)
	}
	c.rows = 0
}

func (c *cypherWriter) node(n Node) error {
	props, err := cypherMap(n.Properties)
	if err != nil {
		return fmt.Errorf("node %s %q: %w", n.Label, n.Key, err)
	}
	label := quoteName(n.Label)
	return c.row("node "+label, "MERGE (n:"+label+" {key: row.key}) SET n += row.props",
		"{key: "+cypherString(n.Key)+", props: "+props+"}")
}

func (c *cypherWriter) rel(r Relationship) error {
	props, err := cypherMap(r.Properties)
	if err != nil {
		return fmt.Errorf("relationship %s: %w", r.Type, err)
	}
	from, to, typ := quoteName(r.From.Label), quoteName(r.To.Label), quoteName(r.Type)
	ident := ""
	if r.Source != "" {
		ident = " {source: row.source}"
	}
	footer := "MATCH (a:" + from + " {key: row.from})\nMATCH (b:" + to + " {key: row.to})\n" +
		"MERGE (a)-[r:" + typ + ident + "]->(b) SET r += row.props"
	return c.row("rel "+typ+from+to+ident, footer,
		"{from: "+cypherString(r.From.Key)+", to: "+cypherString(r.To.Key)+
			", source: "+cypherString(r.Source)+", props: "+props+"}")
}

// quoteName quotes a label, type or property name with backticks.
func quoteName(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// cypherString quotes s as a Cypher string literal.
func cypherString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == utf8.RuneError {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

func cypherMap(props map[string]any) (string, error) {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		v, err := cypherValue(props[k])
		if err != nil {
			return "", fmt.Errorf("property %q: %w", k, err)
		}
		b.WriteString(quoteName(k) + ": " + v)
	}
	b.WriteByte('}')
	return b.String(), nil
}

func cypherValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case string:
		return cypherString(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		if x == math.MinInt64 {
			return "(-9223372036854775807 - 1)", nil
		}
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%w: number %v is not finite", ErrInvalid, x)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return strings.Replace(s, "e+", "e", 1), nil
	case []any:
		items := make([]string, len(x))
		for i, it := range x {
			s, err := cypherValue(it)
			if err != nil {
				return "", err
			}
			items[i] = s
		}
		return "[" + strings.Join(items, ", ") + "]", nil
	}
	n, err := NormalizeValue(v)
	if err != nil {
		return "", err
	}
	return cypherValue(n)
}
