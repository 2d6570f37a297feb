// Package graphapi lets operator commands query the graph through NATS: the
// graph writer serves stats, document lists and exports by request/reply,
// because the embedded graph can be opened only by the process that writes
// it. Exports travel through a JetStream object store (flow-controlled, any
// size).
package graphapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/logging"
)

// Subjects served by the graph writer (queue group "graph-writer").
const (
	SubjectStats     = "docgraph.api.graph.stats"
	SubjectDocuments = "docgraph.api.graph.documents"
	SubjectExport    = "docgraph.api.graph.export"
	queue            = "graph-writer"
)

// ErrNoServer means no graph writer answered.
var ErrNoServer = errors.New("graphapi: no graph writer is running")

type exportRequest struct {
	Format string `json:"format"`
}

type reply struct {
	Error     string            `json:"error,omitempty"`
	Stats     *graph.Stats      `json:"stats,omitempty"`
	Documents map[string]string `json:"documents,omitempty"`
	Object    string            `json:"object,omitempty"`
}

// Serve answers graph queries from st until ctx is done. An export is
// written to a temporary file in tempDir ("" for the system's) first.
func Serve(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, st graph.Store, tempDir string, log *slog.Logger) error {
	handle := func(m *nats.Msg) {
		var r reply
		switch m.Subject {
		case SubjectStats:
			s, err := st.Stats(ctx)
			if err != nil {
				r.Error = err.Error()
			} else {
				r.Stats = &s
			}
		case SubjectDocuments:
			d, err := st.Documents(ctx)
			if err != nil {
				r.Error = err.Error()
			} else {
				r.Documents = d
			}
		case SubjectExport:
			var req exportRequest
			if err := json.Unmarshal(m.Data, &req); err != nil {
				r.Error = "bad export request: " + err.Error()
				break
			}
			name, err := export(ctx, js, st, req.Format, tempDir)
			if err != nil {
				r.Error = err.Error()
			} else {
				r.Object = name
			}
		}
		data, _ := json.Marshal(r)
		if err := m.Respond(data); err != nil {
			log.Warn("graph api reply failed", slog.String("subject", m.Subject), slog.Any(logging.KeyErr, err))
		}
	}
	sub, err := nc.QueueSubscribe("docgraph.api.graph.*", queue, func(m *nats.Msg) { go handle(m) })
	if err != nil {
		return fmt.Errorf("serve graph api: %w", err)
	}
	<-ctx.Done()
	return sub.Unsubscribe()
}

func export(ctx context.Context, js jetstream.JetStream, st graph.Store, format, tempDir string) (string, error) {
	write := graph.WriteJSON
	switch format {
	case "", "json":
	case "cypher":
		write = graph.WriteCypher
	default:
		return "", fmt.Errorf("unknown export format %q", format)
	}
	if tempDir != "" {
		if err := os.MkdirAll(tempDir, 0o750); err != nil {
			return "", fmt.Errorf("export: %w", err)
		}
	}
	f, err := os.CreateTemp(tempDir, "docgraph-export-*")
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	if err := write(ctx, st, f); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	obs, err := js.ObjectStore(ctx, bus.BucketExports)
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	name := "export-" + nuid.Next()
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name}, f); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	return name, nil
}

func request(ctx context.Context, nc *nats.Conn, subject string, payload any, timeout time.Duration) (reply, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return reply{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, subject, data)
	if errors.Is(err, nats.ErrNoResponders) {
		return reply{}, ErrNoServer
	}
	if err != nil {
		return reply{}, fmt.Errorf("%s: %w", subject, err)
	}
	var r reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return reply{}, fmt.Errorf("%s: bad reply: %w", subject, err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("graph writer: %s", r.Error)
	}
	return r, nil
}

// Stats asks a running graph writer for the graph's counts.
func Stats(ctx context.Context, nc *nats.Conn) (graph.Stats, error) {
	r, err := request(ctx, nc, SubjectStats, struct{}{}, 30*time.Second)
	if err != nil {
		return graph.Stats{}, err
	}
	return *r.Stats, nil
}

// Documents asks a running graph writer for every Document's sha256.
func Documents(ctx context.Context, nc *nats.Conn) (map[string]string, error) {
	r, err := request(ctx, nc, SubjectDocuments, struct{}{}, time.Minute)
	if err != nil {
		return nil, err
	}
	return r.Documents, nil
}

// Export asks a running graph writer for an export and copies it to w.
func Export(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, format string, w io.Writer) error {
	r, err := request(ctx, nc, SubjectExport, exportRequest{Format: format}, 10*time.Minute)
	if err != nil {
		return err
	}
	obs, err := js.ObjectStore(ctx, bus.BucketExports)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	objects, err := bus.NewObjects(ctx, js, bus.BucketExports)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	obj, err := objects.Open(ctx, r.Object)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	_, err = io.Copy(w, obj)
	_ = obj.Close()
	if derr := obs.Delete(ctx, r.Object); err == nil && derr != nil {
		err = derr
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
