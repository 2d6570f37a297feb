package duckstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/docgraph/docgraph/pkg/graph"
)

// A node's properties come from the records that state it and the
// mentions that give it properties (the name the gazetteer had when the
// chunk was extracted), merged as they arrive; each records support row
// keeps those its file version gave (support.props), and each MENTIONS row
// those its mention gave (mentions.props). When such support or mention is
// withdrawn (the file deleted, a new version that no longer states the
// node or one of its columns, a chunk extracted again without them), the
// node keeps no property only that support or mention gave: reprops takes
// the withdrawn keys off the node and applies again what the remaining
// mentions give, in chunk order, then what the remaining support gives,
// in the order of its paths. So the node holds what the files present
// give, whatever came before: a name a chunk was extracted with goes when
// it is extracted again without it, even one that reached the graph after
// its spreadsheet's deletion. Nodes whose withdrawn support or mentions
// gave no properties (and support or mentions written before they kept
// their properties) are left as they are.

// withdrawn records a withdrawn support row (of kind "node" or "rel", with
// its identity and the keys of its props column, as propKeys reads them):
// its owner is a candidate for garbage collection, and the property keys
// it gave are to be taken back.
func (c *candidates) withdrawn(kind string, id relID, keys sql.NullString) error {
	if kind != "node" {
		c.addRel(id)
		return addKeys(&c.relProps, id, keys)
	}
	n := nodeID{id.fromLabel, id.fromKey}
	c.addNode(n)
	return addKeys(&c.props, n, keys)
}

// keySet is a set of property keys, sorted. A set is never changed once
// made, so owners share them: a withdrawal of a large spreadsheet's rows
// keeps one small slice per owner instead of a map.
type keySet []string

func (k keySet) has(key string) bool { return slices.Contains(k, key) }

// union returns the keys of k and o: k itself when o adds none, o itself
// when k has none (so owners share a set).
func (k keySet) union(o keySet) keySet {
	if len(k) == 0 {
		return o
	}
	var add []string
	for _, x := range o {
		if !k.has(x) {
			add = append(add, x)
		}
	}
	if len(add) == 0 {
		return k
	}
	u := append(slices.Clip(k), add...)
	slices.Sort(u)
	return u
}

// without returns k without the keys props gives (the non-nil ones).
func (k keySet) without(props map[string]any) keySet {
	var left keySet
	for _, x := range k {
		if v, ok := props[x]; !ok || v == nil {
			left = append(left, x)
		}
	}
	if len(left) == len(k) {
		return k
	}
	return left
}

// propKeys is the SQL expression that reads the keys of the props column
// col as addKeys takes them: a JSON array of strings (NULL for none), so
// that Go decodes each distinct set of keys once rather than every row's
// properties.
func propKeys(col string) string {
	return "to_json(list_sort(json_keys(NULLIF(" + col + ", ''))))::VARCHAR"
}

// keySets decodes the key lists propKeys reads, each distinct one once.
var keySets sync.Map // string -> keySet

// decodeKeys returns the key set of a propKeys value (nil for none).
func decodeKeys(keys sql.NullString) (keySet, error) {
	if !keys.Valid || keys.String == "[]" {
		return nil, nil
	}
	if k, ok := keySets.Load(keys.String); ok {
		return k.(keySet), nil
	}
	var k keySet
	if err := json.Unmarshal([]byte(keys.String), &k); err != nil {
		return nil, fmt.Errorf("property keys %q: %w", keys.String, err)
	}
	slices.Sort(k)
	k = slices.Compact(k)
	if len(k) == 0 {
		return nil, nil
	}
	if keySetsCached.Add(1) <= maxKeySets {
		keySets.Store(keys.String, k)
	}
	return k, nil
}

// maxKeySets bounds the key sets keySets holds: mappings and mentions give
// a handful of distinct ones.
const maxKeySets = 4096

var keySetsCached atomic.Int64

// addKeys adds the keys (a propKeys value) to those of id in *m.
func addKeys[K comparable](m *map[K]keySet, id K, keys sql.NullString) error {
	k, err := decodeKeys(keys)
	if err != nil {
		return fmt.Errorf("%v: given properties: %w", id, err)
	}
	if len(k) == 0 {
		return nil
	}
	if *m == nil {
		*m = map[K]keySet{}
	}
	(*m)[id] = (*m)[id].union(k)
	return nil
}

// dropKeys removes from the keys of id in m those props give (the non-nil
// ones).
func dropKeys(m map[nodeID]keySet, id nodeID, props map[string]any) {
	keys, ok := m[id]
	if !ok {
		return
	}
	if keys = keys.without(props); len(keys) == 0 {
		delete(m, id)
	} else {
		m[id] = keys
	}
}

// addMentioned records a withdrawn MENTIONS row: its entity is a
// candidate, and the property keys the mention gave it (its props column,
// as propKeys reads it) are to be taken back.
func (c *candidates) addMentioned(id nodeID, keys sql.NullString) error {
	c.addNode(id)
	return addKeys(&c.mentioned, id, keys)
}

// regiven drops from the keys withdrawn mentions gave id those props give
// it again.
func (c *candidates) regiven(id nodeID, props map[string]any) { dropKeys(c.mentioned, id, props) }

// unmentioned hands the batch the keys withdrawn mentions gave, to take
// back at its end unless a later op gives them again.
func (b *batch) unmentioned(m map[nodeID]keySet) {
	for id, keys := range m {
		if b.mentioned == nil {
			b.mentioned = map[nodeID]keySet{}
		}
		b.mentioned[id] = b.mentioned[id].union(keys)
	}
}

// regiven drops from the keys to take back at the batch's end those an op
// gives id again: the node has them from that op, the latest, as it would
// if each op were applied alone.
func (b *batch) regiven(id nodeID, props map[string]any) { dropKeys(b.mentioned, id, props) }

// repropsMentioned takes back, once per batch, the properties withdrawn
// mentions gave that no later op gave again: only those keys are applied
// again, from what the mentions and support left give, so the result is
// the one of applying each op alone (then the last withdrawal of a key
// takes it back with the givers of the end; a later giver wins anyway)
// without writing the batch out at every op.
func (b *batch) repropsMentioned(ctx context.Context) error {
	m := b.mentioned
	b.mentioned = nil
	return b.reprops(ctx, m, true)
}

// mentionProps encodes the properties the mentions of id among ms give
// it, merged in order, without the nil ones (which remove a property, and
// give none); "" when there are none.
func mentionProps(ms []nodeWrite, id nodeID) (string, error) {
	var props map[string]any
	for _, m := range ms {
		if m.id != id {
			continue
		}
		for k, v := range m.props {
			if props == nil {
				props = map[string]any{}
			}
			props[k] = v
		}
	}
	for k, v := range props {
		if v == nil {
			delete(props, k)
		}
	}
	if len(props) == 0 {
		return "", nil
	}
	p, err := graph.EncodeProperties(props)
	if err != nil {
		return "", fmt.Errorf("node %s %q: %w", id.label, id.key, err)
	}
	return p, nil
}

// reprops rewrites the properties of the nodes that lost support giving
// them the keys in withdrawn, after writing what is pending: the earlier
// ops' properties are then in the nodes, as if each op were applied alone.
// With only, the givers apply again only the withdrawn keys.
func (b *batch) reprops(ctx context.Context, withdrawn map[nodeID]keySet, only bool) error {
	ids, props, err := withoutWithdrawn(ctx, b, withdrawn, func(ids []any, fn func(nodeID, map[string]json.RawMessage)) error {
		return b.eachProps(ctx, ids, func(in string) string {
			return "SELECT label, key, props FROM nodes WHERE id IN (" + in + ")"
		}, fn)
	})
	if err != nil {
		return fmt.Errorf("node properties: %w", err)
	}
	if len(props) == 0 {
		return nil // every such node is gone
	}
	// give merges the properties a row gives into its node's.
	give := func(id nodeID, given map[string]json.RawMessage) {
		cur, ok := props[id]
		if !ok {
			return
		}
		for k, v := range given {
			if !only || withdrawn[id].has(k) {
				cur[k] = v
			}
		}
	}
	// What the mentions left give first, then the records: a spreadsheet
	// states its entities, and wins over a name a chunk was extracted with.
	// Mentions give in chunk order; as most of an entity's give the same,
	// each distinct value is read once, at its last chunk, which gives the
	// same result.
	err = b.eachProps(ctx, ids, func(in string) string {
		return `SELECT label, key, props FROM mentions
			WHERE node IN (` + in + `) AND props IS NOT NULL AND props <> '{}'
			GROUP BY node, label, key, props ORDER BY max(chunk), props`
	}, give)
	if err != nil {
		return fmt.Errorf("mention properties: %w", err)
	}
	err = b.eachProps(ctx, ids, func(in string) string {
		return `SELECT from_label, from_key, props FROM support
			WHERE kind = 'node' AND owner IN (` + in + `) AND props IS NOT NULL AND props <> '{}'
			ORDER BY path, sha256, part`
	}, give)
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
	err = b.updateRows(ctx, `UPDATE nodes SET props = u.col4 FROM appended_data AS u
			WHERE nodes.id = u.col1 AND nodes.label = u.col2 AND nodes.key = u.col3`, updates)
	if err != nil {
		return fmt.Errorf("node properties: %w", err)
	}
	return nil
}

// updateRows runs the UPDATE query over rows (each an id, then text
// columns) appended as appended_data: one statement, where statements of a
// few hundred rows each made a large update scan its table thousands of
// times.
func (b *batch) updateRows(ctx context.Context, query string, rows []any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0].([]any))
	return b.appendRows(ctx, query, append([]duckdb.TypeInfo{b.types.bigint}, b.varchars(width-1)...), addTuples(rows))
}

// owner is the identity of a node or relationship.
type owner interface {
	comparable
	hash() int64
}

// withoutWithdrawn reads (with read, after writing what is pending) the
// properties of the owners in withdrawn and takes the withdrawn keys off
// them. It returns the owners' ids, and the properties of those still
// there; nothing when withdrawn is empty.
func withoutWithdrawn[K owner](ctx context.Context, b *batch, withdrawn map[K]keySet,
	read func(ids []any, fn func(K, map[string]json.RawMessage)) error) ([]any, map[K]map[string]json.RawMessage, error) {
	if len(withdrawn) == 0 {
		return nil, nil, nil
	}
	if err := b.flush(ctx); err != nil {
		return nil, nil, err
	}
	var ids []any
	for id := range withdrawn {
		ids = append(ids, id.hash())
	}
	props := map[K]map[string]json.RawMessage{}
	err := read(ids, func(id K, cur map[string]json.RawMessage) {
		if _, ok := withdrawn[id]; !ok {
			return // another owner with the id's hash
		}
		for _, k := range withdrawn[id] {
			delete(cur, k)
		}
		props[id] = cur
	})
	return ids, props, err
}

// eachProps runs the query that query(in) returns for the node ids (see
// eachRow), and calls fn with each row's node (label and key) and
// properties (a props column), in the rows' order.
func (b *batch) eachProps(ctx context.Context, ids []any, query func(in string) string,
	fn func(id nodeID, props map[string]json.RawMessage)) error {
	return b.eachRow(ctx, ids, query, func(rows *sql.Rows) error {
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
		return nil
	})
}

// eachRow runs the query that query(in) returns, in being a subquery
// listing the ids (see rowSource), and calls scan on each row, in the
// rows' order.
func (b *batch) eachRow(ctx context.Context, ids []any, query func(in string) string, scan func(rows *sql.Rows) error) error {
	tuples := make([]any, len(ids))
	for i, id := range ids {
		tuples[i] = []any{id}
	}
	src, args, err := b.rowSource(ctx, "given_ids", []string{"id"}, tuples)
	if err != nil {
		return err
	}
	rows, err := b.tx.QueryContext(ctx, query("SELECT c.id FROM "+src), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
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

// repropsRels rewrites the properties of the relationships that lost
// support giving them the keys in withdrawn, as reprops does for nodes:
// the withdrawn keys go, and what the remaining support gives is applied
// again, in the order of its paths. So a relationship holds what the files
// present state, whatever came before (a column emptied or dropped in a new
// version, or the file that stated a value deleted).
func (b *batch) repropsRels(ctx context.Context, withdrawn map[relID]keySet) error {
	ids, props, err := withoutWithdrawn(ctx, b, withdrawn, func(ids []any, fn func(relID, map[string]json.RawMessage)) error {
		return b.eachRelProps(ctx, ids, func(in string) string {
			return "SELECT type, from_label, from_key, to_label, to_key, source, props FROM relationships WHERE id IN (" + in + ")"
		}, fn)
	})
	if err != nil {
		return fmt.Errorf("relationship properties: %w", err)
	}
	if len(props) == 0 {
		return nil // every such relationship is gone
	}
	err = b.eachRelProps(ctx, ids, func(in string) string {
		return `SELECT type, from_label, from_key, to_label, to_key, source, props FROM support
			WHERE kind = 'rel' AND owner IN (` + in + `) AND props IS NOT NULL AND props <> '{}'
			ORDER BY path, sha256, part`
	}, func(id relID, given map[string]json.RawMessage) {
		if cur, ok := props[id]; ok {
			maps.Copy(cur, given)
		}
	})
	if err != nil {
		return fmt.Errorf("relationship support properties: %w", err)
	}
	var updates []any
	for id, cur := range props {
		data, err := json.Marshal(cur)
		if err != nil {
			return fmt.Errorf("relationship %s: %w", id.typ, err)
		}
		updates = append(updates, []any{id.hash(), id.typ, id.fromLabel, id.fromKey, id.toLabel, id.toKey, id.source, string(data)})
	}
	err = b.updateRows(ctx, `UPDATE relationships r SET props = u.col8 FROM appended_data AS u
			WHERE r.id = u.col1 AND r.type = u.col2 AND r.from_label = u.col3 AND r.from_key = u.col4
				AND r.to_label = u.col5 AND r.to_key = u.col6 AND r.source = u.col7`, updates)
	if err != nil {
		return fmt.Errorf("relationship properties: %w", err)
	}
	return nil
}

// eachRelProps is eachProps for relationships: the query's rows give a
// relationship's identity (type, from_label, from_key, to_label, to_key,
// source) and properties.
func (b *batch) eachRelProps(ctx context.Context, ids []any, query func(in string) string,
	fn func(id relID, props map[string]json.RawMessage)) error {
	return b.eachRow(ctx, ids, query, func(rows *sql.Rows) error {
		var id relID
		var p string
		if err := rows.Scan(&id.typ, &id.fromLabel, &id.fromKey, &id.toLabel, &id.toKey, &id.source, &p); err != nil {
			return err
		}
		props, err := rawProps(p)
		if err != nil {
			return fmt.Errorf("%s %q-%q: %w", id.typ, id.fromKey, id.toKey, err)
		}
		fn(id, props)
		return nil
	})
}
