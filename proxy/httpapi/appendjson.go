package httpapi

import (
	"bytes"
	"encoding/json"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// bodyBuffers are the pooled buffers hot answers are appended into.
var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBody: a buffer grown past this is left to the GC rather than
// pinned in the pool.
const maxPooledBody = 64 << 10

// WriteJSONAppend answers with the JSON body appendBody appends to a pooled
// buffer, and a newline: what WriteJSON writes, without encoding/json's
// reflection on the hot path. appendBody must write exactly what
// encoding/json (HTML unescaped) would.
func WriteJSONAppend(ctx *fasthttp.RequestCtx, status int, appendBody func([]byte) []byte) {
	bp := bodyBuffers.Get().(*[]byte)
	b := append(appendBody((*bp)[:0]), '\n')
	ctx.Response.Header.SetContentTypeBytes(contentTypeJSON)
	ctx.SetStatusCode(status)
	ctx.SetBody(b)
	if cap(b) <= maxPooledBody {
		*bp = b
		bodyBuffers.Put(bp)
	}
}

// AppendJSONString appends s as a JSON string, as encoding/json writes it
// with HTML escaping off.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return appendJSONStringSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONStringSlow is AppendJSONString for text that needs escaping
// (control characters, quotes, invalid UTF-8, U+2028/U+2029): rare, so
// encoding/json itself writes it.
func appendJSONStringSlow(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil { // a string always encodes
		return append(b, `""`...)
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
