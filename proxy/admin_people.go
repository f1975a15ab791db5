package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog"
)

// The platform side of issue 16: the platform audit trail, tenant-wide
// token revocation, and logout for platform_admin tokens (revoked under
// tenant id 0, which no tenant has).

// PlatformTenantID is the revocation scope of platform_admin tokens.
const PlatformTenantID = 0

type adminClaimsKey struct{}

// adminActor is the request's platform admin as the audit trail records it.
func adminActor(ctx *fasthttp.RequestCtx) audit.Entry {
	e := audit.Entry{Role: RolePlatformAdmin, ClientAddr: clientAddr(ctx), RequestID: requestID(ctx)}
	if c, ok := ctx.UserValue(adminClaimsKey{}).(*Claims); ok {
		e.UserID, e.TokenID = c.User(), c.ID
	}
	return e
}

// platformAudit records an admin API action in the platform trail (and the log).
func (s *Server) platformAudit(ctx *fasthttp.RequestCtx, action string, tenantID int64, details map[string]string) error {
	e := adminActor(ctx)
	e.Action, e.Details = action, details
	if tenantID != 0 {
		e.TargetType, e.TargetID = "tenant", catalog.FormatID(tenantID)
	}
	c, cancel := contextFor(s)
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

// checkPlatformRevoked refuses a logged-out platform_admin token.
func (s *Server) checkPlatformRevoked(claims *Claims) error {
	c, cancel := contextFor(s)
	defer cancel()
	rev, err := s.catalog.Revocations(c, PlatformTenantID)
	if err != nil {
		return err
	}
	if rev.Revoked(claims.User(), claims.ID, claims.IssuedAtUnix()) {
		s.metrics.authFailures.WithLabelValues("revoked").Inc()
		return ErrTokenRevoked
	}
	return nil
}

// adminPeopleAPI serves GET /api/admin/audit, POST /api/admin/logout and
// POST /api/admin/tenants/{id}/revoke-tokens; done is false for any other path.
func (s *Server) adminPeopleAPI(ctx *fasthttp.RequestCtx, path, method string) (done bool, err error) {
	switch {
	case path == "/api/admin/audit":
		if method != "GET" && method != "HEAD" {
			ctx.Response.Header.Set("Allow", "GET, HEAD")
			return true, errMethod
		}
		return true, s.adminListAudit(ctx)
	case path == "/api/admin/logout":
		if method != "POST" {
			ctx.Response.Header.Set("Allow", "POST")
			return true, errMethod
		}
		return true, s.adminLogout(ctx)
	case strings.HasPrefix(path, adminTenantsPath+"/") && strings.HasSuffix(path, "/revoke-tokens"):
		raw := strings.TrimSuffix(strings.TrimPrefix(path, adminTenantsPath+"/"), "/revoke-tokens")
		id, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil || id <= 0 {
			return true, badRequest("Invalid tenant id: must be a positive integer", map[string]string{"id": "must be a positive integer"})
		}
		if method != "POST" {
			ctx.Response.Header.Set("Allow", "POST")
			return true, errMethod
		}
		return true, s.adminRevokeTenantTokens(ctx, id)
	}
	return false, nil
}

// adminListAudit answers GET /api/admin/audit?limit=&cursor=&action=.
func (s *Server) adminListAudit(ctx *fasthttp.RequestCtx) error {
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
		return badRequest("Invalid action", map[string]string{"action": "must be at most 64 characters"})
	}
	c, cancel := contextFor(s)
	defer cancel()
	entries, next, err := s.catalog.AuditEntries(c, catalog.AuditQuery{Limit: limit, Before: int64(cursor), Action: action})
	if err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, map[string]any{"entries": entries, "next_cursor": cursorString(next)})
	return nil
}

// adminRevokeTenantTokens answers POST /api/admin/tenants/{id}/revoke-tokens:
// every token of the tenant issued until now stops working everywhere
// within about a second.
func (s *Server) adminRevokeTenantTokens(ctx *fasthttp.RequestCtx, id int64) error {
	c, cancel := contextFor(s)
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
	writeJSON(ctx, http.StatusOK, map[string]any{"revoked": true, "tenant_id": id, "not_before": time.Unix(nb, 0).UTC().Format(time.RFC3339)})
	return nil
}

// adminLogout answers POST /api/admin/logout: this platform_admin token
// stops working.
func (s *Server) adminLogout(ctx *fasthttp.RequestCtx) error {
	claims, _ := ctx.UserValue(adminClaimsKey{}).(*Claims)
	if claims == nil || claims.ID == "" {
		return badRequest("This token has no id and cannot be revoked on its own", nil)
	}
	c, cancel := contextFor(s)
	defer cancel()
	exp := time.Now().Add(366 * 24 * time.Hour)
	if claims.ExpiresAt != nil {
		exp = claims.ExpiresAt.Add(tokenLeeway)
	}
	if err := s.catalog.RevokeToken(c, PlatformTenantID, claims.ID, exp); err != nil {
		return err
	}
	if err := s.platformAudit(ctx, "admin.logout", 0, nil); err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, map[string]bool{"revoked": true})
	return nil
}
