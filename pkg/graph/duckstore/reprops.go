package duckstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
)

// A node's properties come from the records that state it, merged as they
// arrive; each records support row keeps those its file version gave
// (support.props). When such support is withdrawn (the file deleted, or a
// new version that no longer states the node or one of its columns), the
// node keeps no property only that support gave: reprops takes the
// withdrawn keys off the node and applies again what the remaining
// support gives, in the order of its paths. So the node holds what the
// files present give, whatever came before. Nodes whose withdrawn support
// gave no properties (and support written before support.props) are left
// as they are.

// addProps records the property keys a withdrawn node support gave its
// node (its props column).
func (c *candidates) addProps(id nodeID, props sql.NullString) error {
	if !props.Valid || props.String == "{}" || props.String == "" {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(props.String), &raw); err != nil {
		return fmt.Errorf("node %s %q: support properties: %w", id.label, id.key, err)
	}
	if len(raw) == 0 {
		return nil
	}
	if c.props == nil {
		c.props = map[nodeID]map[string]bool{}
	}
	keys := c.props[id]
	if keys == nil {
		keys = map[string]bool{}
		c.props[id] = keys
	}
	for k := range raw {
		keys[k] = true
	}
	return nil
}

// reprops rewrites the properties of the nodes that lost support giving
// them the keys in withdrawn, after writing what is pending: the earlier
// ops' properties are then in the nodes, as if each op were applied alone.
func (b *batch) reprops(ctx context.Context, withdrawn map[nodeID]map[string]bool) error {
	if len(withdrawn) == 0 {
		return nil
	}
	if err := b.flush(ctx); err != nil {
		return err
	}
	var ids []any
	for id := range withdrawn {
		ids = append(ids, id.hash())
	}
	props := map[nodeID]map[string]json.RawMessage{}
	err := b.eachProps(ctx, ids, func(n int) string {
		return "SELECT label, key, props FROM nodes WHERE id IN (" + placeholders(n, 1) + ")"
	}, func(id nodeID, cur map[string]json.RawMessage) {
		if withdrawn[id] == nil {
			return // another node with the id's hash
		}
		for k := range withdrawn[id] {
			delete(cur, k)
		}
		props[id] = cur
	})
	if err != nil {
		return fmt.Errorf("node properties: %w", err)
	}
	if len(props) == 0 {
		return nil // every such node is gone
	}
	err = b.eachProps(ctx, ids, func(n int) string {
		return `SELECT from_label, from_key, props FROM support
			WHERE kind = 'node' AND owner IN (` + placeholders(n, 1) + `) AND props IS NOT NULL AND props <> '{}'
			ORDER BY path, sha256, part`
	}, func(id nodeID, give map[string]json.RawMessage) {
		if cur, ok := props[id]; ok {
			maps.Copy(cur, give)
		}
	})
	if err != nil {
		return fmt.Errorf("support properties: %w", err)
	}
	var updates []any
	for id, cur := range props {
		p := "{}"
		if len(cur) > 0 {
			data, err := json.Marshal(cur)
			if err != nil {
				return fmt.Errorf("node %s %q: %w", id.label, id.key, err)
			}
			p = string(data)
		}
		updates = append(updates, []any{id.hash(), id.label, id.key, p})
	}
	err = inChunks(updates, func(part []any) error {
		_, err := b.tx.ExecContext(ctx, `UPDATE nodes SET props = u.props
			FROM (VALUES `+placeholders(len(part), 4)+`) AS u(id, label, key, props)
			WHERE nodes.id = u.id AND nodes.label = u.label AND nodes.key = u.key`, flatten(part)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("node properties: %w", err)
	}
	return nil
}

// eachProps runs the query that query(n) returns for n of the node ids at
// a time, and calls fn with each row's node (label and key) and
// properties (a props column), in the rows' order.
func (b *batch) eachProps(ctx context.Context, ids []any, query func(n int) string,
	fn func(id nodeID, props map[string]json.RawMessage)) error {
	return inChunks(ids, func(part []any) error {
		rows, err := b.tx.QueryContext(ctx, query(len(part)), part...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id nodeID
			var p string
			if err := rows.Scan(&id.label, &id.key, &p); err != nil {
				return err
			}
			props, err := rawProps(p)
			if err != nil {
				return fmt.Errorf("%s %q: %w", id.label, id.key, err)
			}
			fn(id, props)
		}
		return rows.Err()
	})
}

// rawProps decodes a props column into its properties, leaving each value
// encoded.
func rawProps(s string) (map[string]json.RawMessage, error) {
	raw := map[string]json.RawMessage{}
	if s == "" {
		return raw, nil
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("decode properties: %w", err)
	}
	if raw == nil {
		raw = map[string]json.RawMessage{}
	}
	return raw, nil
}
