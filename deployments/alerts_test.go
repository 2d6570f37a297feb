package deployments_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

const (
	alertsPath         = "deployments/prometheus/alerts.yml"
	prometheusRulePath = "deployments/k8s/prometheusrule.yaml"
	// alertsUnitTestPath holds promtool's unit tests of alertsPath, run by
	// hand (deployments/README.md, "Alerts").
	alertsUnitTestPath = "deployments/prometheus/alerts_test.yml"
	// promConfigContainer is where docker-compose.yml mounts prometheus.yml;
	// its rule_files are relative to its folder.
	promConfigContainer = "/etc/prometheus/prometheus.yml"
)

// instantAlerts fire at the first evaluation that sees their condition, on
// purpose: each counts events that happen once and are worth a look.
var instantAlerts = map[string]bool{
	"DocgraphMessagesDeadLettered": true,
	"DocgraphMessagesMissed":       true,
}

// ruleFile is a Prometheus rule file, alerting rules only.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string      `yaml:"name"`
	Interval string      `yaml:"interval"`
	Rules    []alertRule `yaml:"rules"`
}

type alertRule struct {
	Alert         string            `yaml:"alert"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for"`
	KeepFiringFor string            `yaml:"keep_firing_for"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// prometheusRule is the Prometheus Operator's PrometheusRule.
type prometheusRule struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Metadata   k8sMeta  `yaml:"metadata"`
	Spec       ruleFile `yaml:"spec"`
}

// decodeStrict decodes one YAML document; an unknown field is an error.
func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// promDurationRe is Prometheus's duration syntax (model.ParseDuration).
var promDurationRe = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// alertNameRe is the CamelCase of alert names.
var alertNameRe = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// checkAlertRules parses a rule file strictly and reports every problem:
// its shape, the metrics its expressions read (known reports whether one
// exists) and its runbooks (anchors are the headings of readmePath).
func checkAlertRules(data []byte, known func(string) bool, anchors map[string]bool) (ruleFile, error) {
	var f ruleFile
	if err := decodeStrict(data, &f); err != nil {
		return f, err
	}
	var errs []error
	if len(f.Groups) == 0 {
		errs = append(errs, errors.New("no groups"))
	}
	groups, alerts := map[string]bool{}, map[string]bool{}
	for _, g := range f.Groups {
		if g.Name == "" || groups[g.Name] {
			errs = append(errs, fmt.Errorf("group %q: empty or repeated name", g.Name))
		}
		groups[g.Name] = true
		if len(g.Rules) == 0 {
			errs = append(errs, fmt.Errorf("group %s: no rules", g.Name))
		}
		for _, r := range g.Rules {
			if err := checkAlertRule(r, known, anchors); err != nil {
				errs = append(errs, fmt.Errorf("group %s: %w", g.Name, err))
			}
			if alerts[r.Alert] {
				errs = append(errs, fmt.Errorf("alert %s: defined twice", r.Alert))
			}
			alerts[r.Alert] = true
		}
	}
	return f, errors.Join(errs...)
}

func checkAlertRule(r alertRule, known func(string) bool, anchors map[string]bool) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !alertNameRe.MatchString(r.Alert) {
		add("alert %q: want a CamelCase name", r.Alert)
	}
	switch {
	case r.For == "" && !instantAlerts[r.Alert]:
		add("for: required (an alert that fires at once belongs in instantAlerts)")
	case r.For != "" && !promDurationRe.MatchString(r.For):
		add("for %q: not a duration", r.For)
	}
	if r.KeepFiringFor != "" && !promDurationRe.MatchString(r.KeepFiringFor) {
		add("keep_firing_for %q: not a duration", r.KeepFiringFor)
	}
	metrics := exprMetrics(r.Expr)
	if len(metrics) == 0 {
		add("expr %q: reads no metric", r.Expr)
	}
	for _, m := range metrics {
		if !known(m) {
			add("expr: no metric %s", m)
		}
	}
	if s := r.Labels["severity"]; s != "warning" && s != "critical" {
		add("labels.severity %q: want warning or critical", s)
	}
	for _, a := range []string{"summary", "description", "runbook"} {
		if strings.TrimSpace(r.Annotations[a]) == "" {
			add("annotations.%s: required", a)
		}
	}
	if rb := r.Annotations["runbook"]; rb != "" {
		file, anchor, _ := strings.Cut(rb, "#")
		if file != readmePath || !anchors[anchor] {
			add("annotations.runbook %q: want %s#ANCHOR of one of its headings", rb, readmePath)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("alert %s: %w", r.Alert, err)
	}
	return nil
}

var (
	promStringRe    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchersRe  = regexp.MustCompile(`\{[^}]*\}`)
	promRangeRe     = regexp.MustCompile(`\[[^\]]*\]`)
	promGroupingRe  = regexp.MustCompile(`\b(by|without)\s*\([^)]*\)\s*`)
	promLabelListRe = regexp.MustCompile(`\b(on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdentRe     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	promCallRe      = regexp.MustCompile(`^\s*\(`)
	promKeywords    = map[string]bool{
		"and": true, "or": true, "unless": true, "offset": true, "bool": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true,
	}
)

// exprMetrics returns the metric names a PromQL expression selects: its
// identifiers that are not functions, keywords, label names or strings.
func exprMetrics(expr string) []string {
	s := promStringRe.ReplaceAllString(expr, `""`)
	s = promMatchersRe.ReplaceAllString(s, "")
	s = promRangeRe.ReplaceAllString(s, "")
	s = promGroupingRe.ReplaceAllString(s, "") // sum by (l) (x) is then a call: sum (x)
	s = promLabelListRe.ReplaceAllString(s, "$1")
	var out []string
	for _, loc := range promIdentRe.FindAllStringIndex(s, -1) {
		start, end := loc[0], loc[1]
		if start > 0 && strings.ContainsAny(s[start-1:start], "0123456789.") {
			continue // a duration's unit or a number's exponent
		}
		name := s[start:end]
		if promCallRe.MatchString(s[end:]) || promKeywords[strings.ToLower(name)] || slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
	}
	return out
}

// markdownAnchors returns the anchors GitHub gives a Markdown file's
// headings.
func markdownAnchors(md []byte) map[string]bool {
	out := map[string]bool{}
	fence := false
	sc := bufio.NewScanner(bytes.NewReader(md))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if fence || !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// alertMetricKnown reports whether the rules may use a metric: docgraph's
// own, the NATS exporter's, or Prometheus's up.
func alertMetricKnown(t *testing.T) func(string) bool {
	t.Helper()
	pipelineNames := metricNames{}
	_, err := pipeline.NewMetrics(pipelineNames)
	require.NoError(t, err)
	return func(m string) bool {
		switch {
		case m == "up":
			return true
		case strings.HasPrefix(m, "docgraph_"):
			return docgraphMetric(t, pipelineNames, m)
		default:
			return jetstreamExporterMetrics[m]
		}
	}
}

// ruleGroupsDrift reports the first alert that differs between two sets
// of groups.
func ruleGroupsDrift(want, got []ruleGroup) error {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	if len(want) != len(got) {
		return fmt.Errorf("%d groups, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if w.Name != g.Name || w.Interval != g.Interval || len(w.Rules) != len(g.Rules) {
			return fmt.Errorf("group %d: %s (%d rules), want %s (%d rules)", i, g.Name, len(g.Rules), w.Name, len(w.Rules))
		}
		for j := range w.Rules {
			if !reflect.DeepEqual(w.Rules[j], g.Rules[j]) {
				return fmt.Errorf("group %s: alert %s differs from %s", w.Name, g.Rules[j].Alert, w.Rules[j].Alert)
			}
		}
	}
	return errors.New("groups differ")
}

// ruleFilesMounted checks prometheus.yml's rule_files: each, relative to
// the config file's folder in the container, is a mounted host file, and
// want is one of them.
func ruleFilesMounted(ruleFiles []string, hostPath func(string) (string, error), want string) error {
	var errs []error
	found := false
	for _, rf := range ruleFiles {
		p := rf
		if !path.IsAbs(p) {
			p = path.Join(path.Dir(promConfigContainer), p)
		}
		host, err := hostPath(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rule_files %s: %w", rf, err))
			continue
		}
		if !exists(host) {
			errs = append(errs, fmt.Errorf("rule_files %s: %s does not exist", rf, host))
		}
		found = found || host == want
	}
	if !found {
		errs = append(errs, fmt.Errorf("rule_files %q: %s is not loaded", ruleFiles, want))
	}
	return errors.Join(errs...)
}

func TestAlertRules(t *testing.T) {
	readme, err := os.ReadFile(repoFile(t, readmePath))
	require.NoError(t, err)
	data, err := os.ReadFile(repoFile(t, alertsPath))
	require.NoError(t, err)
	rules, err := checkAlertRules(data, alertMetricKnown(t), markdownAnchors(readme))
	require.NoError(t, err)

	t.Run("documented", func(t *testing.T) {
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				assert.Contains(t, string(readme), r.Alert, "%s names alert %s", readmePath, r.Alert)
			}
		}
		assert.Contains(t, string(readme), "kubectl apply -f "+prometheusRulePath, "%s says how to apply the PrometheusRule", readmePath)
	})

	t.Run("consumers", func(t *testing.T) {
		var durables []string
		for _, c := range bus.Consumers {
			if !slices.Contains(durables, c.Durable) {
				durables = append(durables, c.Durable)
			}
		}
		re := regexp.MustCompile(`consumer_name=~"([^"]*)"`)
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				for _, m := range re.FindAllStringSubmatch(r.Expr, -1) {
					assert.ElementsMatch(t, durables, strings.Split(m[1], "|"), "alert %s: the stages' durable consumers", r.Alert)
				}
			}
		}
	})

	t.Run("unit tests", func(t *testing.T) {
		var ut struct {
			RuleFiles []string `yaml:"rule_files"`
			Tests     []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		readYAML(t, repoFile(t, alertsUnitTestPath), &ut)
		assert.Equal(t, []string{path.Base(alertsPath)}, ut.RuleFiles)
		tested := map[string]bool{}
		for _, tc := range ut.Tests {
			for _, a := range tc.AlertRuleTest {
				tested[a.Alertname] = true
			}
		}
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				assert.True(t, tested[r.Alert], "%s does not test alert %s", alertsUnitTestPath, r.Alert)
				delete(tested, r.Alert)
			}
		}
		assert.Empty(t, tested, "%s tests alerts %s does not have", alertsUnitTestPath, alertsPath)
	})

	t.Run("prometheus operator", func(t *testing.T) {
		k8s, err := os.ReadFile(repoFile(t, prometheusRulePath))
		require.NoError(t, err)
		var pr prometheusRule
		require.NoError(t, decodeStrict(k8s, &pr))
		assert.Equal(t, "monitoring.coreos.com/v1", pr.APIVersion)
		assert.Equal(t, "PrometheusRule", pr.Kind)
		assert.NotEmpty(t, pr.Metadata.Name)
		assert.Empty(t, pr.Metadata.Namespace, "namespace-agnostic, like the Kustomize base")
		assert.NoError(t, ruleGroupsDrift(rules.Groups, pr.Spec.Groups), "%s has the groups of %s", prometheusRulePath, alertsPath)
	})
}

// loadPromConfigRuleFiles returns prometheus.yml's rule_files.
func loadPromConfigRuleFiles(t *testing.T, file string) []string {
	t.Helper()
	var pc struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	readYAML(t, file, &pc)
	return pc.RuleFiles
}

func TestExprMetrics(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{`up{job="docgraph"} == 0`, []string{"up"}},
		{`absent(up{job="docgraph"} == 1)`, []string{"up"}},
		{`sum by (stage, reason) (increase(a_total[15m]) > 0 or (a_total unless a_total offset 15m)) > 0`, []string{"a_total"}},
		{`label_replace(max by (s) (x{c=~"p|q"}) + y, "stage", "$1", "c", "(.*)") > 0 unless on (stage) z`, []string{"x", "y", "z"}},
		{`sum by (o) (rate(a{o!~"ok"}[10m])) / ignoring (o) group_left sum(rate(a[5m])) > 1e-3`, []string{"a"}},
		{`histogram_quantile(0.9, rate(h_bucket[5m])) > bool 0.5`, []string{"h_bucket"}},
		{`vector(1)`, nil},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, exprMetrics(tt.give), tt.give)
	}
}

func TestMarkdownAnchors(t *testing.T) {
	md := "# Deploying docgraph\n\n## Streams and durability\n\n### Messages missed\n\n```sh\n# not a heading\n```\n\n### `docgraph_pipeline_paused`, again!\n"
	want := map[string]bool{
		"deploying-docgraph": true, "streams-and-durability": true, "messages-missed": true, "docgraph_pipeline_paused-again": true,
	}
	assert.Equal(t, want, markdownAnchors([]byte(md)))
}
