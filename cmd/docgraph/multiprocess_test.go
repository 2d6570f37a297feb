package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
)

// Multi-process tests: every stage runs as its own `docgraph worker`
// process against a NATS server the test owns, and the test kills workers,
// restarts NATS or runs replicas. Each ends with the exact graph of a clean
// single-process ingest and with every message accounted for.

const (
	multiDocs = 300
	// A publish caught in a leader election waits out its PubAck timeout
	// (30 s) before the input is retried: leave room for two of those.
	drainTimeout = 150 * time.Second
	// drainQuiet is how long the pipeline must stay drained to count as
	// done. One extractor replica re-extracts for all, but one that took
	// over the lease from a killed holder may repeat part of its refresh
	// (stale re-extractions, which the graph writer ignores) after the
	// mark; those come within a refresh, well inside this window.
	drainQuiet   = 3 * time.Second
	msgProcessed = `"msg":"message processed"`
)

// smallChunks are the parser settings of the multi-process tests' workers
// and of the single ingests their graphs are compared with: chunks of 1,000
// bytes give each document several, so that a stage killed after a given
// number of messages is killed with work left upstream and in its own
// input.
var smallChunks = []string{"--parser.chunk_size", "1000", "--parser.chunk_overlap", "150"}

// workerFlags are the flags every test worker gets: short ack waits and
// backoffs, so a killed worker's messages come back within seconds, and
// debug JSON logs, so the test can follow each message.
func workerFlags() []string {
	var a []string
	for _, s := range []string{"parser", "extractor", "graph_writer"} {
		a = append(a, "--stages."+s+".ack_wait", "3s", "--stages."+s+".backoff", "200ms,1s")
	}
	a = append(a, smallChunks...)
	return append(a, "--metrics-addr", "", "--log-format", "json", "--log-level", "debug",
		"--parser.read_timeout", "10s", "--extractor.refresh_delay", "50ms", "--watch.settle", "100ms", "--watch.rescan", "5s", "--shutdown_timeout", "20s")
}

// deployment is a set of worker processes sharing one NATS.
type deployment struct {
	t       *testing.T
	urls    string   // --nats
	in      string   // the watched folder
	writer  string   // the graph writer's data dir, kept across restarts
	extra   []string // more flags for every worker
	workers []*worker
}

// worker is one `docgraph worker STAGE` process.
type worker struct {
	*proc
	stage   string
	args    []string
	killed  bool
	stopped bool // by stop, cleanly
}

func newDeployment(t *testing.T, urls, in string, extra ...string) *deployment {
	t.Helper()
	return &deployment{t: t, urls: urls, in: in, writer: t.TempDir(), extra: extra}
}

// start starts a worker of stage. The graph writer always uses the same
// data dir (its embedded graph lives there); other stages get their own.
func (d *deployment) start(stage string) *worker {
	d.t.Helper()
	data := d.writer
	if stage != bus.StageGraphWriter {
		data = d.t.TempDir()
	}
	args := append([]string{"worker", stage, "--nats", d.urls, "--data", data}, workerFlags()...)
	if stage == bus.StageWatcher {
		args = append(args, "--watch", d.in)
	}
	args = append(args, d.extra...)
	return d.run(stage, args)
}

func (d *deployment) run(stage string, args []string) *worker {
	d.t.Helper()
	w := &worker{proc: startProc(d.t, args...), stage: stage, args: args}
	d.workers = append(d.workers, w)
	return w
}

// restart starts w's command again (same data dir).
func (d *deployment) restart(w *worker) *worker {
	d.t.Helper()
	return d.run(w.stage, w.args)
}

// startAll starts one worker per consuming stage and waits until they are
// ready; the watcher is started by the caller, when the test wants the
// files to flow.
func (d *deployment) startAll(extractors int) []*worker {
	d.t.Helper()
	ws := []*worker{d.start(bus.StageGraphWriter)}
	for range extractors {
		ws = append(ws, d.start(bus.StageExtractor))
	}
	ws = append(ws, d.start(bus.StageParser))
	for _, w := range ws {
		w.waitReady(d.t)
	}
	return ws
}

func (w *worker) waitReady(t *testing.T) {
	t.Helper()
	deadline, tick := time.After(60*time.Second), time.NewTicker(20*time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(w.log(), `"msg":"all stages ready"`) {
		if done, err := w.exited(); done {
			t.Fatalf("worker %s exited before it was ready: %v\n%s", w.stage, err, tail(w.log(), 30))
		}
		select {
		case <-deadline:
			t.Fatalf("worker %s not ready within 60s:\n%s", w.stage, tail(w.log(), 30))
		case <-tick.C:
		}
	}
}

// exited reports whether the process has ended, with its error.
func (w *worker) exited() (bool, error) {
	select {
	case err := <-w.done:
		w.done <- err
		return true, err
	default:
		return false, nil
	}
}

// kill sends SIGKILL and waits for the process to end.
func (w *worker) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGKILL))
	err := <-w.done
	w.done <- err
	w.killed = true
}

// stop sends SIGTERM and requires a clean exit.
func (w *worker) stop(t *testing.T) {
	t.Helper()
	if w.killed || w.stopped {
		return
	}
	if done, err := w.exited(); done {
		t.Fatalf("worker %s exited early: %v\n%s", w.stage, err, tail(w.log(), 30))
	}
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-w.done:
		w.done <- err
		require.NoError(t, err, "worker %s exit after SIGTERM\n%s", w.stage, tail(w.log(), 30))
		w.stopped = true
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s: no exit 60s after SIGTERM\n%s", w.stage, tail(w.log(), 30))
	}
}

// logRecords returns the JSON log lines of logs whose msg is msg, decoded.
func logRecords(logs, msg string) []map[string]any {
	var out []map[string]any
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// countLines counts the log lines containing every one of parts.
func countLines(logs string, parts ...string) int {
	n := 0
	for line := range strings.Lines(logs) {
		all := true
		for _, p := range parts {
			if !strings.Contains(line, p) {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

// processed counts the messages this worker has finished (acked).
func (w *worker) processed() int {
	return countLines(w.log(), msgProcessed, `"stage":"`+w.stage+`"`)
}

// waitProcessed waits until w has processed n messages (for the watcher:
// published n files).
func (w *worker) waitProcessed(t *testing.T, n int) {
	t.Helper()
	waitUntil(t, 90*time.Second, func() error {
		if done, err := w.exited(); done {
			t.Fatalf("worker %s exited: %v\n%s", w.stage, err, tail(w.log(), 30))
		}
		got := w.processed()
		if w.stage == bus.StageWatcher {
			got = strings.Count(w.log(), `"msg":"file published"`)
		}
		if got < n {
			// The end of its log says where a stalled worker is.
			l := w.log()
			return fmt.Errorf("worker %s: %d of %d messages; above debug:\n%s\nits log ends:\n%s",
				w.stage, got, n, notable(l, 20), l[max(0, len(l)-3000):])
		}
		return nil
	})
}

// stopAll stops every live worker with SIGTERM.
func (d *deployment) stopAll() {
	d.t.Helper()
	for i := len(d.workers) - 1; i >= 0; i-- {
		d.workers[i].stop(d.t)
	}
}

// connect opens a test connection to the deployment's NATS.
func connect(t *testing.T, urls string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// pipelineState reads one consumer's and its stream's state.
func pipelineState(ctx context.Context, js jetstream.JetStream, c bus.ConsumerSpec) (*jetstream.ConsumerInfo, *jetstream.StreamInfo, error) {
	cons, err := js.Consumer(ctx, c.Stream, c.Durable)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer %s on %s: %w", c.Durable, c.Stream, err)
	}
	ci, err := cons.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer %s on %s: %w", c.Durable, c.Stream, err)
	}
	st, err := js.Stream(ctx, c.Stream)
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s: %w", c.Stream, err)
	}
	si, err := st.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s: %w", c.Stream, err)
	}
	return ci, si, nil
}

// drained reports why the pipeline is not done yet: files still to be
// published by the watcher, or a consumer with messages not yet delivered
// or acknowledged. Consumers are checked upstream first: a drained stage
// has stored all its outputs before acking its inputs.
func drained(ctx context.Context, js jetstream.JetStream, files int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, bus.StreamFiles)
	if err != nil {
		return fmt.Errorf("stream %s: %w", bus.StreamFiles, err)
	}
	si, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", bus.StreamFiles, err)
	}
	if si.State.Msgs < uint64(files) {
		return fmt.Errorf("watcher: %d of %d files published", si.State.Msgs, files)
	}
	// Names from spreadsheets re-extract chunks once the extractor has
	// gathered them (extractor.refresh_delay), after the pipeline may have
	// looked quiet: the refresh mark must have reached the gazetteer.
	book, err := gazetteer.Open(ctx, js, logging.Discard())
	if err != nil {
		return err
	}
	rev, err := book.LastRevision(ctx)
	if err != nil {
		return err
	}
	if rev > 0 {
		done, _, err := book.Refreshed(ctx)
		if err != nil {
			return err
		}
		if done < rev {
			return fmt.Errorf("extractor: gazetteer at revision %d, chunks re-extracted through %d", rev, done)
		}
	}
	for _, c := range bus.Consumers {
		ci, si, err := pipelineState(ctx, js, c)
		if err != nil {
			return err
		}
		if ci.NumPending > 0 || ci.NumAckPending > 0 || ci.Delivered.Stream < si.State.LastSeq || ci.AckFloor.Stream < si.State.LastSeq {
			return fmt.Errorf("consumer %s on %s: %d pending, %d unacked, %d redelivered, delivered %d, ack floor %d, last seq %d, %d pulls waiting",
				c.Durable, c.Stream, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.Delivered.Stream, ci.AckFloor.Stream, si.State.LastSeq, ci.NumWaiting)
		}
	}
	return nil
}

// waitDrained waits until the pipeline has stayed drained for drainQuiet,
// failing early when a worker that was not killed has exited. On failure
// it shows the end of every worker's log.
func (d *deployment) waitDrained(js jetstream.JetStream, files int) {
	d.t.Helper()
	start := time.Now()
	deadline, tick := time.After(drainTimeout), time.NewTicker(50*time.Millisecond)
	defer tick.Stop()
	var since time.Time // when the pipeline was last found drained after it was not
	for quiet := false; !quiet || time.Since(since) < drainQuiet; {
		for _, w := range d.workers {
			if done, err := w.exited(); done && !w.killed && !w.stopped {
				d.t.Fatalf("worker %s exited: %v\n%s", w.stage, err, tail(w.log(), 30))
			}
		}
		err := drained(d.t.Context(), js, files)
		switch {
		case err != nil:
			quiet = false
		case !quiet:
			quiet, since = true, time.Now()
		}
		select {
		case <-deadline:
			var b strings.Builder
			for _, w := range d.workers {
				fmt.Fprintf(&b, "\n--- %s (killed %t), above debug:\n%s\n--- its last lines:\n%s\n",
					w.stage, w.killed, notable(w.log(), 20), tail(w.log(), 8))
			}
			d.t.Fatalf("not drained within %s: %v%s", drainTimeout, err, b.String())
		case <-tick.C:
		}
	}
	d.t.Logf("drained %d files in %s", files, time.Since(start).Round(time.Millisecond))
}

// checkAccounting checks that every message of every stage is accounted
// for: each consumer delivered its whole stream and every delivered
// message was acked (dead letters are terms, so acks too) with nothing
// pending; the dead-letter stream is empty; and the workers' logs report
// each stream sequence processed. A SIGKILLed worker may have acked its
// last message without writing the log line, so each killed runner may
// leave one sequence unlogged.
func (d *deployment) checkAccounting(js jetstream.JetStream, files int) {
	d.t.Helper()
	ctx := d.t.Context()
	killed := map[string]int{}
	for _, w := range d.workers {
		if w.killed {
			killed[w.stage]++
		}
	}
	for _, c := range bus.Consumers {
		ci, si, err := pipelineState(ctx, js, c)
		require.NoError(d.t, err)
		last := si.State.LastSeq
		assert.Equal(d.t, last, si.State.Msgs, "stream %s keeps every message", c.Stream)
		assert.Equal(d.t, last, ci.Delivered.Stream, "consumer %s on %s delivered the whole stream", c.Durable, c.Stream)
		assert.Equal(d.t, last, ci.AckFloor.Stream, "consumer %s on %s acked the whole stream", c.Durable, c.Stream)
		assert.Zero(d.t, ci.NumAckPending, "consumer %s on %s: unacked", c.Durable, c.Stream)
		assert.Zero(d.t, ci.NumPending, "consumer %s on %s: pending", c.Durable, c.Stream)
		// A worker logs a message just after acking it: give the last
		// lines a moment to reach its log.
		var logged map[uint64]bool
		waitUntil(d.t, 10*time.Second, func() error {
			logged = d.loggedSeqs(c.Stream)
			var missing []uint64
			for seq := uint64(1); seq <= last; seq++ {
				if !logged[seq] {
					missing = append(missing, seq)
				}
			}
			if len(missing) > killed[c.Stage] {
				return fmt.Errorf("%s on %s: sequences no worker logged as processed: %v", c.Stage, c.Stream, head64(missing))
			}
			return nil
		})
		for seq := range logged {
			assert.LessOrEqual(d.t, seq, last, "%s logged a sequence beyond %s", c.Stage, c.Stream)
		}
		d.t.Logf("%s on %s: %d messages, %d deliveries", c.Durable, c.Stream, last, ci.Delivered.Consumer)
	}
	assert.Empty(d.t, d.deadLettered(), "dead-lettered messages")
	st, err := js.Stream(ctx, bus.StreamFiles)
	require.NoError(d.t, err)
	si, err := st.Info(ctx)
	require.NoError(d.t, err)
	assert.Equal(d.t, uint64(files), si.State.Msgs, "one file event per file (republished ones are dropped as duplicates)")
	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	require.NoError(d.t, err)
	di, err := dlq.Info(ctx)
	require.NoError(d.t, err)
	assert.Zero(d.t, di.State.Msgs, "dead letters")
}

// workerLine is what checkAccounting reads of a worker's JSON log line.
type workerLine struct {
	Msg     string `json:"msg"`
	Stage   string `json:"stage"`
	Subject string `json:"subject"`
	Seq     uint64 `json:"stream_seq"`
	Err     string `json:"err"`
}

// eachLine calls fn with every line of the workers' logs that their own
// stage wrote.
func (d *deployment) eachLine(fn func(workerLine)) {
	for _, w := range d.workers {
		sc := bufio.NewScanner(strings.NewReader(w.log()))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var l workerLine
			if json.Unmarshal(sc.Bytes(), &l) != nil || l.Stage != w.stage {
				continue
			}
			fn(l)
		}
	}
}

// loggedSeqs is the set of sequences of stream that a worker logged as
// processed (or dead-lettered).
func (d *deployment) loggedSeqs(stream string) map[uint64]bool {
	seqs := map[uint64]bool{}
	d.eachLine(func(l workerLine) {
		if (l.Msg == "message processed" || l.Msg == "message dead-lettered") && bus.StreamOf(l.Subject) == stream {
			seqs[l.Seq] = true
		}
	})
	return seqs
}

// deadLettered lists the messages the workers logged as dead-lettered:
// stage, subject, sequence and error.
func (d *deployment) deadLettered() []string {
	var out []string
	d.eachLine(func(l workerLine) {
		if l.Msg == "message dead-lettered" {
			out = append(out, fmt.Sprintf("%s %s #%d: %s", l.Stage, l.Subject, l.Seq, l.Err))
		}
	})
	return out
}

func head64(s []uint64) []uint64 {
	if len(s) > 10 {
		return s[:10]
	}
	return s
}

// finish waits for the pipeline to drain, checks the accounting, stops
// every worker and returns the graph writer's export.
func (d *deployment) finish(js jetstream.JetStream, files int, exportFlags ...string) string {
	d.t.Helper()
	d.waitDrained(js, files)
	d.checkAccounting(js, files)
	d.stopAll()
	return mustDocgraph(d.t, append([]string{"graph", "export", "--data", d.writer, "--format", "json"}, exportFlags...)...)
}

// corpusFixture is a generated folder and the export of a clean
// single-process ingest of it.
type corpusFixture struct {
	in    string
	files int
	want  string
}

func newCorpusFixture(t *testing.T, docs int) corpusFixture {
	t.Helper()
	in := t.TempDir()
	writeDocs(t, in, docs)
	clean := t.TempDir()
	mustDocgraph(t, append(ingestArgs(clean, in), smallChunks...)...)
	want := mustDocgraph(t, "graph", "export", "--data", clean, "--format", "json")
	require.Contains(t, want, "ISO-", "the corpus has mentions")
	return corpusFixture{in: in, files: docs, want: want}
}

// testNATS is a nats-server the test owns, on a fixed port and store so it
// can be restarted.
type testNATS struct {
	ns   *server.Server
	dir  string
	port int
}

func startTestNATS(t *testing.T) *testNATS {
	t.Helper()
	n := &testNATS{dir: t.TempDir()}
	n.start(t)
	n.port = n.ns.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.shutdown)
	return n
}

func (n *testNATS) start(t *testing.T) {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: n.dir, Port: n.port, ServerName: "docgraph-test"}, logging.Discard())
	require.NoError(t, err)
	n.ns = ns
}

func (n *testNATS) shutdown() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
		n.ns = nil
	}
}

func (n *testNATS) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// requireMidWork checks, right after a kill, that the killed stage still
// had work: the kill hit a running pipeline, not a finished one.
func requireMidWork(t *testing.T, js jetstream.JetStream, stage string, files int) {
	t.Helper()
	err := drained(t.Context(), js, files)
	require.Error(t, err, "the pipeline was already drained when %s was killed", stage)
	t.Logf("killed %s mid-work: %v", stage, err)
}

func TestKillWorkerMidWork(t *testing.T) {
	type killCase struct {
		stage string
		after int  // messages (files for the watcher) the victim processes first
		neo4j bool // graph writer on Neo4j
	}
	tests := []killCase{
		{stage: bus.StageParser, after: 20},
		{stage: bus.StageExtractor, after: 150},
		{stage: bus.StageGraphWriter, after: 150},
		{stage: bus.StageWatcher, after: 30},
		{stage: bus.StageGraphWriter, after: 150, neo4j: true},
	}
	fx := newCorpusFixture(t, multiDocs)
	for _, tt := range tests {
		name := tt.stage
		if tt.neo4j {
			name += " on neo4j"
		}
		t.Run(name, func(t *testing.T) {
			store := []string{"--graph.store", "duckdb"}
			var export []string
			if tt.neo4j {
				neo := neo4jArgs(t)
				store = append([]string{"--graph.store", "neo4j"}, neo...)
				export = neo
			}
			n := startTestNATS(t)
			js := connect(t, n.url())
			d := newDeployment(t, n.url(), fx.in, store...)
			ws := d.startAll(1)
			watcher := d.start(bus.StageWatcher)
			victim := watcher
			for _, w := range ws {
				if w.stage == tt.stage {
					victim = w
				}
			}
			victim.waitProcessed(t, tt.after)
			victim.kill(t)
			requireMidWork(t, js, tt.stage, fx.files)
			d.restart(victim).waitReady(t)

			got := d.finish(js, fx.files, export...)
			require.Equal(t, fx.want, got, "graph after killing %s", tt.stage)
		})
	}
}

func TestRestartNATSMidIngest(t *testing.T) {
	fx := newCorpusFixture(t, multiDocs)
	n := startTestNATS(t)
	js := connect(t, n.url())
	d := newDeployment(t, n.url(), fx.in, "--graph.store", "duckdb")
	ws := d.startAll(1)
	d.start(bus.StageWatcher)
	extractor := ws[1]
	extractor.waitProcessed(t, 100)

	n.shutdown()
	requireLogged := func(msg string) {
		t.Helper()
		for _, w := range d.workers {
			w.waitLog(t, 30*time.Second, msg, 1)
		}
	}
	requireLogged(`"msg":"nats disconnected"`)
	before := extractor.processed()
	n.start(t)
	requireLogged(`"msg":"nats reconnected"`)
	got := d.finish(js, fx.files)
	assert.Greater(t, extractor.processed(), before, "the extractor went on after the restart")
	require.Equal(t, fx.want, got, "graph after restarting NATS")
}

func TestThreeExtractorReplicas(t *testing.T) {
	fx := newCorpusFixture(t, multiDocs)
	n := startTestNATS(t)
	js := connect(t, n.url())
	d := newDeployment(t, n.url(), fx.in, "--graph.store", "duckdb")
	ws := d.startAll(3)
	extractors := ws[1:4]
	d.start(bus.StageWatcher)
	for _, x := range extractors {
		x.waitProcessed(t, 20)
	}
	victim := extractors[1]
	victim.kill(t)
	requireMidWork(t, js, bus.StageExtractor, fx.files)
	got := d.finish(js, fx.files)
	counts := make([]int, len(extractors))
	for i, x := range extractors {
		counts[i] = x.processed()
		assert.Positive(t, counts[i], "extractor %d processed messages", i)
	}
	t.Logf("messages processed per extractor (the second killed): %v", counts)
	require.Equal(t, fx.want, got, "graph with three extractors, one killed")
}

// TestSecretsNeverLogged runs workers with NATS and Neo4j credentials and
// checks their debug logs and errors for the secret strings.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		natsUser = "docgraph"
		natsPass = "nats-S3cret-in-url"
		flagPass = "nats-S3cret-in-flag"
		neoPass  = "neo4j-S3cret-in-flag"
		badPass  = "wrong-S3cret-in-url"
	)
	secrets := []string{natsPass, flagPass, neoPass, badPass}
	ns := startServer(t, &server.Options{
		ServerName: "docgraph-auth", Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), Users: []*server.User{
			{Username: natsUser, Password: natsPass},
			{Username: "flaguser", Password: flagPass},
		},
	})
	addr := ns.Addr().(*net.TCPAddr)
	host := fmt.Sprintf("127.0.0.1:%d", addr.Port)
	// An address nothing listens on: the graph writer retries Neo4j and
	// logs each attempt.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadNeo4j := "bolt://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	common := []string{"--data", t.TempDir(), "--log-level", "debug", "--log-format", "json", "--metrics-addr", ""}

	tests := []struct {
		name    string
		args    []string
		wantLog string // a line showing the worker got far enough to log its secret, if it leaked
		wantIn  string // what the logs show instead
		wantErr bool   // the worker exits with an error
	}{
		{
			name:    "password in the NATS URL",
			args:    []string{"worker", "parser", "--nats", "nats://" + natsUser + ":" + natsPass + "@" + host},
			wantLog: "all stages ready",
			wantIn:  `"nats":"nats://` + natsUser + `:xxxxx@` + host,
		},
		{
			name:    "password flags for NATS and Neo4j",
			args:    []string{"worker", "graph-writer", "--nats", "nats://" + host, "--nats.user", "flaguser", "--nats.password", flagPass, "--neo4j", deadNeo4j, "--neo4j.password", neoPass},
			wantLog: "graph store unavailable; retrying",
		},
		{
			name:    "wrong password in the NATS URL",
			args:    []string{"worker", "extractor", "--nats", "nats://" + natsUser + ":" + badPass + "@" + host + ",nats://" + natsUser + ":" + natsPass + "@127.0.0.1:1"},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProc(t, append(tt.args, common...)...)
			var exitErr error
			if tt.wantErr {
				select {
				case exitErr = <-p.done:
					p.done <- exitErr
				case <-time.After(60 * time.Second):
					t.Fatalf("worker did not fail\n%s", tail(p.log(), 20))
				}
				require.Error(t, exitErr)
				assert.Contains(t, p.log(), "connect to nats at", "the error names the server")
			} else {
				p.waitLog(t, 60*time.Second, tt.wantLog, 1)
				require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
				select {
				case err := <-p.done:
					p.done <- err
				case <-time.After(60 * time.Second):
					t.Fatalf("no exit after SIGTERM\n%s", tail(p.log(), 20))
				}
			}
			logs := p.log()
			require.NotEmpty(t, logs)
			assert.Contains(t, logs, tt.wantIn)
			for _, s := range secrets {
				assert.NotContains(t, logs, s, "secret in the logs:\n%s", logs)
			}
		})
	}
}

// startServer starts a nats-server from opts (random port unless given,
// no signals, no logs) and shuts it down in t.Cleanup.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.NoSigs, opts.NoLog = true, true
	if opts.MaxPayload == 0 {
		opts.MaxPayload = 8 << 20
	}
	ns, err := server.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	require.True(t, ns.ReadyForConnections(30*time.Second), "nats-server %s not ready", opts.ServerName)
	return ns
}
