package parser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/bus"
	"github.com/docgraph/docgraph/pkg/disk/disktest"
	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
)

// fakeObjects is an in-memory object store.
type fakeObjects struct {
	data    map[string][]byte
	openErr error // returned by every Open when set
	readErr error // returned by every Read when set
	opened  []string
}

func (f *fakeObjects) Open(_ context.Context, name string) (io.ReadCloser, error) {
	f.opened = append(f.opened, name)
	if f.openErr != nil {
		return nil, f.openErr
	}
	b, ok := f.data[name]
	if !ok {
		return nil, fmt.Errorf("get object %s: %w", name, fs.ErrNotExist)
	}
	if f.readErr != nil {
		return io.NopCloser(io.MultiReader(bytes.NewReader(b[:len(b)/2]), errReader{f.readErr})), nil
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// collector is an Emit that records messages.
type collector struct {
	msgs []pipeline.Message
	err  error // returned by every emit when set
}

func (c *collector) emit(m pipeline.Message) error {
	if c.err != nil {
		return c.err
	}
	c.msgs = append(c.msgs, m)
	return nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// discovered builds a FileDiscovered input for path with content data.
func discovered(t *testing.T, path string, data []byte, seq uint64) pipeline.Message {
	t.Helper()
	m := pipeline.MustMessage(event.SubjectFileDiscovered, event.FileDiscovered{
		Path: path, Size: int64(len(data)), SHA256: sha(data), ModTime: "2024-02-21T10:00:00Z", Object: path + "@" + sha(data),
	})
	m.StreamSeq = seq
	m.Delivered = 1
	return m
}

func newParser(t *testing.T, cfg Config, objects Objects, structured StructuredParser) *Parser {
	t.Helper()
	p, err := New(cfg, objects, structured, nil)
	require.NoError(t, err)
	return p
}

// handlerCase is testdata/handler/<case>/input.json.
type handlerCase struct {
	Config struct {
		ChunkSize    int    `json:"chunk_size"`
		ChunkOverlap int    `json:"chunk_overlap"`
		MaxFileSize  int64  `json:"max_file_size"`
		Unmapped     string `json:"unmapped"`
	} `json:"config"`
	Subject   string            `json:"subject"`
	StreamSeq uint64            `json:"stream_seq"`
	Headers   map[string]string `json:"headers"` // replace the default type/version headers
	Payload   json.RawMessage   `json:"payload"` // sha256 "auto" is replaced by the object's hash
	Raw       string            `json:"raw"`     // sent instead of payload when set
	Objects   map[string]struct {
		Text   string `json:"text"`
		File   string `json:"file"`   // relative to testdata/
		Corpus string `json:"corpus"` // relative to the shared corpus
	} `json:"objects"`
}

// handlerResult is want.golden.json.
type handlerResult struct {
	Error     string          `json:"error,omitempty"`
	Permanent bool            `json:"permanent,omitempty"`
	Outputs   []handlerOutput `json:"outputs"`
}

type handlerOutput struct {
	Subject string            `json:"subject"`
	ID      string            `json:"id"`
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
}

// TestHandleGolden runs each testdata/handler/<case>/input.json through the
// handler and compares with want.golden.json (go test -update rewrites).
func TestHandleGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "handler", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "input.json"))
			require.NoError(t, err)
			var hc handlerCase
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&hc))

			objects := &fakeObjects{data: map[string][]byte{}}
			var lastSHA string
			for name, o := range hc.Objects {
				data := []byte(o.Text)
				switch {
				case o.File != "":
					data, err = os.ReadFile(filepath.Join("testdata", filepath.FromSlash(o.File)))
					require.NoError(t, err)
				case o.Corpus != "":
					data = corpusFile(t, o.Corpus)
				}
				objects.data[name] = data
				lastSHA = sha(data)
			}
			in := pipeline.Message{Subject: hc.Subject, StreamSeq: hc.StreamSeq, Delivered: 1, Header: nats.Header{}}
			if hc.Raw != "" {
				in.Data = []byte(hc.Raw)
			} else {
				in.Data = bytes.ReplaceAll(hc.Payload, []byte(`"auto"`), []byte(`"`+lastSHA+`"`))
			}
			in.Header.Set(pipeline.HeaderType, event.TypeOf(hc.Subject))
			in.Header.Set(pipeline.HeaderVersion, event.Version)
			for k, v := range hc.Headers {
				in.Header.Set(k, v)
			}

			p := newParser(t, Config{
				ChunkSize: hc.Config.ChunkSize, ChunkOverlap: hc.Config.ChunkOverlap,
				MaxFileSize: hc.Config.MaxFileSize, Unmapped: hc.Config.Unmapped,
			}, objects, nil)
			var c collector
			err = p.Handle(t.Context(), in, c.emit)

			got := handlerResult{Outputs: []handlerOutput{}}
			if err != nil {
				got.Error = err.Error()
				got.Permanent = pipeline.IsPermanent(err)
			}
			for _, m := range c.msgs {
				h := map[string]string{}
				for k := range m.Header {
					h[k] = m.Header.Get(k)
				}
				got.Outputs = append(got.Outputs, handlerOutput{Subject: m.Subject, ID: m.ID, Headers: h, Payload: m.Data})
			}
			gotJSON, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			gotJSON = append(gotJSON, '\n')
			golden := filepath.Join(dir, "want.golden.json")
			if *update {
				require.NoError(t, os.WriteFile(golden, gotJSON, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to create the golden file")
			assert.JSONEq(t, string(want), string(gotJSON))
		})
	}
}

func TestHandleChunks(t *testing.T) {
	data := corpusFile(t, "sample/input/minutes/2024-02-14-steering-committee.md")
	const path = "minutes/2024-02-14-steering-committee.md"
	objects := &fakeObjects{data: map[string][]byte{path + "@" + sha(data): data}}
	p := newParser(t, Config{ChunkSize: 300, ChunkOverlap: 60}, objects, nil)
	in := discovered(t, path, data, 42)

	var first collector
	require.NoError(t, p.Handle(t.Context(), in, first.emit))
	require.Greater(t, len(first.msgs), 2)

	text, err := ExtractText(path, data)
	require.NoError(t, err)
	wantChunks := (Chunker{Size: 300, Overlap: 60}).Split(text)
	require.Len(t, first.msgs, len(wantChunks))

	ids := map[string]bool{}
	for i, m := range first.msgs {
		assert.Equal(t, event.SubjectChunk, m.Subject)
		assert.Equal(t, event.TypeChunk, m.Header.Get(pipeline.HeaderType))
		assert.Equal(t, event.Version, m.Header.Get(pipeline.HeaderVersion))
		var ch event.Chunk
		require.NoError(t, m.Decode(&ch))
		assert.Equal(t, event.NewDocument(path, sha(data), int64(len(data)), 42), ch.Document)
		assert.Equal(t, uint64(42), ch.Document.Version)
		assert.Equal(t, "md", ch.Document.Format)
		assert.Equal(t, "2024-02-14-steering-committee.md", ch.Document.Name)
		assert.Equal(t, i, ch.Index)
		assert.Equal(t, len(wantChunks), ch.Total)
		assert.Equal(t, wantChunks[i], ch.Text)
		assert.True(t, strings.HasPrefix(m.ID, ch.Key()+"@42/"+strconv.Itoa(len(wantChunks))+"#"), m.ID)
		assert.False(t, ids[m.ID], "duplicate id %s", m.ID)
		ids[m.ID] = true
	}

	// A redelivery produces the same messages, so JetStream drops them.
	in.Delivered = 2
	var again collector
	require.NoError(t, p.Handle(t.Context(), in, again.emit))
	assert.Equal(t, first.msgs, again.msgs)

	// The same bytes as a newer version get new IDs.
	var newer collector
	require.NoError(t, p.Handle(t.Context(), discovered(t, path, data, 43), newer.emit))
	require.Len(t, newer.msgs, len(first.msgs))
	assert.NotEqual(t, first.msgs[0].ID, newer.msgs[0].ID)

	// The same version cut anew with other chunk settings (another
	// replica's, taking over the redelivered file) gets new IDs.
	wider := newParser(t, Config{ChunkSize: 600, ChunkOverlap: 60}, objects, nil)
	var recut collector
	require.NoError(t, wider.Handle(t.Context(), in, recut.emit))
	require.Less(t, len(recut.msgs), len(first.msgs))
	for _, m := range recut.msgs {
		assert.False(t, ids[m.ID], "id %s of the first cut", m.ID)
	}
}

func TestHandleDeleted(t *testing.T) {
	p := newParser(t, Config{}, &fakeObjects{}, nil)
	in := pipeline.MustMessage(event.SubjectFileDeleted, event.FileDeleted{Path: "a/b.md", SHA256: "00"})
	in.StreamSeq = 9
	var c collector
	require.NoError(t, p.Handle(t.Context(), in, c.emit))
	require.Len(t, c.msgs, 1)
	m := c.msgs[0]
	assert.Equal(t, event.SubjectDocumentDeleted, m.Subject)
	assert.Equal(t, event.TypeDocumentDeleted, m.Header.Get(pipeline.HeaderType))
	var got event.DocumentDeleted
	require.NoError(t, m.Decode(&got))
	assert.Equal(t, event.DocumentDeleted{Path: "a/b.md", Version: 9}, got)

	c.err = errors.New("publisher closed")
	assert.ErrorIs(t, p.Handle(t.Context(), in, c.emit), c.err)
}

func TestHandleErrors(t *testing.T) {
	good := []byte("Emily Rossi manages PRJ-5833.")
	tests := []struct {
		name          string
		objects       *fakeObjects
		in            pipeline.Message
		cfg           Config
		emitErr       error
		wantErr       string
		wantPermanent bool
		wantIs        error
	}{
		{
			name:          "jetstream object not found",
			objects:       &fakeObjects{openErr: fmt.Errorf("get: %w", jetstream.ErrObjectNotFound)},
			in:            discovered(t, "gone.md", good, 1),
			wantErr:       "gone.md: object gone.md@",
			wantPermanent: true,
		},
		{
			name:    "object store unavailable is retryable",
			objects: &fakeObjects{openErr: nats.ErrTimeout},
			in:      discovered(t, "a.md", good, 1),
			wantErr: "open object a.md@" + sha(good) + " for a.md: nats: timeout",
			wantIs:  nats.ErrTimeout,
		},
		{
			name:    "read failure is retryable",
			objects: &fakeObjects{data: map[string][]byte{"a.md@" + sha(good): good}, readErr: io.ErrUnexpectedEOF},
			in:      discovered(t, "a.md", good, 1),
			wantErr: "read object a.md@" + sha(good),
			wantIs:  io.ErrUnexpectedEOF,
		},
		{
			name:    "emit failure is returned",
			objects: &fakeObjects{data: map[string][]byte{"a.md@" + sha(good): good}},
			in:      discovered(t, "a.md", good, 1),
			emitErr: context.DeadlineExceeded,
			wantErr: context.DeadlineExceeded.Error(),
			wantIs:  context.DeadlineExceeded,
		},
		{
			name:          "file larger than the limit",
			objects:       &fakeObjects{data: map[string][]byte{"a.md@" + sha(good): good}},
			in:            discovered(t, "a.md", good, 1),
			cfg:           Config{MaxFileSize: 10},
			wantErr:       "a.md: 29 bytes exceeds the maximum file size of 10 bytes",
			wantPermanent: true,
		},
		{
			name: "object larger than the event says",
			objects: &fakeObjects{data: map[string][]byte{
				"a.md@" + sha(good): good,
			}},
			in: func() pipeline.Message {
				m := discovered(t, "a.md", good, 1)
				var ev event.FileDiscovered
				require.NoError(t, m.Decode(&ev))
				ev.Size = 5
				out := pipeline.MustMessage(event.SubjectFileDiscovered, ev)
				return out
			}(),
			cfg:           Config{MaxFileSize: 10},
			wantErr:       "a.md: larger than the maximum file size of 10 bytes",
			wantPermanent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newParser(t, tt.cfg, tt.objects, nil)
			c := collector{err: tt.emitErr}
			err := p.Handle(t.Context(), tt.in, c.emit)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.wantPermanent, pipeline.IsPermanent(err))
			if tt.wantIs != nil {
				assert.ErrorIs(t, err, tt.wantIs)
			}
		})
	}
}

func TestHandleCancelled(t *testing.T) {
	data := corpusFile(t, "sample/input/teams_overview.md")
	p := newParser(t, Config{ChunkSize: 100}, &fakeObjects{data: map[string][]byte{"t.md@" + sha(data): data}}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	var c collector
	emit := func(m pipeline.Message) error {
		cancel()
		return c.emit(m)
	}
	err := p.Handle(ctx, discovered(t, "t.md", data, 1), emit)
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, c.msgs, 1)
}

// fakeStructured records what the parser hands to a StructuredParser.
type fakeStructured struct {
	match   string
	err     error
	gotDoc  event.Document
	gotPath string
	gotData []byte
}

func (f *fakeStructured) Match(relPath string) bool { return relPath == f.match }

func (f *fakeStructured) Parse(_ context.Context, doc event.Document, localPath string, emit pipeline.Emit) error {
	f.gotDoc, f.gotPath = doc, localPath
	data, err := os.ReadFile(localPath)
	if err != nil {
		return err
	}
	f.gotData = data
	if f.err != nil {
		return f.err
	}
	return emit(pipeline.MustMessage(event.SubjectRecords, event.Records{Source: doc, Mapping: "teams", Final: true, Batches: 1}))
}

func TestHandleStructured(t *testing.T) {
	data := corpusFile(t, "sample/input/teams.csv")
	const path = "teams.csv"
	obj := path + "@" + sha(data)
	tmp := t.TempDir()
	st := &fakeStructured{match: path}
	p := newParser(t, Config{TempDir: tmp}, &fakeObjects{data: map[string][]byte{obj: data}}, st)

	var c collector
	require.NoError(t, p.Handle(t.Context(), discovered(t, path, data, 5), c.emit))
	require.Len(t, c.msgs, 1)
	assert.Equal(t, event.SubjectRecords, c.msgs[0].Subject)
	assert.Equal(t, event.NewDocument(path, sha(data), int64(len(data)), 5), st.gotDoc)
	assert.Equal(t, data, st.gotData)
	assert.Equal(t, tmp, filepath.Dir(st.gotPath))
	assert.Equal(t, ".csv", filepath.Ext(st.gotPath))
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "temporary copy must be removed")

	// Parse errors are returned as they are (the structured parser classifies).
	st.err = pipeline.Permanent(errors.New("teams.csv: line 3: missing column member_name"))
	err = p.Handle(t.Context(), discovered(t, path, data, 6), c.emit)
	require.ErrorIs(t, err, st.err)
	assert.True(t, pipeline.IsPermanent(err))
	entries, err = os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "temporary copy must be removed after a failure")
}

func TestHandleStructuredErrors(t *testing.T) {
	data := []byte("team_name,member_name\nA,B\n")
	const path = "teams.csv"
	obj := path + "@" + sha(data)
	tests := []struct {
		name          string
		cfg           Config
		objects       *fakeObjects
		in            pipeline.Message
		wantErr       string
		wantPermanent bool
		wantWithdrawn bool
	}{
		{
			name:          "object missing",
			objects:       &fakeObjects{data: map[string][]byte{}},
			in:            discovered(t, path, data, 1),
			wantErr:       "teams.csv: object " + obj + " not found",
			wantPermanent: true,
		},
		{
			name:    "temporary directory missing",
			cfg:     Config{TempDir: filepath.Join(t.TempDir(), "missing")},
			objects: &fakeObjects{data: map[string][]byte{obj: data}},
			in:      discovered(t, path, data, 1),
			wantErr: "create temporary copy of teams.csv",
		},
		{
			name:    "read failure",
			objects: &fakeObjects{data: map[string][]byte{obj: data}, readErr: io.ErrUnexpectedEOF},
			in:      discovered(t, path, data, 1),
			wantErr: "copy object " + obj,
		},
		{
			name:    "hash mismatch is retryable",
			objects: &fakeObjects{data: map[string][]byte{obj: []byte("replaced")}},
			in:      discovered(t, path, data, 1),
			wantErr: "teams.csv: object " + obj + " has sha256 " + sha([]byte("replaced")) + ", event says " + sha(data),
		},
		{
			name:          "object over the size limit",
			cfg:           Config{MaxFileSize: int64(len(data))},
			objects:       &fakeObjects{data: map[string][]byte{obj: append(data, "more"...)}},
			in:            discovered(t, path, data, 1),
			wantErr:       "teams.csv: larger than the maximum file size",
			wantPermanent: true,
			wantWithdrawn: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.TempDir == "" {
				tt.cfg.TempDir = t.TempDir()
			}
			st := &fakeStructured{match: path}
			p := newParser(t, tt.cfg, tt.objects, st)
			var c collector
			err := p.Handle(t.Context(), tt.in, c.emit)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Equal(t, tt.wantPermanent, pipeline.IsPermanent(err))
			if tt.wantWithdrawn {
				// An unreadable version withdraws the earlier ones.
				require.Len(t, c.msgs, 1)
				assert.Equal(t, event.SubjectDocumentDeleted, c.msgs[0].Subject)
				assert.JSONEq(t, `{"path":"teams.csv","version":1}`, string(c.msgs[0].Data))
			} else {
				assert.Empty(t, c.msgs)
			}
			assert.Empty(t, st.gotPath, "Parse must not be called")
			entries, err := os.ReadDir(tt.cfg.TempDir)
			if err == nil {
				assert.Empty(t, entries)
			}
		})
	}
}

func TestHandleUnmapped(t *testing.T) {
	csv := []byte("report_id,week,summary\n1,7,All quiet\n")
	xlsx := corpusFile(t, "sample/input/managers.xlsx")
	tests := []struct {
		name       string
		unmapped   string
		mapping    string
		path       string
		data       []byte
		wantChunks int
		wantErr    string
	}{
		{name: "csv as document", unmapped: "", path: "project_manager_report.csv", data: csv, wantChunks: 1},
		{name: "csv skipped", unmapped: UnmappedSkip, path: "project_manager_report.csv", data: csv},
		{name: "xlsx skipped", unmapped: UnmappedSkip, path: "other.xlsx", data: xlsx},
		{name: "xlsx as document is not named by the mapping", unmapped: UnmappedDocument, path: "other.xlsx", data: xlsx,
			wantErr: "other.xlsx: spreadsheet not named by the structured mapping (the shipped schemas/structured.yaml); " +
				".xlsx files are read only through the mapping: add an entry, or set unmapped: skip"},
		{name: "xlsx as document, mapping named", unmapped: UnmappedDocument, mapping: "my-mapping.yaml", path: "sub/Book.XLSX", data: xlsx,
			wantErr: "sub/Book.XLSX: spreadsheet not named by the structured mapping (my-mapping.yaml); .xlsx files are read only through the mapping"},
		{name: "ods as document is not named by the mapping", unmapped: "", path: "sheet.ods", data: []byte("x"),
			wantErr: "sheet.ods: spreadsheet not named by the structured mapping (the shipped schemas/structured.yaml); .ods files"},
		{name: "tsv as document", unmapped: UnmappedDocument, path: "table.tsv", data: []byte("a\tb\n1\t2\n"), wantChunks: 1},
		{name: "documents are read when skipping", unmapped: UnmappedSkip, path: "notes.txt", data: []byte("Hello."), wantChunks: 1},
		{name: "csv rejected", unmapped: UnmappedReject, path: "project_manager_report.csv", data: csv,
			wantErr: "project_manager_report.csv: spreadsheet not named by the structured mapping (the shipped schemas/structured.yaml)"},
		{name: "documents are read when rejecting", unmapped: UnmappedReject, path: "notes.md", data: []byte("Hello."), wantChunks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStructured{match: "teams.csv"}
			objects := &fakeObjects{data: map[string][]byte{tt.path + "@" + sha(tt.data): tt.data}}
			p := newParser(t, Config{Unmapped: tt.unmapped, Mapping: tt.mapping}, objects, st)
			var c collector
			err := p.Handle(t.Context(), discovered(t, tt.path, tt.data, 3), c.emit)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, pipeline.IsPermanent(err))
				return
			}
			require.NoError(t, err)
			assert.Len(t, c.msgs, tt.wantChunks)
			assert.Empty(t, st.gotPath)
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		objects Objects
		wantErr string
	}{
		{name: "defaults", cfg: Config{}, objects: &fakeObjects{}},
		{name: "explicit", cfg: Config{ChunkSize: 500, ChunkOverlap: 250, MaxFileSize: 1, Unmapped: UnmappedSkip}, objects: &fakeObjects{}},
		{name: "objects required", cfg: Config{}, wantErr: "parser: objects: required"},
		{name: "chunk size too small", cfg: Config{ChunkSize: 8}, objects: &fakeObjects{}, wantErr: "chunk_size (8): must be at least 16"},
		{name: "negative chunk size", cfg: Config{ChunkSize: -1}, objects: &fakeObjects{}, wantErr: "chunk_size (-1)"},
		{name: "overlap too large", cfg: Config{ChunkSize: 100, ChunkOverlap: 100}, objects: &fakeObjects{}, wantErr: "chunk_overlap (100): must be from 0 to less than chunk_size (100)"},
		{name: "reject unmapped", cfg: Config{ChunkSize: 100, ChunkOverlap: 99, Unmapped: UnmappedReject}, objects: &fakeObjects{}},
		{name: "negative overlap", cfg: Config{ChunkOverlap: -1}, objects: &fakeObjects{}, wantErr: "chunk_overlap (-1)"},
		{name: "negative max size", cfg: Config{MaxFileSize: -1}, objects: &fakeObjects{}, wantErr: "max_file_size (-1): must not be negative"},
		{name: "bad unmapped", cfg: Config{Unmapped: "guess"}, objects: &fakeObjects{}, wantErr: `unmapped ("guess"): must be "document", "skip" or "reject"`},
		{name: "every problem at once", cfg: Config{ChunkSize: 8, Unmapped: "x"}, objects: &fakeObjects{}, wantErr: "chunk_size (8): must be at least 16\nunmapped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg, tt.objects, nil, nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, p)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, p)
			assert.Positive(t, p.cfg.ChunkSize)
			assert.Positive(t, p.cfg.MaxFileSize)
			assert.NotEmpty(t, p.cfg.Unmapped)
		})
	}
}

func TestExtOf(t *testing.T) {
	tests := []struct{ give, want string }{
		{"a/b.CSV", ".csv"},
		{"a/b.xlsx", ".xlsx"},
		{"noext", ""},
		{"a/b.we*rd", ""},
		{"a/b." + strings.Repeat("x", 20), ""},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, extOf(tt.give))
		})
	}
}

// stalledObjects serves objects whose chunks never arrive: like the
// JetStream object reader, a read blocks until the read's context ends
// and then fails with the store's own timeout error.
type stalledObjects struct{}

func (stalledObjects) Open(ctx context.Context, _ string) (io.ReadCloser, error) {
	return io.NopCloser(stalledReader{ctx}), nil
}

type stalledReader struct{ ctx context.Context }

func (r stalledReader) Read([]byte) (int, error) {
	<-r.ctx.Done()
	return 0, nats.ErrTimeout
}

func TestStalledObjectReadEndsRetryable(t *testing.T) {
	good := []byte("Emily Rossi manages PRJ-5833.")
	for _, path := range []string{"a.md", "teams.csv"} {
		t.Run(path, func(t *testing.T) {
			p := newParser(t, Config{ReadTimeout: 50 * time.Millisecond}, stalledObjects{}, &fakeStructured{match: "teams.csv"})
			var c collector
			err := p.Handle(t.Context(), discovered(t, path, good, 1), c.emit)
			require.Error(t, err)
			assert.Contains(t, err.Error(), path+": object "+path+"@"+sha(good)+" not read within 50ms")
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.False(t, pipeline.IsPermanent(err), "a stalled read is retried")
			assert.Empty(t, c.msgs)
		})
	}
}

func TestObjectReadTimeoutGrowsWithSize(t *testing.T) {
	var got time.Duration
	objects := deadlineObjects{seen: &got}
	p := newParser(t, Config{ReadTimeout: time.Minute}, objects, nil)
	m := discovered(t, "big.md", []byte("x"), 1)
	var ev event.FileDiscovered
	require.NoError(t, m.Decode(&ev))
	ev.Size = 10 << 20
	_ = p.Handle(t.Context(), pipeline.MustMessage(event.SubjectFileDiscovered, ev), (&collector{}).emit)
	// One minute plus a second for each of the ten MiB.
	assert.InDelta(t, 70, got.Seconds(), 1)
}

// deadlineObjects records how far away the read's deadline is.
type deadlineObjects struct{ seen *time.Duration }

func (o deadlineObjects) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if d, ok := ctx.Deadline(); ok {
		*o.seen = time.Until(d)
	}
	return nil, fmt.Errorf("get object %s: %w", name, fs.ErrNotExist)
}

// incompleteObjects serves objects whose upload did not finish: a read
// fails with bus.ErrObjectIncomplete.
type incompleteObjects struct{}

func (incompleteObjects) Open(context.Context, string) (io.ReadCloser, error) {
	return io.NopCloser(errReader{fmt.Errorf("object a.md@x: %w", bus.ErrObjectIncomplete)}), nil
}

func TestIncompleteObjectIsPermanent(t *testing.T) {
	p := newParser(t, Config{}, incompleteObjects{}, nil)
	var c collector
	err := p.Handle(t.Context(), discovered(t, "a.md", []byte("text"), 1), c.emit)
	require.ErrorIs(t, err, bus.ErrObjectIncomplete)
	assert.Empty(t, c.msgs, "the store lost the bytes, the file is fine: nothing is withdrawn")
	assert.True(t, pipeline.IsPermanent(err), "reading again cannot help")
	assert.Contains(t, err.Error(), "read object a.md@")
	assert.Contains(t, err.Error(), "'docgraph reconcile --fix' stores the file again")
}

// A disk without room for the temporary copy (or for DuckDB's spill) is
// no fault of the file: the stage waits for room, and the version is
// neither withdrawn nor dead-lettered.
func TestHandleStructuredWithoutRoomWaits(t *testing.T) {
	data := append([]byte("team_name,member_name\n"), bytes.Repeat([]byte("Team A,Ada Quinlan\n"), 4<<16)...) // 1.2 MiB
	const path = "teams.csv"
	obj := path + "@" + sha(data)
	tmp := disktest.Small(t, 1<<20)
	st := &fakeStructured{match: path}
	p := newParser(t, Config{TempDir: tmp}, &fakeObjects{data: map[string][]byte{obj: data}}, st)
	var c collector
	err := p.Handle(t.Context(), discovered(t, path, data, 1), c.emit)
	require.Error(t, err)
	assert.True(t, pipeline.IsUnavailable(err), "%v", err)
	assert.Contains(t, err.Error(), "teams.csv: no room on the parser's disk (temporary files in "+tmp+")")
	assert.Empty(t, c.msgs, "nothing withdrawn")
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "the partial copy is removed")

	// DuckDB reports the same as text, inside what the structured parser
	// calls a bad file.
	small := []byte("team_name,member_name\nA,B\n")
	sobj := path + "@" + sha(small)
	st.err = pipeline.Permanent(errors.New(`teams.csv: IO Error: Could not write file "/tmp/duckdb_temp_storage-0.tmp": No space left on device`))
	p = newParser(t, Config{TempDir: t.TempDir()}, &fakeObjects{data: map[string][]byte{sobj: small}}, st)
	err = p.Handle(t.Context(), discovered(t, path, small, 2), c.emit)
	assert.True(t, pipeline.IsUnavailable(err), "%v", err)
	assert.Empty(t, c.msgs, "nothing withdrawn")
}
