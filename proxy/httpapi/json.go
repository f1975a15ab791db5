// Package httpapi is what the edge and its handler packages (bankapi,
// adminapi, site) share: the routed tenant request, the error that carries
// its status, and strict JSON in and out. It imports no handler package
// and not proxy, so data flows one way: proxy → handlers → httpapi.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fasthttp"
)

// MaxJSONBody caps API request bodies; Hrana has its own, larger cap.
const MaxJSONBody = 64 << 10

var contentTypeJSON = []byte("application/json")

// WriteJSON answers with v as JSON.
func WriteJSON(ctx *fasthttp.RequestCtx, status int, v any) {
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

// DecodeJSON strictly decodes the request body into v with a strict
// decoder (go-json-experiment/json): one JSON object, names matched
// exactly (case-sensitive), no unknown or duplicate names, valid UTF-8, no
// trailing data, at most MaxJSONBody bytes. Failures are 400s that say what
// is wrong.
func DecodeJSON(ctx *fasthttp.RequestCtx, v any) error {
	body := ctx.PostBody()
	if len(body) > MaxJSONBody {
		// A validation error like any other bad input (issue 4 asks for 400).
		return BadRequest(fmt.Sprintf("Request body too large (limit %d bytes)", MaxJSONBody), nil)
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || trimmed[0] != '{' {
		return BadRequest("Request body must be a JSON object", nil)
	}
	if err := jsonv2.Unmarshal(body, v, jsonv2.RejectUnknownMembers(true)); err != nil {
		msg, field, problem := describeJSONError(err)
		return BadRequest(msg, fieldMap(field, problem))
	}
	return nil
}

// describeJSONError says what is wrong with a body, from the decoder's
// typed errors, and, when one field is at fault, which and how (the README
// promises "fields" then).
func describeJSONError(err error) (msg, field, problem string) {
	var syn *jsontext.SyntacticError
	var sem *jsonv2.SemanticError
	switch {
	case errors.As(err, &syn) && errors.Is(err, jsontext.ErrDuplicateName):
		name := fieldName(syn.JSONPointer)
		return fmt.Sprintf("Duplicate field %q", name), name, "is given more than once"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "Invalid JSON: unexpected end of input", "", ""
	case errors.As(err, &syn):
		return fmt.Sprintf("Invalid JSON at byte %d", syn.ByteOffset), "", ""
	case errors.As(err, &sem) && errors.Is(err, jsonv2.ErrUnknownName):
		name := fieldName(sem.JSONPointer)
		return fmt.Sprintf("Unknown field %q", name), name, "is not a field of this request"
	case errors.As(err, &sem) && sem.GoType != nil && sem.JSONPointer != "":
		name, kind := fieldName(sem.JSONPointer), jsonKind(sem.GoType.Kind().String())
		return fmt.Sprintf("Field %q must be %s", name, kind), name, "must be " + kind
	case errors.As(err, &sem) && sem.JSONPointer == "":
		return "Request body must be a JSON object", "", ""
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

// fieldName is the path of a JSON pointer without its leading slash
// ("/owner/name" → "owner.name").
func fieldName(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
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
