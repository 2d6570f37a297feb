package llm_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/llm"
	"github.com/docgraph/docgraph/pkg/llm/llmtest"
	"github.com/docgraph/docgraph/pkg/metrictest"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

func newClient(t *testing.T, baseURL string, timeout time.Duration) (*llm.Client, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := llm.New(llm.Config{BaseURL: baseURL, Model: "test-model", APIKey: "sk-test", Timeout: timeout}, reg)
	require.NoError(t, err)
	return c, reg
}

func testRequest() llm.Request {
	return llm.Request{
		Messages:   []llm.Message{{Role: "system", Content: "extract"}, {Role: "user", Content: "Some text."}},
		SchemaName: "extraction",
		Schema:     map[string]any{"type": "object", "additionalProperties": false},
	}
}

func TestCompleteSendsTheWireFormat(t *testing.T) {
	srv := llmtest.New(t, func(llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: `{"entities":[]}`} })
	c, reg := newClient(t, srv.BaseURL()+"/", time.Minute)
	resp, err := c.Complete(t.Context(), testRequest())
	require.NoError(t, err)
	assert.Equal(t, `{"entities":[]}`, resp.Content)
	assert.Equal(t, "stop", resp.FinishReason)
	assert.Equal(t, llm.Usage{PromptTokens: 120, CompletionTokens: 30}, resp.Usage)
	assert.Equal(t, "test-model", c.Model())

	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "/v1/chat/completions", r.Path)
	assert.Equal(t, "Bearer sk-test", r.Authorization)
	assert.Equal(t, "test-model", r.Model)
	require.NotNil(t, r.Temperature)
	assert.Zero(t, *r.Temperature)
	assert.Equal(t, "json_schema", r.ResponseFormat.Type)
	assert.Equal(t, "extraction", r.ResponseFormat.JSONSchema.Name)
	assert.True(t, r.ResponseFormat.JSONSchema.Strict)
	assert.Equal(t, "object", r.ResponseFormat.JSONSchema.Schema["type"])
	assert.Equal(t, "Some text.", r.User())

	assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_requests_total", "outcome", llm.OutcomeOK))
	assert.Equal(t, 120.0, metrictest.Counter(t, reg, "docgraph_llm_tokens_total", "kind", "prompt"))
	assert.Equal(t, 30.0, metrictest.Counter(t, reg, "docgraph_llm_tokens_total", "kind", "completion"))
}

type class int

const (
	retryable class = iota
	permanent
	unavailable
)

func classOf(err error) class {
	switch {
	case pipeline.IsUnavailable(err):
		return unavailable
	case pipeline.IsPermanent(err):
		return permanent
	}
	return retryable
}

func TestCompleteClassifiesFailures(t *testing.T) {
	tests := []struct {
		name        string
		reply       llmtest.Reply
		wantClass   class
		wantOutcome string
		wantErr     []string
	}{
		{"rate limited", llmtest.Reply{Status: 429, Header: http.Header{"Retry-After": {"20"}},
			Body: llmtest.Error("Rate limit reached for requests", "requests")},
			retryable, llm.OutcomeRateLimited, []string{"HTTP 429", "Rate limit reached", "retry after 20s"}},
		{"server error", llmtest.Reply{Status: 500, Body: llmtest.Error("The server had an error", "server_error")},
			retryable, llm.OutcomeServerError, []string{"HTTP 500", "The server had an error"}},
		{"bad gateway, not JSON", llmtest.Reply{Status: 502, Body: "<html>Bad   Gateway</html>"},
			retryable, llm.OutcomeServerError, []string{"HTTP 502", "<html>Bad Gateway</html>"}},
		{"request timeout status", llmtest.Reply{Status: 408, Body: "{}"},
			retryable, llm.OutcomeTimeout, []string{"HTTP 408"}},
		{"unauthorized", llmtest.Reply{Status: 401, Body: llmtest.Error("Incorrect API key provided", "invalid_request_error")},
			unavailable, llm.OutcomeUnauthorized, []string{"HTTP 401", "Incorrect API key provided", "extractor.llm"}},
		{"forbidden", llmtest.Reply{Status: 403, Body: `{"error":"no access"}`},
			unavailable, llm.OutcomeUnauthorized, []string{"HTTP 403", "no access"}},
		{"model not found", llmtest.Reply{Status: 404, Body: llmtest.Error("The model `x` does not exist", "invalid_request_error")},
			unavailable, llm.OutcomeUnauthorized, []string{"HTTP 404", "does not exist"}},
		{"bad request", llmtest.Reply{Status: 400, Body: llmtest.Error("This model's maximum context length is 8192 tokens", "invalid_request_error")},
			permanent, llm.OutcomeRejected, []string{"HTTP 400", "maximum context length"}},
		{"not a completion", llmtest.Reply{Body: "not json"},
			retryable, llm.OutcomeBadResponse, []string{"not a chat completion"}},
		{"no choices", llmtest.Reply{Body: `{"choices":[]}`},
			retryable, llm.OutcomeBadResponse, []string{"without choices"}},
		{"no content", llmtest.Reply{Body: `{"choices":[{"message":{"role":"assistant"},"finish_reason":"stop"}]}`},
			retryable, llm.OutcomeBadResponse, []string{"without content"}},
		{"refusal", llmtest.Reply{Body: `{"choices":[{"message":{"role":"assistant","content":null,"refusal":"I can't"},"finish_reason":"stop"}]}`},
			permanent, llm.OutcomeOK, []string{"model refused: I can't"}},
		{"cut off", llmtest.Reply{Body: `{"choices":[{"message":{"role":"assistant","content":"{\"ent"},"finish_reason":"length"}]}`},
			permanent, llm.OutcomeOK, []string{"token limit"}},
		{"filtered", llmtest.Reply{Body: `{"choices":[{"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}]}`},
			permanent, llm.OutcomeOK, []string{"content filter"}},
		{"too large", llmtest.Reply{Body: llmtest.Completion(strings.Repeat("x", 5<<20))},
			retryable, llm.OutcomeBadResponse, []string{"larger than"}},
		{"timeout", llmtest.Reply{Hang: true},
			retryable, llm.OutcomeTimeout, []string{"no answer within 200ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := llmtest.New(t, func(llmtest.Request) llmtest.Reply { return tt.reply })
			// Only the hanging server waits out the timeout; the others
			// answer, however long a loaded machine takes to send 5 MiB.
			timeout := time.Minute
			if tt.reply.Hang {
				timeout = 200 * time.Millisecond
			}
			c, reg := newClient(t, srv.BaseURL(), timeout)
			_, err := c.Complete(t.Context(), testRequest())
			require.Error(t, err)
			assert.Equal(t, tt.wantClass, classOf(err), "class of %v", err)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "sk-test")
			assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_requests_total", "outcome", tt.wantOutcome))
			var ra *pipeline.RetryAfterError
			if tt.reply.Header.Get("Retry-After") != "" {
				require.ErrorAs(t, err, &ra)
				assert.Equal(t, 20*time.Second, ra.After)
			} else {
				assert.False(t, errors.As(err, &ra), "no Retry-After, the stage's backoff")
			}
		})
	}
}

// A server error now and then is retried; a run of them is an outage, so
// that the stage pauses instead of spending every message's attempts. The
// first answer ends it.
func TestCompleteFailingInARowIsAnOutage(t *testing.T) {
	var mu sync.Mutex
	reply := llmtest.Reply{Status: 503, Body: llmtest.Error("The engine is currently overloaded", "server_error")}
	srv := llmtest.New(t, func(llmtest.Request) llmtest.Reply {
		mu.Lock()
		defer mu.Unlock()
		return reply
	})
	set := func(r llmtest.Reply) {
		mu.Lock()
		defer mu.Unlock()
		reply = r
	}
	c, _ := newClient(t, srv.BaseURL(), 200*time.Millisecond)
	classes := func(n int) []class {
		var out []class
		for range n {
			_, err := c.Complete(t.Context(), testRequest())
			require.Error(t, err)
			out = append(out, classOf(err))
		}
		return out
	}
	assert.Equal(t, []class{retryable, retryable, unavailable, unavailable}, classes(4))
	_, err := c.Complete(t.Context(), testRequest())
	assert.ErrorContains(t, err, "5 requests in a row failed, the last: llm api: HTTP 503: The engine is currently overloaded")

	set(llmtest.Reply{Content: `{"entities":[]}`})
	_, err = c.Complete(t.Context(), testRequest())
	require.NoError(t, err)
	set(llmtest.Reply{Hang: true})
	assert.Equal(t, []class{retryable, retryable, unavailable}, classes(3), "timeouts, counted afresh after the answer")

	// A rejected request is an answer: the run starts again.
	set(llmtest.Reply{Status: 400, Body: llmtest.Error("bad", "invalid_request_error")})
	assert.Equal(t, []class{permanent}, classes(1))
	set(llmtest.Reply{Status: 500})
	assert.Equal(t, []class{retryable}, classes(1))
}

func TestCompleteUnreachableIsAnOutage(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	c, reg := newClient(t, "http://"+addr+"/v1", time.Second)
	_, err = c.Complete(t.Context(), testRequest())
	require.Error(t, err)
	assert.True(t, pipeline.IsUnavailable(err), "%v", err)
	assert.Contains(t, err.Error(), "unreachable")
	assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_requests_total", "outcome", llm.OutcomeUnreachable))
}

func TestCompleteCanceledByCaller(t *testing.T) {
	started := make(chan struct{})
	srv := llmtest.New(t, func(llmtest.Request) llmtest.Reply { close(started); return llmtest.Reply{Hang: true} })
	c, reg := newClient(t, srv.BaseURL(), time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	_, err := c.Complete(ctx, testRequest())
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, pipeline.IsPermanent(err) || pipeline.IsUnavailable(err))
	assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_requests_total", "outcome", llm.OutcomeCanceled))
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     llm.Config
		wantErr string
	}{
		{"no scheme", llm.Config{BaseURL: "api.openai.com/v1", Model: "m", Timeout: time.Second}, "want http(s)://"},
		{"no model", llm.Config{BaseURL: "http://x/v1", Timeout: time.Second}, "model required"},
		{"no timeout", llm.Config{BaseURL: "http://x/v1", Model: "m"}, "timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := llm.New(tt.cfg, prometheus.NewRegistry())
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	reg := prometheus.NewRegistry()
	cfg := llm.Config{BaseURL: "http://x/v1", Model: "m", Timeout: time.Second}
	_, err := llm.New(cfg, reg)
	require.NoError(t, err)
	_, err = llm.New(cfg, reg)
	require.ErrorContains(t, err, "register llm metrics")
}

func TestCompleteReportsRetryAfterDateAndClipsLongMessages(t *testing.T) {
	when := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	long := strings.Repeat("é", 400)
	srv := llmtest.New(t, func(llmtest.Request) llmtest.Reply {
		return llmtest.Reply{Status: 503, Header: http.Header{"Retry-After": {when}}, Body: llmtest.Error(long, "server_error")}
	})
	c, _ := newClient(t, srv.BaseURL(), time.Second)
	_, err := c.Complete(t.Context(), testRequest())
	require.Error(t, err)
	assert.Equal(t, retryable, classOf(err))
	assert.Regexp(t, `retry after 1m(2[89]|3[01])s`, err.Error())
	assert.Contains(t, err.Error(), "é…")
	assert.Less(t, len(err.Error()), 400)
	var se *llm.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.Status)
	var ra *pipeline.RetryAfterError
	require.ErrorAs(t, err, &ra, "the runner retries no sooner")
	assert.InDelta(t, 90*time.Second, ra.After, float64(3*time.Second))
}

func TestCompleteConnectionLostMidAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"choices":`))
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	c, reg := newClient(t, srv.URL, time.Second)
	_, err := c.Complete(t.Context(), testRequest())
	require.Error(t, err)
	assert.Equal(t, retryable, classOf(err), "%v", err)
	assert.Equal(t, 1.0, metrictest.Counter(t, reg, "docgraph_llm_requests_total", "outcome", llm.OutcomeTransport))
}
