// Package llmtest is a fake OpenAI-compatible chat-completions API for
// tests: an httptest.Server that records the requests it gets and answers
// as a test function says, in the API's wire format.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Request is a chat-completions request as the server decoded it.
type Request struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Temperature    *float64 `json:"temperature"`
	ResponseFormat struct {
		Type       string `json:"type"`
		JSONSchema struct {
			Name   string         `json:"name"`
			Strict bool           `json:"strict"`
			Schema map[string]any `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`

	// Authorization is the request's Authorization header.
	Authorization string `json:"-"`
	// Path is the request's URL path.
	Path string `json:"-"`
}

// User returns the content of the request's last user message.
func (r Request) User() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Content
		}
	}
	return ""
}

// Reply is what the server answers: Status (0 = 200) with Body, or, if
// Body is empty and Status is 0 or 200, a completion whose message content
// is Content. Hang makes the server wait until the client gives up.
type Reply struct {
	Status  int
	Header  http.Header
	Body    string
	Content string
	Hang    bool
}

// Server is the fake API; its URL plus "/v1" is a base URL.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Request
}

// New starts a server that answers each request with reply(request); it is
// closed at the end of the test.
func New(t testing.TB, reply func(Request) Reply) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req Request
		if err := json.Unmarshal(data, &req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":{"message":%q,"type":"invalid_request_error"}}`, err.Error())
			return
		}
		req.Authorization, req.Path = r.Header.Get("Authorization"), r.URL.Path
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		rep := reply(req)
		if rep.Hang {
			<-r.Context().Done()
			return
		}
		for k, vs := range rep.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		if rep.Status == 0 {
			rep.Status = http.StatusOK
		}
		body := rep.Body
		if body == "" && rep.Status == http.StatusOK {
			body = Completion(rep.Content)
		}
		w.WriteHeader(rep.Status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(s.Close)
	return s
}

// NewDown starts a server that answers down while the returned switch is
// set (it starts set) and an empty extraction once it is cleared: an API
// that fails, then recovers.
func NewDown(t testing.TB, down Reply) (*Server, *atomic.Bool) {
	t.Helper()
	var isDown atomic.Bool
	isDown.Store(true)
	s := New(t, func(Request) Reply {
		if isDown.Load() {
			return down
		}
		return Reply{Content: `{"entities":[],"relationships":[]}`}
	})
	return s, &isDown
}

// BaseURL is the base URL to configure a client with.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Completion is a chat.completion answer whose one choice has content.
func Completion(content string) string {
	data, err := json.Marshal(map[string]any{
		"id": "chatcmpl-test", "object": "chat.completion", "created": 1764400000, "model": "test-model",
		"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop",
		}},
		"usage": map[string]any{"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
	})
	if err != nil {
		panic(err) // a map of strings and numbers always encodes
	}
	return string(data)
}

// Error is an OpenAI-style error body.
func Error(message, typ string) string {
	data, err := json.Marshal(map[string]any{"error": map[string]any{"message": message, "type": typ, "code": nil}})
	if err != nil {
		panic(err)
	}
	return string(data)
}
