package hrana

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/shard/remote"
	"github.com/microfi/tenantgate/shard/sqlcheck"
)

// remoteCursor serves /v3/cursor for a remote tenant: the checked batch
// is opened as a cursor on the tenant's server and its entries are
// re-encoded to the client as they arrive, one at a time (memory is one
// entry, not the response); the response byte cap applies as for a local
// cursor. The stream stays locked until the cursor has been written.
func (h *Handler) remoteCursor(ctx *fasthttp.RequestCtx, st *stream, req cursorReq, enc encoding, lim Limits) {
	r := h.newRun(st, true, len(req.Batch.Steps), lim)
	r.noRowCap = true
	c, cancel := context.WithDeadline(context.Background(), r.deadline)
	batchJSON, answers, verdicts, err := r.planCursor(c, req.Batch)
	if err != nil {
		cancel()
		h.remoteError(ctx, st, r, err)
		return
	}
	start := time.Now()
	cur, err := st.rs.Cursor(c, batchJSON, r.lim.MaxResponseBytes)
	h.remote.trip(start, err)
	if errors.Is(err, remote.ErrNoCursor) {
		cancel()
		h.remoteCursorByBatch(ctx, st, r, req, enc)
		return
	}
	if err != nil {
		cancel()
		h.remoteError(ctx, st, r, err)
		return
	}
	baton := h.hold(st)
	contentType := contentProtobuf
	if enc == encJSON {
		contentType = "text/plain"
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(contentType)
	// fasthttp calls the writer once it writes the response; should it
	// never (the client went away first), the guard gives the stream
	// back after the request's time.
	var done atomic.Bool
	finish := func(pumped bool) {
		if !done.CompareAndSwap(false, true) {
			return
		}
		cancel()
		cur.Close()
		for _, v := range verdicts {
			h.metrics.observe(v.ReadOnly, start)
			if v.SchemaChange {
				h.remote.schemas.Remove(st.tenantID)
			}
		}
		if !pumped || !st.rs.Open() {
			h.release(st, errStreamClosed)
			return
		}
		st.lastUsed = time.Now()
		st.mu.Unlock()
	}
	guard := time.AfterFunc(time.Until(r.deadline)+5*time.Second, func() { finish(false) })
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		if !guard.Stop() {
			return // the guard gave the stream back already
		}
		finish(h.pump(w, r, cur, enc, baton, answers))
	})
}

// planCursor checks a cursor's batch (reading the schema again once if a
// step did not compile against the copy).
func (r *run) planCursor(c context.Context, b *batch) (json.RawMessage, map[int]stepAnswer, []sqlcheck.Verdict, error) {
	stmtsLeft := r.stmtsLeft
	for fresh := false; ; fresh = true {
		schema, err := r.schema(c, fresh)
		if err != nil {
			return nil, nil, nil, err
		}
		stale := false
		sess := r.h.remote.checker.Session(schema, r.st.readOnly)
		body, answers, verdicts := r.planBatch(b, r.checker(sess, &stale))
		sess.Release()
		if !stale || fresh {
			return body, answers, verdicts, nil
		}
		r.stmtsLeft = stmtsLeft
	}
}

// hold gives a stream its next baton but keeps it locked (for a response
// written after the handler returns).
func (h *Handler) hold(st *stream) string {
	if st.id == 0 {
		h.streams.register(st)
		h.watch(st.db.Done())
	}
	st.seq++
	return h.streams.baton(st)
}

// wireEntry is one cursor entry from the server.
type wireEntry struct {
	Type string `json:"type"`
	Step int    `json:"step"`
	Cols []struct {
		Name     string  `json:"name"`
		Decltype *string `json:"decltype"`
	} `json:"cols"`
	Row             []value             `json:"row"`
	AffectedRows    int64               `json:"affected_row_count"`
	LastInsertRowid json.RawMessage     `json:"last_insert_rowid"`
	Error           *remote.ErrorObject `json:"error"`
}

// pump copies the server's cursor entries to w in the client's encoding.
// It reports false when the cursor could not be read to its end (the
// server's stream is then lost).
func (h *Handler) pump(w *bufio.Writer, r *run, cur *remote.Cursor, enc encoding, baton string, answers map[int]stepAnswer) bool {
	buf := enc.appendCursorResp(make([]byte, 0, 4096), baton)
	if _, err := w.Write(buf); err != nil {
		return false
	}
	written := len(buf)
	step := -1
	emit := func(e *cursorEntry) bool {
		buf = enc.appendCursorItem(buf[:0], e)
		if written+len(buf) > r.lim.MaxResponseBytes-entryOverhead || !h.mem.take(len(buf)) {
			return false
		}
		written += len(buf)
		_, err := w.Write(buf)
		h.mem.give(len(buf))
		return err == nil
	}
	tooLarge := func() {
		buf = enc.appendCursorItem(buf[:0], &cursorEntry{kind: 3, step: max(step, 0), err: r.tooLarge()})
		w.Write(buf)
		w.Flush()
	}
	for {
		line, err := cur.Next()
		if errors.Is(err, io.EOF) {
			return w.Flush() == nil
		}
		if err != nil {
			h.cfg.Logger.Warn("hrana: remote cursor", "tenant", r.st.tenantID, "err", err)
			if errors.Is(err, remote.ErrTooLarge) {
				tooLarge()
			} else {
				buf = enc.appendCursorItem(buf[:0], &cursorEntry{kind: 3, step: max(step, 0), err: errf("TENANT_UNAVAILABLE", "the tenant's server ended the cursor early")})
				w.Write(buf)
				w.Flush()
			}
			return false
		}
		e, ok, err := decodeEntry(line, answers, &step)
		if err != nil {
			h.cfg.Logger.Warn("hrana: remote cursor entry", "tenant", r.st.tenantID, "err", err)
			return false
		}
		if !ok {
			continue // a newer entry type this proxy does not know
		}
		if !emit(&e) {
			tooLarge()
			return false
		}
	}
}

// remoteCursorByBatch serves a cursor on a server without cursors
// (Hrana 2): the batch runs as a pipeline request and its results are
// written as cursor entries, under the same byte cap.
func (h *Handler) remoteCursorByBatch(ctx *fasthttp.RequestCtx, st *stream, r *run, req cursorReq, enc encoding) {
	r.stmtsLeft = h.cfg.MaxStatementsPerRequest
	results, err := h.forwardHTTP(r, []streamReq{{Type: "batch", Batch: req.Batch}})
	if err != nil {
		h.remoteError(ctx, st, r, err)
		return
	}
	var body []byte
	if b := results[0].Batch; b != nil {
		for i := range b.StepResults {
			if b.StepResults[i] != nil || b.StepErrors[i] != nil {
				body = appendCursorStep(body, enc, i, b.StepResults[i], b.StepErrors[i])
			}
		}
	}
	baton := h.finish(st)
	out := enc.appendCursorResp(make([]byte, 0, len(body)+96), baton)
	out = append(out, body...)
	contentType := contentProtobuf
	if enc == encJSON {
		contentType = "text/plain"
	}
	r.respond(ctx, contentType, out)
}

// decodeEntry decodes one server cursor entry into the client's, putting
// back the steps answered here; *step tracks the current step. ok is false
// for an entry type this proxy does not know (skipped).
func decodeEntry(line []byte, answers map[int]stepAnswer, step *int) (e cursorEntry, ok bool, err error) {
	var we wireEntry
	if err := json.Unmarshal(line, &we); err != nil {
		return e, false, err
	}
	switch we.Type {
	case "step_begin":
		*step = we.Step
		e = cursorEntry{kind: 1, step: we.Step, cols: make([]col, len(we.Cols))}
		for i, c := range we.Cols {
			e.cols[i] = col{Name: c.Name, Decltype: c.Decltype}
		}
		if a, ok := answers[we.Step]; ok && a.noop {
			e.cols = []col{}
		}
	case "row":
		e = cursorEntry{kind: 4, row: we.Row}
	case "step_end":
		res := &stmtResult{AffectedRows: we.AffectedRows}
		if id, ok := rowid(we.LastInsertRowid); ok {
			res.LastInsertRowid = &id
		}
		e = cursorEntry{kind: 2, res: res}
	case "step_error":
		*step = we.Step
		herr := serverError(we.Error)
		if a, ok := answers[we.Step]; ok && a.err != nil {
			herr = a.err
		}
		e = cursorEntry{kind: 3, step: we.Step, err: herr}
	case "error":
		e = cursorEntry{kind: 3, step: max(*step, 0), err: serverError(we.Error)}
	default:
		return e, false, nil
	}
	return e, true, nil
}

// cursorEntries reads a whole server cursor into entries for a WebSocket
// cursor (fetched by the client in pages), charging each to the run's
// byte budget; what does not fit ends the cursor with RESPONSE_TOO_LARGE.
// It reports false when the cursor could not be read to its end.
func (r *run) cursorEntries(cur *remote.Cursor, answers map[int]stepAnswer) ([]cursorEntry, bool) {
	var out []cursorEntry
	step := -1
	for {
		line, err := cur.Next()
		if errors.Is(err, io.EOF) {
			return out, true
		}
		if err != nil {
			return append(out, cursorEntry{kind: 3, step: max(step, 0), err: errf("TENANT_UNAVAILABLE", "the tenant's server ended the cursor early")}), false
		}
		e, ok, err := decodeEntry(line, answers, &step)
		if err != nil {
			return append(out, cursorEntry{kind: 3, step: max(step, 0), err: errf("PROTOCOL_ERROR", "the tenant's server sent a cursor entry that does not decode")}), false
		}
		if !ok {
			continue
		}
		size := rowOverhead
		switch e.kind {
		case 1:
			size += colsSize(e.cols)
		case 3:
			size += jsonStringSize(e.err.Message) + jsonStringSize(e.err.Code)
		case 4:
			for j := range e.row {
				size += valueSize(&e.row[j])
			}
		}
		if !r.charge(size) {
			return append(out, cursorEntry{kind: 3, step: max(step, 0), err: r.tooLarge()}), false
		}
		out = append(out, e)
	}
}
