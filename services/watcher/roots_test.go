package watcher

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

// sibling returns another folder published into the same buckets as e,
// with its own watcher (another 'docgraph ingest FOLDER' into the same
// data, or 'up --watch' on another folder).
func (e *env) sibling(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	s := &env{js: e.js, root: t.TempDir()}
	s.w, s.reg, s.logs = s.newWatcher(t, mutate)
	return s
}

// putRecord overwrites the record of r.Path in the bucket.
func (e *env) putRecord(t *testing.T, r *record) {
	t.Helper()
	kv, err := e.js.KeyValue(t.Context(), bus.BucketWatcher)
	require.NoError(t, err)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	_, err = kv.Put(t.Context(), stateKey(r.Path), b)
	require.NoError(t, err)
}

// A scan withdraws only the files of its own folder: folders ingested one
// after the other into the same data keep each other's documents.
func TestScanKeepsOtherFoldersFiles(t *testing.T) {
	tests := []struct {
		name string
		// scan runs the scans after a.md (folder A) and b.md (folder B)
		// were published, each from its folder.
		scan        func(t *testing.T, a, b *env)
		wantDeleted []string
	}{
		{
			name:        "the other folder is scanned",
			scan:        func(t *testing.T, a, b *env) { b.scan(t); a.scan(t) },
			wantDeleted: nil,
		},
		{
			name:        "an empty folder is scanned",
			scan:        func(t *testing.T, a, _ *env) { a.sibling(t, nil).scan(t) },
			wantDeleted: nil,
		},
		{
			name: "a file deleted in one folder is withdrawn by that folder's scan only",
			scan: func(t *testing.T, a, b *env) {
				require.NoError(t, os.Remove(filepath.Join(a.root, "a.md")))
				assert.Zero(t, b.scan(t).Count(Deleted))
				assert.Equal(t, 1, a.scan(t).Count(Deleted))
			},
			wantDeleted: []string{"a.md"},
		},
		{
			name: "a record written without a folder belongs to any folder",
			scan: func(t *testing.T, a, b *env) {
				rec := a.record(t, "a.md")
				rec.Root = ""
				a.putRecord(t, rec)
				b.scan(t)
			},
			wantDeleted: []string{"a.md"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newEnv(t, nil)
			b := a.sibling(t, nil)
			a.write(t, "a.md", "in folder A")
			b.write(t, "b.md", "in folder B")
			require.Equal(t, 1, a.scan(t).Count(Published))
			require.Equal(t, 1, b.scan(t).Count(Published))

			tt.scan(t, a, b)

			for _, p := range []string{"a.md", "b.md"} {
				wantDeleted := 0
				for _, d := range tt.wantDeleted {
					if d == p {
						wantDeleted = 1
					}
				}
				assert.Len(t, a.deletedEvents(t, p), wantDeleted, p)
				assert.Equal(t, wantDeleted == 0, a.record(t, p).live(), p)
			}
			if len(tt.wantDeleted) == 0 {
				assert.Equal(t, a.w.root, a.record(t, "a.md").Root)
				assert.Equal(t, b.w.root, b.record(t, "b.md").Root)
			}
		})
	}
}

// A scan gives a record written without a folder the folder whose
// unchanged file it is, so that other folders' scans keep it from then on.
func TestScanAdoptsRecordWithoutFolder(t *testing.T) {
	a := newEnv(t, nil)
	a.write(t, "a.md", "in folder A")
	a.scan(t)
	rec := a.record(t, "a.md")
	rec.Root = ""
	a.putRecord(t, rec)

	rep := a.scan(t)

	assert.Equal(t, 1, rep.Count(Unchanged))
	assert.Equal(t, a.w.root, a.record(t, "a.md").Root)
	a.sibling(t, nil).scan(t)
	assert.True(t, a.record(t, "a.md").live(), "kept by another folder's scan")
}

// Two folders holding the same relative path share its document: the later
// publication wins the record, and only the winner's scans withdraw it.
func TestScanSamePathInTwoFolders(t *testing.T) {
	a := newEnv(t, nil)
	b := a.sibling(t, nil)
	a.write(t, "same.md", "A's version")
	b.write(t, "same.md", "B's version")
	a.scan(t)

	res, _ := b.scan(t).Lookup("same.md")
	assert.Equal(t, Published, res.Outcome, "B's bytes replace A's")
	assert.Equal(t, b.w.root, a.record(t, "same.md").Root)

	res, _ = a.scan(t).Lookup("same.md")
	assert.Equal(t, Published, res.Outcome, "A's bytes are published again: a file of another folder is never Unchanged")
	assert.Equal(t, a.w.root, a.record(t, "same.md").Root)

	// The same bytes in both: the record changes hands without a
	// publication.
	b.write(t, "same.md", "A's version")
	res, _ = b.scan(t).Lookup("same.md")
	assert.Equal(t, Unchanged, res.Outcome)
	assert.Equal(t, b.w.root, a.record(t, "same.md").Root)

	require.NoError(t, os.Remove(filepath.Join(a.root, "same.md")))
	assert.Zero(t, a.scan(t).Count(Deleted), "B's record is not withdrawn by A")
	require.NoError(t, os.Remove(filepath.Join(b.root, "same.md")))
	assert.Equal(t, 1, b.scan(t).Count(Deleted))
}

// The first scan logs once which other folders' files the state holds.
func TestScanLogsOtherFolders(t *testing.T) {
	a := newEnv(t, nil)
	b := a.sibling(t, nil)
	a.write(t, "a.md", "in folder A")
	a.write(t, "x/a2.md", "in folder A too")
	a.scan(t)
	assert.Empty(t, a.logs.lines(t, "documents of other folders kept"), "no other folder")

	b.scan(t)
	b.scan(t)

	logs := b.logs.lines(t, "documents of other folders kept")
	require.Len(t, logs, 1, "logged once per watcher")
	assert.Equal(t, "INFO", logs[0]["level"])
	assert.Equal(t, 2.0, logs[0]["files"])
	assert.Equal(t, []any{a.w.root}, logs[0]["other_roots"])
	assert.Contains(t, logs[0]["hint"], "'docgraph ingest --watch.allow_empty FOLDER'",
		"an emptied folder that held files is kept without the switch")
	assert.Contains(t, logs[0]["hint"], "'docgraph reconcile --watch FOLDER --fix --watch.allow_empty'")
}

// Run withdraws, when a directory disappears, only the files of its own
// folder recorded under it.
func TestRunDirectoryDeletionKeepsOtherFoldersFiles(t *testing.T) {
	a := newEnv(t, nil)
	a.write(t, "dir/a.md", "in folder A")
	a.scan(t)
	b := a.sibling(t, func(c *Config) {
		c.Settle = 20 * time.Millisecond
		c.Rescan = time.Hour // only fsnotify
	})
	b.write(t, "dir/b.md", "in folder B")
	startRun(t, b.w)
	waitFor(t, runTimeout, countIs(1, func() int { return len(b.discovered(t, "dir/b.md")) }, "discovered dir/b.md"))

	require.NoError(t, os.RemoveAll(filepath.Join(b.root, "dir")))
	waitFor(t, runTimeout, countIs(1, func() int { return len(b.deletedEvents(t, "dir/b.md")) }, "deleted dir/b.md"))
	// Events are handled in order: once a file created afterwards is
	// published, the directory's removal has been handled.
	b.write(t, "marker.md", "after the removal")
	waitFor(t, runTimeout, countIs(1, func() int { return len(b.discovered(t, "marker.md")) }, "discovered marker.md"))

	assert.Empty(t, a.deletedEvents(t, "dir/a.md"))
	assert.True(t, a.record(t, "dir/a.md").live())
}

func TestRoots(t *testing.T) {
	a := newEnv(t, nil)
	b := a.sibling(t, nil)
	a.write(t, "a.md", "in folder A")
	a.write(t, "gone.md", "deleted")
	b.write(t, "b.md", "in folder B")
	a.scan(t)
	b.scan(t)
	require.NoError(t, os.Remove(filepath.Join(a.root, "gone.md")))
	a.scan(t)
	rec := a.record(t, "a.md")
	rec.Path, rec.Root = "old.md", ""
	a.putRecord(t, rec)

	roots, err := Roots(t.Context(), a.js)

	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a.md": a.w.root, "b.md": b.w.root, "old.md": ""}, roots)
}
