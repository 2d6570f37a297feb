package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Key normalisations an entity type may declare (entities[].key).
const (
	// KeyLowerCollapse trims, collapses whitespace runs to one space and
	// lower-cases (strings.ToLower): "  Lars   Çelik " -> "lars çelik".
	KeyLowerCollapse = "lower_collapse"
	// KeyUpper trims, collapses whitespace and upper-cases: "prj-1234" -> "PRJ-1234".
	KeyUpper = "upper"
	// KeyUpperCode writes a code as its upper-cased letter prefix, '-' and
	// its number, whatever the separator: "aace 101", "AACE101" -> "AACE-101".
	KeyUpperCode = "upper_code"
	// KeyExact keeps the value as it is.
	KeyExact = "exact"
)

// Where an entity type's mentions come from (entities[].source).
const (
	// SourceGazetteer: exact names of known entities (structured data).
	SourceGazetteer = "gazetteer"
	// SourcePattern: the entity type's regular expressions.
	SourcePattern = "pattern"
)

// Placeholders of a trigger template.
const (
	PlaceholderFrom = "{from}"
	PlaceholderTo   = "{to}"
)

// Named groups a pattern may use to say which part of the match is the key.
const (
	GroupKey    = "key"
	GroupPrefix = "prefix"
	GroupNumber = "number"
)

var (
	keyKinds = []string{KeyLowerCollapse, KeyUpper, KeyUpperCode, KeyExact}
	sources  = []string{SourceGazetteer, SourcePattern}
	labelRE  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	relRE    = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
)

// Extraction is the extraction schema: the entity types the extractors may
// produce, how their keys are normalised, how the rule-based extractor finds
// them, and the relationship types with the trigger phrases that state them
// in text. Relationship types without triggers come only from structured
// data. A loaded Extraction is validated and must not be modified.
type Extraction struct {
	// Version of the schema format; 1.
	Version int `yaml:"version"`
	// Entities are the entity types, unique by label.
	Entities []EntityType `yaml:"entities"`
	// Relationships are the relationship types, unique by type.
	Relationships []RelationshipType `yaml:"relationships"`
	// Prompt is added to the instructions an LLM extractor gives its model,
	// after the types and their descriptions: what the documents are, how
	// their people and projects are written (optional, at most
	// MaxPromptChars characters).
	Prompt string `yaml:"prompt,omitempty"`
}

// MaxPromptChars bounds Extraction.Prompt: it is sent with every chunk.
const MaxPromptChars = 4000

// EntityType declares one node label.
type EntityType struct {
	// Label is the node label (e.g. Person).
	Label string `yaml:"label"`
	// Description tells people (and an LLM extractor) what the type means.
	Description string `yaml:"description,omitempty"`
	// Key is the key normalisation: one of KeyLowerCollapse, KeyUpper,
	// KeyUpperCode, KeyExact.
	Key string `yaml:"key"`
	// Source lists where mentions come from (SourceGazetteer, SourcePattern).
	// YAML accepts a single value or a list.
	Source StringList `yaml:"source"`
	// Patterns find mentions in text when Source includes SourcePattern.
	Patterns []Pattern `yaml:"patterns,omitempty"`
}

// Pattern is one regular expression (Go RE2 syntax) that finds an entity. The
// key is taken from the named group "key" if present, else from the groups
// "prefix" and "number" (joined with '-'), else from the whole match, and
// then normalised with the entity type's key normalisation. A match counts
// only on word boundaries: no letter or digit directly before or after it.
type Pattern struct {
	// Name identifies the pattern in errors and docs (optional).
	Name string `yaml:"name,omitempty"`
	// Regex is the regular expression.
	Regex string `yaml:"regex"`

	re *regexp.Regexp
}

// Regexp returns the compiled pattern (nil before validation).
func (p Pattern) Regexp() *regexp.Regexp { return p.re }

// RelationshipType declares one relationship type between two labels.
type RelationshipType struct {
	// Type is the relationship type (e.g. MANAGES), upper snake case.
	Type string `yaml:"type"`
	// Description tells people (and an LLM extractor) what the type means.
	Description string `yaml:"description,omitempty"`
	// From and To are the labels of the two ends.
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// FromSource and ToSource, when set, restrict which kind of mention may
	// stand at that end of a trigger (SourceGazetteer or SourcePattern): for
	// example only a project code, not a project name.
	FromSource string `yaml:"from_source,omitempty"`
	ToSource   string `yaml:"to_source,omitempty"`
	// Triggers are phrase templates with the placeholders {from} and {to}:
	// "{from} manages {to}". A relationship is stated when both entities
	// stand directly next to the phrase in one sentence. Words match
	// case-insensitively; any whitespace run matches a space.
	Triggers []string `yaml:"triggers,omitempty"`

	triggers []Trigger
}

// CompiledTriggers returns the parsed trigger templates (nil before validation).
func (r RelationshipType) CompiledTriggers() []Trigger { return r.triggers }

// Trigger is a parsed trigger template: Before {first} Middle {second} After,
// each part a list of words.
type Trigger struct {
	// Template is the template as written.
	Template string
	// FromFirst is true when {from} comes before {to} in the template.
	FromFirst bool
	// Before, Middle and After are the words around and between the
	// placeholders; Middle is never empty.
	Before, Middle, After []string
}

// StringList is a list of strings that YAML may write as a single scalar.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = StringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// LoadExtraction reads, strictly decodes and validates an extraction schema.
func LoadExtraction(r io.Reader) (*Extraction, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read extraction schema: %w", err)
	}
	return ParseExtraction(data)
}

// LoadExtractionFile is LoadExtraction for a file; errors name the file.
func LoadExtractionFile(path string) (*Extraction, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("extraction schema: %w", err)
	}
	x, err := ParseExtraction(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// ParseExtraction strictly decodes (unknown fields are errors) and validates
// an extraction schema. Validation errors name the field path
// (e.g. "entities[1].patterns[0].regex") and are joined, so all are reported
// at once.
func ParseExtraction(data []byte) (*Extraction, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var x Extraction
	if err := dec.Decode(&x); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("extraction schema: empty document")
		}
		return nil, fmt.Errorf("extraction schema: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("extraction schema: more than one YAML document")
	}
	if err := x.validate(); err != nil {
		return nil, fmt.Errorf("extraction schema: %w", err)
	}
	return &x, nil
}

func (x *Extraction) validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if x.Version != 1 {
		add("version: %d not supported (want 1)", x.Version)
	}
	if n := utf8.RuneCountInString(x.Prompt); n > MaxPromptChars {
		add("prompt: %d characters, at most %d (it is sent with every chunk)", n, MaxPromptChars)
	}
	if len(x.Entities) == 0 {
		add("entities: at least one entity type required")
	}
	labels := map[string]int{}
	for i := range x.Entities {
		e := &x.Entities[i]
		at := fmt.Sprintf("entities[%d]", i)
		switch {
		case e.Label == "":
			add("%s.label: required", at)
		case !labelRE.MatchString(e.Label):
			add("%s.label: %q must start with a letter and contain only letters, digits and _", at, e.Label)
		default:
			if j, dup := labels[e.Label]; dup {
				add("%s.label: duplicate label %q (first declared at entities[%d])", at, e.Label, j)
			} else {
				labels[e.Label] = i
			}
		}
		if !slices.Contains(keyKinds, e.Key) {
			add("%s.key: unknown normalisation %q (want one of %s)", at, e.Key, strings.Join(keyKinds, ", "))
		}
		if len(e.Source) == 0 {
			add("%s.source: required (%s)", at, strings.Join(sources, ", "))
		}
		for j, s := range e.Source {
			if !slices.Contains(sources, s) {
				add("%s.source[%d]: unknown source %q (want %s)", at, j, s, strings.Join(sources, " or "))
			}
		}
		hasPattern := slices.Contains(e.Source, SourcePattern)
		if hasPattern && len(e.Patterns) == 0 {
			add("%s.patterns: required when source includes %s", at, SourcePattern)
		}
		if !hasPattern && len(e.Patterns) > 0 {
			add("%s.patterns: given but source does not include %s", at, SourcePattern)
		}
		for j := range e.Patterns {
			if err := e.Patterns[j].compile(e.Key); err != nil {
				add("%s.patterns[%d].regex: %w", at, j, err)
			}
		}
	}
	types := map[string]int{}
	for i := range x.Relationships {
		r := &x.Relationships[i]
		at := fmt.Sprintf("relationships[%d]", i)
		switch {
		case r.Type == "":
			add("%s.type: required", at)
		case !relRE.MatchString(r.Type):
			add("%s.type: %q must be upper case letters, digits and _", at, r.Type)
		default:
			if j, dup := types[r.Type]; dup {
				add("%s.type: duplicate relationship type %q (first declared at relationships[%d])", at, r.Type, j)
			} else {
				types[r.Type] = i
			}
		}
		for _, end := range []struct{ field, label, source string }{
			{"from", r.From, r.FromSource}, {"to", r.To, r.ToSource},
		} {
			j, known := labels[end.label]
			if end.label == "" {
				add("%s.%s: required", at, end.field)
			} else if !known {
				add("%s.%s: unknown label %q (declare it under entities)", at, end.field, end.label)
			}
			switch {
			case end.source == "":
			case !slices.Contains(sources, end.source):
				add("%s.%s_source: unknown source %q (want %s)", at, end.field, end.source, strings.Join(sources, " or "))
			case known && !x.Entities[j].HasSource(end.source):
				add("%s.%s_source: %s is not a source of %s", at, end.field, end.source, end.label)
			}
		}
		seen := map[string]bool{}
		for j, tpl := range r.Triggers {
			t, err := parseTrigger(tpl)
			if err != nil {
				add("%s.triggers[%d]: %w", at, j, err)
				continue
			}
			norm := strings.ToLower(strings.Join(strings.Fields(tpl), " "))
			if seen[norm] {
				add("%s.triggers[%d]: duplicate trigger %q", at, j, tpl)
			}
			seen[norm] = true
			r.triggers = append(r.triggers, t)
		}
	}
	return errors.Join(errs...)
}

func (p *Pattern) compile(keyKind string) error {
	if p.Regex == "" {
		return errors.New("required")
	}
	re, err := regexp.Compile(p.Regex)
	if err != nil {
		return fmt.Errorf("invalid regular expression: %w", err)
	}
	if re.MatchString("") {
		return fmt.Errorf("%q matches the empty string", p.Regex)
	}
	hasPrefix, hasNumber := re.SubexpIndex(GroupPrefix) >= 0, re.SubexpIndex(GroupNumber) >= 0
	if hasPrefix != hasNumber {
		return fmt.Errorf("%q: named groups %q and %q go together", p.Regex, GroupPrefix, GroupNumber)
	}
	if hasPrefix && keyKind != KeyUpperCode {
		return fmt.Errorf("%q: groups %q and %q need key %s", p.Regex, GroupPrefix, GroupNumber, KeyUpperCode)
	}
	p.re = re
	return nil
}

func parseTrigger(tpl string) (Trigger, error) {
	t := Trigger{Template: tpl}
	if strings.Count(tpl, PlaceholderFrom) != 1 || strings.Count(tpl, PlaceholderTo) != 1 {
		return t, fmt.Errorf("%q must contain %s and %s exactly once", tpl, PlaceholderFrom, PlaceholderTo)
	}
	f, to := strings.Index(tpl, PlaceholderFrom), strings.Index(tpl, PlaceholderTo)
	t.FromFirst = f < to
	first, second := PlaceholderFrom, PlaceholderTo
	if !t.FromFirst {
		first, second = second, first
	}
	before, rest, _ := strings.Cut(tpl, first)
	middle, after, _ := strings.Cut(rest, second)
	t.Before, t.Middle, t.After = words(before), words(middle), words(after)
	if len(t.Middle) == 0 {
		return t, fmt.Errorf("%q needs words between the placeholders", tpl)
	}
	if strings.Contains(middle, "{") || strings.Contains(before, "{") || strings.Contains(after, "{") {
		return t, fmt.Errorf("%q: unknown placeholder (want %s and %s)", tpl, PlaceholderFrom, PlaceholderTo)
	}
	return t, nil
}

// Labels returns the declared entity labels in declaration order.
func (x *Extraction) Labels() []string {
	out := make([]string, len(x.Entities))
	for i, e := range x.Entities {
		out[i] = e.Label
	}
	return out
}

// RelationshipTypes returns the declared relationship types in declaration order.
func (x *Extraction) RelationshipTypes() []string {
	out := make([]string, len(x.Relationships))
	for i, r := range x.Relationships {
		out[i] = r.Type
	}
	return out
}

// Entity returns the entity type with label.
func (x *Extraction) Entity(label string) (EntityType, bool) {
	for _, e := range x.Entities {
		if e.Label == label {
			return e, true
		}
	}
	return EntityType{}, false
}

// Relationship returns the relationship type typ.
func (x *Extraction) Relationship(typ string) (RelationshipType, bool) {
	for _, r := range x.Relationships {
		if r.Type == typ {
			return r, true
		}
	}
	return RelationshipType{}, false
}

// HasLabel reports whether label is a declared entity label.
func (x *Extraction) HasLabel(label string) bool {
	_, ok := x.Entity(label)
	return ok
}

// HasRelationship reports whether typ is a declared relationship type.
func (x *Extraction) HasRelationship(typ string) bool {
	_, ok := x.Relationship(typ)
	return ok
}

// Key normalises s as a key of label; ok is false for an undeclared label.
func (x *Extraction) Key(label, s string) (key string, ok bool) {
	e, ok := x.Entity(label)
	if !ok {
		return "", false
	}
	return NormalizeKey(e.Key, s), true
}

// HasSource reports whether the entity type's mentions come from source.
func (e EntityType) HasSource(source string) bool { return slices.Contains(e.Source, source) }

// NormalizeKey applies the key normalisation kind (KeyLowerCollapse,
// KeyUpper, KeyUpperCode, KeyExact) to s. An unknown kind returns s
// unchanged; for KeyUpperCode a value that is not letters, an optional
// separator (space, '-', '_') and digits is only upper-cased and collapsed.
func NormalizeKey(kind, s string) string {
	switch kind {
	case KeyLowerCollapse:
		return strings.ToLower(collapse(s))
	case KeyUpper:
		return strings.ToUpper(collapse(s))
	case KeyUpperCode:
		if k, ok := upperCode(strings.TrimSpace(s)); ok {
			return k
		}
		return strings.ToUpper(collapse(s))
	}
	return s
}

// words is strings.Fields with nil for no words.
func words(s string) []string {
	if w := strings.Fields(s); len(w) > 0 {
		return w
	}
	return nil
}

func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func upperCode(s string) (string, bool) {
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if i <= 0 {
		return "", false
	}
	prefix, rest := s[:i], s[i:]
	rest = strings.TrimLeft(rest, " \t-_")
	if rest == "" || strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return "", false
	}
	return strings.ToUpper(prefix) + "-" + rest, true
}
