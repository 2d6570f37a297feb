package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"sort"

	"github.com/docgraph/docgraph/pkg/config"
	"github.com/docgraph/docgraph/pkg/graph"
	"github.com/docgraph/docgraph/pkg/graph/graphapi"
	"github.com/docgraph/docgraph/pkg/logging"
)

const graphHelp = `Inspects the graph in the configured store (the embedded graph under --data, or
Neo4j with --neo4j):
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
	cfg, _, err := parseFlags(e, "graph "+sub, "[flags]", graphHelp, rest, func(fs *flag.FlagSet) {
		if sub == "export" {
			fs.StringVar(&format, "format", "json", "json or cypher")
		}
	})
	if err != nil {
		return err
	}
	if sub == "export" && format != "json" && format != "cypher" {
		return fmt.Errorf("graph export: --format %q: want json or cypher", format)
	}
	// The embedded graph can be opened by one process only: when a running
	// docgraph holds it (or --nats names a cluster), ask its graph writer.
	var st graph.Store
	if cfg.NATS.URL == "" || cfg.GraphStore() == "neo4j" {
		st, err = openStore(ctx, cfg, nil)
	}
	if st == nil && cfg.GraphStore() != "neo4j" {
		if s := runningSystem(ctx, cfg); s != nil {
			defer s.close()
			var rerr error
			if sub == "stats" {
				var stats graph.Stats
				if stats, rerr = graphapi.Stats(ctx, s.nc); rerr == nil {
					return printStats(e, stats)
				}
			} else {
				rerr = graphapi.Export(ctx, s.nc, s.js, format, e.stdout)
			}
			if !errors.Is(rerr, graphapi.ErrNoServer) {
				return rerr
			}
		}
		if err == nil {
			err = fmt.Errorf("graph %s: no graph writer answers on %s", sub, cfg.NATS.URL)
		}
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

// runningSystem connects to a running docgraph (--nats, or `docgraph up`'s
// listener), or returns nil when none answers.
func runningSystem(ctx context.Context, cfg config.Config) *system {
	probe := cfg
	if probe.NATS.URL == "" {
		if cfg.NATS.Listen == "" || cfg.NATS.Listen == "off" {
			return nil
		}
		probe.NATS.URL = "nats://" + cfg.NATS.Listen
	}
	s, err := startSystem(ctx, probe, logging.Discard(), systemOptions{})
	if err != nil {
		return nil
	}
	return s
}
