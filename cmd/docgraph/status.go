package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/logging"
)

const statusHelp = `Prints per stage: messages pending, in flight (delivered, not yet acked),
redelivered, and dead-lettered; and per stream: messages stored. Talks to NATS: --nats,
or a running 'docgraph up' on --nats.listen, or else the embedded data under --data.`

// operatorSystem connects an operator command to the running system: an
// external NATS, a running `docgraph up` (its listener), or the embedded
// data directory when nothing runs.
func operatorSystem(ctx context.Context, cfg config.Config, log *slog.Logger) (*system, error) {
	if cfg.NATS.URL == "" && cfg.NATS.Listen != "" && cfg.NATS.Listen != "off" {
		probe := cfg
		probe.NATS.URL = "nats://" + cfg.NATS.Listen
		if s, err := startSystem(ctx, probe, log, systemOptions{}); err == nil {
			return s, nil
		}
	}
	return startSystem(ctx, cfg, log, systemOptions{})
}

func cmdStatus(ctx context.Context, e env, args []string) error {
	cfg, _, err := parseFlags(e, "status", "[flags]", statusHelp, args, nil)
	if err != nil {
		return err
	}
	cfg.Log.Level = "error"
	log, err := logging.New(cfg.Log, e.stderr)
	if err != nil {
		return err
	}
	s, err := operatorSystem(ctx, cfg, log)
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
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTREAM\tPENDING\tIN FLIGHT\tREDELIVERED\tDEAD-LETTERED\tACKED UP TO")
	for _, c := range bus.Consumers {
		cons, err := s.js.Consumer(ctx, c.Stream, c.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t%d\tnot started\n", c.Stage, c.Stream, dlq[bus.DLQSubject(c.Stage)])
			continue
		}
		if err != nil {
			return fmt.Errorf("status %s: %w", c.Stage, err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return fmt.Errorf("status %s: %w", c.Stage, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.Stage, c.Stream, info.NumPending, info.NumAckPending,
			info.NumRedelivered, dlq[bus.DLQSubject(c.Stage)], info.AckFloor.Stream)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tLAST SEQ")
	for _, sp := range bus.Streams {
		st, err := s.js.Stream(ctx, sp.Name)
		if err != nil {
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", sp.Name, info.State.Msgs, info.State.Bytes, info.State.LastSeq)
	}
	return tw.Flush()
}
