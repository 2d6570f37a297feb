package watcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
)

const runTimeout = 10 * time.Second

func TestRunFollowsChanges(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 50 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	e.write(t, "before.md", "there before the start")
	startRun(t, e.w)

	discoveredN := func(p string, n int) func() error {
		return countIs(n, func() int { return len(e.discovered(t, p)) }, "discovered "+p)
	}
	deletedN := func(p string, n int) func() error {
		return countIs(n, func() int { return len(e.deletedEvents(t, p)) }, "deleted "+p)
	}
	waitFor(t, runTimeout, discoveredN("before.md", 1))

	t.Run("new file", func(t *testing.T) {
		e.write(t, "dropped.md", "dropped after the start")
		waitFor(t, runTimeout, discoveredN("dropped.md", 1))
	})
	t.Run("new nested directories", func(t *testing.T) {
		e.write(t, "x/y/z/deep.md", "in directories created after the start")
		e.write(t, "x/y/.cache/hidden.md", "hidden")
		waitFor(t, runTimeout, discoveredN("x/y/z/deep.md", 1))
		// The new directory is watched: a later file in it is seen too.
		e.write(t, "x/y/later.md", "later")
		waitFor(t, runTimeout, discoveredN("x/y/later.md", 1))
	})
	t.Run("edit", func(t *testing.T) {
		e.write(t, "dropped.md", "dropped after the start, then edited")
		waitFor(t, runTimeout, discoveredN("dropped.md", 2))
		evs := e.discovered(t, "dropped.md")
		assert.Equal(t, sha("dropped after the start, then edited"), evs[1].SHA256)
	})
	t.Run("rename", func(t *testing.T) {
		require.NoError(t, os.Rename(filepath.Join(e.root, "before.md"), filepath.Join(e.root, "renamed.md")))
		waitFor(t, runTimeout, deletedN("before.md", 1))
		waitFor(t, runTimeout, discoveredN("renamed.md", 1))
		assert.Equal(t, sha("there before the start"), e.discovered(t, "renamed.md")[0].SHA256)
	})
	t.Run("delete", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(e.root, "dropped.md")))
		waitFor(t, runTimeout, deletedN("dropped.md", 1))
	})
	t.Run("directory moved out", func(t *testing.T) {
		require.NoError(t, os.Rename(filepath.Join(e.root, "x"), filepath.Join(t.TempDir(), "x")))
		waitFor(t, runTimeout, deletedN("x/y/z/deep.md", 1))
		waitFor(t, runTimeout, deletedN("x/y/later.md", 1))
	})
	t.Run("ignored files", func(t *testing.T) {
		e.write(t, ".hidden/secret.md", "hidden")
		e.write(t, "draft.md.swp", "swap")
		e.write(t, "marker.md", "marker")
		waitFor(t, runTimeout, discoveredN("marker.md", 1))
		assert.Empty(t, e.discovered(t, ".hidden/secret.md"))
		assert.Empty(t, e.discovered(t, "x/y/.cache/hidden.md"))
		assert.Empty(t, e.discovered(t, "draft.md.swp"))
	})
}

// A file copied slowly is published once, complete, although fsnotify and
// the rescans see it many times while it grows.
func TestRunSlowWrite(t *testing.T) {
	const (
		steps    = 20
		interval = 20 * time.Millisecond
		// Far above the gap between writes, so that a loaded machine (the
		// race detector, shared cores) cannot stretch a gap into a pause.
		settle = 1500 * time.Millisecond
	)
	e := newEnv(t, func(c *Config) {
		c.Settle = settle
		c.Rescan = 40 * time.Millisecond
	})
	startRun(t, e.w)

	abs := filepath.Join(e.root, "slow.csv")
	f, err := os.Create(abs)
	require.NoError(t, err)
	var want strings.Builder
	var maxGap time.Duration
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		last := time.Now()
		for i := range steps {
			<-tick.C
			maxGap = max(maxGap, time.Since(last))
			last = time.Now()
			line := fmt.Sprintf("row %02d,%s\n", i, strings.Repeat("x", 100))
			want.WriteString(line)
			if _, err := f.WriteString(line); err != nil {
				done <- err
				return
			}
		}
		done <- f.Close()
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(runTimeout):
		t.Fatal("writer did not finish")
	}
	final := sha(want.String())
	waitFor(t, runTimeout, func() error {
		for _, ev := range e.discovered(t, "slow.csv") {
			if ev.SHA256 == final {
				return nil
			}
		}
		return fmt.Errorf("complete version not published yet")
	})
	evs := e.discovered(t, "slow.csv")
	require.Len(t, evs, 1, "published exactly once (longest pause between writes: %s, settle %s)", maxGap, settle)
	assert.Equal(t, final, evs[0].SHA256)
	assert.Equal(t, int64(want.Len()), evs[0].Size)
	got, err := e.objects(t).GetBytes(t.Context(), evs[0].Object)
	require.NoError(t, err)
	assert.Equal(t, want.String(), string(got))
}

func TestRunRescanWithdrawsDeletedFiles(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = 30 * time.Millisecond
	})
	e.write(t, "a.md", "a")
	_, err := e.w.Scan(t.Context())
	require.NoError(t, err)
	// Deleted while nothing watched: the initial scan of Run sees it.
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))
	startRun(t, e.w)
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "a.md")) }, "deleted a.md"))
}

func TestRunErrors(t *testing.T) {
	t.Run("root gone before the start", func(t *testing.T) {
		e := newEnv(t, nil)
		require.NoError(t, os.RemoveAll(e.root))
		err := e.w.Run(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), e.w.root)
	})
	t.Run("cancelled before the start", func(t *testing.T) {
		e := newEnv(t, nil)
		e.write(t, "a.md", "a")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		assert.NoError(t, e.w.Run(ctx))
	})
	t.Run("returns promptly on cancel", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.Settle = 10 * time.Millisecond })
		e.write(t, "a.md", "a")
		stop := startRun(t, e.w)
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "a.md")) }, "discovered a.md"))
		start := time.Now()
		stop()
		assert.Less(t, time.Since(start), 2*time.Second)
	})
}

func TestTickInterval(t *testing.T) {
	tests := []struct {
		give, want time.Duration
	}{
		{give: time.Millisecond, want: 5 * time.Millisecond},
		{give: 100 * time.Millisecond, want: 25 * time.Millisecond},
		{give: time.Minute, want: 250 * time.Millisecond},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tickInterval(tt.give), tt.give)
	}
}

// A watched folder deleted and created again is watched again from the
// next scan on (its old watch ended with it).
func TestScanWatchesARecreatedRoot(t *testing.T) {
	e := newEnv(t, nil)
	fw, err := fsnotify.NewWatcher()
	require.NoError(t, err)
	t.Cleanup(func() { _ = fw.Close() })
	go func() {
		for range fw.Events { // drained so that the watcher keeps reading
		}
	}()
	pend := newPending(fw)
	e.w.mu.Lock()
	defer e.w.mu.Unlock()
	e.w.watchDir(t.Context(), pend, e.root)
	require.Contains(t, fw.WatchList(), e.root)

	require.NoError(t, os.RemoveAll(e.root))
	waitFor(t, runTimeout, func() error {
		if slices.Contains(fw.WatchList(), e.root) {
			return errors.New("the deleted folder is still watched")
		}
		return nil
	})
	e.write(t, "back.md", "the folder is back")
	_, err = e.w.scan(t.Context(), pend)
	require.NoError(t, err)
	assert.Contains(t, fw.WatchList(), e.root)
}

// A directory renamed inside the folder, or moved out and back in under
// another name, is followed under its new name: its files move to their new
// paths, and what is written in it and its subdirectories later is seen at
// once, not only by the next rescan.
func TestRunDirectoryMoved(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 50 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	e.write(t, "d1/top.md", "top")
	e.write(t, "d1/sub/deep/x.md", "x")
	startRun(t, e.w)
	discoveredN := func(p string, n int) func() error {
		return countIs(n, func() int { return len(e.discovered(t, p)) }, "discovered "+p)
	}
	deletedN := func(p string, n int) func() error {
		return countIs(n, func() int { return len(e.deletedEvents(t, p)) }, "deleted "+p)
	}
	waitFor(t, runTimeout, discoveredN("d1/top.md", 1))
	waitFor(t, runTimeout, discoveredN("d1/sub/deep/x.md", 1))

	t.Run("renamed inside", func(t *testing.T) {
		require.NoError(t, os.Rename(filepath.Join(e.root, "d1"), filepath.Join(e.root, "d2")))
		for _, p := range []string{"top.md", "sub/deep/x.md"} {
			waitFor(t, runTimeout, deletedN("d1/"+p, 1))
			waitFor(t, runTimeout, discoveredN("d2/"+p, 1))
		}
		for _, p := range []string{"d2/new.md", "d2/sub/new.md", "d2/sub/deep/new.md"} {
			e.write(t, p, "written after the rename into "+p)
			waitFor(t, runTimeout, discoveredN(p, 1))
		}
		e.write(t, "d2/sub/deep/x.md", "x, edited after the rename")
		waitFor(t, runTimeout, discoveredN("d2/sub/deep/x.md", 2))
	})
	t.Run("moved out and back in", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "d2")
		require.NoError(t, os.Rename(filepath.Join(e.root, "d2"), out))
		waitFor(t, runTimeout, deletedN("d2/sub/deep/x.md", 1))
		require.NoError(t, os.Rename(out, filepath.Join(e.root, "d3")))
		waitFor(t, runTimeout, discoveredN("d3/sub/deep/x.md", 1))
		e.write(t, "d3/sub/deep/back.md", "written after the move back")
		waitFor(t, runTimeout, discoveredN("d3/sub/deep/back.md", 1))
	})
	assert.Len(t, e.discovered(t, "d1/sub/deep/x.md"), 1)
	assert.Empty(t, e.discovered(t, "d2/sub/deep/back.md"))
}

// A file replaced by different bytes of the same size and mtime (cp -p,
// rsync -t, an archive extracted over it) is published again: Run had an
// event for it, so it reads the file instead of trusting the quick check
// that scans make.
func TestRunSameSizeAndMtimeReplacement(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	abs := e.write(t, "a.md", "version A")
	startRun(t, e.w)
	discoveredN := func(n int) func() error {
		return countIs(n, func() int { return len(e.discovered(t, "a.md")) }, "discovered a.md")
	}
	waitFor(t, runTimeout, discoveredN(1))
	st, err := os.Stat(abs)
	require.NoError(t, err)

	t.Run("renamed over", func(t *testing.T) {
		tmp := e.write(t, "a.md.part", "version B")
		require.NoError(t, os.Chtimes(tmp, st.ModTime(), st.ModTime()))
		require.NoError(t, os.Rename(tmp, abs))
		waitFor(t, runTimeout, discoveredN(2))
		assert.Equal(t, sha("version B"), e.discovered(t, "a.md")[1].SHA256)
	})
	t.Run("rewritten in place", func(t *testing.T) {
		e.write(t, "a.md", "version C")
		require.NoError(t, os.Chtimes(abs, st.ModTime(), st.ModTime()))
		waitFor(t, runTimeout, discoveredN(3))
		assert.Equal(t, sha("version C"), e.discovered(t, "a.md")[2].SHA256)
	})
	t.Run("chmod", func(t *testing.T) {
		// Only a write or a rename can change the bytes: a chmod or chown
		// of many files does not make Run read them all.
		var hashed atomic.Int32
		e.w.mu.Lock()
		e.w.hook = func(step, rel string) {
			if step == "hashed" && rel == "a.md" {
				hashed.Add(1)
			}
		}
		e.w.mu.Unlock()
		require.NoError(t, os.Chmod(abs, 0o600))
		e.write(t, "marker.md", "settles after the chmod")
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "marker.md")) }, "discovered marker.md"))
		assert.Zero(t, hashed.Load())
	})
	t.Run("touched", func(t *testing.T) {
		rec := e.record(t, "a.md")
		require.NoError(t, os.Chtimes(abs, time.Now(), time.Now()))
		waitFor(t, runTimeout, func() error {
			if r := e.record(t, "a.md"); r.ModTime == rec.ModTime {
				return errors.New("new mtime not recorded")
			}
			return nil
		})
		assert.Len(t, e.discovered(t, "a.md"), 3, "the same bytes are not published again")
	})
}

// A deleted path that was neither a recorded file nor a directory (vim's
// test file 4913, a backup file, a download's temporary file) costs one
// state lookup: only a deleted or moved directory makes Run read the whole
// state to find the files under it, which takes long with many files.
func TestRunDeletedTemporaryFileDoesNotReadAllState(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 100 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	e.write(t, "d/a.md", "a")
	var sweeps atomic.Int32
	e.w.hook = func(step, _ string) {
		if step == "sweep" {
			sweeps.Add(1)
		}
	}
	startRun(t, e.w)
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "d/a.md")) }, "discovered d/a.md"))

	for i := range 20 {
		for _, name := range []string{strconv.Itoa(4913 + i), fmt.Sprintf("x%d.md~", i), fmt.Sprintf("lu%d.tmp", i)} {
			require.NoError(t, os.Remove(e.write(t, name, "short-lived")))
		}
	}
	// The deletions are handled at the first tick after their events; the
	// marker only once it has settled.
	e.write(t, "marker.md", "marker")
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "marker.md")) }, "discovered marker.md"))
	assert.Zero(t, sweeps.Load())

	require.NoError(t, os.Rename(filepath.Join(e.root, "d"), filepath.Join(t.TempDir(), "d")))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "d/a.md")) }, "deleted d/a.md"))
	assert.Equal(t, int32(1), sweeps.Load())
}

// A directory swapped for another one under the same name (a deployment or
// sync tool moving a new version into place) withdraws the files the new
// one lacks at once, not only at the next rescan, and publishes the files
// it changed, even behind the same size and mtime; a file replaced by a
// directory of the same name is withdrawn too.
func TestRunDirectorySwapped(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 50 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	old := e.write(t, "d/a.md", "a, version 1")
	e.write(t, "d/b.md", "b")
	e.write(t, "x", "a file, then a directory")
	startRun(t, e.w)
	for _, p := range []string{"d/a.md", "d/b.md", "x"} {
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, p)) }, "discovered "+p))
	}

	st, err := os.Stat(old)
	require.NoError(t, err)
	next := filepath.Join(t.TempDir(), "d")
	require.NoError(t, os.MkdirAll(next, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(next, "a.md"), []byte("a, version 2"), 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(next, "a.md"), st.ModTime(), st.ModTime()))
	require.NoError(t, os.Rename(filepath.Join(e.root, "d"), filepath.Join(t.TempDir(), "d.old")))
	require.NoError(t, os.Rename(next, filepath.Join(e.root, "d")))
	require.NoError(t, os.Remove(filepath.Join(e.root, "x")))
	e.write(t, "x/inside.md", "x is a directory now")

	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "d/b.md")) }, "deleted d/b.md"))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "x")) }, "deleted x"))
	waitFor(t, runTimeout, countIs(2, func() int { return len(e.discovered(t, "d/a.md")) }, "discovered d/a.md"))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "x/inside.md")) }, "discovered x/inside.md"))
	assert.Equal(t, sha("a, version 2"), e.discovered(t, "d/a.md")[1].SHA256)
}

// A directory replaced by a file of the same name, or by a symlink to
// another directory (which is not followed), withdraws the files that were
// in it at once, not only at the next rescan, and the file is published.
func TestRunDirectoryReplacedByAFile(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 50 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	e.write(t, "x/a.md", "a")
	e.write(t, "x/sub/b.md", "b")
	e.write(t, "y/c.md", "c")
	startRun(t, e.w)
	for _, p := range []string{"x/a.md", "x/sub/b.md", "y/c.md"} {
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, p)) }, "discovered "+p))
	}

	t.Run("by a file", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(filepath.Join(e.root, "x")))
		e.write(t, "x", "x is a file now")
		for _, p := range []string{"x/a.md", "x/sub/b.md"} {
			waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, p)) }, "deleted "+p))
		}
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "x")) }, "discovered x"))
	})
	t.Run("by a symlink", func(t *testing.T) {
		require.NoError(t, os.Rename(filepath.Join(e.root, "y"), filepath.Join(e.root, "z")))
		require.NoError(t, os.Symlink("z", filepath.Join(e.root, "y")))
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "y/c.md")) }, "deleted y/c.md"))
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "z/c.md")) }, "discovered z/c.md"))
	})
}

// A symlink inside the folder is published with its target's bytes: when
// the target changes or goes, the link is published again or withdrawn at
// once, not only at the next rescan (the events name the target, not the
// link).
func TestRunFollowsTheTargetsOfSymlinks(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 50 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	e.write(t, "docs/real.md", "version 1")
	require.NoError(t, os.Symlink("docs/real.md", filepath.Join(e.root, "link.md")))
	require.NoError(t, os.Symlink("docs", filepath.Join(e.root, "docs-link")))
	e.write(t, "other/o.md", "o")
	require.NoError(t, os.Symlink("../docs-link/real.md", filepath.Join(e.root, "other/via-dir-link.md")))
	startRun(t, e.w)
	discoveredN := func(p string, n int) func() error {
		return countIs(n, func() int { return len(e.discovered(t, p)) }, "discovered "+p)
	}
	for _, p := range []string{"docs/real.md", "link.md", "other/via-dir-link.md"} {
		waitFor(t, runTimeout, discoveredN(p, 1))
	}

	e.write(t, "docs/real.md", "version 2")
	for _, p := range []string{"docs/real.md", "link.md", "other/via-dir-link.md"} {
		waitFor(t, runTimeout, discoveredN(p, 2))
		assert.Equal(t, sha("version 2"), e.discovered(t, p)[1].SHA256, p)
	}

	require.NoError(t, os.Rename(filepath.Join(e.root, "docs"), filepath.Join(t.TempDir(), "docs")))
	for _, p := range []string{"docs/real.md", "link.md", "other/via-dir-link.md"} {
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, p)) }, "deleted "+p))
	}
}

// A directory that could not be watched because it was unreadable is
// watched, and its files are published, as soon as it is made readable,
// not only at the next rescan.
func TestRunWatchesADirectoryMadeReadable(t *testing.T) {
	if rerunAsNonRoot(t) {
		return
	}
	e := newEnv(t, func(c *Config) {
		c.Settle = 50 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	e.write(t, "locked/a.md", "a")
	locked := filepath.Join(e.root, "locked")
	require.NoError(t, os.Chmod(locked, 0))
	t.Cleanup(func() { assert.NoError(t, os.Chmod(locked, 0o755)) }) // so that TempDir can remove it
	startRun(t, e.w)
	waitFor(t, runTimeout, func() error {
		if len(e.logs.lines(t, "watching folder")) == 0 {
			return errors.New("initial scan not done")
		}
		return nil
	})
	require.Len(t, e.logs.lines(t, "watch directory"), 1, "the failed watch is logged")

	require.NoError(t, os.Chmod(locked, 0o755))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "locked/a.md")) }, "discovered locked/a.md"))
	e.write(t, "locked/b.md", "written after")
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "locked/b.md")) }, "discovered locked/b.md"))
}

// docgraph's data directory inside the watched folder is never published:
// its store files change with every publication, which published them
// again, without end.
func TestRunExcludesTheDataDirectory(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "data/nats/store.blk", "store")
	e.write(t, "doc.md", "a document")
	w, _, _ := e.newWatcher(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = 50 * time.Millisecond
		c.Exclude = []string{filepath.Join(e.root, "data")}
	})
	rep, err := w.Scan(t.Context())
	require.NoError(t, err)
	res, ok := rep.Lookup("data")
	require.True(t, ok)
	assert.Equal(t, Skipped, res.Outcome)
	assert.Equal(t, ReasonExcluded, res.Reason)
	assert.Equal(t, 1, rep.Count(Published))

	startRun(t, w)
	e.write(t, "data/nats/store.blk", "store, changed")
	e.write(t, "data/graph.wal", "graph")
	e.write(t, "marker.md", "written after the store")
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "marker.md")) }, "discovered marker.md"))
	for _, m := range e.messages(t) {
		var ev event.FileDiscovered
		require.NoError(t, m.Msg.Decode(&ev))
		assert.False(t, strings.HasPrefix(ev.Path, "data/"), ev.Path)
	}

	_, err = New(Config{Root: filepath.Join(e.root, "data"), Exclude: []string{filepath.Join(e.root, "data")}}, e.js, nil, nil)
	assert.ErrorContains(t, err, "excluded")
	_, err = New(Config{Root: filepath.Join(e.root, "data/nats"), Exclude: []string{filepath.Join(e.root, "data")}}, e.js, nil, nil)
	assert.NoError(t, err, "a folder inside the data directory may be watched")
}

// A deleted tree of many directories reads the whole state once per settle
// step in which directories went, not once per directory, and withdraws
// every file under it.
func TestRunDeletedTreeReadsStateOnce(t *testing.T) {
	const dirs = 20
	e := newEnv(t, func(c *Config) {
		c.Settle = 200 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	for i := range dirs {
		e.write(t, fmt.Sprintf("tree/d%02d/x/f.md", i), fmt.Sprintf("file %d", i))
	}
	var sweeps atomic.Int32
	e.w.hook = func(step, _ string) {
		if step == "sweep" {
			sweeps.Add(1)
		}
	}
	startRun(t, e.w)
	for i := range dirs {
		p := fmt.Sprintf("tree/d%02d/x/f.md", i)
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, p)) }, "discovered "+p))
	}
	require.NoError(t, os.RemoveAll(filepath.Join(e.root, "tree")))
	for i := range dirs {
		p := fmt.Sprintf("tree/d%02d/x/f.md", i)
		waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, p)) }, "deleted "+p))
	}
	e.write(t, "marker.md", "marker")
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "marker.md")) }, "discovered marker.md"))
	// 2*dirs+1 directories went, in a few settle steps.
	assert.Less(t, sweeps.Load(), int32(dirs/2))
}

// A file dropped with a name that is not valid UTF-8 is refused with a
// warning at once, not only at the next rescan.
func TestRunWarnsOfAnInvalidName(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	startRun(t, e.w)
	waitFor(t, runTimeout, func() error {
		if len(e.logs.lines(t, "watching folder")) == 0 {
			return errors.New("initial scan not done")
		}
		return nil
	})
	e.write(t, "Pr\x84sentation.md", "a name in CP437")
	waitFor(t, runTimeout, func() error {
		for _, l := range e.logs.lines(t, "file skipped") {
			if l["reason"] == string(ReasonInvalidName) && l["level"] == "WARN" {
				return nil
			}
		}
		return errors.New("no warning")
	})
	assert.Empty(t, e.messages(t))
}

// A share mounted after docgraph started: the first scans find the folder
// empty and keep its files; once it is mounted they are found unchanged.
// Files deleted while the watcher runs are withdrawn, empty folder or not.
func TestRunKeepsTheFilesOfAFolderFoundEmptyAtStart(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = 50 * time.Millisecond
	})
	for _, p := range []string{"a.md", "sub/b.md"} {
		e.write(t, p, p)
	}
	e.scan(t)
	require.NoError(t, os.Rename(e.root, e.root+".away")) // unmounted
	require.NoError(t, os.Mkdir(e.root, 0o755))           // the empty mount point

	startRun(t, e.w)
	waitFor(t, runTimeout, countIs(1, func() int {
		return len(e.logs.lines(t, "watched folder is empty: its files are kept in the graph, not withdrawn"))
	}, "files held"))
	assert.Equal(t, 2.0, testutil.ToFloat64(e.w.m.held))

	require.NoError(t, os.Remove(e.root))
	require.NoError(t, os.Rename(e.root+".away", e.root)) // mounted
	waitFor(t, runTimeout, func() error {
		if n := testutil.ToFloat64(e.w.m.held); n != 0 {
			return fmt.Errorf("%v files held", n)
		}
		return nil
	})
	assert.Empty(t, e.deletedEvents(t, "a.md"))
	assert.Len(t, e.discovered(t, "sub/b.md"), 1, "found unchanged")

	// Deleted while watched: withdrawn as they go.
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))
	require.NoError(t, os.RemoveAll(filepath.Join(e.root, "sub")))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "sub/b.md")) }, "deleted sub/b.md"))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "a.md")) }, "deleted a.md"))
}

func TestPendingCovers(t *testing.T) {
	p := &pending{entries: map[string]*observation{"gone": {}, "docs/old.md": {}}}
	assert.True(t, p.covers("gone/x/y.md"), "under a pending directory")
	assert.True(t, p.covers("docs/old.md"))
	assert.False(t, p.covers("docs/other.md"))
	assert.False(t, p.covers("gone.md"))
	assert.False(t, p.covers("goner/x.md"))
}

// Directories over the system's limit of watches (inotify's
// max_user_watches: ENOSPC, which reads "no space left on device") are
// reported in one line that names the limit, not one line per directory,
// counted in a gauge, and their changes are still published by the rescans.
func TestRunReportsTheWatchLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = 100 * time.Millisecond
	})
	for i := range 5 {
		e.write(t, fmt.Sprintf("d%d/a.md", i), "a")
	}
	var refuse atomic.Bool
	refuse.Store(true)
	e.w.addWatch = func(fw *fsnotify.Watcher, dir string) error {
		if refuse.Load() && dir != e.root {
			return fmt.Errorf("watch %s: %w", dir, syscall.ENOSPC)
		}
		return fw.Add(dir)
	}
	startRun(t, e.w)
	waitFor(t, runTimeout, func() error {
		if len(e.logs.lines(t, "watching folder")) == 0 {
			return errors.New("initial scan not done")
		}
		return nil
	})
	assert.Empty(t, e.logs.lines(t, "watch directory"), "no line per directory")
	limit := e.logs.lines(t, "directories not watched: the system's limit of file watches is reached")
	require.Len(t, limit, 1)
	assert.EqualValues(t, 5, limit[0]["directories"])
	assert.Contains(t, limit[0]["hint"], "fs.inotify.max_user_watches")
	assert.InDelta(t, 5, testutil.ToFloat64(e.w.m.unwatched), 0)

	// A change in an unwatched directory is found by the rescan.
	e.write(t, "d3/b.md", "written while unwatched")
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "d3/b.md")) }, "discovered d3/b.md"))
	assert.Len(t, e.logs.lines(t, "directories not watched: the system's limit of file watches is reached"), 1,
		"said once, not at every rescan")

	// Once watches are free again, the rescan watches the directories.
	refuse.Store(false)
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.logs.lines(t, "all directories watched again")) }, "watched again"))
	assert.InDelta(t, 0, testutil.ToFloat64(e.w.m.unwatched), 0)
}

// A folder whose scan takes long is not rescanned almost back to back:
// rescans take at most a twentieth of the time, and the change of interval
// is said once each way.
func TestRescanDelay(t *testing.T) {
	tests := []struct {
		name           string
		interval, last time.Duration
		want           time.Duration
	}{
		{name: "quick scan", interval: 30 * time.Second, last: 200 * time.Millisecond, want: 30 * time.Second},
		{name: "scan of a twentieth", interval: 30 * time.Second, last: 1500 * time.Millisecond, want: 30 * time.Second},
		{name: "long scan", interval: 30 * time.Second, last: 10 * time.Second, want: 200 * time.Second},
		{name: "scan longer than the interval", interval: time.Second, last: 3 * time.Second, want: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rescanDelay(tt.interval, tt.last))
		})
	}

	e := newEnv(t, func(c *Config) { c.Rescan = 30 * time.Second })
	published := Report{Duration: time.Minute, Results: []Result{{Path: "a.md", Outcome: Published}}}
	assert.Equal(t, 30*time.Second, e.w.nextRescan(t.Context(), published),
		"a scan that published files took the time of publishing them")
	for _, last := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, time.Second, 2 * time.Second} {
		e.w.nextRescan(t.Context(), Report{Duration: last})
	}
	assert.Len(t, e.logs.lines(t, "rescan interval lengthened: the folder takes long to scan"), 2)
	assert.Len(t, e.logs.lines(t, "rescan interval back to the configured one"), 1)
	assert.Equal(t, 40*time.Second, e.w.nextRescan(t.Context(), published), "the last wait is kept")
}

// Lost events (the system's event queue overflowed) are said as such, and
// the rescan they start finds the changes.
func TestRunRescansAfterLostEvents(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = time.Hour // only the rescan of the overflow
	})
	e.write(t, "d/a.md", "a")
	fws := make(chan *fsnotify.Watcher, 1)
	e.w.addWatch = func(fw *fsnotify.Watcher, dir string) error {
		if dir == e.root {
			select {
			case fws <- fw:
			default:
			}
			return fw.Add(dir)
		}
		return syscall.ENOSPC // no events from d
	}
	startRun(t, e.w)
	fw := <-fws
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "d/a.md")) }, "discovered d/a.md"))
	e.write(t, "d/b.md", "b")
	fw.Errors <- fsnotify.ErrEventOverflow
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "d/b.md")) }, "discovered d/b.md"))
	lost := e.logs.lines(t, "file events lost: rescanning the folder")
	require.Len(t, lost, 1)
	assert.Contains(t, lost[0]["hint"], "max_queued_events")
}
