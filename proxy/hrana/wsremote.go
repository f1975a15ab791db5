package hrana

import (
	"context"
	"errors"

	"github.com/microfi/tenantgate/shard/remote"
)

// remoteRequest runs one WebSocket request on a remote tenant's stream
// (st locked): one round trip to the server per request. A cursor runs as
// a batch whose entries are kept for fetch_cursor, as for a local tenant.
func (s *wsSession) remoteRequest(r *run, st *stream, req *streamReq) streamResult {
	res := streamResult{Type: req.Type}
	fwd := *req
	if req.Type == "open_cursor" {
		if _, ok := s.cursors[req.CursorID]; ok {
			res.Err = errf("CURSOR_EXISTS", "cursor %d is already open", req.CursorID)
			return res
		}
		r.noRowCap = true
		fwd = streamReq{Type: "batch", Batch: req.Batch}
	}
	c, cancel := context.WithDeadline(context.Background(), r.deadline)
	defer cancel()
	results, err := r.forward(c, []streamReq{fwd})
	if err != nil {
		// The server's stream is gone with the round trip: so is this one.
		s.h.release(st, errStreamClosed)
		st.mu.Lock() // the caller unlocks
		res.Err = remoteErrorObject(err)
		s.h.metrics.errors("unavailable").Inc()
		s.h.cfg.Logger.Warn("hrana: remote tenant's server (WebSocket)", "tenant", st.tenantID, "err", err)
		return res
	}
	if req.Type != "open_cursor" {
		out := results[0]
		out.Type = req.Type
		return out
	}
	cur := &wsCursor{}
	if b := results[0].Batch; b != nil {
		for i := range b.StepResults {
			if b.StepResults[i] != nil || b.StepErrors[i] != nil {
				cur.entries = appendCursorEntries(cur.entries, i, b.StepResults[i], b.StepErrors[i])
			}
		}
	} else if results[0].Err != nil {
		res.Err = results[0].Err
		return res
	}
	s.cursors[req.CursorID] = cur
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
