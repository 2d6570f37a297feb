package pipeline_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

func TestDecode(t *testing.T) {
	good := pipeline.MustMessage(event.SubjectChunk, event.Chunk{Index: 1, Total: 2, Text: "x"})
	tests := []struct {
		name    string
		msg     pipeline.Message
		wantErr string
	}{
		{"valid", good, ""},
		{"unknown version", withHeader(good, pipeline.HeaderVersion, "9"), `unsupported message version "9"`},
		{"missing version", withHeader(good, pipeline.HeaderVersion, ""), "unsupported message version"},
		{"wrong type", withHeader(good, pipeline.HeaderType, "Records"), `message type "Records"`},
		{"not json", withData(good, "{not json"), "decode docgraph.chunks.text"},
		{"unknown field", withData(good, `{"index":1,"surprise":true}`), `json: unknown field "surprise"`},
		{"unknown nested field", withData(good, `{"index":1,"document":{"path":"a","colour":"red"}}`), `unknown field "colour" within "/document"`},
		{"names match exactly", withData(good, `{"Index":1}`), `unknown field "Index"`},
		{"name given twice", withData(good, `{"index":1,"index":2}`), `duplicate object member name "index"`},
		{"wrong value type", withData(good, `{"index":"1"}`), `into Go int within "/index"`},
		{"invalid UTF-8", withData(good, "{\"index\":1,\"text\":\"a\xffb\"}"), "invalid UTF-8"},
		{"trailing data", withData(good, `{"index":1} {}`), "after top-level value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c event.Chunk
			err := tt.msg.Decode(&c)
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, 1, c.Index)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.True(t, pipeline.IsPermanent(err), "a message that does not decode never will")
		})
	}
}

func withHeader(m pipeline.Message, k, v string) pipeline.Message {
	h := nats.Header{}
	for key, vals := range m.Header {
		h[key] = append([]string(nil), vals...)
	}
	if v == "" {
		h.Del(k)
	} else {
		h.Set(k, v)
	}
	m.Header = h
	return m
}

func withData(m pipeline.Message, data string) pipeline.Message {
	m.Data = []byte(data)
	return m
}

func TestErrorMarkers(t *testing.T) {
	assert.Nil(t, pipeline.Permanent(nil))
	assert.Nil(t, pipeline.Unavailable(nil))
	base := errors.New("boom")
	p := pipeline.Permanent(base)
	assert.ErrorIs(t, p, base)
	assert.True(t, pipeline.IsPermanent(wrap(p)))
	assert.False(t, pipeline.IsPermanent(base))
	u := pipeline.Unavailable(base)
	assert.True(t, pipeline.IsUnavailable(wrap(u)))
	assert.Equal(t, "boom", u.Error())
	assert.False(t, pipeline.IsUnavailable(p))
}

func wrap(err error) error { return errors.Join(errors.New("context"), err) }

// FuzzDecode feeds arbitrary payloads and headers to every message type:
// decoding must never panic, and every failure must be permanent.
func FuzzDecode(f *testing.F) {
	f.Add(event.SubjectChunk, `{"document":{"path":"a.md"},"index":0,"total":1,"text":"x"}`, "1")
	f.Add(event.SubjectFileDiscovered, `{"path":"a.md","size":1,"sha256":"ab","object":"a.md@ab"}`, "1")
	f.Add(event.SubjectRecords, `{"source":{"path":"t.csv"},"batch":0,"nodes":[{"label":"Person","key":"a"}]}`, "1")
	f.Add(event.SubjectExtraction, `{"chunk":{"index":0},"mentions":null}`, "2")
	f.Add("docgraph.unknown", `[]`, "")
	f.Fuzz(func(t *testing.T, subject, data, version string) {
		h := nats.Header{}
		h.Set(pipeline.HeaderVersion, version)
		m := pipeline.Message{Subject: subject, Data: []byte(data), Header: h}
		targets := []any{&event.Chunk{}, &event.FileDiscovered{}, &event.FileDeleted{}, &event.Records{},
			&event.Extraction{}, &event.DocumentDeleted{}}
		for _, v := range targets {
			if err := m.Decode(v); err != nil && !pipeline.IsPermanent(err) {
				t.Fatalf("decode error is not permanent: %v", err)
			}
		}
	})
}
