package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaCheckReportsBothFiles: with both the extraction schema and the
// mapping broken, one 'schema check' names the problems of both, so that
// fixing the first does not reveal the second only on the next run.
func TestSchemaCheckReportsBothFiles(t *testing.T) {
	dir := t.TempDir()
	extraction, mapping := filepath.Join(dir, "extraction.yaml"), filepath.Join(dir, "structured.yaml")
	writeFile(t, extraction, "version: 1\n")
	writeFile(t, mapping, "unmapped: sometimes\n")
	_, _, err := docgraph(t, "schema", "check", "--schemas.extraction", extraction, "--schemas.mapping", mapping)
	require.Error(t, err)
	assert.ErrorContains(t, err, "schemas.extraction: extraction schema: entities: at least one entity type required")
	assert.ErrorContains(t, err, `schemas.mapping: mapping: unmapped: "sometimes"`)
}
