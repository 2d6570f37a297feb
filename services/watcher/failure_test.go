package watcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

// Bytes changed without a visible change of size or mtime between hashing
// and storing are caught by hashing the stored stream again.
func TestScanContentChangedBehindStat(t *testing.T) {
	e := newEnv(t, nil)
	abs := e.write(t, "sneaky.md", "original")
	st, err := os.Stat(abs)
	require.NoError(t, err)
	e.w.hook = func(step, _ string) {
		if step != "hashed" {
			return
		}
		require.NoError(t, os.WriteFile(abs, []byte("ORIGINAL"), 0o644))
		require.NoError(t, os.Chtimes(abs, st.ModTime(), st.ModTime()))
	}
	res, ok := e.scan(t).Lookup("sneaky.md")
	require.True(t, ok)
	assert.Equal(t, Skipped, res.Outcome)
	assert.Equal(t, ReasonUnstable, res.Reason)
	assert.Contains(t, res.Detail, "changed while it was stored")
	assert.Empty(t, e.messages(t))
	assert.False(t, e.objectExists(t, "sneaky.md@"+sha("original")), "mismatching upload deleted")
}

func TestPublishEdgeCases(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 5000 })
	e.scan(t) // opens the buckets
	dir := filepath.Join(e.root, "adir")
	require.NoError(t, os.Mkdir(dir, 0o755))
	e.write(t, "grew.txt", string(make([]byte, 5001)))
	tests := []struct {
		name    string
		rel     string
		outcome Outcome
		reason  SkipReason
		errText string
	}{
		{name: "vanished before reading", rel: "missing.md", outcome: Skipped, reason: ReasonUnstable},
		{name: "grew over the limit after the walk", rel: "grew.txt", outcome: Skipped, reason: ReasonTooLarge},
		{name: "unreadable as a file", rel: "adir", outcome: Failed, errText: "hash adir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.w.mu.Lock()
			res := e.w.publish(t.Context(), tt.rel, e.w.abs(tt.rel), nil)
			e.w.mu.Unlock()
			assert.Equal(t, tt.outcome, res.Outcome)
			assert.Equal(t, tt.reason, res.Reason)
			if tt.errText != "" {
				assert.ErrorContains(t, res.Err, tt.errText)
			}
		})
	}
}

func TestScanBucketsGone(t *testing.T) {
	t.Run("object store", func(t *testing.T) {
		e := newEnv(t, nil)
		e.scan(t)
		require.NoError(t, e.js.DeleteObjectStore(t.Context(), bus.BucketFiles))
		e.write(t, "a.md", "a")
		res, ok := e.scan(t).Lookup("a.md")
		require.True(t, ok)
		assert.Equal(t, Failed, res.Outcome)
		assert.ErrorContains(t, res.Err, "store a.md")
		assert.Empty(t, e.messages(t))
	})
	t.Run("state bucket", func(t *testing.T) {
		e := newEnv(t, nil)
		e.scan(t)
		require.NoError(t, e.js.DeleteKeyValue(t.Context(), bus.BucketWatcher))
		_, err := e.w.Scan(t.Context())
		require.ErrorContains(t, err, "load state")
	})
}

func TestReportHelpers(t *testing.T) {
	rep := Report{Results: []Result{
		{Path: "a", Outcome: Published},
		{Path: "b", Outcome: Deleted},
		{Path: "c", Outcome: Skipped, Reason: ReasonHidden},
		{Path: "d", Outcome: Skipped, Reason: ReasonTooLarge},
	}}
	_, ok := rep.Lookup("zzz")
	assert.False(t, ok)
	assert.Equal(t, 2, rep.Count(Skipped))
	want := map[string]bool{"a": true, "b": false, "c": false, "d": true}
	for _, r := range rep.Results {
		assert.Equal(t, want[r.Path], r.keepsRecord(), r.Path)
	}
}

func TestRunSymlinksAndRefusals(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside.md")
	require.NoError(t, os.WriteFile(outside, []byte("outside"), 0o644))
	root := filepath.Join(base, "root")
	require.NoError(t, os.Mkdir(root, 0o755))
	e := newEnv(t, func(c *Config) {
		c.Root = root
		c.Settle = 30 * time.Millisecond
		c.Rescan = time.Hour
		c.MaxFileSize = 50
	})
	e.root = root
	e.write(t, "doc.md", "a document")
	startRun(t, e.w)
	discovered := func(p string, n int) func() error {
		return countIs(n, func() int { return len(e.discovered(t, p)) }, "discovered "+p)
	}
	waitFor(t, runTimeout, discovered("doc.md", 1))

	// A link inside the folder is published under its path.
	require.NoError(t, os.Symlink("doc.md", filepath.Join(root, "link.md")))
	waitFor(t, runTimeout, discovered("link.md", 1))

	// A published file replaced by a link leaving the folder is withdrawn.
	require.NoError(t, os.Remove(filepath.Join(root, "doc.md")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "doc.md")))
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.deletedEvents(t, "doc.md")) }, "deleted doc.md"))
	waitFor(t, runTimeout, func() error {
		for _, l := range e.logs.lines(t, "file skipped") {
			if l["path"] == "doc.md" && l["reason"] == string(ReasonSymlinkOutside) {
				return nil
			}
		}
		return fmt.Errorf("outside link not logged")
	})

	// A file over the limit is refused; the marker written after it shows
	// the watcher has moved on.
	e.write(t, "big.txt", string(make([]byte, 51)))
	e.write(t, "marker.md", "marker")
	waitFor(t, runTimeout, discovered("marker.md", 1))
	waitFor(t, runTimeout, func() error {
		for _, l := range e.logs.lines(t, "file skipped") {
			if l["path"] == "big.txt" {
				return nil
			}
		}
		return fmt.Errorf("big file not logged")
	})
	assert.Empty(t, e.discovered(t, "big.txt"))
}

// A file that changes while Run hashes it is looked at again once it has
// settled, and published complete.
func TestRunRetriesUnstableFile(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = time.Hour
	})
	abs := e.write(t, "log.txt", "one\n")
	var once sync.Once
	e.w.hook = func(step, _ string) {
		if step != "hashed" {
			return
		}
		once.Do(func() {
			f, err := os.OpenFile(abs, os.O_APPEND|os.O_WRONLY, 0)
			if err == nil {
				_, err = f.WriteString("two\n")
				err = errors.Join(err, f.Close())
			}
			if err != nil {
				t.Errorf("append: %v", err)
			}
		})
	}
	startRun(t, e.w)
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "log.txt")) }, "discovered log.txt"))
	assert.Equal(t, sha("one\ntwo\n"), e.discovered(t, "log.txt")[0].SHA256)
}

func TestRunRescanFailureIsLogged(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 10 * time.Millisecond
		c.Rescan = 20 * time.Millisecond
	})
	startRun(t, e.w)
	waitFor(t, runTimeout, func() error {
		if len(e.logs.lines(t, "watching folder")) == 0 {
			return fmt.Errorf("not started")
		}
		return nil
	})
	require.NoError(t, os.RemoveAll(e.root))
	waitFor(t, runTimeout, func() error {
		if len(e.logs.lines(t, "rescan failed")) == 0 {
			return fmt.Errorf("no rescan failure logged")
		}
		return nil
	})
}

// A file that changes while it is uploaded is not published; its upload is
// deleted.
func TestScanChangedWhileStored(t *testing.T) {
	e := newEnv(t, nil)
	abs := e.write(t, "busy.md", "first")
	e.w.hook = func(step, _ string) {
		if step == "stored" {
			require.NoError(t, os.WriteFile(abs, []byte("second, longer"), 0o644))
		}
	}
	res, ok := e.scan(t).Lookup("busy.md")
	require.True(t, ok)
	assert.Equal(t, Skipped, res.Outcome)
	assert.Equal(t, ReasonUnstable, res.Reason)
	assert.Empty(t, e.messages(t))
	assert.False(t, e.objectExists(t, "busy.md@"+sha("first")))
}

// A scan cancelled midway publishes no deletions (it has not seen the whole
// folder) and returns the error.
func TestScanCancelledMidway(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "c.md", "c")
	e.scan(t)
	require.NoError(t, os.Remove(filepath.Join(e.root, "c.md")))
	e.write(t, "a.md", "a")
	e.write(t, "b.md", "b")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.w.hook = func(string, string) { cancel() }
	_, err := e.w.Scan(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, e.deletedEvents(t, "c.md"))
	assert.Empty(t, e.discovered(t, "b.md"))
}

// A publication interrupted by the shutdown is no failure of the file: it
// is not warned about nor counted (the next start publishes the file).
func TestScanInterruptedPublicationIsNoFailure(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "a")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	e.w.hook = func(step, _ string) {
		if step == "hashed" {
			cancel() // stopped while the file is stored
		}
	}
	_, err := e.w.Scan(ctx)
	require.ErrorIs(t, err, context.Canceled)
	for _, l := range e.logs.lines(t, "file failed") {
		assert.NotEqual(t, "WARN", l["level"], "%v", l)
	}
	assert.Zero(t, testutil.ToFloat64(e.w.m.failed))

	e.w.hook = nil
	res, _ := e.scan(t).Lookup("a.md")
	assert.Equal(t, Published, res.Outcome)
}

func TestScanRootReplacedByFile(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "a")
	e.scan(t)
	require.NoError(t, os.RemoveAll(e.root))
	require.NoError(t, os.WriteFile(e.root, []byte("not a folder"), 0o644))
	_, err := e.w.Scan(t.Context())
	require.ErrorContains(t, err, "not a directory")
	assert.Empty(t, e.deletedEvents(t, "a.md"))
}

// Deleting a recorded file while the files stream is unavailable fails and
// is retried by the next scan.
func TestScanDeletionPublishFailure(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "a")
	e.scan(t)
	s, err := e.js.Stream(t.Context(), bus.StreamFiles)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	require.NoError(t, e.js.DeleteStream(t.Context(), bus.StreamFiles))
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))

	res, ok := e.scan(t).Lookup("a.md")
	require.True(t, ok)
	assert.Equal(t, Failed, res.Outcome)
	assert.True(t, e.record(t, "a.md").live(), "still recorded")

	_, err = e.js.CreateStream(t.Context(), cfg)
	require.NoError(t, err)
	res, _ = e.scan(t).Lookup("a.md")
	assert.Equal(t, Deleted, res.Outcome)
	assert.Len(t, e.deletedEvents(t, "a.md"), 1)
}

// With the state bucket gone, Run logs each path it cannot handle and keeps
// running.
func TestRunStateUnavailable(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Settle = 10 * time.Millisecond
		c.Rescan = time.Hour
	})
	e.write(t, "sub/old.md", "old")
	startRun(t, e.w)
	waitFor(t, runTimeout, countIs(1, func() int { return len(e.discovered(t, "sub/old.md")) }, "discovered sub/old.md"))
	require.NoError(t, e.js.DeleteKeyValue(t.Context(), bus.BucketWatcher))

	e.write(t, "sub/new.md", "new")
	require.NoError(t, os.Remove(filepath.Join(e.root, "sub", "old.md")))
	waitFor(t, runTimeout, func() error {
		paths := map[any]bool{}
		for _, l := range e.logs.lines(t, "file failed") {
			paths[l["path"]] = true
		}
		if !paths["sub/new.md"] || !paths["sub/old.md"] {
			return fmt.Errorf("failures logged for %v", paths)
		}
		return nil
	})
	assert.Empty(t, e.discovered(t, "sub/new.md"))
}

// A directory that cannot be read during a scan gives a Failed result, and
// the recorded files under it are not withdrawn on that account.
func TestScanUnreadableDirectoryKeepsItsFiles(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "b/x.md", "x")
	e.scan(t)
	e.write(t, "a.csv", "a") // visited during the walk, before b is read
	var once sync.Once
	e.w.hook = func(string, string) {
		// Replace the directory b (already listed by the walk, not yet
		// read) with a file, so that reading it fails.
		once.Do(func() {
			require.NoError(t, os.RemoveAll(filepath.Join(e.root, "b")))
			require.NoError(t, os.WriteFile(filepath.Join(e.root, "b"), []byte("now a file"), 0o644))
		})
	}
	rep := e.scan(t)
	res, ok := rep.Lookup("b")
	require.True(t, ok)
	assert.Equal(t, Failed, res.Outcome)
	assert.ErrorContains(t, res.Err, "read b")
	assert.Zero(t, rep.Count(Deleted))

	rep = e.scan(t)
	res, _ = rep.Lookup("b/x.md")
	assert.Equal(t, Deleted, res.Outcome)
	res, _ = rep.Lookup("b")
	assert.Equal(t, Published, res.Outcome)
}

// A file that keeps failing the same way (unreadable, or the files stream
// gone) is retried by every scan but warned about once, and the scans that
// only repeat known failures log at debug level: a rescan every 30 seconds
// does not fill the log. Once it has succeeded, a new failure is warned
// about again.
func TestScanWarnsOfARepeatedFailureOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.scan(t) // opens the buckets
	e.write(t, "a.md", "a")
	s, err := e.js.Stream(t.Context(), bus.StreamFiles)
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	require.NoError(t, e.js.DeleteStream(t.Context(), bus.StreamFiles))
	levels := func(msg string) []any {
		var out []any
		for _, l := range e.logs.lines(t, msg) {
			out = append(out, l["level"])
		}
		return out
	}

	for range 3 {
		res, _ := e.scan(t).Lookup("a.md")
		require.Equal(t, Failed, res.Outcome)
	}
	assert.Equal(t, []any{"WARN", "DEBUG", "DEBUG"}, levels("file failed"))
	assert.Equal(t, []any{"DEBUG", "INFO", "DEBUG", "DEBUG"}, levels("scan finished"))
	assert.Equal(t, 3.0, testutil.ToFloat64(e.w.m.failed), "every attempt is counted")

	_, err = e.js.CreateStream(t.Context(), cfg)
	require.NoError(t, err)
	res, _ := e.scan(t).Lookup("a.md")
	require.Equal(t, Published, res.Outcome)
	require.NoError(t, e.js.DeleteStream(t.Context(), bus.StreamFiles))
	e.write(t, "a.md", "a, changed")
	res, _ = e.scan(t).Lookup("a.md")
	require.Equal(t, Failed, res.Outcome)
	assert.Equal(t, []any{"WARN", "DEBUG", "DEBUG", "WARN"}, levels("file failed"))
}

// A directory that cannot be read is warned about once, and again when it
// becomes unreadable again after it was read.
func TestScanWarnsOfAnUnreadableDirectoryAgainAfterItWasRead(t *testing.T) {
	if rerunAsNonRoot(t) {
		return
	}
	e := newEnv(t, nil)
	e.write(t, "d/a.md", "a")
	d := filepath.Join(e.root, "d")
	t.Cleanup(func() { assert.NoError(t, os.Chmod(d, 0o755)) }) // so that TempDir can remove it
	warnings := func() int {
		n := 0
		for _, l := range e.logs.lines(t, "file failed") {
			if l["level"] == "WARN" && l["path"] == "d" {
				n++
			}
		}
		return n
	}
	require.NoError(t, os.Chmod(d, 0))
	e.scan(t)
	e.scan(t)
	assert.Equal(t, 1, warnings())
	require.NoError(t, os.Chmod(d, 0o755))
	res, _ := e.scan(t).Lookup("d/a.md")
	require.Equal(t, Published, res.Outcome)
	require.NoError(t, os.Chmod(d, 0))
	res, _ = e.scan(t).Lookup("d")
	require.Equal(t, Failed, res.Outcome)
	assert.Equal(t, 2, warnings())
}
