// Package deployments_test keeps the deployment files true to the code:
// docker-compose.yml, the Dockerfile, the Kubernetes manifests with their
// KEDA ScaledObjects, the NATS, Prometheus and Grafana configuration. No
// Docker engine or cluster is needed: the files are parsed and every
// docgraph command line, flag, environment variable, port, file and
// stream/consumer pair in them is checked against the real config flag set,
// pkg/bus's topology and the nats-server option parser.
package deployments_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

const (
	dockerfilePath = "deployments/docker/Dockerfile"
	composePath    = "docker-compose.yml"
	k8sDir         = "deployments/k8s"
	natsDevConf    = "deployments/nats/nats.conf"
	natsCluster    = "deployments/nats/nats-cluster.conf"
	dashboardsDir  = "deployments/grafana/dashboards"
	readmePath     = "deployments/README.md"
	// embeddedMaxPayload is what docgraph's embedded server allows
	// (pkg/bus.StartEmbedded); an external server must allow as much.
	embeddedMaxPayload = 8 << 20
)

// repoRoot is the directory holding go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "go.mod not found above the test directory")
		dir = parent
	}
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), filepath.FromSlash(rel))
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// image is the parsed Dockerfile: what every docgraph container starts with.
type image struct {
	env         map[string]string
	entrypoint  []string
	cmd         []string
	healthcheck []string
	expose      []int
	user        string
}

func loadImage(t *testing.T) image {
	t.Helper()
	ins, err := parseDockerfile(repoFile(t, dockerfilePath))
	require.NoError(t, err)
	env, err := dockerEnv(ins)
	require.NoError(t, err)
	img := image{env: env}
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			img = image{env: env}
		case "ENTRYPOINT":
			l, ok := execForm(in.args)
			require.True(t, ok, "line %d: ENTRYPOINT must be exec form (signals reach docgraph)", in.line)
			img.entrypoint = l
		case "CMD":
			l, ok := execForm(in.args)
			require.True(t, ok, "line %d: CMD must be exec form", in.line)
			img.cmd = l
		case "HEALTHCHECK":
			_, rest, ok := strings.Cut(in.args, "CMD ")
			require.True(t, ok, "line %d: HEALTHCHECK without CMD", in.line)
			l, ok := execForm(rest)
			require.True(t, ok, "line %d: HEALTHCHECK CMD must be exec form", in.line)
			img.healthcheck = l
		case "EXPOSE":
			for _, p := range strings.Fields(in.args) {
				n, err := strconv.Atoi(strings.TrimSuffix(p, "/tcp"))
				require.NoError(t, err, "line %d: EXPOSE %s", in.line, p)
				img.expose = append(img.expose, n)
			}
		case "USER":
			img.user = in.args
		}
	}
	return img
}

// runsDocgraph reports whether a compose service runs the docgraph image.
func runsDocgraph(s composeService) bool {
	if s.Build != nil && path.Clean(s.Build.Dockerfile) == dockerfilePath {
		return true
	}
	return imageName(s.Image) == "docgraph"
}

// imageName is an image reference without registry, path and tag.
func imageName(ref string) string {
	ref = ref[strings.LastIndex(ref, "/")+1:]
	name, _, _ := strings.Cut(ref, "@")
	name, _, _ = strings.Cut(name, ":")
	return name
}

// healthcheckPort checks a docgraph-healthcheck command and returns its port.
func healthcheckPort(cmd []string) (int, string, error) {
	if len(cmd) < 2 || cmd[0] != "docgraph-healthcheck" {
		return 0, "", fmt.Errorf("health check %q: want docgraph-healthcheck PORT [PATH]", cmd)
	}
	port, err := strconv.Atoi(cmd[1])
	if err != nil {
		return 0, "", fmt.Errorf("health check %q: port: %w", cmd, err)
	}
	p := "/readyz"
	if len(cmd) > 2 {
		p = cmd[2]
	}
	if p != "/readyz" && p != "/healthz" {
		return 0, "", fmt.Errorf("health check %q: docgraph serves /healthz and /readyz, not %s", cmd, p)
	}
	return port, p, nil
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	img := loadImage(t)
	ins, err := parseDockerfile(repoFile(t, dockerfilePath))
	require.NoError(t, err)

	t.Run("copy sources exist and are in the build context", func(t *testing.T) {
		ignore, err := loadDockerignore(filepath.Join(root, ".dockerignore"))
		require.NoError(t, err)
		srcs, err := copySources(ins)
		require.NoError(t, err)
		require.NotEmpty(t, srcs)
		for src, line := range srcs {
			files, err := contextFiles(root, src)
			require.NoError(t, err, "Dockerfile line %d: COPY %s", line, src)
			require.NotEmpty(t, files, "Dockerfile line %d: COPY %s copies nothing", line, src)
			kept := 0
			for _, f := range files {
				if !ignore.excluded(f) {
					kept++
				}
			}
			assert.NotZero(t, kept, "Dockerfile line %d: COPY %s: .dockerignore excludes all of it", line, src)
		}
	})

	t.Run("entrypoint, default command and user", func(t *testing.T) {
		assert.Equal(t, []string{"docgraph"}, img.entrypoint)
		_, err := checkInvocation(img.cmd, img.env, nil)
		require.NoError(t, err, "CMD %q", img.cmd)
		require.NotEmpty(t, img.user, "the runtime runs as a non-root USER")
		uid, _, _ := strings.Cut(img.user, ":")
		assert.NotContains(t, []string{"0", "root"}, uid, "USER %s", img.user)
	})

	t.Run("environment, ports and health check agree", func(t *testing.T) {
		inv, err := checkInvocation([]string{"up"}, img.env, nil)
		require.NoError(t, err, "ENV %v", img.env)
		metricsPort, err := addrPort(inv.cfg.Metrics.Addr)
		require.NoError(t, err, "metrics.addr %q", inv.cfg.Metrics.Addr)
		natsPort, err := addrPort(inv.cfg.NATS.Listen)
		require.NoError(t, err, "nats.listen %q", inv.cfg.NATS.Listen)
		assert.ElementsMatch(t, []int{metricsPort, natsPort}, img.expose, "EXPOSE: metrics and the embedded NATS")
		port, _, err := healthcheckPort(img.healthcheck)
		require.NoError(t, err)
		assert.Equal(t, metricsPort, port, "HEALTHCHECK port is the metrics port")
		assert.Equal(t, "/data", inv.cfg.Data, "data lives in the /data volume")
	})
}

func TestCompose(t *testing.T) {
	root := repoRoot(t)
	c, err := loadCompose(filepath.Join(root, composePath))
	require.NoError(t, err)
	img := loadImage(t)

	natsOpts := map[string]*server.Options{} // compose services running nats-server
	for name, s := range c.Services {
		if strings.HasPrefix(imageName(s.Image), "nats") && !strings.Contains(s.Image, "exporter") {
			natsOpts[name] = composeNATSOptions(t, root, name, s)
		}
	}
	require.NotEmpty(t, natsOpts, "a NATS service")

	t.Run("files and volumes", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			s := c.Services[name]
			if s.Build != nil {
				assert.DirExists(t, filepath.Join(root, s.Build.Context), "service %s: build.context", name)
				assert.FileExists(t, filepath.Join(root, s.Build.Context, s.Build.Dockerfile), "service %s: build.dockerfile", name)
			}
			for _, v := range s.Volumes {
				switch v.Type {
				case "bind":
					if !v.CreateHost {
						assert.True(t, exists(filepath.Join(root, v.Source)), "service %s: bind mount source %s does not exist", name, v.Source)
					}
				case "volume":
					_, ok := c.Volumes[v.Source]
					assert.True(t, ok || v.Source == "", "service %s: volume %s is not declared under volumes:", name, v.Source)
				default:
					t.Errorf("service %s: volume %+v: unknown type", name, v)
				}
			}
		}
	})

	t.Run("depends_on", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			for dep, cond := range c.Services[name].DependsOn {
				ds, ok := c.Services[dep]
				if !assert.True(t, ok, "service %s depends on unknown service %s", name, dep) {
					continue
				}
				if cond == "service_healthy" {
					assert.NotNil(t, ds.Healthcheck, "service %s waits for %s to be healthy, which has no health check", name, dep)
				}
			}
		}
	})

	t.Run("docgraph services", func(t *testing.T) {
		stages := map[string]int{}
		for _, name := range sortedKeys(c.Services) {
			s := c.Services[name]
			if !runsDocgraph(s) {
				continue
			}
			t.Run(name, func(t *testing.T) {
				require.Empty(t, s.Entrypoint, "the image's ENTRYPOINT is docgraph")
				env := mergeEnv(img.env, s.Environment)
				inv, err := checkInvocation(s.Command, env, func(p string) (string, error) { return s.hostPath(root, p) })
				require.NoError(t, err, "command %q", s.Command)
				if inv.command == "worker" {
					replicas := 1
					if s.Deploy.Replicas != nil {
						replicas = *s.Deploy.Replicas
					}
					stages[inv.sub] += replicas
				}

				metricsPort, err := addrPort(inv.cfg.Metrics.Addr)
				require.NoError(t, err, "metrics.addr")
				require.NotNil(t, s.Healthcheck, "a health check")
				test := []string(s.Healthcheck.Test)
				require.NotEmpty(t, test)
				require.Equal(t, "CMD", test[0], "exec-form health check")
				port, _, err := healthcheckPort(test[1:])
				require.NoError(t, err)
				assert.Equal(t, metricsPort, port, "health check port is --metrics.addr's")

				if inv.cfg.NATS.URL != "" {
					host, port, err := urlHostPort(inv.cfg.NATS.URL, 4222)
					require.NoError(t, err, "nats.url")
					opts, ok := natsOpts[host]
					require.True(t, ok, "nats.url %s: no NATS service %q", inv.cfg.NATS.URL, host)
					assert.Equal(t, clientPort(opts), port, "nats.url %s: the server listens on %d", inv.cfg.NATS.URL, clientPort(opts))
					assert.Equal(t, "service_healthy", s.DependsOn[host], "waits for NATS to be healthy")
				}
				if inv.cfg.Neo4j.URI != "" {
					host, _, err := urlHostPort(inv.cfg.Neo4j.URI, 7687)
					require.NoError(t, err, "neo4j.uri")
					ns, ok := c.Services[host]
					require.True(t, ok, "neo4j.uri %s: no service %q", inv.cfg.Neo4j.URI, host)
					assert.Equal(t, "service_healthy", s.DependsOn[host], "waits for Neo4j to be healthy")
					assert.NotEmpty(t, inv.cfg.Neo4j.Password, "the Neo4j password is set")
					assert.Equal(t, "neo4j/"+inv.cfg.Neo4j.Password, ns.Environment["NEO4J_AUTH"], "the password Neo4j was created with")
				}
				if inv.cfg.Watch.Dir != "" {
					_, err := s.hostPath(root, inv.cfg.Watch.Dir)
					assert.NoError(t, err, "watch.dir is a bind-mounted folder")
				}
			})
		}
		// Every stage runs; exactly one watcher per folder.
		for _, st := range []string{bus.StageWatcher, bus.StageParser, bus.StageExtractor, bus.StageGraphWriter} {
			assert.NotZero(t, stages[st], "no service runs `worker %s`", st)
		}
		assert.Equal(t, 1, stages[bus.StageWatcher], "exactly one watcher")
	})

	t.Run("nats", func(t *testing.T) {
		for name, opts := range natsOpts {
			s := c.Services[name]
			assert.True(t, opts.JetStream, "service %s: JetStream enabled", name)
			_, err := s.volumeFor(opts.StoreDir)
			assert.NoError(t, err, "service %s: JetStream store_dir %s is on a volume", name, opts.StoreDir)
			assert.GreaterOrEqual(t, opts.MaxPayload, int32(embeddedMaxPayload), "service %s: max_payload", name)
			require.NotNil(t, s.Healthcheck, "service %s: a health check", name)
			u := healthcheckURL(t, s.Healthcheck.Test)
			_, port, err := urlHostPort(u.String(), 80)
			require.NoError(t, err)
			assert.Equal(t, opts.HTTPPort, port, "service %s: health check on the monitoring port", name)
			assert.Equal(t, "/healthz", u.Path)
			assert.Equal(t, "true", u.Query().Get("js-enabled-only"), "health check waits for JetStream")
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		prom, ok := c.Services["prometheus"]
		require.True(t, ok, "a prometheus service")
		file, err := prom.hostPath(root, promConfigContainer)
		require.NoError(t, err)
		checkPrometheus(t, root, file, c, img)
		hostPath := func(p string) (string, error) { return prom.hostPath(root, p) }
		assert.NoError(t, ruleFilesMounted(loadPromConfigRuleFiles(t, file), hostPath, repoFile(t, alertsPath)))
	})

	t.Run("grafana", func(t *testing.T) {
		g, ok := c.Services["grafana"]
		require.True(t, ok, "a grafana service")
		prov, err := g.hostPath(root, "/etc/grafana/provisioning")
		require.NoError(t, err)
		checkGrafana(t, prov, g, root, c)
	})
}

// mergeEnv is the image's environment overridden by a service's.
func mergeEnv(base, over map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// volumeFor finds the volume (of any type) holding a container path.
func (s composeService) volumeFor(containerPath string) (composeVolume, error) {
	for _, v := range s.Volumes {
		if _, ok := underPath(v.Target, containerPath); ok {
			return v, nil
		}
	}
	return composeVolume{}, fmt.Errorf("%s is on no volume", containerPath)
}

// composeNATSOptions parses a NATS service's command line with
// nats-server's own option parser, its config file read through the
// service's bind mount.
func composeNATSOptions(t *testing.T, root, name string, s composeService) *server.Options {
	t.Helper()
	args := slices.Clone([]string(s.Command))
	for i := range args {
		if (args[i] == "-c" || args[i] == "--config" || args[i] == "-config") && i+1 < len(args) {
			host, err := s.hostPath(root, args[i+1])
			require.NoError(t, err, "service %s: config file", name)
			require.FileExists(t, host, "service %s: config file", name)
			args[i+1] = host
		}
	}
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts, err := server.ConfigureOptions(fs, args, func() {}, func() {}, func() {})
	require.NoError(t, err, "service %s: nats-server %q", name, args)
	return opts
}

func clientPort(o *server.Options) int {
	if o.Port == 0 {
		return server.DEFAULT_PORT
	}
	return o.Port
}

// healthcheckURL finds the URL in a wget/curl health check.
func healthcheckURL(t *testing.T, test []string) *url.URL {
	t.Helper()
	for _, a := range test {
		if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
			u, err := url.Parse(a)
			require.NoError(t, err)
			return u
		}
	}
	t.Fatalf("health check %q has no URL", test)
	return nil
}

type promConfig struct {
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
}

// checkPrometheus checks that every scrape target is a compose service on
// the port it serves metrics on, and that every docgraph service is scraped.
func checkPrometheus(t *testing.T, root, file string, c composeFile, img image) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	var pc promConfig
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	require.NoError(t, dec.Decode(&pc), file)
	require.NotEmpty(t, pc.ScrapeConfigs)

	metricsPort := func(name string) int {
		s := c.Services[name]
		inv, err := checkInvocation(s.Command, mergeEnv(img.env, s.Environment), func(p string) (string, error) { return s.hostPath(root, p) })
		require.NoError(t, err, "service %s", name)
		p, err := addrPort(inv.cfg.Metrics.Addr)
		require.NoError(t, err)
		return p
	}
	scraped := map[string]bool{}
	for _, sc := range pc.ScrapeConfigs {
		for _, d := range sc.DNSSDConfigs {
			assert.Equal(t, "A", d.Type, "job %s", sc.JobName)
			for _, n := range d.Names {
				s, ok := c.Services[n]
				if !assert.True(t, ok, "job %s: %s is not a compose service", sc.JobName, n) {
					continue
				}
				scraped[n] = true
				if runsDocgraph(s) {
					assert.Equal(t, metricsPort(n), d.Port, "job %s: %s serves metrics on its --metrics.addr port", sc.JobName, n)
				}
			}
		}
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, err := splitTarget(target)
				require.NoError(t, err, "job %s: target %s", sc.JobName, target)
				if host == "localhost" {
					continue
				}
				s, ok := c.Services[host]
				if !assert.True(t, ok, "job %s: %s is not a compose service", sc.JobName, host) {
					continue
				}
				scraped[host] = true
				if runsDocgraph(s) {
					assert.Equal(t, metricsPort(host), port, "job %s: %s", sc.JobName, target)
				}
			}
		}
	}
	for name, s := range c.Services {
		if runsDocgraph(s) {
			assert.True(t, scraped[name], "docgraph service %s is not scraped", name)
		}
	}
}

func splitTarget(target string) (string, int, error) {
	i := strings.LastIndex(target, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("want host:port")
	}
	p, err := strconv.Atoi(target[i+1:])
	return target[:i], p, err
}

type grafanaDatasources struct {
	Datasources []struct {
		Name string `yaml:"name"`
		UID  string `yaml:"uid"`
		Type string `yaml:"type"`
		URL  string `yaml:"url"`
	} `yaml:"datasources"`
}

type grafanaProviders struct {
	Providers []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// checkGrafana checks the provisioning: the data source points at the
// Prometheus service and the dashboard provider at a mounted folder with
// dashboards.
func checkGrafana(t *testing.T, prov string, g composeService, root string, c composeFile) {
	t.Helper()
	dsFiles, err := filepath.Glob(filepath.Join(prov, "datasources", "*.y*ml"))
	require.NoError(t, err)
	require.NotEmpty(t, dsFiles, "a data source under %s/datasources", prov)
	for _, f := range dsFiles {
		var ds grafanaDatasources
		readYAML(t, f, &ds)
		for _, d := range ds.Datasources {
			require.Equal(t, "prometheus", d.Type, "%s: %s", f, d.Name)
			host, port, err := urlHostPort(d.URL, 80)
			require.NoError(t, err)
			p, ok := c.Services[host]
			require.True(t, ok, "%s: data source %s: %s is not a compose service", f, d.Name, host)
			assert.True(t, strings.HasPrefix(imageName(p.Image), "prometheus"), "%s: %s is not Prometheus", f, host)
			assert.Equal(t, 9090, port, "%s: Prometheus listens on 9090 in its container", f)
		}
	}
	provFiles, err := filepath.Glob(filepath.Join(prov, "dashboards", "*.y*ml"))
	require.NoError(t, err)
	require.NotEmpty(t, provFiles, "a dashboard provider under %s/dashboards", prov)
	for _, f := range provFiles {
		var dp grafanaProviders
		readYAML(t, f, &dp)
		for _, p := range dp.Providers {
			dir, err := g.hostPath(root, p.Options.Path)
			require.NoError(t, err, "%s: provider %s: path %s", f, p.Name, p.Options.Path)
			dashboards, err := filepath.Glob(filepath.Join(dir, "*.json"))
			require.NoError(t, err)
			assert.NotEmpty(t, dashboards, "%s: provider %s: no dashboards in %s", f, p.Name, dir)
		}
	}
	if home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; home != "" {
		f, err := g.hostPath(root, home)
		require.NoError(t, err, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
		assert.FileExists(t, f)
	}
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, v), file)
}

// optionalManifests are the files of k8s/ that the Kustomize base leaves
// out, with the reason; deployments/README.md says how to apply them.
var optionalManifests = map[string]string{
	"prometheusrule.yaml": "its CRD exists only where the Prometheus Operator runs",
}

// manifests loads every resource listed in the kustomization.
type manifests struct {
	kust    kustomization
	objects []k8sObject
}

func loadK8s(t *testing.T) manifests {
	t.Helper()
	dir := repoFile(t, k8sDir)
	var m manifests
	readYAML(t, filepath.Join(dir, "kustomization.yaml"), &m.kust)
	require.NotEmpty(t, m.kust.Resources)
	listed := map[string]bool{}
	for _, r := range m.kust.Resources {
		f := filepath.Join(dir, filepath.FromSlash(r))
		require.FileExists(t, f, "kustomization resource %s", r)
		objs, err := loadManifests(f)
		require.NoError(t, err)
		require.NotEmpty(t, objs, "%s holds no objects", r)
		m.objects = append(m.objects, objs...)
		listed[r] = true
	}
	// Every manifest in the folder is listed, so none is forgotten, except
	// the optional ones, which must not be.
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	require.NoError(t, err)
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case base == "kustomization.yaml":
		case optionalManifests[base] != "":
			assert.False(t, listed[base], "%s is optional (%s): it must not be in kustomization.yaml resources", base, optionalManifests[base])
		default:
			assert.True(t, listed[base], "%s is not listed in kustomization.yaml resources", base)
		}
	}
	names := map[string]bool{}
	for _, o := range m.objects {
		key := o.Kind + "/" + o.Metadata.Name
		assert.False(t, names[key], "%s defined twice", key)
		names[key] = true
		assert.Empty(t, o.Metadata.Namespace, "%s: the manifests are namespace-agnostic", o)
	}
	return m
}

func (m manifests) find(kind, name string) (k8sObject, bool) {
	for _, o := range m.objects {
		if o.Kind == kind && o.Metadata.Name == name {
			return o, true
		}
	}
	return k8sObject{}, false
}

func (m manifests) all(kind string) []k8sObject {
	var out []k8sObject
	for _, o := range m.objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// k8sWorkload is a docgraph Deployment with its checked command line.
type k8sWorkload struct {
	obj k8sObject
	dep deployment
	inv invocation
}

// docgraphWorkloads checks every docgraph container of every Deployment
// and returns the Deployments by stage.
func docgraphWorkloads(t *testing.T, m manifests, img image, tmp string) map[string]k8sWorkload {
	t.Helper()
	out := map[string]k8sWorkload{}
	for _, o := range m.all("Deployment") {
		var d deployment
		require.NoError(t, o.decode(&d))
		pod := d.Spec.Template.Spec
		for _, c := range pod.Containers {
			if imageName(c.Image) != "docgraph" {
				continue
			}
			t.Run(o.Metadata.Name+"/"+c.Name, func(t *testing.T) {
				inv := checkK8sContainer(t, m, img, o, d, c, tmp)
				if inv.command == "worker" {
					_, dup := out[inv.sub]
					assert.False(t, dup, "two Deployments run worker %s", inv.sub)
					out[inv.sub] = k8sWorkload{obj: o, dep: d, inv: inv}
				}
			})
		}
	}
	return out
}

func checkK8sContainer(t *testing.T, m manifests, img image, o k8sObject, d deployment, c container, tmp string) invocation {
	t.Helper()
	pod := d.Spec.Template.Spec
	require.Empty(t, c.Command, "the image's ENTRYPOINT is docgraph: use args")
	env := mergeEnv(img.env, nil)
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "from-secret"
			checkSecretDocumented(t, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm := configMapData(t, m, ref.Name)
			v, ok := cm[ref.Key]
			require.True(t, ok, "env %s: ConfigMap %s has no key %s", e.Name, ref.Name, ref.Key)
			env[e.Name] = v
		default:
			// resourceFieldRef, fieldRef: not docgraph settings.
			assert.False(t, strings.HasPrefix(e.Name, "DOCGRAPH_"), "env %s from a field", e.Name)
		}
	}
	assert.Empty(t, c.EnvFrom, "envFrom would hide which variables are set")

	volumes := map[string]int{}
	for i, v := range pod.Volumes {
		volumes[v.Name] = i
		switch {
		case v.ConfigMap != nil:
			configMapData(t, m, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil:
			_, ok := m.find("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName)
			assert.True(t, ok, "volume %s: no PersistentVolumeClaim %s", v.Name, v.PersistentVolumeClaim.ClaimName)
		case v.Secret != nil:
			checkSecretDocumented(t, v.Secret.SecretName, "")
		}
	}
	mountOf := func(p string) (string, string, bool) {
		best, name, rel := -1, "", ""
		for _, vm := range c.VolumeMounts {
			if r, ok := underPath(vm.MountPath, p); ok && len(vm.MountPath) > best {
				best, name, rel = len(vm.MountPath), vm.Name, r
			}
		}
		return name, rel, best >= 0
	}
	for _, vm := range c.VolumeMounts {
		_, ok := volumes[vm.Name]
		assert.True(t, ok, "volumeMount %s: no such volume", vm.Name)
	}

	// --config PATH: a key of a mounted ConfigMap, written out for the loader.
	configFile := func(p string) (string, error) {
		name, rel, ok := mountOf(p)
		if !ok {
			return "", fmt.Errorf("not inside any volumeMount")
		}
		v := pod.Volumes[volumes[name]]
		if v.ConfigMap == nil {
			return "", fmt.Errorf("volume %s is not a ConfigMap", name)
		}
		data := configMapData(t, m, v.ConfigMap.Name)
		content, ok := data[rel]
		if !ok {
			return "", fmt.Errorf("ConfigMap %s has no key %s", v.ConfigMap.Name, rel)
		}
		f := filepath.Join(tmp, v.ConfigMap.Name+"-"+rel)
		return f, os.WriteFile(f, []byte(content), 0o600)
	}
	inv, err := checkInvocation(c.Args, env, configFile)
	require.NoError(t, err, "args %q", c.Args)

	metricsPort, err := addrPort(inv.cfg.Metrics.Addr)
	require.NoError(t, err, "metrics.addr %q", inv.cfg.Metrics.Addr)
	assert.NotEqual(t, "127.0.0.1", strings.Split(inv.cfg.Metrics.Addr, ":")[0], "probes cannot reach a loopback metrics.addr")
	for _, p := range []struct {
		name  string
		probe *probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"startup", c.StartupProbe, "/healthz"},
	} {
		if p.probe == nil {
			if p.name != "startup" { // a startup probe is optional
				t.Errorf("no %s probe", p.name)
			}
			continue
		}
		require.NotNil(t, p.probe.HTTPGet, "%s probe: httpGet", p.name)
		assert.Equal(t, p.path, p.probe.HTTPGet.Path, "%s probe path", p.name)
		port, err := c.containerPort(p.probe.HTTPGet.Port)
		require.NoError(t, err, "%s probe", p.name)
		assert.Equal(t, metricsPort, port, "%s probe port is --metrics.addr's", p.name)
	}
	ann := d.Spec.Template.Metadata.Annotations
	if ann["prometheus.io/scrape"] == "true" {
		assert.Equal(t, strconv.Itoa(metricsPort), ann["prometheus.io/port"], "prometheus.io/port")
		assert.Equal(t, "/metrics", ann["prometheus.io/path"], "prometheus.io/path")
	}
	for _, r := range []string{"cpu", "memory"} {
		assert.NotEmpty(t, c.Resources.Requests[r], "resources.requests.%s", r)
	}
	assert.NotEmpty(t, c.Resources.Limits["memory"], "resources.limits.memory")
	if inv.cfg.Data != "" {
		_, _, ok := mountOf(inv.cfg.Data)
		assert.True(t, ok, "data %s is on a volume (the root filesystem may be read-only)", inv.cfg.Data)
	}
	if inv.cfg.Watch.Dir != "" {
		name, _, ok := mountOf(inv.cfg.Watch.Dir)
		require.True(t, ok, "watch.dir %s is on a volume", inv.cfg.Watch.Dir)
		v := pod.Volumes[volumes[name]]
		assert.True(t, v.PersistentVolumeClaim != nil || v.HostPath != nil, "watch.dir is on a PVC or hostPath")
	}
	if d.Spec.Template.Spec.TerminationGracePeriodSeconds != nil {
		assert.Greater(t, float64(*d.Spec.Template.Spec.TerminationGracePeriodSeconds), inv.cfg.Shutdown.Seconds(),
			"terminationGracePeriodSeconds leaves shutdown_timeout for in-flight work")
	}
	assert.True(t, d.Spec.Selector.selects(d.Spec.Template.Metadata.Labels), "the selector selects the pod template")
	return inv
}

func configMapData(t *testing.T, m manifests, name string) map[string]string {
	t.Helper()
	o, ok := m.find("ConfigMap", name)
	require.True(t, ok, "no ConfigMap %s", name)
	var cm configMap
	require.NoError(t, o.decode(&cm))
	return cm.Data
}

// checkSecretDocumented requires the README to show how to create a Secret
// the manifests reference but do not ship.
func checkSecretDocumented(t *testing.T, name, key string) {
	t.Helper()
	readme, err := os.ReadFile(repoFile(t, readmePath))
	require.NoError(t, err)
	want := `kubectl[^\n]* create secret generic ` + regexp.QuoteMeta(name) + `\b`
	if key != "" {
		want += `[^\n]*--from-literal=` + regexp.QuoteMeta(key) + "="
	}
	assert.True(t, regexp.MustCompile(want).Match(readme), "%s says how to create Secret %s (key %q)", readmePath, name, key)
}

func TestKubernetes(t *testing.T) {
	m := loadK8s(t)
	img := loadImage(t)
	for _, o := range m.objects {
		assert.NotEqual(t, "Secret", o.Kind, "%s: secrets are created by the operator, not shipped", o)
	}
	workloads := docgraphWorkloads(t, m, img, t.TempDir())

	t.Run("every stage runs", func(t *testing.T) {
		for _, st := range []string{bus.StageWatcher, bus.StageParser, bus.StageExtractor, bus.StageGraphWriter} {
			_, ok := workloads[st]
			assert.True(t, ok, "no Deployment runs `worker %s`", st)
		}
		for _, w := range workloads {
			assert.Greater(t, w.inv.cfg.Streams.Replicas, 1, "%s: streams.replicas in a cluster", w.obj)
			assert.NotEmpty(t, w.inv.cfg.NATS.URL, "%s: nats.url", w.obj)
		}
	})

	t.Run("image", func(t *testing.T) {
		var found bool
		for _, i := range m.kust.Images {
			found = found || i.Name == "docgraph"
		}
		assert.True(t, found, "kustomization.yaml images: sets the docgraph image")
	})

	t.Run("one watcher", func(t *testing.T) {
		watcher, ok := workloads[bus.StageWatcher]
		require.True(t, ok)
		require.NotNil(t, watcher.dep.Spec.Replicas, "the watcher's replicas are set")
		assert.Equal(t, 1, *watcher.dep.Spec.Replicas, "exactly one watcher per folder")
		assert.Equal(t, "Recreate", watcher.dep.Spec.Strategy.Type, "never two watchers, even in a rollout")
		for _, so := range m.all("ScaledObject") {
			var s scaledObject
			require.NoError(t, so.decode(&s))
			assert.NotEqual(t, watcher.obj.Metadata.Name, s.Spec.ScaleTargetRef.Name, "%s scales the watcher", so)
		}
	})

	t.Run("disruption budgets", func(t *testing.T) {
		covered := map[string]bool{}
		for _, o := range m.all("PodDisruptionBudget") {
			var p podDisruptionBudget
			require.NoError(t, o.decode(&p))
			assert.True(t, (p.Spec.MinAvailable == nil) != (p.Spec.MaxUnavailable == nil), "%s: one of minAvailable, maxUnavailable", o)
			n := 0
			for st, w := range workloads {
				if p.Spec.Selector.selects(w.dep.Spec.Template.Metadata.Labels) {
					covered[st] = true
					n++
				}
			}
			assert.Equal(t, 1, n, "%s selects the pods of exactly one Deployment", o)
		}
		for _, st := range []string{bus.StageParser, bus.StageExtractor, bus.StageGraphWriter} {
			assert.True(t, covered[st], "no PodDisruptionBudget for %s", st)
		}
	})

	t.Run("scaled objects", func(t *testing.T) {
		cluster := natsClusterOptions(t)
		checkScaledObjects(t, m, workloads, cluster)
	})
}

// kedaJetStreamMetadata are the nats-jetstream trigger's metadata keys
// (https://keda.sh/docs/latest/scalers/nats-jetstream/).
var kedaJetStreamMetadata = map[string]bool{
	"natsServerMonitoringEndpoint": true, "account": true, "stream": true, "consumer": true,
	"lagThreshold": true, "activationLagThreshold": true, "useHttps": true,
}

func checkScaledObjects(t *testing.T, m manifests, workloads map[string]k8sWorkload, cluster *server.Options) {
	t.Helper()
	scaled := map[string]bool{}
	for _, o := range m.all("ScaledObject") {
		var s scaledObject
		require.NoError(t, o.decode(&s))
		ref := s.Spec.ScaleTargetRef
		assert.Contains(t, []string{"", "Deployment"}, ref.Kind, "%s: scaleTargetRef.kind", o)
		var w k8sWorkload
		var stage string
		for st, wl := range workloads {
			if wl.obj.Metadata.Name == ref.Name {
				w, stage = wl, st
			}
		}
		if !assert.NotEmpty(t, stage, "%s: scaleTargetRef %s is no docgraph worker Deployment", o, ref.Name) {
			continue
		}
		assert.Nil(t, w.dep.Spec.Replicas, "%s: Deployment %s sets replicas, which fights the autoscaler", o, ref.Name)
		require.NotNil(t, s.Spec.MaxReplicaCount, "%s: maxReplicaCount", o)
		if s.Spec.MinReplicaCount != nil {
			assert.LessOrEqual(t, *s.Spec.MinReplicaCount, *s.Spec.MaxReplicaCount, "%s", o)
		}
		assert.False(t, scaled[stage], "%s: stage %s has two ScaledObjects", o, stage)
		scaled[stage] = true

		natsHost, _, err := urlHostPort(strings.Split(w.inv.cfg.NATS.URL, ",")[0], 4222)
		require.NoError(t, err)
		var pairs []bus.ConsumerSpec
		for i, tr := range s.Spec.Triggers {
			if !assert.Equal(t, "nats-jetstream", tr.Type, "%s trigger %d", o, i) {
				continue
			}
			for k := range tr.Metadata {
				assert.True(t, kedaJetStreamMetadata[k], "%s trigger %d: unknown metadata %q", o, i, k)
			}
			for _, k := range []string{"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold"} {
				assert.NotEmpty(t, tr.Metadata[k], "%s trigger %d: metadata %s", o, i, k)
			}
			lag, err := strconv.Atoi(tr.Metadata["lagThreshold"])
			assert.NoError(t, err, "%s trigger %d: lagThreshold", o, i)
			assert.Positive(t, lag, "%s trigger %d: lagThreshold", o, i)
			spec := bus.ConsumerSpec{Stage: stage, Stream: tr.Metadata["stream"], Durable: tr.Metadata["consumer"]}
			assert.Contains(t, bus.ConsumersOf(stage), spec, "%s trigger %d: %s reads no consumer %s on %s", o, i, stage, spec.Durable, spec.Stream)
			pairs = append(pairs, spec)

			host, port, err := splitTarget(tr.Metadata["natsServerMonitoringEndpoint"])
			require.NoError(t, err, "%s trigger %d: natsServerMonitoringEndpoint", o, i)
			assert.Equal(t, cluster.HTTPPort, port, "%s trigger %d: the NATS monitoring port", o, i)
			assert.Equal(t, natsHost, host, "%s trigger %d: the same NATS as nats.url", o, i)
		}
		assert.ElementsMatch(t, bus.ConsumersOf(stage), pairs, "%s: one trigger per consumer of %s", o, stage)
	}
	for _, c := range bus.Consumers {
		assert.True(t, scaled[c.Stage], "no ScaledObject for %s", c.Stage)
	}
	for _, w := range workloads {
		if w.inv.sub == bus.StageWatcher || w.inv.cfg.NATS.URL == "" {
			continue
		}
		_, port, err := urlHostPort(strings.Split(w.inv.cfg.NATS.URL, ",")[0], 4222)
		require.NoError(t, err)
		assert.Equal(t, clientPort(cluster), port, "%s: nats.url port is the cluster's client port", w.obj)
	}
}

// natsClusterOptions parses the production NATS configuration with
// nats-server's parser.
func natsClusterOptions(t *testing.T) *server.Options {
	t.Helper()
	t.Setenv("SERVER_NAME", "nats-0")
	opts, err := server.ProcessConfigFile(repoFile(t, natsCluster))
	require.NoError(t, err)
	return opts
}

func TestNATSConfig(t *testing.T) {
	cluster := natsClusterOptions(t)
	dev, err := server.ProcessConfigFile(repoFile(t, natsDevConf))
	require.NoError(t, err)
	tests := []struct {
		name       string
		opts       *server.Options
		syncAlways bool
		routes     int
	}{
		{"cluster", cluster, true, 3},
		{"compose", dev, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.True(t, tt.opts.JetStream, "JetStream enabled")
			assert.Equal(t, tt.syncAlways, tt.opts.SyncAlways, "sync_interval: always")
			assert.Len(t, tt.opts.Routes, tt.routes, "cluster routes")
			assert.GreaterOrEqual(t, tt.opts.MaxPayload, int32(embeddedMaxPayload), "max_payload as large as the embedded server's")
			assert.NotZero(t, tt.opts.HTTPPort, "monitoring port (health checks, exporter, KEDA)")
		})
	}
	readme, err := os.ReadFile(repoFile(t, readmePath))
	require.NoError(t, err)
	for _, s := range []string{"sync_interval: always", "--nats.sync_always", "--nats.sync_interval", "Jepsen", path.Base(natsCluster)} {
		assert.Contains(t, string(readme), s, "%s explains the fsync setting", readmePath)
	}
}

// metricNames records the names of the collectors registered with it.
type metricNames map[string]bool

func (m metricNames) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 32)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if mm := re.FindStringSubmatch(d.String()); mm != nil {
			m[mm[1]] = true
		}
	}
	return nil
}

func (m metricNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = m.Register(c)
	}
}

func (m metricNames) Unregister(prometheus.Collector) bool { return true }

// jetstreamExporterMetrics are the consumer and stream metrics of the NATS
// Prometheus exporter with -jsz=all.
var jetstreamExporterMetrics = map[string]bool{
	"jetstream_consumer_num_pending": true, "jetstream_consumer_num_ack_pending": true,
	"jetstream_consumer_num_redelivered": true, "jetstream_consumer_num_waiting": true,
	"jetstream_consumer_delivered_stream_seq": true, "jetstream_consumer_ack_floor_stream_seq": true,
	"jetstream_stream_total_messages": true, "jetstream_stream_total_bytes": true,
}

// docgraphMetric reports whether a docgraph_* metric exists: the runner's
// set from pipeline.NewMetrics, or a subsystem and name declared together
// in a Go file of pkg/ or services/.
func docgraphMetric(t *testing.T, pipelineNames metricNames, name string) bool {
	t.Helper()
	base := name
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base = strings.TrimSuffix(base, suf)
	}
	if pipelineNames[base] {
		return true
	}
	rest, ok := strings.CutPrefix(base, "docgraph_")
	if !ok {
		return false
	}
	sub, short, ok := strings.Cut(rest, "_")
	if !ok {
		return false
	}
	found := false
	root := repoRoot(t)
	for _, dir := range []string{"pkg", "services"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || found || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := string(src)
			found = strings.Contains(s, `Subsystem: "`+sub+`"`) && strings.Contains(s, `"`+short+`"`)
			return nil
		})
		require.NoError(t, err)
	}
	return found
}

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func TestGrafanaDashboards(t *testing.T) {
	pipelineNames := metricNames{}
	_, err := pipeline.NewMetrics(pipelineNames)
	require.NoError(t, err)
	require.NotEmpty(t, pipelineNames)

	files, err := filepath.Glob(filepath.Join(repoFile(t, dashboardsDir), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	metricRe := regexp.MustCompile(`\b((?:docgraph|jetstream)_[a-z0-9_]+)\b`)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			var d dashboard
			require.NoError(t, json.Unmarshal(data, &d))
			require.NotEmpty(t, d.UID)
			ids := map[int]bool{}
			used := map[string]bool{}
			var walk func([]panel)
			walk = func(ps []panel) {
				for _, p := range ps {
					assert.False(t, ids[p.ID], "panel id %d used twice", p.ID)
					ids[p.ID] = true
					if p.Type != "row" {
						assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
					}
					for _, tg := range p.Targets {
						for _, m := range metricRe.FindAllString(tg.Expr, -1) {
							used[m] = true
							if strings.HasPrefix(m, "docgraph_") {
								assert.True(t, docgraphMetric(t, pipelineNames, m), "panel %q: docgraph exports no metric %s", p.Title, m)
							} else {
								assert.True(t, jetstreamExporterMetrics[m], "panel %q: the NATS exporter exports no metric %s", p.Title, m)
							}
						}
					}
					walk(p.Panels)
				}
			}
			walk(d.Panels)
			for _, m := range []string{
				"docgraph_pipeline_messages_total", "docgraph_pipeline_handler_duration_seconds_bucket",
				"docgraph_pipeline_dlq_total", "docgraph_pipeline_in_flight", "jetstream_consumer_num_pending",
			} {
				assert.True(t, used[m], "no panel shows %s", m)
			}
		})
	}
}

// TestChecksFail makes sure the checks above can fail: each case is a
// mistake a deployment file could make.
func TestChecksFail(t *testing.T) {
	noConfig := func(string) (string, error) { return "", fmt.Errorf("not mounted") }
	worker := []string{"worker", "parser", "--nats", "nats://nats:4222"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"valid", worker, nil, ""},
		{"valid with flag=value", []string{"worker", "parser", "--nats.url=nats://n:4222", "--stages.parser.concurrency=4"}, nil, ""},
		{"valid env", []string{"worker", "parser"}, map[string]string{"DOCGRAPH_NATS_URL": "nats://n:4222", "NEO4J_PASSWORD": "x", "GOMEMLIMIT": "1"}, ""},
		{"valid ingest", []string{"ingest", "--quiet", "/inbox"}, nil, ""},
		{"valid graph export", []string{"graph", "export", "--format", "cypher"}, nil, ""},
		{"valid version", []string{"version"}, nil, ""},
		{"no command", nil, nil, "no docgraph command"},
		{"unknown command", []string{"serve"}, nil, `unknown docgraph command "serve"`},
		{"unknown stage", []string{"worker", "writer", "--nats", "nats://n:4222"}, nil, "want one of watcher"},
		{"misspelt flag", append(slices.Clone(worker), "--metrics.adr", "0.0.0.0:9090"), nil, "flag provided but not defined: -metrics.adr"},
		{"flag of another command", append(slices.Clone(worker), "--quiet"), nil, "flag provided but not defined: -quiet"},
		{"bad flag value", append(slices.Clone(worker), "--stages.parser.ack_wait", "soon"), nil, "invalid duration"},
		{"invalid config", append(slices.Clone(worker), "--streams.replicas", "7"), nil, "streams.replicas (7)"},
		{"stray argument", append(slices.Clone(worker), "extra"), nil, "unexpected arguments"},
		{"worker without nats", []string{"worker", "parser"}, nil, "nats.url is required"},
		{"watcher without folder", []string{"worker", "watcher", "--nats", "nats://n:4222"}, nil, "watch.dir is required"},
		{"unknown env", worker, map[string]string{"DOCGRAPH_NATS_URI": "nats://n:4222"}, "env DOCGRAPH_NATS_URI: docgraph reads no such variable"},
		{"unknown neo4j env", worker, map[string]string{"NEO4J_PASS": "x"}, "env NEO4J_PASS"},
		{"bad env value", worker, map[string]string{"DOCGRAPH_STAGES_PARSER_CONCURRENCY": "many"}, "invalid integer"},
		{"config not mounted", append(slices.Clone(worker), "--config", "/etc/docgraph/docgraph.yaml"), nil, "not mounted"},
		{"version with arguments", []string{"version", "--json"}, nil, "takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkInvocation(tt.args, tt.env, noConfig)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	t.Run("alert rules", testAlertRulesFail)
	t.Run("rule files", testRuleFilesFail)
	t.Run("prometheus rule drift", testRuleDriftFail)
}

// validAlertRule is a rule file with one alert that passes checkAlertRules
// (runbook anchor "alerts"); the cases of testAlertRulesFail break it.
const validAlertRule = `groups:
  - name: g
    rules:
      - alert: DocgraphStagePaused
        expr: max by (stage) (docgraph_pipeline_paused) > 0
        for: 5m
        labels:
          severity: critical
        annotations:
          summary: s
          description: d
          runbook: deployments/README.md#alerts
`

func testAlertRulesFail(t *testing.T) {
	known := alertMetricKnown(t)
	anchors := map[string]bool{"alerts": true}
	tests := []struct {
		name    string
		old     string
		new     string
		wantErr string
	}{
		{"valid", "", "", ""},
		{"valid without for when instant", "DocgraphStagePaused\n        expr: max by (stage) (docgraph_pipeline_paused) > 0\n        for: 5m",
			"DocgraphMessagesMissed\n        expr: docgraph_pipeline_missed_total > 0", ""},
		{"unknown field", "expr:", "expression:", "field expression not found"},
		{"recording rule", "alert: DocgraphStagePaused", "record: stage:paused", "field record not found"},
		{"no for", "        for: 5m\n", "", "for: required"},
		{"bad for", "for: 5m", "for: five minutes", `for "five minutes": not a duration`},
		{"bad severity", "severity: critical", "severity: page", `labels.severity "page"`},
		{"no severity", "          severity: critical\n", "          team: docs\n", `labels.severity ""`},
		{"no summary", "summary: s", "title: s", "annotations.summary: required"},
		{"no description", "description: d", "description: ''", "annotations.description: required"},
		{"no runbook", "runbook:", "runbook_url:", "annotations.runbook: required"},
		{"runbook anchor", "#alerts", "#alarms", `annotations.runbook "deployments/README.md#alarms"`},
		{"runbook file", "deployments/README.md#", "README.md#", `annotations.runbook "README.md#alerts"`},
		{"unknown docgraph metric", "docgraph_pipeline_paused", "docgraph_pipeline_pauses", "no metric docgraph_pipeline_pauses"},
		{"unknown exporter metric", "max by (stage) (docgraph_pipeline_paused)", "jetstream_consumer_lag", "no metric jetstream_consumer_lag"},
		{"no metric", "max by (stage) (docgraph_pipeline_paused) > 0", "vector(1)", "reads no metric"},
		{"lowercase name", "alert: DocgraphStagePaused", "alert: docgraph_paused", "want a CamelCase name"},
		{"no groups", validAlertRule, "groups: []\n", "no groups"},
		{"duplicate alert", validAlertRule, validAlertRule + "  - name: h\n    rules:\n" + alertRuleOf(validAlertRule), "defined twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(validAlertRule, tt.old, tt.new, 1)
			require.True(t, tt.old == "" || data != validAlertRule, "the case changes nothing")
			_, err := checkAlertRules([]byte(data), known, anchors)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// alertRuleOf returns the rules of a rule file's only group.
func alertRuleOf(file string) string {
	_, rules, _ := strings.Cut(file, "    rules:\n")
	return rules
}

func testRuleFilesFail(t *testing.T) {
	dir := t.TempDir()
	alerts := filepath.Join(dir, "alerts.yml")
	require.NoError(t, os.WriteFile(alerts, []byte(validAlertRule), 0o600))
	mounted := func(p string) (string, error) {
		if p == "/etc/prometheus/alerts.yml" {
			return alerts, nil
		}
		if rel, ok := strings.CutPrefix(p, "/etc/prometheus/"); ok {
			return filepath.Join(dir, rel), nil
		}
		return "", fmt.Errorf("%s is not inside any bind mount", p)
	}
	tests := []struct {
		name      string
		ruleFiles []string
		wantErr   string
	}{
		{"valid", []string{"alerts.yml"}, ""},
		{"valid absolute", []string{"/etc/prometheus/alerts.yml"}, ""},
		{"not listed", nil, "is not loaded"},
		{"other file", []string{"rules.yml"}, "does not exist"},
		{"not mounted", []string{"/rules/alerts.yml"}, "not inside any bind mount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ruleFilesMounted(tt.ruleFiles, mounted, alerts)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func testRuleDriftFail(t *testing.T) {
	var want ruleFile
	require.NoError(t, decodeStrict([]byte(validAlertRule), &want))
	tests := []struct {
		name    string
		old     string
		new     string
		wantErr string
	}{
		{"same", "", "", ""},
		{"expr", "> 0", "> 1", "alert DocgraphStagePaused differs"},
		{"for", "for: 5m", "for: 10m", "alert DocgraphStagePaused differs"},
		{"annotation", "summary: s", "summary: t", "alert DocgraphStagePaused differs"},
		{"group name", "name: g", "name: h", "group 0: h"},
		{"group missing", validAlertRule, "groups: []\n", "0 groups, want 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ruleFile
			require.NoError(t, decodeStrict([]byte(strings.Replace(validAlertRule, tt.old, tt.new, 1)), &got))
			err := ruleGroupsDrift(want.Groups, got.Groups)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestConfigFileIsStrict(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"valid", "nats:\n  url: nats://n:4222\nstreams:\n  replicas: 3\n", ""},
		{"unknown key", "nats:\n  uri: nats://n:4222\n", `nats.uri: unknown key "uri"`},
		{"invalid value", "nats:\n  url: nats://n:4222\nparser:\n  unmapped: guess\n", "parser.unmapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			require.NoError(t, os.WriteFile(f, []byte(tt.yaml), 0o600))
			_, err := checkInvocation([]string{"worker", "extractor", "--config", "/etc/docgraph/docgraph.yaml"}, nil,
				func(p string) (string, error) { return f, nil })
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestParsers(t *testing.T) {
	t.Run("interpolate", func(t *testing.T) {
		tests := []struct {
			give, want, wantErr string
		}{
			{"a ${X:-b} c", "a b c", ""},
			{"${X-d}", "d", ""},
			{"$$HOME and $${X}", "$HOME and ${X}", ""},
			{"cost: 5$", "cost: 5$", ""},
			{"${X}", "", "${X} has no default"},
			{"$HOME", "", "$HOME has no default"},
			{"${X", "", "unterminated"},
		}
		for _, tt := range tests {
			got, err := interpolate(tt.give)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr, tt.give)
				continue
			}
			require.NoError(t, err, tt.give)
			assert.Equal(t, tt.want, got)
		}
	})
	t.Run("dockerignore", func(t *testing.T) {
		d := dockerignore{{"deployments/*", false}, {"deployments/docker", true}, {"**/testdata", false}, {"*.test", false}}
		tests := []struct {
			give string
			want bool
		}{
			{"deployments/k8s/parser.yaml", true},
			{"deployments/docker/healthcheck.sh", false},
			{"pkg/config/testdata/a.yaml", true},
			{"pkg/config/config.go", false},
			{"parser.test", true},
			{"cmd/parser.test/x", false},
		}
		for _, tt := range tests {
			assert.Equal(t, tt.want, d.excluded(tt.give), tt.give)
		}
	})
	t.Run("compose volumes", func(t *testing.T) {
		var s composeService
		require.NoError(t, yaml.Unmarshal([]byte("volumes:\n  - ./a:/etc/a:ro\n  - data:/data\n  - type: bind\n    source: ./in\n    target: /in\n    bind: {create_host_path: true}\n"), &s))
		require.Len(t, s.Volumes, 3)
		assert.Equal(t, composeVolume{Type: "bind", Source: "./a", Target: "/etc/a", ReadOnly: true, CreateHost: true}, s.Volumes[0])
		assert.Equal(t, "volume", s.Volumes[1].Type)
		assert.True(t, s.Volumes[2].CreateHost)
		p, err := s.hostPath("/repo", "/etc/a/b.conf")
		require.NoError(t, err)
		assert.Equal(t, filepath.FromSlash("/repo/a/b.conf"), p)
		_, err = s.hostPath("/repo", "/etc/ab")
		assert.Error(t, err, "a sibling with a common prefix is not inside the mount")
	})
}
