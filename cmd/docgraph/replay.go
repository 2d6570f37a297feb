package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docgraph/docgraph/pkg/bus"
)

const replayHelp = `Re-runs a stage over the history of its input stream, e.g. the extractor after the
extraction schema or the gazetteer changed, or the parser after the mapping changed:
the stored input messages in the range are republished (same payload and correlation
ID) and the stage processes them again. The graph stays correct because every write
is idempotent and a document replaces its own chunks. The copies are appended to the
stream; the originals stay.

  STAGE       parser (reads DOCGRAPH_FILES), extractor (DOCGRAPH_CHUNKS) or
              graph-writer (DOCGRAPH_EXTRACTIONS and DOCGRAPH_RECORDS)
  --since     start at a time: RFC 3339 (2024-03-01T12:00:00Z), a date (2024-03-01,
              UTC) or a duration ago (2h, 30m)
  --from-seq  start at a stream sequence (with --stream for graph-writer)
  --until, --until-seq  end of the range (inclusive; default: now)

For the parser, a file event with a newer event for the same file is skipped: the
newest state of each file is what gets parsed again. Streams keep history for
streams.max_age (7 days by default), so older messages cannot be replayed; the
chunk stream (the extractor's input) for streams.chunks_max_age (by default forever).
Works against an external NATS (--nats), or else the docgraph whose data is under
--data: the 'docgraph up' running there, or the data itself when nothing runs there
(then the stage processes the copies when it next runs).`

func cmdReplay(ctx context.Context, e env, args []string) error {
	var (
		since, until     string
		fromSeq, untilSq uint64
		stream           string
		dryRun           bool
	)
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "", "replay messages stored since TIME (RFC 3339, a date, or a duration ago like 2h)")
		fs.Uint64Var(&fromSeq, "from-seq", 0, "replay from this stream sequence")
		fs.StringVar(&until, "until", "", "replay messages stored up to TIME (default: everything stored when the replay starts)")
		fs.Uint64Var(&untilSq, "until-seq", 0, "replay up to this stream sequence (inclusive)")
		fs.StringVar(&stream, "stream", "", "only this input stream of the stage (needed with sequences for graph-writer)")
		fs.BoolVar(&dryRun, "dry-run", false, "count what would be republished, change nothing")
	}
	cfg, rest, err := parseFlags(e, "replay", "STAGE (--since TIME | --from-seq N) [--until TIME | --until-seq N] [--dry-run] [flags]",
		replayHelp, flagsFirst(args, flags), flags)
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		return errors.New("replay: want a STAGE: parser, extractor or graph-writer")
	}
	stage := rest[0]
	if len(rest) > 1 {
		return fmt.Errorf("replay: unexpected argument %q", rest[1])
	}
	if fromSeq == 0 && slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(strings.TrimLeft(a, "-"), "from-seq") }) {
		return errors.New("replay: --from-seq: stream sequences start at 1")
	}
	now := time.Now()
	from := bus.ReplayFrom{FromSeq: fromSeq, UntilSeq: untilSq, Stream: stream}
	if since != "" {
		if from.Since, err = parseTime(since, now); err != nil {
			return fmt.Errorf("replay: --since: %w", err)
		}
	}
	if until != "" {
		if from.Until, err = parseTime(until, now); err != nil {
			return fmt.Errorf("replay: --until: %w", err)
		}
	}
	s, err := operatorConnect(ctx, e, cfg, "replay")
	if err != nil {
		return err
	}
	defer s.close()
	last := time.Now()
	from.Progress = func(p bus.ReplayProgress) {
		if time.Since(last) < 2*time.Second {
			return
		}
		last = time.Now()
		fmt.Fprintf(e.stderr, "replay: %s at seq %d of %d, %d republished\n", p.Stream, p.Seq, p.LastSeq, p.Published)
	}
	stats, err := bus.ReplayStage(ctx, s.js, stage, from, dryRun)
	verb := "republished"
	if dryRun {
		verb = "would republish"
	}
	for _, sr := range stats.Streams {
		line := fmt.Sprintf("%s %d message%s of %s", verb, sr.Published, plural(sr.Published), sr.Stream)
		if sr.Published > 0 {
			line += fmt.Sprintf(" (seq %d to %d)", sr.FirstSeq, sr.LastSeq)
		}
		if sr.Superseded > 0 {
			line += fmt.Sprintf("; skipped %d superseded by a newer event for the same file", sr.Superseded)
		}
		fmt.Fprintln(e.stdout, line)
	}
	if err != nil {
		return err
	}
	switch {
	case dryRun:
	case stats.Published() == 0:
		fmt.Fprintln(e.stdout, "nothing in the range: nothing replayed")
	default:
		fmt.Fprintf(e.stdout, "replay run %s: the copies carry the header %s: stage:%s\n", stats.Nonce, bus.HeaderReplay, stats.Nonce)
		if s.ns != nil {
			fmt.Fprintf(e.stderr, "note: no docgraph is running on %s; %s processes the replayed messages when 'docgraph up', 'worker' or 'ingest' runs\n", s.cfg.Data, stage)
		}
	}
	return nil
}

// parseTime reads an RFC 3339 time, a date (UTC) or a duration before now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration ago must be positive", s)
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2024-03-01T12:00:00Z), a date (2024-03-01) or a duration ago (2h)", s)
}
