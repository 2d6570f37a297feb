// Package schema loads and validates what users edit under schemas/: the
// extraction schema (entity and relationship types, patterns, triggers) and
// the structured-data mapping (file -> table -> columns -> nodes and
// relationships).
package schema
