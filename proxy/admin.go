package proxy

import (
	"net/http"

	"github.com/valyala/fasthttp"
)

// handleAdmin serves admin.<root>: the admin panel and /api/admin/*, for
// platform_admin tokens only. (Placeholder until the admin panel lands.)
func (s *Server) handleAdmin(ctx *fasthttp.RequestCtx) {
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
	writeJSON(ctx, http.StatusOK, map[string]string{"status": "admin"})
}
