package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/graph/neostore/neostoretest"
)

const (
	outageDocs = 150
	// outageWindow is how long Neo4j stays unreachable: longer than the
	// driver's own transaction retries (15s) and the graph writer's ack
	// wait below, so only the runner's hold (heartbeats, paused consumer)
	// keeps the messages from being redelivered or dead-lettered.
	outageWindow = 30 * time.Second
	// pauseWithin bounds how long the writer takes to notice the outage:
	// the Neo4j driver's retries (a 5s budget, up to about 7s of backoff)
	// with room for a slow, race-instrumented run.
	pauseWithin  = 20 * time.Second
	pausedLog    = `"msg":"dependency unavailable: stage paused, holding its messages"`
	resumedLog   = `"msg":"dependency back: stage resumed"`
	pausedMetric = `docgraph_pipeline_paused{stage="graph-writer"} 1`
)

// TestNeo4jOutageMidIngest cuts Neo4j off for outageWindow while `docgraph
// up` writes a generated folder to it: the proxy in front of Neo4j closes
// every open connection and refuses new ones, then forwards again. The
// graph writer pauses (log and metric) instead of nak-ing, resumes on its
// own, nothing is dead-lettered, no message is delivered more than twice,
// every consumer drains, and Neo4j ends with the graph a clean embedded
// ingest of the same folder gives.
func TestNeo4jOutageMidIngest(t *testing.T) {
	neo := neo4jArgs(t) // takes the shared Neo4j lock and wipes the database
	cfg := neostoretest.Config(t)
	target, err := url.Parse(cfg.URI)
	require.NoError(t, err)

	in := t.TempDir()
	writeDocs(t, in, outageDocs)
	clean := t.TempDir()
	mustDocgraph(t, ingestArgs(clean, in)...)
	want := mustDocgraph(t, "graph", "export", "--data", clean, "--format", "json")
	require.Contains(t, want, "ISO-", "the corpus has mentions")

	px := newProxy(t, target.Host)
	px.forward(t)
	metricsAddr, natsAddr, data := freeAddr(t), freeAddr(t), t.TempDir()
	args := []string{"up", "--watch", in, "--data", data, "--nats.listen", natsAddr,
		"--metrics-addr", metricsAddr, "--log-format", "json", "--log-level", "debug",
		"--neo4j", "bolt://" + px.addr, "--neo4j.user", cfg.User,
		"--watch.settle", "100ms", "--extractor.refresh_delay", "50ms",
		"--stages.graph_writer.ack_wait", "10s"}
	if cfg.Password != "" {
		args = append(args, "--neo4j.password", cfg.Password)
	}
	p := startProc(t, args...)
	p.waitLog(t, 60*time.Second, `"msg":"all stages ready"`, 1)
	js := connect(t, "nats://"+natsAddr)

	// Some batches committed, the pipeline still busy: cut Neo4j off.
	writerDone := func() int { return countLines(p.log(), msgProcessed, `"stage":"graph-writer"`) }
	waitUntil(t, 120*time.Second, func() error {
		if done, err := p.exited(); done {
			t.Fatalf("docgraph up exited: %v\n%s", err, tail(p.log(), 30))
		}
		if n := writerDone(); n < 10 {
			return fmt.Errorf("graph writer processed %d messages, want 10 before the outage", n)
		}
		return nil
	})
	require.Error(t, drained(t.Context(), js, outageDocs), "the pipeline drained before the outage")
	px.close()
	cut := time.Now()
	t.Logf("Neo4j cut off after %d graph writer messages", writerDone())

	// During the outage: the writer says it paused, and /metrics shows it,
	// within pauseWithin (the driver gives up after its retry budget).
	metrics := "http://" + metricsAddr + "/metrics"
	waitUntil(t, pauseWithin, func() error {
		if done, err := p.exited(); done {
			t.Fatalf("docgraph up exited during the outage: %v\n%s", err, tail(p.log(), 30))
		}
		if !strings.Contains(p.log(), pausedLog) {
			return errors.New("no pause logged yet")
		}
		body, err := httpGet(t.Context(), metrics)
		if err != nil {
			return err
		}
		if !strings.Contains(body, pausedMetric) {
			return fmt.Errorf("/metrics lacks %q", pausedMetric)
		}
		return nil
	})
	t.Logf("graph writer paused %s into the outage", time.Since(cut).Round(time.Millisecond))
	// Up but not doing its work: not ready, saying which stage waits.
	readyz := "http://" + metricsAddr + "/readyz"
	code, body, err := httpGetStatus(t.Context(), readyz)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, code, "/readyz while the graph writer is paused")
	assert.Contains(t, body, "graph-writer paused")
	require.NotContains(t, p.log(), resumedLog, "resumed while Neo4j was still unreachable")
	require.Error(t, drained(t.Context(), js, outageDocs), "the pipeline drained while Neo4j was unreachable")

	// Hold the outage for its whole window, then forward again.
	select {
	case <-time.After(time.Until(cut.Add(outageWindow))):
	case <-t.Context().Done():
		t.Fatal("test ended during the outage")
	}
	require.NotContains(t, p.log(), resumedLog, "resumed while Neo4j was still unreachable")
	px.forward(t)
	restored := time.Now()

	p.waitLog(t, 60*time.Second, resumedLog, 1)
	t.Logf("graph writer resumed %s after Neo4j came back", time.Since(restored).Round(time.Millisecond))
	waitUntil(t, 90*time.Second, func() error {
		if done, err := p.exited(); done {
			t.Fatalf("docgraph up exited: %v\n%s", err, tail(p.log(), 30))
		}
		return drained(t.Context(), js, outageDocs)
	})
	t.Logf("drained %s after Neo4j came back", time.Since(restored).Round(time.Millisecond))
	body, err = httpGet(t.Context(), metrics)
	require.NoError(t, err)
	assert.NotContains(t, body, pausedMetric, "still paused after draining")
	code, body, err = httpGetStatus(t.Context(), readyz)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code, "/readyz after the outage: %s", body)

	// Accounting: no dead letters, every consumer acked its whole stream,
	// no message delivered more than twice.
	dlq, err := js.Stream(t.Context(), bus.StreamDLQ)
	require.NoError(t, err)
	di, err := dlq.Info(t.Context())
	require.NoError(t, err)
	assert.Zero(t, di.State.Msgs, "dead letters")
	for _, c := range bus.Consumers {
		ci, si, err := pipelineState(t.Context(), js, c)
		require.NoError(t, err)
		assert.Equal(t, si.State.LastSeq, ci.AckFloor.Stream, "consumer %s on %s acked the whole stream", c.Durable, c.Stream)
		assert.Zero(t, ci.NumAckPending, "consumer %s on %s: unacked", c.Durable, c.Stream)
		assert.Zero(t, ci.NumPending, "consumer %s on %s: pending", c.Durable, c.Stream)
		t.Logf("%s on %s: %d messages, %d deliveries", c.Durable, c.Stream, si.State.LastSeq, ci.Delivered.Consumer)
	}
	st := finishedMessages(t, p.log())
	assert.Zero(t, st.deadLettered, "messages dead-lettered")
	assert.LessOrEqual(t, st.maxDelivery, uint64(2), "a message was delivered more than twice: %s", st.maxLine)
	t.Logf("graph writer: %d messages processed, %d nacked, at most %d deliveries",
		st.processed, st.nacked, st.maxDelivery)

	// A clean stop, then Neo4j holds the graph of the clean ingest.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err
		require.NoError(t, err, "exit after SIGTERM\n%s", tail(p.log(), 20))
	case <-time.After(60 * time.Second):
		t.Fatalf("no exit 60s after SIGTERM\n%s", tail(p.log(), 20))
	}
	got := mustDocgraph(t, append([]string{"graph", "export", "--data", data, "--format", "json"}, neo...)...)
	require.Equal(t, want, got, "the Neo4j graph after the outage equals a clean ingest's")
	if cfg.Password != "" {
		assert.NotContains(t, p.log(), cfg.Password, "the Neo4j password must never be logged")
	}
}

// exited reports whether the process has ended, with its error.
func (p *proc) exited() (bool, error) {
	select {
	case err := <-p.done:
		p.done <- err
		return true, err
	default:
		return false, nil
	}
}

// finishStats summarises the graph writer's finished messages in a log.
type finishStats struct {
	processed, nacked, deadLettered int
	maxDelivery                     uint64
	maxLine                         string
}

func finishedMessages(t *testing.T, logs string) finishStats {
	t.Helper()
	var st finishStats
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var l struct {
			Msg      string  `json:"msg"`
			Stage    string  `json:"stage"`
			Delivery *uint64 `json:"delivery"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		if l.Msg == "message dead-lettered" {
			st.deadLettered++
		}
		if l.Stage != bus.StageGraphWriter || l.Delivery == nil {
			continue
		}
		switch l.Msg {
		case "message processed":
			st.processed++
		case "message nacked":
			st.nacked++
		}
		if *l.Delivery > st.maxDelivery {
			st.maxDelivery, st.maxLine = *l.Delivery, sc.Text()
		}
	}
	require.NoError(t, sc.Err())
	return st
}

func httpGet(ctx context.Context, u string) (string, error) {
	code, body, err := httpGetStatus(ctx, u)
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("GET %s: %d", u, code)
	}
	return body, nil
}

// httpGetStatus GETs u, returning the status code and the body.
func httpGetStatus(ctx context.Context, u string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(b), nil
}
