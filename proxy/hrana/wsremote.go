package hrana

import (
	"context"
	"errors"
	"time"

	"github.com/microfi/tenantgate/shard/remote"
)

// remoteRequest runs one WebSocket request on a remote tenant's stream
// (st locked): one round trip to the server per request. A cursor runs as
// a batch whose entries are kept for fetch_cursor, as for a local tenant.
func (s *wsSession) remoteRequest(r *run, st *stream, req *streamReq) streamResult {
	res := streamResult{Type: req.Type}
	c, cancel := context.WithDeadline(context.Background(), r.deadline)
	defer cancel()
	if req.Type == "open_cursor" {
		if _, ok := s.cursors[req.CursorID]; ok {
			res.Err = errf("CURSOR_EXISTS", "cursor %d is already open", req.CursorID)
			return res
		}
		r.noRowCap = true
		entries, err := s.remoteCursor(c, r, st, req.Batch)
		if err != nil {
			return s.lost(st, res, err)
		}
		s.cursors[req.CursorID] = &wsCursor{entries: entries}
		return res
	}
	results, err := r.forward(c, []streamReq{*req})
	if err != nil {
		return s.lost(st, res, err)
	}
	out := results[0]
	out.Type = req.Type
	return out
}

// remoteCursor runs a cursor on the server and keeps its entries.
func (s *wsSession) remoteCursor(c context.Context, r *run, st *stream, b *batch) ([]cursorEntry, error) {
	batchJSON, answers, verdicts, err := r.planCursor(c, b)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cur, err := st.rs.Cursor(c, batchJSON, r.lim.MaxResponseBytes)
	s.h.remote.trip(start, err)
	if errors.Is(err, remote.ErrNoCursor) {
		results, err := r.forward(c, []streamReq{{Type: "batch", Batch: b}})
		if err != nil {
			return nil, err
		}
		var entries []cursorEntry
		if bt := results[0].Batch; bt != nil {
			for i := range bt.StepResults {
				if bt.StepResults[i] != nil || bt.StepErrors[i] != nil {
					entries = appendCursorEntries(entries, i, bt.StepResults[i], bt.StepErrors[i])
				}
			}
		}
		return entries, nil
	}
	if err != nil {
		return nil, err
	}
	entries, _ := r.cursorEntries(cur, answers)
	cur.Close()
	for _, v := range verdicts {
		s.h.metrics.observe(v.ReadOnly, start)
		if v.SchemaChange {
			s.h.remote.schemas.Remove(st.tenantID)
		}
	}
	if !st.rs.Open() {
		st.closed = true
	}
	return entries, nil
}

// lost ends a stream whose server stream was lost with a failed round
// trip, answering the request with the failure.
func (s *wsSession) lost(st *stream, res streamResult, err error) streamResult {
	s.h.release(st, errStreamClosed)
	st.mu.Lock() // the caller unlocks
	res.Err = remoteErrorObject(err)
	s.h.metrics.errors("unavailable").Inc()
	s.h.cfg.Logger.Warn("hrana: remote tenant's server (WebSocket)", "tenant", st.tenantID, "err", err)
	return res
}

// remoteErrorObject is a failed round trip as a per-request error.
func remoteErrorObject(err error) *hranaError {
	var se *remote.ServerError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return errf(codeRequestTimeout, "the request ran out of time on the tenant's server; its stream was closed")
	case errors.As(err, &se) && se.Status == 400 && se.Code != "":
		return &hranaError{Code: se.Code, Message: se.Message}
	}
	return errf("TENANT_UNAVAILABLE", "%s", errUnavailable.Error())
}
