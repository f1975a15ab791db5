package proxy

import (
	"context"
	"net/http"
)

// errEnrolRequired: an enrolment-only token (see ScopeEnrol) on any other
// route.
var errEnrolRequired = &Error{Status: http.StatusForbidden, Message: "Second factor enrolment required"}

// checkRevoked refuses a token revoked by logout, by a change to its user
// (disabled, password changed or reset, role changed) or by a tenant-wide
// revocation. The state is a cached per-tenant snapshot (catalog
// Revocations), so this costs a map lookup on the hot path; if the catalog
// cannot be read and nothing is cached, the request fails closed.
func (s *Server) checkRevoked(c context.Context, claims *Claims) error {
	rev, err := s.catalog.Revocations(c, claims.Tenant())
	if err != nil {
		return err
	}
	if rev.Revoked(claims.User(), claims.ID, claims.IssuedAtUnix()) {
		s.metrics.authFailures.WithLabelValues("revoked").Inc()
		return ErrTokenRevoked
	}
	return nil
}
