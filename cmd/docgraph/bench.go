package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/corpusgen"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/logging"
)

const benchHelp = `Generates a corpus of documents (and the spreadsheets that name their people,
projects and teams) into a temporary folder, ingests it with the same code path as
'docgraph ingest' on the embedded default, and reports files/s, messages through
JetStream, peak RSS and the graph, which must match the corpus's ground truth.
With --changed it then rewrites every file with another corpus (the next seed: other
names and contents at the same paths) and ingests again into the same data: the graph
must then match the new corpus, nothing of the first left.
Arguments after -- are passed to ingest, e.g. -- --graph.batch_large 4096.`

// benchOptions configure one benchmark run.
type benchOptions struct {
	corpus     corpusgen.Options
	dir        string   // where the corpus and the data go
	ingestArgs []string // extra ingest flags
	cpuProfile string
	memProfile string
}

// benchResult is what one run measured.
type benchResult struct {
	gen     corpusgen.Stats
	genTook time.Duration
	took    time.Duration // ingest, start to summary
	// cpuUser and cpuSystem are the process's CPU time during the ingest
	// (cpuKnown false where the system does not say): a figure less
	// swayed than took by what else the machine runs.
	cpuUser, cpuSystem time.Duration
	cpuKnown           bool
	streams            map[string]uint64
	messages           uint64 // in the pipeline's streams
	objects            uint64 // object-store chunk messages (file bytes)
	peakRSS            int64  // VmHWM, bytes
	rssSamples         []int64
	goSamples          []int64 // memory the Go runtime held at each RSS sample
	goAtPeak           int64   // memory the Go runtime held when the RSS sampled highest
	graph              graph.Stats
	mismatches         []string
	// chunkSize and chunkOverlap are the parser's chunk settings: the
	// chunk count, and so the message count, follows them.
	chunkSize, chunkOverlap int
}

func cmdBench(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("docgraph bench", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var o benchOptions
	var keep, changed bool
	var formats string
	fs.IntVar(&o.corpus.Docs, "docs", 1000, "documents to generate")
	fs.IntVar(&o.corpus.DocBytes, "doc-bytes", corpusgen.DefaultDocBytes, "approximate size of one document")
	fs.IntVar(&o.corpus.People, "people", corpusgen.DefaultPeople, "people in the structured data")
	fs.IntVar(&o.corpus.Projects, "projects", corpusgen.DefaultProjects, "projects in the structured data")
	fs.IntVar(&o.corpus.Teams, "teams", corpusgen.DefaultTeams, "teams in the structured data")
	fs.Int64Var(&o.corpus.Seed, "seed", 1, "corpus seed")
	fs.StringVar(&formats, "formats", strings.Join(corpusgen.DefaultFormats, ","), "document formats to generate, of "+strings.Join(corpusgen.Formats, ","))
	fs.BoolVar(&keep, "keep", false, "keep the corpus and the data folder (their path is printed)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the ingest (with --changed, of the second) to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write the heap profile taken at the ingest's highest RSS (with --changed, the second's) to this file")
	fs.BoolVar(&changed, "changed", false, "then rewrite every file (the corpus of the next seed, same paths) and ingest again into the same data")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: docgraph bench [flags] [-- ingest flags]\n\n%s\n\nFlags:\n", benchHelp)
		fs.PrintDefaults()
	}
	if err := parseFlagSet(fs, e.stderr, args); err != nil {
		return err
	}
	o.ingestArgs = fs.Args()
	o.corpus.Formats = strings.Split(formats, ",")
	o.corpus.Spreadsheets = true
	dir, err := os.MkdirTemp("", "docgraph-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if keep {
		fmt.Fprintf(e.stderr, "bench: corpus and data in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	o.dir = dir
	profiles := [2]string{o.cpuProfile, o.memProfile}
	if changed {
		o.cpuProfile, o.memProfile = "", ""
	}
	res, err := runBench(ctx, e, o)
	if err != nil {
		return err
	}
	res.print(e.stdout)
	if len(res.mismatches) > 0 {
		return fmt.Errorf("bench: the graph does not match the corpus:\n  %s", strings.Join(res.mismatches, "\n  "))
	}
	if !changed {
		return nil
	}
	o.corpus.Seed++
	o.cpuProfile, o.memProfile = profiles[0], profiles[1]
	fmt.Fprintf(e.stdout, "\nevery file rewritten (seed %d), ingested again into the same data:\n", o.corpus.Seed)
	first := res
	res, err = runChanged(ctx, e, o)
	if err != nil {
		return err
	}
	// The streams keep the first run's messages: count this run's.
	res.messages -= first.messages
	res.objects -= first.objects
	for name, n := range first.streams {
		res.streams[name] -= n
	}
	res.print(e.stdout)
	if len(res.mismatches) > 0 {
		return fmt.Errorf("bench: after the rewrite, the graph does not match the corpus:\n  %s", strings.Join(res.mismatches, "\n  "))
	}
	return nil
}

// runBench generates the corpus into o.dir/input, ingests it into
// o.dir/data and measures.
func runBench(ctx context.Context, e env, o benchOptions) (benchResult, error) {
	var res benchResult
	start := time.Now()
	gen, err := corpusgen.Generate(filepath.Join(o.dir, "input"), o.corpus)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	res.gen, res.genTook = gen, time.Since(start)
	if err := requireEmptyNeo4j(ctx, e, filepath.Join(o.dir, "data"), o.ingestArgs); err != nil {
		return res, err
	}
	return measure(ctx, e, o, res)
}

// benchConfig is the configuration the bench's ingest runs with.
func benchConfig(e env, data string, ingestArgs []string) (config.Config, error) {
	cfg, _, err := parseFlags(env{stdout: io.Discard, stderr: e.stderr, getenv: e.getenv}, "bench --", "[ingest flags]",
		"Flags after -- go to the bench's ingest, as 'docgraph ingest' takes them (--data is the bench's own).",
		append(slices.Clone(ingestArgs), "--data", data), nil)
	return cfg, err
}

// requireEmptyNeo4j refuses a Neo4j database that holds a graph already:
// the bench checks the whole graph against its corpus (the embedded store
// starts empty in the bench's own folder).
func requireEmptyNeo4j(ctx context.Context, e env, data string, ingestArgs []string) error {
	cfg, err := benchConfig(e, data, ingestArgs)
	if err != nil {
		return err
	}
	if cfg.GraphStore() != "neo4j" {
		return nil
	}
	st, err := openStore(ctx, cfg, nil, nil)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer st.Close()
	stats, err := st.Stats(ctx)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	n := 0
	for _, c := range stats.Nodes {
		n += int(c)
	}
	if n > 0 {
		return fmt.Errorf("bench: the Neo4j database at %s holds %d nodes already; the bench checks the whole graph against its corpus: give it an empty database", bus.RedactURL(cfg.Neo4j.URI), n)
	}
	return nil
}

// runChanged replaces the corpus in o.dir/input with the one o describes
// (the same paths, other contents), ingests it into the data the first run
// left and measures; the peak RSS is this run's.
func runChanged(ctx context.Context, e env, o benchOptions) (benchResult, error) {
	var res benchResult
	input, next := filepath.Join(o.dir, "input"), filepath.Join(o.dir, "input.next")
	start := time.Now()
	gen, err := corpusgen.Generate(next, o.corpus)
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	if err := errors.Join(os.RemoveAll(input), os.Rename(next, input)); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	res.gen, res.genTook = gen, time.Since(start)
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM (Linux)
	return measure(ctx, e, o, res)
}

// measure ingests o.dir/input into o.dir/data and inspects the result.
func measure(ctx context.Context, e env, o benchOptions, res benchResult) (benchResult, error) {
	input, data := filepath.Join(o.dir, "input"), filepath.Join(o.dir, "data")
	var err error

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return res, fmt.Errorf("bench: cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, fmt.Errorf("bench: cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	sampler := startRSSSampler(250*time.Millisecond, o.memProfile != "")
	args := append([]string{"ingest", "--quiet", "--data", data}, o.ingestArgs...)
	args = append(args, "--", input)
	var out bytes.Buffer
	user0, sys0, cpuKnown := processCPU()
	start := time.Now()
	err = run(ctx, args, &out, e.stderr, e.getenv)
	res.took = time.Since(start)
	if user1, sys1, ok := processCPU(); cpuKnown && ok {
		res.cpuUser, res.cpuSystem, res.cpuKnown = user1-user0, sys1-sys0, true
	}
	res.rssSamples = sampler.stop()
	res.goSamples = sampler.goSamples
	res.goAtPeak = sampler.goAtPeak
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, fmt.Errorf("bench: ingest: %w\n%s", err, out.String())
	}
	if res.peakRSS, err = peakRSS(); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	if o.memProfile != "" {
		if err := os.WriteFile(o.memProfile, sampler.heap, 0o644); err != nil {
			return res, fmt.Errorf("bench: memprofile: %w", err)
		}
	}
	if err := res.inspect(ctx, e, data, o.ingestArgs); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	return res, nil
}

// inspect reads the stream counts and the graph left in data, and checks
// the graph against the corpus's ground truth.
func (r *benchResult) inspect(ctx context.Context, e env, data string, ingestArgs []string) error {
	cfg, err := benchConfig(e, data, ingestArgs)
	if err != nil {
		return err
	}
	cfg.Log.Level = "error"
	r.chunkSize, r.chunkOverlap = cfg.Parser.ChunkSize, cfg.Parser.ChunkOverlap
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	lock, err := lockData(cfg, "bench", true, false)
	if err != nil {
		return err
	}
	defer lock.Close()
	s, err := startSystem(ctx, cfg, log, systemOptions{})
	if err != nil {
		return err
	}
	defer s.close()
	if err := recordNATS(lock, s, "bench"); err != nil {
		return err
	}
	r.streams = map[string]uint64{}
	names := s.js.StreamNames(ctx)
	for name := range names.Name() {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return fmt.Errorf("stream %s: %w", name, err)
		}
		r.streams[name] = info.State.Msgs
		if slices.ContainsFunc(bus.Streams, func(sp bus.StreamSpec) bool { return sp.Name == name }) {
			r.messages += info.State.Msgs
		} else if name == "OBJ_"+bus.BucketFiles {
			r.objects += info.State.Msgs
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("streams: %w", err)
	}
	st, err := openStore(ctx, cfg, nil, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if r.graph, err = st.Stats(ctx); err != nil {
		return err
	}
	r.mismatches = compareGraph(r.gen, r.graph)
	return nil
}

// compareGraph lists where the graph differs from the corpus's counts.
func compareGraph(want corpusgen.Stats, got graph.Stats) []string {
	var out []string
	for _, l := range sortedKeys(want.Nodes) {
		if g := got.Nodes[l]; g != int64(want.Nodes[l]) {
			out = append(out, fmt.Sprintf("%s nodes: got %d, want %d", l, g, want.Nodes[l]))
		}
	}
	for _, t := range sortedKeys(want.Relationships) {
		if g := got.Relationships[t]; g != int64(want.Relationships[t]) {
			out = append(out, fmt.Sprintf("%s relationships: got %d, want %d", t, g, want.Relationships[t]))
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (r benchResult) docsPerSecond() float64 { return float64(r.gen.Files) / r.took.Seconds() }

func (r benchResult) messagesPerSecond() float64 {
	return float64(r.messages) / r.took.Seconds()
}

func (r benchResult) print(w io.Writer) {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	fmt.Fprintf(w, "corpus:     %d documents + %d spreadsheets, %s, generated in %s\n",
		r.gen.Documents, r.gen.Files-r.gen.Documents, mb(r.gen.Bytes), r.genTook.Round(time.Millisecond))
	fmt.Fprintf(w, "ingest:     %d files in %s: %.0f files/s, %.1f MB/s\n", r.gen.Files,
		r.took.Round(time.Millisecond), r.docsPerSecond(), float64(r.gen.Bytes)/(1<<20)/r.took.Seconds())
	if r.cpuKnown {
		cpu := r.cpuUser + r.cpuSystem
		fmt.Fprintf(w, "cpu:        %s (user %s, system %s): %.2f ms per file, %.1f cores busy\n",
			cpu.Round(10*time.Millisecond), r.cpuUser.Round(10*time.Millisecond), r.cpuSystem.Round(10*time.Millisecond),
			float64(cpu.Microseconds())/1000/float64(r.gen.Files), cpu.Seconds()/r.took.Seconds())
	}
	fmt.Fprintf(w, "chunks:     %d (parser.chunk_size %d, parser.chunk_overlap %d)\n", r.graph.Nodes[graph.LabelChunk], r.chunkSize, r.chunkOverlap)
	fmt.Fprintf(w, "messages:   %d through JetStream: %.0f msgs/s (+ %d object-store chunks)\n",
		r.messages, r.messagesPerSecond(), r.objects)
	for _, name := range sortedKeys(r.streams) {
		fmt.Fprintf(w, "  %-22s %d\n", name, r.streams[name])
	}
	fmt.Fprintf(w, "peak RSS:   %s (VmHWM; Go runtime %s at the highest sample, the rest is DuckDB and C)", mb(r.peakRSS), mb(r.goAtPeak))
	if n := len(r.rssSamples); n >= 4 {
		quarters := func(xs []int64) string {
			return fmt.Sprintf("%s %s %s %s", mb(maxOf(xs[:n/4])), mb(maxOf(xs[n/4:n/2])), mb(maxOf(xs[n/2:3*n/4])), mb(maxOf(xs[3*n/4:])))
		}
		fmt.Fprintf(w, "; RSS by quarter of the run: %s", quarters(r.rssSamples))
		if len(r.goSamples) == n {
			fmt.Fprintf(w, " (Go runtime %s)", quarters(r.goSamples))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "expected:   %d mentions, %d text MANAGES pairs\n", r.gen.Mentions, r.gen.TextManages)
	_ = printStats(env{stdout: w}, r.graph)
	if len(r.mismatches) == 0 {
		fmt.Fprintln(w, "graph matches the corpus's node and relationship counts")
	}
}

func maxOf(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

// peakRSS reads the process's peak resident set size (VmHWM).
func peakRSS() (int64, error) { return procStatus("VmHWM") }

// procStatus reads a kB field of /proc/self/status, in bytes.
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", field, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", field, err)
		}
		return n << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", field, err)
	}
	return 0, fmt.Errorf("read %s: not in /proc/self/status", field)
}

// rssSampler records VmRSS periodically, to show whether memory stays flat.
type rssSampler struct {
	done      chan struct{}
	wg        sync.WaitGroup
	samples   []int64
	goSamples []int64 // goMemory at each sample
	heap      []byte  // heap profile at the highest RSS sampled
	// goAtPeak is the memory the Go runtime held (mapped minus released)
	// at the highest RSS sampled.
	goAtPeak int64
}

// goMemory returns the memory the Go runtime holds from the OS.
func goMemory() int64 {
	m := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(m)
	return int64(m[0].Value.Uint64() - m[1].Value.Uint64()) //nolint:gosec // far below 2^63
}

// startRSSSampler samples the RSS every interval; with heapAtPeak it also
// keeps a heap profile taken whenever the RSS reaches a new high, so that
// the profile shows what was live at the peak rather than after the run.
func startRSSSampler(every time.Duration, heapAtPeak bool) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		var high int64
		for {
			if n, err := procStatus("VmRSS"); err == nil {
				g := goMemory()
				s.samples = append(s.samples, n)
				s.goSamples = append(s.goSamples, g)
				if n > high {
					high = n
					s.goAtPeak = g
				}
				if heapAtPeak && n == high {
					var buf bytes.Buffer
					if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
						s.heap = buf.Bytes()
					}
				}
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) stop() []int64 {
	close(s.done)
	s.wg.Wait()
	return s.samples
}
