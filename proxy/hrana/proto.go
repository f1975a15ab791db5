package hrana

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Wire types of Hrana over HTTP (JSON), decoded leniently: unknown fields
// are ignored, as the spec requires for forward compatibility. Responses are
// encoded by hand (encode.go) so that integers are decimal strings, blobs
// unpadded base64, and no zero value is ever omitted.

// pipelineReq is the body of POST /v2/pipeline and /v3/pipeline.
type pipelineReq struct {
	Baton    *string     `json:"baton"`
	Requests []streamReq `json:"requests"`
}

// cursorReq is the body of POST /v3/cursor.
type cursorReq struct {
	Baton *string `json:"baton"`
	Batch *batch  `json:"batch"`
}

// streamReq is one request of a pipeline.
type streamReq struct {
	Type  string  `json:"type"`
	Stmt  *stmt   `json:"stmt"`
	Batch *batch  `json:"batch"`
	SQL   *string `json:"sql"`
	SQLID *int32  `json:"sql_id"`

	// Hrana over WebSocket only: requests name their stream and cursor.
	StreamID int32   `json:"stream_id"`
	CursorID int32   `json:"cursor_id"`
	MaxCount *uint32 `json:"max_count"`
}

// stmt is a statement with its arguments.
type stmt struct {
	SQL       *string    `json:"sql"`
	SQLID     *int32     `json:"sql_id"`
	Args      []value    `json:"args"`
	NamedArgs []namedArg `json:"named_args"`
	WantRows  *bool      `json:"want_rows"` // nil means true
}

type namedArg struct {
	Name  string `json:"name"`
	Value value  `json:"value"`
}

type batch struct {
	Steps []batchStep `json:"steps"`
}

type batchStep struct {
	Condition *batchCond `json:"condition"`
	Stmt      stmt       `json:"stmt"`
}

type batchCond struct {
	Type  string      `json:"type"`
	Step  *uint32     `json:"step"`
	Cond  *batchCond  `json:"cond"`
	Conds []batchCond `json:"conds"`
}

// valueType is a Hrana value's type, matching SQLite's storage classes.
type valueType uint8

const (
	typeNull valueType = iota
	typeInteger
	typeFloat
	typeText
	typeBlob
)

// value is one SQL value.
type value struct {
	Type  valueType
	Int   int64
	Float float64
	Text  string
	Blob  []byte
}

// UnmarshalJSON decodes a Hrana value exactly: integers from decimal
// strings (never through float64), blobs from padded or unpadded base64.
func (v *value) UnmarshalJSON(b []byte) error {
	if fastValue(b, v) {
		return nil
	}
	var raw struct {
		Type   string          `json:"type"`
		Value  json.RawMessage `json:"value"`
		Base64 *string         `json:"base64"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	switch raw.Type {
	case "null":
		*v = value{Type: typeNull}
	case "integer":
		s, err := integerText(raw.Value)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("integer value %q is not a 64-bit integer", s)
		}
		*v = value{Type: typeInteger, Int: n}
	case "float":
		var f float64
		if len(raw.Value) == 0 {
			return fmt.Errorf("float value is missing")
		}
		if err := json.Unmarshal(raw.Value, &f); err != nil {
			return fmt.Errorf("float value: %w", err)
		}
		*v = value{Type: typeFloat, Float: f}
	case "text":
		var s string
		if len(raw.Value) == 0 {
			return fmt.Errorf("text value is missing")
		}
		if err := json.Unmarshal(raw.Value, &s); err != nil {
			return fmt.Errorf("text value: %w", err)
		}
		*v = value{Type: typeText, Text: s}
	case "blob":
		if raw.Base64 == nil {
			return fmt.Errorf("blob value is missing base64")
		}
		data, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(*raw.Base64, "="))
		if err != nil {
			return fmt.Errorf("blob value: %w", err)
		}
		if data == nil {
			data = []byte{}
		}
		*v = value{Type: typeBlob, Blob: data}
	default:
		return fmt.Errorf("unknown value type %q", raw.Type)
	}
	return nil
}

// integerText returns the decimal text of an integer value, which clients
// send as a JSON string; a JSON number is accepted when it is an exact
// integer literal.
func integerText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", fmt.Errorf("integer value is missing")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("integer value: %w", err)
		}
		return s, nil
	}
	s := string(raw)
	if strings.ContainsAny(s, ".eE") {
		return "", fmt.Errorf("integer value %s is not an integer", s)
	}
	return s, nil
}

// hranaError is an error object: a per-request error or a batch step error.
type hranaError struct {
	Message string
	Code    string
}

// stmtResult is the result of one statement.
type stmtResult struct {
	Cols            []col
	Rows            [][]value
	AffectedRows    int64
	LastInsertRowid *int64
}

type col struct {
	Name     string
	Decltype *string
}

// batchResult has one entry per step in each array; a skipped step has nil
// in both.
type batchResult struct {
	StepResults []*stmtResult
	StepErrors  []*hranaError
}

// describeResult is the result of a describe request.
type describeResult struct {
	Params     []*string // nil name for a bare "?"
	Cols       []col
	IsExplain  bool
	IsReadonly bool
}

// streamResult is the outcome of one pipeline request.
type streamResult struct {
	Type string // request type, echoed as the response type
	Err  *hranaError

	Stmt         *stmtResult
	Batch        *batchResult
	Describe     *describeResult
	IsAutocommit bool

	Cursor     []cursorEntry // fetch_cursor (WebSocket)
	CursorDone bool
}

// fastValue decodes the common shapes clients send — {"type":"integer",
// "value":"N"}, {"type":"null"}, {"type":"float","value":N} and text
// without escapes — without a second reflective decode. Anything else
// (escapes, other key orders, unknown keys, blobs) returns false and takes
// the general path, so the result is the same either way.
func fastValue(b []byte, v *value) bool {
	const (
		pInt   = `{"type":"integer","value":"`
		pFloat = `{"type":"float","value":`
		pText  = `{"type":"text","value":"`
		pNull  = `{"type":"null"}`
	)
	s := string(b) // no copy needed for the comparisons below
	switch {
	case s == pNull:
		*v = value{Type: typeNull}
		return true
	case strings.HasPrefix(s, pInt) && strings.HasSuffix(s, `"}`):
		n, err := strconv.ParseInt(s[len(pInt):len(s)-2], 10, 64)
		if err != nil {
			return false
		}
		*v = value{Type: typeInteger, Int: n}
		return true
	case strings.HasPrefix(s, pFloat) && strings.HasSuffix(s, "}"):
		num := s[len(pFloat) : len(s)-1]
		if num == "" || strings.ContainsAny(num, "\\\" ") {
			return false
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return false
		}
		*v = value{Type: typeFloat, Float: f}
		return true
	case strings.HasPrefix(s, pText) && strings.HasSuffix(s, `"}`):
		t := s[len(pText) : len(s)-2]
		for i := 0; i < len(t); i++ {
			if c := t[i]; c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
				return false
			}
		}
		*v = value{Type: typeText, Text: strings.Clone(t)}
		return true
	}
	return false
}
