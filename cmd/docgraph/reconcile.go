package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/graph/graphapi"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/services/parser"
	"github.com/docgraph/docgraph/services/watcher"
)

const reconcileHelp = `Compares the files in the watched folder with the Documents in the graph and
reports every gap:

  missing        the file is there, the graph has no Document for it
  stale          the graph's Document has other bytes (sha256) than the file
  orphaned       the graph has a Document whose file is gone
  dead-lettered  the gap is explained by a dead letter for that file: its error is
                 shown; fix the cause, then 'docgraph dlq replay --id ID'

Files the watcher does not publish are not expected in the graph: hidden files and
folders, editor and partial files, what watch.ignore names, formats docgraph does not
read (images, archives, ...), symlinks leaving the folder, files over
watch.max_file_size, and spreadsheets no mapping names when parser.unmapped is skip.
A Document whose file is there but over watch.max_file_size is no orphan: the watcher
keeps it, and so does --fix.

With --fix, missing and stale files are published again and deletions are published
for orphans, through NATS: a watcher scan publishes what the watcher has not seen, and
what it believes is already in the graph is republished directly (file bytes into the
object store, a FileDiscovered event). The stages process them when they run ('docgraph
up', 'worker' or the next 'ingest'). Dead-lettered files are left to 'docgraph dlq replay',
except those whose stored bytes are incomplete (an upload that did not finish): they are
stored and published again.

Documents published from other folders into the same data (another 'ingest FOLDER' or
'up --watch FOLDER') are not this folder's orphans: they are counted in a note and left.

Works against the data under --data when nothing runs, against a 'docgraph up' running on
--data (through its NATS listener, nats.listen), and against a cluster with --nats and
--neo4j. Exits 1 when gaps other than dead-lettered ones remain.`

// Gap kinds, as printed.
const (
	gapMissing      = "missing"
	gapStale        = "stale"
	gapOrphaned     = "orphaned"
	gapDeadLettered = "dead-lettered"
)

// gap is one difference between the folder and the graph.
type gap struct {
	kind     string
	path     string
	fileSHA  string // "" for orphans
	graphSHA string // "" for missing files
	file     folderFile
	dl       *bus.DeadLetter // the dead letter that explains it
	// incomplete marks a dead-lettered file whose stored bytes miss chunks
	// (an upload that did not finish): --fix stores and publishes it again,
	// since a replay of its dead letter would read the same object.
	incomplete bool
}

// folderFile is a file the watcher would publish.
type folderFile struct {
	abs  string
	size int64
	sha  string
	mod  time.Time
}

func cmdReconcile(ctx context.Context, e env, args []string) error {
	var fix bool
	cfg, rest, err := parseFlags(e, "reconcile", "[--watch DIR] [--fix] [flags]", reconcileHelp, args, func(fs *flag.FlagSet) {
		fs.BoolVar(&fix, "fix", false, "republish missing and stale files and publish deletions for orphans")
	})
	if err != nil {
		return err
	}
	root := cfg.Watch.Dir
	switch {
	case len(rest) == 1 && root == "":
		root = rest[0]
	case len(rest) > 0:
		return fmt.Errorf("reconcile: unexpected arguments %q (give the folder with --watch DIR)", rest)
	}
	if root == "" {
		return errors.New("reconcile: --watch DIR required: the folder whose files should be in the graph")
	}
	root, err = resolveRoot(root)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	_, mapping, err := loadSchemas(cfg)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	files, problems := folderFiles(root, cfg, mapping)

	var att attachment
	if cfg.NATS.URL == "" {
		if att, err = attachData(ctx, cfg, "reconcile", true, false); err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		defer att.lock.Close()
	}
	cfg.Log.Level = "error" // the command prints what happened
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	s, err := att.connect(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	defer s.close()
	docs, err := graphDocuments(ctx, s, att.lock != nil)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	dls, err := bus.ListDeadLetters(ctx, s.js, bus.Filter{})
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}

	roots, err := watcher.Roots(ctx, s.js)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	docs, others := ownDocuments(root, files, docs, roots)
	oversized := keepOversized(root, files, docs, int64(cfg.Watch.MaxFileSize))

	gaps := findGaps(files, docs, dls)
	for _, p := range problems {
		fmt.Fprintf(e.stderr, "reconcile: %v\n", p)
	}
	open := printGaps(e.stdout, gaps, len(files), len(docs))
	if n := sum(maps.Values(others)); n > 0 {
		fmt.Fprintf(e.stdout, "note: %d document(s) published from other folders (%s) were not compared; reconcile those with --watch FOLDER\n",
			n, strings.Join(slices.Sorted(maps.Keys(others)), ", "))
	}
	if oversized > 0 {
		fmt.Fprintf(e.stdout, "note: %d document(s) whose file is over watch.max_file_size (%d bytes) were not compared; the watcher keeps what the graph has of them\n",
			oversized, int64(cfg.Watch.MaxFileSize))
	}
	if n, err := inFlight(ctx, s.js); err == nil && n > 0 {
		fmt.Fprintf(e.stdout, "note: %d message(s) are still pending or in flight in the pipeline; some gaps may be work in progress\n", n)
	}
	if !fix {
		if open > 0 {
			return exitCode(1)
		}
		return nil
	}
	incomplete, err := markIncomplete(ctx, s.js, gaps)
	if err != nil {
		return fmt.Errorf("reconcile --fix: %w", err)
	}
	if open == 0 && incomplete == 0 {
		fmt.Fprintln(e.stdout, "nothing to fix")
		return nil
	}
	failed, err := fixGaps(ctx, e, s, root, cfg, gaps)
	if err != nil {
		return fmt.Errorf("reconcile --fix: %w", err)
	}
	notRunningNote(e, s)
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

func resolveRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s is not a folder", root)
	}
	return abs, nil
}

// folderFiles lists the files under root that the watcher publishes, by
// path relative to root, with their sha256; problems are files that could
// not be read.
func folderFiles(root string, cfg config.Config, m *schema.Mapping) (map[string]folderFile, []error) {
	files := map[string]folderFile{}
	rules, err := watcher.NewRules(watcherConfig(cfg, root))
	if err != nil {
		return files, []error{err}
	}
	var problems []error
	_ = filepath.WalkDir(root, func(abs string, d fs.DirEntry, err error) error {
		if abs == root {
			return err
		}
		r, _ := filepath.Rel(root, abs)
		rel := filepath.ToSlash(r)
		if rules.Skip(rel, d.IsDir()) != "" {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				problems = append(problems, fmt.Errorf("read %s: %w", rel, err))
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		target := abs
		if d.Type()&fs.ModeSymlink != 0 {
			t, err := filepath.EvalSymlinks(abs)
			if err != nil || (t != root && !strings.HasPrefix(t, root+string(filepath.Separator))) {
				return nil // broken, or leaving the folder: never published
			}
			target = t
		}
		st, err := os.Stat(target)
		if err != nil {
			problems = append(problems, fmt.Errorf("stat %s: %w", rel, err))
			return nil
		}
		if !st.Mode().IsRegular() || st.Size() > int64(cfg.Watch.MaxFileSize) {
			return nil
		}
		if cfg.Parser.Unmapped == parser.UnmappedSkip && parser.IsSpreadsheet(event.FormatOf(rel)) {
			if _, ok := m.Match(rel); !ok {
				return nil
			}
		}
		sum, err := hashPath(target)
		if err != nil {
			problems = append(problems, fmt.Errorf("hash %s: %w", rel, err))
			return nil
		}
		files[rel] = folderFile{abs: target, size: st.Size(), sha: sum, mod: st.ModTime()}
		return nil
	})
	return files, problems
}

func hashPath(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ownDocuments splits the graph's Documents into those of the folder root
// and those the watcher published from other folders into the same data
// (roots: the folder of each recorded path, see watcher.Roots), which are
// not orphans of root: a Document whose file root holds, or whose folder
// is root or unknown, is root's. others counts the other folders'
// Documents by folder.
func ownDocuments(root string, files map[string]folderFile, docs, roots map[string]string) (own map[string]string, others map[string]int) {
	own, others = map[string]string{}, map[string]int{}
	for rel, sha := range docs {
		if r := roots[rel]; r != "" && r != root {
			if _, ok := files[rel]; !ok {
				others[r]++
				continue
			}
		}
		own[rel] = sha
	}
	return own, others
}

// keepOversized removes from docs, and counts, the Documents whose file is
// still in root but over maxSize: the watcher skips such a file and keeps
// what the graph has of it (published under a higher limit, or before it
// grew), so it is no orphan, and --fix must not publish its deletion.
func keepOversized(root string, files map[string]folderFile, docs map[string]string, maxSize int64) int {
	n := 0
	for rel := range docs {
		if _, ok := files[rel]; ok {
			continue
		}
		st, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
		if err == nil && st.Mode().IsRegular() && st.Size() > maxSize {
			delete(docs, rel)
			n++
		}
	}
	return n
}

func sum(ns iter.Seq[int]) int {
	t := 0
	for n := range ns {
		t += n
	}
	return t
}

// findGaps compares the folder with the graph's Documents, explaining
// gaps by dead letters where one exists for that version of the file.
func findGaps(files map[string]folderFile, docs map[string]string, dls []bus.DeadLetter) []gap {
	var gaps []gap
	for rel, f := range files {
		graphSHA, ok := docs[rel]
		switch {
		case !ok:
			gaps = append(gaps, gap{kind: gapMissing, path: rel, fileSHA: f.sha, file: f})
		case graphSHA != f.sha:
			gaps = append(gaps, gap{kind: gapStale, path: rel, fileSHA: f.sha, graphSHA: graphSHA, file: f})
		}
	}
	for rel, sha := range docs {
		if _, ok := files[rel]; !ok {
			gaps = append(gaps, gap{kind: gapOrphaned, path: rel, graphSHA: sha})
		}
	}
	for i := range gaps {
		g := &gaps[i]
		// The newest dead letter about this version of the file explains it.
		for j := len(dls) - 1; j >= 0; j-- {
			if explains(dls[j], *g) {
				g.dl = &dls[j]
				g.kind = gapDeadLettered
				break
			}
		}
	}
	slices.SortFunc(gaps, func(a, b gap) int { return strings.Compare(a.path, b.path) })
	return gaps
}

// explains reports whether dead letter d is why gap g exists: it is about
// the same path and, for a file, the file's current bytes (a dead letter
// for an older version explains nothing); for an orphan, about its deletion.
func explains(d bus.DeadLetter, g gap) bool {
	if d.Path != g.path {
		return false
	}
	deletion := deletionSubject(d.OrigSubject)
	if g.kind == gapOrphaned {
		return deletion
	}
	if deletion {
		return false
	}
	_, sha := bus.PayloadFile(d.Payload())
	return sha == "" || sha == g.fileSHA
}

// deletionSubject reports whether subject carries the withdrawal of a file
// (at any stage), not a version of it.
func deletionSubject(subject string) bool {
	return subject == event.SubjectFileDeleted || subject == event.SubjectDocumentDeleted ||
		subject == event.SubjectExtractionDeletion
}

// printGaps prints one line per gap and a summary; it returns the number
// of gaps not explained by a dead letter.
func printGaps(w io.Writer, gaps []gap, nFiles, nDocs int) int {
	counts := map[string]int{}
	for _, g := range gaps {
		counts[g.kind]++
		switch g.kind {
		case gapMissing:
			fmt.Fprintf(w, "missing        %s: file present, no Document in the graph\n", g.path)
		case gapStale:
			fmt.Fprintf(w, "stale          %s: the graph has sha256 %s, the file %s\n", g.path, short(g.graphSHA), short(g.fileSHA))
		case gapOrphaned:
			fmt.Fprintf(w, "orphaned       %s: Document in the graph, no file\n", g.path)
		case gapDeadLettered:
			fmt.Fprintf(w, "dead-lettered  %s: %s: %s (dead letter %d; 'docgraph dlq show %d')\n",
				g.path, g.dl.Stage, g.dl.Error, g.dl.ID, g.dl.ID)
		}
	}
	open := counts[gapMissing] + counts[gapStale] + counts[gapOrphaned]
	fmt.Fprintf(w, "reconciled %d file%s with %d document%s: %d missing, %d stale, %d orphaned, %d dead-lettered\n",
		nFiles, plural(nFiles), nDocs, plural(nDocs), counts[gapMissing], counts[gapStale], counts[gapOrphaned], counts[gapDeadLettered])
	return open
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// inFlight counts the messages the stages have not finished.
func inFlight(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	var n uint64
	for _, c := range bus.Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return 0, err
		}
		n += info.NumPending + uint64(info.NumAckPending)
	}
	return n, nil
}

// fixGaps publishes what closes the gaps and prints what it did. A watcher
// scan first publishes the versions and deletions the watcher has not
// published (its state records what it has); what it considers published
// but the graph lacks is republished directly, under a message ID that is
// not a duplicate of the first publication.
func fixGaps(ctx context.Context, e env, s *system, root string, cfg config.Config, gaps []gap) (int, error) {
	w, err := watcher.New(watcherConfig(cfg, root), s.js, logging.Discard(), nil)
	if err != nil {
		return 0, err
	}
	rep, err := w.Scan(ctx)
	if err != nil {
		return 0, err
	}
	objects, err := s.js.ObjectStore(ctx, bus.BucketFiles)
	if err != nil {
		return 0, fmt.Errorf("object store: %w", err)
	}
	files, err := s.js.Stream(ctx, bus.StreamFiles)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", bus.StreamFiles, err)
	}
	info, err := files.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", bus.StreamFiles, err)
	}
	// Names this reconcile's messages; later runs see a higher sequence.
	run := strconv.FormatUint(info.State.LastSeq, 10)
	republished, deleted, left, failed, kept := 0, 0, 0, 0, 0
	// republishGap stores and publishes g's file again.
	republishGap := func(g gap, why string) {
		seq, err := republish(ctx, s.js, objects, g, run)
		if err != nil {
			failed++
			fmt.Fprintf(e.stdout, "not fixed      %s: %v\n", g.path, err)
			return
		}
		republished++
		fmt.Fprintf(e.stdout, "republished    %s (%ssha256 %s, files seq %d)\n", g.path, why, short(g.fileSHA), seq)
	}
	handled := map[string]bool{}
	for _, g := range gaps {
		handled[g.path] = true
		res, scanned := rep.Lookup(g.path)
		switch g.kind {
		case gapDeadLettered:
			if g.incomplete {
				republishGap(g, "its stored bytes were incomplete; ")
				continue
			}
			left++
			fmt.Fprintf(e.stdout, "left           %s: dead-lettered; fix the cause, then 'docgraph dlq replay --id %d'\n", g.path, g.dl.ID)
		case gapMissing, gapStale:
			switch {
			case scanned && res.Outcome == watcher.Published:
				republished++
				fmt.Fprintf(e.stdout, "published      %s (sha256 %s, files seq %d)\n", g.path, short(res.SHA256), res.Seq)
			case scanned && (res.Outcome == watcher.Skipped || res.Outcome == watcher.Failed):
				failed++
				fmt.Fprintf(e.stdout, "not fixed      %s: %s\n", g.path, resultDetail(res))
			default:
				republishGap(g, "")
			}
		case gapOrphaned:
			if rep.Held > 0 {
				kept++
				fmt.Fprintf(e.stdout, "kept           %s: the folder is empty (a share not mounted?); if its files were deleted on purpose, --watch.allow_empty withdraws them\n", g.path)
				continue
			}
			if scanned && res.Outcome == watcher.Deleted {
				deleted++
				fmt.Fprintf(e.stdout, "deleted        %s (files seq %d)\n", g.path, res.Seq)
				continue
			}
			seq, err := publishDeletion(ctx, s.js, g, run)
			if err != nil {
				failed++
				fmt.Fprintf(e.stdout, "not fixed      %s: %v\n", g.path, err)
				continue
			}
			deleted++
			fmt.Fprintf(e.stdout, "deleted        %s (files seq %d)\n", g.path, seq)
		}
	}
	other := 0
	for _, r := range rep.Results {
		if !handled[r.Path] && (r.Outcome == watcher.Published || r.Outcome == watcher.Deleted) {
			other++
		}
	}
	fmt.Fprintf(e.stdout, "fix: %d published, %d deletions published, %d left to the DLQ, %d not fixed", republished, deleted, left, failed)
	if kept > 0 {
		fmt.Fprintf(e.stdout, ", %d kept (the folder is empty)", kept)
	}
	if other > 0 {
		fmt.Fprintf(e.stdout, "; the watcher scan also published %d other change(s)", other)
	}
	fmt.Fprintln(e.stdout)
	return failed + kept, nil
}

func resultDetail(r watcher.Result) string {
	if r.Err != nil {
		return r.Err.Error()
	}
	return r.Detail
}

// markIncomplete marks the dead-lettered gaps whose stored bytes are
// incomplete and returns how many there are.
func markIncomplete(ctx context.Context, js jetstream.JetStream, gaps []gap) (int, error) {
	objects, err := js.ObjectStore(ctx, bus.BucketFiles)
	if err != nil {
		return 0, fmt.Errorf("object store: %w", err)
	}
	n := 0
	for i := range gaps {
		g := &gaps[i]
		if g.kind != gapDeadLettered || g.fileSHA == "" || g.file.abs == "" {
			continue
		}
		stored, err := storedState(ctx, js, objects, watcher.ObjectName(g.path, g.fileSHA))
		if err != nil {
			return n, err
		}
		if g.incomplete = stored == objectIncomplete; g.incomplete {
			n++
		}
	}
	return n, nil
}

// What the object store holds under a name.
const (
	objectAbsent = iota
	objectIncomplete
	objectComplete
)

// storedState says whether the object store holds obj, whole or with
// chunks missing (an upload that failed after its metadata was stored).
func storedState(ctx context.Context, js jetstream.JetStream, objects jetstream.ObjectStore, obj string) (int, error) {
	info, err := objects.GetInfo(ctx, obj)
	if errors.Is(err, jetstream.ErrObjectNotFound) || err == nil && info.Deleted {
		return objectAbsent, nil
	}
	if err != nil {
		return objectAbsent, fmt.Errorf("object %s: %w", obj, err)
	}
	complete, err := bus.ObjectComplete(ctx, js, info)
	if err != nil || !complete {
		return objectIncomplete, err
	}
	return objectComplete, nil
}

// republish stores the file's bytes (unless the object is there) and
// publishes a FileDiscovered for them.
func republish(ctx context.Context, js jetstream.JetStream, objects jetstream.ObjectStore, g gap, run string) (uint64, error) {
	obj := watcher.ObjectName(g.path, g.fileSHA)
	stored, err := storedState(ctx, js, objects, obj)
	if err != nil {
		return 0, err
	}
	if stored != objectComplete {
		if err := storeFile(ctx, objects, g, obj); err != nil {
			return 0, err
		}
	}
	ev := event.FileDiscovered{Path: g.path, Size: g.file.size, SHA256: g.fileSHA,
		ModTime: g.file.mod.UTC().Format(time.RFC3339Nano), Object: obj}
	return publishFileEvent(ctx, js, event.SubjectFileDiscovered, ev, g.path, g.fileSHA,
		"reconcile:"+watcher.IDPath(g.path)+":"+g.fileSHA+":"+run)
}

func storeFile(ctx context.Context, objects jetstream.ObjectStore, g gap, obj string) error {
	f, err := os.Open(g.file.abs)
	if err != nil {
		return fmt.Errorf("store %s: %w", g.path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := objects.Put(ctx, jetstream.ObjectMeta{Name: obj, Metadata: map[string]string{"path": g.path, "sha256": g.fileSHA}},
		io.TeeReader(f, h)); err != nil {
		return fmt.Errorf("store %s: %w", g.path, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != g.fileSHA {
		_ = objects.Delete(ctx, obj)
		return fmt.Errorf("store %s: the file changed while it was reconciled; run reconcile again", g.path)
	}
	return nil
}

func publishDeletion(ctx context.Context, js jetstream.JetStream, g gap, run string) (uint64, error) {
	ev := event.FileDeleted{Path: g.path, SHA256: g.graphSHA}
	return publishFileEvent(ctx, js, event.SubjectFileDeleted, ev, g.path, g.graphSHA,
		"reconcile-deleted:"+watcher.IDPath(g.path)+":"+g.graphSHA+":"+run)
}

func publishFileEvent(ctx context.Context, js jetstream.JetStream, subject string, payload any, rel, sha, msgID string) (uint64, error) {
	m, err := pipeline.NewMessage(subject, payload)
	if err != nil {
		return 0, err
	}
	m.Header.Set(pipeline.HeaderCorrelationID, watcher.CorrelationID(rel, sha))
	m.Header.Set(pipeline.HeaderMsgID, msgID)
	ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: m.Data, Header: m.Header},
		jetstream.WithExpectStream(bus.StreamFiles))
	if err != nil {
		return 0, fmt.Errorf("publish %s: %w", subject, err)
	}
	return ack.Sequence, nil
}

// graphDocuments lists the graph's Documents: from the store directly
// (Neo4j, or the embedded graph of a data directory this process holds,
// local), or else from the graph writer of the running docgraph s reaches.
func graphDocuments(ctx context.Context, s *system, local bool) (map[string]string, error) {
	if local || s.cfg.GraphStore() == "neo4j" {
		store, err := openStore(ctx, s.cfg, nil, s.log)
		if err != nil {
			return nil, fmt.Errorf("open the graph: %w", err)
		}
		defer store.Close()
		return store.Documents(ctx)
	}
	docs, err := graphapi.Documents(ctx, s.nc, s.js)
	if errors.Is(err, graphapi.ErrNoServer) {
		return nil, fmt.Errorf("no graph writer answers on %s", bus.RedactURL(s.cfg.NATS.URL))
	}
	return docs, err
}
