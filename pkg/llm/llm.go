// Package llm is a client of OpenAI-compatible chat-completion APIs
// (POST {base_url}/chat/completions) that asks for structured output
// against a JSON Schema. It classifies failures for the stage runner: an
// error it returns is retryable, pipeline.Permanent or pipeline.Unavailable.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/docgraph/docgraph/pkg/pipeline"
)

// Config says which API and model to use.
type Config struct {
	// BaseURL is the API's base, e.g. https://api.openai.com/v1.
	BaseURL string
	// Model is the model name sent with every request.
	Model string
	// APIKey, when set, is sent as a bearer token. It is never logged.
	APIKey string
	// Timeout bounds one request, answer included.
	Timeout time.Duration
	// MaxResponseBytes bounds the response body read (default 4 MiB).
	MaxResponseBytes int64
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is one chat completion asking for a JSON answer that follows
// Schema (strict structured output).
type Request struct {
	Messages   []Message
	SchemaName string
	Schema     map[string]any
}

// Response is the first choice of a completion.
type Response struct {
	Content      string
	FinishReason string
	Usage        Usage
}

// Usage is the token count the API reports (zero if it reports none).
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// StatusError is an API answer with an HTTP error status.
type StatusError struct {
	Status     int
	Message    string        // the API's error message, or the start of the body
	RetryAfter time.Duration // from a Retry-After header, 0 if none
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("llm api: HTTP %d", e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// Request outcomes (the outcome label of docgraph_llm_requests_total).
const (
	OutcomeOK           = "ok"
	OutcomeRateLimited  = "rate_limited"  // 429
	OutcomeServerError  = "server_error"  // 5xx
	OutcomeUnauthorized = "unauthorized"  // 401, 403, 404: configuration
	OutcomeRejected     = "rejected"      // any other 4xx
	OutcomeUnreachable  = "unreachable"   // no connection
	OutcomeTimeout      = "timeout"       // no answer within the timeout
	OutcomeBadResponse  = "bad_response"  // not a chat completion
	OutcomeCanceled     = "canceled"      // the caller gave up (shutdown)
	OutcomeTransport    = "transport_err" // connection lost mid-request
)

// Client sends chat completions. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	metrics  *metrics
	// failing counts the requests in a row that failed with a server
	// error, a timeout or a lost connection (see outageAfter).
	failing atomic.Int64
}

// outageAfter is how many requests in a row must fail with a server error,
// a timeout or a lost connection before the API counts as down: from then
// on such failures are pipeline.Unavailable (the stage pauses and holds its
// messages) instead of retryable, which would spend a delivery attempt of
// every message and dead-letter the backlog during a long outage. The
// first answer resets the count.
const outageAfter = 3

type metrics struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
	tokens   *prometheus.CounterVec
}

// New returns a client for cfg, registering its metrics with reg.
func New(cfg Config, reg prometheus.Registerer) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("llm: base URL %q: want http(s)://host[/path]", cfg.BaseURL)
	}
	if cfg.Model == "" {
		return nil, errors.New("llm: model required")
	}
	if cfg.Timeout <= 0 {
		return nil, errors.New("llm: timeout must be positive")
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 4 << 20
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "llm", Name: "requests_total",
			Help: "LLM API requests, by outcome.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "docgraph", Subsystem: "llm", Name: "request_duration_seconds",
			Help:    "Time from sending an LLM API request to having its whole answer.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "docgraph", Subsystem: "llm", Name: "tokens_total",
			Help: "Tokens the LLM API reported as used, by kind (prompt or completion).",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.tokens} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register llm metrics: %w", err)
		}
	}
	return &Client{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/chat/completions",
		// The request's context bounds it; no client-wide timeout.
		http:    &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		metrics: m,
	}, nil
}

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

type wireRequest struct {
	Model          string         `json:"model"`
	Messages       []Message      `json:"messages"`
	Temperature    float64        `json:"temperature"`
	ResponseFormat responseFormat `json:"response_format"`
}

type responseFormat struct {
	Type       string     `json:"type"`
	JSONSchema jsonSchema `json:"json_schema"`
}

type jsonSchema struct {
	Name   string         `json:"name"`
	Strict bool           `json:"strict"`
	Schema map[string]any `json:"schema"`
}

type wireResponse struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
			Refusal string  `json:"refusal"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *Usage `json:"usage"`
}

// Complete sends req with temperature 0 and returns the first choice.
//
// Errors are classified: 429, 408, 5xx, a lost connection, a timeout and
// an answer that is not a chat completion are retryable (the runner naks
// with the stage's backoff, or after the answer's Retry-After if that is
// longer: pipeline.RetryAfter). A
// server that cannot be reached at all (connection refused, unknown host)
// and 401, 403 and 404 (a wrong key, base URL or model: every request
// would fail alike until the configuration is fixed) are
// pipeline.Unavailable, so the stage pauses instead of dead-lettering its
// whole input; so are server errors, timeouts and lost connections once
// outageAfter requests in a row have failed so. Any other 4xx, a refusal
// and an answer cut off by the token limit are pipeline.Permanent.
func (c *Client) Complete(ctx context.Context, req Request) (Response, error) {
	body, err := json.Marshal(wireRequest{
		Model: c.cfg.Model, Messages: req.Messages, Temperature: 0,
		ResponseFormat: responseFormat{Type: "json_schema", JSONSchema: jsonSchema{
			Name: req.SchemaName, Strict: true, Schema: req.Schema,
		}},
	})
	if err != nil {
		return Response{}, pipeline.Permanent(fmt.Errorf("llm request: %w", err))
	}
	start := time.Now()
	resp, outcome, err := c.do(ctx, body)
	switch outcome {
	case OutcomeServerError, OutcomeTimeout, OutcomeTransport:
		if n := c.failing.Add(1); n >= outageAfter && !pipeline.IsUnavailable(err) {
			err = pipeline.Unavailable(fmt.Errorf("%d requests in a row failed, the last: %w", n, err))
		}
	case OutcomeCanceled, OutcomeUnreachable:
	default: // the API answered
		c.failing.Store(0)
	}
	c.metrics.requests.WithLabelValues(outcome).Inc()
	if outcome != OutcomeCanceled {
		c.metrics.duration.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		return Response{}, err
	}
	c.metrics.tokens.WithLabelValues("prompt").Add(float64(resp.Usage.PromptTokens))
	c.metrics.tokens.WithLabelValues("completion").Add(float64(resp.Usage.CompletionTokens))
	return resp, nil
}

func (c *Client) do(ctx context.Context, body []byte) (Response, string, error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(rctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return Response{}, OutcomeBadResponse, pipeline.Permanent(fmt.Errorf("llm request: %w", err))
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if c.cfg.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	hresp, err := c.http.Do(hreq)
	if err != nil {
		outcome, cerr := c.transportOutcome(ctx, err)
		return Response{}, outcome, cerr
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		outcome, cerr := c.transportOutcome(ctx, err)
		return Response{}, outcome, cerr
	}
	if hresp.StatusCode != http.StatusOK {
		return Response{}, statusOutcome(hresp.StatusCode), statusError(hresp, data)
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return Response{}, OutcomeBadResponse, fmt.Errorf("llm api: answer larger than %d bytes", c.cfg.MaxResponseBytes)
	}
	var w wireResponse
	if err := json.Unmarshal(data, &w); err != nil {
		return Response{}, OutcomeBadResponse, fmt.Errorf("llm api: answer is not a chat completion: %w", err)
	}
	if len(w.Choices) == 0 {
		return Response{}, OutcomeBadResponse, errors.New("llm api: answer without choices")
	}
	ch := w.Choices[0]
	if ch.Message.Refusal != "" {
		return Response{}, OutcomeOK, pipeline.Permanent(fmt.Errorf("llm api: model refused: %s", ch.Message.Refusal))
	}
	switch ch.FinishReason {
	case "length":
		return Response{}, OutcomeOK, pipeline.Permanent(errors.New("llm api: answer cut off at the token limit"))
	case "content_filter":
		return Response{}, OutcomeOK, pipeline.Permanent(errors.New("llm api: answer withheld by the content filter"))
	}
	if ch.Message.Content == nil {
		return Response{}, OutcomeBadResponse, errors.New("llm api: answer without content")
	}
	out := Response{Content: *ch.Message.Content, FinishReason: ch.FinishReason}
	if w.Usage != nil {
		out.Usage = *w.Usage
	}
	return out, OutcomeOK, nil
}

// transportOutcome classifies an error of sending or reading a request
// (ctx is the caller's, without this request's timeout).
func (c *Client) transportOutcome(ctx context.Context, err error) (string, error) {
	if ctx.Err() != nil {
		return OutcomeCanceled, fmt.Errorf("llm api: %w", ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return OutcomeTimeout, fmt.Errorf("llm api: no answer within %s", c.cfg.Timeout)
	}
	var op *net.OpError
	var dns *net.DNSError
	if (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns) {
		return OutcomeUnreachable, pipeline.Unavailable(fmt.Errorf("llm api unreachable: %w", err))
	}
	return OutcomeTransport, fmt.Errorf("llm api: %w", err)
}

func statusOutcome(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return OutcomeRateLimited
	case status >= 500:
		return OutcomeServerError
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound:
		return OutcomeUnauthorized
	case status == http.StatusRequestTimeout:
		return OutcomeTimeout
	}
	return OutcomeRejected
}

// statusError builds the classified error of a non-200 answer.
func statusError(resp *http.Response, body []byte) error {
	e := &StatusError{Status: resp.StatusCode, Message: apiMessage(body), RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	switch statusOutcome(resp.StatusCode) {
	case OutcomeRateLimited, OutcomeServerError, OutcomeTimeout:
		if e.RetryAfter > 0 {
			return pipeline.RetryAfter(e, e.RetryAfter)
		}
		return e
	case OutcomeUnauthorized:
		return pipeline.Unavailable(fmt.Errorf("check extractor.llm (base URL, model, API key): %w", e))
	}
	return pipeline.Permanent(e)
}

// apiMessage is the error message of an OpenAI-style error body
// ({"error":{"message":…}}), else the start of the body.
func apiMessage(body []byte) string {
	var w struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &w) == nil && len(w.Error) > 0 {
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(w.Error, &obj) == nil && obj.Message != "" {
			return clip(obj.Message)
		}
		var s string
		if json.Unmarshal(w.Error, &s) == nil && s != "" {
			return clip(s)
		}
	}
	return clip(strings.TrimSpace(string(body)))
}

func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const limit = 300
	if len(s) <= limit {
		return s
	}
	for i := limit; i > 0; i-- {
		if s[i]&0xC0 != 0x80 { // a rune starts here
			return s[:i] + "…"
		}
	}
	return ""
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}
