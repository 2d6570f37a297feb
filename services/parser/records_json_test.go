package parser

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/schema"
)

// The hand-rolled Records encoding must be byte for byte encoding/json's.
func TestAppendRecordsJSONMatchesEncodingJSON(t *testing.T) {
	doc := event.NewDocument("dir/teams <1>.csv", "abc", 42, 7)
	tests := []struct {
		name string
		rec  event.Records
	}{
		{name: "empty", rec: event.Records{Source: doc, Mapping: "teams"}},
		{name: "final", rec: event.Records{Source: doc, Mapping: "m", Batch: 3, Final: true, Batches: 4}},
		{name: "nodes and relationships", rec: event.Records{
			Source: doc, Mapping: "teams", Batch: 1,
			Nodes: []event.Node{
				{Label: "Person", Key: "ada", Properties: map[string]any{"name": "Ada", "age": int64(36), "ok": true, "score": 1.5, "big": 1e21, "neg": -0.0}},
				{Label: "Team", Key: "x", Properties: map[string]any{}},
				{Label: "Team", Key: "y"},
				{Label: "Odd", Key: "q\"uote\\ <tag> & \u2028 \t\n\x01 é \xff", Properties: map[string]any{"k\"": "v\x7f", "nil": nil, "z": int64(math.MinInt64)}},
			},
			Relationships: []event.Relationship{
				{Type: "MEMBER_OF", From: event.NodeRef{Label: "Person", Key: "ada"}, To: event.NodeRef{Label: "Team", Key: "x"}, Source: event.SourceStructured, Properties: map[string]any{"role": "Engineer, grade 3"}},
				{Type: "R", From: event.NodeRef{Label: "A", Key: "1"}, To: event.NodeRef{Label: "B", Key: "2"}, Source: event.SourceText, Evidence: "said <so>"},
			},
		}},
		{name: "rejected", rec: event.Records{
			Source: doc, Mapping: "teams",
			Rejected: []event.RowError{
				{Line: 3, Column: "age", Value: "x", Error: "not a whole number"},
				{Error: "every key column is empty: the row gives nothing"},
			},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.rec)
			require.NoError(t, err)
			// The names of a mapping with more properties than these
			// records have, and of one with just theirs.
			for _, extra := range [][]string{nil, {"a", "zz", "name"}} {
				got, err := appendRecordsAsBatched(&tc.rec, extra)
				require.NoError(t, err)
				assert.Equal(t, string(want), string(got), "extra names %q", extra)
			}
		})
	}
}

// appendRecordsAsBatched encodes rec as a batch holds it: each record's
// properties as a row of values for the sorted names of its own
// properties and extra.
func appendRecordsAsBatched(rec *event.Records, extra []string) ([]byte, error) {
	row := func(props map[string]any) propRow {
		names := slices.AppendSeq(slices.Clone(extra), maps.Keys(props))
		slices.Sort(names)
		names = slices.Compact(names)
		vals := make([]propVal, len(names))
		for k, v := range props {
			i, _ := slices.BinarySearch(names, k)
			if s, ok := v.(string); ok {
				vals[i] = propVal{set: true, isStr: true, str: s}
			} else {
				vals[i] = propVal{set: true, v: v}
			}
		}
		return propRow{names: names, vals: vals}
	}
	var nodeProps, relProps []propRow
	for _, n := range rec.Nodes {
		nodeProps = append(nodeProps, row(n.Properties))
	}
	for _, r := range rec.Relationships {
		relProps = append(relProps, row(r.Properties))
	}
	return appendRecordsJSON(nil, rec, nodeProps, relProps)
}

func TestAppendRecordsJSONBadValue(t *testing.T) {
	rec := event.Records{Nodes: []event.Node{{Label: "A", Key: "k", Properties: map[string]any{"x": math.NaN()}}}}
	_, err := appendRecordsAsBatched(&rec, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "property x")
}

// normalizeValue's fast path must agree with schema.NormalizeValue.
func TestNormalizeValueMatchesSchema(t *testing.T) {
	values := []string{
		"", " ", "Team 0001 Delivery", "  Team  1 ", "a\tb", "a\nb", "a\rb", "a\vb", "a\fb",
		"ÉCOLE Été", "a\u00a0b", "a\u0085b", "MiXeD", "x ", " x", "a  b", strings.Repeat("Ab ", 20) + "c",
	}
	kinds := []string{schema.NormCollapse, schema.KeyLowerCollapse, schema.NormTrim, schema.NormLower, schema.KeyExact, schema.KeyUpper, schema.KeyUpperCode, ""}
	for _, k := range kinds {
		for _, v := range values {
			assert.Equal(t, schema.NormalizeValue(k, v), normalizeValue(k, v), "kind %q value %q", k, v)
		}
	}
}

func FuzzNormalizeValue(f *testing.F) {
	f.Add("Team 0001 Delivery")
	f.Add(" a  b\t")
	f.Add("é\u00a0x")
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []string{schema.NormCollapse, schema.KeyLowerCollapse} {
			if got, want := normalizeValue(k, s), schema.NormalizeValue(k, s); got != want {
				t.Fatalf("kind %q value %q: %q, want %q", k, s, got, want)
			}
		}
	})
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("q\"<&>\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: %s, want %s", s, got, want)
		}
	})
}
