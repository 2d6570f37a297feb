package duckstore

import (
	"fmt"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph"
)

// nodeID and relID are the identities of nodes and relationships;
// structural relationships have an empty source.
type (
	nodeID struct{ label, key string }
	relID  struct{ typ, fromLabel, fromKey, toLabel, toKey, source string }
)

type nodeWrite struct {
	id    nodeID
	props map[string]any // canonical; nil values remove
}

type relWrite struct {
	id    relID
	props map[string]any
}

// op is a validated graph.Op with canonical property values.
type op struct {
	kind int
	doc  event.Document // PutChunk, PutRecords: the document; DeleteDocument: path and version
	// PutChunk
	index    int
	total    int // chunks of the document version (0: not known)
	text     string
	mentions []nodeWrite
	revision uint64 // gazetteer revision of the extraction
	// PutRecords
	final bool
	nodes []nodeWrite
	// PutChunk, PutRecords
	rels []relWrite
}

const (
	opChunk = iota + 1
	opDelete
	opRecords
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{graph.ErrInvalid}, args...)...)
}

// validate checks o against the schema and returns it in canonical form.
func (s *Store) validate(o graph.Op) (op, error) {
	set := 0
	for _, b := range []bool{o.PutChunk != nil, o.DeleteDocument != nil, o.PutRecords != nil} {
		if b {
			set++
		}
	}
	if set != 1 {
		return op{}, invalid("exactly one of PutChunk, DeleteDocument, PutRecords must be set, got %d", set)
	}
	switch {
	case o.PutChunk != nil:
		e := o.PutChunk
		out := op{kind: opChunk, doc: e.Chunk.Document, index: e.Chunk.Index, total: e.Chunk.Total, text: e.Chunk.Text, revision: e.GazetteerRevision}
		if err := validDoc(out.doc); err != nil {
			return op{}, err
		}
		if out.index < 0 {
			return op{}, invalid("document %q: chunk index %d is negative", out.doc.Path, out.index)
		}
		var err error
		if out.mentions, err = s.validNodes(e.Mentions); err != nil {
			return op{}, fmt.Errorf("document %q chunk %d: mentions: %w", out.doc.Path, out.index, err)
		}
		if out.rels, err = s.validRels(e.Relationships, event.SourceText); err != nil {
			return op{}, fmt.Errorf("document %q chunk %d: %w", out.doc.Path, out.index, err)
		}
		return out, nil
	case o.DeleteDocument != nil:
		if o.DeleteDocument.Path == "" {
			return op{}, invalid("delete document: empty path")
		}
		return op{kind: opDelete, doc: event.Document{Path: o.DeleteDocument.Path, Version: o.DeleteDocument.Version}}, nil
	default:
		r := o.PutRecords
		out := op{kind: opRecords, doc: r.Source, final: r.Final}
		if err := validDoc(out.doc); err != nil {
			return op{}, err
		}
		var err error
		if out.nodes, err = s.validNodes(r.Nodes); err != nil {
			return op{}, fmt.Errorf("records %q batch %d: %w", out.doc.Path, r.Batch, err)
		}
		if out.rels, err = s.validRels(r.Relationships, event.SourceStructured); err != nil {
			return op{}, fmt.Errorf("records %q batch %d: %w", out.doc.Path, r.Batch, err)
		}
		return out, nil
	}
}

func validDoc(d event.Document) error {
	if d.Path == "" {
		return invalid("document with empty path")
	}
	if d.SHA256 == "" {
		return invalid("document %q: empty sha256", d.Path)
	}
	return nil
}

func (s *Store) validRef(r graph.NodeRef) error {
	if !s.labels[r.Label] {
		return invalid("label %q is not in the schema", r.Label)
	}
	if p := graph.KeyProblem(r.Key); p != "" {
		return invalid("%s with %s", r.Label, p)
	}
	return nil
}

func (s *Store) validNodes(nodes []graph.Node) ([]nodeWrite, error) {
	out := make([]nodeWrite, 0, len(nodes))
	for i, n := range nodes {
		if err := s.validRef(n.Ref()); err != nil {
			return nil, fmt.Errorf("node %d: %w", i, err)
		}
		if _, ok := n.Properties["key"]; ok {
			return nil, invalid("node %d (%s %q): property \"key\" is reserved", i, n.Label, n.Key)
		}
		props, err := graph.NormalizeProperties(n.Properties)
		if err != nil {
			return nil, fmt.Errorf("node %d (%s %q): %w", i, n.Label, n.Key, err)
		}
		out = append(out, nodeWrite{id: nodeID{n.Label, n.Key}, props: props})
	}
	return out, nil
}

func (s *Store) validRels(rels []graph.Relationship, defaultSource string) ([]relWrite, error) {
	out := make([]relWrite, 0, len(rels))
	for i, r := range rels {
		if !s.relTypes[r.Type] {
			return nil, invalid("relationship %d: type %q is not in the schema", i, r.Type)
		}
		if err := s.validRef(r.From); err != nil {
			return nil, fmt.Errorf("relationship %d (%s) from: %w", i, r.Type, err)
		}
		if err := s.validRef(r.To); err != nil {
			return nil, fmt.Errorf("relationship %d (%s) to: %w", i, r.Type, err)
		}
		if _, ok := r.Properties["source"]; ok {
			return nil, invalid("relationship %d (%s): property \"source\" is reserved", i, r.Type)
		}
		props, err := graph.NormalizeProperties(r.Properties)
		if err != nil {
			return nil, fmt.Errorf("relationship %d (%s): %w", i, r.Type, err)
		}
		src := r.Source
		if src == "" {
			src = defaultSource
		}
		out = append(out, relWrite{
			id:    relID{r.Type, r.From.Label, r.From.Key, r.To.Label, r.To.Key, src},
			props: props,
		})
	}
	return out, nil
}
