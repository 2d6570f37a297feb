package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sort"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphapi"
	"github.com/docgraph/docgraph/pkg/logging"
)

const graphHelp = `Inspects the graph in the configured store (the embedded graph under --data, or
Neo4j with --neo4j). While a docgraph runs on --data (or with --nats, a cluster), its
graph writer answers:
  stats                        nodes per label, relationships per type
  export --format json|cypher  the whole graph, sorted; cypher loads it into Neo4j`

func cmdGraph(ctx context.Context, e env, args []string) error {
	sub, rest := splitSubcommand(args, "format") // flags may come first
	if sub != "stats" && sub != "export" {
		fmt.Fprintf(e.stderr, "Usage: docgraph graph stats|export [flags]\n\n%s\n", graphHelp)
		if isHelp(sub) {
			return nil
		}
		return fmt.Errorf("graph: want stats or export")
	}
	var format string
	cfg, rest, err := parseFlags(e, "graph "+sub, "[flags]", graphHelp, rest, func(fs *flag.FlagSet) {
		if sub == "export" {
			fs.StringVar(&format, "format", "json", "json or cypher")
		}
	})
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0 && sub == "export":
		// `graph export cypher` must not print JSON.
		return fmt.Errorf("graph export: unexpected argument %q (the format goes in --format)", rest[0])
	case len(rest) > 0:
		return fmt.Errorf("graph %s: unexpected argument %q", sub, rest[0])
	}
	if sub == "export" && format != "json" && format != "cypher" {
		return fmt.Errorf("graph export: --format %q: want json or cypher", format)
	}
	// The embedded graph can be opened by one process only: when a running
	// docgraph holds it (or --nats names a cluster), ask its graph writer.
	var st graph.Store
	switch {
	case cfg.GraphStore() == "neo4j":
		// Say so: a NEO4J_URI left in the environment would otherwise
		// pass for the graph under --data.
		fmt.Fprintf(e.stderr, "graph %s: the Neo4j graph at %s (neo4j.uri; --graph.store duckdb reads the one under --data)\n", sub, bus.RedactURL(cfg.Neo4j.URI))
		st, err = openStore(ctx, cfg, nil, nil)
	case cfg.NATS.URL != "":
		return askGraph(ctx, e, cfg, attachment{}, sub, format)
	default:
		att, aerr := attachData(ctx, cfg, "graph "+sub, false, true)
		if aerr != nil {
			return aerr
		}
		defer att.lock.Close()
		if att.lock == nil {
			return askGraph(ctx, e, cfg, att, sub, format)
		}
		st, err = openStore(ctx, cfg, nil, nil)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "stats" {
		s, err := st.Stats(ctx)
		if err != nil {
			return err
		}
		return printStats(e, s)
	}
	if format == "cypher" {
		return graph.WriteCypher(ctx, st, e.stdout)
	}
	return graph.WriteJSON(ctx, st, e.stdout)
}

func printStats(e env, s graph.Stats) error {
	if jsonOut := false; jsonOut {
		return json.NewEncoder(e.stdout).Encode(s)
	}
	print := func(title string, m map[string]int64) {
		keys := make([]string, 0, len(m))
		var total int64
		for k, v := range m {
			keys = append(keys, k)
			total += v
		}
		sort.Strings(keys)
		fmt.Fprintf(e.stdout, "%s: %d\n", title, total)
		for _, k := range keys {
			fmt.Fprintf(e.stdout, "  %-12s %d\n", k, m[k])
		}
	}
	print("nodes", s.Nodes)
	print("relationships", s.Relationships)
	return nil
}

// askGraph runs graph stats or export through the graph writer of a
// running docgraph: on --nats, or the owner of the data directory (att).
func askGraph(ctx context.Context, e env, cfg config.Config, att attachment, sub, format string) error {
	s, err := att.connect(ctx, cfg, logging.Discard())
	if err != nil {
		return fmt.Errorf("graph %s: %w", sub, err)
	}
	defer s.close()
	if sub == "stats" {
		var stats graph.Stats
		if stats, err = graphapi.Stats(ctx, s.nc); err == nil {
			return printStats(e, stats)
		}
	} else {
		err = graphapi.Export(ctx, s.nc, s.js, format, e.stdout)
	}
	if errors.Is(err, graphapi.ErrNoServer) {
		return fmt.Errorf("graph %s: no graph writer answers on %s", sub, bus.RedactURL(s.cfg.NATS.URL))
	}
	return err
}
