package neostore

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// partRows is the provenance part of structured data.
const partRows = "rows"

type opKind int

const (
	opPutChunk opKind = iota + 1
	opDelete
	opPutRecords
)

// plan is one validated op, its rows grouped by label or by (type, from
// label, to label) and sorted by key, so that concurrent transactions take
// their locks in the same order.
type plan struct {
	kind    opKind
	path    string
	version int64
	doc     map[string]any // Document properties (put ops)
	sha     string
	source  string // _Source key of the op's support (put ops)
	sid     int64  // support id the source gets if the op creates it
	part    string
	chunk   string // chunk key (PutChunk)
	index   int64
	total   int64 // chunks of the document version (PutChunk; 0: not known)
	text    string
	// revision is the gazetteer revision of a PutChunk's extraction, kept
	// on its source.
	revision int64
	final    bool
	nodes    []nodeGroup
	rels     []relGroup
	items    int
	opIndex  int
}

type nodeGroup struct {
	label string
	rows  []map[string]any // {key, props}
}

type relGroup struct {
	typ, from, to string
	rows          []map[string]any // {from, to, source, props}
}

// sourceKey is the _Source key of (path, sha256, part): NUL cannot occur in
// a path or a hex digest, so the key is unambiguous.
func sourceKey(path, sha, part string) string {
	return path + "\x00" + sha + "\x00" + part
}

func invalid(i int, format string, args ...any) error {
	return fmt.Errorf("%w: op %d: %s", graph.ErrInvalid, i, fmt.Sprintf(format, args...))
}

// plan validates every op before anything is written: one bad op refuses
// the whole Apply call.
func (s *Store) plan(ops []graph.Op) ([]plan, error) {
	plans := make([]plan, 0, len(ops))
	for i, op := range ops {
		n := 0
		for _, set := range []bool{op.PutChunk != nil, op.DeleteDocument != nil, op.PutRecords != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return nil, invalid(i, "exactly one of PutChunk, DeleteDocument and PutRecords must be set, got %d", n)
		}
		var (
			p   plan
			err error
		)
		switch {
		case op.PutChunk != nil:
			p, err = s.planChunk(i, op.PutChunk)
		case op.DeleteDocument != nil:
			p, err = planDelete(i, op.DeleteDocument)
		default:
			p, err = s.planRecords(i, op.PutRecords)
		}
		if err != nil {
			return nil, err
		}
		p.opIndex = i
		plans = append(plans, p)
	}
	return plans, nil
}

func version(i int, v uint64) (int64, error) {
	if v > math.MaxInt64 {
		return 0, invalid(i, "version %d overflows int64", v)
	}
	return int64(v), nil
}

func planDocument(i int, d event.Document) (plan, error) {
	if d.Path == "" {
		return plan{}, invalid(i, "empty document path")
	}
	if d.SHA256 == "" {
		return plan{}, invalid(i, "document %q: empty sha256", d.Path)
	}
	if strings.ContainsRune(d.Path, 0) || strings.ContainsRune(d.SHA256, 0) {
		return plan{}, invalid(i, "document %q: NUL in path or sha256", d.Path)
	}
	v, err := version(i, d.Version)
	if err != nil {
		return plan{}, err
	}
	return plan{
		path: d.Path, sha: d.SHA256, version: v,
		doc: map[string]any{"path": d.Path, "name": d.Name, "format": d.Format, "sha256": d.SHA256, "size": d.Size},
	}, nil
}

func planDelete(i int, d *event.DocumentDeleted) (plan, error) {
	if d.Path == "" {
		return plan{}, invalid(i, "empty document path")
	}
	v, err := version(i, d.Version)
	if err != nil {
		return plan{}, err
	}
	return plan{kind: opDelete, path: d.Path, version: v}, nil
}

func (s *Store) planChunk(i int, x *event.Extraction) (plan, error) {
	p, err := planDocument(i, x.Chunk.Document)
	if err != nil {
		return plan{}, err
	}
	if x.Chunk.Index < 0 {
		return plan{}, invalid(i, "document %q: negative chunk index %d", p.path, x.Chunk.Index)
	}
	p.kind = opPutChunk
	p.revision = int64(min(x.GazetteerRevision, math.MaxInt64))
	p.index = int64(x.Chunk.Index)
	p.total = int64(max(x.Chunk.Total, 0))
	p.text = x.Chunk.Text
	p.chunk = event.ChunkKey(p.sha, x.Chunk.Index)
	p.part = strconv.Itoa(x.Chunk.Index)
	p.source = sourceKey(p.path, p.sha, p.part)
	p.sid = newSID()
	if p.nodes, err = s.planNodes(i, x.Mentions); err != nil {
		return plan{}, err
	}
	if p.rels, err = s.planRels(i, x.Relationships, event.SourceText); err != nil {
		return plan{}, err
	}
	p.items = len(x.Mentions) + len(x.Relationships) + 1
	return p, nil
}

func (s *Store) planRecords(i int, r *event.Records) (plan, error) {
	p, err := planDocument(i, r.Source)
	if err != nil {
		return plan{}, err
	}
	p.kind = opPutRecords
	p.final = r.Final
	p.part = partRows
	p.source = sourceKey(p.path, p.sha, p.part)
	p.sid = newSID()
	if p.nodes, err = s.planNodes(i, r.Nodes); err != nil {
		return plan{}, err
	}
	if p.rels, err = s.planRels(i, r.Relationships, event.SourceStructured); err != nil {
		return plan{}, err
	}
	p.items = len(r.Nodes) + len(r.Relationships)
	return p, nil
}

// label returns the configured label equal to l: only schema strings ever
// reach Cypher text.
func (s *Store) label(i int, l string) (string, error) {
	if k, ok := slices.BinarySearch(s.labels, l); ok {
		return s.labels[k], nil
	}
	return "", invalid(i, "label %q is not in the schema", l)
}

func (s *Store) relType(i int, t string) (string, error) {
	if k, ok := slices.BinarySearch(s.relTypes, t); ok {
		return s.relTypes[k], nil
	}
	return "", invalid(i, "relationship type %q is not in the schema", t)
}

// newSID returns a random support id for a new source. Ids only need to
// differ between the sources supporting one relationship; 63 random bits
// make a collision among even millions of sources negligible.
func newSID() int64 { return rand.Int64() }

// props returns in normalised for Neo4j; what names the node or
// relationship in errors (formatted only then: planning runs for every row).
func props(i int, what func() string, in map[string]any, reserved ...string) (map[string]any, error) {
	for _, r := range reserved {
		if _, ok := in[r]; ok {
			return nil, invalid(i, "%s: property %q is reserved", what(), r)
		}
	}
	if graph.Canonical(in) {
		// Only read from here on (merged rows get new maps): no copy.
		if in == nil {
			in = map[string]any{}
		}
		return in, nil
	}
	out, err := graph.NormalizeProperties(in)
	if err != nil {
		return nil, fmt.Errorf("op %d: %s: %w", i, what(), err)
	}
	if out == nil {
		out = map[string]any{}
	}
	return out, nil
}

func (s *Store) planNodes(i int, nodes []graph.Node) ([]nodeGroup, error) {
	byLabel := map[string][]map[string]any{}
	for _, n := range nodes {
		l, err := s.label(i, n.Label)
		if err != nil {
			return nil, err
		}
		if p := graph.KeyProblem(n.Key); p != "" {
			return nil, invalid(i, "%s node with %s", n.Label, p)
		}
		pr, err := props(i, func() string { return fmt.Sprintf("%s %q", n.Label, n.Key) }, n.Properties, "key")
		if err != nil {
			return nil, err
		}
		byLabel[l] = append(byLabel[l], map[string]any{"key": n.Key, "props": pr})
	}
	groups := make([]nodeGroup, 0, len(byLabel))
	for l, rows := range byLabel {
		// Stable: two rows for one key apply their properties in op order.
		sortRows(rows, compareNodeRows)
		groups = append(groups, nodeGroup{label: l, rows: rows})
	}
	slices.SortFunc(groups, func(a, b nodeGroup) int { return cmp.Compare(a.label, b.label) })
	return groups, nil
}

func (s *Store) planRels(i int, rels []graph.Relationship, defaultSource string) ([]relGroup, error) {
	type groupKey struct{ typ, from, to string }
	byGroup := map[groupKey][]map[string]any{}
	for _, r := range rels {
		t, err := s.relType(i, r.Type)
		if err != nil {
			return nil, err
		}
		from, err := s.label(i, r.From.Label)
		if err != nil {
			return nil, fmt.Errorf("%s from: %w", r.Type, err)
		}
		to, err := s.label(i, r.To.Label)
		if err != nil {
			return nil, fmt.Errorf("%s to: %w", r.Type, err)
		}
		if p := cmp.Or(graph.KeyProblem(r.From.Key), graph.KeyProblem(r.To.Key)); p != "" {
			return nil, invalid(i, "%s relationship: endpoint with %s", r.Type, p)
		}
		src := cmp.Or(r.Source, defaultSource)
		what := func() string {
			return fmt.Sprintf("%s %s %q -> %s %q", r.Type, r.From.Label, r.From.Key, r.To.Label, r.To.Key)
		}
		pr, err := props(i, what, r.Properties, "source", propSupport, propGiven)
		if err != nil {
			return nil, err
		}
		// given: the properties as kept for regive.
		var given any
		if len(pr) > 0 {
			if given, err = graph.EncodeProperties(pr); err != nil {
				return nil, invalid(i, "%s: %v", what(), err)
			}
		}
		k := groupKey{t, from, to}
		byGroup[k] = append(byGroup[k], map[string]any{"from": r.From.Key, "to": r.To.Key, "source": src, "props": pr, "given": given})
	}
	groups := make([]relGroup, 0, len(byGroup))
	for k, rows := range byGroup {
		sortRows(rows, compareRelRows)
		groups = append(groups, relGroup{typ: k.typ, from: k.from, to: k.to, rows: rows})
	}
	slices.SortFunc(groups, func(a, b relGroup) int {
		return cmp.Or(cmp.Compare(a.typ, b.typ), cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to))
	})
	return groups, nil
}

// sortRows sorts rows stably by compare. Rows already in order (runs of
// one file's batches often are) are only checked.
func sortRows(rows []map[string]any, compare func(a, b map[string]any) int) {
	if !slices.IsSortedFunc(rows, compare) {
		slices.SortStableFunc(rows, compare)
	}
}

// compareNodeRows orders node rows by key.
func compareNodeRows(a, b map[string]any) int {
	return cmp.Compare(a["key"].(string), b["key"].(string))
}

// compareRelRows orders relationship rows by start key, end key and source.
func compareRelRows(a, b map[string]any) int {
	return cmp.Or(cmp.Compare(a["from"].(string), b["from"].(string)),
		cmp.Compare(a["to"].(string), b["to"].(string)),
		cmp.Compare(a["source"].(string), b["source"].(string)))
}
