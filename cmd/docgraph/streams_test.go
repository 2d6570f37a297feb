package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// openData starts an embedded server over a data directory left by a
// finished command, for inspecting its streams.
func openData(t testing.TB, data string) jetstream.JetStream {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: filepath.Join(data, "nats"), Port: -1}, logging.Discard())
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// payloadPath finds the document path a message is about.
func payloadPath(data []byte) string {
	var m struct {
		Path     string `json:"path"`
		Document struct {
			Path string `json:"path"`
		} `json:"document"`
		Chunk struct {
			Document struct {
				Path string `json:"path"`
			} `json:"document"`
		} `json:"chunk"`
	}
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	switch {
	case m.Path != "":
		return m.Path
	case m.Document.Path != "":
		return m.Document.Path
	}
	return m.Chunk.Document.Path
}

// assertStreamsCarry checks that every message about file, in every stage's
// stream, carries cid and the type/version headers.
func assertStreamsCarry(t testing.TB, data, file, cid string) {
	t.Helper()
	js := openData(t, data)
	ctx := context.Background()
	for _, name := range []string{bus.StreamFiles, bus.StreamChunks, bus.StreamExtractions} {
		s, err := js.Stream(ctx, name)
		require.NoError(t, err)
		info, err := s.Info(ctx)
		require.NoError(t, err)
		found := 0
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
			m, err := s.GetMsg(ctx, seq)
			if err != nil {
				continue
			}
			payload, err := bus.Payload(m.Header, m.Data)
			require.NoError(t, err, "%s seq %d", name, seq)
			if payloadPath(payload) != file {
				continue
			}
			found++
			assert.Equal(t, cid, m.Header.Get(pipeline.HeaderCorrelationID), "%s seq %d", name, seq)
			assert.NotEmpty(t, m.Header.Get(pipeline.HeaderMsgID), "%s seq %d", name, seq)
			assert.NotEmpty(t, m.Header.Get(pipeline.HeaderType), "%s seq %d", name, seq)
			assert.Equal(t, "1", m.Header.Get(pipeline.HeaderVersion), "%s seq %d", name, seq)
		}
		assert.Positive(t, found, "stream %s holds messages about %s", name, file)
	}
}
