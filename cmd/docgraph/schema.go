package main

import (
	"context"
	"fmt"
)

const schemaHelp = `Validates the extraction schema and the structured mapping (the shipped ones, or
--schemas.extraction / --schemas.mapping) and reports every problem, naming the entry
and field.`

func cmdSchema(_ context.Context, e env, args []string) error {
	sub, rest := splitSubcommand(args)
	if sub != "check" {
		if isHelp(sub) {
			// The flags of 'schema check', which is all there is.
			_, _, err := parseFlags(e, "schema check", "[flags]", schemaHelp, []string{"--help"}, nil)
			return err
		}
		fmt.Fprintf(e.stderr, "Usage: docgraph schema check [flags]\n\n%s\n", schemaHelp)
		if sub != "" {
			return fmt.Errorf("schema: unknown subcommand %q (want check)", sub)
		}
		return fmt.Errorf("schema: want check")
	}
	cfg, rest, err := parseFlags(e, "schema check", "[flags]", schemaHelp, rest, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("schema check: unexpected argument %q (files go in --schemas.extraction and --schemas.mapping)", rest[0])
	}
	x, m, err := loadSchemas(cfg)
	if err != nil {
		return err
	}
	labels, rels := graphSchema(x, m)
	fmt.Fprintf(e.stdout, "schemas ok: %d mapped sources, labels %v, relationship types %v\n", len(m.Sources), labels, rels)
	return nil
}
