package extractor

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/textblock"
)

// Entry is one known name of an entity: text that contains Name exactly (on
// word boundaries) mentions the node Label/Key. Project names map to the
// project's code this way.
type Entry struct {
	Label string `json:"label" yaml:"label"`
	Key   string `json:"key" yaml:"key"`
	Name  string `json:"name" yaml:"name"`
}

// Match is one occurrence of a known name in a text: text[Start:End].
type Match struct {
	Entry
	Start, End int
}

type entryRef struct{ label, key string }

// Gazetteer is the set of known entity names and finds them in text. It is
// safe for concurrent use: updates change the entry set under a lock and
// drop the current matcher; the next Match builds a new immutable matcher
// once and publishes it atomically, so readers never lock while matching and
// a burst of updates (e.g. seeding from a Key-Value bucket) costs one build.
//
// An entity (label, key) has one name; Put replaces it. Entries with an
// empty label, key or name are kept but never match.
//
// The gazetteer also holds the revision of the source its entries come
// from (the gazetteer bucket's), which every match reports, so an
// extraction can say how current its names were.
type Gazetteer struct {
	mu       sync.Mutex
	entries  map[entryRef]Entry
	revision uint64
	current  atomic.Pointer[matcher]
}

// NewGazetteer returns a gazetteer holding entries.
func NewGazetteer(entries []Entry) *Gazetteer {
	g := &Gazetteer{entries: make(map[entryRef]Entry, len(entries))}
	for _, e := range entries {
		g.entries[entryRef{e.Label, e.Key}] = e
	}
	return g
}

// Put adds e or replaces the name of the entity (e.Label, e.Key).
func (g *Gazetteer) Put(e Entry) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entries[entryRef{e.Label, e.Key}] = e
	g.current.Store(nil)
}

// Delete removes the entity (label, key); unknown entities are ignored.
func (g *Gazetteer) Delete(label, key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.entries, entryRef{label, key})
	g.current.Store(nil)
}

// Replace swaps the whole entry set for entries.
func (g *Gazetteer) Replace(entries []Entry) {
	m := make(map[entryRef]Entry, len(entries))
	for _, e := range entries {
		m[entryRef{e.Label, e.Key}] = e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.entries = m
	g.current.Store(nil)
}

// SetRevision records that the entries now reflect revision rev of their
// source. Call it after the changes of rev have been applied: a match
// between the two reports the older revision with the newer entries, which
// errs on the safe side.
func (g *Gazetteer) SetRevision(rev uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rev != g.revision {
		g.revision = rev
		g.current.Store(nil)
	}
}

// Len is the number of entities.
func (g *Gazetteer) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entries)
}

// Entries returns every entry, sorted by label, key.
func (g *Gazetteer) Entries() []Entry {
	g.mu.Lock()
	out := make([]Entry, 0, len(g.entries))
	for _, e := range g.entries {
		out = append(out, e)
	}
	g.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Label != out[j].Label {
			return out[i].Label < out[j].Label
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Match finds every occurrence of every known name in text, left to right,
// without overlaps: where names overlap, the leftmost wins, and of those the
// longest. Names match case-sensitively and exactly, except that any run of
// whitespace (with at most one line break) in the text matches a space in
// the name. A match needs a boundary on both sides: the rune before it must
// not be a letter, digit or '-', and the rune after it must not be a letter,
// digit or '-' (so "Lars Çelik's", "Nora Bishop." and "**Nora Bishop**"
// match). Names are compared in the form readable gives them (Unicode NFC,
// typographic variants unified); pass text in that form, as Extract does,
// for offsets into the text as given.
func (g *Gazetteer) Match(text string) []Match {
	return g.matcher().match(text)
}

// MatchAt is Match that also returns the revision the entries it matched
// with reflect (see SetRevision).
func (g *Gazetteer) MatchAt(text string) ([]Match, uint64) {
	m := g.matcher()
	return m.match(text), m.revision
}

func (g *Gazetteer) matcher() *matcher {
	if m := g.current.Load(); m != nil {
		return m
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.current.Load(); m != nil {
		return m
	}
	m := newMatcher(g.entries)
	m.revision = g.revision
	g.current.Store(m)
	return m
}

// matcher is an immutable index of names by their first word (the leading
// run of letters and digits), or by their first rune for names that start
// with another character.
type matcher struct {
	byWord   map[string][]candidate
	byRune   map[rune][]candidate
	revision uint64 // the gazetteer's when the matcher was built
}

type candidate struct {
	entry  Entry
	tokens []string // the name's whitespace-separated parts, NFC
	size   int      // bytes of the name without extra whitespace
}

func newMatcher(entries map[entryRef]Entry) *matcher {
	m := &matcher{byWord: map[string][]candidate{}, byRune: map[rune][]candidate{}}
	for _, e := range entries {
		if e.Label == "" || e.Key == "" {
			continue
		}
		tokens := strings.Fields(readable(e.Name))
		if len(tokens) == 0 {
			continue
		}
		c := candidate{entry: e, tokens: tokens, size: len(strings.Join(tokens, " "))}
		if w := leadingWord(tokens[0]); w != "" {
			m.byWord[w] = append(m.byWord[w], c)
		} else {
			r, _ := utf8.DecodeRuneInString(tokens[0])
			m.byRune[r] = append(m.byRune[r], c)
		}
	}
	order := func(cs []candidate) {
		// Longest first; ties in a fixed order so results never depend on
		// map iteration.
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].size != cs[j].size {
				return cs[i].size > cs[j].size
			}
			if cs[i].entry.Label != cs[j].entry.Label {
				return cs[i].entry.Label < cs[j].entry.Label
			}
			return cs[i].entry.Key < cs[j].entry.Key
		})
	}
	for _, cs := range m.byWord {
		order(cs)
	}
	for _, cs := range m.byRune {
		order(cs)
	}
	return m
}

func (m *matcher) match(text string) []Match {
	if len(m.byWord) == 0 && len(m.byRune) == 0 {
		return nil
	}
	var out []Match
	prev := rune(-1) // rune before position i; -1 at the start
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			if cs := m.byRune[r]; len(cs) > 0 && !blocksStart(prev) {
				if c, end := longest(text, i, cs); end > 0 {
					out = append(out, Match{Entry: c.entry, Start: i, End: end})
					prev, _ = utf8.DecodeLastRuneInString(text[:end])
					i = end
					continue
				}
			}
			prev = r
			i += size
			continue
		}
		j := i + size
		for j < len(text) {
			r2, s2 := utf8.DecodeRuneInString(text[j:])
			if !isWordRune(r2) {
				break
			}
			j += s2
		}
		if !blocksStart(prev) {
			if cs := m.byWord[text[i:j]]; len(cs) > 0 {
				if c, end := longest(text, i, cs); end > 0 {
					out = append(out, Match{Entry: c.entry, Start: i, End: end})
					prev, _ = utf8.DecodeLastRuneInString(text[:end])
					i = end
					continue
				}
			}
		}
		prev, _ = utf8.DecodeLastRuneInString(text[i:j])
		i = j
	}
	return out
}

// longest returns the first (longest) candidate whose name is at text[i:]
// and where it ends, or end 0.
func longest(text string, i int, cs []candidate) (candidate, int) {
	for _, c := range cs {
		if end := matchAt(text, i, c.tokens); end > 0 {
			return c, end
		}
	}
	return candidate{}, 0
}

// matchAt returns the end of tokens matched at text[i:] with whitespace runs
// between them and a boundary after, or 0.
func matchAt(text string, i int, tokens []string) int {
	pos := i
	for ti, tok := range tokens {
		if ti > 0 {
			start := pos
			var lines int
			pos, lines, _ = textblock.SpaceRun(text, pos)
			if pos == start || lines > 1 {
				return 0
			}
		}
		if !strings.HasPrefix(text[pos:], tok) {
			return 0
		}
		pos += len(tok)
	}
	if pos < len(text) {
		last, _ := utf8.DecodeLastRuneInString(text[:pos])
		next, _ := utf8.DecodeRuneInString(text[pos:])
		if isWordRune(last) && blocksStart(next) {
			return 0
		}
	}
	return pos
}

// isWordRune reports whether r is part of a word: a letter, digit or
// combining mark, spacing ones included (the vowel signs of Devanagari or
// Tamil, which end many names and go on inside words).
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// blocksStart reports whether a name may not begin right after r (or end
// right before it): words and hyphenated compounds continue through r.
func blocksStart(r rune) bool { return r == '-' || (r >= 0 && isWordRune(r)) }

func leadingWord(s string) string {
	for i, r := range s {
		if !isWordRune(r) {
			return s[:i]
		}
	}
	return s
}

// LoadGazetteerFile reads a list of entries from a JSON or YAML file
// (a sequence of {label, key, name}); unknown fields are errors and every
// entry needs all three fields. Errors name the file and the entry index.
func LoadGazetteerFile(path string) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gazetteer: %w", err)
	}
	entries, err := parseEntries(data)
	if err != nil {
		return nil, fmt.Errorf("gazetteer %s: %w", path, err)
	}
	return entries, nil
}

func parseEntries(data []byte) ([]Entry, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var entries []Entry
	if err := dec.Decode(&entries); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	var errs []error
	for i, e := range entries {
		for _, f := range []struct{ name, value string }{{"label", e.Label}, {"key", e.Key}, {"name", e.Name}} {
			if strings.TrimSpace(f.value) == "" {
				errs = append(errs, fmt.Errorf("[%d].%s: required", i, f.name))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return entries, nil
}

// EntriesFromNodes turns nodes with a string "name" property (what the
// structured data produces for people, projects and teams) into entries.
// Nodes without a name are skipped.
func EntriesFromNodes(nodes []event.Node) []Entry {
	var out []Entry
	for _, n := range nodes {
		name, _ := n.Properties["name"].(string)
		if strings.TrimSpace(name) == "" {
			continue
		}
		out = append(out, Entry{Label: n.Label, Key: n.Key, Name: name})
	}
	return out
}
