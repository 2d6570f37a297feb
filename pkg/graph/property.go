package graph

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// NormalizeProperties returns a copy of props with every value in canonical
// form, so that both stores keep and export the same types:
//
//   - string, bool stay as they are;
//   - integers (int, int8…int64, uint…uint64 up to MaxInt64) become int64;
//   - float32 and float64 become float64, integral or not (JSON-decoded
//     messages carry every number as float64, and 3.0 stays a float);
//   - json.Number becomes int64 when its text is an integer, else float64;
//   - time.Time becomes "YYYY-MM-DD" at midnight UTC, else RFC 3339;
//   - lists ([]string, []any, []int64, []float64, []bool, …) become []any
//     of canonical scalars, all of one kind (as Neo4j requires);
//   - nil stays nil: "remove this property" (like SET n += {p: null}).
//
// Maps, NaN, ±Inf, nested lists, mixed lists, and empty names or names
// with control characters are refused with an error wrapping ErrInvalid
// that names the property.
func NormalizeProperties(props map[string]any) (map[string]any, error) {
	if len(props) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(props))
	for k, v := range props {
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%w: empty property name", ErrInvalid)
		}
		if strings.IndexFunc(k, unicode.IsControl) >= 0 {
			return nil, fmt.Errorf("%w: property name %q contains a control character", ErrInvalid, k)
		}
		nv, err := NormalizeValue(v)
		if err != nil {
			return nil, fmt.Errorf("property %q: %w", k, err)
		}
		out[k] = nv
	}
	return out, nil
}

// Canonical reports whether props is already in the form that
// NormalizeProperties returns, with only scalar values: a caller that only
// reads the result may then use props itself instead of a copy.
func Canonical(props map[string]any) bool {
	for k, v := range props {
		if !validName(k) {
			return false
		}
		switch x := v.(type) {
		case nil, string, bool, int64:
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validName reports whether k may name a property.
func validName(k string) bool {
	return strings.TrimSpace(k) != "" && strings.IndexFunc(k, unicode.IsControl) < 0
}

// NormalizeValue returns v in the canonical form NormalizeProperties
// describes, or an error wrapping ErrInvalid.
func NormalizeValue(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok, err := normalizeScalar(v); ok || err != nil {
		return s, err
	}
	var items []any
	switch l := v.(type) {
	case []any:
		items = l
	case []string:
		items = toAny(l)
	case []int:
		items = toAny(l)
	case []int64:
		items = toAny(l)
	case []float64:
		items = toAny(l)
	case []bool:
		items = toAny(l)
	default:
		return nil, fmt.Errorf("%w: unsupported value type %T", ErrInvalid, v)
	}
	out := make([]any, len(items))
	kind := ""
	for i, it := range items {
		s, ok, err := normalizeScalar(it)
		if err != nil {
			return nil, fmt.Errorf("list item %d: %w", i, err)
		}
		if !ok {
			return nil, fmt.Errorf("%w: list item %d: unsupported value type %T", ErrInvalid, i, it)
		}
		k := fmt.Sprintf("%T", s)
		if i > 0 && k != kind {
			return nil, fmt.Errorf("%w: list mixes %s and %s", ErrInvalid, kind, k)
		}
		kind = k
		out[i] = s
	}
	return out, nil
}

func toAny[T any](l []T) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = v
	}
	return out
}

// normalizeScalar reports ok=false when v is not a scalar type.
func normalizeScalar(v any) (any, bool, error) {
	switch x := v.(type) {
	case string, bool, int64:
		return x, true, nil
	case int:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint:
		return fromUint(uint64(x))
	case uint64:
		return fromUint(x)
	case float32:
		return fromFloat(float64(x))
	case float64:
		return fromFloat(x)
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, true, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, true, fmt.Errorf("%w: number %q: %v", ErrInvalid, string(x), err)
		}
		return fromFloat(f)
	case time.Time:
		u := x.UTC()
		if u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0 {
			return u.Format(time.DateOnly), true, nil
		}
		return x.Format(time.RFC3339Nano), true, nil
	}
	return nil, false, nil
}

func fromUint(u uint64) (any, bool, error) {
	if u > math.MaxInt64 {
		return nil, true, fmt.Errorf("%w: integer %d overflows int64", ErrInvalid, u)
	}
	return int64(u), true, nil
}

func fromFloat(f float64) (any, bool, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, true, fmt.Errorf("%w: number %v is not finite", ErrInvalid, f)
	}
	return f, true, nil
}
