// Package extractor is the extractor stage: it finds entity mentions and the
// relationships stated by trigger phrases in text chunks, using the patterns
// and triggers of the extraction schema and a gazetteer of known names.
package extractor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/pkg/schema"
	"github.com/docgraph/docgraph/pkg/textblock"
)

// Extractor is the deterministic extractor, optionally with an LLM pass
// (UseLLM). It is safe for concurrent use; without the LLM pass its results
// change only with the gazetteer's entries.
type Extractor struct {
	schema    *schema.Extraction
	llm       *llmPass // nil: rules only
	gaz       *Gazetteer
	keyKinds  map[string]string // gazetteer labels -> key normalisation
	patterns  []pattern
	relations []relation
}

type pattern struct {
	label, keyKind      string
	re                  *reRunner
	key, prefix, number int // submatch indexes, -1 if absent
}

type relation struct {
	typ, from, to        string
	fromSource, toSource string
	triggers             []schema.Trigger
}

// span is one mention in a text: text[start:end].
type span struct {
	start, end int
	label, key string
	name       string // gazetteer name, "" for pattern matches
	source     string // schema.SourceGazetteer or schema.SourcePattern
}

// New builds an extractor for the validated schema s and the gazetteer g
// (shared: updates to g show in later extractions). Gazetteer entries whose
// label is not a gazetteer-sourced entity type of s are ignored.
func New(s *schema.Extraction, g *Gazetteer) (*Extractor, error) {
	if s == nil {
		return nil, errors.New("extractor: nil schema")
	}
	if g == nil {
		return nil, errors.New("extractor: nil gazetteer")
	}
	x := &Extractor{schema: s, gaz: g, keyKinds: map[string]string{}}
	for i, e := range s.Entities {
		if e.HasSource(schema.SourceGazetteer) {
			x.keyKinds[e.Label] = e.Key
		}
		if !e.HasSource(schema.SourcePattern) {
			continue
		}
		for j, p := range e.Patterns {
			re := p.Regexp()
			if re == nil {
				return nil, fmt.Errorf("extractor: entities[%d].patterns[%d]: schema not validated", i, j)
			}
			x.patterns = append(x.patterns, pattern{
				label: e.Label, keyKind: e.Key, re: newRERunner(re),
				key:    re.SubexpIndex(schema.GroupKey),
				prefix: re.SubexpIndex(schema.GroupPrefix),
				number: re.SubexpIndex(schema.GroupNumber),
			})
		}
	}
	for _, r := range s.Relationships {
		if len(r.Triggers) == 0 {
			continue
		}
		if len(r.CompiledTriggers()) != len(r.Triggers) {
			return nil, fmt.Errorf("extractor: relationship %s: schema not validated", r.Type)
		}
		x.relations = append(x.relations, relation{
			typ: r.Type, from: r.From, to: r.To,
			fromSource: r.FromSource, toSource: r.ToSource,
			triggers: r.CompiledTriggers(),
		})
	}
	return x, nil
}

// Extract finds the mentions and the relationships stated in text. Mentions
// are unique by label and key, in order of first occurrence; a mention found
// through the gazetteer carries the property "name". Relationships are
// unique by type and ends, carry Source event.SourceText and, as Evidence,
// the sentence (whitespace collapsed) that states them first.
//
// A relationship is stated when a trigger phrase of its type stands between
// two mentions with nothing else in between, in one sentence, and the
// mentions have the type's labels (and sources, where the schema restricts
// them). Sentences end at '.', '!' or '?' followed by whitespace or the end,
// at blank lines, at line breaks next to a list item, table row or heading
// (as the parser's chunks do), and at table cell separators ('|'), never
// inside a mention. Any other line break is a wrapped line: whitespace, as
// is a line break inside a list item whose text goes on indented on the
// next line (see textblock.EndsBetween).
//
// Text is read in one form whatever typographic variants it was written
// with (see readable): a soft hyphen or zero-width space inside a name, a
// no-break space or non-breaking hyphen inside a code, or a curly
// apostrophe in "O’Connor" finds what the plain spelling finds. Offsets
// and evidence refer to the text in that form.
func (x *Extractor) Extract(text string) (mentions []event.Node, rels []event.Relationship) {
	mentions, rels, _ = x.extract(text)
	return mentions, rels
}

// extract is Extract that also returns the gazetteer revision its names
// were at.
func (x *Extractor) extract(text string) (mentions []event.Node, rels []event.Relationship, revision uint64) {
	text = readable(text)
	spans, revision := x.spans(text)
	if len(spans) == 0 {
		return nil, nil, revision
	}
	seen := make(map[event.NodeRef]int, len(spans))
	for _, s := range spans {
		ref := event.NodeRef{Label: s.label, Key: s.key}
		if i, ok := seen[ref]; ok {
			if s.name != "" && mentions[i].Properties == nil {
				mentions[i].Properties = map[string]any{"name": s.name}
			}
			continue
		}
		seen[ref] = len(mentions)
		n := event.Node{Label: s.label, Key: s.key}
		if s.name != "" {
			n.Properties = map[string]any{"name": s.name}
		}
		mentions = append(mentions, n)
	}
	if len(x.relations) > 0 && len(spans) > 1 {
		rels = x.relationships(text, spans)
	}
	return mentions, rels, revision
}

// spans returns the non-overlapping mentions in text, by position, and the
// gazetteer revision.
func (x *Extractor) spans(text string) ([]span, uint64) {
	var all []span
	matches, revision := x.gaz.MatchAt(text)
	for _, m := range matches {
		kind, ok := x.keyKinds[m.Label]
		if !ok {
			continue
		}
		all = append(all, span{
			start: m.Start, end: m.End, label: m.Label,
			key: schema.NormalizeKey(kind, m.Key), name: m.Name, source: schema.SourceGazetteer,
		})
	}
	for _, p := range x.patterns {
		for _, loc := range p.re.findAll(text) {
			var raw string
			switch {
			case p.key >= 0 && loc[2*p.key] >= 0:
				raw = text[loc[2*p.key]:loc[2*p.key+1]]
			case p.prefix >= 0 && loc[2*p.prefix] >= 0 && loc[2*p.number] >= 0:
				raw = text[loc[2*p.prefix]:loc[2*p.prefix+1]] + "-" + text[loc[2*p.number]:loc[2*p.number+1]]
			default:
				raw = text[loc[0]:loc[1]]
			}
			key := schema.NormalizeKey(p.keyKind, raw)
			if len(key) > event.MaxKeyBytes {
				continue // a runaway match no graph key can hold
			}
			all = append(all, span{
				start: loc[0], end: loc[1], label: p.label,
				key: key, source: schema.SourcePattern,
			})
		}
	}
	// Leftmost first, then longest, then a pattern match over a gazetteer
	// name for the very same text (a code is its own best name).
	slices.SortStableFunc(all, func(a, b span) int {
		if a.start != b.start {
			return cmp.Compare(a.start, b.start)
		}
		if a.end != b.end {
			return cmp.Compare(b.end, a.end)
		}
		return sourceRank(a.source) - sourceRank(b.source)
	})
	out := all[:0]
	end := 0
	for _, s := range all {
		if s.start >= end {
			out = append(out, s)
			end = s.end
		}
	}
	return out, revision
}

// sourceRank orders a pattern match before a gazetteer name.
func sourceRank(source string) int {
	if source == schema.SourcePattern {
		return 0
	}
	return 1
}

func (x *Extractor) relationships(text string, spans []span) []event.Relationship {
	type relKey struct {
		typ      string
		from, to event.NodeRef
	}
	var out []event.Relationship
	seen := map[relKey]bool{}
	sentences := splitSentences(text, spans)
	si := 0
	for i := 0; i+1 < len(spans); i++ {
		a, b := spans[i], spans[i+1]
		for si < len(sentences) && sentences[si].end <= a.start {
			si++
		}
		if si == len(sentences) {
			break
		}
		sent := sentences[si]
		if b.end > sent.end {
			continue // b is in a later sentence
		}
		gap := phraseWords(text[a.end:b.start])
		if len(gap) == 0 {
			continue
		}
		for _, r := range x.relations {
			for _, t := range r.triggers {
				from, to, ok := r.ends(t, a, b)
				if !ok || !wordsEqual(gap, t.Middle) ||
					!hasWordsBefore(text[sent.start:a.start], t.Before) ||
					!hasWordsAfter(text[b.end:sent.end], t.After) {
					continue
				}
				k := relKey{r.typ, event.NodeRef{Label: from.label, Key: from.key}, event.NodeRef{Label: to.label, Key: to.key}}
				if seen[k] {
					continue
				}
				seen[k] = true
				out = append(out, event.Relationship{
					Type: r.typ, From: k.from, To: k.to,
					Source:   event.SourceText,
					Evidence: evidence(text[sent.start:sent.end]),
				})
			}
		}
	}
	return out
}

// ends returns the from and to mentions if a (first) and b (second) fit the
// trigger's placeholders, labels and sources.
func (r relation) ends(t schema.Trigger, a, b span) (from, to span, ok bool) {
	from, to = a, b
	if !t.FromFirst {
		from, to = b, a
	}
	ok = from.label == r.from && to.label == r.to &&
		(r.fromSource == "" || r.fromSource == from.source) &&
		(r.toSource == "" || r.toSource == to.source)
	return from, to, ok
}

// phraseWords splits s at whitespace and drops Markdown emphasis markers
// around the words ("** manages **" -> ["manages"]).
func phraseWords(s string) []string {
	fields := strings.Fields(s)
	out := fields[:0]
	for _, f := range fields {
		if f = strings.Trim(f, "*_"); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func wordsEqual(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.EqualFold(got[i], want[i]) {
			return false
		}
	}
	return true
}

// hasWordsBefore reports whether s ends with the words want.
func hasWordsBefore(s string, want []string) bool {
	if len(want) == 0 {
		return true
	}
	got := phraseWords(s)
	return len(got) >= len(want) && wordsEqual(got[len(got)-len(want):], want)
}

// hasWordsAfter reports whether s starts with the words want; punctuation
// that closes the sentence after the last word is ignored.
func hasWordsAfter(s string, want []string) bool {
	if len(want) == 0 {
		return true
	}
	got := phraseWords(s)
	if len(got) < len(want) {
		return false
	}
	got = append([]string(nil), got[:len(want)]...)
	got[len(got)-1] = strings.TrimRight(got[len(got)-1], ".,;:!?)\"'’”")
	return wordsEqual(got, want)
}

// sentence is text[start:end].
type sentence struct{ start, end int }

// splitSentences splits text into sentences; spans (sorted, non-overlapping)
// are never split.
func splitSentences(text string, spans []span) []sentence {
	var out []sentence
	start, si := 0, 0
	cut := func(end, next int) {
		if strings.TrimSpace(text[start:end]) != "" {
			out = append(out, sentence{start, end})
		}
		start = next
	}
	for i := 0; i < len(text); {
		for si < len(spans) && spans[si].end <= i {
			si++
		}
		if si < len(spans) && spans[si].start <= i {
			i = spans[si].end // inside a mention: no boundary
			continue
		}
		c := text[i]
		switch c {
		case '\n':
			ends, j, _ := textblock.EndsSentence(text, strings.LastIndexByte(text[:i], '\n')+1, i)
			if ends {
				cut(i, j)
			}
			i = j
			continue
		case '|':
			cut(i, i+1)
			i++
			continue
		case '.', '!', '?':
			j := i + 1
			for j < len(text) && strings.IndexByte(")]\"'", text[j]) >= 0 {
				j++
			}
			for _, closer := range []string{"’", "”"} {
				if strings.HasPrefix(text[j:], closer) {
					j += len(closer)
				}
			}
			if j == len(text) {
				cut(j, j)
				i = j
				continue
			}
			if r, _ := utf8.DecodeRuneInString(text[j:]); unicode.IsSpace(r) {
				cut(j, j)
			}
			i = j
			continue
		}
		i++
	}
	cut(len(text), len(text))
	return out
}

// evidence cleans a sentence for display: whitespace collapsed and a leading
// Markdown list or heading marker removed.
func evidence(s string) string {
	f := strings.Fields(s)
	if len(f) > 1 {
		switch first := f[0]; {
		case first == "-" || first == "*" || first == "+" || first == ">" || strings.Trim(first, "#") == "":
			f = f[1:]
		case len(first) > 1 && (first[len(first)-1] == '.' || first[len(first)-1] == ')') &&
			strings.Trim(first[:len(first)-1], "0123456789") == "":
			f = f[1:]
		}
	}
	return strings.Join(f, " ")
}

// Handle is the extractor stage's pipeline.Handler. A chunk
// (event.SubjectChunk) gives one event.Extraction on event.SubjectExtraction;
// a deletion (event.SubjectDocumentDeleted) is forwarded unchanged on
// event.SubjectExtractionDeletion so it stays ordered after the document's
// extractions. Any other subject, or a payload that does not decode or
// names no document, is a permanent error.
//
// With the LLM pass, a chunk's extraction is the rules' and the model's
// (see UseLLM), and its errors name the document and the chunk and keep
// the LLM client's classification (retryable, pipeline.Unavailable or
// pipeline.Permanent).
func (x *Extractor) Handle(ctx context.Context, in pipeline.Message) ([]pipeline.Message, error) {
	switch in.Subject {
	case event.SubjectChunk:
		var c event.Chunk
		if err := in.Decode(&c); err != nil {
			return nil, err
		}
		if err := validChunk(c); err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("extract %s: %w", in.Subject, err))
		}
		mentions, rels, revision := x.extract(c.Text)
		if x.llm != nil {
			var err error
			mentions, rels, err = x.withLLM(ctx, readable(c.Text), mentions, rels)
			if err != nil {
				return nil, fmt.Errorf("extract %s chunk %d: %w", c.Document.Path, c.Index, err)
			}
		}
		if mentions == nil {
			mentions = []event.Node{}
		}
		out, err := pipeline.NewMessage(event.SubjectExtraction, event.Extraction{
			Chunk: c, Mentions: mentions, Relationships: rels, GazetteerRevision: revision,
		})
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("extract %s: %w", c.Document.Path, err))
		}
		// The chunk key alone would collide for two paths (or two versions
		// of a path) with the same bytes inside the dedupe window, and
		// JetStream would drop the second extraction. The ID does not
		// depend on the result: a redelivered chunk whose output was
		// stored is dropped as a duplicate. An LLM may answer differently
		// on a redelivery whose first output was lost, or on a gazetteer
		// refresh; the graph writer replaces a chunk's extraction as a
		// whole, so the last one stored wins and nothing is doubled.
		out.ID = fmt.Sprintf("%s@%d", c.Key(), c.Document.Version)
		return []pipeline.Message{out}, nil
	case event.SubjectDocumentDeleted:
		var d event.DocumentDeleted
		if err := in.Decode(&d); err != nil {
			return nil, err
		}
		if d.Path == "" {
			return nil, pipeline.Permanent(fmt.Errorf("extract %s: empty path", in.Subject))
		}
		out, err := pipeline.NewMessage(event.SubjectExtractionDeletion, d)
		if err != nil {
			return nil, pipeline.Permanent(fmt.Errorf("extract %s: %w", d.Path, err))
		}
		return []pipeline.Message{out}, nil
	}
	return nil, pipeline.Permanent(fmt.Errorf("extract: unexpected subject %q", in.Subject))
}

func validChunk(c event.Chunk) error {
	switch {
	case c.Document.Path == "":
		return errors.New("chunk without document path")
	case c.Document.SHA256 == "":
		return fmt.Errorf("chunk of %s without sha256", c.Document.Path)
	case c.Index < 0 || (c.Total > 0 && c.Index >= c.Total):
		return fmt.Errorf("chunk of %s: index %d out of range (total %d)", c.Document.Path, c.Index, c.Total)
	}
	return nil
}
