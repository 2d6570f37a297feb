package parser

import (
	"sync"

	"github.com/xuri/excelize/v2"
)

// rowFeed runs excelize's row iterator in a goroutine of its own, ahead of
// the reader. Decoding the worksheet's XML is most of a sheet's parse; fed
// this way it runs beside the worksheet check (checkWorksheet, which must
// finish before the first row is used), the cell scan and the reader's own
// work, on another core, rather than after them.
//
// What it holds ahead is bounded: feedBatches batches of at most
// feedBatchRows rows or feedBatchBytes of cells.
type rowFeed struct {
	rows    rowIterator
	batches chan feedBatch
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	// batchRows and batchBytes bound a batch.
	batchRows, batchBytes int

	cur feedBatch
	i   int
	end bool
	err error // the iterator's error at the end
}

// feedBatch is consecutive rows of the iterator. The batch that ends the
// feed (end) carries the iterator's error, if any; one whose last row
// could not be read carries that row's error (colErr) and ends it too; a
// panic in the iterator ends it with the panic's description.
type feedBatch struct {
	rows   [][]string
	end    bool
	err    error
	colErr error
	panic  string
}

const (
	feedBatches    = 64
	feedBatchRows  = 512
	feedBatchBytes = 128 << 10
)

// rowIterator is what rowFeed uses of excelize's *Rows.
type rowIterator interface {
	Next() bool
	Columns(opts ...excelize.Options) ([]string, error)
	Error() error
}

// newRowFeed starts reading rows.
func newRowFeed(rows rowIterator) *rowFeed {
	return startRowFeed(rows, feedBatches, feedBatchRows, feedBatchBytes)
}

// startRowFeed starts reading rows ahead into batches of at most batchRows
// rows or batchBytes of cells, and at most batches of them.
func startRowFeed(rows rowIterator, batches, batchRows, batchBytes int) *rowFeed {
	f := &rowFeed{
		rows:       rows,
		batches:    make(chan feedBatch, batches),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		batchRows:  batchRows,
		batchBytes: batchBytes,
	}
	go f.run()
	return f
}

func (f *rowFeed) run() {
	defer close(f.done)
	var b feedBatch
	size := 0
	send := func() bool {
		select {
		case f.batches <- b:
			b, size = feedBatch{}, 0
			return true
		case <-f.stop:
			return false
		}
	}
	defer func() {
		if v := recover(); v != nil {
			b.end, b.panic = true, panicText(v)
			send()
		}
	}()
	for {
		if !f.rows.Next() {
			b.end, b.err = true, f.rows.Error()
			send()
			return
		}
		cells, err := f.rows.Columns()
		if err != nil {
			b.end, b.colErr = true, err
			send()
			return
		}
		b.rows = append(b.rows, cells)
		size += 16 * (len(cells) + 2) // the slice and string headers
		for _, c := range cells {
			size += len(c)
		}
		if (len(b.rows) >= f.batchRows || size >= f.batchBytes) && !send() {
			return
		}
	}
}

// next returns the next row's cells (nil for an empty row). ok is false at
// the end of the rows, where err is the iterator's error (nil at the end
// of the sheet). colErr is the error reading the row's cells; the feed
// ends with it.
func (f *rowFeed) next() (cells []string, ok bool, colErr, err error) {
	for f.i == len(f.cur.rows) {
		if f.end {
			return nil, false, nil, f.err
		}
		if f.cur.colErr != nil {
			f.end = true
			return nil, true, f.cur.colErr, nil
		}
		if f.cur.panic != "" {
			panic(f.cur.panic) // in the reader's goroutine, which reports it
		}
		if f.cur.end {
			f.end, f.err = true, f.cur.err
			continue
		}
		f.cur, f.i = <-f.batches, 0
	}
	f.i++
	return f.cur.rows[f.i-1], true, nil, nil
}

// close stops the feed and waits for its goroutine, so that the iterator
// can be closed.
func (f *rowFeed) close() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
}
