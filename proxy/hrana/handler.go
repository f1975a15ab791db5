// Package hrana serves libSQL's Hrana protocol over HTTP (v2 and v3, JSON)
// for one tenant database at a time, so unmodified libSQL clients
// (libsql-client-go, @libsql/client) use a tenant host as their database.
//
// The proxy authenticates the request, resolves the tenant and hands the
// request to Handler.Serve with a Target. Statements run on raw SQLite
// connections (shard/rawsqlite) that report exact storage classes and
// enforce the tenant safety policy. A stream (one held connection, so
// transactions span requests) is named by a baton bound to the tenant and
// the token subject; idle streams expire and roll back.
package hrana

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/fairshare"
)

// Defaults for Config fields left zero.
const (
	DefaultStreamIdleTimeout       = 10 * time.Second
	DefaultMaxStreamsPerTenant     = 64
	DefaultStatementTimeout        = 5 * time.Second
	DefaultRequestTimeout          = 30 * time.Second
	DefaultMaxStatementsPerRequest = 10000
	DefaultMaxRowsPerResponse      = 100000
	DefaultMaxResponseBytes        = 32 << 20
	DefaultMaxTotalResponseBytes   = 256 << 20
	DefaultMaxWSMessageBytes       = 8 << 20
	DefaultStreamQueueWait         = time.Second
	DefaultWSRecheckInterval       = time.Second
)

// Config tunes the Handler. Zero fields take the defaults above.
type Config struct {
	// StreamIdleTimeout closes a stream (rolling back its transaction) when
	// no request used it for this long. It bounds how long an abandoned
	// BEGIN IMMEDIATE can hold the tenant's write lock.
	StreamIdleTimeout time.Duration
	// MaxSnapshotAge closes a stream (rolling back) whose transaction has
	// been open longer than this, keepalives or not: an open transaction
	// holds a read snapshot, which keeps the WAL from being checkpointed.
	MaxSnapshotAge time.Duration
	// MaxStreamsPerTenant caps open streams per tenant (a Target's Limits
	// may set another cap); a new stream beyond it waits up to
	// StreamQueueWait for a slot, then gets 429 (TOO_MANY_STREAMS).
	MaxStreamsPerTenant int
	StreamQueueWait     time.Duration
	// StatementTimeout interrupts a statement running longer (the stream
	// and its connection stay usable).
	StatementTimeout time.Duration
	// RequestTimeout bounds the SQL time of one HTTP request: statements
	// still to run after it fail with REQUEST_TIMEOUT (per-request errors;
	// the stream stays usable).
	RequestTimeout time.Duration
	// MaxStatementsPerRequest caps one HTTP request: a pipeline whose
	// requests and batch steps together exceed it is refused whole (400),
	// and statements run (execute, batch steps and sequence statements
	// together) past it fail with STATEMENT_LIMIT.
	MaxStatementsPerRequest int
	// MaxRowsPerResponse and MaxResponseBytes cap what one HTTP request
	// returns, every byte counted (rows, columns, errors and framing); a
	// statement or error that would exceed them becomes
	// RESPONSE_TOO_LARGE.
	MaxRowsPerResponse int
	MaxResponseBytes   int
	// MaxTotalResponseBytes caps the response bytes held at once across
	// all requests, until each response has been written: clients that do
	// not read cannot pin more memory than this.
	MaxTotalResponseBytes int
	// MaxWSMessageBytes caps one WebSocket message from a client; a
	// bigger one closes the socket (close code 1009, message too big).
	MaxWSMessageBytes int
	// WSRecheckInterval is how often an idle WebSocket session's
	// authorization (Target.Valid) is checked again; a session whose token
	// was revoked or whose tenant is no longer served is closed.
	WSRecheckInterval time.Duration
	// Scheduler shares the cores fairly between tenants' long-running
	// statements (nil: no CPU scheduling).
	Scheduler *fairshare.Scheduler
	// Logger receives internal failures (slog.Default if nil).
	Logger *slog.Logger
}

func (c *Config) withDefaults() {
	if c.StreamIdleTimeout <= 0 {
		c.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	if c.MaxSnapshotAge <= 0 {
		c.MaxSnapshotAge = DefaultMaxSnapshotAge
	}
	if c.MaxStreamsPerTenant <= 0 {
		c.MaxStreamsPerTenant = DefaultMaxStreamsPerTenant
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = DefaultStatementTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxStatementsPerRequest <= 0 {
		c.MaxStatementsPerRequest = DefaultMaxStatementsPerRequest
	}
	if c.MaxRowsPerResponse <= 0 {
		c.MaxRowsPerResponse = DefaultMaxRowsPerResponse
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.MaxTotalResponseBytes <= 0 {
		c.MaxTotalResponseBytes = max(DefaultMaxTotalResponseBytes, c.MaxResponseBytes)
	}
	if c.MaxWSMessageBytes <= 0 {
		c.MaxWSMessageBytes = DefaultMaxWSMessageBytes
	}
	if c.StreamQueueWait == 0 {
		c.StreamQueueWait = DefaultStreamQueueWait
	}
	c.StreamQueueWait = max(c.StreamQueueWait, 0) // negative: refuse at once
	if c.WSRecheckInterval <= 0 {
		c.WSRecheckInterval = DefaultWSRecheckInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Target is the authenticated tenant database a request runs against.
type Target struct {
	TenantID int64
	// DB is the request's hold on the tenant database (nil: nothing to
	// serve, 503). Every connection comes from it: the shard manager counts
	// it against the fd budget, a stream pins the database with
	// DB.Retain, and writers take DB's writer slot.
	DB        *shard.Handle
	Principal string // token subject, e.g. "service:42"; batons are bound to TenantID+Principal
	ReadOnly  bool   // token claim "a":"ro" → read-only connection
	Limits    Limits // the tenant's plan limits (zero fields: Config's)
	// Valid reports whether the authorization behind a WebSocket session
	// still holds (token not revoked or expired, tenant still served). It
	// is called before each request on the socket and every
	// WSRecheckInterval while it is idle; an error ends the session. nil
	// means always valid. HTTP requests are authorized one by one.
	Valid func() error
}

// Handler serves Hrana requests. Create it with NewHandler, Start it, and
// Close it on shutdown.
type Handler struct {
	cfg     Config
	metrics *metrics
	streams *streams
	mem     *memBudget // response bytes held (budget.go)
	remote  *remoteState

	mu      sync.Mutex
	watched map[<-chan struct{}]bool // databases with a watcher (watch)

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	// WebSocket sessions (ws.go), ended by Close.
	wsMu       sync.Mutex
	wsClosed   bool
	wsSessions map[*wsSession]struct{}
	wsWG       sync.WaitGroup
}

// NewHandler returns a Handler; it starts nothing (see Start).
func NewHandler(cfg Config, reg prometheus.Registerer) *Handler {
	cfg.withDefaults()
	h := &Handler{
		cfg:     cfg,
		streams: newStreams(),
		watched: make(map[<-chan struct{}]bool),
		mem:     &memBudget{limit: int64(cfg.MaxTotalResponseBytes)},
		stop:    make(chan struct{}),
	}
	h.metrics = newMetrics(reg, func() float64 { return float64(h.streams.count()) })
	h.remote = newRemoteState(reg)
	return h
}

// Start runs the loops that expire idle streams and re-check WebSocket
// sessions' authorization, until Close.
func (h *Handler) Start() {
	h.wg.Add(2)
	go h.expireLoop()
	go h.recheckLoop()
}

// Close stops the expiry loop and the eviction watchers, waits for them,
// and closes every stream (rolling back its transaction, releasing its
// connection and its hold on the database).
func (h *Handler) Close() {
	h.closeWS()
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
	for _, st := range h.streams.all() {
		st.mu.Lock()
		if st.closed && !st.live() {
			st.mu.Unlock()
			continue
		}
		h.release(st, errStreamClosed)
	}
	h.remote.wg.Wait()
	h.remote.checker.Close()
}

var (
	strGET         = []byte("GET")
	strPOST        = []byte("POST")
	contentJSON    = "application/json"
	greetingV2     = []byte("Hello, this is tenantgate speaking Hrana 2 over HTTP\n")
	greetingV3     = []byte("Hello, this is tenantgate speaking Hrana 3 over HTTP\n")
	errUnavailable = errors.New("Tenant unavailable")
)

// Serve answers one request on a tenant host. The path is one of /v2, /v3,
// /v3-protobuf, /v2/pipeline, /v3/pipeline, /v3-protobuf/pipeline,
// /v3/cursor, /v3-protobuf/cursor; anything else gets 404. Errors are JSON
// on every endpoint (both clients read error bodies by content type).
func (h *Handler) Serve(ctx *fasthttp.RequestCtx, t Target) {
	method, path := ctx.Method(), string(ctx.Path())
	switch {
	case string(method) == string(strGET) && path == "/v2":
		h.greet(ctx, greetingV2)
	case string(method) == string(strGET) && (path == "/v3" || path == "/v3-protobuf"):
		h.greet(ctx, greetingV3)
	case string(method) == string(strPOST) && path == "/v2/pipeline":
		h.metrics.pipelines["v2"].Inc()
		h.pipeline(ctx, t, false, encJSON)
	case string(method) == string(strPOST) && path == "/v3/pipeline":
		h.metrics.pipelines["v3"].Inc()
		h.pipeline(ctx, t, true, encJSON)
	case string(method) == string(strPOST) && path == "/v3-protobuf/pipeline":
		h.metrics.pipelines["v3-protobuf"].Inc()
		h.pipeline(ctx, t, true, encProtobuf)
	case string(method) == string(strPOST) && path == "/v3/cursor":
		h.metrics.pipelines["cursor"].Inc()
		h.cursor(ctx, t, encJSON)
	case string(method) == string(strPOST) && path == "/v3-protobuf/cursor":
		h.metrics.pipelines["cursor-protobuf"].Inc()
		h.cursor(ctx, t, encProtobuf)
	default:
		writeError(ctx, fasthttp.StatusNotFound, "NOT_FOUND", "Not found")
	}
}

func (h *Handler) greet(ctx *fasthttp.RequestCtx, body []byte) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/plain")
	ctx.SetBody(body)
}

// writeError writes the hybrid error body both clients understand:
// {"error","message","code"} with Content-Type exactly application/json.
func writeError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	writeErrorMessage(ctx, status, code, msg, msg)
}

// writeErrorMessage is writeError with a longer "message" than "error".
func writeErrorMessage(ctx *fasthttp.RequestCtx, status int, code, errMsg, msg string) {
	b := append([]byte(`{"error":`), nil...)
	b = appendString(b, errMsg)
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	b = append(b, `,"code":`...)
	b = appendString(b, code)
	b = append(b, "}"...)
	ctx.ResetBody()
	ctx.SetStatusCode(status)
	ctx.SetContentType(contentJSON)
	ctx.SetBody(b)
}

// protocolError answers a malformed request with 400.
func (h *Handler) protocolError(ctx *fasthttp.RequestCtx, format string, args ...any) {
	h.metrics.errors("protocol").Inc()
	writeError(ctx, fasthttp.StatusBadRequest, "PROTOCOL_ERROR", fmt.Sprintf(format, args...))
}

// acquireError answers a request whose stream could not be had.
func (h *Handler) acquireError(ctx *fasthttp.RequestCtx, err error, lim Limits) {
	switch {
	case errors.Is(err, errExpired):
		h.metrics.errors("expired").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, "STREAM_EXPIRED", err.Error())
	case errors.Is(err, errStreamClosed):
		h.metrics.errors("expired").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, codeStreamClosed, err.Error())
	case errors.Is(err, errSnapshotTooOld):
		h.metrics.errors("expired").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, codeSnapshotTooOld, h.snapshotError())
	case errors.Is(err, errBatonUsed):
		h.metrics.errors("baton").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, "BATON_REUSED", err.Error())
	case errors.Is(err, errBatonInvalid):
		h.metrics.errors("baton").Inc()
		writeError(ctx, fasthttp.StatusBadRequest, "BATON_INVALID", err.Error())
	case errors.Is(err, errTooMany):
		h.metrics.errors("too_many_streams").Inc()
		ctx.Response.Header.Set("Retry-After", "1")
		// "error" is the contract's; the Go client prints it after the
		// status, the JS client raises "message" with the code.
		writeErrorMessage(ctx, fasthttp.StatusTooManyRequests, "TOO_MANY_STREAMS", "Too many requests", tooManyStreams(lim))
	case errors.Is(err, shard.ErrBusy):
		// Every open database (or the fd budget) is in use: try again soon.
		h.metrics.errors("unavailable").Inc()
		ctx.Response.Header.Set("Retry-After", "1")
		writeError(ctx, fasthttp.StatusServiceUnavailable, "TENANT_UNAVAILABLE", errUnavailable.Error())
	default:
		h.metrics.errors("unavailable").Inc()
		h.cfg.Logger.Error("hrana: open tenant database", "err", err)
		writeError(ctx, fasthttp.StatusServiceUnavailable, "TENANT_UNAVAILABLE", errUnavailable.Error())
	}
}

// validate rejects, before anything runs, requests a pipeline cannot hold:
// unknown types, v3-only features on v2, conditions on later steps.
func validate(reqs []streamReq, v3 bool) error {
	for i := range reqs {
		r := &reqs[i]
		switch r.Type {
		case "execute", "sequence", "describe", "store_sql", "close_sql", "close":
		case "batch":
			if err := validateBatch(r.Batch, v3); err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
		case "get_autocommit":
			if !v3 {
				return fmt.Errorf("request %d: get_autocommit needs Hrana 3 (/v3/pipeline)", i)
			}
		default:
			return fmt.Errorf("request %d: unknown request type %q", i, r.Type)
		}
	}
	return nil
}

func (h *Handler) pipeline(ctx *fasthttp.RequestCtx, t Target, v3 bool, enc encoding) {
	req, err := enc.decodePipeline(ctx.PostBody())
	if err != nil {
		h.protocolError(ctx, "%s", enc.decodeError(err))
		return
	}
	if err := validate(req.Requests, v3); err != nil {
		h.protocolError(ctx, "%v", err)
		return
	}
	if n := entries(req.Requests); n > h.cfg.MaxStatementsPerRequest {
		h.protocolError(ctx, "too many requests and batch steps in one pipeline: %d (limit %d)", n, h.cfg.MaxStatementsPerRequest)
		return
	}
	lim := h.limits(t.Limits)
	st, err := h.acquire(t, lim, req.Baton)
	if err != nil {
		h.acquireError(ctx, err, lim)
		return
	}
	r := h.newRun(st, v3, entries(req.Requests), lim)
	defer h.recoverStream(ctx, st, r)
	var results []streamResult
	if st.rs != nil {
		if results, err = h.forwardHTTP(r, req.Requests); err != nil {
			h.remoteError(ctx, st, r, err)
			return
		}
	} else {
		results = make([]streamResult, len(req.Requests))
		for i := range req.Requests {
			results[i] = r.request(&req.Requests[i])
		}
	}
	baton := h.finish(st)
	body := enc.appendPipelineResp(make([]byte, 0, 512), baton, results)
	if len(body) > lim.MaxResponseBytes { // the budget's accounting is wrong: a bug, never a big answer
		r.release()
		h.cfg.Logger.Error("hrana: response over its budget", "bytes", len(body), "limit", lim.MaxResponseBytes)
		h.metrics.errors("internal").Inc()
		writeError(ctx, fasthttp.StatusInternalServerError, "INTERNAL", "Internal error")
		return
	}
	r.respond(ctx, enc.contentType(), body)
}

// newRun starts a request on st that answers with n entries (results and
// batch steps): their framing is reserved from the byte budget up front.
// lim is the tenant's (filled) limits.
func (h *Handler) newRun(st *stream, v3 bool, n int, lim Limits) *run {
	st.noteRequestStart(time.Now())
	return &run{
		h: h, st: st, v3: v3, lim: lim,
		deadline:  time.Now().Add(h.cfg.RequestTimeout),
		stmtsLeft: h.cfg.MaxStatementsPerRequest,
		rowsLeft:  lim.MaxRowsPerResponse,
		bytesLeft: lim.MaxResponseBytes - envelopeOverhead - n*entryOverhead,
	}
}

// recoverStream turns a panic while running a stream into a 500 and
// discards the stream, so its lock is never left held.
func (h *Handler) recoverStream(ctx *fasthttp.RequestCtx, st *stream, r *run) {
	p := recover()
	if p == nil {
		return
	}
	r.release()
	h.cfg.Logger.Error("hrana: panic while running a pipeline", "panic", p)
	h.metrics.errors("internal").Inc()
	h.release(st, nil)
	writeError(ctx, fasthttp.StatusInternalServerError, "INTERNAL", "Internal error")
}

// acquire returns the stream a request runs on, locked: a new one when
// there is no baton. A new stream takes one of the tenant's stream slots
// first (so the cap holds under concurrency, one-request streams
// included), waiting up to StreamQueueWait for one to free up, then pins
// the database and takes a connection from the manager.
func (h *Handler) acquire(t Target, lim Limits, baton *string) (*stream, error) {
	if baton != nil {
		return h.streams.acquire(*baton, t.TenantID, t.Principal)
	}
	if t.DB == nil {
		return nil, errTenantClosed // no local database to serve (503)
	}
	if !h.streams.reserve(t.TenantID, lim.MaxStreams) {
		h.metrics.streamWaits.Inc()
		if !h.streams.reserveWait(t.TenantID, lim.MaxStreams, h.cfg.StreamQueueWait, h.stop) {
			return nil, errTooMany
		}
	}
	db, err := t.DB.Retain()
	if err != nil {
		h.streams.unreserve(t.TenantID)
		return nil, err
	}
	if db.Remote() {
		st, err := h.acquireRemote(t, db)
		if err != nil {
			db.Release()
			h.streams.unreserve(t.TenantID)
		}
		return st, err
	}
	// The manager bounds the wait (PinWait) when the fd budget is spent.
	c, err := db.Conn(context.Background(), t.ReadOnly)
	if err != nil {
		db.Release()
		h.streams.unreserve(t.TenantID)
		return nil, err
	}
	st := &stream{tenantID: t.TenantID, principal: t.Principal, db: db, conn: c, lastUsed: time.Now()}
	st.mu.Lock()
	return st, nil
}

// finish ends a request on a stream: a closed stream gives its connection
// back and gets no baton; an open one gets the next baton. Unlocks it.
func (h *Handler) finish(st *stream) string {
	if st.closed {
		h.release(st, nil)
		return ""
	}
	if st.id == 0 {
		// First request of a stream that stays open: give it a baton id,
		// and watch its database so an eviction closes it.
		h.streams.register(st)
		h.watch(st.db.Done())
	}
	st.seq++
	st.lastUsed = time.Now()
	st.noteTx()
	baton := h.streams.baton(st)
	st.mu.Unlock()
	return baton
}

// release closes a locked stream: rolls back and returns its connection,
// gives up its writer slot and its hold on the database, frees its stream
// slot (leaving a tombstone with the reason late batons get, if any) and
// unlocks it.
func (h *Handler) release(st *stream, tombstone error) {
	st.closed = true
	st.reason = tombstone
	if st.rs != nil {
		h.closeRemote(st.rs)
		st.rs = nil
		st.db.Release()
		h.streams.forget(st, tombstone)
	}
	if st.conn != nil {
		st.conn.Release() // rolls back first
		st.conn = nil
		if st.unlockWrites != nil {
			st.unlockWrites()
			st.unlockWrites = nil
		}
		st.db.Release()
		h.streams.forget(st, tombstone)
	}
	st.mu.Unlock()
}

// watch closes the streams of a database when the shard manager closes it
// (suspend, delete, restore, shutdown), once per database.
func (h *Handler) watch(done <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watched[done] {
		return
	}
	h.watched[done] = true
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		select {
		case <-done:
			for _, st := range h.streams.ofDB(done) {
				st.mu.Lock()
				if !st.live() {
					st.mu.Unlock()
					continue
				}
				h.release(st, errStreamClosed)
			}
		case <-h.stop:
		}
		h.mu.Lock()
		delete(h.watched, done)
		h.mu.Unlock()
	}()
}

// expireLoop closes streams idle for longer than StreamIdleTimeout, and
// streams holding a transaction longer than MaxSnapshotAge.
func (h *Handler) expireLoop() {
	defer h.wg.Done()
	every := min(h.cfg.StreamIdleTimeout/4, h.cfg.MaxSnapshotAge/4, time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
			for _, st := range h.streams.idle(time.Now().Add(-h.cfg.StreamIdleTimeout)) {
				h.metrics.expiries.Inc()
				h.release(st, errExpired)
			}
			h.cutSnapshots(time.Now())
		}
	}
}
