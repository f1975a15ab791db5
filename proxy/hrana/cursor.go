package hrana

import (
	"encoding/json"

	"github.com/valyala/fasthttp"
)

// cursor serves POST /v3/cursor: one batch whose results are written as
// newline-delimited JSON entries (step_begin, row…, step_end or
// step_error), after a first line carrying the baton. Every line ends with
// "\n", including the last. Skipped steps write nothing.
func (h *Handler) cursor(ctx *fasthttp.RequestCtx, t Target) {
	var req cursorReq
	if err := json.Unmarshal(ctx.PostBody(), &req); err != nil {
		h.protocolError(ctx, "Cannot deserialize client message from JSON: %v", err)
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
	st, err := h.acquire(t, req.Baton)
	if err != nil {
		h.acquireError(ctx, err)
		return
	}
	r := h.newRun(st, true, len(req.Batch.Steps))
	defer h.recoverStream(ctx, st, r)
	var body []byte
	r.batch(req.Batch, func(step int, res *stmtResult, herr *hranaError) {
		if herr != nil {
			body = append(body, `{"type":"step_error","step":`...)
			body = appendInt(body, step)
			body = append(body, `,"error":`...)
			body = appendError(body, herr)
			body = append(body, "}\n"...)
			return
		}
		body = append(body, `{"type":"step_begin","step":`...)
		body = appendInt(body, step)
		body = append(body, `,"cols":`...)
		body = appendCols(body, res.Cols)
		body = append(body, "}\n"...)
		for _, row := range res.Rows {
			body = append(body, `{"type":"row","row":`...)
			body = appendRow(body, row)
			body = append(body, "}\n"...)
		}
		body = append(body, `{"type":"step_end","affected_row_count":`...)
		body = appendInt(body, int(res.AffectedRows))
		body = append(body, `,"last_insert_rowid":`...)
		body = appendRowid(body, res.LastInsertRowid)
		body = append(body, "}\n"...)
	})
	baton := h.finish(st)
	out := make([]byte, 0, len(body)+96)
	out = append(out, `{"baton":`...)
	out = appendBaton(out, baton)
	out = append(out, `,"base_url":null}`+"\n"...)
	out = append(out, body...)
	r.respond(ctx, "text/plain", out)
}
