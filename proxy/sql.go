package proxy

import (
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
)

// serveSQL hands a tenant's Hrana request (SQL over HTTP, for libSQL
// clients) to the Hrana handler, bound to the tenant's database and the
// token's principal.
func (s *Server) serveSQL(r *httpapi.Request) error {
	t := hrana.Target{TenantID: r.Tenant.ID, Limits: s.sqlLimits(r.Tenant)}
	if r.Handle != nil {
		// A tenant on a libSQL server is forwarded to it (after the
		// checks above and the statement checks in proxy/hrana).
		t.DB = r.Handle
	}
	if r.Claims != nil {
		t.ReadOnly = r.Claims.ReadOnly()
		t.Trusted = r.Claims.Role == RoleShard
		t.Principal = r.Claims.Subject
		if t.Principal == "" {
			t.Principal = token.Subject(r.Claims)
		}
		if t.ReadOnly {
			// Batons are bound to the principal: a read-only token must not
			// continue a read-write stream of the same subject.
			t.Principal += "#ro"
		}
	}
	allowBrowsers(r.Ctx)
	if err := s.cpu.Admit(r.Ctx, r.Tenant.ID); err != nil {
		// The tenant has had its fill of long statements waiting for a CPU
		// share for a while: refuse more rather than queue them in front of
		// no one.
		s.metrics.throttled.WithLabelValues("cpu").Inc()
		return httpapi.TooManyRequests(1)
	}
	s.hrana.Serve(r.Ctx, t)
	return nil
}

// sqlPreflight answers the CORS preflight that browser builds of
// @libsql/client send (they set Authorization and Content-Type). The token
// is still checked on the real request; tokens are never cookies, so any
// origin may ask.
func (s *Server) sqlPreflight(r *httpapi.Request) error {
	allowBrowsers(r.Ctx)
	r.Ctx.Response.Header.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	r.Ctx.Response.Header.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Libsql-Client-Version")
	r.Ctx.Response.Header.Set("Access-Control-Max-Age", "86400")
	r.Ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func allowBrowsers(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Access-Control-Allow-Origin", "*")
}

// writeSQLError answers a refused Hrana request with the hybrid body both
// libSQL clients understand ({"error","message","code"}, Content-Type
// exactly application/json): the Go client prints "error", the JS client
// raises LibsqlError with "code". The message is the contract's.
func (s *Server) writeSQLError(ctx *fasthttp.RequestCtx, err error) {
	allowBrowsers(ctx)
	e := errorFor(err)
	if e.Status >= 500 {
		s.log.Error("sql request failed", "request_id", httpapi.RequestID(ctx), "client", s.clientAddr(ctx).String(), "host", string(ctx.Host()), "err", err)
	}
	if e.Retry > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.Retry))
	}
	httpapi.WriteJSON(ctx, e.Status, map[string]string{"error": e.Message, "message": e.Message, "code": sqlErrorCode(e.Status)})
}

func sqlErrorCode(status int) string {
	switch status {
	case fasthttp.StatusUnauthorized:
		return "AUTH_FAILED"
	case fasthttp.StatusForbidden:
		return "FORBIDDEN"
	case fasthttp.StatusNotFound:
		return "NOT_FOUND"
	case fasthttp.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED"
	case fasthttp.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case fasthttp.StatusGone:
		return "GONE"
	case fasthttp.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return "SERVER_ERROR"
}
