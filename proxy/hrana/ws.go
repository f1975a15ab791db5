package hrana

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/shard"
)

// Hrana over WebSocket (hrana1, hrana2, hrana3 with JSON, hrana3-protobuf),
// served on the tenant host's "/" like sqld. A session authenticates with
// the JWT of its hello message (or the upgrade request's bearer token),
// then opens streams by client-chosen ids; each stream holds a connection
// from the same pools and counts against the same per-tenant stream cap as
// an HTTP stream. Streams live as long as the socket: they do not idle
// out, but the tenant's eviction and Handler.Close end them. Requests on
// one socket run in order. A session lives only as long as its
// authorization: Target.Valid is checked before each request and every
// WSRecheckInterval while idle, so a revoked token, a disabled user, a
// suspended or deleted tenant ends the session within about a second plus
// the catalog's change poll.

// WSAuth is how the proxy admits a WebSocket session and its requests.
type WSAuth struct {
	// Authorize resolves the hello message's JWT (or the upgrade's bearer
	// token) to the tenant database it may use. A later hello (hrana2+)
	// must resolve to the same tenant and principal.
	Authorize func(jwt string) (Target, error)
	// Admit is called before each request (the tenant's rate and
	// concurrency limits); its release func is called after it.
	Admit func() (release func(), err error)
}

// subprotocol is a negotiated WebSocket subprotocol.
type subprotocol struct {
	version int
	enc     encoding
}

// wsSubprotocols lists the subprotocols in the server's order of
// preference, as sqld does.
var wsSubprotocols = []string{"hrana3-protobuf", "hrana3", "hrana2", "hrana1"}

var wsProtocolOf = map[string]subprotocol{
	"hrana3-protobuf": {3, encProtobuf}, "hrana3": {3, encJSON}, "hrana2": {2, encJSON}, "hrana1": {1, encJSON},
}

// wsMinVersion is the protocol version each request type needs.
var wsMinVersion = map[string]int{
	"open_stream": 1, "close_stream": 1, "execute": 1, "batch": 1,
	"sequence": 2, "describe": 2, "store_sql": 2, "close_sql": 2,
	"open_cursor": 3, "close_cursor": 3, "fetch_cursor": 3, "get_autocommit": 3,
}

// ServeWS upgrades a request to Hrana over WebSocket. bearer is the
// upgrade request's token ("" if none); the session otherwise waits for
// the hello message's JWT. A request the upgrade cannot serve gets a JSON
// error.
func (h *Handler) ServeWS(ctx *fasthttp.RequestCtx, bearer string, auth WSAuth) {
	if offered := ctx.Request.Header.Peek("Sec-WebSocket-Protocol"); len(offered) > 0 {
		ok := false
		for _, p := range strings.Split(string(offered), ",") {
			if _, known := wsProtocolOf[strings.TrimSpace(p)]; known {
				ok = true
			}
		}
		if !ok {
			writeError(ctx, fasthttp.StatusBadRequest, "PROTOCOL_ERROR",
				"Only these WebSocket subprotocols are supported: "+strings.Join(wsSubprotocols, " "))
			return
		}
	}
	up := websocket.FastHTTPUpgrader{
		Subprotocols: wsSubprotocols,
		CheckOrigin:  func(*fasthttp.RequestCtx) bool { return true }, // tokens, never cookies
		Error: func(ctx *fasthttp.RequestCtx, status int, reason error) {
			writeError(ctx, status, "PROTOCOL_ERROR", reason.Error())
		},
	}
	h.wsMu.Lock()
	if h.wsClosed {
		h.wsMu.Unlock()
		writeError(ctx, fasthttp.StatusServiceUnavailable, "UNAVAILABLE", "Server is shutting down")
		return
	}
	h.wsWG.Add(1)
	h.wsMu.Unlock()
	err := up.Upgrade(ctx, func(conn *websocket.Conn) {
		defer h.wsWG.Done()
		proto, ok := wsProtocolOf[conn.Subprotocol()]
		if !ok {
			proto = wsProtocolOf["hrana1"] // no subprotocol header: hrana1, as sqld assumes
		}
		s := &wsSession{h: h, conn: conn, proto: proto, auth: auth, bearer: bearer,
			streams: map[int32]*stream{}, cursors: map[int32]*wsCursor{}, sqls: map[int32]string{}}
		h.trackWS(s, true)
		defer h.trackWS(s, false)
		s.serve()
	})
	if err != nil {
		h.wsWG.Done()
	}
}

// trackWS adds or removes a live session, so Close can end them.
func (h *Handler) trackWS(s *wsSession, add bool) {
	h.wsMu.Lock()
	defer h.wsMu.Unlock()
	if add {
		if h.wsSessions == nil {
			h.wsSessions = map[*wsSession]struct{}{}
		}
		h.wsSessions[s] = struct{}{}
		if h.wsClosed {
			s.abort()
		}
		return
	}
	delete(h.wsSessions, s)
}

// closeWS ends every WebSocket session and waits for them.
func (h *Handler) closeWS() {
	h.wsMu.Lock()
	h.wsClosed = true
	for s := range h.wsSessions {
		s.abort()
	}
	h.wsMu.Unlock()
	h.wsWG.Wait()
}

// wsSession is one WebSocket connection.
type wsSession struct {
	h      *Handler
	conn   *websocket.Conn
	proto  subprotocol
	auth   WSAuth
	bearer string

	target  *Target       // nil until the hello is accepted
	mu      sync.Mutex    // guards valid (read by Handler.recheckLoop)
	valid   func() error  // the accepted hello's Target.Valid
	revoked atomic.Bool   // revoke ran: the socket is closing
	db      *shard.Handle // the session's own hold on the database (target.DB), from the first hello to the end
	streams map[int32]*stream
	cursors map[int32]*wsCursor
	sqls    map[int32]string // shared by the session's streams, as the protocol says
}

// wsCursor is an open cursor: its entries, produced when it was opened
// (the batch runs at once, so the stream is free again), handed out by
// fetch_cursor.
type wsCursor struct {
	entries []cursorEntry
	next    int
}

// wsClientMsg is a decoded client message.
type wsClientMsg struct {
	Type      string     `json:"type"` // hello or request
	JWT       *string    `json:"jwt"`
	RequestID int32      `json:"request_id"`
	Request   *streamReq `json:"request"`
}

// errWSProtocol ends the session: the client broke the protocol.
var errWSProtocol = errors.New("protocol error")

// errWSRevoked ends the session: its authorization no longer holds (the
// close frame was sent by revoke).
var errWSRevoked = errors.New("authorization revoked")

func (s *wsSession) serve() {
	defer s.closeAll()
	s.conn.SetReadLimit(int64(s.h.cfg.MaxWSMessageBytes))
	for {
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			return // closed by the client, Close, or an oversized message
		}
		want := websocket.TextMessage
		if s.proto.enc == encProtobuf {
			want = websocket.BinaryMessage
		}
		if typ != want {
			s.fail(fmt.Sprintf("expected %s messages", map[int]string{websocket.TextMessage: "text", websocket.BinaryMessage: "binary"}[want]))
			return
		}
		var msg wsClientMsg
		if s.proto.enc == encProtobuf {
			msg, err = decodeClientMsgPB(data)
		} else {
			err = json.Unmarshal(data, &msg)
		}
		if err != nil {
			s.fail(s.proto.enc.decodeError(err))
			return
		}
		if err := s.handle(&msg); err != nil {
			if !errors.Is(err, errWSRevoked) {
				s.fail(err.Error())
			}
			return
		}
	}
}

// fail closes the socket with a protocol error (close code 1002).
func (s *wsSession) fail(reason string) {
	s.h.metrics.errors("protocol").Inc()
	if len(reason) > 120 {
		reason = reason[:120] // a close frame's reason is at most 123 bytes
	}
	deadline := time.Now().Add(time.Second)
	s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, reason), deadline)
}

func (s *wsSession) handle(msg *wsClientMsg) error {
	switch msg.Type {
	case "hello":
		return s.hello(msg.JWT)
	case "request":
		if msg.Request == nil {
			return fmt.Errorf("%w: request message without a request", errWSProtocol)
		}
		if s.target == nil {
			if s.bearer == "" {
				return fmt.Errorf("%w: request before hello", errWSProtocol)
			}
			if err := s.hello(nil); err != nil || s.target == nil {
				return err
			}
		}
		s.h.metrics.pipelines["ws"].Inc()
		if err := s.check(); err != nil {
			// Answer the request that found out, then end the session.
			s.send(s.errorMsg(msg.RequestID, errf("AUTH_FAILED", "%s", revokedReason(err))))
			s.revoke(err)
			return errWSRevoked
		}
		release, err := s.auth.Admit()
		if err != nil {
			s.h.metrics.errors("too_many_streams").Inc()
			return s.send(s.errorMsg(msg.RequestID, errf("TOO_MANY_REQUESTS", "%v", err)))
		}
		defer release()
		res := s.request(msg.Request)
		if res.Err != nil {
			return s.send(s.errorMsg(msg.RequestID, res.Err))
		}
		return s.send(s.okMsg(msg.RequestID, &res))
	}
	return fmt.Errorf("%w: unknown message type %q", errWSProtocol, msg.Type)
}

// hello authenticates the session (again, for a refreshed JWT).
func (s *wsSession) hello(jwt *string) error {
	if s.target != nil && s.proto.version < 2 {
		return fmt.Errorf("%w: hello sent twice (hrana1)", errWSProtocol)
	}
	token := s.bearer
	if jwt != nil && *jwt != "" {
		token = *jwt
	}
	t, err := s.auth.Authorize(token)
	if err == nil && s.target != nil && (t.TenantID != s.target.TenantID || t.Principal != s.target.Principal) {
		err = errors.New("the new token belongs to another principal")
	}
	if err != nil {
		s.h.metrics.errors("refused").Inc()
		if e := s.send(s.helloError(&hranaError{Code: "AUTH_FAILED", Message: err.Error()})); e != nil {
			return e
		}
		return fmt.Errorf("authentication failed: %v", err)
	}
	if s.db == nil && t.DB != nil {
		// The upgrade's request (and its Handle) ends before the session
		// does: the session holds the database itself.
		db, err := t.DB.Retain()
		if err != nil {
			s.h.metrics.errors("unavailable").Inc()
			if e := s.send(s.helloError(&hranaError{Code: "TENANT_UNAVAILABLE", Message: errUnavailable.Error()})); e != nil {
				return e
			}
			return err
		}
		s.db = db
	}
	if s.db != nil {
		t.DB = s.db
	}
	s.target = &t
	s.mu.Lock()
	s.valid = t.Valid
	s.mu.Unlock()
	return s.send(s.helloOK())
}

// check reports whether the session's authorization still holds.
func (s *wsSession) check() error {
	s.mu.Lock()
	valid := s.valid
	s.mu.Unlock()
	if valid == nil {
		return nil
	}
	return valid()
}

// revoke ends a session whose authorization no longer holds: a close
// frame saying why (1008, policy violation), then the socket. The session
// goroutine then rolls back and closes its streams. Safe from any
// goroutine (WriteControl and Close may run beside the session's writes).
func (s *wsSession) revoke(err error) {
	if !s.revoked.CompareAndSwap(false, true) {
		return
	}
	s.h.metrics.errors("revoked").Inc()
	reason := revokedReason(err)
	if len(reason) > 120 {
		reason = reason[:120] // a close frame's reason is at most 123 bytes
	}
	s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, reason), time.Now().Add(time.Second))
	s.abort()
}

// abort wakes the session goroutine from its read and closes the socket.
// fasthttp closes a hijacked connection only when the handler returns
// (Close on it is a no-op), so an expired deadline is what interrupts
// the blocked read.
func (s *wsSession) abort() {
	s.conn.NetConn().SetDeadline(time.Now())
	s.conn.Close()
}

func revokedReason(err error) string { return "session ended: " + err.Error() }

// recheckLoop checks every authorized WebSocket session's authorization
// each WSRecheckInterval and ends those that lost it, so an idle session
// (say, one holding a transaction open) does not outlive a revocation.
func (h *Handler) recheckLoop() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.WSRecheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
			h.wsMu.Lock()
			sessions := make([]*wsSession, 0, len(h.wsSessions))
			for s := range h.wsSessions {
				sessions = append(sessions, s)
			}
			h.wsMu.Unlock()
			for _, s := range sessions {
				if s.revoked.Load() {
					continue
				}
				if err := s.check(); err != nil {
					s.revoke(err)
				}
			}
		}
	}
}

// request runs one request; a failure is an error response.
func (s *wsSession) request(req *streamReq) streamResult {
	res := streamResult{Type: req.Type}
	if v, ok := wsMinVersion[req.Type]; !ok || v > s.proto.version {
		res.Err = errf("PROTOCOL_ERROR", "request %q is not part of %s", req.Type, s.protoName())
		return res
	}
	switch req.Type {
	case "open_stream":
		if _, ok := s.streams[req.StreamID]; ok {
			res.Err = errf("STREAM_EXISTS", "stream %d is already open", req.StreamID)
			return res
		}
		lim := s.h.limits(s.target.Limits)
		st, err := s.h.acquire(*s.target, lim, nil)
		if err != nil {
			res.Err = acquireErrorObject(err, lim)
			return res
		}
		st.ws, st.sqls = true, s.sqls
		s.h.streams.register(st)
		s.h.watch(st.db.Done())
		st.mu.Unlock()
		s.streams[req.StreamID] = st
	case "close_stream":
		if st, ok := s.streams[req.StreamID]; ok {
			delete(s.streams, req.StreamID)
			st.mu.Lock()
			if st.closed {
				st.mu.Unlock()
			} else {
				s.h.release(st, nil)
			}
		}
	case "store_sql", "close_sql":
		// Stored SQL belongs to the session: run it on a stream-less run.
		r := &run{h: s.h, st: &stream{sqls: s.sqls}}
		if req.Type == "store_sql" {
			res.Err = r.storeSQLMax(req, maxStoredSQLWS)
		} else if req.SQLID != nil {
			delete(s.sqls, *req.SQLID)
		}
	case "fetch_cursor":
		c, ok := s.cursors[req.CursorID]
		if !ok {
			res.Err = errf("CURSOR_NOT_FOUND", "cursor %d is not open", req.CursorID)
			return res
		}
		n := len(c.entries) - c.next
		if req.MaxCount != nil && int(*req.MaxCount) < n {
			n = int(*req.MaxCount)
		}
		res.Cursor = c.entries[c.next : c.next+n]
		c.next += n
		res.CursorDone = c.next == len(c.entries)
	case "close_cursor":
		delete(s.cursors, req.CursorID)
	default: // execute, batch, sequence, describe, get_autocommit, open_cursor
		st, ok := s.streams[req.StreamID]
		if !ok {
			res.Err = errf("STREAM_NOT_FOUND", "stream %d is not open", req.StreamID)
			return res
		}
		if req.Type == "batch" || req.Type == "open_cursor" {
			if err := validateBatch(req.Batch, s.proto.version >= 3); err != nil {
				res.Err = errf("PROTOCOL_ERROR", "%v", err)
				return res
			}
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.closed {
			if errors.Is(st.reason, errSnapshotTooOld) {
				res.Err = errf(codeSnapshotTooOld, "stream %d: %s", req.StreamID, s.h.snapshotError())
				return res
			}
			res.Err = errf(codeStreamClosed, "stream %d was closed by the server (tenant evicted or shutting down)", req.StreamID)
			return res
		}
		n := 1
		if req.Batch != nil {
			n += len(req.Batch.Steps)
		}
		// The response's size is bounded like an HTTP one; the message is
		// sent before this session reads its next request, so the bytes
		// are not held against the Handler-wide budget beyond it.
		r := s.h.newRun(st, s.proto.version >= 3, n, s.h.limits(s.target.Limits))
		defer r.release()
		if st.rs != nil {
			res = s.remoteRequest(r, st, req)
			st.lastUsed = time.Now()
			return res
		}
		if req.Type == "open_cursor" {
			if _, ok := s.cursors[req.CursorID]; ok {
				res.Err = errf("CURSOR_EXISTS", "cursor %d is already open", req.CursorID)
				return res
			}
			r.noRowCap = true
			c := &wsCursor{}
			r.batch(req.Batch, func(step int, sr *stmtResult, herr *hranaError) {
				c.entries = appendCursorEntries(c.entries, step, sr, herr)
			})
			s.cursors[req.CursorID] = c
		} else {
			res = r.request(req)
		}
		st.lastUsed = time.Now()
		st.noteTx()
	}
	return res
}

func (s *wsSession) protoName() string {
	for name, p := range wsProtocolOf {
		if p == s.proto {
			return name
		}
	}
	return "hrana1"
}

// closeAll closes the session's streams (rolling back) when it ends.
func (s *wsSession) closeAll() {
	for id, st := range s.streams {
		delete(s.streams, id)
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			continue
		}
		s.h.release(st, nil)
	}
	if s.db != nil {
		s.db.Release()
		s.db = nil
	}
	s.conn.Close()
}

func (s *wsSession) send(msg []byte) error {
	typ := websocket.TextMessage
	if s.proto.enc == encProtobuf {
		typ = websocket.BinaryMessage
	}
	s.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	return s.conn.WriteMessage(typ, msg)
}

// appendCursorEntries appends the entries of one executed batch step.
func appendCursorEntries(es []cursorEntry, step int, res *stmtResult, herr *hranaError) []cursorEntry {
	if herr != nil {
		return append(es, cursorEntry{kind: 3, step: step, err: herr})
	}
	es = append(es, cursorEntry{kind: 1, step: step, cols: res.Cols})
	for _, row := range res.Rows {
		es = append(es, cursorEntry{kind: 4, row: row})
	}
	return append(es, cursorEntry{kind: 2, res: res})
}

// acquireErrorObject is an acquire failure as a per-request error.
func acquireErrorObject(err error, lim Limits) *hranaError {
	switch {
	case errors.Is(err, errTooMany):
		return errf("TOO_MANY_STREAMS", "%s", tooManyStreams(lim))
	default:
		return errf("TENANT_UNAVAILABLE", "%s", errUnavailable.Error())
	}
}
