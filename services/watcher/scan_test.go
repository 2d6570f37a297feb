package watcher

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

func TestScanPublishesNewFile(t *testing.T) {
	e := newEnv(t, nil)
	const content = "# Status\n\nAlice manages PRJ-0001.\n"
	e.write(t, "notes/status.md", content)

	rep := e.scan(t)

	sum := sha(content)
	res, ok := rep.Lookup("notes/status.md")
	require.True(t, ok, "report: %+v", rep.Results)
	assert.Equal(t, Published, res.Outcome)
	assert.Equal(t, sum, res.SHA256)
	assert.Equal(t, int64(len(content)), res.Size)
	assert.Equal(t, "notes/status.md@"+sum, res.Object)
	assert.Equal(t, CorrelationID("notes/status.md", sum), res.CorrelationID)
	assert.Len(t, res.CorrelationID, 24)
	assert.Equal(t, 1, rep.Count(Published))
	assert.Equal(t, 1, len(rep.Results))

	msgs := e.messages(t)
	require.Len(t, msgs, 1)
	m := msgs[0]
	assert.Equal(t, event.SubjectFileDiscovered, m.Subject)
	assert.Equal(t, res.Seq, m.Seq)
	assert.Equal(t, res.CorrelationID, m.Msg.Header.Get(pipeline.HeaderCorrelationID))
	assert.Equal(t, "file:notes/status.md:"+sum, m.Msg.Header.Get(pipeline.HeaderMsgID))
	assert.Equal(t, event.TypeFileDiscovered, m.Msg.Header.Get(pipeline.HeaderType))
	assert.Equal(t, event.Version, m.Msg.Header.Get(pipeline.HeaderVersion))

	var ev event.FileDiscovered
	require.NoError(t, m.Msg.Decode(&ev))
	st, err := os.Stat(filepath.Join(e.root, "notes", "status.md"))
	require.NoError(t, err)
	assert.Equal(t, event.FileDiscovered{
		Path: "notes/status.md", Size: int64(len(content)), SHA256: sum,
		ModTime: st.ModTime().UTC().Format(time.RFC3339Nano), Object: res.Object,
	}, ev)
	_, err = time.Parse(time.RFC3339Nano, ev.ModTime)
	require.NoError(t, err)

	got, err := e.objects(t).GetBytes(t.Context(), ev.Object)
	require.NoError(t, err)
	assert.Equal(t, content, string(got))

	rec := e.record(t, "notes/status.md")
	require.NotNil(t, rec)
	assert.Equal(t, record{Path: "notes/status.md", Root: e.w.root, SHA256: sum, Size: int64(len(content)),
		ModTime: ev.ModTime, Object: ev.Object, Seq: m.Seq}, *rec)

	assert.Equal(t, 1.0, testutil.ToFloat64(e.w.m.published))
	assert.Equal(t, float64(len(content)), testutil.ToFloat64(e.w.m.bytes))
	assert.Equal(t, 1, testutil.CollectAndCount(e.w.m.scan))

	logs := e.logs.lines(t, "file published")
	require.Len(t, logs, 1)
	assert.Equal(t, res.CorrelationID, logs[0]["correlation_id"])
	assert.Equal(t, "watcher", logs[0]["stage"])
	assert.Equal(t, "notes/status.md", logs[0]["path"])
	assert.Equal(t, sum, logs[0]["sha256"])
	assert.Equal(t, event.SubjectFileDiscovered, logs[0]["subject"])
	assert.Equal(t, float64(m.Seq), logs[0]["stream_seq"])
}

func TestScanNothingNewTwice(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "alpha")
	e.write(t, "sub/b.txt", "beta")
	e.write(t, "empty.txt", "")

	first := e.scan(t)
	require.Equal(t, 3, first.Count(Published), "%+v", first.Results)
	n := len(e.messages(t))

	tests := []struct {
		name string
		scan func(t *testing.T) Report
	}{
		{name: "second scan", scan: e.scan},
		{name: "restart: a new watcher over the same state", scan: func(t *testing.T) Report {
			w, _, _ := e.newWatcher(t, nil)
			rep, err := w.Scan(t.Context())
			require.NoError(t, err)
			return rep
		}},
		{name: "touched files with equal bytes", scan: func(t *testing.T) Report {
			later := time.Now().Add(time.Hour)
			for _, p := range []string{"a.md", "sub/b.txt", "empty.txt"} {
				require.NoError(t, os.Chtimes(filepath.Join(e.root, p), later, later))
			}
			return e.scan(t)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := tt.scan(t)
			assert.Equal(t, 3, rep.Count(Unchanged), "%+v", rep.Results)
			assert.Equal(t, 3, len(rep.Results))
			assert.Len(t, e.messages(t), n, "no new events")
		})
	}

	// The touched mtime was recorded, so the next scan need not hash again.
	st, err := os.Stat(filepath.Join(e.root, "a.md"))
	require.NoError(t, err)
	assert.Equal(t, modTime(st), e.record(t, "a.md").ModTime)
}

func TestScanEditInPlace(t *testing.T) {
	e := newEnv(t, nil)
	abs := e.write(t, "doc.md", "version one")
	r1, _ := e.scan(t).Lookup("doc.md")
	require.Equal(t, Published, r1.Outcome)

	versions := []string{"version two, longer", "version three"}
	results := []Result{r1}
	for i, v := range versions {
		require.NoError(t, os.WriteFile(abs, []byte(v), 0o644))
		// Make sure the mtime moves even on coarse-grained filesystems.
		mt := time.Now().Add(time.Duration(i+1) * time.Minute)
		require.NoError(t, os.Chtimes(abs, mt, mt))
		res, ok := e.scan(t).Lookup("doc.md")
		require.True(t, ok)
		require.Equal(t, Published, res.Outcome, "%+v", res)
		assert.Equal(t, sha(v), res.SHA256)
		assert.NotEqual(t, results[len(results)-1].CorrelationID, res.CorrelationID)
		assert.Greater(t, res.Seq, results[len(results)-1].Seq)
		results = append(results, res)
	}
	evs := e.discovered(t, "doc.md")
	require.Len(t, evs, 3)
	assert.Equal(t, sha("version three"), evs[2].SHA256)

	// The last two versions' objects are kept, older ones deleted.
	assert.False(t, e.objectExists(t, results[0].Object), "oldest object deleted")
	assert.True(t, e.objectExists(t, results[1].Object), "previous object kept")
	assert.True(t, e.objectExists(t, results[2].Object), "current object kept")
	rec := e.record(t, "doc.md")
	assert.Equal(t, results[2].Object, rec.Object)
	assert.Equal(t, results[1].Object, rec.Previous)
}

func TestScanDelete(t *testing.T) {
	e := newEnv(t, nil)
	abs := e.write(t, "gone.md", "soon gone")
	pub, _ := e.scan(t).Lookup("gone.md")
	require.Equal(t, Published, pub.Outcome)

	require.NoError(t, os.Remove(abs))
	rep := e.scan(t)
	res, ok := rep.Lookup("gone.md")
	require.True(t, ok)
	assert.Equal(t, Deleted, res.Outcome)
	assert.Equal(t, pub.CorrelationID, res.CorrelationID)

	msgs := e.messages(t)
	require.Len(t, msgs, 2)
	m := msgs[1]
	assert.Equal(t, event.SubjectFileDeleted, m.Subject)
	assert.Equal(t, "deleted:gone.md:"+pub.SHA256, m.Msg.Header.Get(pipeline.HeaderMsgID))
	assert.Equal(t, pub.CorrelationID, m.Msg.Header.Get(pipeline.HeaderCorrelationID))
	assert.Equal(t, event.TypeFileDeleted, m.Msg.Header.Get(pipeline.HeaderType))
	var ev event.FileDeleted
	require.NoError(t, m.Msg.Decode(&ev))
	assert.Equal(t, event.FileDeleted{Path: "gone.md", SHA256: pub.SHA256}, ev)

	tomb := e.record(t, "gone.md")
	require.NotNil(t, tomb)
	assert.True(t, tomb.Deleted)
	assert.Equal(t, m.Seq, tomb.Seq)
	assert.Empty(t, tomb.Object)
	assert.False(t, e.objectExists(t, pub.Object))
	assert.Equal(t, 1.0, testutil.ToFloat64(e.w.m.deleted))

	again := e.scan(t)
	assert.Empty(t, again.Results)
	assert.Len(t, e.messages(t), 2)
	assert.NotNil(t, e.record(t, "gone.md"), "tombstone kept within the duplicate window")

	// Once the duplicate window has passed, the tombstone goes.
	e.w.dupes = time.Nanosecond
	e.scan(t)
	assert.Nil(t, e.record(t, "gone.md"))
}

// A version published again after another one (A, B, A) inside the
// stream's duplicate window must not be swallowed by deduplication; nor a
// second deletion of the same bytes.
func TestScanRevertWithinDuplicateWindow(t *testing.T) {
	e := newEnv(t, nil)
	abs := e.write(t, "flip.md", "A")
	step := 0
	set := func(content string) {
		step++
		require.NoError(t, os.WriteFile(abs, []byte(content), 0o644))
		mt := time.Now().Add(time.Duration(step) * time.Minute)
		require.NoError(t, os.Chtimes(abs, mt, mt))
	}
	e.scan(t)
	set("B")
	e.scan(t)
	set("A")
	res, _ := e.scan(t).Lookup("flip.md")
	require.Equal(t, Published, res.Outcome)

	evs := e.discovered(t, "flip.md")
	require.Len(t, evs, 3)
	assert.Equal(t, []string{sha("A"), sha("B"), sha("A")}, []string{evs[0].SHA256, evs[1].SHA256, evs[2].SHA256})
	msgs := e.messages(t)
	assert.Equal(t, res.Seq, msgs[len(msgs)-1].Seq)
	assert.Equal(t, "file:flip.md:"+sha("A")+":after:2", msgs[2].Msg.Header.Get(pipeline.HeaderMsgID))
	got, err := e.objects(t).GetBytes(t.Context(), res.Object)
	require.NoError(t, err)
	assert.Equal(t, "A", string(got))

	// Delete, recreate with the same bytes, delete again: two deletions.
	require.NoError(t, os.Remove(abs))
	e.scan(t)
	set("A")
	e.scan(t)
	require.NoError(t, os.Remove(abs))
	e.scan(t)
	assert.Len(t, e.deletedEvents(t, "flip.md"), 2)
	assert.Len(t, e.discovered(t, "flip.md"), 4)

	// A restarted watcher that finds a published but unrecorded version
	// (a crash between publishing and recording) does not publish it twice.
	set("C")
	e.scan(t)
	rec := e.record(t, "flip.md")
	kv, err := e.js.KeyValue(t.Context(), "docgraph_watcher")
	require.NoError(t, err)
	require.NoError(t, kv.Delete(t.Context(), stateKey("flip.md")))
	n := len(e.messages(t))
	res, _ = e.scan(t).Lookup("flip.md")
	assert.Equal(t, Published, res.Outcome)
	assert.Equal(t, rec.Seq, res.Seq, "the duplicate's original sequence is recorded")
	assert.Len(t, e.messages(t), n)
}

func TestScanIgnored(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Ignore = []string{"drafts", "*.bak", "archive/old-*"}
		c.Formats = []string{"md", "pdf"}
	})
	tests := []struct {
		give string
		want SkipReason
		path string // the reported path, when it is a directory
	}{
		{give: ".hidden.md", want: ReasonHidden},
		{give: ".git/config", want: ReasonHidden, path: ".git"},
		{give: "sub/.DS_Store", want: ReasonHidden},
		{give: "report.docx.swp", want: ReasonEditor},
		{give: "report.docx.swx", want: ReasonEditor},
		{give: "~$report.docx", want: ReasonEditor},
		{give: "notes.md~", want: ReasonEditor},
		{give: "movie.part", want: ReasonEditor},
		{give: "upload.tmp", want: ReasonEditor},
		{give: "file.pdf.crdownload", want: ReasonEditor},
		{give: "#notes.md#", want: ReasonEditor},
		{give: "sub/.#lock.md", want: ReasonHidden},
		{give: "photos/Thumbs.db", want: ReasonHidden},
		{give: "photos/desktop.ini", want: ReasonHidden},
		{give: "Desktop.ini", want: ReasonHidden},
		{give: "photos/Icon\r", want: ReasonHidden},
		{give: "drafts/idea.md", want: ReasonIgnored, path: "drafts"},
		{give: "copy.bak", want: ReasonIgnored},
		{give: "archive/old-plan.md", want: ReasonIgnored},
		{give: "photos/logo.png", want: ReasonUnsupported},
		{give: "backup.ZIP", want: ReasonUnsupported},
		{give: "README", want: ReasonUnsupported},
	}
	for _, tt := range tests {
		e.write(t, tt.give, "ignored "+tt.give)
	}
	e.write(t, "archive/plan.md", "kept")
	e.write(t, "sub/KEPT.MD", "kept")

	for i := range 2 {
		rep := e.scan(t)
		for _, tt := range tests {
			p := tt.path
			if p == "" {
				p = tt.give
			}
			res, ok := rep.Lookup(p)
			if assert.True(t, ok, "%s not reported", p) {
				assert.Equal(t, Skipped, res.Outcome, p)
				assert.Equal(t, tt.want, res.Reason, p)
				assert.True(t, strings.HasPrefix(res.Detail, tt.want.Describe()), res.Detail)
			}
		}
		assert.Equal(t, 2-2*i, rep.Count(Published), "scan %d", i)
	}
	assert.Len(t, e.messages(t), 2)
	// Logged and counted once, not on every scan.
	assert.Len(t, e.logs.lines(t, "file skipped"), len(tests))
	assert.Equal(t, 8.0, testutil.ToFloat64(e.w.m.skipped.WithLabelValues(string(ReasonEditor))))
	assert.Equal(t, 8.0, testutil.ToFloat64(e.w.m.skipped.WithLabelValues(string(ReasonHidden))))
	assert.Equal(t, 3.0, testutil.ToFloat64(e.w.m.skipped.WithLabelValues(string(ReasonIgnored))))
	assert.Equal(t, 3.0, testutil.ToFloat64(e.w.m.skipped.WithLabelValues(string(ReasonUnsupported))))
}

// Without Formats, every format is published; NewRules gives a scan's
// decisions by name, a directory's with it.
func TestRules(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "logo.png", "png")
	assert.Equal(t, 1, e.scan(t).Count(Published))

	r, err := NewRules(Config{Root: e.root, Ignore: []string{"drafts"}, Formats: []string{"md"}})
	require.NoError(t, err)
	for rel, want := range map[string]SkipReason{
		"a.md": "", "logo.png": ReasonUnsupported, "drafts/a.md": ReasonIgnored, ".git/a.md": ReasonHidden, "sub/Thumbs.db": ReasonHidden,
	} {
		assert.Equal(t, want, r.Skip(rel, false), rel)
	}
	assert.Equal(t, SkipReason(""), r.Skip("photos.png", true), "a directory has no format")
	_, err = NewRules(Config{Root: e.root, Formats: []string{".MD"}})
	assert.ErrorContains(t, err, `watcher.formats[0] (".MD"): want a lower-case extension without the dot`)
}

// A recorded file that becomes ignored by name is withdrawn.
func TestScanWithdrawsNewlyIgnoredPath(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "drafts/idea.md", "idea")
	require.Equal(t, 1, e.scan(t).Count(Published))

	w, _, _ := e.newWatcher(t, func(c *Config) { c.Ignore = []string{"drafts"} })
	rep, err := w.Scan(t.Context())
	require.NoError(t, err)
	res, ok := rep.Lookup("drafts/idea.md")
	require.True(t, ok)
	assert.Equal(t, Deleted, res.Outcome)
}

func TestScanSymlinks(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside.md")
	require.NoError(t, os.WriteFile(outside, []byte("secret"), 0o644))
	root := filepath.Join(base, "root")
	require.NoError(t, os.Mkdir(root, 0o755))

	e := newEnv(t, func(c *Config) { c.Root = root })
	e.root = root
	e.write(t, "real/target.md", "inside")
	require.NoError(t, os.Symlink("../outside.md", filepath.Join(root, "outside-link.md")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "absolute-link.md")))
	require.NoError(t, os.Symlink("real/target.md", filepath.Join(root, "inside-link.md")))
	require.NoError(t, os.Symlink("real", filepath.Join(root, "dir-link")))
	require.NoError(t, os.Symlink("missing.md", filepath.Join(root, "dangling.md")))

	rep := e.scan(t)
	tests := []struct {
		path       string
		outcome    Outcome
		reason     SkipReason
		wantDetail string
	}{
		{path: "outside-link.md", outcome: Skipped, reason: ReasonSymlinkOutside, wantDetail: "symlink outside the watched folder: outside-link.md"},
		{path: "absolute-link.md", outcome: Skipped, reason: ReasonSymlinkOutside, wantDetail: "symlink outside the watched folder: absolute-link.md"},
		{path: "inside-link.md", outcome: Published},
		{path: "real/target.md", outcome: Published},
		{path: "dir-link", outcome: Skipped, reason: ReasonNotRegular, wantDetail: "symlink to a directory"},
		{path: "dangling.md", outcome: Skipped, reason: ReasonNotRegular, wantDetail: "broken symlink"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, ok := rep.Lookup(tt.path)
			require.True(t, ok)
			assert.Equal(t, tt.outcome, res.Outcome)
			assert.Equal(t, tt.reason, res.Reason)
			assert.Contains(t, res.Detail, tt.wantDetail)
		})
	}
	// The link inside the folder is published under its own path with the
	// target's bytes.
	evs := e.discovered(t, "inside-link.md")
	require.Len(t, evs, 1)
	assert.Equal(t, sha("inside"), evs[0].SHA256)
	assert.Empty(t, e.discovered(t, "outside-link.md"))

	warns := e.logs.lines(t, "file skipped")
	var found bool
	for _, l := range warns {
		if l["path"] == "outside-link.md" {
			found = true
			assert.Equal(t, "WARN", l["level"])
			assert.Equal(t, outside, l["target"])
		}
	}
	assert.True(t, found, "outside link logged")

	// A published file replaced by a symlink leaving the folder is withdrawn.
	require.NoError(t, os.Remove(filepath.Join(root, "real", "target.md")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "real", "target.md")))
	rep = e.scan(t)
	var deleted []string
	for _, r := range rep.Results {
		if r.Outcome == Deleted {
			deleted = append(deleted, r.Path)
		}
	}
	assert.ElementsMatch(t, []string{"real/target.md", "inside-link.md"}, deleted)
}

func TestScanTooLarge(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxFileSize = 10 })
	e.write(t, "small.txt", "0123456789")
	abs := e.write(t, "big.txt", "0123456789A")

	rep := e.scan(t)
	small, _ := rep.Lookup("small.txt")
	assert.Equal(t, Published, small.Outcome)
	big, ok := rep.Lookup("big.txt")
	require.True(t, ok)
	assert.Equal(t, Skipped, big.Outcome)
	assert.Equal(t, ReasonTooLarge, big.Reason)
	assert.Equal(t, "file too large: big.txt is 11 bytes, over the limit of 10 bytes (watch.max_file_size)", big.Detail)
	logs := e.logs.lines(t, "file skipped")
	require.Len(t, logs, 1)
	assert.Equal(t, "WARN", logs[0]["level"])
	assert.Equal(t, "big.txt", logs[0]["path"])
	assert.Equal(t, 11.0, logs[0]["size"])
	assert.Equal(t, 10.0, logs[0]["max_size"])

	// Shrunk under the limit: published; grown over it again: refused, but
	// the last published version stays.
	require.NoError(t, os.WriteFile(abs, []byte("tiny"), 0o644))
	res, _ := e.scan(t).Lookup("big.txt")
	assert.Equal(t, Published, res.Outcome)
	require.NoError(t, os.WriteFile(abs, []byte("far too large now"), 0o644))
	rep = e.scan(t)
	res, _ = rep.Lookup("big.txt")
	assert.Equal(t, Skipped, res.Outcome)
	assert.Zero(t, rep.Count(Deleted))
	assert.NotNil(t, e.record(t, "big.txt"))
}

func TestScanNotRegular(t *testing.T) {
	e := newEnv(t, nil)
	fifo := filepath.Join(e.root, "pipe")
	if err := mkfifo(fifo); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mkfifo: %v (CI runs on Linux, where named pipes exist)", err)
		}
		t.Skipf("mkfifo unavailable: %v", err)
	}
	res, ok := e.scan(t).Lookup("pipe")
	require.True(t, ok)
	assert.Equal(t, Skipped, res.Outcome)
	assert.Equal(t, ReasonNotRegular, res.Reason)
}

func TestScanUnstable(t *testing.T) {
	e := newEnv(t, nil)
	abs := e.write(t, "growing.log", "line 1\n")
	e.w.hook = func(step, _ string) {
		if step != "hashed" {
			return
		}
		f, err := os.OpenFile(abs, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("line 2\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	rep := e.scan(t)
	res, ok := rep.Lookup("growing.log")
	require.True(t, ok)
	assert.Equal(t, Skipped, res.Outcome)
	assert.Equal(t, ReasonUnstable, res.Reason)
	assert.Empty(t, e.messages(t))
	assert.Nil(t, e.record(t, "growing.log"))

	e.w.hook = nil
	res, _ = e.scan(t).Lookup("growing.log")
	assert.Equal(t, Published, res.Outcome)
	assert.Equal(t, sha("line 1\nline 2\n"), res.SHA256)
}

func TestScanRootGone(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "a")
	e.scan(t)
	require.NoError(t, os.RemoveAll(e.root))

	_, err := e.w.Scan(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "scan "+e.w.root)
	assert.Empty(t, e.deletedEvents(t, "a.md"), "a vanished root deletes nothing")
	assert.NotNil(t, e.record(t, "a.md"))
}

func TestScanCancelled(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "a")
	e.scan(t)
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))
	e.write(t, "b.md", "b")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := e.w.Scan(ctx)
	require.Error(t, err)
	assert.Len(t, e.messages(t), 1, "nothing published after cancellation")
}

func TestScanUnreadableStateEntry(t *testing.T) {
	e := newEnv(t, nil)
	kv, err := e.js.KeyValue(t.Context(), "docgraph_watcher")
	require.NoError(t, err)
	_, err = kv.Put(t.Context(), "p.garbage", []byte("{not json"))
	require.NoError(t, err)
	e.write(t, "a.md", "a")
	rep := e.scan(t)
	assert.Equal(t, 1, rep.Count(Published))
	assert.Len(t, e.logs.lines(t, "unreadable watcher state entry"), 1)
}

func TestScanPublishFailure(t *testing.T) {
	e := newEnv(t, nil)
	e.scan(t) // opens the buckets
	e.write(t, "a.md", "a")
	// Without the files stream the event cannot be stored: a Failed
	// result, retried (and published) by the next scan.
	s, err := e.js.Stream(t.Context(), "DOCGRAPH_FILES")
	require.NoError(t, err)
	cfg := s.CachedInfo().Config
	require.NoError(t, e.js.DeleteStream(t.Context(), "DOCGRAPH_FILES"))

	rep := e.scan(t)
	res, ok := rep.Lookup("a.md")
	require.True(t, ok)
	assert.Equal(t, Failed, res.Outcome)
	assert.ErrorContains(t, res.Err, "publish "+event.SubjectFileDiscovered)
	assert.Equal(t, 1.0, testutil.ToFloat64(e.w.m.failed))
	assert.Nil(t, e.record(t, "a.md"))

	_, err = e.js.CreateStream(t.Context(), cfg)
	require.NoError(t, err)
	res, _ = e.scan(t).Lookup("a.md")
	assert.Equal(t, Published, res.Outcome)
}

func TestStateKey(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "ascii", give: "a/b.md"},
		{name: "unicode", give: "Überprüfung Protokoll – März 2024 (Entwurf) ✓.md"},
		{name: "very long", give: strings.Repeat("level/", 400) + "x.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := stateKey(tt.give)
			assert.Regexp(t, `^[-/_=.a-zA-Z0-9]+$`, k)
			assert.LessOrEqual(t, len(k), maxKeyPath+2)
			assert.NotEqual(t, stateKey(tt.give+"x"), k)
		})
	}
}

func TestIDPath(t *testing.T) {
	assert.Equal(t, "a b/ü.md", IDPath("a b/ü.md"))
	got := IDPath("bad\nname.md")
	assert.True(t, strings.HasPrefix(got, "sha256-"), got)
	assert.NotContains(t, got, "\n")
}

func TestControlCharacterInName(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "line\nbreak.md", "odd name")
	res, ok := e.scan(t).Lookup("line\nbreak.md")
	require.True(t, ok)
	require.Equal(t, Published, res.Outcome, "%v", res.Err)
	msgs := e.messages(t)
	require.Len(t, msgs, 1)
	assert.Equal(t, "file:"+IDPath("line\nbreak.md")+":"+res.SHA256, msgs[0].Msg.Header.Get(pipeline.HeaderMsgID))
	var ev event.FileDiscovered
	require.NoError(t, msgs[0].Msg.Decode(&ev))
	assert.Equal(t, "line\nbreak.md", ev.Path)
}

// A scan publishes the files that look like spreadsheets before the
// documents, whatever their place in the tree, so the names they hold are
// known before the documents that mention them are extracted; the documents
// are published in parallel.
func TestScanPublishesSpreadsheetsFirst(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"a.md", "docs/b.txt", "docs/c.HTML", "tables/people.csv", "z/teams.XLSX", "z/old.xls", "y.tsv", "notes.csv.md"} {
		e.write(t, p, p)
	}
	rep := e.scan(t)
	require.Equal(t, 8, rep.Count(Published), "%+v", rep.Results)

	var got []string
	for _, m := range e.messages(t) {
		if m.Subject != event.SubjectFileDiscovered {
			continue
		}
		var ev event.FileDiscovered
		require.NoError(t, m.Msg.Decode(&ev))
		got = append(got, ev.Path)
	}
	require.Len(t, got, 8)
	// Spreadsheets in walk order, then the documents, published in parallel.
	assert.Equal(t, []string{"tables/people.csv", "y.tsv", "z/old.xls", "z/teams.XLSX"}, got[:4])
	docs := []string{"a.md", "docs/b.txt", "docs/c.HTML", "notes.csv.md"}
	assert.ElementsMatch(t, docs, got[4:])
	// The report lists the documents in walk order all the same.
	var paths []string
	for _, r := range rep.Results {
		paths = append(paths, r.Path)
	}
	assert.Equal(t, docs, paths[4:])
}

// An upload that failed mid-way (a publish caught in a leader election)
// can leave the object's metadata without its chunks. The next attempt
// must not take such an object for stored: it stores the bytes again.
func TestScanStoresAgainAnObjectLeftIncomplete(t *testing.T) {
	e := newEnv(t, nil)
	const content = "# Status\n\nAlice manages PRJ-0001.\n"
	e.write(t, "status.md", content)
	obj := "status.md@" + sha(content)
	info, err := e.objects(t).Put(t.Context(), jetstream.ObjectMeta{Name: obj}, strings.NewReader(content))
	require.NoError(t, err)
	stream, err := e.js.Stream(t.Context(), "OBJ_"+bus.BucketFiles)
	require.NoError(t, err)
	require.NoError(t, stream.Purge(t.Context(), jetstream.WithPurgeSubject("$O."+bus.BucketFiles+".C."+info.NUID)))

	rep := e.scan(t)
	res, ok := rep.Lookup("status.md")
	require.True(t, ok)
	assert.Equal(t, Published, res.Outcome)
	info, err = e.objects(t).GetInfo(t.Context(), obj)
	require.NoError(t, err)
	complete, err := bus.ObjectComplete(t.Context(), e.js, info)
	require.NoError(t, err)
	require.True(t, complete, "the bytes were stored again")
	got, err := e.objects(t).GetBytes(t.Context(), obj)
	require.NoError(t, err)
	assert.Equal(t, content, string(got))
	assert.Len(t, e.logs.lines(t, "stored object incomplete; storing it again"), 1)
}

// A name that is not valid UTF-8 (an archive made on another system, say)
// cannot travel in the JSON of events and state, which would carry it
// changed: the parser would find no object under it, and each scan would
// publish it and withdraw it again. Such a file, or a directory with such
// a name, is refused with a warning.
func TestScanInvalidUTF8Name(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "Pr\x84sentation.md", "a name in CP437")
	e.write(t, "Ordner\xff/inside.md", "in a directory whose name is not UTF-8")
	e.write(t, "ok.md", "a valid name")
	for i := range 2 {
		rep := e.scan(t)
		assert.Equal(t, 1-i, rep.Count(Published), "scan %d", i)
		assert.Zero(t, rep.Count(Deleted), "scan %d", i)
		for _, p := range []string{"Pr\x84sentation.md", "Ordner\xff"} {
			res, ok := rep.Lookup(p)
			if assert.True(t, ok, "%q not reported", p) {
				assert.Equal(t, Skipped, res.Outcome, p)
				assert.Equal(t, ReasonInvalidName, res.Reason, p)
			}
		}
	}
	assert.Len(t, e.messages(t), 1)
	skips := e.logs.lines(t, "file skipped")
	require.Len(t, skips, 2)
	assert.Equal(t, "WARN", skips[0]["level"])
}

// A file with a very long path is published: the object store puts the
// object's name, base64-encoded, in a NATS subject, and a name longer than
// the server accepts made it close the connection, which stopped every
// stage, again at each restart.
func TestScanVeryLongPath(t *testing.T) {
	e := newEnv(t, nil)
	long := strings.Repeat(strings.Repeat("d", 200)+"/", 16) + "deep.md"
	e.write(t, long, "far down")
	e.write(t, "short.md", "near")
	rep := e.scan(t)
	for _, p := range []string{long, "short.md"} {
		res, ok := rep.Lookup(p)
		require.True(t, ok)
		require.Equal(t, Published, res.Outcome, "%v", res.Err)
		assert.True(t, e.objectExists(t, res.Object))
		assert.Equal(t, ObjectName(p, res.SHA256), res.Object)
	}
	assert.Equal(t, "short.md@"+sha("near"), ObjectName("short.md", sha("near")))
	assert.LessOrEqual(t, len(ObjectName(long, sha("far down"))), maxObjectPath+65)
	assert.NotEqual(t, ObjectName(long+"x", sha("far down")), ObjectName(long, sha("far down")))
	assert.Len(t, e.discovered(t, long), 1)
}

// OnScanResult is told every result of a scan as the scan reaches it,
// before Scan returns: the same results the report holds, published,
// unchanged, skipped and deleted alike, and ScanFiles's too.
func TestOnScanResultTellsEveryResult(t *testing.T) {
	var mu sync.Mutex
	var told []Result
	e := newEnv(t, func(c *Config) {
		c.Formats = []string{"md", "txt", "csv"}
		c.OnScanResult = func(r Result) {
			mu.Lock()
			told = append(told, r)
			mu.Unlock()
		}
	})
	taken := func() []Result {
		mu.Lock()
		defer mu.Unlock()
		out := told
		told = nil
		return out
	}
	e.write(t, "a.md", "# A\n")
	e.write(t, "b.txt", "B\n")
	e.write(t, "data/teams.csv", "team,member\nred,Ann\n")
	e.write(t, "c.md", "# C\n")
	e.write(t, "photo.jpg", "\xff\xd8")
	rep := e.scan(t)
	assert.ElementsMatch(t, rep.Results, taken())
	assert.Equal(t, 4, rep.Count(Published))
	assert.Equal(t, 1, rep.Count(Skipped))

	require.NoError(t, os.Remove(filepath.Join(e.root, "b.txt")))
	e.write(t, "a.md", "# A, edited\n")
	rep = e.scan(t)
	got := taken()
	assert.ElementsMatch(t, rep.Results, got)
	outcomes := map[Outcome]int{}
	for _, r := range got {
		outcomes[r.Outcome]++
	}
	assert.Equal(t, map[Outcome]int{Published: 1, Unchanged: 2, Skipped: 1, Deleted: 1}, outcomes)

	rep, err := e.w.ScanFiles(t.Context(), []string{"c.md", "missing.md"})
	require.NoError(t, err)
	assert.ElementsMatch(t, rep.Results, taken())
	assert.Len(t, rep.Results, 2)
}

// A folder that held files and is found empty (a share not mounted yet, a
// folder being replaced) keeps its files in the graph, saying so once; they
// are withdrawn when the folder is empty with AllowEmpty, or when a scan of
// a folder with other content no longer finds them.
func TestScanKeepsTheFilesOfAFolderFoundEmpty(t *testing.T) {
	e := newEnv(t, nil)
	data := filepath.Join(e.root, ".docgraph")
	require.NoError(t, os.MkdirAll(filepath.Join(data, "nats"), 0o755))
	e.w, e.reg, e.logs = e.newWatcher(t, func(c *Config) { c.Exclude = []string{data} })
	e.write(t, "a.md", "a")
	e.write(t, "sub/b.md", "b")
	require.Equal(t, 2, e.scan(t).Count(Published))

	// Unmounted: nothing left but the excluded data directory.
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))
	require.NoError(t, os.RemoveAll(filepath.Join(e.root, "sub")))
	for range 2 {
		rep := e.scan(t)
		assert.Zero(t, rep.Count(Deleted))
		assert.Equal(t, 2, rep.Held)
	}
	assert.Empty(t, e.deletedEvents(t, "a.md"))
	assert.True(t, e.record(t, "sub/b.md").live())
	assert.Equal(t, 2.0, testutil.ToFloat64(e.w.m.held))
	held := e.logs.lines(t, "watched folder is empty: its files are kept in the graph, not withdrawn")
	require.Len(t, held, 1, "said once")
	assert.EqualValues(t, 2, held[0]["files"])
	assert.Contains(t, held[0]["hint"], "--watch.allow_empty")

	// Mounted again: nothing to publish, nothing held.
	e.write(t, "a.md", "a")
	e.write(t, "sub/b.md", "b")
	rep := e.scan(t)
	assert.Equal(t, 2, rep.Count(Unchanged))
	assert.Zero(t, rep.Held)
	assert.Zero(t, testutil.ToFloat64(e.w.m.held))
	assert.Len(t, e.logs.lines(t, "watched folder: the files kept while it was empty are no longer held"), 1)

	// Deleted on purpose: withdrawn once the scan may find the folder empty.
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))
	require.NoError(t, os.RemoveAll(filepath.Join(e.root, "sub")))
	assert.Equal(t, 2, e.scan(t).Held)
	e.w, e.reg, e.logs = e.newWatcher(t, func(c *Config) { c.Exclude, c.AllowEmpty = []string{data}, true })
	rep = e.scan(t)
	assert.Equal(t, 2, rep.Count(Deleted))
	assert.Zero(t, rep.Held)
	assert.Len(t, e.deletedEvents(t, "sub/b.md"), 1)
}

// Any entry makes a folder not empty: its other files are withdrawn as
// usual, and so is the only file of a folder.
func TestScanWithdrawsFromAFolderNotEmpty(t *testing.T) {
	e := newEnv(t, nil)
	e.write(t, "a.md", "a")
	e.write(t, "b.md", "b")
	e.scan(t)
	require.NoError(t, os.Remove(filepath.Join(e.root, "a.md")))
	require.NoError(t, os.Remove(filepath.Join(e.root, "b.md")))
	require.NoError(t, os.Mkdir(filepath.Join(e.root, "new folder"), 0o755))
	rep := e.scan(t)
	assert.Equal(t, 2, rep.Count(Deleted))
	assert.Zero(t, rep.Held)

	one := newEnv(t, nil)
	one.write(t, "only.md", "only")
	one.scan(t)
	require.NoError(t, os.Remove(filepath.Join(one.root, "only.md")))
	assert.Equal(t, 1, one.scan(t).Count(Deleted))
}
