package extractor

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/unicode/norm"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/llm"
	"github.com/docgraph/docgraph/pkg/schema"
)

// LLMOptions configure the LLM pass of an extractor (extractor.kind llm).
type LLMOptions struct {
	// Client asks the model; required.
	Client *llm.Client
	// MaxChunkChars cuts longer chunk texts to this many characters for
	// the request (0: no limit). The rules still see the whole text.
	MaxChunkChars int
	// CacheEntries is how many answers are kept in memory, by the text
	// asked about (0: none): a chunk extracted again (a redelivery, a
	// gazetteer refresh) reuses its answer instead of asking again.
	CacheEntries int
	// Registerer takes the pass's metrics; required.
	Registerer prometheus.Registerer
	// Logger logs dropped items at debug level; nil logs nothing.
	Logger *slog.Logger
}

// Reasons an item of an LLM answer is dropped (the reason label of
// docgraph_llm_dropped_total).
const (
	DropUnknownType = "unknown_type" // entity or relationship type not in the schema
	DropUngrounded  = "ungrounded"   // entity text not in the chunk
	DropInvalidEnds = "invalid_ends" // relationship ends with the wrong labels, or one entity twice
	DropUnanchored  = "unanchored"   // relationship end not among the chunk's entities
	DropKeyTooLong  = "key_too_long" // entity key longer than event.MaxKeyBytes
)

// llmPass asks an LLM for a chunk's entities and relationships and keeps
// what the schema and the chunk's text support. The model is not trusted:
// see validate.
type llmPass struct {
	client   *llm.Client
	system   string
	schema   map[string]any
	entities map[string]schema.EntityType
	rels     map[string]schema.RelationshipType
	maxChars int
	cache    *answerCache
	log      *slog.Logger

	dropped   *prometheus.CounterVec
	malformed prometheus.Counter
	cacheHits prometheus.Counter
}

// answer is the JSON the model is asked for (see responseSchema).
type answer struct {
	Entities      []answerEntity       `json:"entities"`
	Relationships []answerRelationship `json:"relationships"`
}

type answerEntity struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type answerRelationship struct {
	Type string       `json:"type"`
	From answerEntity `json:"from"`
	To   answerEntity `json:"to"`
}

// UseLLM makes x an LLM extractor: every chunk is extracted by the rules
// (patterns and gazetteer) and by the model, and the extraction is the
// union of both, without duplicates. So pattern entities (procedure
// codes) and known names are never lost to a model's omission, and the
// model adds what the rules cannot see. Call before x is used.
func (x *Extractor) UseLLM(o LLMOptions) error {
	if o.Client == nil {
		return errors.New("extractor: llm pass without client")
	}
	if o.Registerer == nil {
		return errors.New("extractor: llm pass without metrics registerer")
	}
	if o.MaxChunkChars < 0 || o.CacheEntries < 0 {
		return errors.New("extractor: llm pass: negative limit")
	}
	p := &llmPass{
		client: o.Client, system: systemPrompt(x.schema), schema: responseSchema(x.schema),
		entities: map[string]schema.EntityType{}, rels: map[string]schema.RelationshipType{},
		maxChars: o.MaxChunkChars, log: o.Logger,
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "llm", Name: "dropped_total",
			Help: "Entities and relationships of LLM answers dropped by validation, by reason.",
		}, []string{"reason"}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "llm", Name: "malformed_answers_total",
			Help: "LLM answers that were not the JSON asked for (the chunk is retried).",
		}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "llm", Name: "cache_hits_total",
			Help: "Chunk extractions answered from the in-memory cache of LLM answers instead of a request.",
		}),
	}
	if o.CacheEntries > 0 {
		p.cache = newAnswerCache(o.CacheEntries)
	}
	for _, e := range x.schema.Entities {
		p.entities[e.Label] = e
	}
	for _, r := range x.schema.Relationships {
		p.rels[r.Type] = r
	}
	for _, c := range []prometheus.Collector{p.dropped, p.malformed, p.cacheHits} {
		if err := o.Registerer.Register(c); err != nil {
			return fmt.Errorf("register extractor llm metrics: %w", err)
		}
	}
	x.llm = p
	return nil
}

// systemPrompt tells the model the schema's types and the rules.
func systemPrompt(s *schema.Extraction) string {
	var b strings.Builder
	b.WriteString("You extract entities and relationships from a text for a knowledge graph.\n\nEntity types:\n")
	for _, e := range s.Entities {
		fmt.Fprintf(&b, "- %s", e.Label)
		if e.Description != "" {
			fmt.Fprintf(&b, ": %s", e.Description)
		}
		b.WriteByte('\n')
	}
	if len(s.Relationships) > 0 {
		b.WriteString("\nRelationship types:\n")
		for _, r := range s.Relationships {
			fmt.Fprintf(&b, "- %s (from a %s to a %s)", r.Type, r.From, r.To)
			if r.Description != "" {
				fmt.Fprintf(&b, ": %s", r.Description)
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString(`
Rules:
- Report only entities literally present in the text: "text" is the entity's name or code copied exactly as the text writes it.
- Use only the entity and relationship types listed above.
- Report a relationship only if the text states it; its "from" and "to" are entities you report, with the types the relationship type names.
- If the text names no entity, answer with empty lists.
`)
	if p := strings.TrimSpace(s.Prompt); p != "" {
		b.WriteString("\nAbout these documents:\n")
		b.WriteString(p)
		b.WriteByte('\n')
	}
	return b.String()
}

// responseSchema is the JSON Schema of answer, for strict structured
// output: entity and relationship types are enums of the schema's.
func responseSchema(s *schema.Extraction) map[string]any {
	str := func(enum []string) map[string]any {
		m := map[string]any{"type": "string"}
		if len(enum) > 0 {
			m["enum"] = enum
		}
		return m
	}
	object := func(props map[string]any, required ...string) map[string]any {
		return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
	}
	entity := object(map[string]any{"type": str(s.Labels()), "text": str(nil)}, "type", "text")
	rel := object(map[string]any{"type": str(s.RelationshipTypes()), "from": entity, "to": entity}, "type", "from", "to")
	return object(map[string]any{
		"entities":      map[string]any{"type": "array", "items": entity},
		"relationships": map[string]any{"type": "array", "items": rel},
	}, "entities", "relationships")
}

// ask returns the model's answer about text (NFC), from the cache if it
// has it. An answer that is not the JSON asked for is a retryable error:
// the model may answer well next time, and the runner's max_deliver ends
// the attempts.
func (p *llmPass) ask(ctx context.Context, text string) (answer, error) {
	if p.maxChars > 0 && utf8.RuneCountInString(text) > p.maxChars {
		text = cutRunes(text, p.maxChars)
	}
	key := sha256.Sum256([]byte(text))
	if a, ok := p.cache.get(key); ok {
		p.cacheHits.Inc()
		return a, nil
	}
	resp, err := p.client.Complete(ctx, llm.Request{
		Messages:   []llm.Message{{Role: "system", Content: p.system}, {Role: "user", Content: text}},
		SchemaName: "extraction", Schema: p.schema,
	})
	if err != nil {
		return answer{}, err
	}
	var a answer
	if err := json.Unmarshal([]byte(stripFence(resp.Content)), &a); err != nil {
		p.malformed.Inc()
		return answer{}, fmt.Errorf("llm answer is not the JSON asked for: %w", err)
	}
	p.cache.put(key, a)
	return a, nil
}

// stripFence removes a Markdown code fence around JSON, which some
// OpenAI-compatible servers add even in structured-output mode.
func stripFence(s string) string {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") {
		return s
	}
	s = strings.TrimPrefix(s, "```")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:] // the language tag
	}
	return strings.TrimSuffix(strings.TrimSpace(s), "```")
}

// cutRunes returns the first n runes of s.
func cutRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

// withLLM adds to the rules' mentions and relationships what the model
// finds in text (NFC) and validation keeps. Rules results come first; a
// model item with the same node (label and key) or the same relationship
// (type and ends) as a rules item is a duplicate and left out.
func (x *Extractor) withLLM(ctx context.Context, text string, mentions []event.Node, rels []event.Relationship) ([]event.Node, []event.Relationship, error) {
	a, err := x.llm.ask(ctx, text)
	if err != nil {
		return nil, nil, err
	}
	nodes, found := x.validate(ctx, text, a, mentions)
	seen := make(map[event.NodeRef]bool, len(mentions)+len(nodes))
	for _, m := range mentions {
		seen[m.Ref()] = true
	}
	for _, n := range nodes {
		if !seen[n.Ref()] {
			seen[n.Ref()] = true
			mentions = append(mentions, n)
		}
	}
	type relKey struct {
		typ      string
		from, to event.NodeRef
	}
	seenRel := make(map[relKey]bool, len(rels)+len(found))
	for _, r := range rels {
		seenRel[relKey{r.Type, r.From, r.To}] = true
	}
	for _, r := range found {
		if k := (relKey{r.Type, r.From, r.To}); !seenRel[k] {
			seenRel[k] = true
			rels = append(rels, r)
		}
	}
	return mentions, rels, nil
}

// validate keeps what the schema and the text support of an answer:
//
//   - an entity needs a type of the schema and a text that occurs in the
//     chunk's text (case-insensitively, whitespace runs as one space, on
//     word boundaries); the chunk's own spelling is used from then on.
//   - its key is made as the rules make it: the spelling is run through
//     the gazetteer and the patterns, and if exactly one mention of the
//     entity's label is found there, its key (and name) is taken, so a
//     known person or project lands on the node the structured data
//     made. Otherwise the key is the spelling normalised with the label's
//     key normalisation, and the spelling is the node's name. A part of
//     a name that exactly one entity of the chunk has in full is that
//     entity (shortFor).
//   - a relationship needs a type of the schema, ends with its labels, two
//     different ends, and ends that are among the chunk's entities (the
//     rules' or the model's kept ones). The schema's from_source and
//     to_source restrict the rules' triggers only.
//
// Every dropped item is counted by reason and logged at debug level.
func (x *Extractor) validate(ctx context.Context, text string, a answer, ruled []event.Node) ([]event.Node, []event.Relationship) {
	p := x.llm
	f := fold(text)
	kept := make(map[event.NodeRef]bool, len(ruled)+len(a.Entities))
	for _, m := range ruled {
		kept[m.Ref()] = true
	}
	lookup := func(e answerEntity) (event.Node, string) {
		et, ok := p.entities[e.Type]
		if !ok {
			return event.Node{}, DropUnknownType
		}
		spelling, ok := f.find(e.Text)
		if !ok {
			return event.Node{}, DropUngrounded
		}
		n := x.node(et, spelling)
		if len(n.Key) > event.MaxKeyBytes {
			return event.Node{}, DropKeyTooLong
		}
		return n, ""
	}
	// The chunk's named entities, for partial names (see shortFor).
	named := append([]event.Node(nil), ruled...)
	for _, e := range a.Entities {
		if n, reason := lookup(e); reason == "" {
			named = append(named, n)
		}
	}
	resolve := func(e answerEntity) (event.Node, string) {
		n, reason := lookup(e)
		if reason == "" {
			n = shortFor(n, named)
		}
		return n, reason
	}
	var nodes []event.Node
	for _, e := range a.Entities {
		n, reason := resolve(e)
		if reason != "" {
			p.drop(ctx, reason, "entity", e.Type, e.Text)
			continue
		}
		if !kept[n.Ref()] {
			kept[n.Ref()] = true
			nodes = append(nodes, n)
		}
	}
	var rels []event.Relationship
	for _, r := range a.Relationships {
		rt, ok := p.rels[r.Type]
		if !ok {
			p.drop(ctx, DropUnknownType, "relationship", r.Type, r.From.Text+" -> "+r.To.Text)
			continue
		}
		if r.From.Type != rt.From || r.To.Type != rt.To {
			p.drop(ctx, DropInvalidEnds, "relationship", r.Type, r.From.Type+" -> "+r.To.Type)
			continue
		}
		from, fr := resolve(r.From)
		to, tr := resolve(r.To)
		switch {
		case fr != "" || tr != "" || !kept[from.Ref()] || !kept[to.Ref()]:
			p.drop(ctx, DropUnanchored, "relationship", r.Type, r.From.Text+" -> "+r.To.Text)
			continue
		case from.Ref() == to.Ref():
			p.drop(ctx, DropInvalidEnds, "relationship", r.Type, r.From.Text+" -> "+r.To.Text)
			continue
		}
		rels = append(rels, event.Relationship{Type: rt.Type, From: from.Ref(), To: to.Ref(), Source: event.SourceText})
	}
	return nodes, rels
}

// node is the mention of an entity of type et spelled as in the chunk.
func (x *Extractor) node(et schema.EntityType, spelling string) event.Node {
	spans, _ := x.spans(spelling)
	var match *span
	for i := range spans {
		if spans[i].label != et.Label {
			continue
		}
		if match != nil {
			match = nil // two of them: the spelling is not one known entity
			break
		}
		match = &spans[i]
	}
	if match != nil {
		n := event.Node{Label: et.Label, Key: match.key}
		if match.name != "" {
			n.Properties = map[string]any{"name": match.name}
		}
		return n
	}
	name := strings.Join(strings.Fields(spelling), " ")
	return event.Node{Label: et.Label, Key: schema.NormalizeKey(et.Key, spelling), Properties: map[string]any{"name": name}}
}

// shortFor returns the entity that n's name is a short form of: a name
// whose words are some of another's ("Bishop", or "Nora", for "Nora
// Bishop"), when exactly one entity of n's label among named has such a
// name. A model names an entity in full once and then by a part of its
// name, as the text does; otherwise each part would become a node of its
// own. Otherwise it returns n.
func shortFor(n event.Node, named []event.Node) event.Node {
	words := nameWords(n)
	if len(words) == 0 {
		return n
	}
	var found *event.Node
	for i := range named {
		c := &named[i]
		if c.Label != n.Label || c.Key == n.Key {
			continue
		}
		cw := nameWords(*c)
		if len(cw) <= len(words) || !containsWords(cw, words) {
			continue
		}
		if found != nil && found.Key != c.Key {
			return n // the short name fits two entities
		}
		found = c
	}
	if found == nil {
		return n
	}
	return *found
}

// nameWords is the lower-cased words of a node's name property.
func nameWords(n event.Node) []string {
	name, _ := n.Properties["name"].(string)
	return strings.Fields(strings.ToLower(name))
}

// containsWords reports whether every word of part is in words.
func containsWords(words, part []string) bool {
	for _, w := range part {
		if !slices.Contains(words, w) {
			return false
		}
	}
	return true
}

func (p *llmPass) drop(ctx context.Context, reason, kind, typ, text string) {
	p.dropped.WithLabelValues(reason).Inc()
	if p.log != nil {
		p.log.DebugContext(ctx, "llm answer item dropped", slog.String("reason", reason),
			slog.String("kind", kind), slog.String("type", typ), slog.String("text", clipText(text)))
	}
}

func clipText(s string) string {
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	return cutRunes(s, 80) + "…"
}

// folded is a text lower-cased rune by rune, with whitespace runs as one
// space and no leading or trailing space, that knows where each of its
// bytes came from in the original.
type folded struct {
	orig       string
	s          string
	start, end []int // s[i] comes from the rune orig[start[i]:end[i]]
}

func fold(text string) folded {
	text = norm.NFC.String(text)
	f := folded{orig: text}
	var b strings.Builder
	space := -1 // start of a pending whitespace run
	for i, r := range text {
		size := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, size = utf8.DecodeRuneInString(text[i:])
		}
		if unicode.IsSpace(r) {
			if space < 0 {
				space = i
			}
			continue
		}
		if space >= 0 && b.Len() > 0 {
			b.WriteByte(' ')
			f.start, f.end = append(f.start, space), append(f.end, i)
		}
		space = -1
		n, _ := b.WriteRune(unicode.ToLower(r))
		for range n {
			f.start, f.end = append(f.start, i), append(f.end, i+size)
		}
	}
	f.s = b.String()
	return f
}

// find returns the original spelling of the first occurrence of q in the
// text, compared folded, that does not start or end inside a word.
func (f folded) find(q string) (string, bool) {
	fq := fold(q).s
	if fq == "" {
		return "", false
	}
	first, _ := utf8.DecodeRuneInString(fq)
	last, _ := utf8.DecodeLastRuneInString(fq)
	for off := 0; off < len(f.s); {
		i := strings.Index(f.s[off:], fq)
		if i < 0 {
			return "", false
		}
		i += off
		j := i + len(fq)
		before, _ := utf8.DecodeLastRuneInString(f.s[:i])
		after, _ := utf8.DecodeRuneInString(f.s[j:])
		if (i == 0 || !isWordRune(first) || !isWordRune(before)) &&
			(j == len(f.s) || !isWordRune(last) || !isWordRune(after)) {
			return f.orig[f.start[i]:f.end[j-1]], true
		}
		_, size := utf8.DecodeRuneInString(f.s[i:])
		off = i + size
	}
	return "", false
}

// answerCache is a least-recently-used cache of answers by the SHA-256 of
// the text asked about. A nil cache holds nothing.
type answerCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *cacheEntry, most recent first
	byKey map[[32]byte]*list.Element
}

type cacheEntry struct {
	key [32]byte
	a   answer
}

func newAnswerCache(n int) *answerCache {
	return &answerCache{max: n, order: list.New(), byKey: map[[32]byte]*list.Element{}}
}

func (c *answerCache) get(key [32]byte) (answer, bool) {
	if c == nil {
		return answer{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		return answer{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).a, true
}

func (c *answerCache) put(key [32]byte, a answer) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		e.Value.(*cacheEntry).a = a
		c.order.MoveToFront(e)
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, a: a})
	if c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byKey, old.Value.(*cacheEntry).key)
	}
}
