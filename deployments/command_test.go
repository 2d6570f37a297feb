package deployments_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/config"
)

// commandSpec is what cmd/docgraph accepts after the command name: the
// subcommands (worker stages, graph stats|export, schema check), the flags
// it adds to the config flags, and whether positional arguments are allowed.
type commandSpec struct {
	subs        []string
	extra       func(fs *flag.FlagSet)
	positionals bool
}

// commands mirrors cmd/docgraph's command table. The config flags come from
// pkg/config itself (the same Loader.RegisterFlags the binary uses); only the
// few flags a command adds on top are listed here.
var commands = map[string]commandSpec{
	"up": {},
	"worker": {subs: []string{
		bus.StageWatcher, bus.StageParser, bus.StageExtractor, bus.StageGraphWriter,
	}},
	"ingest": {positionals: true, extra: func(fs *flag.FlagSet) {
		fs.Bool("quiet", false, "no progress lines")
	}},
	"graph": {subs: []string{"stats", "export"}, extra: func(fs *flag.FlagSet) {
		fs.String("format", "json", "json or cypher")
	}},
	"status":  {},
	"schema":  {subs: []string{"check"}},
	"version": {},
}

// invocation is one docgraph command line as a deployment runs it.
type invocation struct {
	command string // up, worker, ...
	sub     string // the stage of worker, stats of graph, ...
	cfg     config.Config
}

// checkInvocation parses args exactly as `docgraph` would (command,
// subcommand, the real config flag set), loads the configuration with env
// as the whole environment and validates it. configFile maps the path given
// to --config inside the container to a file on this machine.
func checkInvocation(args []string, env map[string]string, configFile func(string) (string, error)) (invocation, error) {
	if len(args) == 0 {
		return invocation{}, errors.New("no docgraph command (want one of " + strings.Join(commandNames(), ", ") + ")")
	}
	inv := invocation{command: args[0]}
	spec, ok := commands[inv.command]
	if !ok {
		return inv, fmt.Errorf("unknown docgraph command %q (want one of %s)", inv.command, strings.Join(commandNames(), ", "))
	}
	rest := args[1:]
	if len(spec.subs) > 0 {
		if len(rest) == 0 || !slices.Contains(spec.subs, rest[0]) {
			return inv, fmt.Errorf("docgraph %s: want one of %s, got %q", inv.command, strings.Join(spec.subs, ", "), rest)
		}
		inv.sub, rest = rest[0], rest[1:]
	}
	if inv.command == "version" {
		if len(rest) > 0 {
			return inv, fmt.Errorf("docgraph version takes no arguments, got %q", rest)
		}
		return inv, nil
	}
	rest, err := mapConfigFlag(rest, configFile)
	if err != nil {
		return inv, err
	}
	fs := flag.NewFlagSet("docgraph "+inv.command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := config.NewLoader()
	l.RegisterFlags(fs, true)
	if spec.extra != nil {
		spec.extra(fs)
	}
	if err := fs.Parse(rest); err != nil {
		return inv, fmt.Errorf("docgraph %s: %w", strings.Join(args[:len(args)-len(rest)], " "), err)
	}
	if fs.NArg() > 0 && !spec.positionals {
		return inv, fmt.Errorf("docgraph %s: unexpected arguments %q", inv.command, fs.Args())
	}
	if err := checkEnv(env); err != nil {
		return inv, err
	}
	cfg, err := l.Load(func(k string) string { return env[k] })
	if err != nil {
		return inv, fmt.Errorf("docgraph %s: %w", inv.command, err)
	}
	if err := cfg.Validate(); err != nil {
		return inv, fmt.Errorf("docgraph %s: invalid configuration: %w", inv.command, err)
	}
	// What cmd/docgraph checks after loading.
	if inv.command == "worker" && cfg.NATS.URL == "" {
		return inv, fmt.Errorf("docgraph worker %s: nats.url is required (--nats)", inv.sub)
	}
	if inv.command == "worker" && inv.sub == bus.StageWatcher && cfg.Watch.Dir == "" {
		return inv, errors.New("docgraph worker watcher: watch.dir is required (--watch)")
	}
	inv.cfg = cfg
	return inv, nil
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// mapConfigFlag replaces the value of --config with the file it refers to
// on this machine.
func mapConfigFlag(args []string, configFile func(string) (string, error)) ([]string, error) {
	out := slices.Clone(args)
	for i := 0; i < len(out); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(out[i], "-"), "=")
		if !strings.HasPrefix(out[i], "-") || name != "config" {
			continue
		}
		if !hasValue {
			if i+1 >= len(out) {
				return nil, errors.New("--config: file required")
			}
			i++
			value = out[i]
		}
		if configFile == nil {
			return nil, fmt.Errorf("--config %s: no config file is mounted here", value)
		}
		host, err := configFile(value)
		if err != nil {
			return nil, fmt.Errorf("--config %s: %w", value, err)
		}
		if hasValue {
			out[i] = "--config=" + host
		} else {
			out[i] = host
		}
	}
	return out, nil
}

// knownEnv maps every environment variable docgraph reads to its config
// path: DOCGRAPH_<PATH> for every path, plus the NEO4J_* aliases.
func knownEnv() map[string]string {
	out := map[string]string{}
	for path, names := range config.Paths() {
		for _, n := range names {
			out[n] = path
		}
	}
	return out
}

// checkEnv reports DOCGRAPH_* and NEO4J_* variables that docgraph does not
// read: a typo there is silently ignored at run time.
func checkEnv(env map[string]string) error {
	known := knownEnv()
	var errs []error
	for _, k := range sortedKeys(env) {
		if !strings.HasPrefix(k, "DOCGRAPH_") && !strings.HasPrefix(k, "NEO4J_") {
			continue
		}
		if _, ok := known[k]; !ok {
			errs = append(errs, fmt.Errorf("env %s: docgraph reads no such variable", k))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// addrPort returns the port of a host:port address.
func addrPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// urlHostPort returns the host and port of a URL, with def as the port when
// the URL names none.
func urlHostPort(raw string, def int) (string, int, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, err
	}
	if u.Port() == "" {
		return u.Hostname(), def, nil
	}
	p, err := strconv.Atoi(u.Port())
	return u.Hostname(), p, err
}
