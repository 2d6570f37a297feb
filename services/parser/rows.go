package parser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
)

// How a table is read.
//
// One goroutine reads the rows (the table readers are sequential) and cuts
// them into batches of BatchSize rows, copying their cells; MapWorkers
// goroutines map each batch's rows to records and encode its message; the
// caller's goroutine emits the messages, and logs rejected rows, in batch
// order. A batch's content depends only on its rows, so the messages are
// the same whatever the number of workers.

// rowBatch is BatchSize consecutive rows of a table (fewer for the last).
type rowBatch struct {
	seq   int
	final bool
	lines []int
	cells [][]string        // by row; nil for a row the reader rejected
	typed [][]int           // by row: tableRow.typed
	errs  []*event.RowError // by row; the reader's error, or nil
	done  chan batchResult  // receives the mapped batch, once
}

type batchResult struct {
	msg      *pipeline.Message // nil when validating only
	rejected []event.RowError
	err      error
	panic    string // a panic of the worker, with its stack
}

// readerPanic is a panic of the goroutine reading the rows, with its
// stack: readTable raises it again in the caller's goroutine, where the
// stage runner recovers handler panics, instead of crashing the process.
type readerPanic string

func (p readerPanic) Error() string { return string(p) }

// panicText describes a panic recovered in a goroutine of the parser's
// own, with that goroutine's stack, for raising it again in the caller's
// goroutine (where the stage runner recovers handler panics).
func panicText(v any) string { return fmt.Sprintf("%v\n\n%s", v, debug.Stack()) }

// batchQueue bounds the batches read ahead of the emitter, per worker.
const batchQueue = 2

// readTable reads one table and emits its batches (emit nil: validate
// only). It returns the number of rows read.
func (s *Structured) readTable(ctx context.Context, doc event.Document, src *schema.Source, open func(context.Context) (tableReader, error), emit pipeline.Emit) (rows int, err error) {
	tr, err := open(ctx)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := tr.close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close: %w", doc.Path, cerr)
		}
	}()
	if s.cfg.OnTable != nil {
		s.cfg.OnTable(Table{
			File: doc.Path, Source: src.Name, Format: src.Format, Sheet: tr.sheetName(),
			HeaderLine: tr.headerLine(), Header: slices.Clone(tr.header()), Columns: MatchColumns(src, tr.header()),
		})
	}
	rm, err := newRowMapper(tr.where(), src, tr.header(), tr.headerLine(), tr.cellKind(), tr.headerHeadings())
	if err != nil {
		return 0, err
	}
	tr.selectColumns(rm.usedColumns())

	workers := max(1, s.cfg.MapWorkers)
	// Mappers keep per-row state and caches: one per worker (the header
	// is the one validated above).
	mappers := []*rowMapper{rm}
	for len(mappers) < workers {
		m, err := newRowMapper(tr.where(), src, tr.header(), tr.headerLine(), tr.cellKind(), tr.headerHeadings())
		if err != nil {
			return 0, err
		}
		mappers = append(mappers, m)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	work := make(chan *rowBatch, workers*batchQueue)
	order := make(chan *rowBatch, workers*batchQueue)
	g.Go(func() (err error) {
		defer close(work)
		defer close(order)
		defer func() {
			if v := recover(); v != nil {
				err = readerPanic(doc.Path + ": reading rows: " + panicText(v))
			}
		}()
		n, err := s.cutBatches(gctx, tr, work, order)
		rows = n
		return err
	})
	for _, m := range mappers {
		b := &recordBatcher{doc: doc, source: src.Name, emit: emit}
		g.Go(func() error {
			for rb := range work {
				rb.done <- b.safeMapBatch(m, src, rb)
			}
			return nil
		})
	}
	// The reader and the workers stop before the table closes, also when
	// emit fails or panics.
	waited := false
	var waitErr error
	wait := func() {
		cancel()
		for range order { //nolint:revive // drain: the reader may be sending
		}
		waitErr, waited = g.Wait(), true
	}
	defer func() {
		if !waited {
			wait()
		}
	}()
	emitErr := s.emitBatches(gctx, doc, src, emit, order)
	if emitErr == nil {
		// Every batch was emitted: the reader and the workers are done.
		waitErr, waited = g.Wait(), true
	} else {
		wait()
	}
	if p, ok := errors.AsType[readerPanic](waitErr); ok {
		panic(string(p))
	}
	if emitErr == nil || (waitErr != nil && !errors.Is(waitErr, context.Canceled)) {
		return rows, waitErr // nil, or the reader's error, which stopped the emitter
	}
	return rows, emitErr
}

// cutBatches reads tr's rows into batches, each sent to work (for a
// worker) and to order (for the emitter, in sequence). The last batch,
// possibly empty, is final.
func (s *Structured) cutBatches(ctx context.Context, tr tableReader, work, order chan<- *rowBatch) (rows int, err error) {
	size := s.cfg.BatchSize
	seq := 0
	var cur *rowBatch
	arena := make([]byte, 0, 64*size)
	var offs [][2]int // cell text bounds in arena, row by row
	var widths []int
	send := func(final bool) error {
		text := string(arena)
		all := make([]string, len(offs))
		for k, o := range offs {
			all[k] = text[o[0]:o[1]]
		}
		k := 0
		for i, w := range widths {
			if cur.errs[i] != nil {
				continue
			}
			cur.cells[i] = all[k : k+w : k+w]
			k += w
		}
		cur.final = final
		for _, ch := range []chan<- *rowBatch{order, work} {
			select {
			case ch <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		seq++
		cur, arena, offs, widths = nil, arena[:0], offs[:0], widths[:0] // text copied the arena
		return nil
	}
	for {
		if cur == nil {
			cur = &rowBatch{seq: seq, done: make(chan batchResult, 1),
				lines: make([]int, 0, size), cells: make([][]string, 0, size), typed: make([][]int, 0, size),
				errs: make([]*event.RowError, 0, size)}
		}
		row, ok, err := tr.next(ctx)
		if err != nil {
			return rows, err
		}
		if !ok {
			return rows, send(true)
		}
		rows++
		cur.lines = append(cur.lines, row.line)
		cur.errs = append(cur.errs, row.rowErr)
		cur.cells = append(cur.cells, nil)
		cur.typed = append(cur.typed, row.typed)
		widths = append(widths, len(row.cells))
		if row.rowErr == nil {
			for _, c := range row.cells {
				offs = append(offs, [2]int{len(arena), len(arena) + len(c)})
				arena = append(arena, c...)
			}
		}
		if len(cur.lines) == size {
			if err := send(false); err != nil {
				return rows, err
			}
		}
	}
}

// safeMapBatch is mapBatch with a panic returned, so that the emitter
// raises it in the caller's goroutine (where the stage runner recovers
// handler panics) instead of crashing the process.
func (b *recordBatcher) safeMapBatch(rm *rowMapper, src *schema.Source, rb *rowBatch) (res batchResult) {
	defer func() {
		if v := recover(); v != nil {
			res = batchResult{panic: fmt.Sprintf("%s: batch %d: %s", b.doc.Path, rb.seq, panicText(v))}
		}
	}()
	return b.mapBatch(rm, src, rb)
}

// mapBatch maps the rows of rb to records and encodes them.
func (b *recordBatcher) mapBatch(rm *rowMapper, src *schema.Source, rb *rowBatch) batchResult {
	b.cur.Batch = rb.seq
	b.reset()
	for i, line := range rb.lines {
		rowErr := rb.errs[i]
		if rowErr == nil {
			rowErr = rm.mapRow(line, rb.cells[i], rb.typed[i], b)
		}
		if rowErr == nil {
			continue
		}
		if src.OnRowError == schema.OnRowErrorReject {
			return batchResult{err: pipeline.Permanent(fmt.Errorf("%s: %s (on_row_error: reject_file)", b.doc.Path, rowErr.String()))}
		}
		if b.emit != nil {
			b.cur.Rejected = append(b.cur.Rejected, *rowErr)
		}
	}
	if b.emit == nil {
		return batchResult{}
	}
	if rb.final {
		b.cur.Final = true
		b.cur.Batches = rb.seq + 1
	}
	msg, err := b.encode()
	// The batcher reuses its slices for the next batch.
	return batchResult{msg: msg, rejected: slices.Clone(b.cur.Rejected), err: err}
}

// encode renders the current batch as a Records message.
func (b *recordBatcher) encode() (*pipeline.Message, error) {
	data, err := appendRecordsJSON(make([]byte, 0, b.bufSize), &b.cur, b.nodeProps, b.relProps)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: batch %d: %w", b.doc.Path, b.cur.Batch, err))
	}
	b.bufSize = max(b.bufSize, len(data)+len(data)/8)
	// The headers are NewMessage's; the payload is encoded above.
	msg, err := pipeline.NewMessage(event.SubjectRecords, nil)
	if err != nil {
		return nil, pipeline.Permanent(fmt.Errorf("%s: batch %d: %w", b.doc.Path, b.cur.Batch, err))
	}
	msg.Data = data
	msg.ID = RecordsMsgID(b.doc, b.cur.Batch)
	return &msg, nil
}

// emitBatches emits the mapped batches in order and logs rejected rows.
func (s *Structured) emitBatches(ctx context.Context, doc event.Document, src *schema.Source, emit pipeline.Emit, order <-chan *rowBatch) error {
	rejected := 0
	for rb := range order {
		var res batchResult
		select {
		case res = <-rb.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res.panic != "" {
			panic(res.panic)
		}
		if res.err != nil {
			return res.err
		}
		if emit == nil {
			continue
		}
		for _, e := range res.rejected {
			if rejected++; rejected <= rowWarnings {
				s.log.WarnContext(ctx, "row rejected",
					slog.String("file", doc.Path), slog.Int("line", e.Line),
					slog.String("column", e.Column), slog.String("value", e.Value),
					slog.String("err", e.Error))
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(*res.msg); err != nil {
			return err
		}
		if len(res.rejected) > 0 && s.cfg.OnRejected != nil {
			s.cfg.OnRejected(doc.Path, res.rejected)
		}
	}
	if emit != nil && rejected > rowWarnings {
		s.log.WarnContext(ctx, "rows rejected",
			slog.String("file", doc.Path), slog.Int("rejected", rejected), slog.Int("logged", rowWarnings))
	}
	return ctx.Err()
}
