package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/logging"
)

// Dead-letter headers.
const (
	HeaderStage        = "Docgraph-Stage"
	HeaderError        = "Docgraph-Error"
	HeaderErrorClass   = "Docgraph-Error-Class"
	HeaderAttempts     = "Docgraph-Attempts"
	HeaderOrigSubject  = "Docgraph-Original-Subject"
	HeaderOrigStream   = "Docgraph-Original-Stream"
	HeaderOrigSeq      = "Docgraph-Original-Seq"
	HeaderDeadLettered = "Docgraph-Dead-Lettered-At"

	ClassPermanent = "permanent"
	ClassExhausted = "exhausted"
)

// Config tunes one runner: one stage's durable consumer on one stream.
type Config struct {
	Stage   string
	Stream  string
	Durable string
	// FilterSubjects restricts the consumer; empty means the whole stream.
	FilterSubjects []string

	Concurrency    int             // handler goroutines
	MaxAckPending  int             // messages delivered but not yet acked
	AckWait        time.Duration   // redelivery timeout without InProgress
	MaxDeliver     int             // deliveries before a retryable failure is dead-lettered
	Backoff        []time.Duration // NakWithDelay per attempt; the last value repeats
	HandlerTimeout time.Duration   // per message (or batch)
	SlowAfter      time.Duration   // a handling running this long is logged as slow, and again each time its age doubles
	PublishWindow  int             // outputs published but not yet acknowledged
	PubAckTimeout  time.Duration   // an output not acknowledged within this failed (and holds the outputs after it until then)
	PullBatch      int             // messages buffered by the pull iterator
	// PullExpiry is how long one pull request waits on the server. The
	// server sends a heartbeat at half of it, and a pull that gets neither
	// messages nor heartbeats for the whole of it is renewed: it bounds
	// how long a pull request the server no longer holds can stall the
	// stage. That happens, rarely, under load: the consumer shows no waiting
	// pull and messages pending while the client still counts messages to
	// come (as in nats-io/nats.go#1622).
	PullExpiry      time.Duration
	ShutdownTimeout time.Duration // time in-flight work gets after a stop signal

	// BatchSize and BatchMaxWait apply to batch handlers: a batch is cut at
	// BatchSize(pending) messages or after BatchMaxWait, whichever is first.
	BatchSize    func(pending uint64) int
	BatchMaxWait time.Duration
}

func (c *Config) defaults() {
	if c.Durable == "" {
		c.Durable = c.Stage
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 1024
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
	}
	if c.HandlerTimeout <= 0 {
		c.HandlerTimeout = 5 * time.Minute
	}
	if c.SlowAfter <= 0 {
		c.SlowAfter = min(30*time.Second, c.HandlerTimeout/2)
	}
	if c.PublishWindow <= 0 {
		c.PublishWindow = 512
	}
	if c.PubAckTimeout <= 0 {
		c.PubAckTimeout = 5 * time.Second
	}
	if c.PullBatch <= 0 {
		c.PullBatch = 256
	}
	if c.PullExpiry <= 0 {
		c.PullExpiry = 5 * time.Second
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.BatchSize == nil {
		c.BatchSize = func(uint64) int { return 100 }
	}
	if c.BatchMaxWait <= 0 {
		c.BatchMaxWait = 100 * time.Millisecond
	}
}

// Outcome reports what the runner did with one input; see Runner.Observe.
type Outcome struct {
	Stage         string
	Subject       string
	StreamSeq     uint64
	CorrelationID string
	Result        string // OutcomeAck, OutcomeNak or OutcomeTerm
	Outputs       int    // outputs published (acked messages only)
	Err           error
}

// Runner consumes one stage's durable consumer and runs its handler: it
// owns decoding, publishing outputs, acking, retries and dead letters.
type Runner struct {
	cfg     Config
	js      jetstream.JetStream
	handle  StreamHandler
	batch   BatchHandler
	log     *slog.Logger
	metrics *Metrics
	observe Observer

	outage outage
	full   storageFull
	track  *tracker
	copies *copies
	stage  stageMetrics
	window chan struct{}
	queue  chan item
	done   chan struct{} // closed when Run stops accepting work (shutdown)
	// consuming is closed once Run has its durable consumer and pulls.
	consuming chan struct{}
}

// NewRunner returns a runner for a (stream) handler.
func NewRunner(cfg Config, js jetstream.JetStream, h StreamHandler, logger *slog.Logger, m *Metrics) (*Runner, error) {
	return newRunner(cfg, js, h, nil, logger, m)
}

// NewBatchRunner returns a runner for a batch handler.
func NewBatchRunner(cfg Config, js jetstream.JetStream, h BatchHandler, logger *slog.Logger, m *Metrics) (*Runner, error) {
	return newRunner(cfg, js, nil, h, logger, m)
}

func newRunner(cfg Config, js jetstream.JetStream, h StreamHandler, b BatchHandler, logger *slog.Logger, m *Metrics) (*Runner, error) {
	if cfg.Stage == "" || cfg.Stream == "" {
		return nil, errors.New("pipeline: stage and stream are required")
	}
	if js == nil || logger == nil || m == nil {
		return nil, errors.New("pipeline: jetstream, logger and metrics are required")
	}
	cfg.defaults()
	r := &Runner{
		cfg:       cfg,
		js:        js,
		handle:    h,
		batch:     b,
		log:       logger.With(slog.String(logging.KeyStage, cfg.Stage)),
		metrics:   m,
		window:    make(chan struct{}, cfg.PublishWindow),
		queue:     make(chan item, cfg.PublishWindow+cfg.Concurrency+16),
		done:      make(chan struct{}),
		consuming: make(chan struct{}),
		stage:     m.forStage(cfg.Stage),
	}
	r.track = newTracker(cfg.AckWait, cfg.SlowAfter, r.warnSlow)
	r.copies = newCopies(max(cfg.MaxAckPending+cfg.PullBatch, 1024))
	return r, nil
}

// Observer follows work through the pipeline (e.g. `docgraph ingest`
// waiting for every file). Emitted is called before an output is published,
// so a downstream stage can never finish an output before it was counted;
// Dropped when an output was not stored (a duplicate, or a failed
// publish); Finished once per input after its final outcome. Methods must be
// fast and safe for concurrent use.
type Observer interface {
	Emitted(correlationID string)
	Dropped(correlationID string)
	Finished(Outcome)
}

// Observe registers o. Call before Run.
func (r *Runner) Observe(o Observer) { r.observe = o }

// ConsumerConfig is the durable consumer the runner creates.
func (r *Runner) ConsumerConfig() jetstream.ConsumerConfig {
	c := r.cfg
	return jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   "docgraph " + c.Stage,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		// The server never gives up on a message by itself (it would drop
		// it silently after MaxDeliver); the runner counts deliveries and
		// dead-letters instead.
		MaxDeliver:     -1,
		MaxAckPending:  c.MaxAckPending,
		FilterSubjects: c.FilterSubjects,
	}
}

// Consuming is closed once Run has created (or found) its durable consumer
// and pulls from it: from then on the runner gets its share of the stream.
func (r *Runner) Consuming() <-chan struct{} { return r.consuming }

// Stage is the name of the runner's stage.
func (r *Runner) Stage() string { return r.cfg.Stage }

// Run consumes until ctx is cancelled, then stops pulling, lets in-flight
// work finish (up to ShutdownTimeout), returns unstarted messages to the
// server and returns nil.
func (r *Runner) Run(ctx context.Context) error {
	cons, err := r.js.CreateOrUpdateConsumer(ctx, r.cfg.Stream, r.ConsumerConfig())
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: create consumer %s on %s: %w", r.cfg.Stage, r.cfg.Durable, r.cfg.Stream, err)
	}
	r.checkMissed(ctx)
	if info := cons.CachedInfo(); info != nil && info.Paused {
		// A process of this stage paused the consumer for an outage and
		// stopped before it ended: the pause would hold every replica for
		// the rest of pauseFor. Resume; should the dependency still be
		// down, the first message it fails pauses the consumer again.
		r.log.Info("consumer left paused by an earlier process; resuming it",
			slog.String("consumer", r.cfg.Durable), slog.Duration("pause_left", info.PauseRemaining.Round(time.Second)))
		if err := r.resume(ctx); err != nil {
			r.log.WarnContext(ctx, "resume consumer failed; retrying", slog.Any(logging.KeyErr, err))
			go r.retryResume(ctx, 0)
		}
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(r.cfg.PullBatch), jetstream.PullExpiry(r.cfg.PullExpiry))
	if err != nil {
		return fmt.Errorf("%s: consume %s: %w", r.cfg.Stage, r.cfg.Stream, err)
	}
	r.log.Info("stage consuming", slog.String("stream", r.cfg.Stream), slog.String("consumer", r.cfg.Durable))
	close(r.consuming)

	// Work gets its own context: a stop signal stops pulling at once but
	// leaves in-flight handlers ShutdownTimeout to finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopTimer := context.AfterFunc(ctx, func() {
		close(r.done)
		time.AfterFunc(r.cfg.ShutdownTimeout, cancelWork)
	})
	defer stopTimer()

	in := make(chan delivery)
	go r.fetch(ctx, it, in)

	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		r.complete()
	}()
	go r.track.run(completerDone)

	var wg sync.WaitGroup
	if r.batch != nil {
		wg.Go(func() { r.batchLoop(workCtx, in) })
	} else {
		for range r.cfg.Concurrency {
			wg.Go(func() {
				for d := range in {
					r.process(workCtx, d)
				}
			})
		}
	}
	wg.Wait()
	close(r.queue)
	<-completerDone
	r.log.Info("stage stopped", slog.String("stream", r.cfg.Stream))
	return nil
}

// checkMissed reports the messages that left the input stream before the
// stage received them, which can only be seen before the consumer pulls
// past the gap: at start and at the end of an outage (the consumer is
// still paused then).
func (r *Runner) checkMissed(ctx context.Context) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	n, err := bus.Missed(cctx, r.js, r.cfg.Stream, r.cfg.Durable)
	if err != nil {
		r.log.WarnContext(ctx, "could not check the input stream for messages missed", slog.Any(logging.KeyErr, err))
		return
	}
	if n == 0 {
		return
	}
	r.metrics.missed.WithLabelValues(r.cfg.Stage).Add(float64(n))
	r.log.ErrorContext(ctx, "messages left the input stream before this stage received them (the stream's max age or size limit): the graph lacks what they carried",
		slog.String("stream", r.cfg.Stream), slog.Uint64("missed", n),
		slog.String("recover", "see \"Messages missed\" in deployments/README.md"))
}

// fetch feeds messages to the workers until ctx is cancelled; then it
// stops pulling and returns the messages still buffered to the server
// (Nak), so a restart gets them at once instead of after AckWait.
func (r *Runner) fetch(ctx context.Context, it jetstream.MessagesContext, in chan<- delivery) {
	defer close(in)
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				r.returnBuffered(it)
				return
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				// The server's heartbeat came late (this process or the
				// server was busy): the iterator pulls again by itself.
				r.log.Info("pull renewed after a missed heartbeat", slog.String("stream", r.cfg.Stream), slog.Any(logging.KeyErr, err))
				continue
			}
			r.log.Warn("pull failed", slog.Any(logging.KeyErr, err))
			continue
		}
		d := delivery{msg: m}
		if md, err := m.Metadata(); err == nil {
			d.md = md
		}
		if !r.admit(d) {
			continue
		}
		select {
		case in <- d:
		case <-ctx.Done():
			if d.md != nil {
				r.copies.untake(d.md.Sequence.Stream)
			}
			_ = m.Nak()
			r.returnBuffered(it)
			return
		}
	}
}

func (r *Runner) returnBuffered(it jetstream.MessagesContext) {
	// Collect first and nak only once the subscription is gone: a nak while
	// it still has interest would be redelivered to it at once, again and
	// again, inflating the delivery count.
	it.Drain()
	var held []jetstream.Msg
	for {
		m, err := it.Next(jetstream.NextMaxWait(100 * time.Millisecond))
		if err != nil {
			break
		}
		held = append(held, m)
	}
	it.Stop()
	if c, ok := it.(interface{ Closed() <-chan struct{} }); ok {
		select {
		case <-c.Closed():
		case <-time.After(2 * time.Second):
		}
	}
	// The unsubscribe must reach the server before the naks, or the server
	// hands them straight back to the subscription being closed.
	_ = r.js.Conn().FlushTimeout(2 * time.Second)
	for _, m := range held {
		_ = m.Nak()
	}
	if len(held) > 0 {
		r.log.Info("unstarted messages returned", slog.Int("count", len(held)))
	}
}

// state is one input's progress.
type state struct {
	raw     jetstream.Msg
	in      Message
	start   time.Time
	outputs int
	pubErr  error
	// badPayload is why the input's payload could not be read (a
	// compressed payload that does not decompress); it is dead-lettered
	// without handling.
	badPayload error
	ctx        context.Context
	// The tracker's ring of held messages, and the next heartbeat's time.
	prev, next *state
	beatAt     time.Time
}

// item is a queue entry for the completer: an output's PubAck future, or
// the end of an input (fin).
type item struct {
	st  *state
	fut jetstream.PubAckFuture
	fin bool
	err error
	cid string
}

// delivery is a message as the runner received it, with its JetStream
// metadata (nil for a message without), parsed once from its reply subject.
type delivery struct {
	msg jetstream.Msg
	md  *jetstream.MsgMetadata
}

// input returns the state of a delivered message. Its payload is handed
// to the handler as plain JSON: a compressed one is decompressed, and the
// encoding header removed (a dead letter then holds the plain payload).
func (r *Runner) input(d delivery) *state {
	m := d.msg
	msg := Message{Subject: m.Subject(), Data: m.Data(), Header: m.Headers()}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	if d.md != nil {
		msg.StreamSeq = d.md.Sequence.Stream
		msg.Delivered = d.md.NumDelivered
	}
	st := &state{raw: m, start: time.Now()}
	if msg.Header.Get(bus.HeaderEncoding) != "" {
		data, err := bus.Payload(msg.Header, msg.Data)
		if err != nil {
			st.badPayload = Permanent(fmt.Errorf("decode %s: %w", msg.Subject, err))
		} else {
			msg.Data = data
			msg.Header = maps.Clone(msg.Header)
			msg.Header.Del(bus.HeaderEncoding)
		}
	}
	st.in = msg
	return st
}

// unhandled returns why st is dead-lettered without handling, if it is.
func (r *Runner) unhandled(st *state) error {
	if st.badPayload != nil {
		return st.badPayload
	}
	return r.overDelivered(st)
}

func (r *Runner) process(workCtx context.Context, d delivery) {
	st := r.input(d)
	st.ctx = logging.WithMessage(workCtx, st.in.CorrelationID(), r.cfg.Stage, st.in.Subject, st.in.StreamSeq)
	r.stage.inFlight.Inc()
	r.track.hold(st)
	if err := r.unhandled(st); err != nil {
		r.queue <- item{st: st, fin: true, err: err}
		return
	}

	handle := func() error {
		hctx, cancel := context.WithTimeout(st.ctx, r.cfg.HandlerTimeout)
		defer cancel()
		defer r.watchSlow(st.ctx, time.Now(), 1,
			slog.String(logging.KeySubject, st.in.Subject), slog.Uint64(logging.KeySeq, st.in.StreamSeq))()
		return r.safeHandle(hctx, st)
	}
	err := handle()
	for attempt := 0; IsUnavailable(err) && r.hold(st.ctx, err, attempt); attempt++ {
		err = handle()
	}
	if err == nil {
		r.recovered(st.ctx)
	}
	r.queue <- item{st: st, fin: true, err: err}
}

type panicError struct {
	val   any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.val) }

func (r *Runner) safeHandle(ctx context.Context, st *state) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{val: v, stack: debug.Stack()}
		}
	}()
	return r.handle(ctx, st.in, func(out Message) error { return r.publish(ctx, st, out) })
}

func (r *Runner) publish(ctx context.Context, st *state, out Message) error {
	nm := nats.NewMsg(out.Subject)
	nm.Data = out.Data
	if out.Header != nil {
		nm.Header = out.Header
	}
	if nm.Header.Get(HeaderCorrelationID) == "" {
		if cid := st.in.CorrelationID(); cid != "" {
			nm.Header.Set(HeaderCorrelationID, cid)
		}
	}
	id := out.ID
	if id == "" {
		id = r.cfg.Stream + ":" + strconv.FormatUint(st.in.StreamSeq, 10) + ":" + strconv.Itoa(st.outputs)
	}
	nm.Header.Set(HeaderMsgID, OutputMsgID(r.cfg.Stage, id))
	nm.Data = bus.EncodePayload(nm.Header, nm.Data)
	select {
	case r.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.observe != nil {
		r.observe.Emitted(nm.Header.Get(HeaderCorrelationID))
	}
	fut, err := r.js.PublishMsgAsync(nm)
	if err != nil {
		if r.observe != nil {
			r.observe.Dropped(nm.Header.Get(HeaderCorrelationID))
		}
		<-r.window
		return fmt.Errorf("publish %s: %w", out.Subject, err)
	}
	st.outputs++
	r.queue <- item{st: st, fut: fut, cid: nm.Header.Get(HeaderCorrelationID)}
	return nil
}

// complete resolves PubAck futures in order and finishes inputs whose
// outputs are all acknowledged.
func (r *Runner) complete() {
	wait := time.NewTimer(r.cfg.PubAckTimeout)
	wait.Stop()
	for it := range r.queue {
		if it.fut != nil {
			if ack, err := r.pubAck(it.fut, wait); err != nil {
				if it.st.pubErr == nil {
					it.st.pubErr = fmt.Errorf("publish %s: %w", it.fut.Msg().Subject, err)
				}
				if r.observe != nil {
					r.observe.Dropped(it.cid)
				}
			} else {
				r.stage.outputs.Inc()
				if ack.Duplicate && r.observe != nil {
					r.observe.Dropped(it.cid)
				}
			}
			<-r.window
			continue
		}
		r.finish(it.st, it.err)
	}
}

// pubAck waits for fut's outcome, at most PubAckTimeout (with wait, the
// completer's timer): a JetStream context without its own publish timeout
// never resolves a future whose ack was lost with its connection.
func (r *Runner) pubAck(fut jetstream.PubAckFuture, wait *time.Timer) (*jetstream.PubAck, error) {
	select {
	case ack := <-fut.Ok():
		return ack, nil
	case err := <-fut.Err():
		return nil, err
	default:
	}
	wait.Reset(r.cfg.PubAckTimeout)
	defer wait.Stop()
	select {
	case ack := <-fut.Ok():
		return ack, nil
	case err := <-fut.Err():
		return nil, err
	case <-wait.C:
		return nil, fmt.Errorf("no PubAck within %s", r.cfg.PubAckTimeout)
	}
}

// finish acks, naks or dead-letters one input.
func (r *Runner) finish(st *state, herr error) {
	r.track.release(st)
	r.stage.inFlight.Dec()
	r.stage.duration.Observe(time.Since(st.start).Seconds())
	// An output that was not stored is retried with its input, even when
	// the handler failed permanently after emitting it: dead-lettering the
	// input would lose the output (a parser's withdrawal of an unreadable
	// version, say). A retry emits it again, and a lasting failure ends in
	// the dead letter queue after MaxDeliver.
	if st.pubErr != nil && (herr == nil || IsPermanent(herr)) {
		herr = st.pubErr
	}
	out := Outcome{Stage: r.cfg.Stage, Subject: st.in.Subject, StreamSeq: st.in.StreamSeq,
		CorrelationID: st.in.CorrelationID(), Err: herr}
	// The logger naming the message is built only for a line to log: most
	// messages are acked without one, and building it costs allocations.
	var log *slog.Logger
	if herr != nil || r.log.Enabled(st.ctx, slog.LevelDebug) {
		log = r.messageLogger(st)
	}

	var pe *panicError
	switch {
	case herr == nil:
		if err := st.raw.Ack(); err != nil {
			if log == nil {
				log = r.messageLogger(st)
			}
			log.WarnContext(st.ctx, "ack failed", slog.Any(logging.KeyErr, err))
		}
		out.Result, out.Outputs = OutcomeAck, st.outputs
		if log != nil {
			log.DebugContext(st.ctx, "message processed", slog.Int("outputs", st.outputs),
				slog.Duration("took", time.Since(st.start)))
		}
	case r.stopping() && (errors.Is(herr, context.Canceled) || IsUnavailable(herr)):
		_ = st.raw.Nak()
		out.Result = OutcomeNak
		log.InfoContext(st.ctx, "message returned at shutdown")
	case bus.IsStorageFull(herr):
		r.waitForRoom(st.ctx, st.in.StreamSeq, herr)
		_ = st.raw.NakWithDelay(r.backoff(st.in.Delivered))
		out.Result = OutcomeNak
		log.DebugContext(st.ctx, "message nacked: no room in JetStream", slog.Any(logging.KeyErr, herr))
	case errors.As(herr, &pe):
		log.ErrorContext(st.ctx, "handler panicked", slog.Any(logging.KeyErr, herr), slog.String("stack", string(pe.stack)))
		out.Result = r.deadLetter(st, herr, ClassPermanent, ReasonPanic, log)
	case IsPermanent(herr):
		out.Result = r.deadLetter(st, herr, ClassPermanent, ReasonPermanent, log)
	case errors.Is(herr, errOverDelivered):
		out.Result = r.deadLetter(st, herr, ClassExhausted, ReasonMaxDeliver, log)
	case st.in.Delivered >= uint64(r.cfg.MaxDeliver):
		out.Result = r.deadLetter(st, herr, ClassExhausted, ReasonMaxDeliver, log)
	default:
		delay := r.retryDelay(st.in.Delivered, herr)
		_ = st.raw.NakWithDelay(delay)
		out.Result = OutcomeNak
		log.WarnContext(st.ctx, "message nacked", slog.Any(logging.KeyErr, herr), slog.Duration("retry_in", delay))
	}
	if !bus.IsStorageFull(herr) {
		r.roomFound(st.in.StreamSeq)
	}
	if st.in.StreamSeq != 0 {
		r.copies.finished(st.in.StreamSeq, out.Result)
	}
	r.stage.messages(out.Result).Inc()
	if r.observe != nil {
		r.observe.Finished(out)
	}
}

// messageLogger is the stage's logger with the message's subject, stream
// sequence and delivery count.
func (r *Runner) messageLogger(st *state) *slog.Logger {
	return r.log.With(
		slog.String(logging.KeySubject, st.in.Subject),
		slog.Uint64(logging.KeySeq, st.in.StreamSeq),
		slog.Uint64(logging.KeyDelivery, st.in.Delivered))
}

func (r *Runner) stopping() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// retryDelay is the backoff after a failed delivery, or the delay a
// RetryAfterError asks for if that is longer (at most MaxRetryAfter).
func (r *Runner) retryDelay(delivered uint64, err error) time.Duration {
	d := r.backoff(delivered)
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		d = max(d, min(ra.After, MaxRetryAfter))
	}
	return d
}

func (r *Runner) backoff(delivered uint64) time.Duration {
	i := int(delivered) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(r.cfg.Backoff) {
		i = len(r.cfg.Backoff) - 1
	}
	return r.cfg.Backoff[i]
}

// deadLetter publishes the input, byte for byte, to the stage's DLQ subject
// with the reason in headers, then terms it. If the DLQ publish fails the
// input is nacked instead, so nothing is lost.
//
// An input is dead-lettered once: a dead letter's message ID names the
// input, not its delivery, so a redelivery after a lost Term (a server
// failover) adds no second entry. Should that entry be gone already
// (replayed or purged), the redelivery is recorded again.
func (r *Runner) deadLetter(st *state, herr error, class, reason string, log *slog.Logger) string {
	nm := DeadLetter(r.cfg.Stage, r.cfg.Stream, st.in, herr, class)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(st.ctx), 10*time.Second)
	defer cancel()
	if err := r.publishDeadLetter(ctx, nm, st.in.Delivered); err != nil {
		_ = st.raw.NakWithDelay(r.backoff(st.in.Delivered))
		log.ErrorContext(st.ctx, "dead letter publish failed; message nacked",
			slog.Any(logging.KeyErr, herr), slog.String("dlq_err", err.Error()))
		return OutcomeNak
	}
	_ = st.raw.Term()
	r.metrics.dlq.WithLabelValues(r.cfg.Stage, reason).Inc()
	log.ErrorContext(st.ctx, "message dead-lettered", slog.Any(logging.KeyErr, herr),
		slog.String("class", class), slog.String("dlq_subject", nm.Subject))
	return OutcomeTerm
}

// publishDeadLetter publishes nm; a duplicate of a dead letter no longer
// stored is published again under an ID of this delivery.
func (r *Runner) publishDeadLetter(ctx context.Context, nm *nats.Msg, delivered uint64) error {
	ack, err := r.js.PublishMsg(ctx, nm)
	if err != nil || !ack.Duplicate {
		return err
	}
	s, err := r.js.Stream(ctx, ack.Stream)
	if err != nil {
		return err
	}
	if _, err = s.GetMsg(ctx, ack.Sequence); !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	nm.Header.Set(HeaderMsgID, nm.Header.Get(HeaderMsgID)+":"+strconv.FormatUint(delivered, 10))
	_, err = r.js.PublishMsg(ctx, nm)
	return err
}

// DeadLetter builds the dead-letter message for in: the original payload and
// headers plus the reason. Its message ID names the input (stage, stream,
// sequence), so JetStream keeps one dead letter per input.
func DeadLetter(stage, stream string, in Message, herr error, class string) *nats.Msg {
	nm := nats.NewMsg("docgraph.dlq." + stage)
	nm.Data = in.Data
	for k, v := range in.Header {
		// Publish expectations (Nats-Expected-Stream, ...) are stored with
		// the original and would make the DLQ publish fail.
		if k == HeaderMsgID || strings.HasPrefix(k, "Nats-Expected-") {
			continue
		}
		nm.Header[k] = append([]string(nil), v...)
	}
	nm.Header.Set(HeaderStage, stage)
	nm.Header.Set(HeaderError, headerSafe(herr.Error()))
	nm.Header.Set(HeaderErrorClass, class)
	nm.Header.Set(HeaderAttempts, strconv.FormatUint(in.Delivered, 10))
	nm.Header.Set(HeaderOrigSubject, in.Subject)
	nm.Header.Set(HeaderOrigStream, stream)
	nm.Header.Set(HeaderOrigSeq, strconv.FormatUint(in.StreamSeq, 10))
	nm.Header.Set(HeaderDeadLettered, time.Now().UTC().Format(time.RFC3339Nano))
	nm.Header.Set(HeaderMsgID, "dlq:"+stage+":"+stream+":"+strconv.FormatUint(in.StreamSeq, 10))
	return nm
}

// OutputMsgID is the Nats-Msg-Id of a stage's output with the given ID:
// the stage and a digest of the ID. The server keeps every ID of a
// deduplication window in memory; an output ID (a chunk key with its
// document version, say) is some 95 bytes, its digest 22.
func OutputMsgID(stage, id string) string {
	sum := sha256.Sum256([]byte(id))
	return stage + ":" + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// headerSafe keeps an error on one header line and bounded in size.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	const max = 4000
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

var errOverDelivered = errors.New("delivered more often than max_deliver without finishing (did a worker crash on it?)")

// overDelivered stops a message that keeps coming back without ever
// finishing (it crashed or hung its workers): past MaxDeliver deliveries it
// is dead-lettered without calling the handler again, unless it was last
// retried for want of room in JetStream.
func (r *Runner) overDelivered(st *state) error {
	if st.in.Delivered > uint64(r.cfg.MaxDeliver) && !r.waitingForRoom(st.in.StreamSeq) {
		return fmt.Errorf("%w: %d deliveries", errOverDelivered, st.in.Delivered)
	}
	return nil
}
