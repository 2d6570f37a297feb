package bus

import (
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/nats-io/nats.go"
)

// How a payload is stored. The stages' outputs that carry text (chunks,
// their extractions, record batches) are most of what the streams hold.
// They are stored S2-compressed, which makes them about a third of their
// size: on disk, over the network, and in the server's cache of recently
// used stream blocks, which holds some seconds of every stream's traffic
// (most of the Go heap of a busy embedded deployment). The header says so;
// a message without it is plain JSON, as every message of earlier
// versions is, and reads as before.
const (
	HeaderEncoding = "Docgraph-Encoding"
	EncodingS2     = "s2"

	// compressMin is the smallest payload worth compressing; below it the
	// header would take what the compression saves.
	compressMin = 1024
	// MaxDecodedPayload bounds what a compressed payload may expand to, so
	// that a crafted message cannot make a stage allocate without limit.
	MaxDecodedPayload = 256 << 20
)

// EncodePayload returns the plain payload data as it is to be stored, and
// makes HeaderEncoding in h say how: compressed for payloads of
// compressMin bytes or more that compress to less, absent otherwise.
func EncodePayload(h nats.Header, data []byte) []byte {
	h.Del(HeaderEncoding)
	if len(data) < compressMin {
		return data
	}
	enc := s2.Encode(nil, data)
	if len(enc) >= len(data) {
		return data
	}
	h.Set(HeaderEncoding, EncodingS2)
	return enc
}

// Payload returns the JSON payload of a stored message whose headers are
// h: data itself, or data decompressed as HeaderEncoding says. An encoding
// this build does not know, or data that does not decompress, is an error
// that the same bytes will always give.
func Payload(h nats.Header, data []byte) ([]byte, error) {
	switch enc := h.Get(HeaderEncoding); enc {
	case "":
		return data, nil
	case EncodingS2:
		n, err := s2.DecodedLen(data)
		if err != nil {
			return nil, fmt.Errorf("payload (%s %s): %w", HeaderEncoding, enc, err)
		}
		if n > MaxDecodedPayload {
			return nil, fmt.Errorf("payload (%s %s): decompresses to %d bytes, over the limit of %d", HeaderEncoding, enc, n, MaxDecodedPayload)
		}
		out, err := s2.Decode(make([]byte, n), data)
		if err != nil {
			return nil, fmt.Errorf("payload (%s %s): %w", HeaderEncoding, enc, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("payload: unknown %s %q (this build reads %q)", HeaderEncoding, enc, EncodingS2)
	}
}

// PlainPayload is Payload for readers that only look into payloads (to
// find the file they are about, say): nil where Payload fails.
func PlainPayload(h nats.Header, data []byte) []byte {
	p, err := Payload(h, data)
	if err != nil {
		return nil
	}
	return p
}
