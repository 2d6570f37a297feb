package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// withSystem connects to the embedded NATS under data (nothing else
// running) for the duration of fn.
func withSystem(t *testing.T, data string, fn func(s *system)) {
	t.Helper()
	cfg := testConfig(t, "--data", data, "--nats.listen", "off")
	s, err := startSystem(t.Context(), cfg, logging.Discard(), systemOptions{})
	require.NoError(t, err)
	defer s.close()
	fn(s)
}

func publishRaw(t *testing.T, js jetstream.JetStream, subject string, data []byte, header nats.Header) {
	t.Helper()
	_, err := js.PublishMsg(t.Context(), &nats.Msg{Subject: subject, Data: data, Header: header})
	require.NoError(t, err)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestFaultBadMessagesAreDeadLetteredAndTheStagesGoOn(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(in, "first.md"), "# First\n\nAACE-101 applies.\n")
	mustDocgraph(t, ingestArgs(data, in)...)
	before := exportGraph(t, data)

	// The chunk is of a document of its own: one of hand.md would be
	// superseded by the file events of hand.md published after it, and
	// listed only with --all.
	good := event.Chunk{Document: event.NewDocument("hand-chunk.md", strings.Repeat("cd", 32), 5, 1), Index: 0, Total: 1, Text: "ISO 9001"}
	goodChunk, err := json.Marshal(good)
	require.NoError(t, err)
	goodFile, err := json.Marshal(event.FileDiscovered{Path: "hand.md", Size: 5, SHA256: strings.Repeat("cd", 32), Object: "hand.md@x"})
	require.NoError(t, err)
	header := func(subject, version string) nats.Header {
		h := nats.Header{}
		h.Set(pipeline.HeaderType, event.TypeOf(subject))
		h.Set(pipeline.HeaderVersion, version)
		return h
	}
	tests := []struct {
		name    string
		subject string
		data    []byte
		version string
		stage   string
		wantErr string
	}{
		{"corrupt file event", event.SubjectFileDiscovered, []byte(`{"path": "x.md", "size": `), event.Version, bus.StageParser, "decode"},
		{"file event of an unknown version", event.SubjectFileDiscovered, goodFile, "99", bus.StageParser, "99"},
		{"corrupt chunk", event.SubjectChunk, []byte("\x00\xffnot json"), event.Version, bus.StageExtractor, "decode"},
		{"chunk of an unknown version", event.SubjectChunk, goodChunk, "99", bus.StageExtractor, "99"},
	}
	withSystem(t, data, func(s *system) {
		for _, tt := range tests {
			publishRaw(t, s.js, tt.subject, tt.data, header(tt.subject, tt.version))
		}
	})

	// The stages run again: they dead-letter the bad messages and ingest a
	// good file published after them.
	writeFile(t, filepath.Join(in, "second.md"), "# Second\n\nISO 9001 applies.\n")
	out, logs, err := docgraph(t, ingestArgs(data, in)...)
	require.NoError(t, err, "%s\n%s", out, logs)
	assert.Contains(t, out, "1 new or changed")
	assert.Contains(t, out, "0 failed")
	assert.NotContains(t, logs, "panic")

	// Dead letters of different stages arrive in any order: find each by
	// its original subject and version header.
	dls := listDeadLetters(t, data)
	require.Len(t, dls, len(tests))
	byMessage := map[string]deadLetterJSON{}
	for _, d := range dls {
		show := mustDocgraph(t, "dlq", "show", fmt.Sprint(d.ID), "--json", "--data", data, "--nats.listen", "off")
		var full deadLetterJSON
		require.NoError(t, json.Unmarshal([]byte(show), &full))
		byMessage[full.OriginalSubject+" "+strings.Join(full.Headers[pipeline.HeaderVersion], ",")] = full
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := byMessage[tt.subject+" "+tt.version]
			require.True(t, ok, "dead letter of %s version %s", tt.subject, tt.version)
			assert.Equal(t, tt.stage, d.Stage)
			assert.Equal(t, "permanent", d.Class)
			assert.Equal(t, 1, d.Attempts, "a permanent error is not retried")
			assert.Contains(t, d.Error, tt.wantErr)
			assert.Equal(t, []string{"permanent"}, d.Headers[pipeline.HeaderErrorClass])
		})
	}

	after := exportGraph(t, data)
	findNode(t, after, "Document", "second.md")
	findNode(t, after, "Procedure", "ISO-9001")
	for _, n := range after.Nodes {
		assert.NotContains(t, []string{"hand.md", "hand-chunk.md"}, n.Key, "nothing from the bad messages")
	}
	assert.Len(t, after.Nodes, len(before.Nodes)+3, "second.md adds its Document, Chunk and procedure; %v", after.Nodes)
}

// TestFaultPanicInHandler runs a panicking handler on the real runner and
// JetStream: the panic is dead-lettered as permanent with the stack in the
// log, and the worker goes on with the next message. (A malformed input
// that made a real stage panic would be a bug; pkg/pipeline's runner tests
// cover the dead letter of a panic too, without the log and the liveness.)
func TestFaultPanicInHandler(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	ctx := t.Context()
	for _, name := range []string{"T_IN", "T_OUT"} {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(strings.Replace(name, "_", ".", 1))}})
		require.NoError(t, err)
	}
	var logs testwait.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	m, err := pipeline.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	r, err := pipeline.NewRunner(pipeline.Config{Stage: "test", Stream: "T_IN", Concurrency: 1}, js,
		func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
			if string(in.Data) == "boom" {
				var counts map[string]int
				counts["boom"]++ // nil map: panics
			}
			return emit(pipeline.Message{Subject: "t.out", Data: in.Data})
		}, log, m)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	for _, p := range []string{"before", "boom", "after"} {
		publishRaw(t, js, "t.in", []byte(p), nil)
	}
	waitUntil(t, 10*time.Second, func() error {
		if n := streamState(t, js, "T_OUT").Msgs; n != 2 {
			return fmt.Errorf("%d outputs", n)
		}
		if n := streamState(t, js, bus.StreamDLQ).Msgs; n != 1 {
			return fmt.Errorf("%d dead letters", n)
		}
		return nil
	})
	dls, err := bus.ListDeadLetters(ctx, js, bus.Filter{})
	require.NoError(t, err)
	require.Len(t, dls, 1)
	assert.Equal(t, "boom", string(dls[0].Data))
	assert.Equal(t, pipeline.ClassPermanent, dls[0].Class)
	assert.Contains(t, dls[0].Error, "panic: assignment to entry in nil map")
	var panicked map[string]any
	for _, l := range readJSONLines(t, logs.String()) {
		if l["msg"] == "handler panicked" {
			panicked = l
		}
	}
	require.NotNil(t, panicked, "the panic is logged")
	assert.Contains(t, panicked["stack"], "faults_test.go", "with the stack of the handler")
	out, err := js.Stream(ctx, "T_OUT")
	require.NoError(t, err)
	last, err := out.GetMsg(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, "after", string(last.Data), "the worker lives on")
}

func streamState(t testing.TB, js jetstream.JetStream, name string) jetstream.StreamState {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	require.NoError(t, err)
	info, err := st.Info(context.Background())
	require.NoError(t, err)
	return info.State
}

// TestFaultPoisonMessageAmongGoodOnes: a file event whose object holds
// other bytes than the event says is a retryable failure (a newer version
// may be on its way); after max_deliver attempts it is dead-lettered with
// the reason while the good files flow. Once the object is right, dlq
// replay puts it through and the DLQ is empty.
func TestFaultPoisonMessageAmongGoodOnes(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	right := []byte("# Poison\n\nThe poisoned file cites ISO 27001.\n")
	sum := sha256Hex(right)
	obj := "poison.md@" + sum
	withSystem(t, data, func(s *system) {
		objects, err := s.js.ObjectStore(t.Context(), bus.BucketFiles)
		require.NoError(t, err)
		_, err = objects.PutBytes(t.Context(), obj, []byte("other bytes"))
		require.NoError(t, err)
		m, err := pipeline.NewMessage(event.SubjectFileDiscovered, event.FileDiscovered{
			Path: "poison.md", Size: int64(len(right)), SHA256: sum, ModTime: time.Now().UTC().Format(time.RFC3339Nano), Object: obj,
		})
		require.NoError(t, err)
		m.Header.Set(pipeline.HeaderCorrelationID, "poison")
		publishRaw(t, s.js, m.Subject, m.Data, m.Header)
	})
	writeDocs(t, in, 6)
	retry := []string{"--stages.parser.max_deliver", "3", "--stages.parser.backoff", "10ms"}
	out, logs, err := docgraph(t, ingestArgs(data, append(retry, "--log-format", "json", in)...)...)
	require.NoError(t, err, "%s\n%s", out, tail(logs, 20))
	assert.Contains(t, out, "6 new or changed")
	assert.Contains(t, out, "0 failed", "the good files flow")
	assert.Equal(t, 2, strings.Count(logs, `"msg":"message nacked"`), "two retries before the third attempt dead-letters it")

	dls := listDeadLetters(t, data)
	require.Len(t, dls, 1)
	d := dls[0]
	assert.Equal(t, "poison.md", d.Path)
	assert.Equal(t, bus.StageParser, d.Stage)
	assert.Equal(t, "exhausted", d.Class)
	assert.Equal(t, 3, d.Attempts)
	assert.Contains(t, d.Error, "poison.md: object "+obj+" has sha256 "+sha256Hex([]byte("other bytes"))+", event says "+sum)
	ex := exportGraph(t, data)
	for _, n := range ex.Nodes {
		assert.NotEqual(t, "poison.md", n.Key)
	}
	for i := range 6 {
		findNode(t, ex, "Document", fmt.Sprintf("batch-%d/report-%04d.md", i%7, i))
	}

	// Fix the cause, replay, run the stages.
	withSystem(t, data, func(s *system) {
		objects, err := s.js.ObjectStore(t.Context(), bus.BucketFiles)
		require.NoError(t, err)
		_, err = objects.PutBytes(t.Context(), obj, right)
		require.NoError(t, err)
	})
	out = mustDocgraph(t, "dlq", "replay", "--all", "--data", data, "--nats.listen", "off")
	assert.Contains(t, out, "replayed 1,")
	mustDocgraph(t, ingestArgs(data, append(retry, in)...)...) // no folder change; the stages drain the replay
	assert.Empty(t, listDeadLetters(t, data))
	ex = exportGraph(t, data)
	findNode(t, ex, "Document", "poison.md")
	assert.Equal(t, []string{"Procedure:ISO-27001"}, docMentions(ex, "poison.md"))
}

// TestFaultCrashAfterPublishBeforeAck: a worker dies (its connection is
// gone, as after kill -9) after its outputs are stored but before it acked
// the input. The redelivery publishes the outputs again under the same
// Nats-Msg-Id: JetStream reports duplicates and the downstream stream
// holds one copy of each.
func TestFaultCrashAfterPublishBeforeAck(t *testing.T) {
	ns := bustest.NewServer(t)
	nc1, js1 := bustest.Connect(t, ns)
	_, js2 := bustest.Connect(t, ns)
	ctx := t.Context()
	require.NoError(t, bus.Provision(ctx, js2, bus.DefaultTopology()))
	for _, name := range []string{"T_IN", "T_OUT"} {
		_, err := js2.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(strings.Replace(name, "_", ".", 1))}})
		require.NoError(t, err)
	}
	publishRaw(t, js2, "t.in", []byte("work"), nil)
	cfg := pipeline.Config{Stage: "test", Stream: "T_IN", Concurrency: 1, AckWait: time.Second, ShutdownTimeout: 100 * time.Millisecond}
	m, err := pipeline.NewMetrics(prometheus.NewRegistry())
	require.NoError(t, err)
	emitBoth := func(in pipeline.Message, emit pipeline.Emit) error {
		for i := range 2 {
			if err := emit(pipeline.Message{Subject: "t.out", Data: fmt.Appendf(nil, "%s-%d", in.Data, i)}); err != nil {
				return err
			}
		}
		return nil
	}

	// The first worker publishes, then hangs until its connection dies.
	first, err := pipeline.NewRunner(cfg, js1, func(ctx context.Context, in pipeline.Message, emit pipeline.Emit) error {
		if err := emitBoth(in, emit); err != nil {
			return err
		}
		<-ctx.Done()
		return ctx.Err()
	}, logging.Discard(), m)
	require.NoError(t, err)
	ctx1, cancel1 := context.WithCancel(ctx)
	done1 := make(chan error, 1)
	go func() { done1 <- first.Run(ctx1) }()
	waitUntil(t, 10*time.Second, func() error {
		if n := streamState(t, js2, "T_OUT").Msgs; n != 2 {
			return fmt.Errorf("%d outputs stored", n)
		}
		return nil
	})
	nc1.Close() // the crash: no ack, no nak ever reaches the server
	cancel1()
	require.NoError(t, <-done1)

	// Another worker gets the input after AckWait and does the work again.
	second, err := pipeline.NewRunner(cfg, js2, func(_ context.Context, in pipeline.Message, emit pipeline.Emit) error {
		return emitBoth(in, emit)
	}, logging.Discard(), m)
	require.NoError(t, err)
	var obs dupObserver
	second.Observe(&obs)
	ctx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	go func() { done2 <- second.Run(ctx2) }()
	t.Cleanup(func() {
		cancel2()
		require.NoError(t, <-done2)
	})
	waitUntil(t, 15*time.Second, func() error {
		if obs.acked.Load() != 1 {
			return errors.New("not acked yet")
		}
		return nil
	})
	assert.EqualValues(t, 2, obs.emitted.Load())
	assert.EqualValues(t, 2, obs.dropped.Load(), "both outputs were duplicates (PubAck Duplicate)")
	assert.EqualValues(t, 2, streamState(t, js2, "T_OUT").Msgs, "one copy of each output")

	// The same Nats-Msg-Id published once more is reported as a duplicate.
	out, err := js2.Stream(ctx, "T_OUT")
	require.NoError(t, err)
	stored, err := out.GetMsg(ctx, 1)
	require.NoError(t, err)
	msg := nats.NewMsg("t.out")
	msg.Data = stored.Data
	msg.Header.Set(pipeline.HeaderMsgID, stored.Header.Get(pipeline.HeaderMsgID))
	ack, err := js2.PublishMsg(ctx, msg)
	require.NoError(t, err)
	assert.True(t, ack.Duplicate)
	assert.EqualValues(t, 2, streamState(t, js2, "T_OUT").Msgs)
}

type dupObserver struct {
	emitted, dropped, acked atomic.Int32
}

func (o *dupObserver) Emitted(string) { o.emitted.Add(1) }
func (o *dupObserver) Dropped(string) { o.dropped.Add(1) }
func (o *dupObserver) Finished(out pipeline.Outcome) {
	if out.Result == pipeline.OutcomeAck {
		o.acked.Add(1)
	}
}

// TestFaultSlowlyCopiedLargeFile copies 200 MB into the watched folder in
// steps over about 20 s: the watcher publishes it once, complete. As an
// unmapped spreadsheet under parser.unmapped=reject, the parser refuses
// it with an error naming the file, without reading it.
func TestFaultSlowlyCopiedLargeFile(t *testing.T) {
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("copies 200 MB over 20 s") // never skipped in CI
	}
	in, data := t.TempDir(), t.TempDir()
	p := startProc(t, "up", "--watch", in, "--data", data, "--metrics-addr", "", "--nats.listen", "off",
		"--watch.settle", "2s", "--parser.unmapped", "reject", "--log-format", "json", "--log-level", "info")
	p.waitLog(t, 60*time.Second, `"msg":"watching folder"`, 1)

	const steps, step = 20, 10 << 20
	f, err := os.Create(filepath.Join(in, "big.csv"))
	require.NoError(t, err)
	h := sha256.New()
	chunk := bytes.Repeat([]byte("id,name,value\n"), step/14+1)[:step]
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := range steps {
		if i > 0 {
			<-tick.C // paces the copy like a slow network share
		}
		_, err := io.MultiWriter(f, h).Write(chunk)
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())
	final := hex.EncodeToString(h.Sum(nil))

	// The watcher logs the publication after its record is stored; by then
	// the parser may have dead-lettered the file already.
	p.waitLog(t, 60*time.Second, `"msg":"message dead-lettered"`, 1)
	p.waitLog(t, 60*time.Second, `"msg":"file published"`, 1)
	var published []map[string]any
	var dead map[string]any
	for _, l := range readJSONLines(t, p.log()) {
		switch {
		case l["msg"] == "file published" && l["path"] == "big.csv":
			published = append(published, l)
		case l["msg"] == "message dead-lettered":
			dead = l
		}
	}
	require.Len(t, published, 1, "published once, after the copy finished")
	assert.Equal(t, final, published[0]["sha256"])
	assert.EqualValues(t, steps*step, published[0]["size"])
	assert.Equal(t, bus.StageParser, dead["stage"])
	assert.Contains(t, dead["err"], "big.csv: spreadsheet not named by the structured mapping")
	assert.NotContains(t, p.log(), "panic")
}

// hostileName is a value that would change the graph if it were ever
// spliced into a query.
const hostileName = "x`}) DETACH DELETE n //"

func TestFaultHostileValues(t *testing.T) {
	stores := []struct {
		name string
		args func(t *testing.T) []string
	}{
		{"embedded", func(*testing.T) []string { return nil }},
		{"neo4j", neo4jArgs},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ingestNames := func(person, team string) exportJSON {
				args := st.args(t) // a fresh graph each time (Neo4j is wiped)
				in, data := t.TempDir(), t.TempDir()
				writeFile(t, filepath.Join(in, "teams.csv"), "team_name,member_name,role,project_code\n"+
					"Alpha Crew,Ann Lee,Lead,PRJ-0001\n"+
					`"`+strings.ReplaceAll(team, `"`, `""`)+`","`+person+`",Member,PRJ-0001`+"\n")
				writeFile(t, filepath.Join(in, "notes.md"), "# Notes\n\nAnn Lee met "+person+" today. "+team+" reviewed AACE-101.\n")
				mustDocgraph(t, ingestArgs(data, append(args, in)...)...)
				out := mustDocgraph(t, append([]string{"graph", "export", "--data", data, "--format", "json"}, args...)...)
				return parseExport(t, []byte(out))
			}
			plain := ingestNames("Plain Person", "Plain Team")
			hostileTeam := `Team"}) MATCH (m) DETACH DELETE m; //`
			hostile := ingestNames(hostileName, hostileTeam)

			assert.Equal(t, countByLabel(plain), countByLabel(hostile), "the same graph shape")
			assert.Equal(t, len(plain.Relationships), len(hostile.Relationships))
			person := findNode(t, hostile, "Person", strings.ToLower(hostileName))
			assert.Equal(t, hostileName, person.Properties["name"], "stored verbatim")
			team := findNode(t, hostile, "Team", strings.ToLower(hostileTeam))
			assert.Equal(t, hostileTeam, team.Properties["name"])
			mentions := docMentions(hostile, "notes.md")
			assert.Contains(t, mentions, "Person:"+strings.ToLower(hostileName), "found in text through the gazetteer")
			assert.Contains(t, mentions, "Team:"+strings.ToLower(hostileTeam))
		})
	}
}

func countByLabel(ex exportJSON) map[string]int {
	out := map[string]int{}
	for _, n := range ex.Nodes {
		out[n.Label]++
	}
	return out
}

// TestFaultXLSXCraftedRowNumbers: a workbook whose row numbers are out of
// range fails with an error naming the file; the process does not panic
// and the other files are ingested.
func TestFaultXLSXCraftedRowNumbers(t *testing.T) {
	in, data := t.TempDir(), t.TempDir()
	base := filepath.Join(t.TempDir(), "managers.xlsx")
	x := excelize.NewFile()
	_, err := x.NewSheet("Managers")
	require.NoError(t, err)
	require.NoError(t, x.DeleteSheet("Sheet1"))
	for i, row := range [][]any{{"name", "role", "email"}, {"Ann Lee", "Director", "ann@example.com"}, {"Bo Chen", "Lead", "bo@example.com"}} {
		require.NoError(t, x.SetSheetRow("Managers", fmt.Sprintf("A%d", i+1), &row))
	}
	require.NoError(t, x.SaveAs(base))
	require.NoError(t, x.Close())
	tests := []struct{ file, from, to, want string }{
		{"structured/managers_rowmax.xlsx", `<row r="3"`, `<row r="2147483647"`, `row number "2147483647" out of range`},
		{"structured/managers_rowneg.xlsx", `<row r="2"`, `<row r="-1"`, `row number "-1" out of range`},
	}
	for _, tt := range tests {
		rewriteSheet(t, base, filepath.Join(in, tt.file), tt.from, tt.to)
	}
	writeFile(t, filepath.Join(in, "notes.md"), "# Notes\n\nAACE-101.\n")
	out, logs, err := docgraph(t, ingestArgs(data, "--schemas.mapping", badMapping, in)...)
	require.Equal(t, exitCode(1), err, "%s\n%s", out, logs)
	assert.NotContains(t, logs, "panic")
	assert.Contains(t, out, "3 new or changed")
	for _, tt := range tests {
		line := summaryLine(out, tt.file)
		assert.True(t, strings.HasPrefix(line, "failed  "), "summary names %s:\n%s", tt.file, out)
		assert.Contains(t, line, tt.want)
	}
	ex := exportGraph(t, data)
	findNode(t, ex, "Document", "notes.md")
	for _, n := range ex.Nodes {
		assert.NotEqual(t, "Person", n.Label, "nothing from the rejected workbooks")
	}
}

// rewriteSheet copies the workbook src to dst with one edit in its first
// worksheet's XML (the workbook has one).
func rewriteSheet(t *testing.T, src, dst, from, to string) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	require.NoError(t, err)
	defer zr.Close()
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	f, err := os.Create(dst)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	edited := 0
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		if strings.HasPrefix(zf.Name, "xl/worksheets/sheet") {
			require.Contains(t, string(b), from)
			b = []byte(strings.Replace(string(b), from, to, 1))
			edited++
		}
		w, err := zw.Create(zf.Name)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
	}
	require.Equal(t, 1, edited, "one worksheet")
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}
