package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"
)

// The chaos test: `docgraph up` watches a folder while a random sequence of
// file operations (create, overwrite, atomic save, move, delete, folder
// removal and renaming, spreadsheet row edits) runs on it, and the process
// is SIGKILLed, SIGTERMed and started again on the same data along the way.
// Once the pipeline is quiet, its graph must be exactly the graph a fresh
// ingest of the final folder builds: kept up to date, nothing lost, nothing
// duplicated.
//
// DOCGRAPH_TEST_CHAOS_SEED picks the sequence (the seed is logged, so a
// failure can be replayed) and DOCGRAPH_TEST_CHAOS_STEPS its length:
//
//	DOCGRAPH_TEST_CHAOS_SEED=7 DOCGRAPH_TEST_CHAOS_STEPS=200 go test ./cmd/docgraph -run '^TestChaos$' -v
//
// DOCGRAPH_TEST_CHAOS_KEEP=DIR keeps, for a failed run, its folder, the
// data of up and the debug log of every up process under DIR.
const (
	chaosSeedEnv  = "DOCGRAPH_TEST_CHAOS_SEED"
	chaosStepsEnv = "DOCGRAPH_TEST_CHAOS_STEPS"
	chaosKeepEnv  = "DOCGRAPH_TEST_CHAOS_KEEP"
	chaosSeed     = 10
	chaosSteps    = 25
	// chaosAnchor is never touched: a watched folder that is found empty
	// after holding files keeps their documents (a share not mounted), so
	// the folder always holds at least this file.
	chaosAnchor = "anchor.md"
	// chaosQuiet is how long the pipeline must stay drained, and the graph
	// match the folder, before its graph is compared: longer than the
	// watcher's settle time and the extractor's refresh delay together.
	chaosQuiet = 1500 * time.Millisecond
)

// chaosFolders are the subfolders files are created in and moved between
// ("" is the watched folder itself).
var chaosFolders = []string{"", "alpha", "beta", "alpha/deep", "gamma/x"}

// chaosSheetRows are the sheets of the sample workbooks, whose data rows
// the test removes to make versions of them.
var chaosSheetRows = map[string]string{"projects.xlsx": "Projects", "managers.xlsx": "Managers"}

func envInt(t *testing.T, name string, def int64) int64 {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err, "%s", name)
	return n
}

func TestChaos(t *testing.T) {
	seed := envInt(t, chaosSeedEnv, chaosSeed)
	steps := int(envInt(t, chaosStepsEnv, chaosSteps))
	t.Logf("seed %d, %d steps (%s, %s)", seed, steps, chaosSeedEnv, chaosStepsEnv)
	c := newChaos(t, uint64(seed))
	c.run(steps)
}

// TestChaosNeo4j is TestChaos with the graph in Neo4j, written by two
// graph writer goroutines per stream: the graph must still equal that of a
// fresh ingest into the embedded store.
func TestChaosNeo4j(t *testing.T) {
	seed := envInt(t, chaosSeedEnv, chaosSeed)
	steps := int(envInt(t, chaosStepsEnv, chaosSteps))
	t.Logf("seed %d, %d steps (%s, %s)", seed, steps, chaosSeedEnv, chaosStepsEnv)
	c := newChaos(t, uint64(seed))
	c.graph = neo4jArgs(t)
	c.run(steps)
}

// chaos is one run: the folder, the data of the `up` under test, and what
// the run did so far.
type chaos struct {
	t      *testing.T
	rng    *rand.Rand
	dir    string
	data   string
	corpus map[string][]byte // sample files by base name
	people []string          // member names of the sample teams.csv
	teams  []string          // data rows of the sample teams.csv
	header string            // its header
	graph  []string          // flags selecting the graph store (none: embedded)
	p      *proc             // the running up; nil while it is stopped
	procs  []*proc           // every up started, for DOCGRAPH_TEST_CHAOS_KEEP
	listen string
	n      int      // counter for new names and revisions
	ops    []string // what was done, in order, for the failure message
	// lastDeleted is the path and content of the last file deleted, to be
	// created again.
	lastDeleted        string
	lastDeletedContent []byte
	droppedRows        []string          // rows taken out of teams.csv, to be added back
	editedRows         map[string]string // rows of teams.csv changed, to what
}

func newChaos(t *testing.T, seed uint64) *chaos {
	t.Helper()
	c := &chaos{
		t:          t,
		rng:        rand.New(rand.NewPCG(seed, seed^0x5eed)),
		dir:        t.TempDir(),
		data:       t.TempDir(),
		corpus:     map[string][]byte{},
		editedRows: map[string]string{},
	}
	sample := filepath.Join(corpusDir(t, "sample"), "input")
	err := filepath.WalkDir(sample, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		c.corpus[d.Name()] = b
		return nil
	})
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(c.corpus["teams.csv"]), "\n"), "\n")
	c.header, c.teams = lines[0], lines[1:]
	for _, l := range c.teams {
		name, _, _ := strings.Cut(l, ",")
		if !slices.Contains(c.people, name) {
			c.people = append(c.people, name)
		}
	}
	if keep := os.Getenv(chaosKeepEnv); keep != "" {
		// Registered before any process starts, so it runs after they
		// are killed and before the temporary folders are removed.
		t.Cleanup(func() { c.keep(keep) })
	}
	writeFile(t, filepath.Join(c.dir, chaosAnchor), "# Anchor\n\nThis folder follows AACE-101.\n")
	// About half of the sample is there before up starts.
	for _, base := range slices.Sorted(maps.Keys(c.corpus)) {
		if c.rng.IntN(2) == 0 {
			continue
		}
		rel := path.Join(c.pick(chaosFolders), base)
		c.write(rel, c.corpus[base])
		c.ops = append(c.ops, "initial "+rel)
	}
	return c
}

func (c *chaos) logf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	c.ops = append(c.ops, s)
	c.t.Logf("op %d: %s", len(c.ops), s)
}

func (c *chaos) run(steps int) {
	t := c.t
	// Stops at random steps, away from the first and last ones: SIGKILLs
	// (two, more in longer runs) and one SIGTERM.
	stops := map[int]syscall.Signal{}
	kills := max(2, steps/12)
	for len(stops) < kills+1 && steps > 4 {
		s := 1 + c.rng.IntN(steps-2)
		if _, ok := stops[s]; ok {
			continue
		}
		sig := syscall.SIGKILL
		if len(stops) == kills {
			sig = syscall.SIGTERM
		}
		stops[s] = sig
	}
	c.start()
	downFor := 0             // steps left before a stopped up starts again
	var due []syscall.Signal // stops whose step came while up was stopped
	for i := range steps {
		if sig, ok := stops[i]; ok {
			due = append(due, sig)
		}
		if len(due) > 0 && c.p != nil {
			c.stop(due[0])
			due = due[1:]
			downFor = c.rng.IntN(3)
		}
		if c.p == nil && downFor == 0 {
			c.start()
		}
		downFor--
		c.step()
		// Paces the operations: some come in bursts faster than the
		// watcher's settle time, some after it has published.
		if d := []time.Duration{0, 0, 50, 150, 300, 600}[c.rng.IntN(6)] * time.Millisecond; d > 0 {
			<-time.After(d)
		}
	}
	if c.p == nil {
		c.start()
	}
	start := time.Now()
	c.waitQuiet()
	t.Logf("quiet %s after the last operation", time.Since(start).Round(time.Millisecond))

	out, errOut, err := docgraph(t, append([]string{"graph", "export", "--data", c.data, "--format", "json"}, c.graph...)...)
	require.NoError(t, err, errOut)
	got := parseExport(t, []byte(out))

	fresh := t.TempDir()
	mustDocgraph(t, ingestArgs(fresh, "--nats.listen", "off", c.dir)...)
	want := exportGraph(t, fresh)
	require.NotEmpty(t, want.Nodes)
	if diff := exportDiff(want, got); diff != "" {
		t.Fatalf("seed %d: the graph of up differs from a fresh ingest of the final folder\n%s\noperations:\n  %s\nfinal folder:\n  %s\nlog of up, above debug:\n%s",
			c.seedOf(), diff, strings.Join(c.ops, "\n  "), strings.Join(c.files(), "\n  "), notable(c.p.log(), 40))
	}
}

// keep copies a failed run's folder, data and logs under dir.
func (c *chaos) keep(dir string) {
	if !c.t.Failed() {
		return
	}
	dir = filepath.Join(dir, fmt.Sprintf("seed-%d", c.seedOf()))
	for _, sub := range []struct{ from, to string }{{c.dir, "folder"}, {c.data, "data"}} {
		if err := os.CopyFS(filepath.Join(dir, sub.to), os.DirFS(sub.from)); err != nil {
			c.t.Logf("keep %s: %v", sub.to, err)
		}
	}
	for i, p := range c.procs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("up-%d.log", i+1)), []byte(p.log()), 0o644); err != nil {
			c.t.Logf("keep log: %v", err)
		}
	}
	c.t.Logf("kept the run under %s", dir)
}

func (c *chaos) seedOf() int64 { return envInt(c.t, chaosSeedEnv, chaosSeed) }

// start starts `up` on the data, with a NATS listener for the operator
// commands, short settle and refresh times, and short ack waits so that
// messages in flight at a SIGKILL come back within seconds. The rescan
// is out of reach: the folder's events alone must keep the graph up to
// date (and the scan at each start what happened while it was stopped).
func (c *chaos) start() {
	c.t.Helper()
	c.listen = fmt.Sprintf("127.0.0.1:%d", freePort(c.t))
	args := []string{"up", "--watch", c.dir, "--data", c.data, "--nats.listen", c.listen, "--metrics-addr", "",
		"--watch.settle", "200ms", "--watch.rescan", "1h", "--extractor.refresh_delay", "50ms",
		"--log-format", "json", "--log-level", "debug"}
	for _, s := range []string{"parser", "extractor", "graph_writer"} {
		args = append(args, "--stages."+s+".ack_wait", "3s", "--stages."+s+".backoff", "200ms,1s")
	}
	if c.graph != nil {
		args = append(append(args, c.graph...), "--stages.graph_writer.concurrency", "2")
	}
	c.p = startProc(c.t, args...)
	c.procs = append(c.procs, c.p)
	c.logf("start up")
	// Sometimes the folder changes while up is still starting.
	if c.rng.IntN(2) == 0 {
		c.p.waitLog(c.t, 60*time.Second, `"msg":"all stages ready"`, 1)
	}
}

// stop sends sig to up and waits for it to exit; after SIGTERM it must
// exit cleanly.
func (c *chaos) stop(sig syscall.Signal) {
	c.t.Helper()
	c.logf("stop up with %s", sig)
	if sig == syscall.SIGTERM {
		// A process still starting may not handle signals yet: its first
		// log line comes after main has set up their handling.
		c.p.waitLog(c.t, 60*time.Second, `"msg":"embedded nats started"`, 1)
	}
	require.NoError(c.t, c.p.cmd.Process.Signal(sig))
	select {
	case err := <-c.p.done:
		c.p.done <- err // for the cleanup's wait
		if sig == syscall.SIGTERM {
			require.NoError(c.t, err, "exit after SIGTERM\n%s", tail(c.p.log(), 20))
		}
	case <-time.After(60 * time.Second):
		c.t.Fatalf("no exit after %s", sig)
	}
	c.p = nil
}

// waitQuiet waits until the pipeline has stayed drained, with the graph's
// documents matching the folder's files, for chaosQuiet.
func (c *chaos) waitQuiet() {
	t := c.t
	t.Helper()
	c.p.waitLog(t, 60*time.Second, `"msg":"all stages ready"`, 1)
	js := connect(t, "nats://"+c.listen)
	const timeout = 90 * time.Second
	deadline, tick := time.After(timeout), time.NewTicker(50*time.Millisecond)
	defer tick.Stop()
	var since time.Time // when the system was last found quiet after it was not
	var last error
	for {
		switch err := c.quiet(js); {
		case err != nil:
			since, last = time.Time{}, err
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= chaosQuiet:
			return
		}
		select {
		case err := <-c.p.done:
			c.p.done <- err
			t.Fatalf("up exited: %v\n%s", err, tail(c.p.log(), 30))
		case <-deadline:
			t.Fatalf("seed %d: not quiet within %s: %v\noperations:\n  %s\nlog of up, above debug:\n%s",
				c.seedOf(), timeout, last, strings.Join(c.ops, "\n  "), notable(c.p.log(), 40))
		case <-tick.C:
		}
	}
}

// quiet says why the system is not done: a gap reconcile reports between
// the folder and the graph, or work left in the pipeline.
func (c *chaos) quiet(js jetstream.JetStream) error {
	out, errOut, err := docgraph(c.t, append([]string{"reconcile", "--watch", c.dir, "--data", c.data}, c.graph...)...)
	if err != nil && err != exitCode(1) {
		return fmt.Errorf("reconcile: %v: %s", err, errOut)
	}
	if gaps := gapLines(out); len(gaps) > 0 || strings.Contains(out, "in flight") {
		return fmt.Errorf("reconcile: %s", out)
	}
	return drained(c.t.Context(), js, 0)
}

// chaosOp is one kind of operation on the folder, with its weight. An
// operation that finds nothing to act on returns false and another is
// drawn.
type chaosOp struct {
	weight int
	do     func(c *chaos) bool
}

var chaosOps = []chaosOp{
	{3, (*chaos).createDocument},
	{1, (*chaos).createSpreadsheet},
	{3, (*chaos).overwrite},
	{2, (*chaos).atomicSave},
	{2, (*chaos).move},
	{2, (*chaos).deleteFile},
	{1, (*chaos).deleteFolder},
	{1, (*chaos).moveFolder},
	{2, (*chaos).recreate},
	{2, (*chaos).editTeams},
}

func (c *chaos) step() {
	total := 0
	for _, o := range chaosOps {
		total += o.weight
	}
	for {
		r := c.rng.IntN(total)
		for _, o := range chaosOps {
			if r -= o.weight; r < 0 {
				if o.do(c) {
					return
				}
				break
			}
		}
	}
}

func (c *chaos) abs(rel string) string { return filepath.Join(c.dir, filepath.FromSlash(rel)) }

// files lists the files of the folder (relative, slash-separated), the
// anchor and hidden files left out.
func (c *chaos) files() []string {
	var out []string
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(c.dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel != chaosAnchor && !strings.HasPrefix(path.Base(rel), ".") {
			out = append(out, rel)
		}
		return nil
	})
	require.NoError(c.t, err)
	sort.Strings(out)
	return out
}

// folders lists the subfolders of the folder.
func (c *chaos) folders() []string {
	var out []string
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == c.dir {
			return err
		}
		rel, err := filepath.Rel(c.dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	})
	require.NoError(c.t, err)
	return out
}

func (c *chaos) pick(list []string) string { return list[c.rng.IntN(len(list))] }

func isChaosSheet(rel string) bool { return sampleSpreadsheets[path.Base(rel)] }

// findSheet returns where the spreadsheet named base is, if it is in the
// folder: the test keeps at most one file of each spreadsheet, so that no
// two files state different properties of one node.
func (c *chaos) findSheet(base string) (string, bool) {
	for _, f := range c.files() {
		if path.Base(f) == base {
			return f, true
		}
	}
	return "", false
}

// content returns a version of the sample file base: for text, the sample
// with a revision paragraph naming a person of the teams and a procedure;
// for a workbook, the sample or the sample without one data row; for Word,
// one of the sample's documents.
func (c *chaos) content(base string) []byte {
	c.n++
	orig := c.corpus[base]
	ext := path.Ext(base)
	note := fmt.Sprintf("Revision %d: %s reviewed AACE-%d.", c.n, c.pick(c.people), 10+c.rng.IntN(90))
	switch {
	case base == "teams.csv":
		return []byte(c.teamsContent())
	case chaosSheetRows[base] != "":
		if c.rng.IntN(2) == 0 {
			return orig
		}
		return c.workbookWithout(base, 2+c.rng.IntN(5))
	case ext == ".docx":
		return c.corpus[c.pick([]string{"2024-02-21-controls-meeting.docx", "change-control.docx"})]
	case ext == ".html":
		return bytes.Replace(orig, []byte("</body>"), []byte("<p>"+note+"</p>\n</body>"), 1)
	case ext == ".csv":
		return append(slices.Clip(orig), fmt.Sprintf("RPT-%03d,2024-W%02d,%s\n", 100+c.n, 1+c.n%52, note)...)
	default:
		return append(slices.Clip(orig), "\n"+note+"\n"...)
	}
}

// workbookWithout is the sample workbook base without its row-th row.
func (c *chaos) workbookWithout(base string, row int) []byte {
	x, err := excelize.OpenReader(bytes.NewReader(c.corpus[base]))
	require.NoError(c.t, err)
	defer x.Close()
	require.NoError(c.t, x.RemoveRow(chaosSheetRows[base], row))
	buf, err := x.WriteToBuffer()
	require.NoError(c.t, err)
	return buf.Bytes()
}

// teamsContent is teams.csv without the rows dropped so far, and with the
// rows edited so far changed.
func (c *chaos) teamsContent() string {
	var b strings.Builder
	b.WriteString(c.header + "\n")
	for _, l := range c.teams {
		if slices.Contains(c.droppedRows, l) {
			continue
		}
		if e, ok := c.editedRows[l]; ok {
			l = e
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}

func (c *chaos) write(rel string, content []byte) {
	c.t.Helper()
	p := c.abs(rel)
	require.NoError(c.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(c.t, os.WriteFile(p, content, 0o644))
}

// newDocPath is a path no file has, for a document like the sample base.
func (c *chaos) newDocPath(base string) string {
	ext := path.Ext(base)
	for {
		c.n++
		p := path.Join(c.pick(chaosFolders), fmt.Sprintf("%s-%d%s", strings.TrimSuffix(base, ext), c.n, ext))
		if _, err := os.Stat(c.abs(p)); os.IsNotExist(err) {
			return p
		}
	}
}

func (c *chaos) documentBases() []string {
	var out []string
	for b := range c.corpus {
		if !sampleSpreadsheets[b] {
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

func (c *chaos) createDocument() bool {
	base := c.pick(c.documentBases())
	rel := c.newDocPath(base)
	content := c.corpus[base]
	if c.rng.IntN(2) == 0 {
		content = c.content(base)
	}
	c.write(rel, content)
	c.logf("create %s (from %s)", rel, base)
	return true
}

func (c *chaos) createSpreadsheet() bool {
	base := c.pick([]string{"teams.csv", "projects.xlsx", "managers.xlsx"})
	if _, ok := c.findSheet(base); ok {
		return false
	}
	rel := path.Join(c.pick(chaosFolders), base)
	c.write(rel, c.content(base))
	c.logf("create %s", rel)
	return true
}

// sample is the sample file a file of the folder was made from.
func (c *chaos) sample(rel string) string {
	if isChaosSheet(rel) {
		return path.Base(rel)
	}
	base, ext := path.Base(rel), path.Ext(rel)
	stem := strings.TrimSuffix(base, ext)
	if i := strings.LastIndexByte(stem, '-'); i > 0 {
		if _, ok := c.corpus[stem[:i]+ext]; ok {
			return stem[:i] + ext
		}
	}
	return base
}

func (c *chaos) overwrite() bool {
	files := c.files()
	if len(files) == 0 {
		return false
	}
	rel := c.pick(files)
	c.write(rel, c.content(c.sample(rel)))
	c.logf("overwrite %s in place", rel)
	return true
}

// atomicSave writes a new version under another name, then renames it
// over the file, as editors do: the temporary name is hidden, a name the
// watcher ignores, or a document name of its own.
func (c *chaos) atomicSave() bool {
	files := c.files()
	if len(files) == 0 {
		return false
	}
	rel := c.pick(files)
	c.n++
	dir, base := path.Split(rel)
	tmp := path.Join(dir, []string{
		"." + base + ".swp", base + ".tmp", fmt.Sprintf("draft-%d%s", c.n, path.Ext(base)),
	}[c.rng.IntN(3)])
	c.write(tmp, c.content(c.sample(rel)))
	require.NoError(c.t, os.Rename(c.abs(tmp), c.abs(rel)))
	c.logf("atomic save of %s through %s", rel, tmp)
	return true
}

// move moves a file to another folder; a document may change its name.
func (c *chaos) move() bool {
	files := c.files()
	if len(files) == 0 {
		return false
	}
	rel := c.pick(files)
	to := path.Join(c.pick(chaosFolders), path.Base(rel))
	if !isChaosSheet(rel) && c.rng.IntN(2) == 0 {
		to = c.newDocPath(c.sample(rel))
	}
	if _, err := os.Stat(c.abs(to)); !os.IsNotExist(err) {
		return false
	}
	require.NoError(c.t, os.MkdirAll(filepath.Dir(c.abs(to)), 0o755))
	require.NoError(c.t, os.Rename(c.abs(rel), c.abs(to)))
	c.logf("move %s to %s", rel, to)
	return true
}

func (c *chaos) deleteFile() bool {
	files := c.files()
	if len(files) == 0 {
		return false
	}
	rel := c.pick(files)
	b, err := os.ReadFile(c.abs(rel))
	require.NoError(c.t, err)
	require.NoError(c.t, os.Remove(c.abs(rel)))
	c.lastDeleted, c.lastDeletedContent = rel, b
	c.logf("delete %s", rel)
	return true
}

func (c *chaos) deleteFolder() bool {
	folders := c.folders()
	if len(folders) == 0 {
		return false
	}
	rel := c.pick(folders)
	require.NoError(c.t, os.RemoveAll(c.abs(rel)))
	c.logf("delete folder %s", rel)
	return true
}

// moveFolder renames a subfolder, with everything in it, to a new name.
func (c *chaos) moveFolder() bool {
	folders := c.folders()
	if len(folders) == 0 {
		return false
	}
	rel := c.pick(folders)
	c.n++
	to := path.Join(path.Dir(rel), fmt.Sprintf("moved-%d", c.n))
	require.NoError(c.t, os.Rename(c.abs(rel), c.abs(to)))
	c.logf("move folder %s to %s", rel, to)
	return true
}

// recreate creates the last deleted file again, with its content or
// another version.
func (c *chaos) recreate() bool {
	rel := c.lastDeleted
	if rel == "" {
		return false
	}
	if _, err := os.Stat(c.abs(rel)); !os.IsNotExist(err) {
		return false
	}
	if isChaosSheet(rel) {
		if _, ok := c.findSheet(path.Base(rel)); ok {
			return false
		}
	}
	content, what := c.lastDeletedContent, "same"
	if c.rng.IntN(2) == 0 {
		content, what = c.content(c.sample(rel)), "new"
	}
	c.write(rel, content)
	c.lastDeleted = ""
	c.logf("re-create %s with its %s content", rel, what)
	return true
}

// editTeams drops a person's row from teams.csv or adds a dropped one back,
// in place or by an atomic save.
func (c *chaos) editTeams() bool {
	rel, ok := c.findSheet("teams.csv")
	if !ok {
		return false
	}
	var what string
	if c.rng.IntN(3) == 0 {
		// A row's last column (the role, which relationships carry)
		// emptied or changed, or given back.
		row := c.pick(c.teams)
		if _, ok := c.editedRows[row]; ok {
			delete(c.editedRows, row)
			what = "restore " + row
		} else {
			body, cr := strings.CutSuffix(row, "\r") // the file's lines end with CRLF
			edited := body[:strings.LastIndexByte(body, ',')+1] + []string{"", "Lead"}[c.rng.IntN(2)]
			if cr {
				edited += "\r"
			}
			c.editedRows[row] = edited
			what = "edit " + row + " to " + edited
		}
	} else if len(c.droppedRows) > 0 && c.rng.IntN(2) == 0 {
		i := c.rng.IntN(len(c.droppedRows))
		what = "add back " + c.droppedRows[i]
		c.droppedRows = slices.Delete(c.droppedRows, i, i+1)
	} else {
		row := c.pick(c.teams)
		if slices.Contains(c.droppedRows, row) {
			return false
		}
		what = "drop " + row
		c.droppedRows = append(c.droppedRows, row)
	}
	content := []byte(c.teamsContent())
	if c.rng.IntN(2) == 0 {
		c.write(rel, content)
		c.logf("teams.csv %s: %s, in place", rel, what)
		return true
	}
	tmp := path.Join(path.Dir(rel), ".teams.csv.tmp")
	c.write(tmp, content)
	require.NoError(c.t, os.Rename(c.abs(tmp), c.abs(rel)))
	c.logf("teams.csv %s: %s, atomic save", rel, what)
	return true
}

// exportDiff lists the nodes and relationships only one of two exports
// has, one JSON line each; "" when they are equal. No property is
// normalised: the graph holds no volatile value (no timestamps, no stream
// sequences), so up's graph must equal the fresh one exactly.
func exportDiff(want, got exportJSON) string {
	lines := func(ex exportJSON) map[string]int {
		m := map[string]int{}
		for _, n := range ex.Nodes {
			b, _ := json.Marshal(n)
			m["node "+string(b)]++
		}
		for _, r := range ex.Relationships {
			b, _ := json.Marshal(r)
			m["rel  "+string(b)]++
		}
		return m
	}
	w, g := lines(want), lines(got)
	var diff []string
	for l, n := range w {
		if g[l] != n {
			diff = append(diff, fmt.Sprintf("- fresh %d, up %d: %s", n, g[l], l))
		}
	}
	for l, n := range g {
		if _, ok := w[l]; !ok {
			diff = append(diff, fmt.Sprintf("+ fresh 0, up %d: %s", n, l))
		}
	}
	sort.Strings(diff)
	if len(diff) > 60 {
		diff = append(diff[:60], fmt.Sprintf("... and %d more", len(diff)-60))
	}
	return strings.Join(diff, "\n")
}
