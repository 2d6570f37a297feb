package bus_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
)

func TestPayloadRoundTrip(t *testing.T) {
	text := []byte(`{"chunk":{"text":"` + strings.Repeat("Alice Smith manages PRJ-1042 under AACE-101. ", 60) + `"}}`)
	tests := []struct {
		name       string
		give       []byte
		compressed bool
	}{
		{name: "chunk text", give: text, compressed: true},
		{name: "small", give: []byte(`{"path":"a.md"}`)},
		{name: "just under the minimum", give: bytes.Repeat([]byte("a"), 1023)},
		{name: "incompressible", give: incompressible(4096)},
		{name: "empty", give: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A header that came with the payload (copied from an input,
			// say) does not survive: the header says how data is stored.
			h := nats.Header{bus.HeaderEncoding: []string{bus.EncodingS2}}
			stored := bus.EncodePayload(h, tt.give)
			if tt.compressed {
				assert.Equal(t, bus.EncodingS2, h.Get(bus.HeaderEncoding))
				assert.Less(t, len(stored), len(tt.give)/3, "chunk text compresses to under a third")
			} else {
				assert.Empty(t, h.Get(bus.HeaderEncoding))
				assert.Equal(t, tt.give, stored, "stored as it is")
			}
			got, err := bus.Payload(h, stored)
			require.NoError(t, err)
			assert.Equal(t, string(tt.give), string(got))
			assert.Equal(t, string(tt.give), string(bus.PlainPayload(h, stored)))
		})
	}
}

// incompressible returns n bytes that S2 cannot shrink.
func incompressible(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

func TestPayloadErrors(t *testing.T) {
	s2 := nats.Header{bus.HeaderEncoding: []string{bus.EncodingS2}}
	// An S2 block starts with the decoded length as a varint.
	bomb := binary.AppendUvarint(nil, bus.MaxDecodedPayload+1)
	tests := []struct {
		name    string
		h       nats.Header
		data    []byte
		wantErr string
	}{
		{name: "unknown encoding", h: nats.Header{bus.HeaderEncoding: []string{"zstd"}}, data: []byte("x"),
			wantErr: `payload: unknown Docgraph-Encoding "zstd" (this build reads "s2")`},
		{name: "not s2", h: s2, data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			wantErr: "payload (Docgraph-Encoding s2): s2: corrupt input"},
		{name: "truncated", h: s2, data: bus.EncodePayload(nats.Header{}, []byte(strings.Repeat("abcdefgh", 512)))[:40],
			wantErr: "payload (Docgraph-Encoding s2): s2: corrupt input"},
		{name: "expands past the limit", h: s2, data: append(bomb, 0),
			wantErr: "decompresses to 268435457 bytes, over the limit of 268435456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bus.Payload(tt.h, tt.data)
			require.ErrorContains(t, err, tt.wantErr)
			assert.Nil(t, bus.PlainPayload(tt.h, tt.data))
		})
	}
}
