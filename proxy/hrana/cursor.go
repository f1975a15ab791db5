package hrana

import (
	"github.com/valyala/fasthttp"
)

// cursor serves POST /v3/cursor and /v3-protobuf/cursor: one batch whose
// results are written as a sequence of items (newline-terminated JSON, or
// length-delimited Protobuf): first the baton, then step_begin, row…,
// step_end or step_error per step. Skipped steps write nothing. The row cap
// does not apply (paging through large results is what a cursor is for);
// the response byte cap does.
func (h *Handler) cursor(ctx *fasthttp.RequestCtx, t Target, enc encoding) {
	req, err := enc.decodeCursor(ctx.PostBody())
	if err != nil {
		h.protocolError(ctx, "%s", enc.decodeError(err))
		return
	}
	if err := validateBatch(req.Batch, true); err != nil {
		h.protocolError(ctx, "%v", err)
		return
	}
	if n := len(req.Batch.Steps); n > h.cfg.MaxStatementsPerRequest {
		h.protocolError(ctx, "too many batch steps in one cursor: %d (limit %d)", n, h.cfg.MaxStatementsPerRequest)
		return
	}
	lim := h.limits(t.Limits)
	st, err := h.acquire(t, lim, req.Baton)
	if err != nil {
		h.acquireError(ctx, err, lim)
		return
	}
	if st.rs != nil {
		h.remoteCursor(ctx, st, req, enc, lim)
		return
	}
	r := h.newRun(st, true, len(req.Batch.Steps), lim)
	r.noRowCap = true
	defer h.recoverStream(ctx, st, r)
	var body []byte
	r.batch(req.Batch, func(step int, res *stmtResult, herr *hranaError) {
		body = appendCursorStep(body, enc, step, res, herr)
	})
	baton := h.finish(st)
	out := enc.appendCursorResp(make([]byte, 0, len(body)+96), baton)
	out = append(out, body...)
	contentType := contentProtobuf
	if enc == encJSON {
		contentType = "text/plain"
	}
	r.respond(ctx, contentType, out)
}

// appendCursorStep appends the entries of one executed batch step.
func appendCursorStep(b []byte, enc encoding, step int, res *stmtResult, herr *hranaError) []byte {
	if herr != nil {
		return enc.appendCursorItem(b, &cursorEntry{kind: 3, step: step, err: herr})
	}
	b = enc.appendCursorItem(b, &cursorEntry{kind: 1, step: step, cols: res.Cols})
	for _, row := range res.Rows {
		b = enc.appendCursorItem(b, &cursorEntry{kind: 4, row: row})
	}
	return enc.appendCursorItem(b, &cursorEntry{kind: 2, res: res})
}
