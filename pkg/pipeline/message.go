// Package pipeline runs stage handlers against JetStream consumers: it owns
// consuming, decoding, publishing outputs, acking, retries, dead letters,
// correlation IDs, logs and metrics, so that a stage is only a Handler.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/nats-io/nats.go"

	"github.com/docgraph/docgraph/pkg/event"
)

// Header names carried by every docgraph message.
const (
	HeaderCorrelationID = "Correlation-ID"
	HeaderMsgID         = nats.MsgIdHdr // "Nats-Msg-Id"
	HeaderType          = "Docgraph-Type"
	HeaderVersion       = "Docgraph-Version"
)

// Message is one message in or out of a stage. Inputs carry the stream
// metadata; outputs are built with NewMessage.
type Message struct {
	Subject string
	Data    []byte
	Header  nats.Header

	// ID, when set on an output, becomes its Nats-Msg-Id (prefixed by the
	// runner with the stage); otherwise the runner derives one from the input
	// and the output's position, which is stable across redeliveries.
	ID string

	// Input metadata (zero on outputs).
	StreamSeq uint64
	Delivered uint64
}

// Handler turns one input message into zero or more output messages.
// It must not ack, nak, publish or sleep: the Runner owns delivery.
// It may see the same input twice (at-least-once), so it must be idempotent.
// An error is retryable unless wrapped with Permanent.
type Handler func(ctx context.Context, in Message) ([]Message, error)

// BatchHandler handles several inputs at once (the graph writer). It returns
// one error slot per input (nil = done); a nil slice means all succeeded.
// Outputs are not supported for batches.
type BatchHandler func(ctx context.Context, in []Message) []error

// NewMessage encodes v as JSON for subject, with type and version headers.
func NewMessage(subject string, v any) (Message, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Message{}, fmt.Errorf("encode %s: %w", subject, err)
	}
	h := nats.Header{}
	if t := event.TypeOf(subject); t != "" {
		h.Set(HeaderType, t)
	}
	h.Set(HeaderVersion, event.Version)
	return Message{Subject: subject, Data: data, Header: h}, nil
}

// MustMessage is NewMessage for values that always encode (tests, static
// payloads); it panics on error.
func MustMessage(subject string, v any) Message {
	m, err := NewMessage(subject, v)
	if err != nil {
		panic(err)
	}
	return m
}

// CorrelationID returns the message's correlation ID header.
func (m Message) CorrelationID() string { return m.Header.Get(HeaderCorrelationID) }

// Decode checks the type and version headers and decodes the JSON payload
// strictly: a member the type does not have (names match exactly, as in
// the schemas), a name given twice, invalid UTF-8 or anything after the
// value is an error. Every failure is Permanent: the same bytes will never
// decode on a retry. It decodes with the engine of encoding/json/v2, which
// reads a chunk's extraction in about a third of encoding/json's time;
// encoding stays with encoding/json.
func (m Message) Decode(v any) error {
	if want := event.TypeOf(m.Subject); want != "" {
		if got := m.Header.Get(HeaderType); got != "" && got != want {
			return Permanent(fmt.Errorf("decode %s: message type %q, want %q", m.Subject, got, want))
		}
	}
	if ver := m.Header.Get(HeaderVersion); ver != event.Version {
		return Permanent(fmt.Errorf("decode %s: unsupported message version %q (this build reads %q)", m.Subject, ver, event.Version))
	}
	if err := jsonv2.Unmarshal(m.Data, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		return Permanent(fmt.Errorf("decode %s: %w", m.Subject, unknownField(err)))
	}
	return nil
}

// unknownField words an error for a member the type does not have as
// `unknown field "name"`, with where it is when it is not at the top.
func unknownField(err error) error {
	var se *jsonv2.SemanticError
	if !errors.As(err, &se) || !errors.Is(se.Err, jsonv2.ErrUnknownName) {
		return err
	}
	msg := fmt.Sprintf("json: unknown field %q", se.JSONPointer.LastToken())
	if parent := se.JSONPointer.Parent(); parent != "" {
		msg += fmt.Sprintf(" within %q", parent)
	}
	return errors.New(msg)
}

// PermanentError marks an error that retrying cannot fix: the runner
// dead-letters the message at once.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err (or anything it wraps) is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Emit publishes one output of the message being handled. It returns once
// the output is handed to the publisher (not yet acknowledged: the runner
// waits for every output's PubAck before it acks the input), and blocks
// while too many outputs are in flight, so a handler that streams a large
// file keeps memory flat.
type Emit func(Message) error

// StreamHandler is a Handler that emits its outputs one by one instead of
// returning them, for inputs that expand into many outputs (a spreadsheet
// into record batches). The same rules as for Handler apply.
type StreamHandler func(ctx context.Context, in Message, emit Emit) error

// Stream adapts a Handler to a StreamHandler.
func Stream(h Handler) StreamHandler {
	return func(ctx context.Context, in Message, emit Emit) error {
		out, err := h(ctx, in)
		if err != nil {
			return err
		}
		for _, m := range out {
			if err := emit(m); err != nil {
				return err
			}
		}
		return nil
	}
}

// RetryAfterError is a retryable error whose source said when to try
// again (an API's Retry-After): the runner naks the message with that delay
// when it is longer than the stage's backoff, up to MaxRetryAfter. It still
// counts a delivery, so max_deliver bounds the attempts.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// MaxRetryAfter bounds the delay a RetryAfterError gets.
const MaxRetryAfter = 15 * time.Minute

// RetryAfter marks err as retryable no sooner than after d.
// RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, After: d}
}

// UnavailableError marks a failure caused by a dependency being down (the
// graph store, an LLM API). The runner does not nak such a message — a nak
// would count a delivery — but holds it, pauses the stage's consumer and
// retries with backoff until the dependency answers again.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// Unavailable marks err as a dependency outage. Unavailable(nil) is nil.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	return &UnavailableError{Err: err}
}

// IsUnavailable reports whether err (or anything it wraps) is an outage.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}
