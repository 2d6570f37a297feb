package graph_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/graph"
)

func TestNormalizeValue(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name    string
		give    any
		want    any
		wantErr bool
	}{
		{name: "nil", give: nil, want: nil},
		{name: "string", give: "x", want: "x"},
		{name: "bool", give: true, want: true},
		{name: "int", give: 3, want: int64(3)},
		{name: "int8", give: int8(-3), want: int64(-3)},
		{name: "int16", give: int16(3), want: int64(3)},
		{name: "int32", give: int32(3), want: int64(3)},
		{name: "int64", give: int64(3), want: int64(3)},
		{name: "uint8", give: uint8(3), want: int64(3)},
		{name: "uint16", give: uint16(3), want: int64(3)},
		{name: "uint32", give: uint32(3), want: int64(3)},
		{name: "uint", give: uint(3), want: int64(3)},
		{name: "uint64", give: uint64(3), want: int64(3)},
		{name: "uint64 overflow", give: uint64(math.MaxUint64), wantErr: true},
		{name: "float32", give: float32(1.5), want: 1.5},
		{name: "integral float stays float", give: float64(3), want: float64(3)},
		{name: "NaN", give: math.NaN(), wantErr: true},
		{name: "Inf", give: math.Inf(-1), wantErr: true},
		{name: "json integer", give: json.Number("-12"), want: int64(-12)},
		{name: "json real", give: json.Number("1e3"), want: 1000.0},
		{name: "json garbage", give: json.Number("x"), wantErr: true},
		{name: "date", give: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), want: "2024-03-01"},
		{name: "datetime", give: time.Date(2024, 3, 1, 0, 0, 0, 0, berlin), want: "2024-03-01T00:00:00+02:00"},
		{name: "strings", give: []string{"a"}, want: []any{"a"}},
		{name: "ints", give: []int{1, 2}, want: []any{int64(1), int64(2)}},
		{name: "int64s", give: []int64{1}, want: []any{int64(1)}},
		{name: "floats", give: []float64{1}, want: []any{1.0}},
		{name: "bools", give: []bool{false}, want: []any{false}},
		{name: "any list", give: []any{"a", "b"}, want: []any{"a", "b"}},
		{name: "empty list", give: []string{}, want: []any{}},
		{name: "mixed list", give: []any{"a", 1}, wantErr: true},
		{name: "nested list", give: []any{[]any{"a"}}, wantErr: true},
		{name: "list with NaN", give: []any{math.NaN()}, wantErr: true},
		{name: "map", give: map[string]any{"a": 1}, wantErr: true},
		{name: "struct", give: struct{}{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := graph.NormalizeValue(tt.give)
			if tt.wantErr {
				require.ErrorIs(t, err, graph.ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeProperties(t *testing.T) {
	tests := []struct {
		name    string
		give    map[string]any
		want    map[string]any
		wantErr string
	}{
		{name: "empty", give: map[string]any{}, want: nil},
		{name: "values", give: map[string]any{"a": 1, "b": nil}, want: map[string]any{"a": int64(1), "b": nil}},
		{name: "empty name", give: map[string]any{" ": 1}, wantErr: "empty property name"},
		{name: "control character", give: map[string]any{"a\nb": 1}, wantErr: "control character"},
		{name: "bad value names property", give: map[string]any{"when": map[string]any{}}, wantErr: `property "when"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr != "" {
				assert.False(t, graph.Canonical(tt.give), "invalid properties are not canonical")
			}
			got, err := graph.NormalizeProperties(tt.give)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, graph.ErrInvalid)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Canonical holds exactly when NormalizeProperties would return equal
// scalar values: then a reader may use the map itself.
func TestCanonical(t *testing.T) {
	yes := []map[string]any{
		nil, {},
		{"s": "x", "b": true, "i": int64(3), "f": 2.5, "gone": nil},
	}
	for _, p := range yes {
		assert.True(t, graph.Canonical(p), "%v", p)
		got, err := graph.NormalizeProperties(p)
		require.NoError(t, err)
		if len(p) > 0 {
			assert.Equal(t, p, got)
		}
	}
	no := []map[string]any{
		{"i": 3},                        // int becomes int64
		{"n": json.Number("7")},         // becomes int64
		{"f": math.NaN()},               // refused
		{"f": math.Inf(1)},              // refused
		{"l": []any{"a"}},               // lists are copied
		{"t": time.Unix(0, 0)},          // becomes a string
		{"": "x"},                       // refused
		{"a\tb": "x"},                   // refused
		{"m": map[string]any{"x": "y"}}, // refused
	}
	for _, p := range no {
		assert.False(t, graph.Canonical(p), "%v", p)
	}
}
