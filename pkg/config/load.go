package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ByteSize is a size in bytes that reads "256MiB", "10MB", "4096".
type ByteSize int64

// String renders b in the largest binary unit that divides it ("256MiB",
// "1536KiB", "1000"), which ParseByteSize reads back.
func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// ParseByteSize reads a size with an optional unit (B, KB, KiB, MB, MiB, GB, GiB).
func ParseByteSize(given string) (ByteSize, error) {
	s := strings.TrimSpace(given)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			mult, s = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 256MiB)", given)
	}
	return ByteSize(n * mult), nil
}

// UnmarshalYAML reads a size from a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		// A TypeError carries the line, and decoding goes on to report
		// the file's other errors with it.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*b = v
	return nil
}

// field is one leaf of Config: its YAML path, env name and value.
type field struct {
	path   string
	env    []string
	help   string
	secret bool
	v      reflect.Value
}

func fields(c *Config) []field {
	var out []field
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			p := prefix + name
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Time{}) {
				walk(fv, p+".")
				continue
			}
			f := field{path: p, help: sf.Tag.Get("help"), secret: sf.Tag.Get("secret") == "true", v: fv}
			f.env = []string{envPrefix + strings.ToUpper(strings.NewReplacer(".", "_").Replace(p))}
			if e := sf.Tag.Get("env"); e != "" {
				f.env = append(f.env, e)
			}
			out = append(out, f)
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func setString(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q (want e.g. 30s)", s)
		}
		v.SetInt(int64(d))
	case v.Type() == reflect.TypeOf(ByteSize(0)):
		b, err := ParseByteSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(b))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Int, v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Slice && v.Type().Elem() == durationType:
		var ds []time.Duration
		for _, part := range strings.Split(s, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil {
				return fmt.Errorf("invalid duration %q in list", part)
			}
			ds = append(ds, d)
		}
		v.Set(reflect.ValueOf(ds))
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var ss []string
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				ss = append(ss, part)
			}
		}
		v.Set(reflect.ValueOf(ss))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

// Loader gathers the layers. Register its flags on a FlagSet, parse, then
// call Load.
type Loader struct {
	file  string
	flags map[string]string
	order []string
}

// NewLoader returns a loader with no flags set.
func NewLoader() *Loader { return &Loader{flags: map[string]string{}} }

// Aliases are short flags for the most used paths.
var Aliases = map[string]string{
	"data":          "data",
	"watch":         "watch.dir",
	"nats":          "nats.url",
	"neo4j":         "neo4j.uri",
	"log-format":    "log.format",
	"log-level":     "log.level",
	"metrics-addr":  "metrics.addr",
	"max-file-size": "watch.max_file_size",
}

// RegisterFlags adds --config, the short aliases and one flag per config
// path to fs. With all false, only --config and the aliases are added.
func (l *Loader) RegisterFlags(fs *flag.FlagSet, all bool) {
	fs.StringVar(&l.file, "config", "", "YAML config file (flags > DOCGRAPH_* env > file > defaults)")
	def := Default()
	byPath := map[string]field{}
	for _, f := range fields(&def) {
		byPath[f.path] = f
	}
	names := make([]string, 0, len(Aliases))
	for a := range Aliases {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		p := Aliases[a]
		if a == p {
			byPath[p].register(fs, a, byPath[p].usage(), l.setter(p))
			continue
		}
		byPath[p].register(fs, a, byPath[p].help+" (same as --"+p+")", l.setter(p))
	}
	if !all {
		return
	}
	for _, f := range fields(&def) {
		if _, dup := Aliases[f.path]; dup {
			continue
		}
		f.register(fs, f.path, f.usage(), l.setter(f.path))
	}
}

// register defines the flag name for f: a switch for a bool field
// (--nats.sync_always alone, or =false), a flag taking a value otherwise.
func (f field) register(fs *flag.FlagSet, name, usage string, set func(string) error) {
	if f.v.Kind() == reflect.Bool {
		fs.BoolFunc(name, usage, set)
		return
	}
	fs.Func(name, usage, set)
}

// usage is the field's flag help: what it is, its default and its
// environment variables.
func (f field) usage() string {
	u := f.help
	if !f.secret {
		if d := formatValue(f.v); d != "" {
			u += " (default " + d + ")"
		}
	}
	return u + " [env " + strings.Join(f.env, ", ") + "]"
}

func (l *Loader) setter(path string) func(string) error {
	return func(s string) error {
		def := Default()
		for _, f := range fields(&def) {
			if f.path == path {
				if err := setString(f.v, s); err != nil {
					return err
				}
			}
		}
		l.flags[path] = s
		l.order = append(l.order, path)
		return nil
	}
}

// Set records a value as if given by flag (used by commands that take a
// positional argument for a config path).
func (l *Loader) Set(path, value string) { l.flags[path] = value; l.order = append(l.order, path) }

// Load builds the config: defaults, file, env (from getenv), flags. It does
// not validate.
func (l *Loader) Load(getenv func(string) string) (Config, error) {
	c := Default()
	if l.file != "" {
		data, err := os.ReadFile(l.file)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := decodeYAML(data, &c); err != nil {
			return c, fmt.Errorf("config %s: %w", l.file, err)
		}
	}
	var errs []error
	for _, f := range fields(&c) {
		for _, name := range f.env {
			if s := getenv(name); s != "" {
				if err := setString(f.v, s); err != nil {
					errs = append(errs, fmt.Errorf("env %s: %w", name, err))
				}
				break
			}
		}
	}
	for _, f := range fields(&c) {
		if s, ok := l.flags[f.path]; ok {
			if err := setString(f.v, s); err != nil {
				errs = append(errs, fmt.Errorf("flag --%s: %w", f.path, err))
			}
		}
	}
	if c.Extractor.LLM.APIKeyEnv != "" {
		c.Extractor.LLM.APIKey = getenv(c.Extractor.LLM.APIKeyEnv)
	}
	if c.Neo4j.PasswordFile != "" && c.Neo4j.Password == "" {
		pw, err := os.ReadFile(c.Neo4j.PasswordFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("neo4j.password_file: %w", err))
		} else {
			c.Neo4j.Password = strings.TrimRight(string(pw), "\r\n")
		}
	}
	return c, errors.Join(errs...)
}

// decodeYAML decodes strictly: unknown keys are errors. Each error names
// the key's path (watch.settle) besides its line, and what is wanted.
func decodeYAML(data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(c)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return err
	}
	spots := map[int][]yamlSpot{} // by line
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				spots[k.Line] = append(spots[k.Line], yamlSpot{path: prefix + k.Value, key: k.Value, value: v.Value})
				walk(v, prefix+k.Value+".")
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", strings.TrimSuffix(prefix, "."), i)
				spots[c.Line] = append(spots[c.Line], yamlSpot{path: p, value: c.Value})
				walk(c, p+".")
			}
		}
	}
	walk(&doc, "")
	msgs := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		msgs[i] = explainYAMLError(e, spots)
	}
	return fmt.Errorf("yaml: unmarshal errors:\n  %s", strings.Join(msgs, "\n  "))
}

// yamlSpot is a key or a list item of a YAML file: its path in the
// config, its key (none for an item) and its value, if a scalar.
type yamlSpot struct {
	path, key, value string
}

// explainYAMLError rewrites one of the YAML decoder's errors ("line 4:
// cannot unmarshal !!int `5` into time.Duration") to name the key's path
// and what it wants ("line 4: watch.settle: want a duration with a unit,
// e.g. 30s, not `5`").
func explainYAMLError(e string, spots map[int][]yamlSpot) string {
	var line int
	if _, err := fmt.Sscanf(e, "line %d:", &line); err != nil || len(spots[line]) == 0 {
		return e
	}
	// The spot the error is about: the first on its line, unless several
	// share it ({settle: 5, rescan: x}) and its key or value tells which.
	path := spots[line][0].path
	at := func(match func(yamlSpot) bool) {
		if i := slices.IndexFunc(spots[line], match); i >= 0 {
			path = spots[line][i].path
		}
	}
	head := fmt.Sprintf("line %d: ", line)
	rest := strings.TrimPrefix(e, head)
	if field, typ, ok := strings.Cut(strings.TrimPrefix(rest, "field "), " not found in type "); ok && strings.HasPrefix(rest, "field ") {
		at(func(s yamlSpot) bool { return s.key == field })
		if keys := yamlKeys(typ); keys != "" {
			return fmt.Sprintf("%s%s: unknown key %q (known here: %s)", head, path, field, keys)
		}
		return fmt.Sprintf("%s%s: unknown key %q", head, path, field)
	}
	if value, typ, ok := strings.Cut(strings.TrimPrefix(rest, "cannot unmarshal "), " into "); ok && strings.HasPrefix(rest, "cannot unmarshal ") {
		// value is "!!str `abc`"; the tag says little to a reader.
		if _, v, ok := strings.Cut(value, " "); ok {
			value = v
			at(func(s yamlSpot) bool { return "`"+s.value+"`" == v })
		} else if v, ok := map[string]string{"!!map": "a mapping", "!!seq": "a list"}[value]; ok {
			value = v
		}
		want := map[string]string{
			"time.Duration":   "a duration with a unit, e.g. 30s",
			"int":             "a whole number",
			"bool":            "true or false",
			"string":          "a string",
			"[]string":        "a list",
			"[]time.Duration": "a list of durations, e.g. [1s, 5s]",
		}[typ]
		if want == "" {
			want = typ
		}
		return fmt.Sprintf("%s%s: want %s, not %s", head, path, want, value)
	}
	return head + path + ": " + rest
}

// yamlKeys lists the keys of the config section whose Go type is named
// typ ("config.NATSConfig"), "" if it is not one.
func yamlKeys(typ string) string {
	var keys []string
	var find func(t reflect.Type) bool
	find = func(t reflect.Type) bool {
		if t.String() == typ {
			for i := range t.NumField() {
				if name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; name != "" && name != "-" {
					keys = append(keys, name)
				}
			}
			return true
		}
		for i := range t.NumField() {
			if ft := t.Field(i).Type; ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) && find(ft) {
				return true
			}
		}
		return false
	}
	find(reflect.TypeOf(Config{}))
	return strings.Join(keys, ", ")
}

func formatValue(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		if v.Int() == 0 {
			return ""
		}
		return time.Duration(v.Int()).String()
	case v.Kind() == reflect.Slice && v.Type().Elem() == durationType:
		var parts []string
		for i := range v.Len() {
			parts = append(parts, time.Duration(v.Index(i).Int()).String())
		}
		return strings.Join(parts, ",")
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		return strings.Join(v.Interface().([]string), ",")
	case v.Kind() == reflect.String:
		if v.String() == "" {
			return ""
		}
		return strconv.Quote(v.String())
	case v.Kind() == reflect.Bool:
		if !v.Bool() {
			return ""
		}
	}
	return fmt.Sprint(v.Interface())
}

// Paths lists every config path with its env names (for docs and tests).
func Paths() map[string][]string {
	c := Default()
	out := map[string][]string{}
	for _, f := range fields(&c) {
		out[f.path] = f.env
	}
	return out
}
