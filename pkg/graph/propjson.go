package graph

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Stores keep properties as text (the embedded store in its tables, Neo4j
// the properties each source gave a relationship) in a JSON object whose
// values are tagged pairs [kind, payload] ("s" string, "i" int64 as text,
// "f" float64 as text, "b" bool, "l" list of pairs), so that 3 and 3.0 keep
// their types, also through DuckDB's json_merge_patch, which replaces
// arrays whole and removes keys whose patch value is null, exactly like
// Cypher's SET n += {p: null}.

// EncodeProperties encodes canonical properties (see NormalizeProperties);
// nil values are kept as null so that a merge removes them.
func EncodeProperties(props map[string]any) (string, error) {
	if len(props) == 0 {
		return "{}", nil
	}
	if s, ok := encodeFlat(props); ok {
		return s, nil
	}
	return encodeTagged(props)
}

// encodeTagged is EncodeProperties for any canonical properties.
func encodeTagged(props map[string]any) (string, error) {
	out := make(map[string]any, len(props))
	for k, v := range props {
		if v == nil {
			out[k] = nil
			continue
		}
		ev, err := encodeValue(v)
		if err != nil {
			return "", fmt.Errorf("property %q: %w", k, err)
		}
		out[k] = ev
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode properties: %w", err)
	}
	return string(b), nil
}

// encodeFlat encodes props without lists (a name, a chunk's index and
// text) byte for byte as json.Marshal does in encodeTagged, without its
// reflection over maps and pairs; false when a value is a list.
func encodeFlat(props map[string]any) (string, bool) {
	keys := make([]string, 0, len(props))
	n := 2
	for k, v := range props {
		switch x := v.(type) {
		case nil, int64, float64, bool:
		case string:
			n += len(x)
		default:
			return "", false
		}
		keys = append(keys, k)
		n += len(k) + 16
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		switch x := props[k].(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = append(b, `["s",`...)
			b = appendJSONString(b, x)
			b = append(b, ']')
		case int64:
			b = append(b, `["i","`...)
			b = strconv.AppendInt(b, x, 10)
			b = append(b, `"]`...)
		case float64:
			b = append(b, `["f","`...)
			b = strconv.AppendFloat(b, x, 'g', -1, 64)
			b = append(b, `"]`...)
		case bool:
			b = append(b, `["b",`...)
			b = strconv.AppendBool(b, x)
			b = append(b, ']')
		}
	}
	b = append(b, '}')
	return string(b), true
}

// appendJSONString appends s as json.Marshal writes it: as it is between
// quotes when it can, else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, err := json.Marshal(s)
	if err != nil { // a string always encodes
		panic(err)
	}
	return append(b, q...)
}

// plainJSON reports whether json.Marshal writes s between quotes as it is:
// valid UTF-8 without control characters, quotes, backslashes, the
// characters it escapes for HTML (<, >, &) or U+2028 and U+2029.
func plainJSON(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

func encodeValue(v any) ([2]any, error) {
	switch x := v.(type) {
	case string:
		return [2]any{"s", x}, nil
	case int64:
		return [2]any{"i", strconv.FormatInt(x, 10)}, nil
	case float64:
		return [2]any{"f", strconv.FormatFloat(x, 'g', -1, 64)}, nil
	case bool:
		return [2]any{"b", x}, nil
	case []any:
		items := make([][2]any, len(x))
		for i, it := range x {
			ev, err := encodeValue(it)
			if err != nil {
				return [2]any{}, err
			}
			items[i] = ev
		}
		return [2]any{"l", items}, nil
	}
	return [2]any{}, fmt.Errorf("unsupported value type %T", v)
}

// DecodeProperties is the inverse of EncodeProperties; nulls are dropped.
func DecodeProperties(s string) (map[string]any, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("decode properties: %w", err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(raw))
	for k, r := range raw {
		if string(r) == "null" {
			continue
		}
		v, err := decodeValue(r)
		if err != nil {
			return nil, fmt.Errorf("decode property %q: %w", k, err)
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func decodeValue(r json.RawMessage) (any, error) {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(r, &pair); err != nil {
		return nil, err
	}
	var kind string
	if err := json.Unmarshal(pair[0], &kind); err != nil {
		return nil, err
	}
	switch kind {
	case "s":
		var s string
		err := json.Unmarshal(pair[1], &s)
		return s, err
	case "b":
		var b bool
		err := json.Unmarshal(pair[1], &b)
		return b, err
	case "i", "f":
		var s string
		if err := json.Unmarshal(pair[1], &s); err != nil {
			return nil, err
		}
		if kind == "i" {
			return strconv.ParseInt(s, 10, 64)
		}
		return strconv.ParseFloat(s, 64)
	case "l":
		var items []json.RawMessage
		if err := json.Unmarshal(pair[1], &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := decodeValue(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown value kind %q", kind)
}
