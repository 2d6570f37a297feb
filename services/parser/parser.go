// Package parser is the parser stage: it reads a discovered file from the
// object store and turns it into text chunks (documents) or mapped record
// batches (files that the structured mapping names).
package parser

import (
	"context"
	"io"
)

// Objects reads the file bytes that the watcher stored.
type Objects interface {
	Open(ctx context.Context, name string) (io.ReadCloser, error)
}
