package proxy

import (
	"context"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/token"
)

// Hrana over WebSocket on a tenant host: an upgrade of GET / (the URL
// libSQL clients are given, ws:// or wss://) is a SQL session. The token
// is the upgrade's bearer token or, as libSQL clients send it, the JWT of
// the session's hello message; either must be a service token of this
// tenant, as for /v2/pipeline. Each request on the socket passes the
// tenant's rate and concurrency limits. The session is re-checked before
// each request and every second while idle (wsValid): a revoked or expired
// token, or a tenant no longer served, ends it. An upgrade anywhere else
// gets a JSON 400, never a page.

var errWSRoute = &Error{Status: fasthttp.StatusBadRequest, Message: "WebSocket upgrades are served only at / (Hrana over WebSocket)"}

func (s *Server) serveSQLWS(c context.Context, ctx *fasthttp.RequestCtx, t catalog.Tenant) error {
	if string(ctx.Path()) != "/" {
		return errWSRoute
	}
	if err := tenantServable(t, time.Now()); err != nil {
		return err
	}
	bearerToken := ""
	if len(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)) > 0 {
		claims, err := s.authenticate(ctx)
		if err != nil {
			return err
		}
		if _, err := s.sqlTarget(t, claims); err != nil {
			return err
		}
		tok, _ := token.Bearer(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
		bearerToken = string(tok)
	}
	h, err := s.shards.AcquireWith(c, t.ID, t.DBURL, tenants.Limits(t))
	if err != nil {
		return err
	}
	defer h.Release()
	allowBrowsers(ctx)
	s.hrana.ServeWS(ctx, bearerToken, hrana.WSAuth{
		Authorize: func(jwt string) (hrana.Target, error) {
			if jwt == "" {
				s.metrics.authFailures.WithLabelValues("missing").Inc()
				return hrana.Target{}, ErrAuthRequired
			}
			claims, err := s.auth.Verify(jwt)
			if err != nil {
				s.metrics.authFailures.WithLabelValues("invalid").Inc()
				return hrana.Target{}, err
			}
			target, err := s.sqlTarget(t, claims)
			target.DB = h // the session retains it at the hello
			return target, err
		},
		Admit: func() (func(), error) {
			if limiter, err := s.tenantLimit.enter(t.ID, time.Now()); err != nil {
				s.metrics.throttled.WithLabelValues(limiter).Inc()
				return nil, err
			}
			return func() { s.tenantLimit.leave(t.ID) }, nil
		},
	})
	return nil
}

// sqlTarget checks that claims may use the tenant's SQL endpoint (a
// service token of this tenant) and returns the Hrana target without its
// database.
func (s *Server) sqlTarget(t catalog.Tenant, claims *Claims) (hrana.Target, error) {
	if claims.Tenant() != t.ID {
		s.metrics.authFailures.WithLabelValues("mismatch").Inc()
		return hrana.Target{}, ErrTenantMismatch
	}
	if claims.Role != RoleService {
		s.metrics.authFailures.WithLabelValues("forbidden").Inc()
		return hrana.Target{}, ErrForbidden
	}
	// A WebSocket hello is authenticated here, not in serveTenant.
	c, cancel := contextFor(s)
	defer cancel()
	if err := s.checkRevoked(c, claims); err != nil {
		return hrana.Target{}, err
	}
	target := hrana.Target{TenantID: t.ID, ReadOnly: claims.ReadOnly(), Principal: claims.Subject,
		Limits: s.sqlLimits(t), Valid: s.wsValid(t, claims)}
	if target.Principal == "" {
		target.Principal = token.Subject(claims)
	}
	if target.ReadOnly {
		target.Principal += "#ro"
	}
	return target, nil
}

// wsValid is a WebSocket session's re-check of what its hello proved: the
// token is still honoured (not expired, not revoked by logout, a user
// change or a tenant-wide revocation) and its tenant is still served (not
// suspended, expired, deleted or replaced). Both lookups are the cached
// per-tenant state the HTTP path uses, refreshed by the catalog's change
// poller, so this is cheap and sees a change made by any proxy within
// about a second. A catalog it cannot read fails closed, as HTTP does.
func (s *Server) wsValid(t catalog.Tenant, claims *Claims) func() error {
	return func() error {
		if claims.ExpiresAt != nil && !time.Now().Before(claims.ExpiresAt.Time) {
			return ErrTokenExpired
		}
		c, cancel := contextFor(s)
		defer cancel()
		cur, err := s.catalog.FindByHost(c, t.Host)
		if err != nil {
			return err
		}
		if cur.ID != t.ID {
			return errTenantNotFound // deleted, and its host taken by another tenant
		}
		if err := tenantServable(cur, time.Now()); err != nil {
			return err
		}
		return s.checkRevoked(c, claims)
	}
}

// isWebSocketUpgrade reports whether the request asks for a WebSocket.
func isWebSocketUpgrade(ctx *fasthttp.RequestCtx) bool {
	return websocket.FastHTTPIsWebSocketUpgrade(ctx)
}
