package hrana

import (
	"bytes"
	"encoding/base64"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// Response budget. Every byte a response will hold is charged before it is
// produced: rows, column names, error messages (which may echo the SQL) and
// the fixed framing of each entry. The framing of every entry the request
// can produce is reserved up front (entryOverhead each), so however a
// pipeline is shaped — ten thousand failing steps that each echo a stored
// 5 KiB statement, say — its response stays under MaxResponseBytes. What a
// statement cannot fit becomes a short RESPONSE_TOO_LARGE error, which the
// reserve pays for.
//
// The bytes charged also come out of the Handler's MaxTotalResponseBytes,
// and stay out until the response has been written to the client: clients
// that never read cannot make the server hold more than that in total (and
// a stream holds at most one response: its next request needs the baton
// inside this one).
const (
	entryOverhead    = 256 // framing of one result or batch step, a short error included
	envelopeOverhead = 512 // {"baton":…,"base_url":…,"results":[…]}
	rowOverhead      = 24  // "[…]," in a pipeline; {"type":"row","row":…}\n on a cursor
)

// entries counts the results and batch steps a pipeline answers with.
func entries(reqs []streamReq) int {
	n := len(reqs)
	for i := range reqs {
		if reqs[i].Batch != nil {
			n += len(reqs[i].Batch.Steps)
		}
	}
	return n
}

// memBudget is the Handler-wide cap on response bytes held at once.
type memBudget struct {
	limit int64
	used  atomic.Int64
}

func (m *memBudget) take(n int) bool {
	if m.used.Add(int64(n)) > m.limit {
		m.used.Add(-int64(n))
		return false
	}
	return true
}

func (m *memBudget) give(n int) { m.used.Add(-int64(n)) }

// charge takes n bytes from the request's budget and the Handler's. It
// reports false, taking nothing, when either is short.
func (r *run) charge(n int) bool {
	if n > r.bytesLeft || !r.h.mem.take(n) {
		return false
	}
	r.bytesLeft -= n
	r.charged += n
	return true
}

// refund gives back bytes charged for output that was dropped.
func (r *run) refund(n int) {
	r.bytesLeft += n
	r.charged -= n
	r.h.mem.give(n)
}

// tooLarge is the error that replaces what did not fit.
func (r *run) tooLarge() *hranaError {
	r.h.metrics.errors("limit").Inc()
	return errf(codeTooLarge, "response is too large (limit %d bytes)", r.lim.MaxResponseBytes)
}

// chargeErr charges an error's text; one that does not fit is replaced by
// the (reserved) RESPONSE_TOO_LARGE error.
func (r *run) chargeErr(e *hranaError) *hranaError {
	if e == nil || e.Code == codeTooLarge {
		return e
	}
	if !r.charge(jsonStringSize(e.Message) + jsonStringSize(e.Code)) {
		return r.tooLarge()
	}
	return e
}

// respond sets the response body and keeps its bytes charged to the
// Handler's budget until fasthttp has written (or dropped) it.
func (r *run) respond(ctx *fasthttp.RequestCtx, contentType string, body []byte) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(contentType)
	if r.charged == 0 {
		ctx.SetBody(body)
		return
	}
	held := &heldBody{Reader: bytes.NewReader(body), release: func(n int) func() {
		return func() { r.h.mem.give(n) }
	}(r.charged)}
	r.charged = 0
	ctx.SetBodyStream(held, len(body))
}

// release returns a run's charge when no response will carry it.
func (r *run) release() {
	if r.charged > 0 {
		r.h.mem.give(r.charged)
		r.charged = 0
	}
}

// heldBody is a response body whose budget is returned when fasthttp closes
// it: after writing it, or when the connection is gone.
type heldBody struct {
	*bytes.Reader
	once    sync.Once
	release func()
}

func (b *heldBody) Close() error {
	b.once.Do(b.release)
	return nil
}

// Encoded sizes, matching encode.go.

// jsonStringSize is the length of appendString(nil, s).
func jsonStringSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				n++
			case c == '"', c == '\\', c == '\n', c == '\r', c == '\t':
				n += 2
			default:
				n += 6
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// valueSize bounds the encoded size of a value, its separator included.
func valueSize(v *value) int {
	switch v.Type {
	case typeInteger, typeFloat:
		return 52
	case typeText:
		return 26 + jsonStringSize(v.Text)
	case typeBlob:
		return 30 + base64.RawStdEncoding.EncodedLen(len(v.Blob))
	default:
		return 17
	}
}

// colsSize is the encoded size of a column list.
func colsSize(cols []col) int {
	n := 2
	for i := range cols {
		n += 28 + jsonStringSize(cols[i].Name)
		if cols[i].Decltype != nil {
			n += jsonStringSize(*cols[i].Decltype)
		}
	}
	return n
}

// describeSize is the encoded size of a describe result beyond its framing.
func describeSize(d *describeResult) int {
	n := colsSize(d.Cols)
	for _, p := range d.Params {
		n += 12
		if p != nil {
			n += jsonStringSize(*p)
		}
	}
	return n
}
