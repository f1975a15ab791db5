package adminapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
)

// The platform side of issue 16: the platform audit trail, tenant-wide
// token revocation, and logout for platform_admin tokens (revoked under
// tenant id 0, which no tenant has).

// PlatformTenantID is the revocation scope of platform_admin tokens.
const PlatformTenantID = 0

type adminClaimsKey struct{}

// adminActor is the request's platform admin as the audit trail records it.
func adminActor(ctx *fasthttp.RequestCtx) audit.Entry {
	e := audit.Entry{Role: token.RolePlatformAdmin, ClientAddr: httpapi.ClientAddr(ctx), RequestID: httpapi.RequestID(ctx)}
	if c, ok := ctx.UserValue(adminClaimsKey{}).(*token.Claims); ok {
		e.UserID, e.TokenID = c.User(), c.ID
	}
	return e
}

// platformAudit records an admin API action in the platform trail (and the log).
func (s *API) platformAudit(ctx *fasthttp.RequestCtx, action string, tenantID int64, details map[string]string) error {
	e := adminActor(ctx)
	e.Action, e.Details = action, details
	if tenantID != 0 {
		e.TargetType, e.TargetID = "tenant", catalog.FormatID(tenantID)
	}
	c, cancel := s.requestContext()
	defer cancel()
	_, err := s.catalog.Audit(c, e)
	return err
}

// tenantChanges lists what a PATCH changed (old → new).
func tenantChanges(old, updated catalog.Tenant) map[string]string {
	d := map[string]string{}
	add := func(k, a, b string) {
		if a != b {
			d[k] = a + " → " + b
		}
	}
	add("status", old.Status, updated.Status)
	add("custom_domain", old.CustomDomain, updated.CustomDomain)
	add("name", old.Name, updated.Name)
	add("subscription_plan", old.Plan, updated.Plan)
	add("storage_quota_bytes", strconv.FormatInt(old.QuotaBytes, 10), strconv.FormatInt(updated.QuotaBytes, 10))
	add("storage_quota_bytes", strconv.FormatInt(old.QuotaBytes, 10), strconv.FormatInt(updated.QuotaBytes, 10))
	return d
}

// tenantAction names a PATCH for the trail: suspend, resume or update.
func tenantAction(old, updated catalog.Tenant) string {
	switch {
	case old.Status != catalog.StatusSuspended && updated.Status == catalog.StatusSuspended:
		return "tenant.suspend"
	case old.Status == catalog.StatusSuspended && updated.Status != catalog.StatusSuspended:
		return "tenant.resume"
	}
	return "tenant.update"
}

// adminPeopleAPI serves GET /api/admin/audit, POST /api/admin/logout and
// POST /api/admin/tenants/{id}/revoke-tokens; done is false for any other path.
func (s *API) adminPeopleAPI(ctx *fasthttp.RequestCtx, path, method string) (done bool, err error) {
	switch {
	case path == "/api/admin/audit":
		if method != "GET" && method != "HEAD" {
			ctx.Response.Header.Set("Allow", "GET, HEAD")
			return true, httpapi.ErrMethod
		}
		return true, s.adminListAudit(ctx)
	case path == "/api/admin/logout":
		if method != "POST" {
			ctx.Response.Header.Set("Allow", "POST")
			return true, httpapi.ErrMethod
		}
		return true, s.adminLogout(ctx)
	case strings.HasPrefix(path, adminTenantsPath+"/") && strings.HasSuffix(path, "/revoke-tokens"):
		raw := strings.TrimSuffix(strings.TrimPrefix(path, adminTenantsPath+"/"), "/revoke-tokens")
		id, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil || id <= 0 {
			return true, httpapi.BadRequest("Invalid tenant id: must be a positive integer", map[string]string{"id": "must be a positive integer"})
		}
		if method != "POST" {
			ctx.Response.Header.Set("Allow", "POST")
			return true, httpapi.ErrMethod
		}
		return true, s.adminRevokeTenantTokens(ctx, id)
	}
	return false, nil
}

// adminListAudit answers GET /api/admin/audit?limit=&cursor=&action=.
func (s *API) adminListAudit(ctx *fasthttp.RequestCtx) error {
	args := ctx.QueryArgs()
	limit, err := queryInt(args, "limit", 50, 1, 200)
	if err != nil {
		return err
	}
	cursor, err := queryInt(args, "cursor", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	action := string(args.Peek("action"))
	if len(action) > 64 {
		return httpapi.BadRequest("Invalid action", map[string]string{"action": "must be at most 64 characters"})
	}
	c, cancel := s.requestContext()
	defer cancel()
	entries, next, err := s.catalog.AuditEntries(c, catalog.AuditQuery{Limit: limit, Before: int64(cursor), Action: action})
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, map[string]any{"entries": entries, "next_cursor": httpapi.CursorString(next)})
	return nil
}

// adminRevokeTenantTokens answers POST /api/admin/tenants/{id}/revoke-tokens:
// every token of the tenant issued until now stops working everywhere
// within about a second.
func (s *API) adminRevokeTenantTokens(ctx *fasthttp.RequestCtx, id int64) error {
	c, cancel := s.requestContext()
	defer cancel()
	if _, err := s.catalog.Get(c, id); err != nil {
		return err
	}
	nb, err := s.catalog.RevokeTenant(c, id)
	if err != nil {
		return err
	}
	if err := s.platformAudit(ctx, "tokens.revoke", id, nil); err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, withAck(map[string]any{"revoked": true, "tenant_id": id, "not_before": time.Unix(nb, 0).UTC().Format(time.RFC3339)}, s.acknowledge(c)))
	return nil
}

// adminLogout answers POST /api/admin/logout: this platform_admin token
// stops working.
func (s *API) adminLogout(ctx *fasthttp.RequestCtx) error {
	claims, _ := ctx.UserValue(adminClaimsKey{}).(*token.Claims)
	if claims == nil || claims.ID == "" {
		return httpapi.BadRequest("This token has no id and cannot be revoked on its own", nil)
	}
	c, cancel := s.requestContext()
	defer cancel()
	exp := time.Now().Add(366 * 24 * time.Hour)
	if claims.ExpiresAt != nil {
		exp = claims.ExpiresAt.Add(token.Leeway)
	}
	if err := s.catalog.RevokeToken(c, PlatformTenantID, claims.ID, exp); err != nil {
		return err
	}
	if err := s.platformAudit(ctx, "admin.logout", 0, nil); err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, http.StatusOK, map[string]bool{"revoked": true})
	return nil
}
