package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/services/watcher"
)

const ingestHelp = `Ingests the given folders or files once: every file passes every stage (or is
dead-lettered) before the command returns. Document keys are paths relative to the
folder argument (a file argument: its base name), so ingesting a folder and watching it
give the same keys. Arguments that would give two files one key (x.md in two folders) or
one file two keys (a folder and a folder inside it) are refused before anything is
published. Unchanged files (same bytes at the same path, as recorded under --data) are
not published again; files that have disappeared from a folder since it was last
ingested or watched are deleted from the graph. Documents of other folders in the same
--data are kept (to remove a folder's documents, empty it and ingest it with
--watch.allow_empty: a folder that held files and is found empty, a share not
mounted, keeps them by default, and ingest fails saying so). The graph
stays in --data, where 'docgraph graph' finds it. One process at a time uses a data
directory: ingest fails at once while 'docgraph up' runs on --data (drop the files into
its watched folder instead). Exits 1 if any file failed, including unchanged files whose
current version was dead-lettered earlier and has not been replayed or purged since
('docgraph dlq'). Given --metrics.addr (or DOCGRAPH_METRICS_ADDR), it serves /metrics,
/healthz and /readyz while it runs, as 'docgraph up' does; by default it serves none.`

func cmdIngest(ctx context.Context, e env, args []string) (err error) {
	var quiet bool
	cfg, paths, err := parseFlags(e, "ingest", "[flags] FOLDER|FILE...", ingestHelp, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	})
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		if cfg.Watch.Dir != "" {
			return fmt.Errorf("ingest: at least one folder or file required (ingest takes them as arguments: 'docgraph ingest %s')", cfg.Watch.Dir)
		}
		return fmt.Errorf("ingest: at least one folder or file required")
	}
	if !flagGiven(args, "log-level", "log.level") && e.getenv("DOCGRAPH_LOG_LEVEL") == "" {
		cfg.Log.Level = "warn" // the summary says what happened
	}
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	targets, err := ingestTargets(ctx, paths, cfg)
	if err != nil {
		return err
	}
	// A schema with errors, or a missing API key, fails before anything starts.
	if _, _, err := loadSchemas(cfg); err != nil {
		return err
	}
	if err := llmKeyMissing(cfg, []string{bus.StageExtractor}); err != nil {
		return err
	}
	start := time.Now()
	lock, err := lockData(cfg, "ingest", true, false)
	if err != nil {
		return err
	}
	defer func() { err = releaseData(lock, err) }()
	metricsLn, err := ingestMetrics(e, args, cfg)
	if err != nil {
		return err
	}
	if metricsLn != nil {
		defer metricsLn.Close() // closed already once the server has run
	}
	s, err := startSystem(ctx, cfg, log, systemOptions{resume: true})
	if err != nil {
		return err
	}
	defer s.close()
	if err := recordNATS(lock, s, "ingest"); err != nil {
		return err
	}

	tr := newTracker()
	skipped := newRejectedRows()
	s.rowsRejected = skipped.add
	runCtx, stopRunners := context.WithCancel(ctx)
	defer stopRunners()
	g, gctx := errgroup.WithContext(runCtx)
	// Its graph writer is one more on the NATS, like a worker's: with
	// --nats, one with an embedded graph there (or this one's) would split
	// the graph between them.
	claim, err := claimGraphWriter(ctx, cfg, s, "ingest", log)
	if err != nil {
		return err
	}
	g.Go(func() error { return claim.Run(gctx) })
	var runners []*pipeline.Runner
	for _, stage := range []string{bus.StageParser, bus.StageExtractor, bus.StageGraphWriter} {
		rs, err := s.stageRunners(ctx, stage)
		if err != nil {
			return err
		}
		runners = append(runners, rs...)
	}
	if err := s.startTasks(gctx, g); err != nil {
		return err
	}
	g.Go(func() error { return s.serveHTTP(gctx, metricsLn) })
	for _, r := range runners {
		r.Observe(tr)
		g.Go(func() error { return r.Run(gctx) })
	}
	// Every stage consumes before the files go in: waiting for the
	// pipeline to go quiet reads the stages' consumers.
	for _, r := range runners {
		select {
		case <-r.Consuming():
		case <-gctx.Done():
			stopRunners()
			if err := g.Wait(); err != nil {
				return err
			}
			return fmt.Errorf("ingest interrupted: %w", context.Cause(gctx))
		}
	}
	s.running.add(runners...)
	s.ready.Store(true)

	// abort stops the stages and waits for them before an early return, so
	// that the deferred s.close does not close the graph store under a
	// handler, which would dead-letter a good message (an interrupt while
	// the folder is scanned did).
	abort := func(err error) error {
		stopRunners()
		return errors.Join(err, g.Wait())
	}
	// The files go in as the scan reaches them, and the pipeline works on
	// them meanwhile: progress shows from the start of a large folder.
	var scanned atomic.Int64
	var scanDone atomic.Bool
	onResult := func(r watcher.Result) {
		scanned.Add(1)
		if r.Outcome == watcher.Published || r.Outcome == watcher.Deleted {
			tr.expect(r.CorrelationID, r.Path)
		}
	}
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	waited := make(chan error, 1)
	go func() {
		var rates progressRates
		waited <- tr.wait(waitCtx, func(p ingestProgress) {
			// The messages show a large spreadsheet's progress, one file
			// of hundreds of records messages.
			msgs := fmt.Sprintf("%d messages handled, %d waiting", p.handled, p.waiting)
			pace := rates.add(time.Now(), p, scanDone.Load())
			switch {
			case quiet:
			case !scanDone.Load():
				fmt.Fprintf(e.stderr, "ingest: scanning, %d files seen: %d/%d files through the pipeline (%s): %s%s%s\n",
					scanned.Load(), p.done, p.total, time.Since(start).Round(time.Second), msgs, pace, outages(runners))
			default:
				fmt.Fprintf(e.stderr, "ingest: %d/%d files through the pipeline (%s): %s%s%s\n",
					p.done, p.total, time.Since(start).Round(time.Second), msgs, pace, outages(runners))
			}
		})
	}()
	var reports []watcher.Report
	for _, tg := range targets {
		wcfg := watcherConfig(cfg, tg.root)
		wcfg.OnScanResult = onResult
		w, err := watcher.New(wcfg, s.js, log, prometheus.NewRegistry())
		if err != nil {
			return abort(err)
		}
		var rep watcher.Report
		if tg.files == nil {
			rep, err = w.Scan(ctx)
		} else {
			rep, err = w.ScanFiles(ctx, tg.files)
		}
		if err != nil {
			if ctx.Err() != nil {
				return abort(fmt.Errorf("ingest interrupted while scanning %s (run it again to finish): %w", tg.root, context.Cause(ctx)))
			}
			return abort(fmt.Errorf("ingest %s: %w", tg.root, err))
		}
		reports = append(reports, rep)
	}
	scanDone.Store(true)
	tr.sealed()

	waitErr := <-waited
	if waitErr == nil {
		waitErr = s.waitQuiet(ctx)
	}
	if waitErr == nil && ingestQuiet != nil {
		ingestQuiet(metricsLn)
	}
	stopRunners()
	if err := g.Wait(); err != nil {
		return err
	}
	if waitErr != nil {
		return fmt.Errorf("ingest interrupted (run it again to finish): %w", waitErr)
	}
	earlier, err := earlierFailures(ctx, s.js, reports)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	failed := printSummary(e.stdout, reports, tr, earlier, skipped, time.Since(start))
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

// outages describes the stages waiting out an outage of a dependency, or
// for room in JetStream, for ingest's progress line: "" when none is.
func outages(runners []*pipeline.Runner) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, r := range runners {
		paused, since, cause := r.Outage()
		if !paused || seen[r.Stage()] {
			continue
		}
		seen[r.Stage()] = true
		fmt.Fprintf(&b, "; %s paused for %s, waiting for: %v", r.Stage(), time.Since(since).Round(time.Second), cause)
	}
	// JetStream full holds every stage that publishes: said once.
	var full []string
	var fullSince time.Time
	var fullCause error
	for _, r := range runners {
		waiting, since, cause := r.WaitingForRoom()
		if !waiting || seen[r.Stage()] {
			continue
		}
		seen[r.Stage()] = true
		full = append(full, r.Stage())
		if fullCause == nil || since.Before(fullSince) {
			fullSince, fullCause = since, cause
		}
	}
	if len(full) > 0 {
		fmt.Fprintf(&b, "; %s waiting %s for room in JetStream (free disk space or raise nats.max_store): %v",
			strings.Join(full, ", "), time.Since(fullSince).Round(time.Second), fullCause)
	}
	return b.String()
}

// ingestTarget is a folder that ingest scans: whole (files nil), or only
// the named files in it, keyed by their names.
type ingestTarget struct {
	root  string
	files []string
	real  string // root with symlinks resolved
}

// ingestTargets turns ingest's arguments into folders to scan. Folders are
// scanned whole; files are grouped by their folder and keyed by their
// names. Arguments that would give one file two Document keys, or two files
// one key, are refused before anything is published: a folder inside
// another folder argument, a file inside a folder argument's subfolders,
// and two files at the same path relative to their folder arguments (the
// later would silently replace the earlier). What the watcher leaves out
// (the data directory, watch.ignore, formats docgraph does not read) is
// none of them.
func ingestTargets(ctx context.Context, paths []string, cfg config.Config) ([]ingestTarget, error) {
	var targets []ingestTarget
	byDir := map[string]int{}   // file arguments' folders
	byReal := map[string]bool{} // folder arguments
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		dir, name := abs, ""
		if !st.IsDir() {
			dir, name = filepath.Dir(abs), filepath.Base(abs)
		}
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		switch {
		case st.IsDir() && !byReal[real]:
			byReal[real] = true
			targets = append(targets, ingestTarget{root: abs, real: real})
		case !st.IsDir():
			i, ok := byDir[dir]
			if !ok {
				i = len(targets)
				byDir[dir] = i
				targets = append(targets, ingestTarget{root: dir, files: []string{}, real: real})
			}
			if !slices.Contains(targets[i].files, name) {
				targets[i].files = append(targets[i].files, name)
			}
		}
	}
	var kept []ingestTarget
	for _, t := range targets {
		inside := ""
		for _, f := range targets {
			if f.files == nil && f.real != t.real && strings.HasPrefix(t.real, f.real+string(filepath.Separator)) {
				inside = f.root
			}
		}
		switch {
		case t.files != nil && byReal[t.real]:
			continue // a folder argument covers these files, under the same keys
		case inside != "" && t.files == nil:
			return nil, fmt.Errorf("ingest: folder %s is inside folder %s: its files would be ingested twice, under two keys; give only one of them", t.root, inside)
		case inside != "":
			return nil, fmt.Errorf("ingest: %s is inside folder %s: it would be ingested twice, under two keys; give only one of them", filepath.Join(t.root, t.files[0]), inside)
		}
		kept = append(kept, t)
	}
	if len(kept) < 2 {
		return kept, nil
	}
	owner := map[string]string{} // Document key -> the file that has it
	for _, t := range kept {
		keys := t.files
		if keys == nil {
			var err error
			if keys, err = watcher.Paths(ctx, watcherConfig(cfg, t.root)); err != nil {
				return nil, fmt.Errorf("ingest: %w", err)
			}
		}
		for _, k := range keys {
			file := filepath.Join(t.root, filepath.FromSlash(k))
			if other, ok := owner[k]; ok && other != file {
				return nil, fmt.Errorf("ingest: %s and %s would both be document %q (a document's key is its path relative to the folder argument, or a file argument's name): give a folder that holds both instead, or ingest them into different --data", other, file, k)
			}
			owner[k] = file
		}
	}
	return kept, nil
}

// ingestQuiet, when set (by tests), is called once every file has passed
// the pipeline, before the stages stop, with the metrics listener (nil
// when ingest serves none).
var ingestQuiet func(metrics net.Listener)

// ingestMetrics binds metrics.addr for an ingest asked to serve /metrics,
// /healthz and /readyz while it runs: by the flag, by
// DOCGRAPH_METRICS_ADDR, or by a config file naming another address than
// the default. Otherwise a one-shot run serves nothing, and never takes
// the default port from a 'docgraph up' on another data directory.
func ingestMetrics(e env, args []string, cfg config.Config) (net.Listener, error) {
	if !flagGiven(args, "metrics-addr", "metrics.addr") && e.getenv("DOCGRAPH_METRICS_ADDR") == "" &&
		cfg.Metrics.Addr == config.Default().Metrics.Addr {
		return nil, nil
	}
	return listenMetrics(cfg)
}

// flagGiven reports whether args set one of the named flags.
func flagGiven(args []string, names ...string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		a = strings.TrimLeft(a, "-")
		name, _, _ := strings.Cut(a, "=")
		if slices.Contains(names, name) {
			return true
		}
	}
	return false
}

// earlierFailures returns the dead letters of the unchanged files' current
// versions, by correlation ID: files that failed in an earlier run and have
// not been changed, replayed or purged since, so that running ingest again
// still reports them. A dead letter counts when it is about the file's
// bytes (its correlation ID names path and sha256) and was dead-lettered
// after the path's last event was published: one from an earlier
// publication of the same bytes (A, B, then A again) does not.
func earlierFailures(ctx context.Context, js jetstream.JetStream, reports []watcher.Report) (map[string][]bus.DeadLetter, error) {
	unchanged := map[string]watcher.Result{}
	for _, rep := range reports {
		for _, r := range rep.Results {
			if r.Outcome == watcher.Unchanged {
				unchanged[watcher.CorrelationID(r.Path, r.SHA256)] = r
			}
		}
	}
	if len(unchanged) == 0 {
		return nil, nil
	}
	dls, err := bus.ListDeadLetters(ctx, js, bus.Filter{})
	if err != nil {
		return nil, err
	}
	files, err := js.Stream(ctx, bus.StreamFiles)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", bus.StreamFiles, err)
	}
	published := map[uint64]time.Time{} // by files stream sequence
	out := map[string][]bus.DeadLetter{}
	for _, dl := range dls {
		r, ok := unchanged[dl.CorrelationID]
		if !ok || deletionSubject(dl.OrigSubject) {
			continue
		}
		if dl.OrigStream == bus.StreamFiles && dl.OrigSeq > 0 {
			// A file event's dead letter: by sequence, which no clock
			// skew between servers can reorder (a replayed copy has a
			// later one).
			if dl.OrigSeq >= r.Seq {
				out[dl.CorrelationID] = append(out[dl.CorrelationID], dl)
			}
			continue
		}
		at, ok := published[r.Seq]
		if !ok {
			m, err := files.GetMsg(ctx, r.Seq)
			switch {
			case err == nil:
				at = m.Time
			case errors.Is(err, jetstream.ErrMsgNotFound):
				// Gone from the stream (its limits): the dead letter is
				// about these bytes, so it counts.
			default:
				return nil, fmt.Errorf("stream %s: event %d of %s: %w", bus.StreamFiles, r.Seq, r.Path, err)
			}
			published[r.Seq] = at
		}
		if dl.At.Before(at) {
			continue
		}
		out[dl.CorrelationID] = append(out[dl.CorrelationID], dl)
	}
	return out, nil
}

// printSummary prints the counts and one line per skipped or failed file,
// and returns the number of failures: files the watcher could not publish,
// messages of this run's files dead-lettered, and the dead letters of
// unchanged files (earlier, by correlation ID; see earlierFailures).
func printSummary(w io.Writer, reports []watcher.Report, tr *tracker, earlier map[string][]bus.DeadLetter, skipped *rejectedRows, took time.Duration) int {
	counts := map[watcher.Outcome]int{}
	var lines []string
	skippedBy := map[watcher.SkipReason][]string{}
	failed, rowsSkipped := 0, 0
	for _, rep := range reports {
		if rep.Held > 0 {
			failed++
			lines = append(lines, fmt.Sprintf("held    %s: the folder is empty; the %d files recorded for it stay in the graph (a share not mounted? if they were deleted on purpose, --watch.allow_empty withdraws them)",
				rep.Root, rep.Held))
		}
		for _, r := range rep.Results {
			counts[r.Outcome]++
			switch r.Outcome {
			case watcher.Skipped:
				skippedBy[r.Reason] = append(skippedBy[r.Reason], fmt.Sprintf("skipped %s: %s", r.Path, r.Detail))
			case watcher.Failed:
				failed++
				lines = append(lines, fmt.Sprintf("failed  %s: %v", r.Path, r.Err))
			case watcher.Published, watcher.Deleted:
				failures := tr.failures(r.CorrelationID)
				for _, msg := range failures {
					failed++
					lines = append(lines, fmt.Sprintf("failed  %s: %s", r.Path, msg))
				}
				if rows := skipped.of(r.Path); len(rows) > 0 && len(failures) == 0 {
					rowsSkipped += len(rows)
					lines = append(lines, fmt.Sprintf("rows    %s: %s", r.Path, describeSkipped(rows)))
				}
			case watcher.Unchanged:
				for _, dl := range earlier[watcher.CorrelationID(r.Path, r.SHA256)] {
					failed++
					lines = append(lines, fmt.Sprintf("failed  %s: %s: %s (unchanged since it was dead-lettered; 'docgraph dlq show %d')",
						r.Path, dl.Stage, dl.Error, dl.ID))
				}
			}
		}
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	fmt.Fprintf(w, "ingested %d file%s in %s: %d new or changed, %d unchanged, %d deleted, %d skipped, %d failed",
		total, plural(total), took.Round(time.Millisecond), counts[watcher.Published], counts[watcher.Unchanged],
		counts[watcher.Deleted], counts[watcher.Skipped], failed)
	if rowsSkipped > 0 {
		fmt.Fprintf(w, "; %d spreadsheet row%s skipped", rowsSkipped, plural(rowsSkipped))
	}
	fmt.Fprintln(w)
	sort.Strings(lines)
	for _, reason := range slices.Sorted(maps.Keys(skippedBy)) {
		skipped := skippedBy[reason]
		sort.Strings(skipped)
		if len(skipped) > summarySkipped {
			more := len(skipped) - summarySkipped
			skipped = append(skipped[:summarySkipped], fmt.Sprintf("skipped %d more: %s", more, reason.Describe()))
		}
		lines = append(lines, skipped...)
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return failed
}

// summarySkipped is how many skipped files of one reason ingest's summary
// names (a folder of photos beside its documents would fill the screen).
const summarySkipped = 10

// rejectedRows gathers, by file, the spreadsheet rows the parser skipped
// (on_row_error: skip_row), once each however often a file is parsed.
type rejectedRows struct {
	mu    sync.Mutex
	seen  map[string]map[string]bool
	files map[string][]string // described rows in the order told
}

func newRejectedRows() *rejectedRows {
	return &rejectedRows{seen: map[string]map[string]bool{}, files: map[string][]string{}}
}

func (r *rejectedRows) add(file string, rows []event.RowError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[file] == nil {
		r.seen[file] = map[string]bool{}
	}
	for _, row := range rows {
		if d := row.String(); !r.seen[file][d] {
			r.seen[file][d] = true
			r.files[file] = append(r.files[file], d)
		}
	}
}

func (r *rejectedRows) of(file string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files[file]
}

// summaryRows is how many skipped rows of a file ingest's summary names.
const summaryRows = 3

// describeSkipped is the summary's line of a file's skipped rows.
func describeSkipped(rows []string) string {
	s := fmt.Sprintf("%d skipped (on_row_error: skip_row): %s", len(rows), strings.Join(rows[:min(len(rows), summaryRows)], "; "))
	if len(rows) > summaryRows {
		s += fmt.Sprintf("; and %d more (see the log)", len(rows)-summaryRows)
	}
	return s
}

// tracker follows every file's messages through the stages: a file is
// through when every message it caused has been acked or dead-lettered.
type tracker struct {
	mu          sync.Mutex
	outstanding map[string]int // by correlation ID; negative until expect
	expected    map[string]bool
	errs        map[string][]string
	done        int // expected files with nothing outstanding
	handled     int // messages acked or dead-lettered
	isSealed    bool
	changed     chan struct{}
}

func newTracker() *tracker {
	return &tracker{
		outstanding: map[string]int{}, expected: map[string]bool{}, errs: map[string][]string{},
		changed: make(chan struct{}, 1),
	}
}

func (t *tracker) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// isDone reports whether the file cid is expected and through; t.mu held.
func (t *tracker) isDone(cid string) bool { return t.expected[cid] && t.outstanding[cid] <= 0 }

// change applies fn to the state of cid, keeping the done count; t.mu held.
func (t *tracker) change(cid string, fn func()) {
	was := t.isDone(cid)
	fn()
	switch now := t.isDone(cid); {
	case now && !was:
		t.done++
	case was && !now:
		t.done--
	}
}

// expect registers a published file event (its own message counts one).
func (t *tracker) expect(cid, _ string) {
	t.mu.Lock()
	t.change(cid, func() {
		if !t.expected[cid] {
			t.expected[cid] = true
			t.outstanding[cid]++
		}
	})
	t.mu.Unlock()
	t.notify()
}

func (t *tracker) sealed() {
	t.mu.Lock()
	t.isSealed = true
	t.mu.Unlock()
	t.notify()
}

func (t *tracker) add(cid string, n int) {
	if cid == "" {
		return
	}
	t.mu.Lock()
	t.change(cid, func() { t.outstanding[cid] += n })
	t.mu.Unlock()
	t.notify()
}

// Emitted implements pipeline.Observer.
func (t *tracker) Emitted(cid string) { t.add(cid, 1) }

// Dropped implements pipeline.Observer.
func (t *tracker) Dropped(cid string) { t.add(cid, -1) }

// Finished implements pipeline.Observer.
func (t *tracker) Finished(o pipeline.Outcome) {
	switch o.Result {
	case pipeline.OutcomeAck:
		t.mu.Lock()
		t.handled++
		t.mu.Unlock()
		t.add(o.CorrelationID, -1)
	case pipeline.OutcomeTerm:
		t.mu.Lock()
		t.handled++
		t.errs[o.CorrelationID] = append(t.errs[o.CorrelationID], fmt.Sprintf("%s: %v", o.Stage, o.Err))
		t.mu.Unlock()
		t.add(o.CorrelationID, -1)
	}
}

func (t *tracker) failures(cid string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errs[cid]
}

// ingestProgress is what ingest's progress lines say: the files through
// the pipeline (done) of those published (total), and the messages the
// stages have handled and have still to handle (waiting: emitted by the
// files published, not yet acked or dead-lettered).
type ingestProgress struct{ done, total, handled, waiting int }

func (t *tracker) progress() ingestProgress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := ingestProgress{done: t.done, total: len(t.expected), handled: t.handled}
	for cid, n := range t.outstanding {
		if n > 0 && t.expected[cid] {
			p.waiting += n
		}
	}
	return p
}

// finished reports whether every file is published and through.
func (t *tracker) finished() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.isSealed && t.done == len(t.expected)
}

// progressRates measures ingest's pace over its last progress lines.
type progressRates struct{ samples []progressSample }

type progressSample struct {
	at            time.Time
	done, handled int
}

// rateWindow is how far back progressRates looks.
const rateWindow = 30 * time.Second

// add records p, seen at at, and describes the pace since the oldest
// sample of the window: files through and messages handled per second
// and, once every file is published (published), the time the files left
// take at that rate: "; 290 files/s, 8700 messages/s, about 12s left".
// It says nothing before a second has passed.
func (r *progressRates) add(at time.Time, p ingestProgress, published bool) string {
	r.samples = append(r.samples, progressSample{at: at, done: p.done, handled: p.handled})
	for len(r.samples) > 2 && at.Sub(r.samples[1].at) >= rateWindow {
		r.samples = r.samples[1:]
	}
	first := r.samples[0]
	dt := at.Sub(first.at).Seconds()
	if dt < 1 {
		return ""
	}
	files, msgs := float64(p.done-first.done)/dt, float64(p.handled-first.handled)/dt
	out := fmt.Sprintf("; %s files/s, %.0f messages/s", perSecond(files), msgs)
	if left := p.total - p.done; published && left > 0 && files > 0 {
		d := time.Duration(float64(left) / files * float64(time.Second)).Round(time.Second)
		out += fmt.Sprintf(", about %s left", max(d, time.Second))
	}
	return out
}

// perSecond formats a rate: whole numbers, with a decimal below 10.
func perSecond(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// progressEvery is the interval of ingest's progress lines.
var progressEvery = 3 * time.Second

// wait blocks until every expected file is through, printing progress
// every few seconds.
func (t *tracker) wait(ctx context.Context, progress func(ingestProgress)) error {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		if t.finished() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.changed:
		case <-tick.C:
			progress(t.progress())
		}
	}
}

// waitQuiet waits until the gazetteer's changes have been refreshed and
// every stage's consumer is drained: re-extractions caused by names that
// arrived with this ingest are in the graph too.
func (s *system) waitQuiet(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	quietRounds := 0
	for {
		ok, err := s.quiet(ctx)
		if err != nil {
			return err
		}
		if ok {
			quietRounds++
			if quietRounds >= 2 {
				return nil
			}
		} else {
			quietRounds = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *system) quiet(ctx context.Context) (bool, error) {
	if s.book != nil {
		rev, err := s.book.LastRevision(ctx)
		if err != nil {
			return false, err
		}
		if s.book.Revision() < rev {
			return false, nil
		}
		if s.refresher != nil && !s.refresher.Idle(rev) {
			return false, nil
		}
	}
	// Upstream first: a consumer with nothing pending and nothing in
	// flight has stored all its outputs before acking.
	for _, c := range bus.Consumers {
		cons, err := s.js.Consumer(ctx, c.Stream, c.Durable)
		if err != nil {
			return false, fmt.Errorf("consumer %s: %w", c.Durable, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return false, fmt.Errorf("consumer %s: %w", c.Durable, err)
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return false, nil
		}
		st, err := s.js.Stream(ctx, c.Stream)
		if err != nil {
			return false, fmt.Errorf("stream %s: %w", c.Stream, err)
		}
		sinfo, err := st.Info(ctx)
		if err != nil {
			return false, fmt.Errorf("stream %s: %w", c.Stream, err)
		}
		if info.Delivered.Stream < sinfo.State.LastSeq {
			return false, nil
		}
	}
	return true, nil
}
