package neostore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/docgraph/docgraph/pkg/graph"
)

// allLabels are the labels an export shows, in export order (Go string
// order, which is Neo4j's for strings: both compare code points).
func (s *Store) allLabels() []string {
	l := append([]string{graph.LabelDocument, graph.LabelChunk}, s.labels...)
	slices.Sort(l)
	return l
}

func (s *Store) allRelTypes() []string {
	t := append([]string{graph.RelHasChunk, graph.RelMentions}, s.relTypes...)
	slices.Sort(t)
	return t
}

// Export streams every node, then every relationship, sorted, from one read
// transaction, so the result is a consistent snapshot. Bookkeeping (the
// node property key, sources, versions) is never shown.
func (s *Store) Export(ctx context.Context, nodes func(graph.Node) error, rels func(graph.Relationship) error) (err error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	// An explicit transaction: a managed one could run the callbacks twice.
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		return fmt.Errorf("export neo4j %s: %w", s.uri, err)
	}
	defer func() { err = errors.Join(err, tx.Close(context.WithoutCancel(ctx))) }()
	for _, l := range s.allLabels() {
		q := "MATCH (n:`" + l + "`) RETURN n.key AS key, properties(n) AS props ORDER BY key"
		if err := stream(ctx, tx, q, nil, func(r *neo4j.Record) error {
			key, _ := r.Values[0].(string)
			p, _ := r.Values[1].(map[string]any)
			delete(p, "key")
			return nodes(graph.Node{Label: l, Key: key, Properties: p})
		}); err != nil {
			return fmt.Errorf("export %s nodes: %w", l, err)
		}
	}
	for _, t := range s.allRelTypes() {
		q := "MATCH (a)-[r:`" + t + "`]->(b)\n" +
			"WITH labels(a)[0] AS fl, a.key AS fk, labels(b)[0] AS tl, b.key AS tk, r\n" +
			"RETURN fl, fk, tl, tk, properties(r) AS props ORDER BY fl, fk, tl, tk, r.source"
		if err := stream(ctx, tx, q, nil, func(r *neo4j.Record) error {
			fl, _ := r.Values[0].(string)
			fk, _ := r.Values[1].(string)
			tl, _ := r.Values[2].(string)
			tk, _ := r.Values[3].(string)
			p, _ := r.Values[4].(map[string]any)
			delete(p, propSupport)
			delete(p, propGiven)
			src, _ := p["source"].(string)
			return rels(graph.Relationship{Type: t, From: graph.NodeRef{Label: fl, Key: fk},
				To: graph.NodeRef{Label: tl, Key: tk}, Source: src, Properties: p})
		}); err != nil {
			return fmt.Errorf("export %s relationships: %w", t, err)
		}
	}
	return nil
}

// stream calls fn for each record of q as it arrives.
func stream(ctx context.Context, tx neo4j.ExplicitTransaction, q string, params map[string]any, fn func(*neo4j.Record) error) error {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return err
	}
	for res.Next(ctx) {
		if err := fn(res.Record()); err != nil {
			return err
		}
	}
	return res.Err()
}

// Stats counts nodes per label and relationships per type; labels and types
// without any are left out.
func (s *Store) Stats(ctx context.Context) (_ graph.Stats, err error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	st, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		st := graph.Stats{Nodes: map[string]int64{}, Relationships: map[string]int64{}}
		count := func(q string) (int64, error) {
			res, err := tx.Run(ctx, q, nil)
			if err != nil {
				return 0, err
			}
			rec, err := res.Single(ctx)
			if err != nil {
				return 0, err
			}
			n, _ := rec.Values[0].(int64)
			return n, nil
		}
		for _, l := range s.allLabels() {
			n, err := count("MATCH (n:`" + l + "`) RETURN count(n)")
			if err != nil {
				return nil, fmt.Errorf("count %s: %w", l, err)
			}
			if n > 0 {
				st.Nodes[l] = n
			}
		}
		for _, t := range s.allRelTypes() {
			n, err := count("MATCH ()-[r:`" + t + "`]->() RETURN count(r)")
			if err != nil {
				return nil, fmt.Errorf("count %s: %w", t, err)
			}
			if n > 0 {
				st.Relationships[t] = n
			}
		}
		return st, nil
	})
	if err != nil {
		return graph.Stats{}, fmt.Errorf("stats neo4j %s: %w", s.uri, err)
	}
	return st.(graph.Stats), nil
}

// Documents maps every Document's path to its sha256.
func (s *Store) Documents(ctx context.Context) (_ map[string]string, err error) {
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer func() { err = errors.Join(err, s.closeSession(ctx, sess)) }()
	docs, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, "MATCH (d:Document) RETURN d.key, d.sha256", nil)
		if err != nil {
			return nil, err
		}
		docs := map[string]string{}
		for res.Next(ctx) {
			r := res.Record()
			path, _ := r.Values[0].(string)
			sha, _ := r.Values[1].(string)
			docs[path] = sha
		}
		return docs, res.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("documents neo4j %s: %w", s.uri, err)
	}
	return docs.(map[string]string), nil
}
