package hrana

import (
	"errors"
	"fmt"
	"time"
)

// DefaultMaxSnapshotAge bounds how long a stream may keep a transaction
// (and so a read snapshot) open across requests.
const DefaultMaxSnapshotAge = 30 * time.Second

// codeSnapshotTooOld is the error of a stream cut off for holding its
// snapshot too long.
const codeSnapshotTooOld = "SNAPSHOT_TOO_OLD"

// errSnapshotTooOld ends a stream whose transaction outlived
// MaxSnapshotAge. A reader holding a snapshot keeps every later WAL frame
// from being checkpointed: one read-only stream with a keepalive grew a
// tenant's WAL to 135 MB in 5 s of normal postings (issue 14).
var errSnapshotTooOld = errors.New("snapshot too old")

// snapshotError is what a client of a stream cut off by the limit gets.
func (h *Handler) snapshotError() string {
	return fmt.Sprintf("The stream was closed and its transaction rolled back: it held a transaction (a read snapshot) open longer than %v, "+
		"which keeps the tenant's WAL from being checkpointed; keep transactions short and begin a new one on a new stream", h.cfg.MaxSnapshotAge)
}

// noteRequestStart records when a request began on a stream with no
// transaction open: if the request leaves one open, it began then.
func (st *stream) noteRequestStart(now time.Time) {
	if st.txSince.IsZero() {
		st.reqStart = now
	}
}

// noteTx records, after a request, whether the stream's connection holds
// a transaction open and since when.
func (st *stream) noteTx() {
	switch {
	case st.conn == nil || st.conn.Autocommit():
		st.txSince = time.Time{}
	case st.txSince.IsZero():
		st.txSince = st.reqStart
	}
}

// snapshotHolders returns, locked, the streams (WebSocket ones included)
// whose transaction has been open since before cutoff. Streams running a
// request are skipped: a request is bounded by RequestTimeout, and its
// stream is checked again once it ends.
func (s *streams) snapshotHolders(cutoff time.Time) []*stream {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*stream
	for _, st := range s.open {
		if st.mu.TryLock() {
			if !st.closed && !st.txSince.IsZero() && st.txSince.Before(cutoff) {
				out = append(out, st) // returned locked
				continue
			}
			st.mu.Unlock()
		}
	}
	return out
}

// cutSnapshots closes the streams holding a snapshot past the limit.
func (h *Handler) cutSnapshots(now time.Time) {
	for _, st := range h.streams.snapshotHolders(now.Add(-h.cfg.MaxSnapshotAge)) {
		h.metrics.snapshotCuts.Inc()
		h.release(st, errSnapshotTooOld)
	}
}
