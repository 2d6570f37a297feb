package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/gazetteer"
	"github.com/docgraph/docgraph/pkg/logging"
)

const statusHelp = `Prints per stage: its state, messages pending, in flight (delivered, not yet
acked), redelivered, and dead-lettered; per stream (the pipeline's, then the buckets'
and any other in the account): messages and bytes stored, and its limits; then how
much of its limit the JetStream store uses, with a warning when a limit is nearly
reached; then the gazetteer's revision (the names known from spreadsheets), the
revision the chunks have been re-extracted with (behind it while a refresh is
pending) and the extractor doing the refreshes. While a stage has work pending or in flight, status looks at the stages twice,
--rate-window apart (1s), and shows how many messages each acked per second over that
window (ACKED/S) and, at that rate, how long its pending and in-flight messages will
take (ETA). The state is
"pulling" (a worker asks for or holds messages), "no worker pulling" (start one: 'docgraph
worker STAGE', or 'docgraph up' on --data), "paused" (its dependency, e.g. the graph store, is down: the stage holds its
messages and resumes by itself) or "not started". Talks to NATS: --nats, or else the
docgraph whose data is under --data: the 'docgraph up' running there (through the NATS
address it recorded in --data), or the data itself when nothing runs there.`

// operatorSystem connects an operator command (named command, for other
// processes' messages) to the running system: an external NATS (--nats),
// the process that owns the data directory (through the NATS address it
// recorded there), or the data directory itself when nothing runs there.
func operatorSystem(ctx context.Context, cfg config.Config, log *slog.Logger, command string) (*system, error) {
	var att attachment
	if cfg.NATS.URL == "" {
		var err error
		if att, err = attachData(ctx, cfg, command, true, false); err != nil {
			return nil, err
		}
	}
	s, err := att.connect(ctx, cfg, log)
	if err != nil {
		return nil, errors.Join(err, att.lock.Close())
	}
	s.lock = att.lock
	if s.ns != nil {
		s.maxStore = s.ns.JetStreamConfig().MaxStore
	} else if cfg.NATS.URL == "" {
		s.maxStore = att.owner.MaxStore
		if s.maxStore <= 0 {
			s.maxStoreUnrecorded = att.owner.String()
		}
	}
	return s, nil
}

func cmdStatus(ctx context.Context, e env, args []string) error {
	window, asJSON := time.Second, false
	cfg, rest, err := parseFlags(e, "status", "[--rate-window D] [--json] [flags]", statusHelp, args, func(fs *flag.FlagSet) {
		fs.DurationVar(&window, "rate-window", window, "while a stage has work, measure the stages' rates over this long (0: do not)")
		fs.BoolVar(&asJSON, "json", false, "print the report as JSON, for scripts (counts null for a stage not started, rates null when not measured)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("status: unexpected argument %q", rest[0])
	}
	if window < 0 {
		return fmt.Errorf("status: --rate-window %s: must not be negative", window)
	}
	cfg.Log.Level = "error"
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	s, err := operatorSystem(ctx, cfg, log, "status")
	if err != nil {
		return err
	}
	defer s.close()
	dlq := map[string]uint64{}
	if st, err := s.js.Stream(ctx, bus.StreamDLQ); err == nil {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter("docgraph.dlq.>"))
		if err == nil {
			for subj, n := range info.State.Subjects {
				dlq[subj] = n
			}
		}
	}
	// Dead letters of file versions replaced since (a fixed file) are not
	// counted: they say nothing about the files as they are.
	dead, superseded, err := deadLetteredPerStream(ctx, s.js, dlq)
	if err != nil {
		return fmt.Errorf("status: dead letters: %w", err)
	}
	first, err := lookAtStages(ctx, s.js)
	if err != nil {
		return err
	}
	last := first
	// Nothing can move on the data's own server (no worker reaches it).
	if window > 0 && s.ns == nil && first.busy() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(window):
		}
		if last, err = lookAtStages(ctx, s.js); err != nil {
			return err
		}
	}
	rep := statusReport{Superseded: superseded, Warnings: []string{}}
	for i, c := range bus.Consumers {
		row := statusStage{Stage: c.Stage, Stream: c.Stream, State: "not started", DeadLettered: dead[c]}
		if info := last.infos[i]; info != nil {
			row.State = stageState(info, s.ns == nil)
			row.Pending, row.InFlight, row.Redelivered = ptr(info.NumPending), ptr(info.NumAckPending), ptr(info.NumRedelivered)
			row.AckedUpTo = ptr(info.AckFloor.Stream)
			row.AckedPerSecond, row.ETASeconds = measureRate(first.infos[i], info, first.at, last.at)
			if n, err := bus.Missed(ctx, s.js, c.Stream, c.Durable); err == nil {
				row.Missed = n
			}
		}
		rep.Stages = append(rep.Stages, row)
	}
	names, err := streamNames(ctx, s.js)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	for _, name := range names {
		st, err := s.js.Stream(ctx, name)
		if err != nil {
			continue
		}
		info := st.CachedInfo() // fetched by Stream
		row := statusStream{Name: name, Messages: info.State.Msgs, Bytes: info.State.Bytes, LastSeq: info.State.LastSeq,
			MaxBytes: max(info.Config.MaxBytes, 0), MaxAgeSeconds: info.Config.MaxAge.Seconds()}
		if info.Config.MaxBytes > 0 && float64(info.State.Bytes) >= nearlyFull*float64(info.Config.MaxBytes) && info.Config.Discard == jetstream.DiscardOld {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s holds %s of its max bytes: each new message now discards the oldest, which a stage behind would miss",
				name, percentOf(info.State.Bytes, info.Config.MaxBytes)))
		}
		rep.Streams = append(rep.Streams, row)
	}
	store, err := jetStreamStore(ctx, s)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	rep.Store = statusStore{Used: store.used, Limit: max(store.limit, 0), LimitOf: store.whose, Summary: store.String()}
	if store.nearlyFull() {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the JetStream store is %s full: when it is full, the stages wait for room; see \"A full store\" in deployments/README.md",
			percentOf(store.used, store.limit)))
	}
	if rep.Gazetteer, err = lookAtGazetteer(ctx, s.js); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if s.ns != nil {
		// The data's own server: no worker can reach it to pull.
		fmt.Fprintf(e.stderr, "note: no docgraph is running on %s; its stages pull again when 'docgraph up' or 'ingest' runs there\n", cfg.Data)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.print(e.stdout)
}

func ptr[T any](v T) *T { return &v }

// count renders a count of the report, "-" for none.
func count[T uint64 | int](p *T) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// statusReport is what status finds; --json prints it as it is.
type statusReport struct {
	Stages []statusStage `json:"stages"`
	// Superseded counts the dead letters of file versions replaced since,
	// left out of the stages' counts.
	Superseded int             `json:"superseded_dead_letters"`
	Streams    []statusStream  `json:"streams"`
	Store      statusStore     `json:"store"`
	Gazetteer  statusGazetteer `json:"gazetteer"`
	Warnings   []string        `json:"warnings"`
}

// statusGazetteer is the known names' revision (of the gazetteer bucket)
// and the revision every chunk has been extracted with, behind it while a
// refresh is pending; Refresher is the extractor holding the refresher
// lease, null when none does.
type statusGazetteer struct {
	Revision         uint64  `json:"revision"`
	RefreshedThrough uint64  `json:"refreshed_through"`
	Refresher        *string `json:"refresher"`
}

// lookAtGazetteer reads the gazetteer's revision, its refresh mark and
// the refresher lease.
func lookAtGazetteer(ctx context.Context, js jetstream.JetStream) (statusGazetteer, error) {
	var g statusGazetteer
	book, err := gazetteer.Open(ctx, js, logging.Discard())
	if err != nil {
		return g, err
	}
	if g.Revision, err = book.LastRevision(ctx); err != nil {
		return g, err
	}
	if g.RefreshedThrough, _, err = book.Refreshed(ctx); err != nil {
		return g, err
	}
	holder, err := bus.RefresherHolder(ctx, js)
	if err != nil {
		return g, err
	}
	if holder != "" {
		g.Refresher = &holder
	}
	return g, nil
}

// String says how far the chunks have been re-extracted for the names.
func (g statusGazetteer) String() string {
	s := fmt.Sprintf("Gazetteer: revision %d, chunks re-extracted through %d", g.Revision, g.RefreshedThrough)
	if g.Revision == 0 {
		s = "Gazetteer: empty"
	} else if g.RefreshedThrough < g.Revision {
		s += "; a refresh is pending"
	}
	if g.Refresher != nil {
		s += "; refresher: " + *g.Refresher
	}
	return s
}

// statusStage is one stage's consumer of one stream; the counts are null
// for a stage not started, the rate and ETA when not measured (or, for
// the ETA, with nothing left or nothing acked in the window).
type statusStage struct {
	Stage          string   `json:"stage"`
	Stream         string   `json:"stream"`
	State          string   `json:"state"`
	Pending        *uint64  `json:"pending"`
	InFlight       *int     `json:"in_flight"`
	Redelivered    *int     `json:"redelivered"`
	DeadLettered   uint64   `json:"dead_lettered"`
	AckedUpTo      *uint64  `json:"acked_up_to"`
	AckedPerSecond *float64 `json:"acked_per_second"`
	ETASeconds     *float64 `json:"eta_seconds"`
	// Missed counts messages that left the stream before the stage
	// received them.
	Missed uint64 `json:"missed"`
}

type statusStream struct {
	Name          string  `json:"name"`
	Messages      uint64  `json:"messages"`
	Bytes         uint64  `json:"bytes"`
	LastSeq       uint64  `json:"last_seq"`
	MaxBytes      int64   `json:"max_bytes"`       // 0: no limit
	MaxAgeSeconds float64 `json:"max_age_seconds"` // 0: no limit
}

type statusStore struct {
	Used    uint64 `json:"used_bytes"`
	Limit   int64  `json:"limit_bytes"` // 0: unknown or none
	LimitOf string `json:"limit_of,omitempty"`
	Summary string `json:"summary"`
}

// print writes the report as tables for people.
func (r statusReport) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTREAM\tSTATE\tPENDING\tIN FLIGHT\tREDELIVERED\tDEAD-LETTERED\tACKED UP TO\tACKED/S\tETA")
	var missed []string
	for _, st := range r.Stages {
		rate, eta := formatRate(st)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", st.Stage, st.Stream, st.State, count(st.Pending), count(st.InFlight),
			count(st.Redelivered), st.DeadLettered, count(st.AckedUpTo), rate, eta)
		if st.Missed > 0 {
			missed = append(missed, fmt.Sprintf("%s: %d message%s left %s before the stage received them (the stream's max age or size limit): the graph lacks what they carried; see \"Messages missed\" in deployments/README.md",
				st.Stage, st.Missed, plural(int(st.Missed)), st.Stream)) //nolint:gosec // counts fit
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range missed {
		fmt.Fprintln(w, m)
	}
	if r.Superseded > 0 {
		fmt.Fprintf(w, "(%d more dead letter%s superseded by a later version of the file: 'docgraph dlq list --all')\n", r.Superseded, plural(r.Superseded))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tLAST SEQ\tMAX BYTES\tMAX AGE")
	for _, st := range r.Streams {
		maxBytes, maxAge := "-", "-"
		if st.MaxBytes > 0 {
			maxBytes = fmt.Sprintf("%s (%s)", sizeOf(st.MaxBytes), percentOf(st.Bytes, st.MaxBytes))
		}
		if st.MaxAgeSeconds > 0 {
			maxAge = time.Duration(st.MaxAgeSeconds * float64(time.Second)).String()
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\n", st.Name, st.Messages, st.Bytes, st.LastSeq, maxBytes, maxAge)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, r.Store.Summary)
	fmt.Fprintln(w, r.Gazetteer)
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning: "+warn)
	}
	return nil
}

// stageLook is one look at the stages' consumers: their infos in the
// order of bus.Consumers (nil: not started), and when it was taken.
type stageLook struct {
	infos []*jetstream.ConsumerInfo
	at    time.Time
}

func lookAtStages(ctx context.Context, js jetstream.JetStream) (stageLook, error) {
	l := stageLook{infos: make([]*jetstream.ConsumerInfo, len(bus.Consumers))}
	for i, c := range bus.Consumers {
		cons, err := js.Consumer(ctx, c.Stream, c.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return stageLook{}, fmt.Errorf("status %s: %w", c.Stage, err)
		}
		if l.infos[i], err = cons.Info(ctx); err != nil {
			return stageLook{}, fmt.Errorf("status %s: %w", c.Stage, err)
		}
	}
	l.at = time.Now()
	return l, nil
}

// busy reports whether a stage has messages pending or in flight.
func (l stageLook) busy() bool {
	for _, info := range l.infos {
		if info != nil && info.NumPending+uint64(info.NumAckPending) > 0 {
			return true
		}
	}
	return false
}

// measureRate gives the messages a stage's consumer acked per second
// between two looks at it (its ack floor, which counts deliveries), and
// the seconds its pending and in-flight messages take at that rate. The
// rate is nil where the looks cannot tell (one look only, or the consumer
// made again in between); the ETA also with nothing left or nothing acked.
func measureRate(before, after *jetstream.ConsumerInfo, from, to time.Time) (perSec, eta *float64) {
	dt := to.Sub(from).Seconds()
	if before == nil || after == nil || dt <= 0 || after.AckFloor.Consumer < before.AckFloor.Consumer || !after.Created.Equal(before.Created) {
		return nil, nil
	}
	r := float64(after.AckFloor.Consumer-before.AckFloor.Consumer) / dt
	if work := after.NumPending + uint64(after.NumAckPending); work > 0 && r > 0 {
		eta = ptr(float64(work) / r)
	}
	return &r, eta
}

// formatRate gives a stage's ACKED/S and ETA columns: "-" where not
// measured, and for the ETA with nothing left or nothing acked in the
// window (a long handling, or a stage that waits: see STATE).
func formatRate(st statusStage) (rate, eta string) {
	rate, eta = "-", "-"
	if st.AckedPerSecond == nil {
		return rate, eta
	}
	r := *st.AckedPerSecond
	rate = fmt.Sprintf("%.0f", r)
	if r > 0 && r < 1 {
		rate = fmt.Sprintf("%.2f", r)
	}
	switch {
	case st.ETASeconds == nil:
	case *st.ETASeconds < 1:
		eta = "<1s"
	default:
		eta = time.Duration(*st.ETASeconds * float64(time.Second)).Round(time.Second).String()
	}
	return rate, eta
}

// streamNames lists the account's streams, the pipeline's first, in
// order, then the others (the buckets' streams, those of other
// applications sharing the account) by name: they all take room in the
// store.
func streamNames(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	var names, others []string
	ours := map[string]bool{}
	for _, sp := range bus.Streams {
		names = append(names, sp.Name)
		ours[sp.Name] = true
	}
	lister := js.StreamNames(ctx)
	for name := range lister.Name() {
		if !ours[name] {
			others = append(others, name)
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	slices.Sort(others)
	return append(names, others...), nil
}

// nearlyFull is the share of a limit from which status warns.
const nearlyFull = 0.9

// storeUse is how much of its limit JetStream's file store uses.
type storeUse struct {
	used  uint64
	limit int64  // 0 when not known
	whose string // "account" or "server"
	// unrecorded names the process whose embedded server has a limit it
	// did not record (see system.maxStoreUnrecorded).
	unrecorded string
}

func (u storeUse) nearlyFull() bool {
	return u.limit > 0 && float64(u.used) >= nearlyFull*float64(u.limit)
}

func (u storeUse) String() string {
	if u.limit <= 0 && u.unrecorded != "" {
		return fmt.Sprintf("JetStream store: %s used (limit unknown: %s, of an earlier version, did not record its embedded server's limit, nats.max_store; restart it with this version to see the limit here)", sizeOf(int64(u.used)), u.unrecorded) //nolint:gosec // sizes fit
	}
	if u.limit <= 0 {
		return fmt.Sprintf("JetStream store: %s used (no account limit; the servers' max_file_store and disks bound it)", sizeOf(int64(u.used))) //nolint:gosec // sizes fit
	}
	return fmt.Sprintf("JetStream store: %s used of %s (%s limit), %s", sizeOf(int64(u.used)), sizeOf(u.limit), u.whose, percentOf(u.used, u.limit)) //nolint:gosec // sizes fit
}

// jetStreamStore measures the store of s's account against its limit: the
// account's own, or else that of the embedded server (this process's, or
// the one the data directory's owner recorded), which NATS does not tell
// clients.
func jetStreamStore(ctx context.Context, s *system) (storeUse, error) {
	info, err := s.js.AccountInfo(ctx)
	if err != nil {
		return storeUse{}, fmt.Errorf("jetstream account: %w", err)
	}
	u := storeUse{used: info.Store, unrecorded: s.maxStoreUnrecorded}
	switch {
	case info.Limits.MaxStore > 0:
		u.limit, u.whose = info.Limits.MaxStore, "account"
	case s.maxStore > 0:
		u.limit, u.whose = s.maxStore, "server"
	}
	return u, nil
}

// sizeOf renders n bytes for people: "512 B", "3.4 MiB".
func sizeOf(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// percentOf renders part/whole as a whole percentage, "99%" rather than
// "100%" until it is all used.
func percentOf(part uint64, whole int64) string {
	if whole <= 0 {
		return "-"
	}
	p := math.Floor(float64(part) * 100 / float64(whole))
	return fmt.Sprintf("%.0f%%", p)
}

// deadLetteredPerStream splits the current dead letters of each stage
// (perStage counts all of them, by DLQ subject) among the stage's consumer
// rows: a stage with several input streams (the graph writer) by the stream
// each dead letter came from, so that the column adds up to what 'dlq list'
// lists. Those superseded by a later version of their file are only
// counted, in the second result.
func deadLetteredPerStream(ctx context.Context, js jetstream.JetStream, perStage map[string]uint64) (map[bus.ConsumerSpec]uint64, int, error) {
	out := map[bus.ConsumerSpec]uint64{}
	superseded := 0
	for _, c := range bus.Consumers {
		cons := bus.ConsumersOf(c.Stage)
		if c != cons[0] || perStage[bus.DLQSubject(c.Stage)] == 0 { // once per stage
			continue
		}
		dls, err := bus.ListDeadLetters(ctx, js, bus.Filter{Stage: c.Stage})
		if err == nil {
			err = bus.MarkSuperseded(ctx, js, dls)
		}
		if err != nil {
			return nil, 0, err
		}
		for _, d := range dls {
			if d.SupersededBy != 0 {
				superseded++
				continue
			}
			row := cons[0] // one from a stream the stage no longer reads
			for _, other := range cons {
				if other.Stream == d.OrigStream {
					row = other
				}
			}
			out[row]++
		}
	}
	return out, superseded, nil
}

// stageState says what a stage's consumer is doing: paused (and for how
// long more), pulling (a worker waits for messages or holds some), or no
// worker pulling. Without workers (the command runs the data's NATS itself,
// so nothing else is connected), messages in flight are those a stopped
// process held; they are delivered again once their ack wait has passed.
func stageState(info *jetstream.ConsumerInfo, workers bool) string {
	switch {
	case info.Paused:
		return fmt.Sprintf("paused, %s left", info.PauseRemaining.Round(time.Second))
	case workers && (info.NumWaiting > 0 || info.NumAckPending > 0):
		return "pulling"
	default:
		return "no worker pulling"
	}
}
