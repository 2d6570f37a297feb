package deployments_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of the Compose specification the checks read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string          `yaml:"image"`
	Build       *composeBuild   `yaml:"build"`
	Command     stringList      `yaml:"command"`
	Entrypoint  stringList      `yaml:"entrypoint"`
	Environment envMap          `yaml:"environment"`
	Ports       []string        `yaml:"ports"`
	Volumes     []composeVolume `yaml:"volumes"`
	Healthcheck *struct {
		Test stringList `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn dependsOn `yaml:"depends_on"`
	Deploy    struct {
		Replicas *int `yaml:"replicas"`
	} `yaml:"deploy"`
}

type composeBuild struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile"`
	Args       map[string]string `yaml:"args"`
}

// stringList is a command: a list, or a string split on spaces.
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = strings.Fields(n.Value)
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// envMap is environment: a map, or a list of KEY=VALUE.
type envMap map[string]string

func (e *envMap) UnmarshalYAML(n *yaml.Node) error {
	out := envMap{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			out[k] = v
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment: want a map or a list", n.Line)
	}
	*e = out
	return nil
}

// dependsOn is depends_on: a list of services, or a map to conditions.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	out := dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, s := range l {
			out[s] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := n.Decode(&m); err != nil {
			return err
		}
		for s, c := range m {
			out[s] = c.Condition
		}
	default:
		return fmt.Errorf("line %d: depends_on: want a list or a map", n.Line)
	}
	*d = out
	return nil
}

// composeVolume is one entry of a service's volumes, short or long syntax.
type composeVolume struct {
	Type       string `yaml:"type"`
	Source     string `yaml:"source"`
	Target     string `yaml:"target"`
	ReadOnly   bool   `yaml:"read_only"`
	CreateHost bool   `yaml:"-"`
}

func (v *composeVolume) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		parts := strings.Split(n.Value, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return fmt.Errorf("line %d: volume %q: want SOURCE:TARGET[:MODE]", n.Line, n.Value)
		}
		v.Source, v.Target = parts[0], parts[1]
		v.Type = "volume"
		if strings.HasPrefix(v.Source, ".") || strings.HasPrefix(v.Source, "/") {
			v.Type = "bind"
			v.CreateHost = true // the short syntax creates a missing host path
		}
		v.ReadOnly = len(parts) == 3 && strings.Contains(parts[2], "ro")
		return nil
	}
	type long composeVolume
	var l struct {
		long `yaml:",inline"`
		Bind struct {
			CreateHostPath bool `yaml:"create_host_path"`
		} `yaml:"bind"`
	}
	if err := n.Decode(&l); err != nil {
		return err
	}
	*v = composeVolume(l.long)
	v.CreateHost = l.Bind.CreateHostPath
	return nil
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// interpolate applies Compose's variable substitution with an empty
// environment: ${VAR:-default} and ${VAR-default} take the default, $$ is a
// literal $. A variable without a default is an error, because `docker
// compose up` must work without a .env file.
func interpolate(s string) (string, error) {
	var b strings.Builder
	var errs []error
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ at offset %d", i)
			}
			expr := s[i+2 : i+end]
			if _, def, ok := strings.Cut(expr, ":-"); ok {
				b.WriteString(def)
			} else if _, def, ok := strings.Cut(expr, "-"); ok {
				b.WriteString(def)
			} else {
				errs = append(errs, fmt.Errorf("${%s} has no default: docker compose up would need it set", expr))
			}
			i += end
			continue
		}
		m := varName.FindString(s[i+1:])
		if m == "" {
			b.WriteByte('$')
			continue
		}
		errs = append(errs, fmt.Errorf("$%s has no default: docker compose up would need it set", m))
		i += len(m)
	}
	return b.String(), errors.Join(errs...)
}

// loadCompose reads, interpolates and decodes a Compose file.
func loadCompose(file string) (composeFile, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return composeFile{}, err
	}
	text, err := interpolate(string(raw))
	if err != nil {
		return composeFile{}, fmt.Errorf("%s: %w", file, err)
	}
	var c composeFile
	dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("%s: %w", file, err)
	}
	if len(c.Services) == 0 {
		return c, fmt.Errorf("%s: no services", file)
	}
	return c, nil
}

// hostPath resolves a container path of a service to the file on this
// machine through its bind mounts (dir is the Compose file's directory).
func (s composeService) hostPath(dir, containerPath string) (string, error) {
	best := -1
	var host string
	for _, v := range s.Volumes {
		if v.Type != "bind" {
			continue
		}
		rel, ok := underPath(v.Target, containerPath)
		if !ok || len(v.Target) <= best {
			continue
		}
		best = len(v.Target)
		host = filepath.Join(dir, filepath.FromSlash(v.Source), filepath.FromSlash(rel))
	}
	if best < 0 {
		return "", fmt.Errorf("%s is not inside any bind mount", containerPath)
	}
	return host, nil
}

// underPath reports whether p is root or below it, and p relative to root.
func underPath(root, p string) (string, bool) {
	root, p = path.Clean(root), path.Clean(p)
	if p == root {
		return ".", true
	}
	if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(root, "/")+"/"); ok {
		return rel, true
	}
	return "", false
}

// containerPorts returns the container side of a service's published ports.
func (s composeService) containerPorts() ([]int, error) {
	var out []int
	for _, p := range s.Ports {
		p = strings.TrimSuffix(strings.TrimSuffix(p, "/tcp"), "/udp")
		parts := strings.Split(p, ":")
		n, err := strconv.Atoi(parts[len(parts)-1])
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", p, err)
		}
		out = append(out, n)
	}
	return out, nil
}
