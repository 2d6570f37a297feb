package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/logging"
)

const dlqHelp = `Dead letters are messages a stage gave up on: a permanent error (bad input, an
unsupported file) at once, a retryable one after stages.<stage>.max_deliver attempts.
Each keeps the original message byte for byte with the reason; an input that comes back
after it was dead-lettered (a lost acknowledgement) is not listed twice. Subcommands:

  list    [--stage S] [--since TIME] [--all] [--json]
          one line per dead letter: id, stage, age, file path, error; those whose file
          has changed (or gone) since are superseded and only counted, unless --all
  show    ID [--json]
          everything about one: reason, original subject and sequence, all headers,
          and the payload (the first 2 KB, indented if it is JSON)
  replay  [--stage S] (--id ID[,ID...] | --all) [--dry-run]
          after fixing the cause, republish to the original subject (same payload and
          correlation ID) for the stage to process again; a replayed dead letter leaves
          the DLQ, so replaying twice does no work twice (if it fails again it comes
          back with a new id); a file event superseded by a newer version of the same
          file is removed instead of replayed
  purge   [--stage S] [--older-than DURATION] --yes
          delete dead letters for good

Works against an external NATS (--nats), or else the docgraph whose data is under
--data: the 'docgraph up' running there (through its NATS listener), or the data itself
when nothing runs there. Replayed messages are processed when the stage runs.`

func cmdDLQ(ctx context.Context, e env, args []string) error {
	subs := []string{"list", "show", "replay", "purge"}
	// Flags may come before the subcommand: `dlq --data D list`.
	sub, rest := splitSubcommand(args, "stage", "since", "id", "older-than")
	if !slices.Contains(subs, sub) {
		fmt.Fprintf(e.stderr, "Usage: docgraph dlq list|show|replay|purge [flags]\n\n%s\n", dlqHelp)
		switch {
		case isHelp(sub):
			return nil
		case sub != "":
			return fmt.Errorf("dlq: unknown subcommand %q (want list, show, replay or purge)", sub)
		}
		return errors.New("dlq: want list, show, replay or purge")
	}
	switch sub {
	case "list":
		return dlqList(ctx, e, rest)
	case "show":
		return dlqShow(ctx, e, rest)
	case "replay":
		return dlqReplay(ctx, e, rest)
	default:
		return dlqPurge(ctx, e, rest)
	}
}

// flagsFirst moves the positional arguments after the flags, so that
// `dlq show 12 --data D` and `replay parser --since 2h` parse like
// `dlq show --data D 12` (the flag package stops at the first positional
// argument). extra adds the command's own flags, as for parseFlags.
func flagsFirst(args []string, extra func(*flag.FlagSet)) []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	config.NewLoader().RegisterFlags(fs, true)
	if extra != nil {
		extra(fs)
	}
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if hasValue || f == nil || isBoolFlag(f) {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(positional) == 0 {
		return flags
	}
	return append(append(flags, "--"), positional...)
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// operatorConnect loads the flags' config and connects like every operator
// command; the caller closes the system.
func operatorConnect(ctx context.Context, e env, cfg config.Config, command string) (*system, error) {
	cfg.Log.Level = "error" // the command prints what happened
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return nil, err
	}
	return operatorSystem(ctx, cfg, log, command)
}

// notRunningNote tells the operator that replayed messages wait for the
// stages, when the command opened the data directory itself.
func notRunningNote(e env, s *system) {
	if s.ns != nil {
		fmt.Fprintf(e.stderr, "note: no docgraph is running on %s; the stages process the replayed messages when 'docgraph up', 'worker' or 'ingest' runs\n", s.cfg.Data)
	}
}

type deadLetterJSON struct {
	ID              uint64              `json:"id"`
	Stage           string              `json:"stage"`
	Path            string              `json:"path,omitempty"`
	Error           string              `json:"error"`
	Class           string              `json:"class"`
	Attempts        int                 `json:"attempts"`
	OriginalSubject string              `json:"original_subject"`
	OriginalStream  string              `json:"original_stream"`
	OriginalSeq     uint64              `json:"original_seq"`
	CorrelationID   string              `json:"correlation_id,omitempty"`
	DeadLetteredAt  time.Time           `json:"dead_lettered_at"`
	SupersededBy    uint64              `json:"superseded_by,omitempty"` // files stream sequence of a later event for the file
	Headers         map[string][]string `json:"headers,omitempty"`
	Payload         json.RawMessage     `json:"payload,omitempty"`
	PayloadText     string              `json:"payload_text,omitempty"`
}

func toJSON(d bus.DeadLetter, full bool) deadLetterJSON {
	out := deadLetterJSON{
		ID: d.ID, Stage: d.Stage, Path: d.Path, Error: d.Error, Class: d.Class, Attempts: d.Attempts,
		OriginalSubject: d.OrigSubject, OriginalStream: d.OrigStream, OriginalSeq: d.OrigSeq,
		CorrelationID: d.CorrelationID, DeadLetteredAt: d.At.UTC(), SupersededBy: d.SupersededBy,
	}
	if full {
		out.Headers = d.Header
		if p := d.Payload(); json.Valid(p) {
			out.Payload = p
		} else {
			out.PayloadText = string(p)
		}
	}
	return out
}

func dlqList(ctx context.Context, e env, args []string) error {
	var (
		stage  string
		since  string
		asJSON bool
		all    bool
	)
	cfg, rest, err := parseFlags(e, "dlq list", "[--stage S] [--since TIME] [--all] [--json] [flags]", dlqHelp, args, func(fs *flag.FlagSet) {
		fs.StringVar(&stage, "stage", "", "only this stage's dead letters: parser, extractor or graph-writer")
		fs.StringVar(&since, "since", "", "only those dead-lettered since TIME: RFC 3339, a date, or a duration ago like 2h")
		fs.BoolVar(&asJSON, "json", false, "print a JSON array with the full error of each")
		fs.BoolVar(&all, "all", false, "also those superseded by a later version of their file (or its deletion)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("dlq list: unexpected argument %q", rest[0])
	}
	var within time.Duration
	if since != "" {
		now := time.Now()
		t, err := parseTime(since, now)
		if err != nil {
			return fmt.Errorf("dlq list: --since: %w", err)
		}
		if within = now.Sub(t); within <= 0 {
			return fmt.Errorf("dlq list: --since %s: in the future", since)
		}
	}
	s, err := operatorConnect(ctx, e, cfg, "dlq list")
	if err != nil {
		return err
	}
	defer s.close()
	dls, err := bus.ListDeadLetters(ctx, s.js, bus.Filter{Stage: stage, Since: within})
	if err != nil {
		return fmt.Errorf("dlq list: %w", err)
	}
	if err := bus.MarkSuperseded(ctx, s.js, dls); err != nil {
		return fmt.Errorf("dlq list: %w", err)
	}
	superseded := 0
	if !all {
		current := dls[:0]
		for _, d := range dls {
			if d.SupersededBy != 0 {
				superseded++
				continue
			}
			current = append(current, d)
		}
		dls = current
	}
	if asJSON {
		out := make([]deadLetterJSON, 0, len(dls))
		for _, d := range dls {
			out = append(out, toJSON(d, false))
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	supersededNote := func() {
		if superseded > 0 {
			fmt.Fprintf(e.stdout, "%d more superseded by a later version of their file (--all lists them; 'docgraph dlq replay --all' or 'dlq purge' removes them)\n", superseded)
		}
	}
	if len(dls) == 0 {
		fmt.Fprintln(e.stdout, "no dead letters")
		supersededNote()
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTAGE\tAGE\tATTEMPTS\tPATH\tERROR")
	for _, d := range dls {
		path := d.Path
		if path == "" {
			path = "-"
		}
		msg := truncate(d.Error, 100)
		if d.SupersededBy != 0 {
			msg = fmt.Sprintf("(superseded: %s seq %d) %s", bus.StreamFiles, d.SupersededBy, msg)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\n", d.ID, d.Stage, age(now.Sub(d.At)), d.Attempts, path, msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d dead letter%s; 'docgraph dlq show ID' for details\n", len(dls), plural(len(dls)))
	supersededNote()
	return nil
}

func dlqShow(ctx context.Context, e env, args []string) error {
	var asJSON bool
	flags := func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print it as JSON, with the whole payload")
	}
	cfg, rest, err := parseFlags(e, "dlq show", "ID [--json] [flags]", dlqHelp, flagsFirst(args, flags), flags)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("dlq show: want one dead letter ID (see 'docgraph dlq list')")
	}
	id, err := parseID(rest[0])
	if err != nil {
		return fmt.Errorf("dlq show: %w", err)
	}
	s, err := operatorConnect(ctx, e, cfg, "dlq show")
	if err != nil {
		return err
	}
	defer s.close()
	d, err := bus.GetDeadLetter(ctx, s.js, id)
	if err != nil {
		return fmt.Errorf("dlq show: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(toJSON(d, true))
	}
	printDeadLetter(e.stdout, d, time.Now())
	return nil
}

// previewBytes is how much of a payload show prints.
const previewBytes = 2048

func printDeadLetter(w io.Writer, d bus.DeadLetter, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "dead letter\t%d\n", d.ID)
	fmt.Fprintf(tw, "stage\t%s\n", d.Stage)
	fmt.Fprintf(tw, "path\t%s\n", orDash(d.Path))
	fmt.Fprintf(tw, "error\t%s\n", d.Error)
	fmt.Fprintf(tw, "class\t%s\n", orDash(d.Class))
	fmt.Fprintf(tw, "attempts\t%d\n", d.Attempts)
	fmt.Fprintf(tw, "dead-lettered\t%s (%s ago)\n", d.At.UTC().Format(time.RFC3339), age(now.Sub(d.At)))
	fmt.Fprintf(tw, "original\t%s, %s seq %d\n", orDash(d.OrigSubject), orDash(d.OrigStream), d.OrigSeq)
	fmt.Fprintf(tw, "correlation id\t%s\n", orDash(d.CorrelationID))
	_ = tw.Flush()

	fmt.Fprintln(w, "\nheaders:")
	keys := make([]string, 0, len(d.Header))
	for k := range d.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range d.Header[k] {
			fmt.Fprintf(w, "  %s: %s\n", k, v)
		}
	}
	p := d.Payload()
	fmt.Fprintf(w, "\npayload (%d bytes):\n", len(p))
	fmt.Fprintln(w, indent(preview(p, previewBytes), "  "))
}

// preview renders the start of a payload: indented JSON if it parses,
// text if it is UTF-8, a hex dump otherwise.
func preview(data []byte, limit int) string {
	var buf bytes.Buffer
	text := data
	if json.Valid(data) && json.Indent(&buf, data, "", "  ") == nil {
		text = buf.Bytes()
	} else if !utf8.Valid(data) {
		n := min(len(data), limit/4)
		dump := strings.TrimRight(hex.Dump(data[:n]), "\n")
		if n < len(data) {
			dump += fmt.Sprintf("\n… %d more bytes", len(data)-n)
		}
		return dump
	}
	if len(text) <= limit {
		return string(text)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return string(text[:cut]) + fmt.Sprintf("\n… %d more bytes", len(text)-cut)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func dlqReplay(ctx context.Context, e env, args []string) error {
	var (
		stage  string
		idList string
		all    bool
		dryRun bool
	)
	cfg, rest, err := parseFlags(e, "dlq replay", "[--stage S] (--id ID[,ID...] | --all) [--dry-run] [flags]", dlqHelp, args, func(fs *flag.FlagSet) {
		fs.StringVar(&stage, "stage", "", "only this stage's dead letters (with --all), or check that the ids are this stage's")
		fs.StringVar(&idList, "id", "", "the dead letter(s) to replay, comma-separated")
		fs.BoolVar(&all, "all", false, "replay every dead letter (of --stage)")
		fs.BoolVar(&dryRun, "dry-run", false, "print what would be done, change nothing")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("dlq replay: unexpected argument %q (ids go in --id)", rest[0])
	}
	switch {
	case idList == "" && !all:
		return errors.New("dlq replay: give --id ID[,ID...] or --all")
	case idList != "" && all:
		return errors.New("dlq replay: give --id ID[,ID...] or --all, not both")
	}
	var ids []uint64
	for f := range strings.SplitSeq(idList, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		id, err := parseID(f)
		if err != nil {
			return fmt.Errorf("dlq replay: --id: %w", err)
		}
		ids = append(ids, id)
	}
	s, err := operatorConnect(ctx, e, cfg, "dlq replay")
	if err != nil {
		return err
	}
	defer s.close()
	if all {
		dls, err := bus.ListDeadLetters(ctx, s.js, bus.Filter{Stage: stage})
		if err != nil {
			return fmt.Errorf("dlq replay: %w", err)
		}
		for _, d := range dls {
			ids = append(ids, d.ID)
		}
		if len(ids) == 0 {
			fmt.Fprintln(e.stdout, "no dead letters to replay")
			return nil
		}
	} else if stage != "" {
		for _, id := range ids {
			d, err := bus.GetDeadLetter(ctx, s.js, id)
			if err == nil && d.Stage != stage {
				return fmt.Errorf("dlq replay: dead letter %d is from stage %s, not %s", id, d.Stage, stage)
			}
		}
	}
	results, err := bus.ReplayDeadLetters(ctx, s.js, ids, dryRun)
	failed := printReplayResults(e.stdout, results)
	if err != nil {
		return fmt.Errorf("dlq replay: %w", err)
	}
	if !dryRun && slices.ContainsFunc(results, func(r bus.ReplayResult) bool { return r.Outcome == bus.Replayed }) {
		notRunningNote(e, s)
	}
	if failed > 0 {
		return exitCode(1)
	}
	return nil
}

// printReplayResults prints one line per dead letter and a summary, and
// returns how many failed or were not found.
func printReplayResults(w io.Writer, results []bus.ReplayResult) int {
	counts := map[bus.ReplayOutcome]int{}
	bad := 0
	for _, r := range results {
		counts[r.Outcome]++
		would := ""
		if r.DryRun {
			would = "would "
		}
		what := fmt.Sprintf("%d (%s, %s)", r.ID, r.Stage, orDash(r.Path))
		switch {
		case r.Err != nil:
			bad++
			fmt.Fprintf(w, "failed      %s: %v\n", what, r.Err)
		case r.Outcome == bus.NotFound:
			bad++
			fmt.Fprintf(w, "not found   %d: no such dead letter (already replayed or purged?)\n", r.ID)
		case r.Outcome == bus.Replayed && r.DryRun:
			fmt.Fprintf(w, "would replay %s to %s\n", what, r.Subject)
		case r.Outcome == bus.Replayed:
			fmt.Fprintf(w, "replayed    %s to %s as %s seq %d\n", what, r.Subject, bus.StreamOf(r.Subject), r.Seq)
		case r.Outcome == bus.AlreadyReplayed:
			fmt.Fprintf(w, "removed     %s: already replayed (%s seq %d)\n", what, bus.StreamOf(r.Subject), r.Seq)
		case r.Outcome == bus.Superseded:
			fmt.Fprintf(w, "%sremove %s: superseded by a newer event for the file (%s seq %d)\n", would, what, bus.StreamOf(r.Subject), r.SupersededBy)
		}
	}
	verb := "replayed"
	if len(results) > 0 && results[0].DryRun {
		verb = "would replay"
	}
	fmt.Fprintf(w, "%s %d, superseded %d, already replayed %d, not found %d, failed %d\n", verb,
		counts[bus.Replayed], counts[bus.Superseded], counts[bus.AlreadyReplayed], counts[bus.NotFound], counts[bus.Failed])
	return bad
}

func dlqPurge(ctx context.Context, e env, args []string) error {
	var (
		stage     string
		olderThan time.Duration
		yes       bool
	)
	cfg, rest, err := parseFlags(e, "dlq purge", "[--stage S] [--older-than DURATION] --yes [flags]", dlqHelp, args, func(fs *flag.FlagSet) {
		fs.StringVar(&stage, "stage", "", "only this stage's dead letters")
		fs.Var((*durationValue)(&olderThan), "older-than", "only those dead-lettered more than this long ago, e.g. 168h")
		fs.BoolVar(&yes, "yes", false, "really delete them (they cannot be replayed afterwards)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("dlq purge: unexpected argument %q", rest[0])
	}
	if olderThan < 0 {
		return fmt.Errorf("dlq purge: --older-than %s: must not be negative", olderThan)
	}
	s, err := operatorConnect(ctx, e, cfg, "dlq purge")
	if err != nil {
		return err
	}
	defer s.close()
	if !yes {
		dls, err := bus.ListDeadLetters(ctx, s.js, bus.Filter{Stage: stage})
		if err != nil {
			return fmt.Errorf("dlq purge: %w", err)
		}
		cutoff := time.Now().Add(-olderThan)
		n := 0
		for _, d := range dls {
			if olderThan == 0 || !d.At.After(cutoff) {
				n++
			}
		}
		return fmt.Errorf("dlq purge: refusing to delete %d dead letter%s without --yes (deleted dead letters cannot be replayed)", n, plural(n))
	}
	n, err := bus.PurgeDeadLetters(ctx, s.js, stage, olderThan)
	if err != nil {
		return fmt.Errorf("dlq purge: %w", err)
	}
	fmt.Fprintf(e.stdout, "deleted %d dead letter%s\n", n, plural(n))
	return nil
}

func parseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("bad dead letter id %q: want a positive number from 'docgraph dlq list'", s)
	}
	return id, nil
}

// age renders a duration the way a list reads best: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d/time.Second), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// durationValue is a duration flag whose error says what it wants (the
// flag package's says "parse error").
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (want e.g. 168h or 30m)")
	}
	*d = durationValue(v)
	return nil
}
