package proxy

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/token"
)

// serveTenant runs the tenant pipeline: route, authenticate, check the
// tenant's status and the role, acquire its database, run the handler. c is
// the request's context (contextFor), already used for the catalog lookup.
func (s *Server) serveTenant(c context.Context, ctx *fasthttp.RequestCtx, t catalog.Tenant) (class string, err error) {
	if isWebSocketUpgrade(ctx) {
		return classSQL, s.serveSQLWS(c, ctx, t)
	}
	rt, params, err := s.tenantTable.match(methodString(ctx), string(ctx.Path()))
	if err != nil {
		if err == errMethod {
			ctx.Response.Header.Set("Allow", s.tenantTable.allowedMethods(string(ctx.Path())))
		}
		return classNone, err
	}
	r := &httpapi.Request{Ctx: ctx, C: c, Tenant: t, Params: params, AuditHook: s.auditHook}
	if rt.roles != nil {
		claims, err := s.authenticate(ctx)
		if err != nil {
			return rt.class, err
		}
		if claims.Role == RoleShard {
			// A front proxy's shard token: every tenant, SQL only (the
			// route's roles), counted by the front proxy's own limits.
			if err := s.checkPlatformRevoked(claims); err != nil {
				return rt.class, err
			}
			if !rt.noDB && slices.Contains(rt.roles, RoleShard) {
				return rt.class, s.serveShard(c, r, rt, claims, t)
			}
			s.metrics.authFailures.WithLabelValues("forbidden").Inc()
			return rt.class, ErrForbidden
		}
		if claims.Tenant() != t.ID {
			s.metrics.authFailures.WithLabelValues("mismatch").Inc()
			return rt.class, ErrTenantMismatch
		}
		if !claims.IssuedFor(t.CreatedAt) {
			s.metrics.authFailures.WithLabelValues("invalid").Inc()
			return rt.class, fmt.Errorf("%w: issued before the tenant was created", ErrInvalidToken)
		}
		if err := s.checkRevoked(c, claims); err != nil {
			return rt.class, err
		}
		if claims.Scope == ScopeEnrol && !rt.enrol {
			return rt.class, errEnrolRequired
		}
		r.Claims = claims
		// The tenant's limits count its own users' requests only: if
		// token-less requests counted, anyone could flood the host and
		// lock the tenant's users out with 429s.
		if limiter, err := s.tenantLimit.enter(t.ID, time.Now()); err != nil {
			s.metrics.throttled.WithLabelValues(limiter).Inc()
			return rt.class, err
		}
		defer s.tenantLimit.leave(t.ID)
	}
	if err := tenantServable(t, time.Now()); err != nil {
		return rt.class, err
	}
	if rt.roles != nil && !r.HasRole(rt.roles...) {
		s.metrics.authFailures.WithLabelValues("forbidden").Inc()
		return rt.class, ErrForbidden
	}
	if !rt.noDB {
		if rt.roles == nil {
			// Anonymous (login, password reset): a closed database opens
			// within the cold-open budgets only.
			if err := s.coldOpenBudget(ctx, t); err != nil {
				return rt.class, err
			}
		}
		h, err := s.shards.AcquireWith(c, t.ID, t.DBURL, tenants.Limits(t))
		if err != nil {
			return rt.class, err
		}
		defer h.Release()
		r.Handle = h
		if d := h.ColdWait(); d > 0 && s.cfg.ServerTiming {
			ctx.Response.Header.Set("Server-Timing", "tenant-db;desc=cold;dur="+strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64))
		}
		if rt.class != classSQL { // SQL is metered per statement (proxy/hrana)
			m, err := s.meterAPI(r)
			if err != nil {
				return rt.class, err
			}
			defer m.Done()
		}
		// A write past the storage quota fails with SQLITE_FULL: tell the
		// quota from a full disk.
		return rt.class, h.ClassifyFull(rt.handle(r))
	}
	return rt.class, rt.handle(r)
}

// tenantServable refuses suspended tenants and expired demos.
func tenantServable(t catalog.Tenant, now time.Time) error {
	switch {
	case t.Suspended():
		return errSuspended
	case t.Expired(now):
		return errDemoExpired
	}
	return nil
}

// authenticate verifies the bearer token and counts failures by reason.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx) (*Claims, error) {
	if len(ctx.Request.Header.PeekAll(fasthttp.HeaderAuthorization)) > 1 {
		// Two credentials are ambiguous (a front proxy may have checked the
		// other one): refuse rather than pick one.
		s.metrics.authFailures.WithLabelValues("invalid").Inc()
		return nil, ErrInvalidToken
	}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) == 0 {
		s.metrics.authFailures.WithLabelValues("missing").Inc()
		return nil, ErrAuthRequired
	}
	tok, ok := token.Bearer(h)
	if !ok {
		s.metrics.authFailures.WithLabelValues("invalid").Inc()
		return nil, ErrInvalidToken
	}
	claims, err := s.auth.VerifyBytes(tok)
	if err != nil {
		reason := "invalid"
		if err == ErrTokenExpired {
			reason = "expired"
		}
		s.metrics.authFailures.WithLabelValues(reason).Inc()
		return nil, err
	}
	return claims, nil
}

// serveShard runs a SQL route for a front proxy's shard token: the tenant
// must be servable, and the statements run with the bank's rights.
func (s *Server) serveShard(c context.Context, r *httpapi.Request, rt *route, claims *Claims, t catalog.Tenant) error {
	if err := tenantServable(t, time.Now()); err != nil {
		return err
	}
	r.Claims = claims
	h, err := s.shards.Acquire(c, t.ID, t.DBURL)
	if err != nil {
		return err
	}
	defer h.Release()
	r.Handle = h
	return rt.handle(r)
}
