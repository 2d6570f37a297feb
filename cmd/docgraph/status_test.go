package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/datadir"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// stateOf returns the STATE column of `docgraph status` for stage on
// stream (the seven columns after it are counts and rates).
func stateOf(t *testing.T, url, stage, stream string) string {
	t.Helper()
	out := mustDocgraph(t, "status", "--nats", url)
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 7 && f[0] == stage && f[1] == stream {
			return strings.Join(f[2:len(f)-7], " ")
		}
	}
	t.Fatalf("no status line for %s on %s:\n%s", stage, stream, out)
	return ""
}

func TestStatusShowsWhatEachStageDoes(t *testing.T) {
	n := startTestNATS(t)
	js := connect(t, n.url())
	d := newDeployment(t, n.url(), t.TempDir())
	w := d.start(bus.StageGraphWriter)
	w.waitReady(t)
	// A worker's start line names what its stage uses: the graph writer
	// the graph, a parser neither the graph nor a watched folder.
	w.waitLog(t, 30*time.Second, `"msg":"docgraph running","stages":["graph-writer"],"nats":`, 1)
	assert.Contains(t, w.log(), `"graph":"duckdb"`)

	assert.Equal(t, "not started", stateOf(t, n.url(), bus.StageParser, bus.StreamFiles))
	p := d.start(bus.StageParser)
	p.waitLog(t, 30*time.Second, `"msg":"docgraph running","stages":["parser"],"nats":`, 1)
	assert.NotContains(t, p.log(), `"graph":`)
	assert.NotContains(t, p.log(), `"watch":`)
	p.stop(t)
	// The worker's first pull request reaches the server just after it
	// reports ready.
	waitForState(t, n.url(), bus.StageGraphWriter, bus.StreamExtractions, "pulling")

	// A paused stage (its dependency is down) says so, with the time left.
	_, err := js.PauseConsumer(t.Context(), bus.StreamExtractions, bus.StageGraphWriter, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Regexp(t, `^paused, (1h0m0s|59m\d+s) left$`, stateOf(t, n.url(), bus.StageGraphWriter, bus.StreamExtractions))
	_, err = js.ResumeConsumer(t.Context(), bus.StreamExtractions, bus.StageGraphWriter)
	require.NoError(t, err)

	// Without its worker, the stage waits for one.
	w.stop(t)
	waitForState(t, n.url(), bus.StageGraphWriter, bus.StreamExtractions, "no worker pulling")
}

// waitForState waits until `docgraph status` shows state for stage.
func waitForState(t *testing.T, url, stage, stream, state string) {
	t.Helper()
	waitUntil(t, 60*time.Second, func() error {
		if got := stateOf(t, url, stage, stream); got != state {
			return fmt.Errorf("state %q, want %q", got, state)
		}
		return nil
	})
}

// TestStatusCountsDeadLettersPerStream: the graph writer reads two streams;
// each of its rows counts the dead letters of its own stream, so that the
// column adds up to what 'dlq list' lists.
func TestStatusCountsDeadLettersPerStream(t *testing.T) {
	n := startTestNATS(t)
	mustDocgraph(t, "status", "--nats", n.url()) // creates the streams
	js := connect(t, n.url())
	for i, subject := range []string{event.SubjectExtraction, event.SubjectRecords, event.SubjectRecords} {
		in := pipeline.MustMessage(subject, event.Records{})
		in.StreamSeq, in.Delivered = uint64(i+1), 1
		dl := pipeline.DeadLetter(bus.StageGraphWriter, bus.StreamOf(subject), in, errors.New("bad input"), pipeline.ClassPermanent)
		_, err := js.PublishMsg(t.Context(), dl)
		require.NoError(t, err)
	}

	out := mustDocgraph(t, "status", "--nats", n.url())
	deadLettered := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 7 && f[0] == bus.StageGraphWriter {
			deadLettered[f[1]] = f[len(f)-4]
		}
	}
	assert.Equal(t, map[string]string{bus.StreamExtractions: "1", bus.StreamRecords: "2"}, deadLettered, out)
}

// TestStatusCountsOnlyCurrentDeadLetters: a dead letter of any stage
// whose file has had a newer version since says nothing about the file as
// it is: it is counted apart, as 'dlq list' leaves it out.
func TestStatusCountsOnlyCurrentDeadLetters(t *testing.T) {
	n := startTestNATS(t)
	mustDocgraph(t, "status", "--nats", n.url()) // creates the streams
	js := connect(t, n.url())
	publishFile := func(path string) uint64 {
		ev := event.FileDiscovered{Path: path, Size: 3, SHA256: "abc", ModTime: "2024-01-01T00:00:00Z", Object: "obj-" + path}
		m := pipeline.MustMessage(event.SubjectFileDiscovered, ev)
		ack, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
		require.NoError(t, err)
		return ack.Sequence
	}
	deadLetter := func(path string, version uint64) {
		in := pipeline.MustMessage(event.SubjectRecords, event.Records{Source: event.NewDocument(path, "abc", 3, version), Final: true})
		in.StreamSeq, in.Delivered = version, 1
		dl := pipeline.DeadLetter(bus.StageGraphWriter, bus.StreamRecords, in, errors.New("too large to index"), pipeline.ClassPermanent)
		_, err := js.PublishMsg(t.Context(), dl)
		require.NoError(t, err)
	}
	deadLetter("teams.csv", publishFile("teams.csv"))
	deadLetter("people.csv", publishFile("people.csv"))
	publishFile("teams.csv") // fixed

	out := mustDocgraph(t, "status", "--nats", n.url())
	var records string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 7 && f[0] == bus.StageGraphWriter && f[1] == bus.StreamRecords {
			records = f[len(f)-4]
		}
	}
	assert.Equal(t, "1", records, out)
	assert.Contains(t, out, "(1 more dead letter superseded by a later version of the file", out)
	assert.Equal(t, "people.csv", strings.Fields(strings.Split(mustDocgraph(t, "dlq", "list", "--nats", n.url()), "\n")[1])[4])
}

// TestStatusOfAStoppedSystemHasNoWorkerPulling: messages a stopped process
// held stay in flight until their ack wait passes; status on the data
// (nothing runs there) must not call the stage "pulling" for them.
func TestStatusOfAStoppedSystemHasNoWorkerPulling(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, in+"/a.md", "# a\n\nAACE-101.\n")
	mustDocgraph(t, ingestArgs(data, in)...)
	withSystem(t, data, func(s *system) {
		publishRaw(t, s.js, event.SubjectFileDiscovered, []byte(`{}`), nil)
		cons, err := s.js.Consumer(t.Context(), bus.StreamFiles, bus.StageParser)
		require.NoError(t, err)
		batch, err := cons.Fetch(1) // and never acked: the process stops
		require.NoError(t, err)
		for range batch.Messages() {
		}
		require.NoError(t, batch.Error())
	})

	out, errOut, err := docgraph(t, "status", "--data", data, "--nats.listen", "off")
	require.NoError(t, err, errOut)
	assert.Contains(t, errOut, "note: no docgraph is running on "+data+"; its stages pull again when 'docgraph up' or 'ingest' runs there")
	var row []string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 7 && f[0] == bus.StageParser {
			row = f
		}
	}
	require.NotNil(t, row, out)
	assert.Equal(t, "no worker pulling", strings.Join(row[2:len(row)-7], " "), out)
	assert.Equal(t, "1", row[len(row)-6], "in flight: %s", out)
	assert.Equal(t, []string{"-", "-"}, row[len(row)-2:], "nothing moves on the data's own server: %s", out)
	// The store is measured against the server's limit: this process runs
	// the data's NATS.
	assert.Regexp(t, `JetStream store: [\d.]+ (KiB|MiB) used of [\d.]+ [KMGTP]iB \(server limit\), \d+%`, out)
}

// TestOperatorCommandsLeaveStreamConfigAlone: 'docgraph status' (like every
// operator command) run without the system's stream settings must not
// rewrite them: its default max_age would delete the history a longer one
// keeps for replay.
func TestOperatorCommandsLeaveStreamConfigAlone(t *testing.T) {
	n := startTestNATS(t)
	js := connect(t, n.url())
	topo := bus.DefaultTopology()
	topo.MaxAge = 720 * time.Hour
	require.NoError(t, bus.Provision(t.Context(), js, topo))

	mustDocgraph(t, "status", "--nats", n.url())
	mustDocgraph(t, "dlq", "list", "--nats", n.url())
	st, err := js.Stream(t.Context(), bus.StreamFiles)
	require.NoError(t, err)
	assert.Equal(t, 720*time.Hour, st.CachedInfo().Config.MaxAge)
}

// Messages that expired from a stage's input stream before the stage
// received them are named by status, with where to read what to do.
func TestStatusNamesMessagesMissed(t *testing.T) {
	n, js, cons := parserConsumer(t)
	for range 3 {
		_, err := js.Publish(t.Context(), event.SubjectFileDiscovered, []byte("{}"))
		require.NoError(t, err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	require.NoError(t, err)
	for m := range batch.Messages() {
		require.NoError(t, m.DoubleAck(t.Context()))
	}
	assert.NotContains(t, mustDocgraph(t, "status", "--nats", n.url()), "left DOCGRAPH_FILES")

	// The two others expire before the parser gets them.
	st, err := js.Stream(t.Context(), bus.StreamFiles)
	require.NoError(t, err)
	cfg := st.CachedInfo().Config
	cfg.MaxAge, cfg.Duplicates = time.Second, time.Second
	_, err = js.UpdateStream(t.Context(), cfg)
	require.NoError(t, err)
	waitUntil(t, 30*time.Second, func() error {
		out := mustDocgraph(t, "status", "--nats", n.url())
		if !strings.Contains(out, `parser: 2 messages left DOCGRAPH_FILES before the stage received them (the stream's max age or size limit): the graph lacks what they carried; see "Messages missed" in deployments/README.md`) {
			return fmt.Errorf("status does not name the missed messages:\n%s", out)
		}
		return nil
	})
}

// status measures the JetStream store against the account's limit where
// the account has one, and warns of a stream whose max bytes is nearly
// reached: from then on each new message discards its oldest.
func TestStatusMeasuresTheStoreAgainstItsLimits(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	writeFile(t, conf, fmt.Sprintf(`listen: 127.0.0.1:-1
jetstream { store_dir: %q }
accounts { DOCGRAPH { jetstream { max_file: 4MiB, max_mem: 0 }, users: [{user: dg, password: dg-pw}] } }
`, t.TempDir()))
	opts, err := server.ProcessConfigFile(conf)
	require.NoError(t, err)
	opts.NoLog, opts.NoSigs = true, true
	ns, err := server.NewServer(opts)
	require.NoError(t, err)
	go ns.Start()
	require.True(t, ns.ReadyForConnections(10*time.Second))
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()

	nc, err := nats.Connect(url, nats.UserInfo("dg", "dg-pw"))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	topo := bus.DefaultTopology()
	topo.MaxBytes = 256 << 10
	require.NoError(t, bus.Provision(t.Context(), js, topo))
	for i := range 30 {
		publishRaw(t, js, event.SubjectFileDiscovered, append([]byte(fmt.Sprint(i)), make([]byte, 8<<10)...), nil)
	}

	out := mustDocgraph(t, "status", "--nats", url, "--nats.user", "dg", "--nats.password", "dg-pw")
	assert.Regexp(t, `JetStream store: [\d.]+ (KiB|MiB) used of 4\.0 MiB \(account limit\), \d+%`, out)
	assert.Regexp(t, `DOCGRAPH_FILES\s+30\s+\d+\s+30\s+256\.0 KiB \(9\d%\)\s+168h0m0s`, out)
	assert.Contains(t, out, "warning: DOCGRAPH_FILES holds 9")
	assert.Contains(t, out, "of its max bytes: each new message now discards the oldest, which a stage behind would miss")
	assert.NotContains(t, out, "warning: the JetStream store")
}

// status on the data of a running up measures the store against the limit
// of its embedded server, which the up records in the data directory; an
// up of an earlier version did not, and its server's limit is unknown, not
// absent.
func TestStatusOnAnUpThatDidNotRecordItsStoreLimit(t *testing.T) {
	tests := []struct {
		name     string
		maxStore int64
		want     string
	}{
		{"recorded", 1 << 30, `JetStream store: [\d.]+ (B|KiB) used of 1\.0 GiB \(server limit\), \d+%`},
		{"not recorded", 0, `JetStream store: [\d.]+ (B|KiB) used \(limit unknown: docgraph up \(pid \d+\), of an earlier version, ` +
			`did not record its embedded server's limit, nats.max_store; restart it with this version to see the limit here\)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := startTestNATS(t)
			require.NoError(t, bus.Provision(t.Context(), connect(t, n.url()), bus.DefaultTopology()))
			data := t.TempDir()
			lock, err := datadir.Acquire(data, datadir.Owner{Command: "up", NATS: n.url(), MaxStore: tt.maxStore})
			require.NoError(t, err)
			t.Cleanup(func() { assert.NoError(t, lock.Close()) })

			out := mustDocgraph(t, "status", "--data", data)
			assert.Regexp(t, tt.want, out)
			assert.NotContains(t, out, "no account limit")
		})
	}
}

func TestSizeAndPercent(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		50 << 30: "50.0 GiB", 3 << 40: "3.0 TiB", 5 << 50: "5.0 PiB", 2048 << 50: "2048.0 PiB"} {
		assert.Equal(t, want, sizeOf(n), "%d bytes", n)
	}
	assert.Equal(t, "99%", percentOf(999, 1000), "not yet all used")
	assert.Equal(t, "100%", percentOf(1000, 1000))
	assert.Equal(t, "-", percentOf(1, 0))
	assert.True(t, storeUse{used: 90, limit: 100}.nearlyFull())
	assert.False(t, storeUse{used: 89, limit: 100}.nearlyFull())
	assert.False(t, storeUse{used: 1 << 40}.nearlyFull(), "no known limit")
}

// statusRow returns the fields of the status line of stage on stream.
func statusRow(t *testing.T, out, stage, stream string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 7 && f[0] == stage && f[1] == stream {
			return f
		}
	}
	t.Fatalf("no status line for %s on %s:\n%s", stage, stream, out)
	return nil
}

// TestStatusMeasuresRates: while a stage works, status looks twice and
// shows the messages it acked per second and how long what it holds takes
// at that rate; idle, or with --rate-window 0, it looks once and shows
// no rate.
func TestStatusMeasuresRates(t *testing.T) {
	n, js, cons := parserConsumer(t)

	row := statusRow(t, mustDocgraph(t, "status", "--nats", n.url()), bus.StageParser, bus.StreamFiles)
	assert.Equal(t, []string{"-", "-"}, row[len(row)-2:], "idle: no rate")
	row = statusRow(t, mustDocgraph(t, "status", "--nats", n.url()), bus.StageExtractor, bus.StreamChunks)
	assert.Equal(t, []string{"not", "started", "-", "-", "-", "0", "-", "-", "-"}, row[2:])

	const total = 3000
	for i := range total {
		publishRaw(t, js, event.SubjectFileDiscovered, fmt.Appendf(nil, `{"n":%d}`, i), nil)
	}
	// A worker acking about 200 messages a second, one at a time, until
	// the test ends: the stream holds more than it acks meanwhile.
	done := make(chan struct{})
	stopped := make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				stopped <- nil
				return
			case <-tick.C:
			}
			batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				stopped <- err
				return
			}
			for m := range batch.Messages() {
				if err := m.DoubleAck(t.Context()); err != nil {
					stopped <- err
					return
				}
			}
		}
	}()
	defer func() {
		close(done)
		require.NoError(t, <-stopped)
	}()
	waitUntil(t, 30*time.Second, func() error {
		info, err := cons.Info(t.Context())
		if err != nil || info.AckFloor.Consumer == 0 {
			return fmt.Errorf("no message acked yet (%v)", err)
		}
		return nil
	})

	out := mustDocgraph(t, "status", "--nats", n.url(), "--rate-window", "500ms")
	row = statusRow(t, out, bus.StageParser, bus.StreamFiles)
	rate, err := strconv.ParseFloat(row[len(row)-2], 64)
	require.NoError(t, err, out)
	assert.Greater(t, rate, 0.0, out)
	assert.Less(t, rate, float64(total), out)
	eta, err := time.ParseDuration(row[len(row)-1])
	require.NoError(t, err, out)
	assert.Positive(t, eta, out)
	assert.Contains(t, out, "ACKED/S")

	// The same report for scripts.
	var rep statusReport
	require.NoError(t, json.Unmarshal([]byte(mustDocgraph(t, "status", "--nats", n.url(), "--rate-window", "500ms", "--json")), &rep))
	require.Len(t, rep.Stages, len(bus.Consumers))
	parser, extractor := rep.Stages[0], rep.Stages[1]
	assert.Equal(t, bus.StageParser, parser.Stage)
	require.NotNil(t, parser.Pending)
	assert.Positive(t, *parser.Pending)
	require.NotNil(t, parser.AckedPerSecond)
	assert.Positive(t, *parser.AckedPerSecond)
	require.NotNil(t, parser.ETASeconds)
	assert.Positive(t, *parser.ETASeconds)
	assert.Equal(t, statusStage{Stage: bus.StageExtractor, Stream: bus.StreamChunks, State: "not started"}, extractor, "no counts for a stage not started")
	var files *statusStream
	for i := range rep.Streams {
		if rep.Streams[i].Name == bus.StreamFiles {
			files = &rep.Streams[i]
		}
	}
	require.NotNil(t, files)
	assert.EqualValues(t, total, files.Messages)
	assert.Equal(t, 168*time.Hour, time.Duration(files.MaxAgeSeconds*float64(time.Second)))
	assert.Positive(t, rep.Store.Used)
	assert.Contains(t, rep.Store.Summary, "JetStream store: ")
	assert.NotNil(t, rep.Warnings)

	row = statusRow(t, mustDocgraph(t, "status", "--nats", n.url(), "--rate-window", "0"), bus.StageParser, bus.StreamFiles)
	assert.Equal(t, []string{"-", "-"}, row[len(row)-2:], "not measured")

	_, errOut, err := docgraph(t, "status", "--nats", n.url(), "--rate-window", "-1s")
	require.Error(t, err)
	assert.Contains(t, errOut+err.Error(), "--rate-window -1s: must not be negative")
}

func TestStageRate(t *testing.T) {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info := func(acked, pending uint64, inFlight int) *jetstream.ConsumerInfo {
		return &jetstream.ConsumerInfo{Created: created, AckFloor: jetstream.SequenceInfo{Consumer: acked}, NumPending: pending, NumAckPending: inFlight}
	}
	remade := info(0, 10, 0)
	remade.Created = created.Add(time.Minute)
	from := created.Add(time.Hour)
	tests := []struct {
		name          string
		before, after *jetstream.ConsumerInfo
		dt            time.Duration
		rate, eta     string
	}{
		{"one look", info(5, 10, 0), info(5, 10, 0), 0, "-", "-"},
		{"not started", nil, info(5, 10, 0), time.Second, "-", "-"},
		{"made again in between", info(500, 10, 0), remade, time.Second, "-", "-"},
		{"steady", info(100, 0, 0), info(300, 900, 100), 2 * time.Second, "100", "10s"},
		{"nearly done", info(100, 0, 0), info(300, 5, 5), time.Second, "200", "<1s"},
		{"done", info(100, 0, 0), info(300, 0, 0), time.Second, "200", "-"},
		{"slow", info(100, 0, 0), info(101, 2, 0), 4 * time.Second, "0.25", "8s"},
		{"nothing acked", info(100, 0, 0), info(100, 7, 1), time.Second, "0", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st statusStage
			st.AckedPerSecond, st.ETASeconds = measureRate(tt.before, tt.after, from, from.Add(tt.dt))
			rate, eta := formatRate(st)
			assert.Equal(t, tt.rate, rate)
			assert.Equal(t, tt.eta, eta)
		})
	}
}

// parserConsumer starts a NATS server with docgraph's streams and the
// parser's consumer, without any worker.
func parserConsumer(t *testing.T) (*testNATS, jetstream.JetStream, jetstream.Consumer) {
	t.Helper()
	n := startTestNATS(t)
	js := connect(t, n.url())
	require.NoError(t, bus.Provision(t.Context(), js, bus.DefaultTopology()))
	st, err := js.Stream(t.Context(), bus.StreamFiles)
	require.NoError(t, err)
	cons, err := st.CreateOrUpdateConsumer(t.Context(), jetstream.ConsumerConfig{Durable: bus.StageParser, AckPolicy: jetstream.AckExplicitPolicy})
	require.NoError(t, err)
	return n, js, cons
}

// status says how far the chunks have been re-extracted for the names the
// gazetteer knows, and which extractor does it.
func TestStatusShowsTheGazetteerRefresh(t *testing.T) {
	ns, _, js := bustest.Provisioned(t)
	url := ns.ClientURL()
	status := func() (string, statusGazetteer) {
		t.Helper()
		out := mustDocgraph(t, "status", "--nats", url, "--rate-window", "0")
		var rep statusReport
		require.NoError(t, json.Unmarshal([]byte(mustDocgraph(t, "status", "--nats", url, "--json", "--rate-window", "0")), &rep))
		return out, rep.Gazetteer
	}
	out, g := status()
	assert.Contains(t, out, "Gazetteer: empty\n")
	assert.Equal(t, statusGazetteer{}, g)

	book, err := gazetteer.Open(t.Context(), js, logging.Discard())
	require.NoError(t, err)
	require.NoError(t, book.Upsert(t.Context(), []gazetteer.Entry{{Label: "Person", Key: "ada", Name: "Ada Quinlan"}}, "people.csv", "sha-1", 1))
	rev, err := book.LastRevision(t.Context())
	require.NoError(t, err)
	require.Positive(t, rev)
	out, g = status()
	assert.Contains(t, out, fmt.Sprintf("Gazetteer: revision %d, chunks re-extracted through 0; a refresh is pending\n", rev))
	assert.Equal(t, statusGazetteer{Revision: rev}, g)

	lease, err := bus.RefresherLease(t.Context(), js, "worker extractor", logging.Discard())
	require.NoError(t, err)
	held, err := lease.Acquire(t.Context())
	require.NoError(t, err)
	require.True(t, held)
	require.NoError(t, book.MarkRefreshed(t.Context(), rev))
	out, g = status()
	host, _ := os.Hostname()
	holder := fmt.Sprintf("docgraph worker extractor (pid %d on %s)", os.Getpid(), host)
	assert.Contains(t, out, fmt.Sprintf("Gazetteer: revision %d, chunks re-extracted through %d; refresher: %s\n", rev, rev, holder))
	assert.Equal(t, statusGazetteer{Revision: rev, RefreshedThrough: rev, Refresher: &holder}, g)
}
