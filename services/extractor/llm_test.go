package extractor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus/bustest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/llm"
	"github.com/docgraph/docgraph/pkg/llm/llmtest"
	"github.com/docgraph/docgraph/pkg/logging"
	"github.com/docgraph/docgraph/pkg/metrictest"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// llmExtractor is an extractor with the test gazetteer and an LLM pass
// asking srv.
func llmExtractor(t *testing.T, srv *llmtest.Server, o LLMOptions) (*Extractor, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := llm.New(llm.Config{BaseURL: srv.BaseURL(), Model: "test-model", APIKey: "sk-test", Timeout: 500 * time.Millisecond}, reg)
	require.NoError(t, err)
	x := newTestExtractor(t, testEntries())
	o.Client, o.Registerer, o.Logger = c, reg, logging.Discard()
	require.NoError(t, x.UseLLM(o))
	return x, reg
}

// answerJSON encodes an answer as the model's content.
func answerJSON(t *testing.T, a answer) string {
	t.Helper()
	data, err := json.Marshal(a)
	require.NoError(t, err)
	return string(data)
}

// fixed answers every request with content.
func fixed(content string) func(llmtest.Request) llmtest.Reply {
	return func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: content} }
}

func ent(typ, text string) answerEntity { return answerEntity{Type: typ, Text: text} }

func rel(typ string, from, to answerEntity) answerRelationship {
	return answerRelationship{Type: typ, From: from, To: to}
}

func handleChunk(t *testing.T, x *Extractor, text string) (event.Extraction, error) {
	t.Helper()
	doc := event.NewDocument("minutes/a.md", "abc123", 42, 7)
	out, err := x.Handle(t.Context(), chunkMessage(t, event.Chunk{Document: doc, Index: 2, Total: 3, Text: text}))
	if err != nil {
		return event.Extraction{}, err
	}
	require.Len(t, out, 1)
	assert.Equal(t, "abc123:2@7", out[0].ID, "the message ID does not depend on the answer")
	var got event.Extraction
	require.NoError(t, out[0].Decode(&got))
	return got, nil
}

const llmText = "Nora Bishop leads PRJ-1000. Grace  Hopper reviewed the Highcliff Ring Road plan\nwith the titan scheduling team. See aace 17."

func TestLLMExtraction(t *testing.T) {
	nora := event.Node{Label: "Person", Key: "nora bishop", Properties: map[string]any{"name": "Nora Bishop"}}
	prj1000 := event.Node{Label: "Project", Key: "PRJ-1000"}
	ring := event.Node{Label: "Project", Key: "PRJ-8035", Properties: map[string]any{"name": "Highcliff Ring Road"}}
	aace := event.Node{Label: "Procedure", Key: "AACE-17"}
	grace := event.Node{Label: "Person", Key: "grace hopper", Properties: map[string]any{"name": "Grace Hopper"}}
	titan := event.Node{Label: "Team", Key: "titan scheduling", Properties: map[string]any{"name": "titan scheduling"}}
	rulesRel := event.Relationship{Type: "MANAGES", From: nora.Ref(), To: prj1000.Ref(), Source: event.SourceText,
		Evidence: "Nora Bishop leads PRJ-1000."}
	rules := []event.Node{nora, prj1000, ring, aace}

	tests := []struct {
		name         string
		answer       answer
		wantMentions []event.Node
		wantRels     []event.Relationship
		wantDropped  map[string]float64
	}{
		{
			name:         "empty answer keeps the rules' results",
			answer:       answer{},
			wantMentions: rules,
			wantRels:     []event.Relationship{rulesRel},
		},
		{
			name: "new entities with normalised keys, known names on the structured nodes",
			answer: answer{
				Entities: []answerEntity{
					ent("Person", "grace hopper"),         // the chunk's spelling "Grace  Hopper" is used
					ent("Project", "HIGHCLIFF RING ROAD"), // a known name: its code
					ent("Team", "Titan  Scheduling"),
					ent("Person", "Nora Bishop"), // the rules found it too
					ent("Procedure", "AACE 17"),  // the pattern's key
				},
				Relationships: []answerRelationship{
					rel("MANAGES", ent("Person", "Grace Hopper"), ent("Project", "Highcliff Ring Road")),
					rel("MANAGES", ent("Person", "Nora Bishop"), ent("Project", "PRJ-1000")), // the rules' too
				},
			},
			wantMentions: append(append([]event.Node(nil), rules...), grace, titan),
			wantRels: []event.Relationship{rulesRel,
				{Type: "MANAGES", From: grace.Ref(), To: ring.Ref(), Source: event.SourceText}},
		},
		{
			name: "unknown, ungrounded and invalid items are dropped",
			answer: answer{
				Entities: []answerEntity{
					ent("Company", "Highcliff"),   // no such type
					ent("Person", "Ada Lovelace"), // not in the text
					ent("Person", "Nora Bis"),     // not on a word boundary
					ent("Person", "   "),
					ent("Person", "Grace Hopper"),
				},
				Relationships: []answerRelationship{
					rel("FUNDS", ent("Person", "Grace Hopper"), ent("Project", "PRJ-1000")),     // no such type
					rel("MANAGES", ent("Team", "titan scheduling"), ent("Project", "PRJ-1000")), // wrong label
					rel("MANAGES", ent("Person", "Ada Lovelace"), ent("Project", "PRJ-1000")),   // end not in the text
					rel("MANAGES", ent("Person", "Grace Hopper"), ent("Project", "plan")),       // end not an entity
					rel("MEMBER_OF", ent("Person", "Grace Hopper"), ent("Team", "Grace Hopper")),
				},
			},
			wantMentions: append(append([]event.Node(nil), rules...), grace),
			wantRels:     []event.Relationship{rulesRel},
			wantDropped:  map[string]float64{DropUnknownType: 2, DropUngrounded: 3, DropInvalidEnds: 1, DropUnanchored: 3},
		},
		{
			name: "a part of a name is the entity with the whole name",
			answer: answer{
				Entities: []answerEntity{
					ent("Person", "Grace"), // before the whole name
					ent("Person", "Grace Hopper"),
					ent("Person", "Bishop"), // the rules' Nora Bishop
					ent("Project", "Highcliff"),
				},
				Relationships: []answerRelationship{
					rel("MANAGES", ent("Person", "Hopper"), ent("Project", "Highcliff")),
				},
			},
			wantMentions: append(append([]event.Node(nil), rules...), grace),
			wantRels: []event.Relationship{rulesRel,
				{Type: "MANAGES", From: grace.Ref(), To: ring.Ref(), Source: event.SourceText}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(t, fixed(answerJSON(t, tt.answer)))
			x, reg := llmExtractor(t, srv, LLMOptions{})
			got, err := handleChunk(t, x, llmText)
			require.NoError(t, err)
			assert.Equal(t, tt.wantMentions, got.Mentions)
			assert.Equal(t, tt.wantRels, got.Relationships)
			for _, reason := range []string{DropUnknownType, DropUngrounded, DropInvalidEnds, DropUnanchored, DropKeyTooLong} {
				assert.Equal(t, tt.wantDropped[reason], metrictest.Counter(t, reg, "docgraph_llm_dropped_total", "reason", reason), reason)
			}
			reqs := srv.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, llmText, reqs[0].User())
		})
	}
}

// An entity whose key would be too long for the graph (a model naming a
// whole run of text) is dropped, not sent to fail the graph write.
func TestLLMDropsEntityKeyTooLong(t *testing.T) {
	long := strings.Repeat("Z", event.MaxKeyBytes+1)
	text := "Grace Hopper reviewed " + long + " today."
	srv := llmtest.New(t, fixed(answerJSON(t, answer{
		Entities: []answerEntity{ent("Project", long), ent("Person", "Grace Hopper")},
	})))
	x, reg := llmExtractor(t, srv, LLMOptions{})
	got, err := handleChunk(t, x, text)
	require.NoError(t, err)
	for _, m := range got.Mentions {
		assert.LessOrEqual(t, len(m.Key), event.MaxKeyBytes, "%s mention", m.Label)
	}
	assert.Contains(t, got.Mentions, event.Node{Label: "Person", Key: "grace hopper", Properties: map[string]any{"name": "Grace Hopper"}})
	assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_dropped_total", "reason", DropKeyTooLong))
}

func TestLLMRequestCarriesTheSchema(t *testing.T) {
	srv := llmtest.New(t, fixed(`{"entities":[],"relationships":[]}`))
	x, _ := llmExtractor(t, srv, LLMOptions{})
	_, err := handleChunk(t, x, "Nothing here.")
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "Bearer sk-test", r.Authorization)
	assert.Equal(t, "test-model", r.Model)
	require.Len(t, r.Messages, 2)
	system := r.Messages[0].Content
	assert.Equal(t, "system", r.Messages[0].Role)
	for _, e := range x.schema.Entities {
		assert.Contains(t, system, "- "+e.Label+": "+e.Description)
	}
	for _, rt := range x.schema.Relationships {
		assert.Contains(t, system, "- "+rt.Type+" (from a "+rt.From+" to a "+rt.To+"): "+rt.Description)
	}
	assert.Contains(t, system, "only entities literally present in the text")
	assert.Contains(t, system, "About these documents:\n"+x.schema.Prompt, "the schema's prompt")
	assert.NotEmpty(t, x.schema.Prompt, "the shipped schema has a prompt")

	rf := r.ResponseFormat
	assert.Equal(t, "json_schema", rf.Type)
	assert.True(t, rf.JSONSchema.Strict)
	assert.Equal(t, "extraction", rf.JSONSchema.Name)
	schemaJSON, err := json.Marshal(rf.JSONSchema.Schema)
	require.NoError(t, err)
	var s struct {
		Properties struct {
			Entities struct {
				Items struct {
					Properties struct {
						Type struct{ Enum []string } `json:"type"`
					} `json:"properties"`
					AdditionalProperties bool `json:"additionalProperties"`
				} `json:"items"`
			} `json:"entities"`
			Relationships struct {
				Items struct {
					Properties struct {
						Type struct{ Enum []string }     `json:"type"`
						From struct{ Required []string } `json:"from"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"relationships"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	require.NoError(t, json.Unmarshal(schemaJSON, &s))
	assert.Equal(t, x.schema.Labels(), s.Properties.Entities.Items.Properties.Type.Enum)
	assert.Equal(t, x.schema.RelationshipTypes(), s.Properties.Relationships.Items.Properties.Type.Enum)
	assert.Equal(t, []string{"type", "text"}, s.Properties.Relationships.Items.Properties.From.Required)
	assert.Equal(t, []string{"entities", "relationships"}, s.Required)
}

func TestLLMFailures(t *testing.T) {
	tests := []struct {
		name      string
		reply     llmtest.Reply
		wantClass string
		wantErr   []string
	}{
		{"rate limited", llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}, Body: llmtest.Error("Rate limit reached", "requests")},
			"retryable", []string{"HTTP 429", "Rate limit reached", "retry after 7s"}},
		{"server error", llmtest.Reply{Status: 500, Body: llmtest.Error("The server had an error", "server_error")},
			"retryable", []string{"HTTP 500", "The server had an error"}},
		{"wrong key", llmtest.Reply{Status: 401, Body: llmtest.Error("Incorrect API key provided", "invalid_request_error")},
			"unavailable", []string{"HTTP 401", "Incorrect API key provided"}},
		{"bad request", llmtest.Reply{Status: 400, Body: llmtest.Error("context length exceeded", "invalid_request_error")},
			"permanent", []string{"HTTP 400", "context length exceeded"}},
		{"malformed content", llmtest.Reply{Content: `{"entities": [`},
			"retryable", []string{"not the JSON asked for"}},
		{"content of the wrong shape", llmtest.Reply{Content: `["Grace Hopper"]`},
			"retryable", []string{"not the JSON asked for"}},
		{"timeout", llmtest.Reply{Hang: true},
			"retryable", []string{"no answer within 500ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(t, func(llmtest.Request) llmtest.Reply { return tt.reply })
			x, reg := llmExtractor(t, srv, LLMOptions{CacheEntries: 10})
			_, err := handleChunk(t, x, llmText)
			require.Error(t, err)
			class := "retryable"
			switch {
			case pipeline.IsUnavailable(err):
				class = "unavailable"
			case pipeline.IsPermanent(err):
				class = "permanent"
			}
			assert.Equal(t, tt.wantClass, class, "%v", err)
			assert.Contains(t, err.Error(), "extract minutes/a.md chunk 2: ")
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "sk-test")
			if ra := tt.reply.Header.Get("Retry-After"); ra != "" {
				var rae *pipeline.RetryAfterError
				require.ErrorAs(t, err, &rae)
				assert.Equal(t, 7*time.Second, rae.After)
			}
			if strings.Contains(tt.name, "content") {
				assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_malformed_answers_total"))
			}

			// A failed answer is not cached: the next delivery asks again.
			_, _ = handleChunk(t, x, llmText)
			assert.Len(t, srv.Requests(), 2)
		})
	}
}

func TestLLMAnswersAreCachedByText(t *testing.T) {
	srv := llmtest.New(t, fixed(answerJSON(t, answer{Entities: []answerEntity{ent("Person", "Grace Hopper")}})))
	x, reg := llmExtractor(t, srv, LLMOptions{CacheEntries: 1})
	first, err := handleChunk(t, x, llmText)
	require.NoError(t, err)
	again, err := handleChunk(t, x, llmText)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	assert.Len(t, srv.Requests(), 1, "the same text is not asked about twice")
	assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_cache_hits_total"))

	// The gazetteer still applies to a cached answer.
	x.gaz.Put(Entry{Label: "Person", Key: "g. hopper", Name: "Grace Hopper"})
	withName, err := handleChunk(t, x, llmText)
	require.NoError(t, err)
	assert.Contains(t, refs(withName.Mentions), "Person:g. hopper")
	assert.NotContains(t, refs(withName.Mentions), "Person:grace hopper")
	assert.Len(t, srv.Requests(), 1)

	// One entry: another text evicts the first.
	_, err = handleChunk(t, x, "Another text.")
	require.NoError(t, err)
	_, err = handleChunk(t, x, llmText)
	require.NoError(t, err)
	assert.Len(t, srv.Requests(), 3)
}

func TestLLMLongChunksAreCut(t *testing.T) {
	srv := llmtest.New(t, fixed("```json\n"+answerJSON(t, answer{Entities: []answerEntity{ent("Person", "Grace Hopper")}})+"\n```"))
	x, _ := llmExtractor(t, srv, LLMOptions{MaxChunkChars: 8})
	text := "Ünïcödé Grace Hopper wrote this. Nora Bishop read it."
	got, err := handleChunk(t, x, text)
	require.NoError(t, err)
	assert.Equal(t, "Ünïcödé ", srv.Requests()[0].User())
	assert.Equal(t, []string{"Person:nora bishop", "Person:grace hopper"}, refs(got.Mentions),
		"the rules read all of the text; a fenced answer is read")
}

// With the LLM pass, a refresh after a gazetteer change re-extracts with
// the model's cached answer: no new request.
func TestLLMRefreshUsesTheCache(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	srv := llmtest.New(t, fixed(answerJSON(t, answer{Entities: []answerEntity{ent("Person", "Grace Hopper")}})))
	x, _ := llmExtractor(t, srv, LLMOptions{CacheEntries: 10})
	text := "Grace Hopper and Ada Quinlan reviewed the plan."
	publishChunk(t, js, "a.md", text, 1)
	msgs := extractions(t, js)
	require.Empty(t, msgs)
	_, err := handleChunk(t, x, text) // the stage's first extraction
	require.NoError(t, err)

	x.gaz.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	r := NewRefresher(js, x, logging.Discard(), time.Millisecond)
	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 2)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	msgs = extractions(t, js)
	require.Len(t, msgs, 1)
	var got event.Extraction
	require.NoError(t, json.Unmarshal(msgs[0].Data, &got))
	assert.Equal(t, []string{"Person:ada quinlan", "Person:grace hopper"}, refs(got.Mentions))
	assert.Len(t, srv.Requests(), 1)
}

func TestUseLLMChecksItsOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, err := llm.New(llm.Config{BaseURL: "http://127.0.0.1:1/v1", Model: "m", Timeout: time.Second}, reg)
	require.NoError(t, err)
	tests := []struct {
		name    string
		o       LLMOptions
		wantErr string
	}{
		{"no client", LLMOptions{Registerer: reg}, "without client"},
		{"no registerer", LLMOptions{Client: c}, "without metrics registerer"},
		{"negative", LLMOptions{Client: c, Registerer: reg, CacheEntries: -1}, "negative limit"},
		{"registered twice", LLMOptions{Client: c, Registerer: reg}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newTestExtractor(t, nil)
			err := x.UseLLM(tt.o)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.ErrorContains(t, newTestExtractor(t, nil).UseLLM(tt.o), "register extractor llm metrics")
		})
	}
}

func TestFoldFind(t *testing.T) {
	f := fold("  Grace\n\tHOPPER met İlker  Çelik (PRJ-1000).")
	tests := []struct {
		give   string
		want   string
		wantOK bool
	}{
		{"grace hopper", "Grace\n\tHOPPER", true},
		{"  ilker ", "İlker", true}, // rune by rune, İ lower-cases to i
		{"ilker çelik", "İlker  Çelik", true},
		{"(prj-1000)", "(PRJ-1000)", true},
		{"PRJ-1000", "PRJ-1000", true},
		{"hopp", "", false},
		{"", "", false},
		{"celik", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, ok := f.find(tt.give)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLLMNodeOfAnAmbiguousSpelling(t *testing.T) {
	x := newTestExtractor(t, testEntries())
	person, ok := x.schema.Entity("Person")
	require.True(t, ok)
	assert.Equal(t, event.Node{Label: "Person", Key: "lars çelik", Properties: map[string]any{"name": "Lars Çelik"}},
		x.node(person, "Lars Çelik"))
	assert.Equal(t, event.Node{Label: "Person", Key: "lars çelik and irene çelik", Properties: map[string]any{"name": "Lars Çelik and Irene Çelik"}},
		x.node(person, "Lars Çelik and\nIrene Çelik"), "two known people are not one of them")
}

func TestShortFor(t *testing.T) {
	person := func(key, name string) event.Node {
		return event.Node{Label: "Person", Key: key, Properties: map[string]any{"name": name}}
	}
	lars, irene := person("lars çelik", "Lars Çelik"), person("irene çelik", "Irene Çelik")
	team := event.Node{Label: "Team", Key: "lars çelik fans", Properties: map[string]any{"name": "Lars Çelik fans"}}
	named := []event.Node{lars, irene, team, {Label: "Project", Key: "PRJ-1000"}}
	assert.Equal(t, lars, shortFor(person("lars", "Lars"), named))
	assert.Equal(t, lars, shortFor(person("lars", "lars"), named), "case aside")
	assert.Equal(t, person("çelik", "Çelik"), shortFor(person("çelik", "Çelik"), named), "the short name fits two people")
	assert.Equal(t, person("ada", "Ada"), shortFor(person("ada", "Ada"), named), "no one of that name")
	assert.Equal(t, lars, shortFor(lars, named), "a whole name is itself")
	assert.Equal(t, person("lars çelik jr", "Lars Çelik Jr"), shortFor(person("lars çelik jr", "Lars Çelik Jr"), named), "longer, not shorter")
	code := event.Node{Label: "Project", Key: "PRJ-1000"}
	assert.Equal(t, code, shortFor(code, named), "no name, no short form")
}

func TestAnswerCache(t *testing.T) {
	c := newAnswerCache(2)
	k1, k2, k3 := [32]byte{1}, [32]byte{2}, [32]byte{3}
	c.put(k1, answer{Entities: []answerEntity{ent("Person", "a")}})
	c.put(k2, answer{})
	c.put(k1, answer{Entities: []answerEntity{ent("Person", "b")}}) // replaces, and is the most recent
	c.put(k3, answer{})                                             // evicts k2
	a, ok := c.get(k1)
	assert.True(t, ok)
	assert.Equal(t, "b", a.Entities[0].Text)
	_, ok = c.get(k2)
	assert.False(t, ok)
	_, ok = c.get(k3)
	assert.True(t, ok)
	var none *answerCache
	none.put(k1, answer{})
	_, ok = none.get(k1)
	assert.False(t, ok)
}

func TestClipText(t *testing.T) {
	assert.Equal(t, "short", clipText("short"))
	long := strings.Repeat("ü", 100)
	assert.Equal(t, strings.Repeat("ü", 80)+"…", clipText(long))
	assert.Equal(t, "abc", cutRunes("abc", 5))
}

// A refresh the model fails for now is tried again rather than leaving a
// chunk without the new names.
func TestLLMRefreshFailsWhileTheModelFails(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	srv, failing := llmtest.NewDown(t, llmtest.Reply{Status: 503, Body: llmtest.Error("overloaded", "server_error")})
	x, _ := llmExtractor(t, srv, LLMOptions{CacheEntries: 10})
	publishChunk(t, js, "a.md", "Ada Quinlan reviewed the plan.", 1)
	x.gaz.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	r := NewRefresher(js, x, logging.Discard(), time.Millisecond)
	_, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 2)
	require.ErrorContains(t, err, "HTTP 503")
	assert.Empty(t, extractions(t, js))

	failing.Store(false)
	n, err := r.refresh(t.Context(), []string{"Ada Quinlan"}, false, 2)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.Len(t, extractions(t, js), 1)
}

func TestLLMRefreshRunRetriesUntilTheModelAnswers(t *testing.T) {
	_, _, js := bustest.Provisioned(t)
	srv, failing := llmtest.NewDown(t, llmtest.Reply{Status: 500, Body: llmtest.Error("boom", "server_error")})
	x, _ := llmExtractor(t, srv, LLMOptions{})
	publishChunk(t, js, "a.md", "Ada Quinlan reviewed the plan.", 1)
	r := NewRefresher(js, x, logging.Discard(), time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	r.Synced(1)
	x.gaz.Put(Entry{Label: "Person", Key: "ada quinlan", Name: "Ada Quinlan"})
	r.Changed("Ada Quinlan", 2)
	waitUntil(t, 10*time.Second, func() error {
		if len(srv.Requests()) == 0 {
			return errors.New("no request yet")
		}
		return nil
	})
	assert.False(t, r.Idle(2))
	failing.Store(false)
	waitUntil(t, 10*time.Second, func() error {
		if !r.Idle(2) {
			return errors.New("refresh pending")
		}
		return nil
	})
	assert.Equal(t, 1, r.Replayed())
	assert.Len(t, extractions(t, js), 1)
}
