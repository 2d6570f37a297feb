package neostore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMergeDuplicateKeys(t *testing.T) {
	a1 := map[string]any{"key": "a", "props": map[string]any{"x": 1, "y": "old", "z": nil}}
	a2 := map[string]any{"key": "a", "props": map[string]any{"y": "new"}}
	a3 := map[string]any{"key": "a", "props": map[string]any{"z": true}}
	b := map[string]any{"key": "b", "props": map[string]any{}}
	distinct := []map[string]any{a1, b}
	assert.Equal(t, distinct, mergeDuplicateKeys(distinct))

	got := mergeDuplicateKeys([]map[string]any{a1, a2, a3, b})
	assert.Equal(t, []map[string]any{
		{"key": "a", "props": map[string]any{"x": 1, "y": "new", "z": true}},
		b,
	}, got)
	assert.Equal(t, map[string]any{"x": 1, "y": "old", "z": nil}, a1["props"], "inputs unchanged")
	assert.Equal(t, map[string]any{"y": "new"}, a2["props"])
}
