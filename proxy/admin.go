package proxy

import (
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy/adminapi"
	"github.com/microfi/tenantgate/proxy/site"
	"github.com/microfi/tenantgate/proxy/web"
)

// handleAdmin serves admin.<root>: the admin panel page and its assets to
// anyone, and /api/admin/* (adminapi) to platform_admin tokens only (no
// token → 401, another role → 403).
func (s *Server) handleAdmin(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	if !strings.HasPrefix(path, "/api/") {
		switch {
		case path == "/" || path == "/index.html":
			if err := site.ServePage(ctx, web.Admin); err != nil {
				s.writeError(ctx, err)
			}
		case site.IsGetOrHead(ctx) && web.ServeAsset(ctx):
		default:
			s.writeError(ctx, errNotFound)
		}
		return
	}
	claims, err := s.authenticate(ctx)
	if err != nil {
		s.writeError(ctx, err)
		return
	}
	if claims.Role != RolePlatformAdmin {
		s.metrics.authFailures.WithLabelValues("forbidden").Inc()
		s.writeError(ctx, ErrForbidden)
		return
	}
	if err := s.checkPlatformRevoked(claims); err != nil {
		s.writeError(ctx, err)
		return
	}
	if err := s.admin.Serve(ctx, claims); err != nil {
		s.writeError(ctx, err)
	}
}

// checkPlatformRevoked refuses a logged-out platform_admin token.
func (s *Server) checkPlatformRevoked(claims *Claims) error {
	c, cancel := contextFor(s)
	defer cancel()
	rev, err := s.catalog.Revocations(c, adminapi.PlatformTenantID)
	if err != nil {
		return err
	}
	if rev.Revoked(claims.User(), claims.ID, claims.IssuedAtUnix()) {
		s.metrics.authFailures.WithLabelValues("revoked").Inc()
		return ErrTokenRevoked
	}
	return nil
}
