package httpapi

import (
	"context"
	"slices"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/token"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
)

// Request is one request on a tenant host, after routing and auth: what a
// tenant route's handler gets from the edge.
type Request struct {
	Ctx    *fasthttp.RequestCtx
	C      context.Context // carries the request deadline for blocking calls
	Tenant catalog.Tenant
	Claims *token.Claims // nil on public routes
	Handle *shard.Handle // nil on routes that need no database
	Params map[string]string
	// AuditHook logs the audit entries the store commits.
	AuditHook bank.AuditHook
}

// Store is the tenant-scoped store: the one way handlers reach tenant data.
func (r *Request) Store() *bank.Store {
	return bank.NewAudited(r.Handle.DB, r.Tenant.ID, r.Handle, r.AuditHook)
}

// HasRole reports whether the token carries one of roles.
func (r *Request) HasRole(roles ...string) bool {
	return r.Claims != nil && slices.Contains(roles, r.Claims.Role)
}

// Actor is the request's principal as the audit trail records it.
func (r *Request) Actor() bank.Actor {
	a := bank.Actor{ClientAddr: ClientAddr(r.Ctx), RequestID: RequestID(r.Ctx), Role: "anonymous"}
	if r.Claims != nil {
		a.UserID, a.Role, a.TokenID = r.Claims.User(), r.Claims.Role, r.Claims.ID
	}
	return a
}

// PathInt64 parses a positive integer path parameter, or fails with 400.
func (r *Request) PathInt64(name string) (int64, error) {
	v, err := strconv.ParseInt(r.Params[name], 10, 64)
	if err != nil || v <= 0 {
		return 0, BadRequest("Invalid "+name+": must be a positive integer", map[string]string{name: "must be a positive integer"})
	}
	return v, nil
}

// QueryInt64 parses an optional non-negative integer query parameter.
func (r *Request) QueryInt64(name string) (int64, bool, error) {
	raw := r.Ctx.QueryArgs().Peek(name)
	if len(raw) == 0 {
		return 0, false, nil
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < 0 {
		return 0, false, BadRequest("Invalid "+name+": must be a non-negative integer", map[string]string{name: "must be a non-negative integer"})
	}
	return v, true, nil
}

// RequestID is the caller's X-Request-Id when sane, else the server's own.
func RequestID(ctx *fasthttp.RequestCtx) string {
	if id := ctx.Request.Header.Peek("X-Request-Id"); len(id) > 0 && len(id) <= 64 && printable(id) {
		return string(id)
	}
	return strconv.FormatUint(ctx.ID(), 36) + "-" + strconv.FormatInt(ctx.ConnTime().UnixNano()%1e9, 36)
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// ClientAddr is the peer's address as audit entries record it (a trusted
// front proxy's forwarded address is the edge's business).
func ClientAddr(ctx *fasthttp.RequestCtx) string { return ctx.RemoteIP().String() }

// CursorString is a keyset cursor as the API returns it ("" = last page).
func CursorString(next int64) string {
	if next == 0 {
		return ""
	}
	return strconv.FormatInt(next, 10)
}
