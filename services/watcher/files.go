package watcher

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ScanFiles publishes the named files only (paths relative to the root,
// forward slashes), with the same rules as Scan, and never publishes
// deletions: `docgraph ingest FILE` uses it so that a single file is keyed
// by its name without touching the rest of its folder.
func (w *Watcher) ScanFiles(ctx context.Context, rels []string) (Report, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := time.Now()
	if err := w.open(ctx); err != nil {
		return Report{}, fmt.Errorf("scan %s: %w", w.root, err)
	}
	var rep Report
	for _, rel := range rels {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("scan %s: %w", w.root, err)
		}
		rel = filepath.ToSlash(filepath.Clean(rel))
		if rel == "." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			rep.Results = append(rep.Results, w.told(w.fail(ctx, rel, fmt.Errorf("%s is not inside %s", rel, w.root))))
			continue
		}
		abs := w.abs(rel)
		lst, err := os.Lstat(abs)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("%s: no such file", rel)
			}
			rep.Results = append(rep.Results, w.told(w.fail(ctx, rel, err)))
			continue
		}
		rec, err := w.getRecord(ctx, rel)
		if err != nil {
			return rep, fmt.Errorf("scan %s: %w", w.root, err)
		}
		rep.Results = append(rep.Results, w.told(w.visit(ctx, rel, abs, lst, rec, nil, true)))
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// Paths returns the paths, relative to cfg.Root and slash-separated, of the
// files that a scan of cfg.Root would consider: every entry but the
// directories and files its rules leave out (Rules). It reads the folder
// only; unreadable directories are left out (a scan reports them).
func Paths(ctx context.Context, cfg Config) ([]string, error) {
	r, err := NewRules(cfg)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", cfg.Root, err)
	}
	w := r.w
	root := w.root
	var paths []string
	err = filepath.WalkDir(root, func(abs string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if abs == root {
			return err
		}
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel := w.rel(abs)
		if w.nameRule(rel, d.IsDir()) != "" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", cfg.Root, err)
	}
	return paths, nil
}
