// Package graphwriter is the graph-writer stage: it batches extractions and
// records into the graph store, acking each message only after the batch
// that holds it is committed.
package graphwriter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Config sizes batches adaptively: Small below 500 pending messages,
// Medium from 500 to 5,000, Large above 5,000.
type Config struct {
	Small, Medium, Large int
	MaxLatency           time.Duration
}

// Backlog thresholds of the adaptive batch size.
const (
	MediumFrom = 500
	LargeAbove = 5000
)

// BatchSize returns the batch size for a backlog of pending messages.
func (c Config) BatchSize(pending uint64) int {
	switch {
	case pending < MediumFrom:
		return c.Small
	case pending <= LargeAbove:
		return c.Medium
	default:
		return c.Large
	}
}

// Writer applies batches of messages to a graph store.
type Writer struct {
	// MaxRows bounds the rows (nodes, relationships and mentions) of one
	// store transaction: a batch with more is written as consecutive
	// transactions of whole messages (a message alone may exceed it).
	// 0: no bound. Set it before the writer handles messages.
	MaxRows int

	store   graph.Store
	log     *slog.Logger
	batches prometheus.Histogram
	splits  prometheus.Counter
	gaz     Gazetteer
	gazSet  map[string]bool
}

// Gazetteer records which known entities the structured sources state
// (pkg/gazetteer.Book).
type Gazetteer interface {
	Upsert(ctx context.Context, ents []gazetteer.Entry, path, sha string, version uint64) error
	Withdraw(ctx context.Context, path string, version uint64) error
}

// New returns a writer on store. If gaz is not nil, every committed batch
// also updates it with the nodes of gazLabels that spreadsheet rows state,
// and withdraws what older versions or deleted files stated.
func New(store graph.Store, logger *slog.Logger, reg prometheus.Registerer, gaz Gazetteer, gazLabels []string) (*Writer, error) {
	if store == nil {
		return nil, errors.New("graphwriter: store required")
	}
	w := &Writer{
		store: store,
		log:   logger.With(slog.String(logging.KeyStage, "graph-writer")),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "batch_messages",
			Help:    "Messages per committed graph write batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		splits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "graph", Name: "batch_splits_total",
			Help: "Batches split in two to isolate a failing message.",
		}),
		gaz:    gaz,
		gazSet: map[string]bool{},
	}
	for _, l := range gazLabels {
		w.gazSet[l] = true
	}
	for _, c := range []prometheus.Collector{w.batches, w.splits} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register graph writer metrics: %w", err)
		}
	}
	return w, nil
}

// decode is Decode; tests replace it to make it fail.
var decode = Decode

// Decode turns one message into its store operation.
func Decode(m pipeline.Message) (graph.Op, error) {
	switch m.Subject {
	case event.SubjectExtraction:
		var x event.Extraction
		if err := m.Decode(&x); err != nil {
			return graph.Op{}, err
		}
		return graph.Op{PutChunk: &x}, nil
	case event.SubjectExtractionDeletion:
		var d event.ExtractionDeletion
		if err := m.Decode(&d); err != nil {
			return graph.Op{}, err
		}
		return graph.Op{DeleteDocument: &d}, nil
	case event.SubjectRecords:
		var r event.Records
		if err := m.Decode(&r); err != nil {
			return graph.Op{}, err
		}
		return graph.Op{PutRecords: &r}, nil
	}
	return graph.Op{}, pipeline.Permanent(fmt.Errorf("graph writer: unexpected subject %q", m.Subject))
}

// Handle is the stage's pipeline.BatchHandler. Undecodable messages fail
// alone; the rest is written in one transaction, or in consecutive ones of
// at most MaxRows rows, each decoded while the one before is written. If a
// transaction fails for a reason other than the store being unavailable,
// its messages are bisected until the offending ones are isolated: they
// fail as permanent, everything else is written.
func (w *Writer) Handle(ctx context.Context, msgs []pipeline.Message) []error {
	errs := make([]error, len(msgs))
	d := &decoder{msgs: msgs, errs: errs, maxRows: w.MaxRows}
	g := d.group()
	for len(g.ops) > 0 {
		next := make(chan group, 1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					next <- group{panicked: fmt.Sprintf("decoding: %v\n\n%s", v, debug.Stack())}
				}
			}()
			next <- d.group()
		}()
		w.write(ctx, g.ops, g.idx, errs)
		first := errs[g.idx[0]]
		g = <-next
		if g.panicked != nil {
			// Raised where the runner recovers it: the batch is retried
			// message by message, and the one that panics fails alone.
			panic(g.panicked)
		}
		if first != nil && len(g.ops) > 0 && (pipeline.IsUnavailable(first) || ctx.Err() != nil) {
			// The store is unavailable or the work was cancelled: the rest
			// is not written ahead of these ops but retried with them.
			for ; len(g.idx) > 0; g = d.group() {
				for _, i := range g.idx {
					errs[i] = first
				}
			}
			break
		}
	}
	return errs
}

// group is the ops of one transaction and the indexes of their messages.
type group struct {
	ops      []graph.Op
	idx      []int
	panicked any // a panic while decoding it, with the decoder's stack
}

// decoder cuts a batch into groups of at most maxRows rows as it decodes.
type decoder struct {
	msgs    []pipeline.Message
	errs    []error // an undecodable message's error; nothing else is set
	maxRows int
	next    int
	held    *graph.Op // decoded but over the previous group's bound
}

// group decodes the next group (empty at the end).
func (d *decoder) group() group {
	var g group
	rows := 0
	for d.next < len(d.msgs) {
		var op graph.Op
		if d.held != nil {
			op, d.held = *d.held, nil
		} else {
			var err error
			if op, err = decode(d.msgs[d.next]); err != nil {
				d.errs[d.next] = err
				d.next++
				continue
			}
		}
		r := opRows(op)
		if d.maxRows > 0 && len(g.ops) > 0 && rows+r > d.maxRows {
			d.held = &op
			break
		}
		rows += r
		g.ops = append(g.ops, op)
		g.idx = append(g.idx, d.next)
		d.next++
	}
	return g
}

// opRows is the number of rows an op writes.
func opRows(op graph.Op) int {
	switch {
	case op.PutChunk != nil:
		return 1 + len(op.PutChunk.Mentions) + len(op.PutChunk.Relationships)
	case op.PutRecords != nil:
		return max(1, len(op.PutRecords.Nodes)+len(op.PutRecords.Relationships))
	}
	return 1
}

func (w *Writer) write(ctx context.Context, ops []graph.Op, idx []int, errs []error) {
	if len(ops) == 0 {
		return
	}
	err := w.store.Apply(ctx, ops)
	if err == nil {
		w.batches.Observe(float64(len(ops)))
		w.logBatch(ctx, ops)
		if gerr := w.syncGazetteer(ctx, ops); gerr != nil {
			// The graph is committed; a retry rewrites it (idempotent) and
			// updates the gazetteer again.
			for _, i := range idx {
				errs[i] = fmt.Errorf("update gazetteer: %w", gerr)
			}
		}
		return
	}
	switch {
	case errors.Is(err, graph.ErrUnavailable):
		for _, i := range idx {
			errs[i] = pipeline.Unavailable(fmt.Errorf("write graph: %w", err))
		}
		return
	case ctx.Err() != nil:
		for _, i := range idx {
			errs[i] = fmt.Errorf("write graph: %w", err)
		}
		return
	case len(ops) == 1 && errors.Is(err, graph.ErrResources):
		// Retried with backoff: alone, or with less held meanwhile, it
		// may fit.
		errs[idx[0]] = fmt.Errorf("write graph (%s): %w", describe(ops[0]), err)
		return
	case len(ops) == 1:
		errs[idx[0]] = pipeline.Permanent(fmt.Errorf("write graph (%s): %w", describe(ops[0]), err))
		return
	}
	w.splits.Inc()
	mid := len(ops) / 2
	w.write(ctx, ops[:mid], idx[:mid], errs)
	w.write(ctx, ops[mid:], idx[mid:], errs)
}

func describe(op graph.Op) string {
	switch {
	case op.PutChunk != nil:
		return "chunk " + op.PutChunk.Chunk.Key() + " of " + op.PutChunk.Chunk.Document.Path
	case op.DeleteDocument != nil:
		return "delete " + op.DeleteDocument.Path
	case op.PutRecords != nil:
		return fmt.Sprintf("records batch %d of %s", op.PutRecords.Batch, op.PutRecords.Source.Path)
	}
	return "empty op"
}

// syncGazetteer records the known entities of committed ops.
func (w *Writer) syncGazetteer(ctx context.Context, ops []graph.Op) error {
	if w.gaz == nil {
		return nil
	}
	for _, op := range ops {
		switch {
		case op.PutRecords != nil:
			r := op.PutRecords
			var ents []gazetteer.Entry
			for _, n := range r.Nodes {
				if !w.gazSet[n.Label] {
					continue
				}
				name, _ := n.Properties["name"].(string)
				if name == "" {
					continue
				}
				ents = append(ents, gazetteer.Entry{Label: n.Label, Key: n.Key, Name: name})
			}
			if err := w.gaz.Upsert(ctx, ents, r.Source.Path, r.Source.SHA256, r.Source.Version); err != nil {
				return err
			}
			if r.Final {
				if err := w.gaz.Withdraw(ctx, r.Source.Path, r.Source.Version); err != nil {
					return err
				}
			}
		case op.DeleteDocument != nil:
			// Through the deletion's version: the parser withdraws a
			// version it could not read to the end under that version's
			// own number, and records of it may have come before (or come
			// late). Versions are stream sequences, so +1 is the next one.
			if err := w.gaz.Withdraw(ctx, op.DeleteDocument.Path, op.DeleteDocument.Version+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// logBatch tells the operator what a committed batch changed: one line per
// batch, naming a few of the documents written and of those deleted.
func (w *Writer) logBatch(ctx context.Context, ops []graph.Op) {
	docs, gone := map[string]bool{}, map[string]bool{}
	var chunks, records int
	for _, op := range ops {
		switch {
		case op.PutChunk != nil:
			chunks++
			docs[op.PutChunk.Chunk.Document.Path] = true
		case op.PutRecords != nil:
			records += len(op.PutRecords.Nodes)
			docs[op.PutRecords.Source.Path] = true
		case op.DeleteDocument != nil:
			gone[op.DeleteDocument.Path] = true
		}
	}
	attrs := []any{slog.Int("chunks", chunks), slog.Int("record_nodes", records),
		slog.Int("deleted_documents", len(gone)), slog.Int("documents", len(docs))}
	if len(docs) > 0 {
		attrs = append(attrs, slog.Any("e.g.", someOf(docs)))
	}
	if len(gone) > 0 {
		attrs = append(attrs, slog.Any("deleted_e.g.", someOf(gone)))
	}
	w.log.InfoContext(ctx, "graph updated", attrs...)
}

// someOf returns up to three of the set's members, sorted.
func someOf(set map[string]bool) []string {
	names := slices.Sorted(maps.Keys(set))
	return names[:min(len(names), 3)]
}
