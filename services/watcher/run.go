package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// pending holds Run's paths that had events or were modified recently,
// with the size and mtime last seen and since when they have been seen.
type pending struct {
	fw          *fsnotify.Watcher
	entries     map[string]*observation
	watched     map[string]bool // directories watched (absolute)
	watchFailed map[string]bool // directories whose watch failed (logged once)
	// overLimit holds the directories of watchFailed that the system's
	// limit of watches refused (inotify's max_user_watches): they are not
	// logged one by one but counted, and their changes are found by the
	// rescans.
	overLimit map[string]bool
	// limitReported is the number of overLimit last logged.
	limitReported int
	// subdirs holds, by directory, its subdirectories in watched or
	// watchFailed, so that a directory gone drops the watches under it
	// without going through all of them.
	subdirs map[string]map[string]bool
}

// known records abs, a directory watched or whose watch failed, under its
// parent.
func (p *pending) known(abs string) {
	parent := filepath.Dir(abs)
	if p.subdirs[parent] == nil {
		p.subdirs[parent] = map[string]bool{}
	}
	p.subdirs[parent][abs] = true
}

// covers reports whether an event is pending for rel or for a directory
// above it.
func (p *pending) covers(rel string) bool {
	for {
		if _, ok := p.entries[rel]; ok {
			return true
		}
		i := strings.LastIndexByte(rel, '/')
		if i < 0 {
			return false
		}
		rel = rel[:i]
	}
}

type observation struct {
	size  int64
	mod   time.Time
	since time.Time
	dir   bool // the path was a watched directory when it was moved or deleted
	// written is set by an event that may have changed the bytes (a write,
	// or a file created or moved there): the file is read even if its size
	// and mtime match the record.
	written bool
}

// observe records st for rel; the settle clock restarts when it differs
// from what was seen before.
func (p *pending) observe(rel string, st fs.FileInfo) *observation {
	o := p.entries[rel]
	if o == nil {
		o = &observation{}
		p.entries[rel] = o
	} else if o.size == st.Size() && o.mod.Equal(st.ModTime()) {
		return o
	}
	o.size, o.mod, o.since = st.Size(), st.ModTime(), time.Now()
	return o
}

func newPending(fw *fsnotify.Watcher) *pending {
	return &pending{
		fw: fw, entries: map[string]*observation{}, watched: map[string]bool{},
		watchFailed: map[string]bool{}, overLimit: map[string]bool{}, subdirs: map[string]map[string]bool{},
	}
}

// touch queues rel after an event.
func (p *pending) touch(rel, abs string) *observation {
	st, err := os.Stat(abs)
	if err != nil {
		// Gone (or unreadable): the next settle step looks again.
		o := p.entries[rel]
		if o == nil {
			o = &observation{}
			p.entries[rel] = o
		}
		o.size, o.mod, o.since = -1, time.Time{}, time.Now()
		return o
	}
	return p.observe(rel, st)
}

// Run publishes the folder's files until ctx ends: an initial scan, then
// fsnotify events (directories created later are watched too) and a full
// rescan every Config.Rescan (or longer, for a folder that takes long to
// scan: see rescanSpacing). A file with events, or one the rescan finds
// modified less than Config.Settle ago, is published once its size and
// mtime have stayed the same for Settle, so a file being copied slowly is
// published once, complete. Deletions and renames publish FileDeleted. Run
// returns nil when ctx ends, and an error when the initial scan or fsnotify
// fails; later scan failures are logged and retried at the next rescan.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	defer func() {
		if err := fw.Close(); err != nil {
			w.log.DebugContext(ctx, "close fsnotify", slog.Any(keyErr, err))
		}
	}()
	pend := newPending(fw)
	w.mu.Lock()
	w.watchDir(ctx, pend, w.root)
	rep, err := w.scan(ctx, pend)
	w.reportWatches(ctx, pend)
	w.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	w.log.InfoContext(ctx, "watching folder", slog.String("root", w.root),
		slog.Duration("settle", w.cfg.Settle), slog.Duration("rescan", w.cfg.Rescan))

	rescan := time.NewTimer(w.nextRescan(ctx, rep))
	defer rescan.Stop()
	tick := time.NewTicker(tickInterval(w.cfg.Settle))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return fmt.Errorf("watch %s: fsnotify events closed", w.root)
			}
			w.mu.Lock()
			w.onEvent(ctx, pend, ev)
			w.reportWatches(ctx, pend)
			w.mu.Unlock()
		case err, ok := <-fw.Errors:
			if !ok {
				return fmt.Errorf("watch %s: fsnotify errors closed", w.root)
			}
			if !errors.Is(err, fsnotify.ErrEventOverflow) {
				w.log.WarnContext(ctx, "fsnotify error", slog.Any(keyErr, err))
				continue
			}
			w.log.WarnContext(ctx, "file events lost: rescanning the folder", slog.Any(keyErr, err),
				slog.String("hint", "more changes at once than the system's event queue holds (Linux: fs.inotify.max_queued_events); "+
					"the rescan finds them all"))
			rescan.Reset(w.nextRescan(ctx, w.rescan(ctx, pend)))
		case <-rescan.C:
			rescan.Reset(w.nextRescan(ctx, w.rescan(ctx, pend)))
		case <-tick.C:
			w.mu.Lock()
			w.settle(ctx, pend)
			w.mu.Unlock()
		}
	}
}

// tickInterval is how often pending paths are looked at.
func tickInterval(settle time.Duration) time.Duration {
	return min(max(settle/4, 5*time.Millisecond), 250*time.Millisecond)
}

// rescan scans the folder again and returns its report.
func (w *Watcher) rescan(ctx context.Context, pend *pending) Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := time.Now()
	rep, err := w.scan(ctx, pend)
	if err != nil && ctx.Err() == nil {
		w.log.WarnContext(ctx, "rescan failed", slog.Any(keyErr, err))
	}
	rep.Duration = time.Since(start)
	w.reportWatches(ctx, pend)
	return rep
}

// rescanSpacing bounds the share of time rescans take: the next rescan
// waits at least this many times as long as the last scan took. A scan
// costs in proportion to the files (it walks the folder and reads the whole
// state), so with a fixed interval a large enough folder would be rescanned
// almost without pause; fsnotify follows the changes in between.
const rescanSpacing = 20

// rescanDelay is the wait before the next rescan, after a scan that took
// last, for the configured interval.
func rescanDelay(interval, last time.Duration) time.Duration {
	return max(interval, rescanSpacing*last)
}

// nextRescan returns the wait before the next rescan, after the scan of
// rep, and says when it becomes longer than Config.Rescan, or returns to
// it. A scan that published or withdrew files (the first one of a new
// folder, say) took the time of that work, which the next one will not
// have: the interval stays as it was.
func (w *Watcher) nextRescan(ctx context.Context, rep Report) time.Duration {
	if rep.Count(Published)+rep.Count(Deleted) > 0 {
		return max(w.cfg.Rescan, w.rescanWait)
	}
	last := rep.Duration
	d := rescanDelay(w.cfg.Rescan, last)
	w.rescanWait = d
	if stretched := d > w.cfg.Rescan; stretched != w.rescanStretched {
		w.rescanStretched = stretched
		if stretched {
			w.log.InfoContext(ctx, "rescan interval lengthened: the folder takes long to scan",
				slog.Duration("rescan", d), slog.Duration("configured", w.cfg.Rescan), slog.Duration("scan", last),
				slog.String("hint", "rescans find what file events miss; they wait at least 20 times as long as a scan takes"))
		} else {
			w.log.InfoContext(ctx, "rescan interval back to the configured one", slog.Duration("rescan", d))
		}
	}
	return d
}

// watchDir adds an fsnotify watch for one directory; a failure is logged
// once, and the rescans cover the directory (and try to watch it again).
// Directories refused by the system's limit of watches are counted instead
// of logged, for reportWatches.
func (w *Watcher) watchDir(ctx context.Context, pend *pending, abs string) {
	add := pend.fw.Add
	if w.addWatch != nil {
		add = func(dir string) error { return w.addWatch(pend.fw, dir) }
	}
	pend.known(abs)
	if err := add(abs); err != nil {
		if watchLimited(err) {
			pend.watchFailed[abs] = true
			pend.overLimit[abs] = true
			return
		}
		delete(pend.overLimit, abs)
		if !pend.watchFailed[abs] {
			pend.watchFailed[abs] = true
			w.log.WarnContext(ctx, "watch directory", slog.String(keyPath, w.rel(abs)), slog.Any(keyErr, err))
		}
		return
	}
	pend.watched[abs] = true
	delete(pend.watchFailed, abs)
	delete(pend.overLimit, abs)
}

// watchLimited reports whether err is the system's limit of watches:
// inotify's max_user_watches (ENOSPC, "no space left on device", which is
// no disk full), or the open files that kqueue needs per directory (EMFILE).
func watchLimited(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE)
}

// reportWatches says when directories go unwatched for the system's limit
// of watches, and when they are all watched again: one line for all of
// them, not one per directory. w.mu is held.
func (w *Watcher) reportWatches(ctx context.Context, pend *pending) {
	n := len(pend.overLimit)
	w.m.unwatched.Set(float64(n))
	was := pend.limitReported
	pend.limitReported = n
	switch {
	case n > 0 && was == 0:
		w.log.WarnContext(ctx, "directories not watched: the system's limit of file watches is reached",
			slog.String("root", w.root),
			slog.Int("directories", n),
			slog.Int("watched", len(pend.watched)),
			slog.Duration("rescan", w.cfg.Rescan),
			slog.String("hint", "changes in these directories are found by the rescan only, every watch.rescan; "+
				"raise the limit (Linux: sysctl fs.inotify.max_user_watches=524288; macOS: ulimit -n) "+
				"and restart to follow them at once"))
	case n == 0 && was > 0:
		w.log.InfoContext(ctx, "all directories watched again", slog.String("root", w.root),
			slog.Int("watched", len(pend.watched)))
	}
}

// unwatchTree drops the watches of a directory that was moved or deleted
// and of its subdirectories, and reports whether dir was one. A watch
// follows its directory, not its path: fsnotify drops the watch of a moved
// directory itself, but those of its subdirectories live on under their old
// paths, so that their events carry paths that no longer exist, and
// watching the new paths returns the stale watches unchanged. Once dropped,
// the new paths are watched afresh.
func (w *Watcher) unwatchTree(ctx context.Context, pend *pending, dir string) bool {
	if !pend.watched[dir] && !pend.watchFailed[dir] {
		return false // a file, or a directory nothing watches
	}
	// Only the directories under dir are visited: deleting a tree of n
	// directories sends n events, and going through every watch for each
	// would take time in the square of n.
	var drop func(abs string)
	drop = func(abs string) {
		for sub := range pend.subdirs[abs] {
			drop(sub)
		}
		delete(pend.subdirs, abs)
		if pend.watched[abs] {
			delete(pend.watched, abs)
			if err := pend.fw.Remove(abs); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
				w.log.DebugContext(ctx, "unwatch directory", slog.String(keyPath, w.rel(abs)), slog.Any(keyErr, err))
			}
		}
		delete(pend.watchFailed, abs)
		delete(pend.overLimit, abs)
	}
	drop(dir)
	delete(pend.subdirs[filepath.Dir(dir)], dir)
	return true
}

// onEvent queues the path of an fsnotify event. A new directory is watched
// and everything already in it is queued (files may have been created
// before the watch was added). w.mu is held.
func (w *Watcher) onEvent(ctx context.Context, pend *pending, ev fsnotify.Event) {
	if ev.Name == w.root || !within(w.root, ev.Name) {
		return
	}
	wasDir := (ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename)) && w.unwatchTree(ctx, pend, ev.Name)
	rel := w.rel(ev.Name)
	if ev.Op != fsnotify.Chmod {
		w.touchLinks(pend, rel)
	}
	if r := w.pathRule(rel, true); r != "" && r != ReasonInvalidName {
		return // hidden or ignored; editor files and invalid names are checked (and logged once) by visit
	}
	// A directory that could not be watched (unreadable) is watched once
	// its mode changes, as a new one.
	if ev.Has(fsnotify.Create) || (ev.Has(fsnotify.Chmod) && pend.watchFailed[ev.Name]) {
		if lst, err := os.Lstat(ev.Name); err == nil && lst.IsDir() {
			w.watchTree(ctx, pend, ev.Name)
			return
		}
	}
	o := pend.touch(rel, ev.Name)
	o.dir = o.dir || wasDir
	o.written = o.written || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create)
}

// touchLinks queues, as written, the symlinks whose targets are rel or are
// under it: a link's bytes are its target's, and the events name the
// target only.
func (w *Watcher) touchLinks(pend *pending, rel string) {
	w.smu.Lock()
	defer w.smu.Unlock()
	for link, target := range w.links {
		if under(target, rel) {
			pend.touch(link, w.abs(link)).written = true
		}
	}
}

// watchTree watches a new directory and its subdirectories and queues
// their files, as written: they are new at their paths, whatever their
// sizes and mtimes.
func (w *Watcher) watchTree(ctx context.Context, pend *pending, dir string) {
	err := filepath.WalkDir(dir, func(abs string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished or unreadable: the rescan reports it
		}
		rel := w.rel(abs)
		if d.IsDir() {
			if w.nameRule(rel, true) != "" {
				return fs.SkipDir
			}
			w.watchDir(ctx, pend, abs)
			return nil
		}
		pend.touch(rel, abs).written = true
		return nil
	})
	if err != nil {
		w.log.WarnContext(ctx, "watch new directory", slog.String(keyPath, w.rel(dir)), slog.Any(keyErr, err))
	}
}

// settle publishes the pending files whose size and mtime have not changed
// for Settle, and withdraws pending paths that are gone. w.mu is held.
func (w *Watcher) settle(ctx context.Context, pend *pending) {
	now := time.Now()
	var goneDirs []string
	defer func() { w.sweep(ctx, goneDirs) }()
	for rel, o := range pend.entries {
		if ctx.Err() != nil {
			return
		}
		abs := w.abs(rel)
		lst, err := os.Lstat(abs)
		switch {
		case err != nil && !notExist(err):
			delete(pend.entries, rel) // the rescan reports it
			continue
		case err != nil || lst.IsDir():
			// Gone, or replaced by a directory (whose files are queued on
			// their own).
			delete(pend.entries, rel)
			w.gone(ctx, rel)
			if o.dir {
				goneDirs = append(goneDirs, rel)
			}
			continue
		case o.dir:
			// A directory replaced by a file or a symlink: the files that
			// were in it are gone; the new file is handled below.
			o.dir = false
			goneDirs = append(goneDirs, rel)
		}
		st := lst
		if lst.Mode()&fs.ModeSymlink != 0 {
			if target, err := os.Stat(abs); err == nil {
				st = target
			}
		}
		if o.size != st.Size() || !o.mod.Equal(st.ModTime()) {
			pend.observe(rel, st)
			continue
		}
		if now.Sub(o.since) < w.cfg.Settle {
			continue
		}
		delete(pend.entries, rel)
		rec, err := w.getRecord(ctx, rel)
		if err != nil {
			w.log.WarnContext(ctx, "file failed", slog.String(keyPath, rel), slog.Any(keyErr, err))
			continue // the rescan retries
		}
		res := w.visit(ctx, rel, abs, lst, rec, nil, !o.written)
		if res.Outcome == Skipped && res.Reason == ReasonUnstable {
			pend.touch(rel, abs).written = o.written
		}
		if rec.live() && !res.keepsRecord() && rec.ownedBy(w.root) {
			w.withdraw(ctx, rec)
		}
	}
}

// gone withdraws the recorded file of a path that disappeared or became a
// directory. A file recorded for another folder is left.
func (w *Watcher) gone(ctx context.Context, rel string) {
	rec, err := w.getRecord(ctx, rel)
	if err != nil {
		w.log.WarnContext(ctx, "file failed", slog.String(keyPath, rel), slog.Any(keyErr, err))
		return
	}
	w.forgetLogged(rel)
	if rec.live() && rec.ownedBy(w.root) {
		w.withdraw(ctx, rec)
	}
}

// sweep withdraws the recorded files under directories that were moved,
// deleted or replaced (by another directory, a file or a symlink) and that
// are gone. It reads the whole state, which
// takes long with many files: once per settle step, for every directory
// gone in it, and never for a file (editors and downloads delete many
// short-lived ones). Files recorded for another folder are left.
func (w *Watcher) sweep(ctx context.Context, dirs []string) {
	if len(dirs) == 0 || ctx.Err() != nil {
		return
	}
	w.runHook("sweep", "")
	recs, err := w.loadRecords(ctx)
	if err != nil {
		w.log.WarnContext(ctx, "withdraw files of gone directories", slog.Any("dirs", dirs), slog.Any(keyErr, err))
		return
	}
	// A directory replaced by a file or by a symlink (scans do not follow
	// symlinks to directories) holds none of the files under its path.
	replaced := dirSet{}
	for _, d := range dirs {
		if st, err := os.Lstat(w.abs(d)); err == nil && !st.IsDir() {
			replaced[d] = true
		}
	}
	goneDirs := newDirSet(dirs)
	for _, p := range slices.Sorted(maps.Keys(recs)) {
		r := recs[p]
		if !r.live() || !r.ownedBy(w.root) || !inAny(p, goneDirs) {
			continue
		}
		if _, err := os.Lstat(w.abs(p)); inAny(p, replaced) || notExist(err) {
			w.withdraw(ctx, r)
		}
	}
}

// notExist reports whether err says that a path is not there, also because
// one of its directories is now a file.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
