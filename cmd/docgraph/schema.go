package main

import (
	"context"
	"fmt"
)

const schemaHelp = `Validates the extraction schema and the structured mapping (the shipped ones, or
--schemas.extraction / --schemas.mapping) and reports every problem, naming the entry
and field.`

const schemaUsage = `Usage: docgraph schema check|try [flags]

  check          validate the extraction schema and the structured mapping
  try FILE...    show what the structured mapping makes of files, before ingesting them

Run 'docgraph schema check --help' or 'docgraph schema try --help' for the flags
(--schemas.mapping and --schemas.extraction name the files to use).
`

func cmdSchema(ctx context.Context, e env, args []string) error {
	sub, rest := splitSubcommand(args, "rows")
	switch {
	case sub == "try":
		return cmdSchemaTry(ctx, e, rest)
	case isHelp(sub):
		fmt.Fprint(e.stdout, schemaUsage)
		return nil
	case sub != "check":
		fmt.Fprint(e.stderr, schemaUsage)
		if sub != "" {
			return fmt.Errorf("schema: unknown subcommand %q (want check or try)", sub)
		}
		return fmt.Errorf("schema: want check or try")
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
