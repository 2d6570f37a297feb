package watcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/testwait"
)

// syncBuffer is a log sink safe for Run's goroutine.
type syncBuffer struct{ testwait.Buffer }

// lines returns the decoded JSON log lines with the given message.
func (b *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "log line %q", l)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// env is one folder watched over a real embedded JetStream.
type env struct {
	js   jetstream.JetStream
	root string
	reg  *prometheus.Registry
	logs *syncBuffer
	w    *Watcher
}

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	_, _, js := bustest.Provisioned(t)
	e := &env{js: js, root: t.TempDir()}
	e.w, e.reg, e.logs = e.newWatcher(t, mutate)
	return e
}

// newWatcher returns another Watcher over the same folder and buckets (a
// restart), with its own registry and logs.
func (e *env) newWatcher(t *testing.T, mutate func(*Config)) (*Watcher, *prometheus.Registry, *syncBuffer) {
	t.Helper()
	cfg := Config{Root: e.root}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	w, err := New(cfg, e.js, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), reg)
	require.NoError(t, err)
	return w, reg, logs
}

func (e *env) write(t *testing.T, rel, content string) string {
	t.Helper()
	abs := filepath.Join(e.root, filepath.FromSlash(rel))
	require.NoError(t, os.MkdirAll(filepath.Dir(abs), 0o755))
	require.NoError(t, os.WriteFile(abs, []byte(content), 0o644))
	return abs
}

func (e *env) scan(t *testing.T) Report {
	t.Helper()
	rep, err := e.w.Scan(t.Context())
	require.NoError(t, err)
	return rep
}

// streamMsg is one message of the files stream.
type streamMsg struct {
	Seq     uint64
	Subject string
	Msg     pipeline.Message
}

// messages returns every message of the files stream.
func (e *env) messages(t *testing.T) []streamMsg {
	t.Helper()
	ctx := t.Context()
	s, err := e.js.Stream(ctx, bus.StreamFiles)
	require.NoError(t, err)
	info, err := s.Info(ctx)
	require.NoError(t, err)
	var out []streamMsg
	if info.State.Msgs == 0 {
		return nil
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		require.NoError(t, err)
		out = append(out, streamMsg{Seq: seq, Subject: m.Subject,
			Msg: pipeline.Message{Subject: m.Subject, Data: m.Data, Header: m.Header, StreamSeq: seq}})
	}
	return out
}

// discovered returns the FileDiscovered events of the stream for path.
func (e *env) discovered(t *testing.T, path string) []event.FileDiscovered {
	t.Helper()
	var out []event.FileDiscovered
	for _, m := range e.messages(t) {
		if m.Subject != event.SubjectFileDiscovered {
			continue
		}
		var ev event.FileDiscovered
		require.NoError(t, m.Msg.Decode(&ev))
		if ev.Path == path {
			out = append(out, ev)
		}
	}
	return out
}

// deletedEvents returns the FileDeleted events of the stream for path.
func (e *env) deletedEvents(t *testing.T, path string) []event.FileDeleted {
	t.Helper()
	var out []event.FileDeleted
	for _, m := range e.messages(t) {
		if m.Subject != event.SubjectFileDeleted {
			continue
		}
		var ev event.FileDeleted
		require.NoError(t, m.Msg.Decode(&ev))
		if ev.Path == path {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) objects(t *testing.T) jetstream.ObjectStore {
	t.Helper()
	obs, err := e.js.ObjectStore(t.Context(), bus.BucketFiles)
	require.NoError(t, err)
	return obs
}

// objectExists reports whether the object store holds obj.
func (e *env) objectExists(t *testing.T, obj string) bool {
	t.Helper()
	_, err := e.objects(t).GetInfo(t.Context(), obj)
	if err == jetstream.ErrObjectNotFound {
		return false
	}
	require.NoError(t, err)
	return true
}

func (e *env) record(t *testing.T, path string) *record {
	t.Helper()
	kv, err := e.js.KeyValue(t.Context(), bus.BucketWatcher)
	require.NoError(t, err)
	entry, err := kv.Get(t.Context(), stateKey(path))
	if err == jetstream.ErrKeyNotFound {
		return nil
	}
	require.NoError(t, err)
	var r record
	require.NoError(t, json.Unmarshal(entry.Value(), &r))
	return &r
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// waitFor polls cond until it holds or the timeout passes.
var waitFor = testwait.Until

// startRun runs w.Run until the test ends and checks it returns nil
// promptly after cancellation.
func startRun(t *testing.T, w *Watcher) (cancel func()) {
	t.Helper()
	ctx, cancelCtx := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancelCtx()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("run did not return within 5s of cancellation")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func countIs(want int, got func() int, what string) func() error {
	return func() error {
		if n := got(); n != want {
			return fmt.Errorf("%s: %d, want %d", what, n, want)
		}
		return nil
	}
}
