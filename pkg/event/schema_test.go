package event_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docgraph/docgraph/pkg/event"
	"github.com/docgraph/docgraph/pkg/pipeline"
	"github.com/docgraph/docgraph/schemas"
)

const schemaBase = "https://github.com/docgraph/docgraph/schemas/messages/"

// messageSchemas maps each payload type to its schema file in schemas.FS.
var messageSchemas = []struct {
	file    string
	subject string
	goType  reflect.Type
}{
	{"file-discovered.json", event.SubjectFileDiscovered, reflect.TypeFor[event.FileDiscovered]()},
	{"file-deleted.json", event.SubjectFileDeleted, reflect.TypeFor[event.FileDeleted]()},
	{"chunk.json", event.SubjectChunk, reflect.TypeFor[event.Chunk]()},
	{"document-deleted.json", event.SubjectDocumentDeleted, reflect.TypeFor[event.DocumentDeleted]()},
	{"records.json", event.SubjectRecords, reflect.TypeFor[event.Records]()},
	{"extraction.json", event.SubjectExtraction, reflect.TypeFor[event.Extraction]()},
	{"extraction-deletion.json", event.SubjectExtractionDeletion, reflect.TypeFor[event.ExtractionDeletion]()},
}

// compiledSchemas compiles every file under messages/ in schemas.FS, by
// file name. Compiling checks each file against the draft 2020-12
// metaschema.
func compiledSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	names, err := fs.Glob(schemas.FS, "messages/*.json")
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	ids := map[string]string{}
	for _, name := range names {
		data, err := fs.ReadFile(schemas.FS, name)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		require.NoError(t, err, name)
		obj, ok := doc.(map[string]any)
		require.True(t, ok, "%s: not a JSON object", name)
		file := strings.TrimPrefix(name, "messages/")
		assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", obj["$schema"], file)
		assert.Equal(t, schemaBase+file, obj["$id"], file)
		require.NoError(t, c.AddResource(schemaBase+file, doc), file)
		ids[file] = schemaBase + file
	}
	out := map[string]*jsonschema.Schema{}
	for file, id := range ids {
		sch, err := c.Compile(id)
		require.NoError(t, err, file)
		out[file] = sch
	}
	return out
}

// rawSchema returns the decoded JSON of one schema file.
func rawSchema(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := fs.ReadFile(schemas.FS, "messages/"+file)
	require.NoError(t, err)
	var obj map[string]any
	require.NoError(t, json.Unmarshal(data, &obj), file)
	return obj
}

func TestMessageSchemasCoverEveryPayloadType(t *testing.T) {
	compiled := compiledSchemas(t)
	var want []string
	for _, ms := range messageSchemas {
		want = append(want, ms.file)
	}
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(compiled)),
		"schemas/messages/ must hold exactly one schema per payload type")
}

func TestMessageSchemasNameTheirSubject(t *testing.T) {
	for _, ms := range messageSchemas {
		t.Run(ms.file, func(t *testing.T) {
			obj := rawSchema(t, ms.file)
			typ := event.TypeOf(ms.subject)
			require.NotEmpty(t, typ, "subject %s has no type", ms.subject)
			assert.Equal(t, ms.subject, obj["x-docgraph-subject"])
			assert.Equal(t, typ, obj["x-docgraph-type"])
			assert.Equal(t, typ, obj["title"])
			assert.Equal(t, event.Version, obj["x-docgraph-version"])
			desc, _ := obj["description"].(string)
			for _, s := range []string{
				"Subject: " + ms.subject + ".",
				pipeline.HeaderType + ": " + typ + ";",
				pipeline.HeaderVersion + ": " + event.Version + " ",
				pipeline.HeaderCorrelationID,
				pipeline.HeaderMsgID,
			} {
				assert.Contains(t, desc, s)
			}
		})
	}
}

// TestMessageSchemasMatchGoTypes walks each payload type and its schema
// together, so that a field added, renamed, retyped or made optional in
// Go without the same change in its schema (or the other way round)
// fails here.
func TestMessageSchemasMatchGoTypes(t *testing.T) {
	for _, ms := range messageSchemas {
		t.Run(ms.file, func(t *testing.T) {
			root := rawSchema(t, ms.file)
			matchType(t, root, ms.goType.Name(), root, ms.goType)
		})
	}
}

// matchType checks that schema s (a part of root) describes what
// encoding/json makes of Go type typ.
func matchType(t *testing.T, root map[string]any, where string, s map[string]any, typ reflect.Type) {
	t.Helper()
	s = deref(t, root, where, s)
	switch typ.Kind() {
	case reflect.Struct:
		matchStruct(t, root, where, s, typ)
	case reflect.Slice:
		assert.Equal(t, "array", s["type"], "%s: type", where)
		items, ok := s["items"].(map[string]any)
		if assert.True(t, ok, "%s: items", where) {
			matchType(t, root, where+"[]", items, typ.Elem())
		}
	case reflect.Map:
		assert.Equal(t, "object", s["type"], "%s: type", where)
		assert.Equal(t, reflect.String, typ.Key().Kind(), "%s: map key", where)
		_, ok := s["additionalProperties"].(map[string]any)
		assert.True(t, ok, "%s: a map's values need an additionalProperties schema", where)
	case reflect.String:
		if enum, ok := s["enum"].([]any); ok {
			for _, v := range enum {
				assert.IsType(t, "", v, "%s: enum value", where)
			}
			return
		}
		assert.Equal(t, "string", s["type"], "%s: type", where)
	case reflect.Bool:
		assert.Equal(t, "boolean", s["type"], "%s: type", where)
	case reflect.Float64:
		assert.Equal(t, "number", s["type"], "%s: type", where)
	case reflect.Int, reflect.Int64:
		assert.Equal(t, "integer", s["type"], "%s: type", where)
	case reflect.Uint64:
		assert.Equal(t, "integer", s["type"], "%s: type", where)
		minimum, ok := s["minimum"].(float64)
		assert.True(t, ok && minimum >= 0, "%s: an unsigned field needs a minimum of at least 0", where)
	default:
		t.Errorf("%s: Go kind %s has no schema counterpart here; extend matchType", where, typ.Kind())
	}
}

// matchStruct checks that s lists exactly typ's JSON fields, requires
// exactly those without omitempty, and refuses any other property (the
// pipeline decodes strictly).
func matchStruct(t *testing.T, root map[string]any, where string, s map[string]any, typ reflect.Type) {
	t.Helper()
	assert.Equal(t, "object", s["type"], "%s: type", where)
	assert.Equal(t, false, s["additionalProperties"], "%s: additionalProperties", where)
	props, _ := s["properties"].(map[string]any)
	var required []string
	for _, r := range asSlice(s["required"]) {
		required = append(required, r.(string))
	}
	var goNames, goRequired []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		require.False(t, f.Anonymous, "%s.%s: embedded fields are not supported here", where, f.Name)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		require.NotEmpty(t, name, "%s.%s: every payload field needs a json name", where, f.Name)
		if name == "-" {
			continue
		}
		goNames = append(goNames, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			goRequired = append(goRequired, name)
		}
		ps, ok := props[name].(map[string]any)
		if !assert.True(t, ok, "%s: Go field %s (%q) is not a property of the schema", where, f.Name, name) {
			continue
		}
		matchType(t, root, where+"."+name, ps, f.Type)
	}
	assert.ElementsMatch(t, goNames, slices.Collect(maps.Keys(props)), "%s: properties", where)
	assert.ElementsMatch(t, goRequired, required, "%s: required (the fields without omitempty)", where)
}

// deref follows a local "#/$defs/..." reference.
func deref(t *testing.T, root map[string]any, where string, s map[string]any) map[string]any {
	t.Helper()
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	require.True(t, ok, "%s: only local #/$defs/ references are supported here, got %q", where, ref)
	defs, _ := root["$defs"].(map[string]any)
	def, ok := defs[name].(map[string]any)
	require.True(t, ok, "%s: %s not found", where, ref)
	return def
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

const (
	shaA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	shaB = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
)

// validPayloads are real payloads of every type: with every optional
// field set ("full") and with none ("minimal").
func validPayloads() []struct {
	name    string
	subject string
	payload any
} {
	doc := event.NewDocument("notes/Meeting.MD", shaA, 1234, 7)
	sheet := event.NewDocument("people.xlsx", shaB, 5678, 8)
	chunk := event.Chunk{Document: doc, Index: 1, Total: 3, Text: "Ada Lovelace leads Project Analytical."}
	ada := event.Node{Label: "Person", Key: "ada lovelace", Properties: map[string]any{
		"name": "Ada Lovelace", "age": 36, "height": 1.65, "active": true, "left": nil,
		"tags": []string{"math", "poetry"}, "scores": []float64{1, 2.5}, "flags": []bool{true}, "none": []string{},
	}}
	project := event.Node{Label: "Project", Key: "analytical"}
	leads := event.Relationship{
		Type: "LEADS", From: ada.Ref(), To: project.Ref(), Source: event.SourceText,
		Properties: map[string]any{"since": "1843-01-01", "weight": 0.5}, Evidence: "Ada Lovelace leads Project Analytical.",
	}
	memberOf := event.Relationship{Type: "MEMBER_OF", From: ada.Ref(), To: project.Ref(), Source: event.SourceStructured}
	return []struct {
		name    string
		subject string
		payload any
	}{
		{"file discovered", event.SubjectFileDiscovered, event.FileDiscovered{
			Path: "notes/Meeting.MD", Size: 1234, SHA256: shaA, ModTime: "2026-11-29T15:04:05.123456789Z", Object: "notes/Meeting.MD@" + shaA,
		}},
		{"file deleted full", event.SubjectFileDeleted, event.FileDeleted{Path: "notes/Meeting.MD", SHA256: shaA}},
		{"file deleted minimal", event.SubjectFileDeleted, event.FileDeleted{Path: "notes/Meeting.MD"}},
		{"chunk", event.SubjectChunk, chunk},
		{"chunk of a file without extension", event.SubjectChunk, event.Chunk{
			Document: event.NewDocument("README", shaB, 0, 1), Total: 1,
		}},
		{"document deleted", event.SubjectDocumentDeleted, event.DocumentDeleted{Path: "notes/Meeting.MD", Version: 9}},
		{"extraction deletion", event.SubjectExtractionDeletion, event.ExtractionDeletion{Path: "notes/Meeting.MD", Version: 9}},
		{"extraction full", event.SubjectExtraction, event.Extraction{
			Chunk: chunk, Mentions: []event.Node{ada, project}, Relationships: []event.Relationship{leads}, GazetteerRevision: 42,
		}},
		// The extractor sends an empty list, never null, when a chunk
		// mentions nothing.
		{"extraction minimal", event.SubjectExtraction, event.Extraction{Chunk: chunk, Mentions: []event.Node{}}},
		{"records full", event.SubjectRecords, event.Records{
			Source: sheet, Mapping: "people", Batch: 2, Final: true, Batches: 3,
			Nodes:         []event.Node{ada, project},
			Relationships: []event.Relationship{memberOf, {Type: "LEADS", From: ada.Ref(), To: project.Ref()}},
			Rejected: []event.RowError{
				{Line: 12, Column: "age", Value: "many", Error: "not a number"},
				{Line: 0, Error: "unterminated or misplaced quote (record 40)"},
			},
		}},
		{"records minimal", event.SubjectRecords, event.Records{Source: sheet, Mapping: "people"}},
	}
}

func TestMessageSchemasAcceptEncodedPayloads(t *testing.T) {
	compiled := compiledSchemas(t)
	bySubject := map[string]string{}
	for _, ms := range messageSchemas {
		bySubject[ms.subject] = ms.file
	}
	for _, tt := range validPayloads() {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := pipeline.NewMessage(tt.subject, tt.payload)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg.Data))
			require.NoError(t, err)
			assert.NoError(t, compiled[bySubject[tt.subject]].Validate(inst), "%s", msg.Data)
			// What the schema accepts, the pipeline decodes.
			got := reflect.New(reflect.TypeOf(tt.payload))
			assert.NoError(t, msg.Decode(got.Interface()))
		})
	}
}

func TestMessageSchemasRejectInvalidPayloads(t *testing.T) {
	compiled := compiledSchemas(t)
	tests := []struct {
		name string
		file string
		give string
		// wantDecodeErr: the pipeline's strict decoder refuses it too.
		wantDecodeErr bool
	}{
		{"unknown property", "file-deleted.json", `{"path":"a.md","deleted_at":"2026-11-29T00:00:00Z"}`, true},
		{"unknown nested property", "chunk.json", `{"document":{"path":"a.md","name":"a.md","format":"md","sha256":"` + shaA +
			`","size":1,"version":1,"owner":"x"},"index":0,"total":1,"text":""}`, true},
		{"missing required", "file-discovered.json", `{"path":"a.md","size":1,"sha256":"` + shaA + `","object":"a.md@` + shaA + `"}`, false},
		{"empty path", "document-deleted.json", `{"path":"","version":1}`, false},
		{"version zero", "extraction-deletion.json", `{"path":"a.md","version":0}`, false},
		{"sha256 not hex", "file-deleted.json", `{"path":"a.md","sha256":"ABC"}`, false},
		{"mod_time not a date-time", "file-discovered.json", `{"path":"a.md","size":1,"sha256":"` + shaA +
			`","mod_time":"yesterday","object":"a.md@` + shaA + `"}`, false},
		{"negative size", "file-discovered.json", `{"path":"a.md","size":-1,"sha256":"` + shaA +
			`","mod_time":"2026-11-29T00:00:00Z","object":"a.md@` + shaA + `"}`, false},
		{"mentions null", "extraction.json", `{"chunk":{"document":{"path":"a.md","name":"a.md","format":"md","sha256":"` + shaA +
			`","size":1,"version":1},"index":0,"total":1,"text":""},"mentions":null}`, false},
		{"negative gazetteer revision", "extraction.json", `{"chunk":{"document":{"path":"a.md","name":"a.md","format":"md","sha256":"` + shaA +
			`","size":1,"version":1},"index":0,"total":1,"text":""},"mentions":[],"gazetteer_revision":-1}`, true},
		{"unknown relationship source", "records.json", `{"source":{"path":"p.csv","name":"p.csv","format":"csv","sha256":"` + shaA +
			`","size":1,"version":1},"mapping":"people","batch":0,"relationships":[{"type":"LEADS","from":{"label":"Person","key":"a"},` +
			`"to":{"label":"Project","key":"b"},"source":"guess"}]}`, false},
		{"reserved node property", "records.json", `{"source":{"path":"p.csv","name":"p.csv","format":"csv","sha256":"` + shaA +
			`","size":1,"version":1},"mapping":"people","batch":0,"nodes":[{"label":"Person","key":"a","properties":{"key":"b"}}]}`, false},
		{"mixed list property", "records.json", `{"source":{"path":"p.csv","name":"p.csv","format":"csv","sha256":"` + shaA +
			`","size":1,"version":1},"mapping":"people","batch":0,"nodes":[{"label":"Person","key":"a","properties":{"x":[1,"b"]}}]}`, false},
		{"map property", "records.json", `{"source":{"path":"p.csv","name":"p.csv","format":"csv","sha256":"` + shaA +
			`","size":1,"version":1},"mapping":"people","batch":0,"nodes":[{"label":"Person","key":"a","properties":{"x":{"y":1}}}]}`, false},
		{"row error without reason", "records.json", `{"source":{"path":"p.csv","name":"p.csv","format":"csv","sha256":"` + shaA +
			`","size":1,"version":1},"mapping":"people","batch":0,"rejected":[{"line":3}]}`, false},
	}
	byFile := map[string]int{}
	for i, ms := range messageSchemas {
		byFile[ms.file] = i
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.give))
			require.NoError(t, err)
			sch := compiled[tt.file]
			require.NotNil(t, sch, tt.file)
			assert.Error(t, sch.Validate(inst))
			ms := messageSchemas[byFile[tt.file]]
			msg, err := pipeline.NewMessage(ms.subject, nil)
			require.NoError(t, err)
			msg.Data = []byte(tt.give)
			if err := msg.Decode(reflect.New(ms.goType).Interface()); tt.wantDecodeErr {
				assert.Error(t, err, "the pipeline decodes what the schema refuses")
			} else {
				assert.NoError(t, err, "only the schema refuses this")
			}
		})
	}
}
