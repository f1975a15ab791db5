package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// MaxJSONBody caps API request bodies; Hrana has its own, larger cap.
const MaxJSONBody = 64 << 10

var contentTypeJSON = []byte("application/json")

// writeJSON answers with v as JSON.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.SetStatusCode(status)
	enc := json.NewEncoder(ctx)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		ctx.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":"Internal error"}`)
	}
}

// decodeJSON strictly decodes the request body into v: one JSON object, no
// unknown fields, no trailing data, at most MaxJSONBody bytes. Failures are
// 400s that say what is wrong.
func decodeJSON(ctx *fasthttp.RequestCtx, v any) error {
	body := ctx.PostBody()
	if len(body) > MaxJSONBody {
		// A validation error like any other bad input (issue 4 asks for 400).
		return badRequest(fmt.Sprintf("Request body too large (limit %d bytes)", MaxJSONBody), nil)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("Request body must be a JSON object", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg, field, problem := describeJSONError(err)
		return badRequest(msg, fieldMap(field, problem))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("Request body must contain a single JSON object", nil)
	}
	return exactFields(body, v)
}

// exactFields refuses what encoding/json quietly accepts in an object: a
// key that names a field only case-insensitively ("AMOUNT" for "amount"),
// and a key given twice (the last one would win). Either way the server
// would act on a value other readers of the body do not see.
func exactFields(body []byte, v any) error {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // null: nothing was set
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil // Decode already accepted the body
		}
		key, _ := tok.(string)
		if seen[key] {
			return badRequest(fmt.Sprintf("Duplicate field %q", key), fieldMap(key, "is given more than once"))
		}
		seen[key] = true
		if !hasJSONField(t, key) {
			return badRequest(fmt.Sprintf("Unknown field %q", key), fieldMap(key, "is not a field of this request"))
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return nil
}

// hasJSONField reports whether struct type t has a field encoded as key,
// matched exactly.
func hasJSONField(t reflect.Type, key string) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			if hasJSONField(f.Type, key) {
				return true
			}
		case !f.IsExported() || name == "-":
		case name == key, name == "" && f.Name == key:
			return true
		}
	}
	return false
}

// describeJSONError says what is wrong with a body and, when one field is
// at fault, which and how (the README promises "fields" then).
func describeJSONError(err error) (msg, field, problem string) {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("Invalid JSON at byte %d", syntax.Offset), "", ""
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return "Request body must be a JSON object", "", ""
		}
		kind := jsonKind(typeErr.Type.Kind().String())
		return fmt.Sprintf("Field %q must be %s", typeErr.Field, kind), typeErr.Field, "must be " + kind
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "Invalid JSON: unexpected end of input", "", ""
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fmt.Sprintf("Unknown field %q", name), name, "is not a field of this request"
	}
	return "Invalid JSON", "", ""
}

// fieldMap is the "fields" of a 400 about one field (nil for none).
func fieldMap(field, problem string) map[string]string {
	if field == "" {
		return nil
	}
	return map[string]string{field: problem}
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case k == "string":
		return "a string"
	case k == "bool":
		return "a boolean"
	case strings.HasPrefix(k, "float"):
		return "a number"
	}
	return "of another type"
}

func itoa(n int) string { return strconv.Itoa(n) }
