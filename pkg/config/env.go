package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// envPrefix begins the name of every environment variable that sets a
// config path (DOCGRAPH_NATS_URL for nats.url).
const envPrefix = "DOCGRAPH_"

// CheckEnv reports every DOCGRAPH_* variable of environ (KEY=VALUE, as
// os.Environ lists them) that sets nothing, naming the nearest variable
// that does: Load ignores such a variable, so a mistyped name would leave
// its setting at the default without a word. c is the loaded config, whose
// extractor.llm.api_key_env may name a DOCGRAPH_* variable holding the key.
// A variable set to "" is ignored, as Load ignores it.
func CheckEnv(environ []string, c Config) error {
	known := map[string]bool{c.Extractor.LLM.APIKeyEnv: true}
	var settings []string
	for _, f := range fields(&c) {
		for _, name := range f.env {
			known[name] = true
			if rest, ok := strings.CutPrefix(name, envPrefix); ok {
				settings = append(settings, rest)
			}
		}
	}
	slices.Sort(settings)
	var errs []error
	for _, kv := range slices.Sorted(slices.Values(environ)) {
		name, value, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, envPrefix)
		if !ok || value == "" || known[name] || notSetting(name) || serviceLink(name, value) {
			continue
		}
		if near := Nearest(rest, settings); near != "" {
			errs = append(errs, fmt.Errorf("env %s: docgraph reads no such variable (did you mean %s%s?)", name, envPrefix, near))
			continue
		}
		errs = append(errs, fmt.Errorf("env %s: docgraph reads no such variable (--help names each setting's variable)", name))
	}
	return errors.Join(errs...)
}

// notSetting reports whether name is a DOCGRAPH_* variable set for another
// purpose than configuring docgraph: the tests' and benchmarks' own
// (DOCGRAPH_TEST_AS_MAIN runs a test binary as docgraph, DOCGRAPH_BENCH_DOCS
// sizes a benchmark) and docker-compose.yml's image tag, DOCGRAPH_VERSION.
func notSetting(name string) bool {
	return name == "DOCGRAPH_VERSION" || strings.HasPrefix(name, "DOCGRAPH_TEST_") || strings.HasPrefix(name, "DOCGRAPH_BENCH_")
}

// servicePort matches the end of the variables Kubernetes sets for each
// port of a service: DOCGRAPH_PORT_9090_TCP, ..._TCP_PROTO, _PORT, _ADDR.
var servicePort = regexp.MustCompile(`_PORT_[0-9]+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?$`)

// serviceLink reports whether name=value is one of the variables
// Kubernetes sets in every pod for each service of its namespace (service
// links, on by default): a Service named docgraph or docgraph-nats gives
// DOCGRAPH_SERVICE_HOST, DOCGRAPH_SERVICE_PORT_METRICS,
// DOCGRAPH_NATS_PORT=tcp://10.0.0.7:4222 and DOCGRAPH_NATS_PORT_4222_TCP_ADDR.
// No setting's variable has such a name.
func serviceLink(name, value string) bool {
	switch {
	case strings.HasSuffix(name, "_SERVICE_HOST"), strings.HasSuffix(name, "_SERVICE_PORT"),
		strings.Contains(name, "_SERVICE_PORT_"), servicePort.MatchString(name):
		return true
	case strings.HasSuffix(name, "_PORT"):
		return strings.Contains(value, "://")
	}
	return false
}

// Nearest returns the candidate nearest to name, within two edits and
// fewer than half the candidate's length, or "" if none is: the name a
// mistyped one (a flag, a variable) was likely meant to be. Of candidates
// equally near, the first wins.
func Nearest(name string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist && d < len(c)/2 {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
