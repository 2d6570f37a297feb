// Package schemas exposes the shipped schemas (extraction schema, structured
// mapping, message JSON Schemas) as an fs.FS, so the binary carries its
// defaults and users can still point at their own files.
package schemas

import "embed"

// FS holds every shipped schema file.
//
//go:embed *.yaml messages/*.json
var FS embed.FS
