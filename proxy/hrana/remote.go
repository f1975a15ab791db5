package hrana

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/rawsqlite"
	"github.com/microfi/tenantgate/shard/remote"
	"github.com/microfi/tenantgate/shard/sqlcheck"
)

// SQL for a tenant whose database is on a libSQL server is forwarded to
// that server over Hrana HTTP (shard/remote), after the same checks as a
// local tenant's: the proxy has already checked host, token, role and
// limits; here every statement is compiled against a copy of the
// tenant's schema under the SQL engine's authorizer (shard/sqlcheck), and
// only what a local tenant may run is sent. A refused statement never
// reaches the server: its error is the local one. The client's stream is
// an ordinary stream of this Handler (its baton bound to tenant and
// principal); the server's baton stays inside remote.Stream. Stored SQL
// (store_sql) is kept here and sent as text, so every statement the
// server runs was checked as text.

// remoteState is the Handler's state for remote tenants.
type remoteState struct {
	checker *sqlcheck.Checker
	schemas *lru.Cache[int64, *sqlcheck.Schema] // tenant id → last schema seen
	wg      sync.WaitGroup                      // server streams being closed

	roundTrips   map[string]prometheus.Counter
	tripDuration prometheus.Observer
	schemaLoads  prometheus.Counter
}

func newRemoteState(reg prometheus.Registerer) *remoteState {
	f := promauto.With(reg)
	trips := f.NewCounterVec(prometheus.CounterOpts{
		Name: "tenantgate_hrana_remote_round_trips_total",
		Help: "Hrana requests forwarded to remote tenants' libSQL servers, by outcome (ok, error: unreachable, refused or not Hrana).",
	}, []string{"outcome"})
	rs := &remoteState{
		checker:    sqlcheck.New(sqlcheck.Config{}),
		roundTrips: map[string]prometheus.Counter{},
		tripDuration: f.NewHistogram(prometheus.HistogramOpts{
			Name:    "tenantgate_hrana_remote_round_trip_duration_seconds",
			Help:    "Time of one Hrana round trip to a remote tenant's libSQL server (a cursor: until its head).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		schemaLoads: f.NewCounter(prometheus.CounterOpts{
			Name: "tenantgate_hrana_remote_schema_loads_total",
			Help: "Schemas read from remote tenants' servers to check their SQL (on first use, after a schema change, or when a statement did not compile against the copy).",
		}),
	}
	for _, o := range []string{"ok", "error"} {
		rs.roundTrips[o] = trips.WithLabelValues(o)
	}
	rs.schemas, _ = lru.New[int64, *sqlcheck.Schema](16384)
	return rs
}

// trip records one round trip.
func (rs *remoteState) trip(start time.Time, err error) {
	rs.tripDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		rs.roundTrips["error"].Inc()
		return
	}
	rs.roundTrips["ok"].Inc()
}

// acquireRemote makes a new stream on a remote tenant's database (db is
// already retained, the slot reserved).
func (h *Handler) acquireRemote(t Target, db *shard.Handle) (*stream, error) {
	c, err := db.Hrana()
	if err != nil {
		return nil, err
	}
	st := &stream{tenantID: t.TenantID, principal: t.Principal, db: db, rs: c.Stream(), readOnly: t.ReadOnly, lastUsed: time.Now()}
	st.mu.Lock()
	return st, nil
}

// closeRemote ends a released stream's server stream in the background
// (rolling back its transaction there), bounded in time.
func (h *Handler) closeRemote(rs *remote.Stream) {
	if !rs.Open() {
		return
	}
	h.remote.wg.Add(1)
	go func() {
		defer h.remote.wg.Done()
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rs.Close(c); err != nil {
			h.cfg.Logger.Debug("hrana: closing a remote stream", "err", err)
		}
	}()
}

// schema returns the tenant's schema, from the cache or read on the
// stream (fresh: its own uncommitted and temp objects included).
func (r *run) schema(c context.Context, fresh bool) (*sqlcheck.Schema, error) {
	rs := r.h.remote
	if !fresh {
		if s, ok := rs.schemas.Get(r.st.tenantID); ok {
			return s, nil
		}
		// Read when the database was opened, in the open's one round
		// trip: a cold tenant's first statements cost no read of their own.
		if s := r.st.db.RemoteSchema(); s != nil {
			rs.schemas.Add(r.st.tenantID, s)
			return s, nil
		}
	}
	rs.schemaLoads.Inc()
	req := appendStmtJSON([]byte(`{"type":"execute","stmt":`), sqlcheck.Query, nil)
	req = append(req, '}')
	start := time.Now()
	wasOpen := r.st.rs.Open()
	results, err := r.st.rs.Pipeline(c, []json.RawMessage{req})
	rs.trip(start, err)
	if err != nil {
		return nil, err
	}
	if !wasOpen && !r.st.rs.Open() {
		// A server without streams (batons) closed it at once: the
		// client's statements go on a new one, as they would anyway.
		r.st.rs = r.st.rs.Renew()
	}
	if results[0].Type != "ok" {
		msg := "no result"
		if results[0].Error != nil {
			msg = results[0].Error.Message
		}
		return nil, errors.New("reading the tenant's schema: " + msg)
	}
	var resp struct {
		Result wireStmtResult `json:"result"`
	}
	if err := json.Unmarshal(results[0].Response, &resp); err != nil {
		return nil, err
	}
	objs := make([]sqlcheck.Object, 0, len(resp.Result.Rows))
	for _, row := range resp.Result.Rows {
		if len(row) != 5 {
			return nil, errors.New("reading the tenant's schema: unexpected columns")
		}
		objs = append(objs, sqlcheck.Object{Temp: row[0].Int == 1, Type: row[1].Text, Name: row[2].Text, Table: row[3].Text, SQL: row[4].Text})
	}
	s := sqlcheck.NewSchema(objs)
	rs.schemas.Add(r.st.tenantID, s)
	return s, nil
}

// refusal turns a check failure into the statement's error, as a local
// tenant would get it.
func (r *run) refusal(err error) *hranaError {
	switch {
	case errors.Is(err, sqlcheck.ErrNoStatement):
		return errf(codeNoStatement, "SQL string does not contain any statement")
	case errors.Is(err, sqlcheck.ErrManyStatements):
		return errf(codeManyStatements, "SQL string contains more than one statement")
	}
	return r.sqlError(err)
}

// stale reports whether a check failed only because the copy of the
// schema may be out of date (a compile error other than a refusal).
func stale(err error) bool {
	var se *rawsqlite.Error
	return errors.As(err, &se) && se.Primary() == 1 // SQLITE_ERROR: no such table/column, syntax
}

// wireStmtResult decodes a server's statement result.
type wireStmtResult struct {
	Cols []struct {
		Name     string  `json:"name"`
		Decltype *string `json:"decltype"`
	} `json:"cols"`
	Rows            [][]value       `json:"rows"`
	AffectedRows    int64           `json:"affected_row_count"`
	LastInsertRowid json.RawMessage `json:"last_insert_rowid"`
}

// toResult converts a server result, charging it to the run's budgets as
// a local result is charged; what does not fit is RESPONSE_TOO_LARGE.
func (r *run) toResult(w *wireStmtResult) (*stmtResult, *hranaError) {
	res := &stmtResult{Cols: make([]col, len(w.Cols)), Rows: w.Rows, AffectedRows: w.AffectedRows}
	for i, c := range w.Cols {
		res.Cols[i] = col{Name: c.Name, Decltype: c.Decltype}
	}
	if res.Rows == nil {
		res.Rows = [][]value{}
	}
	if id, ok := rowid(w.LastInsertRowid); ok {
		res.LastInsertRowid = &id
	}
	rowsLeft, charged := r.rowsLeft, r.charged
	size := colsSize(res.Cols)
	for _, row := range res.Rows {
		size += rowOverhead
		for j := range row {
			size += valueSize(&row[j])
		}
	}
	r.rowsLeft -= len(res.Rows)
	if r.rowsLeft < 0 && !r.noRowCap {
		r.rowsLeft = rowsLeft
		r.h.metrics.errors("limit").Inc()
		return nil, errf(codeTooLarge, "response has too many rows (limit %d)", r.lim.MaxRowsPerResponse)
	}
	if !r.charge(size) {
		r.rowsLeft = rowsLeft
		r.refund(r.charged - charged)
		return nil, r.tooLarge()
	}
	return res, nil
}

// rowid reads last_insert_rowid: a decimal string (Hrana), a number, or
// null.
func rowid(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var v value
	if err := v.UnmarshalJSON([]byte(`{"type":"integer","value":` + string(raw) + `}`)); err != nil {
		return 0, false
	}
	return v.Int, true
}

// serverError is a server's error object as the client's.
func serverError(e *remote.ErrorObject) *hranaError {
	if e == nil {
		return errf("UNKNOWN", "the tenant's server returned an error without a message")
	}
	code := e.Code
	if code == "" {
		code = "UNKNOWN"
	}
	return &hranaError{Message: e.Message, Code: code}
}

// forwardHTTP forwards an HTTP pipeline's requests within the request's
// SQL time.
func (h *Handler) forwardHTTP(r *run, reqs []streamReq) ([]streamResult, error) {
	c, cancel := context.WithDeadline(context.Background(), r.deadline)
	defer cancel()
	return r.forward(c, reqs)
}

// remoteError answers a request whose round trip to the tenant's server
// failed, and ends the stream (the server's stream is lost with it).
func (h *Handler) remoteError(ctx *fasthttp.RequestCtx, st *stream, r *run, err error) {
	r.release()
	var se *remote.ServerError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		h.metrics.errors("timeout").Inc()
		h.release(st, errStreamClosed)
		writeError(ctx, fasthttp.StatusBadRequest, codeRequestTimeout,
			"the request ran out of time on the tenant's server (limit "+h.cfg.RequestTimeout.String()+"); its stream was closed")
	case errors.As(err, &se) && se.Status == fasthttp.StatusBadRequest && se.Code != "":
		// The server ended its stream (expired, say): the client's stream
		// ends the same way, with the server's code.
		h.metrics.errors("expired").Inc()
		h.release(st, errExpired)
		writeError(ctx, fasthttp.StatusBadRequest, se.Code, se.Message)
	default:
		// Unreachable, our credential refused, or not Hrana: the tenant
		// cannot be served (the operator's problem, logged).
		h.metrics.errors("unavailable").Inc()
		h.cfg.Logger.Error("hrana: remote tenant's server", "tenant", st.tenantID, "err", err)
		h.release(st, errStreamClosed)
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "TENANT_UNAVAILABLE", errUnavailable.Error())
	}
}
