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
	"runtime/debug"
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

// reply answers a request. Documents travel in the reply when they fit in
// one NATS message, and otherwise, like exports, as JSON in an object of
// bus.BucketExports named by Object.
type reply struct {
	Error     string            `json:"error,omitempty"`
	Stats     *graph.Stats      `json:"stats,omitempty"`
	Documents map[string]string `json:"documents,omitempty"`
	Object    string            `json:"object,omitempty"`
}

// replyHeadroom is what a reply leaves of the connection's maximum payload
// for the protocol around it.
const replyHeadroom = 4 << 10

// How many requests of a subject are answered at a time. An export reads
// the whole graph and writes it to a temporary file: a burst of them (a
// script in a loop, a dashboard polling) would otherwise run all at once,
// each holding its file and the store's readers. Requests beyond the limit
// wait in the subscription's queue, in order; each subject has its own, so
// counts are answered while exports run.
var limits = map[string]int{SubjectStats: 4, SubjectDocuments: 2, SubjectExport: 2}

// Serve answers graph queries from st until ctx is done. An export is
// written to a temporary file in tempDir ("" for the system's) first.
func Serve(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, st graph.Store, tempDir string, log *slog.Logger) error {
	handle := func(m *nats.Msg) {
		defer func() {
			// A store or driver bug hit by one query fails that query, not
			// the graph writer that serves it.
			if v := recover(); v != nil {
				log.Error("graph api request panicked", slog.String("subject", m.Subject),
					slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
				data, _ := json.Marshal(reply{Error: fmt.Sprintf("internal error answering %s: %v", m.Subject, v)})
				_ = m.Respond(data)
			}
		}()
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
		if r.Documents != nil && int64(len(data)) > nc.MaxPayload()-replyHeadroom {
			// A folder of many files: 100,000 paths with their sha256 are
			// over 10 MB, more than a NATS message may carry.
			name, err := putObject(ctx, js, func(w io.Writer) error { return json.NewEncoder(w).Encode(r.Documents) }, tempDir)
			if err != nil {
				r = reply{Error: "documents: " + err.Error()}
			} else {
				r = reply{Object: name}
			}
			data, _ = json.Marshal(r)
		}
		if err := m.Respond(data); err != nil {
			log.Warn("graph api reply failed", slog.String("subject", m.Subject), slog.Any(logging.KeyErr, err))
		}
	}
	var subs []*nats.Subscription
	unsubscribe := func() error {
		var errs []error
		for _, sub := range subs {
			errs = append(errs, sub.Unsubscribe())
		}
		return errors.Join(errs...)
	}
	for _, subject := range []string{SubjectStats, SubjectDocuments, SubjectExport} {
		// The callback of a subscription runs on a goroutine of its own;
		// while every slot is taken it waits there, and the subject's
		// requests wait in the subscription's queue.
		slots := make(chan struct{}, limits[subject])
		sub, err := nc.QueueSubscribe(subject, queue, func(m *nats.Msg) {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				defer func() { <-slots }()
				handle(m)
			}()
		})
		if err != nil {
			return errors.Join(fmt.Errorf("serve graph api: %w", err), unsubscribe())
		}
		subs = append(subs, sub)
	}
	<-ctx.Done()
	return unsubscribe()
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
	name, err := putObject(ctx, js, func(w io.Writer) error { return write(ctx, st, w) }, tempDir)
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	return name, nil
}

// putObject stores what write writes in a new object of
// bus.BucketExports, through a temporary file in tempDir ("" for the
// system's), and returns its name.
func putObject(ctx context.Context, js jetstream.JetStream, write func(io.Writer) error, tempDir string) (string, error) {
	if tempDir != "" {
		if err := os.MkdirAll(tempDir, 0o750); err != nil {
			return "", err
		}
	}
	f, err := os.CreateTemp(tempDir, "docgraph-export-*")
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close(); _ = os.Remove(f.Name()) }()
	if err := write(f); err != nil {
		return "", err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	obs, err := js.ObjectStore(ctx, bus.BucketExports)
	if err != nil {
		return "", err
	}
	name := "export-" + nuid.Next()
	if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: name}, f); err != nil {
		return "", err
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

// Documents asks a running graph writer for every Document's sha256. A
// list too large for one NATS message comes through the object store.
func Documents(ctx context.Context, nc *nats.Conn, js jetstream.JetStream) (map[string]string, error) {
	r, err := request(ctx, nc, SubjectDocuments, struct{}{}, time.Minute)
	if err != nil {
		return nil, err
	}
	if r.Object == "" {
		return r.Documents, nil
	}
	var docs map[string]string
	err = fetchObject(ctx, js, r.Object, func(rd io.Reader) error { return json.NewDecoder(rd).Decode(&docs) })
	if err != nil {
		return nil, fmt.Errorf("documents: %w", err)
	}
	return docs, nil
}

// Export asks a running graph writer for an export and copies it to w.
func Export(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, format string, w io.Writer) error {
	r, err := request(ctx, nc, SubjectExport, exportRequest{Format: format}, 10*time.Minute)
	if err != nil {
		return err
	}
	err = fetchObject(ctx, js, r.Object, func(rd io.Reader) error {
		_, err := io.Copy(w, rd)
		return err
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// fetchObject hands the object name of bus.BucketExports to read, then
// deletes it.
func fetchObject(ctx context.Context, js jetstream.JetStream, name string, read func(io.Reader) error) error {
	obs, err := js.ObjectStore(ctx, bus.BucketExports)
	if err != nil {
		return err
	}
	objects, err := bus.NewObjects(ctx, js, bus.BucketExports)
	if err != nil {
		return err
	}
	obj, err := objects.Open(ctx, name)
	if err != nil {
		return err
	}
	err = read(obj)
	_ = obj.Close()
	if derr := obs.Delete(ctx, name); err == nil && derr != nil {
		err = derr
	}
	return err
}
