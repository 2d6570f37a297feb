package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fsnotify/fsnotify"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Log attribute keys.
const (
	keyCorrelationID = "correlation_id"
	keyStage         = "stage"
	keySubject       = "subject"
	keyStreamSeq     = "stream_seq"
	keyPath          = "path"
	keyErr           = "err"
)

// editorPatterns are the editor swap, backup, auto-save (Emacs' #name#)
// and partial-download files.
var editorPatterns = []string{"*.swp", "*.swx", "~$*", "*~", "#*#", "*.part", "*.tmp", "*.crdownload", ".#*"}

// isEditorFile reports whether name matches one of editorPatterns. Each
// pattern has one "*" and no other wildcard, so a prefix and a suffix
// decide: path.Match, which tries the star at every position, took a
// third of a rescan's time in a folder of many files.
func isEditorFile(name string) bool {
	for _, p := range editorPatterns {
		pre, suf, _ := strings.Cut(p, "*")
		if len(name) >= len(pre)+len(suf) && strings.HasPrefix(name, pre) && strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

// systemFiles are the names (any case) of files that operating systems
// create and hide without a leading dot: Windows' thumbnail caches and
// folder settings, and the custom icon of a macOS folder.
var systemFiles = []string{"thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r"}

// Watcher publishes the files of one folder. Scan and Run may be called
// from different goroutines; their work on the folder is serialised.
type Watcher struct {
	cfg      Config
	root     string   // absolute, symlinks resolved
	excluded []string // Config.Exclude inside root, relative to it
	js       jetstream.JetStream
	log      *slog.Logger
	m        *metrics

	mu      sync.Mutex // serialises scans and Run's steps; guards what follows
	objects jetstream.ObjectStore
	kv      jetstream.KeyValue
	dupes   time.Duration // the files stream's duplicate window
	// othersLogged is set once a scan has logged the documents other
	// folders hold in the state.
	othersLogged bool
	// rescanStretched is set while Run waits longer than Config.Rescan
	// between rescans (rescanSpacing), rescanWait is that wait. Only Run's
	// goroutine uses them.
	rescanStretched bool
	rescanWait      time.Duration

	// smu guards skipped, failed, warned, links and a scan's pending set,
	// which the files of one scan visited in parallel share.
	smu     sync.Mutex
	skipped map[string]SkipReason // paths whose skip was logged, by reason
	failed  map[string]string     // paths whose failure was warned about, by error
	held    int                   // files the last scan kept, finding the folder empty
	warned  int                   // failures warned about (not repeated ones)
	// links maps the symlinks published to their targets (relative paths):
	// events name the target, and Run reads its links again.
	links map[string]string

	// hook is a test hook: it runs after the steps "hashed" and "stored" of
	// publish, and at "sweep", before Run reads the whole state for the
	// files of directories that are gone.
	hook func(step, rel string)
	// addWatch is a test hook standing in for fw.Add.
	addWatch func(fw *fsnotify.Watcher, dir string) error
}

// New validates cfg and returns a Watcher publishing through js. The object
// store bus.BucketFiles and the key-value bucket bus.BucketWatcher (created
// by bus.Provision) are opened by name at the first Scan or Run. A nil
// logger discards; a nil registerer keeps the metrics unregistered.
func New(cfg Config, js jetstream.JetStream, logger *slog.Logger, reg prometheus.Registerer) (*Watcher, error) {
	if js == nil {
		return nil, errors.New("new watcher: nil jetstream")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new watcher: %w", err)
	}
	cfg = cfg.withDefaults()
	rules, err := newRules(cfg)
	if err != nil {
		return nil, fmt.Errorf("new watcher: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("new watcher: %w", err)
	}
	return &Watcher{
		cfg:      cfg,
		root:     rules.root,
		excluded: rules.excluded,
		js:       js,
		log:      logger.With(slog.String(keyStage, bus.StageWatcher)),
		m:        m,
		skipped:  map[string]SkipReason{},
		failed:   map[string]string{},
		links:    map[string]string{},
	}, nil
}

// Rules decide by name and path alone what a scan leaves out: hidden,
// system, editor and partial files, names that are not UTF-8, the ignore
// patterns, the excluded directories and the formats not published.
type Rules struct{ w *Watcher }

// NewRules returns the rules of cfg.
func NewRules(cfg Config) (Rules, error) {
	if err := cfg.Validate(); err != nil {
		return Rules{}, err
	}
	r, err := newRules(cfg)
	if err != nil {
		return Rules{}, err
	}
	return Rules{&Watcher{cfg: cfg.withDefaults(), root: r.root, excluded: r.excluded}}, nil
}

// Skip returns why a scan leaves out the entry at rel (relative to the
// root, slash-separated; a directory's entries with it), or "".
func (r Rules) Skip(rel string, isDir bool) SkipReason { return r.w.pathRule(rel, isDir) }

// rules are what a Watcher decides paths by: its root (absolute, symlinks
// resolved) and the excluded directories inside it (relative).
type rules struct {
	root     string
	excluded []string
}

// newRules resolves cfg's root and exclusions.
func newRules(cfg Config) (rules, error) {
	abs, err := filepath.Abs(cfg.Root)
	if err != nil {
		return rules{}, fmt.Errorf("root %s: %w", cfg.Root, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return rules{}, fmt.Errorf("root %s: %w", cfg.Root, err)
	}
	var excluded []string
	for _, x := range cfg.Exclude {
		if x == "" {
			continue
		}
		abs, err := filepath.Abs(x)
		if err != nil {
			return rules{}, fmt.Errorf("exclude %s: %w", x, err)
		}
		if resolved, err := filepath.EvalSymlinks(abs); err == nil {
			abs = resolved
		}
		switch {
		case abs == root:
			return rules{}, fmt.Errorf("watcher.root (%s) is excluded (docgraph's data directory?)", root)
		case within(root, abs):
			rel, err := filepath.Rel(root, abs)
			if err != nil {
				return rules{}, fmt.Errorf("exclude %s: %w", x, err)
			}
			excluded = append(excluded, filepath.ToSlash(rel))
		}
	}
	return rules{root: root, excluded: excluded}, nil
}

// open opens the buckets once; w.mu is held.
func (w *Watcher) open(ctx context.Context) error {
	if w.objects == nil {
		obs, err := w.js.ObjectStore(ctx, bus.BucketFiles)
		if err != nil {
			return fmt.Errorf("open object store %s: %w", bus.BucketFiles, err)
		}
		w.objects = obs
	}
	if w.kv == nil {
		kv, err := w.js.KeyValue(ctx, bus.BucketWatcher)
		if err != nil {
			return fmt.Errorf("open key-value bucket %s: %w", bus.BucketWatcher, err)
		}
		w.kv = kv
	}
	if w.dupes == 0 {
		s, err := w.js.Stream(ctx, bus.StreamFiles)
		if err != nil {
			return fmt.Errorf("open stream %s: %w", bus.StreamFiles, err)
		}
		w.dupes = s.CachedInfo().Config.Duplicates
		if w.dupes <= 0 {
			w.dupes = 2 * time.Minute // the server's default
		}
	}
	return nil
}

// Scan makes one full pass over the folder: it publishes every new or
// changed file and every deletion and reports per path what happened. A file
// is published when its size and mtime before and after hashing agree;
// Scan does not wait for Config.Settle. An error means the pass could not be
// made (the root is gone, the state is unreadable, ctx ended); problems with
// single files are Failed results and are retried by the next scan (a
// failure that repeats is warned about once).
func (w *Watcher) Scan(ctx context.Context) (Report, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.scan(ctx, nil)
}

// scan walks the folder; with pend set (Run), files modified less than
// Settle ago are handed to pend instead of being published. w.mu is held.
func (w *Watcher) scan(ctx context.Context, pend *pending) (Report, error) {
	start := time.Now()
	if err := w.open(ctx); err != nil {
		return Report{}, fmt.Errorf("scan %s: %w", w.root, err)
	}
	if st, err := os.Stat(w.root); err != nil {
		return Report{}, fmt.Errorf("scan %s: %w", w.root, err)
	} else if !st.IsDir() {
		return Report{}, fmt.Errorf("scan %s: not a directory", w.root)
	}
	recs, err := w.loadRecords(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("scan %s: %w", w.root, err)
	}
	w.logOtherRoots(ctx, recs)
	w.smu.Lock()
	warned := w.warned
	w.smu.Unlock()
	var (
		rep        Report
		keep       = map[string]bool{} // recorded paths that stay current
		seen       = map[string]bool{}
		incomplete []string // directories that could not be read
		empty      = true   // nothing in the folder but excluded directories
	)
	// Files that look like spreadsheets are visited during the walk and the
	// others after it, so that a pass publishes the structured data (which
	// feeds the gazetteer) before the documents that mention its names:
	// documents extracted after the names are known need no re-extraction.
	// Every file is still published; only the order within a pass changes.
	type deferred struct {
		rel, abs string
		d        fs.DirEntry
	}
	var later []deferred
	walkErr := filepath.WalkDir(w.root, func(abs string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if abs == w.root {
			if err == nil && pend != nil {
				// The folder may have been deleted and created again,
				// which ends its watch.
				w.watchDir(ctx, pend, abs)
			}
			return err
		}
		rel := w.rel(abs)
		seen[rel] = true
		if d == nil || !d.IsDir() || !w.isExcluded(rel) {
			empty = false
		}
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // vanished while walking: a deletion, if it was recorded
			}
			incomplete = append(incomplete, rel)
			rep.Results = append(rep.Results, w.told(w.fail(ctx, rel, fmt.Errorf("read %s: %w", rel, err))))
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if reason := w.nameRule(rel, true); reason != "" {
				rep.Results = append(rep.Results, w.told(w.skip(ctx, rel, reason, rel)))
				return fs.SkipDir
			}
			if pend != nil {
				w.watchDir(ctx, pend, abs) // also catches directories fsnotify missed
			}
			return nil
		}
		if !looksStructured(rel) {
			later = append(later, deferred{rel, abs, d})
			return nil
		}
		if res := w.told(w.visitEntry(ctx, rel, abs, d, recs, pend)); res.Path != "" {
			if res.keepsRecord() {
				keep[rel] = true
			}
			rep.Results = append(rep.Results, res)
		}
		return nil
	})
	if walkErr != nil {
		return rep, fmt.Errorf("scan %s: %w", w.root, walkErr)
	}
	// The documents are independent of each other: each one's publication
	// is a few round trips to JetStream, so they are visited in parallel.
	results := make([]Result, len(later))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(scanWorkers, len(later)) {
		wg.Go(func() {
			for i := range next {
				results[i] = w.told(w.visitEntry(ctx, later[i].rel, later[i].abs, later[i].d, recs, pend))
			}
		})
	}
feed:
	for i := range later {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("scan %s: %w", w.root, err)
	}
	for _, res := range results {
		if res.Path == "" {
			continue // vanished before it was visited
		}
		if res.keepsRecord() {
			keep[res.Path] = true
		}
		rep.Results = append(rep.Results, res)
	}
	var gone []*record
	incompleteSet := newDirSet(incomplete)
	for _, p := range slices.Sorted(maps.Keys(recs)) {
		rec := recs[p]
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("scan %s: %w", w.root, err)
		}
		switch {
		case !rec.live():
			w.expire(ctx, rec)
		case !rec.ownedBy(w.root):
			// Published from another folder into the same data: that
			// folder's scans withdraw it, not this one's.
		case keep[p] || inAny(p, incompleteSet):
		default:
			gone = append(gone, rec)
		}
	}
	held := 0
	if empty && !w.cfg.AllowEmpty {
		// Files whose deletion the running watcher saw (an event for them
		// or a directory above them is pending) were deleted on purpose,
		// and are withdrawn; the others were not seen to go.
		var seenGo, unseen []*record
		for _, rec := range gone {
			if pend != nil && pend.covers(rec.Path) {
				seenGo = append(seenGo, rec)
			} else {
				unseen = append(unseen, rec)
			}
		}
		if len(unseen) >= holdFrom {
			held, gone = len(unseen), seenGo
			rep.Held, rep.Root = held, w.root
		}
	}
	w.holdAll(ctx, held)
	for _, rec := range gone {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("scan %s: %w", w.root, err)
		}
		rep.Results = append(rep.Results, w.told(w.withdraw(ctx, rec)))
	}
	w.smu.Lock()
	for p := range w.skipped {
		if !seen[p] {
			delete(w.skipped, p)
		}
	}
	// A path that did not fail in this scan (a directory read again, say)
	// is warned about again when it fails anew.
	failedNow := map[string]bool{}
	for _, res := range rep.Results {
		if res.Outcome == Failed {
			failedNow[res.Path] = true
		}
	}
	for p := range w.failed {
		if !failedNow[p] {
			delete(w.failed, p)
		}
	}
	for p := range w.links {
		if !seen[p] {
			delete(w.links, p)
		}
	}
	// A scan that only retried failures already warned about is routine.
	newFailures := w.warned != warned
	w.smu.Unlock()
	rep.Duration = time.Since(start)
	w.m.scan.Observe(rep.Duration.Seconds())
	level := slog.LevelDebug
	if rep.Count(Published)+rep.Count(Deleted) > 0 || newFailures {
		level = slog.LevelInfo
	}
	w.log.Log(ctx, level, "scan finished",
		slog.Int("published", rep.Count(Published)),
		slog.Int("unchanged", rep.Count(Unchanged)),
		slog.Int("skipped", rep.Count(Skipped)),
		slog.Int("deleted", rep.Count(Deleted)),
		slog.Int("failed", rep.Count(Failed)),
		slog.Duration("duration", rep.Duration))
	return rep, nil
}

// holdFrom is how many recorded files a scan that finds the folder empty
// must be about to withdraw for it to keep them instead (Config.AllowEmpty):
// a folder of one file emptied is no sign of a share gone.
const holdFrom = 2

// holdAll records that a scan found the folder empty and kept the n files
// recorded for it (0: it did not), saying so once per change.
func (w *Watcher) holdAll(ctx context.Context, n int) {
	w.m.held.Set(float64(n))
	w.smu.Lock()
	was := w.held
	w.held = n
	w.smu.Unlock()
	switch {
	case n > 0 && n != was:
		w.log.ErrorContext(ctx, "watched folder is empty: its files are kept in the graph, not withdrawn",
			slog.String("root", w.root), slog.Int("files", n),
			slog.String("hint", "a share that is not mounted, or a folder being replaced? Once the files are back, nothing changes. "+
				"If they were deleted on purpose, run once with watch.allow_empty (--watch.allow_empty) to withdraw them"))
	case n == 0 && was > 0:
		w.log.InfoContext(ctx, "watched folder: the files kept while it was empty are no longer held", slog.String("root", w.root))
	}
}

// told passes a scan's result for a file to Config.OnScanResult.
func (w *Watcher) told(res Result) Result {
	if res.Path != "" && w.cfg.OnScanResult != nil {
		w.cfg.OnScanResult(res)
	}
	return res
}

// logOtherRoots logs once which other folders the state holds live files
// of: an operator who moved the watched folder learns that the documents of
// the old one are kept, and how to remove them. w.mu is held.
func (w *Watcher) logOtherRoots(ctx context.Context, recs map[string]*record) {
	if w.othersLogged {
		return
	}
	w.othersLogged = true
	byRoot := map[string]int{}
	n := 0
	for _, r := range recs {
		if r.live() && !r.ownedBy(w.root) {
			byRoot[r.Root]++
			n++
		}
	}
	if n == 0 {
		return
	}
	w.log.InfoContext(ctx, "documents of other folders kept",
		slog.String("root", w.root),
		slog.Int("files", n),
		slog.Any("other_roots", slices.Sorted(maps.Keys(byRoot))),
		slog.String("hint", "a folder's files are withdrawn only by scans of that folder; to remove "+
			"them from the graph, empty that folder (create it again if it is gone) and run "+
			"'docgraph ingest --watch.allow_empty FOLDER', or 'docgraph reconcile --watch FOLDER --fix "+
			"--watch.allow_empty' while docgraph runs"))
}

// dirSet is a set of directories (relative, slash-separated).
type dirSet map[string]bool

func newDirSet(dirs []string) dirSet {
	s := make(dirSet, len(dirs))
	for _, d := range dirs {
		s[d] = true
	}
	return s
}

// inAny reports whether p is one of dirs or inside one. It looks up p and
// each directory above it, so that checking every recorded file against
// the directories of a deleted tree takes time in the number of files, not
// in files times directories.
func inAny(p string, dirs dirSet) bool {
	if len(dirs) == 0 {
		return false
	}
	for {
		if dirs[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// rel returns abs relative to the root with forward slashes.
func (w *Watcher) rel(abs string) string {
	r, err := filepath.Rel(w.root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

func (w *Watcher) abs(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

// isExcluded reports whether rel is in one of Config.Exclude.
func (w *Watcher) isExcluded(rel string) bool {
	return slices.ContainsFunc(w.excluded, func(x string) bool { return under(rel, x) })
}

// nameRule returns why a directory or file is ignored by its name, or "".
func (w *Watcher) nameRule(rel string, isDir bool) SkipReason {
	name := path.Base(rel)
	if strings.HasPrefix(name, ".") {
		return ReasonHidden
	}
	if !isDir && slices.ContainsFunc(systemFiles, func(f string) bool { return strings.EqualFold(f, name) }) {
		return ReasonHidden
	}
	if w.isExcluded(rel) {
		return ReasonExcluded
	}
	if !isDir && isEditorFile(name) {
		return ReasonEditor
	}
	for _, p := range w.cfg.Ignore {
		// Patterns were checked by Validate, so Match cannot fail here.
		if ok, _ := path.Match(p, name); ok {
			return ReasonIgnored
		}
		if ok, _ := path.Match(p, rel); ok {
			return ReasonIgnored
		}
	}
	if !isDir && len(w.cfg.Formats) > 0 && !slices.Contains(w.cfg.Formats, event.FormatOf(name)) {
		return ReasonUnsupported
	}
	if !utf8.ValidString(rel) {
		// Events and state are JSON, which would carry the path changed
		// (invalid bytes become U+FFFD): the parser would find no object
		// under it, and the state would record it under another path.
		return ReasonInvalidName
	}
	return ""
}

// pathRule applies nameRule to every directory of rel and to rel itself.
func (w *Watcher) pathRule(rel string, isDir bool) SkipReason {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		if r := w.nameRule(strings.Join(parts[:i], "/"), true); r != "" {
			return r
		}
	}
	return w.nameRule(rel, isDir)
}

// scanWorkers is how many documents a scan publishes at once.
const scanWorkers = 8

// visitEntry visits one walked file; the zero Result means it vanished.
// It may run in parallel with other files' visits.
func (w *Watcher) visitEntry(ctx context.Context, rel, abs string, d fs.DirEntry, recs map[string]*record, pend *pending) Result {
	lst, err := d.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}
	}
	if err != nil {
		return w.fail(ctx, rel, fmt.Errorf("stat %s: %w", rel, err))
	}
	return w.visit(ctx, rel, abs, lst, recs[rel], pend, true)
}

// visit decides and acts on one path that is not a directory; lst is its
// Lstat. rec is its record or nil. With quick set, a file whose size and
// mtime match the record is taken as unchanged without being read (the
// quick check of scans); Run reads a file written since, whose bytes may
// have changed behind the same size and mtime. w.mu is held.
func (w *Watcher) visit(ctx context.Context, rel, abs string, lst fs.FileInfo, rec *record, pend *pending, quick bool) Result {
	if reason := w.nameRule(rel, false); reason != "" {
		return w.skip(ctx, rel, reason, rel)
	}
	st := lst
	w.setLink(rel, "")
	if lst.Mode()&fs.ModeSymlink != 0 {
		target, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return w.skip(ctx, rel, ReasonNotRegular, fmt.Sprintf("%s (broken symlink: %v)", rel, err))
		}
		if !within(w.root, target) {
			return w.skip(ctx, rel, ReasonSymlinkOutside, fmt.Sprintf("%s -> %s", rel, target),
				slog.String("target", target))
		}
		if st, err = os.Stat(target); err != nil {
			return w.fail(ctx, rel, fmt.Errorf("stat %s: %w", rel, err))
		}
		if st.IsDir() {
			return w.skip(ctx, rel, ReasonNotRegular, rel+" (symlink to a directory, not followed)")
		}
		w.setLink(rel, w.rel(target))
	}
	if !st.Mode().IsRegular() {
		return w.skip(ctx, rel, ReasonNotRegular, fmt.Sprintf("%s (%s)", rel, st.Mode().Type()))
	}
	if st.Size() > w.cfg.MaxFileSize {
		return w.tooLarge(ctx, rel, st.Size())
	}
	if quick && rec.matches(st) && rec.ownedBy(w.root) {
		if rec.Root == "" {
			w.adopt(ctx, rec)
		}
		return w.unchanged(rel, rec)
	}
	if pend != nil && time.Since(st.ModTime()) < w.cfg.Settle {
		w.smu.Lock()
		pend.observe(rel, st)
		w.smu.Unlock()
		return w.skip(ctx, rel, ReasonUnstable, rel+" (modified less than the settle time ago)")
	}
	return w.publish(ctx, rel, abs, rec)
}

// structuredExts are the extensions of files that may hold structured data.
var structuredExts = map[string]bool{".csv": true, ".tsv": true, ".xlsx": true, ".xls": true}

// looksStructured reports whether rel's extension is one of a spreadsheet's.
// It only orders a scan; the parser decides what a file is.
func looksStructured(rel string) bool {
	return structuredExts[strings.ToLower(path.Ext(rel))]
}

func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

func sameStat(a, b fs.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// errUnstable says the file changed while it was read.
var errUnstable = errors.New("file changed while it was read")

// publish stores and announces the current version of one file.
func (w *Watcher) publish(ctx context.Context, rel, abs string, rec *record) Result {
	st0, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return w.skip(ctx, rel, ReasonUnstable, rel+" (disappeared while it was read)")
	}
	if err != nil {
		return w.fail(ctx, rel, fmt.Errorf("stat %s: %w", rel, err))
	}
	if st0.Size() > w.cfg.MaxFileSize {
		return w.tooLarge(ctx, rel, st0.Size())
	}
	sum, n, err := hashFile(abs)
	if err != nil {
		return w.fail(ctx, rel, fmt.Errorf("hash %s: %w", rel, err))
	}
	w.runHook("hashed", rel)
	if st1, err := os.Stat(abs); err != nil || !sameStat(st0, st1) || n != st0.Size() {
		return w.skip(ctx, rel, ReasonUnstable, rel+" (changed while it was hashed)")
	}
	if rec.live() && rec.SHA256 == sum {
		// Touched, not changed: remember the new mtime so the next scan
		// need not hash it again. A record of another folder with these
		// bytes becomes this folder's.
		upd := *rec
		upd.Size, upd.ModTime, upd.Root = st0.Size(), modTime(st0), w.root
		if upd == *rec {
			return w.unchanged(rel, rec)
		}
		if err := w.putRecord(ctx, &upd); err != nil {
			w.log.WarnContext(ctx, "update watcher state", slog.String(keyPath, rel), slog.Any(keyErr, err))
		}
		return w.unchanged(rel, &upd)
	}
	obj := ObjectName(rel, sum)
	if err := w.upload(ctx, rel, abs, obj, sum, st0.Size()); errors.Is(err, errUnstable) {
		return w.skip(ctx, rel, ReasonUnstable, rel+" (changed while it was stored)")
	} else if err != nil {
		return w.fail(ctx, rel, err)
	}
	w.runHook("stored", rel)
	if st2, err := os.Stat(abs); err != nil || !sameStat(st0, st2) {
		if !rec.live() || obj != rec.Previous {
			w.deleteObject(ctx, obj)
		}
		return w.skip(ctx, rel, ReasonUnstable, rel+" (changed while it was stored)")
	}
	ev := event.FileDiscovered{Path: rel, Size: st0.Size(), SHA256: sum, ModTime: modTime(st0), Object: obj}
	cid := CorrelationID(rel, sum)
	seq, err := w.emit(ctx, event.SubjectFileDiscovered, ev, cid, "file:"+IDPath(rel)+":"+sum, rec.lastSeq())
	if err != nil {
		return w.fail(ctx, rel, err)
	}
	next := &record{Path: rel, Root: w.root, SHA256: sum, Size: st0.Size(), ModTime: ev.ModTime, Object: obj, Seq: seq}
	var drop string
	if rec.live() {
		// rec.Object differs from obj (the hashes differ); rec.Previous may
		// be obj again (A, B, A).
		next.Previous = rec.Object
		if rec.Previous != obj {
			drop = rec.Previous
		}
	}
	if err := w.putRecord(ctx, next); err != nil {
		// Published but not recorded: the next scan publishes again with the
		// same Nats-Msg-Id, which JetStream drops as a duplicate.
		return w.fail(ctx, rel, err)
	}
	if drop != "" {
		w.deleteObject(ctx, drop)
	}
	w.forgetLogged(rel)
	w.m.published.Inc()
	w.m.bytes.Add(float64(st0.Size()))
	w.log.InfoContext(ctx, "file published",
		slog.String(keyCorrelationID, cid),
		slog.String(keyPath, rel),
		slog.String("sha256", sum),
		slog.Int64("size", st0.Size()),
		slog.String(keySubject, event.SubjectFileDiscovered),
		slog.Uint64(keyStreamSeq, seq))
	return Result{Path: rel, Outcome: Published, CorrelationID: cid, SHA256: sum, Size: st0.Size(), Object: obj, Seq: seq}
}

// upload streams the file into the object store under obj, unless an object
// with the same name, size and digest is already there, and checks that the
// streamed bytes hash to sum.
func (w *Watcher) upload(ctx context.Context, rel, abs, obj, sum string, size int64) error {
	raw, err := hex.DecodeString(sum)
	if err != nil {
		return fmt.Errorf("store %s: %w", rel, err)
	}
	info, err := w.objects.GetInfo(ctx, obj)
	switch {
	case err == nil && !info.Deleted && info.Size == uint64(size) &&
		info.Digest == "SHA-256="+base64.URLEncoding.EncodeToString(raw):
		// Stored before (e.g. published, then the process stopped before
		// recording it) — unless an upload that failed left its metadata
		// without its chunks: then it is stored again.
		complete, err := bus.ObjectComplete(ctx, w.js, info)
		if err != nil {
			return fmt.Errorf("store %s: %w", rel, err)
		}
		if complete {
			return nil
		}
		w.log.WarnContext(ctx, "stored object incomplete; storing it again", slog.String(keyPath, rel), slog.String("object", obj))
	case err != nil && !errors.Is(err, jetstream.ErrObjectNotFound):
		return fmt.Errorf("store %s: object %s: %w", rel, obj, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return fmt.Errorf("store %s: %w", rel, err)
	}
	defer closeQuietly(f)
	h := sha256.New()
	info, err = w.objects.Put(ctx, jetstream.ObjectMeta{
		Name:     obj,
		Metadata: map[string]string{"path": rel, "sha256": sum},
		Opts:     &jetstream.ObjectMetaOptions{ChunkSize: objectChunkSize(size)},
	}, io.TeeReader(f, h))
	if err != nil {
		return fmt.Errorf("store %s: object %s: %w", rel, obj, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum || info.Size != uint64(size) {
		w.deleteObject(ctx, obj)
		return errUnstable
	}
	return nil
}

// objectChunkSize is the chunk size of an object of size bytes: the object
// store's default (128 KiB), or the size of a smaller file. The upload reads
// into a buffer of the chunk size, so a 10 KB file no longer allocates
// 128 KiB; it is one chunk either way.
func objectChunkSize(size int64) uint32 {
	const defaultChunk = 128 << 10
	return uint32(min(defaultChunk, max(size, 512)))
}

// withdraw publishes the deletion of a recorded path and removes its state
// and objects.
func (w *Watcher) withdraw(ctx context.Context, rec *record) Result {
	cid := CorrelationID(rec.Path, rec.SHA256)
	ev := event.FileDeleted{Path: rec.Path, SHA256: rec.SHA256}
	seq, err := w.emit(ctx, event.SubjectFileDeleted, ev, cid, "deleted:"+IDPath(rec.Path)+":"+rec.SHA256, rec.Seq)
	if err != nil {
		return w.fail(ctx, rec.Path, err)
	}
	tomb := &record{Path: rec.Path, Root: rec.Root, SHA256: rec.SHA256, Seq: seq, Deleted: true, DeletedAt: time.Now().UTC()}
	if err := w.putRecord(ctx, tomb); err != nil {
		return w.fail(ctx, rec.Path, err)
	}
	for _, obj := range []string{rec.Object, rec.Previous} {
		if obj != "" {
			w.deleteObject(ctx, obj)
		}
	}
	w.forgetLogged(rec.Path)
	w.m.deleted.Inc()
	w.log.InfoContext(ctx, "file deleted",
		slog.String(keyCorrelationID, cid),
		slog.String(keyPath, rec.Path),
		slog.String("sha256", rec.SHA256),
		slog.String(keySubject, event.SubjectFileDeleted),
		slog.Uint64(keyStreamSeq, seq))
	return Result{Path: rec.Path, Outcome: Deleted, CorrelationID: cid, SHA256: rec.SHA256, Size: rec.Size, Object: rec.Object, Seq: seq}
}

// emit publishes one event with the watcher's headers and returns its stream
// sequence. after is the sequence of the path's last event: when JetStream
// reports msgID as a duplicate of an older message, this version was
// published before that last event (A, B, A again), so it is published
// again under an ID naming the event it follows.
func (w *Watcher) emit(ctx context.Context, subject string, payload any, cid, msgID string, after uint64) (uint64, error) {
	m, err := pipeline.NewMessage(subject, payload)
	if err != nil {
		return 0, err
	}
	m.Header.Set(pipeline.HeaderCorrelationID, cid)
	m.Header.Set(pipeline.HeaderMsgID, msgID)
	ack, err := w.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: m.Data, Header: m.Header},
		jetstream.WithExpectStream(bus.StreamFiles))
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", subject, err)
	}
	if ack.Duplicate && ack.Sequence < after {
		m.Header.Set(pipeline.HeaderMsgID, fmt.Sprintf("%s:after:%d", msgID, after))
		ack, err = w.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: m.Data, Header: m.Header},
			jetstream.WithExpectStream(bus.StreamFiles))
		if err != nil {
			return 0, fmt.Errorf("publish %s: %w", subject, err)
		}
	}
	return ack.Sequence, nil
}

// adopt records the folder of a record written without one, whose file
// this folder holds unchanged, so that scans of other folders keep it.
func (w *Watcher) adopt(ctx context.Context, rec *record) {
	upd := *rec
	upd.Root = w.root
	if err := w.putRecord(ctx, &upd); err != nil {
		w.log.WarnContext(ctx, "update watcher state", slog.String(keyPath, rec.Path), slog.Any(keyErr, err))
	}
}

// expire removes a tombstone once the duplicate window it guards against
// has passed.
func (w *Watcher) expire(ctx context.Context, rec *record) {
	if time.Since(rec.DeletedAt) < 2*w.dupes {
		return
	}
	if err := w.kv.Delete(ctx, stateKey(rec.Path)); err != nil {
		w.log.WarnContext(ctx, "delete watcher state", slog.String(keyPath, rec.Path), slog.Any(keyErr, err))
	}
}

func (w *Watcher) runHook(step, rel string) {
	if w.hook != nil {
		w.hook(step, rel)
	}
}

func (w *Watcher) deleteObject(ctx context.Context, obj string) {
	if err := w.objects.Delete(ctx, obj); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		w.log.WarnContext(ctx, "delete superseded object", slog.String("object", obj), slog.Any(keyErr, err))
	}
}

// setLink records that the symlink rel points at target, or with target
// "", that rel is no symlink to a file.
func (w *Watcher) setLink(rel, target string) {
	w.smu.Lock()
	defer w.smu.Unlock()
	if target == "" {
		delete(w.links, rel)
	} else {
		w.links[rel] = target
	}
}

// forgetLogged forgets that rel's skip or failure was logged.
func (w *Watcher) forgetLogged(rel string) {
	w.smu.Lock()
	delete(w.skipped, rel)
	delete(w.failed, rel)
	w.smu.Unlock()
}

func (w *Watcher) unchanged(rel string, rec *record) Result {
	w.forgetLogged(rel)
	return Result{Path: rel, Outcome: Unchanged, SHA256: rec.SHA256, Size: rec.Size, Object: rec.Object, Seq: rec.Seq}
}

func (w *Watcher) tooLarge(ctx context.Context, rel string, size int64) Result {
	return w.skip(ctx, rel, ReasonTooLarge,
		fmt.Sprintf("%s is %d bytes, over the limit of %d bytes (watch.max_file_size)", rel, size, w.cfg.MaxFileSize),
		slog.Int64("size", size), slog.Int64("max_size", w.cfg.MaxFileSize))
}

// skip reports a skipped path; it is logged and counted once per path and
// reason, not on every rescan.
func (w *Watcher) skip(ctx context.Context, rel string, reason SkipReason, detail string, attrs ...slog.Attr) Result {
	detail = reason.Describe() + ": " + detail
	w.smu.Lock()
	first := w.skipped[rel] != reason
	w.skipped[rel] = reason
	w.smu.Unlock()
	if first {
		w.m.skipped.WithLabelValues(string(reason)).Inc()
		level := slog.LevelInfo
		switch reason {
		case ReasonTooLarge, ReasonSymlinkOutside, ReasonInvalidName:
			level = slog.LevelWarn
		case ReasonUnstable:
			level = slog.LevelDebug
		}
		attrs = append([]slog.Attr{
			slog.String(keyPath, rel),
			slog.String("reason", string(reason)),
			slog.String("detail", detail),
		}, attrs...)
		w.log.LogAttrs(ctx, level, "file skipped", attrs...)
	}
	return Result{Path: rel, Outcome: Skipped, Reason: reason, Detail: detail}
}

// fail reports a path that failed. Every failure is counted, and scans
// retry it; the same error for the same path is warned about once, then
// logged at debug level, until the path succeeds or fails otherwise. Work
// interrupted by the end of ctx (the shutdown) is no failure of the path.
func (w *Watcher) fail(ctx context.Context, rel string, err error) Result {
	if ctx.Err() != nil {
		w.log.DebugContext(ctx, "file interrupted", slog.String(keyPath, rel), slog.Any(keyErr, err))
		return Result{Path: rel, Outcome: Failed, Err: err}
	}
	w.m.failed.Inc()
	w.smu.Lock()
	repeated := w.failed[rel] == err.Error()
	w.failed[rel] = err.Error()
	if !repeated {
		w.warned++
	}
	w.smu.Unlock()
	level := slog.LevelWarn
	if repeated {
		level = slog.LevelDebug
	}
	w.log.Log(ctx, level, "file failed", slog.String(keyPath, rel), slog.Any(keyErr, err))
	return Result{Path: rel, Outcome: Failed, Err: err}
}

// hashFile returns the hex SHA-256 of the file and the bytes read.
func hashFile(abs string) (string, int64, error) {
	f, err := os.Open(abs)
	if err != nil {
		return "", 0, err
	}
	defer closeQuietly(f)
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// closeQuietly closes a file opened for reading, where a close error
// cannot lose data.
func closeQuietly(f *os.File) {
	_ = f.Close() // nothing was written, so nothing can be lost
}

// CorrelationID is the correlation ID of a file version, deterministic: the
// same bytes at the same path always get the same ID, so a file published
// again (by reconcile, say) is followed under the ID it first had.
func CorrelationID(rel, sum string) string {
	h := sha256.Sum256([]byte(rel + "\x00" + sum))
	return hex.EncodeToString(h[:])[:24]
}

// maxObjectPath bounds the length of a path in an object name; longer paths
// are named by their hash.
const maxObjectPath = 1024

// ObjectName is the name of a file version in the object store,
// "<path>@<sha256>". The store puts the name, base64-encoded, in a NATS
// subject, which the server refuses beyond its control line (4 KiB) by
// closing the connection: a path longer than maxObjectPath bytes is named
// by its hash instead ("sha256-<hex>@<sha256>"), as IDPath does.
func ObjectName(rel, sum string) string {
	if len(rel) > maxObjectPath {
		h := sha256.Sum256([]byte(rel))
		rel = "sha256-" + hex.EncodeToString(h[:])
	}
	return rel + "@" + sum
}

// IDPath is the path as used in a Nats-Msg-Id header, which cannot carry
// control characters (a file name may).
func IDPath(rel string) string {
	if strings.IndexFunc(rel, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return rel
	}
	h := sha256.Sum256([]byte(rel))
	return "sha256-" + hex.EncodeToString(h[:])
}
