// Command docgraph turns a folder of documents and spreadsheets into a
// knowledge graph: `docgraph up` runs every stage in one process,
// `docgraph worker STAGE` one stage, `docgraph ingest` a one-shot run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/docgraph/docgraph/pkg/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			os.Exit(int(ec))
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "docgraph:", err)
		}
		os.Exit(2)
	}
}

// exitCode ends the process with a code after the command printed its own
// report (e.g. ingest with failed files).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// env is how commands read the environment (tests pass their own).
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// environ lists the variables set (KEY=VALUE) as getenv sees them: the
// process's environment, less what a test's getenv hides.
func (e env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if v := e.getenv(k); v != "" {
			out = append(out, k+"="+v)
		}
	}
	return out
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"up", "run every stage in one process (embedded NATS and graph by default)", cmdUp},
		{"worker", "run one stage: watcher, parser, extractor or graph-writer", cmdWorker},
		{"ingest", "ingest files or folders once and wait until they are in the graph", cmdIngest},
		{"graph", "inspect the graph: stats, export --format json|cypher", cmdGraph},
		{"status", "per stage: state, pending, in flight, redelivered, dead-lettered", cmdStatus},
		{"dlq", "dead letters: list, show, replay or purge them", cmdDLQ},
		{"reconcile", "compare the folder with the graph: missing, stale, orphaned; --fix republishes", cmdReconcile},
		{"replay", "re-run a stage over its input history (after a schema change)", cmdReplay},
		{"bench", "generate a corpus, ingest it and report files/s, messages/s and peak RSS", cmdBench},
		{"schema", "check the schemas; try the structured mapping on files before ingesting them", cmdSchema},
		{"version", "print the version", cmdVersion},
	}
}

const usageHead = `docgraph turns a folder of documents and spreadsheets into a knowledge graph.

Usage: docgraph COMMAND [flags] [args]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'docgraph COMMAND --help' for a command's flags. Those marked [env ...] can also be\nset in a YAML file (--config) or as DOCGRAPH_<PATH> in the environment, e.g. DOCGRAPH_NATS_URL.\n")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	e := env{stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitCode(2)
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil // the help was asked for and printed
			}
			return err
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// splitSubcommand finds the subcommand of a command with subcommands (dlq,
// graph, schema) among args, so that flags may come before it
// (`dlq --data D list`): it is the first argument that is neither a flag nor
// a flag's value. valueFlags name the command's own flags that take a value
// (the configuration's flags are known). It returns the subcommand ("" if
// there is none) and the other arguments in their order.
func splitSubcommand(args []string, valueFlags ...string) (string, []string) {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	config.NewLoader().RegisterFlags(fs, true)
	for _, name := range valueFlags {
		fs.String(name, "", "")
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if i+1 == len(args) {
				return "", args[:i]
			}
			return args[i+1], slices.Concat(args[:i], args[i+2:])
		}
		if !strings.HasPrefix(a, "-") || a == "-" || isHelp(a) {
			return a, slices.Concat(args[:i], args[i+1:])
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); !hasValue && f != nil && !isBoolFlag(f) {
			i++
		}
	}
	return "", args
}

var version = "dev"

func cmdVersion(_ context.Context, e env, args []string) error {
	switch {
	case len(args) > 0 && isHelp(args[0]):
		fmt.Fprintln(e.stdout, "Usage: docgraph version\n\nPrints the version of this docgraph binary.")
		return nil
	case len(args) > 0:
		return fmt.Errorf("version: unexpected argument %q (it takes none)", args[0])
	}
	fmt.Fprintln(e.stdout, "docgraph", version)
	return nil
}

// parseFlagSet parses args with fs. A mistake is returned in one line, with
// the nearest flag to one that is not defined and where the flags are
// listed, rather than printed above the whole listing; --help prints it.
func parseFlagSet(fs *flag.FlagSet, stderr io.Writer, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(stderr)
	if err == nil {
		return nil
	}
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return err
	}
	hint := ""
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		if near := nearestFlag(fs, name); near != "" {
			hint = "did you mean --" + near + "? "
		}
	}
	return fmt.Errorf("%w (%s'%s --help' lists the flags)", err, hint, fs.Name())
}

// nearestFlag returns the flag of fs whose name is nearest to name (see
// config.Nearest), or "" if none is near.
func nearestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return config.Nearest(name, names)
}
