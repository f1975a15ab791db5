package proxy

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/proxy/httpapi"
)

// hostKind is what a Host header routes to.
type hostKind int

const (
	hostUnknown hostKind = iota
	hostPublic
	hostAdmin
	hostTenant // a subdomain label under the root domain
	hostDomain // any other host: a tenant's custom domain
)

// classifyHost normalises a Host header and decides where it routes. It
// never touches the catalog, so malformed hosts cost nothing.
func (s *Server) classifyHost(raw []byte) (hostKind, string) {
	host, err := catalog.NormalizeHost(string(raw))
	if err != nil {
		return hostUnknown, ""
	}
	root, h := s.cfg.RootDomain, &s.hostNames
	switch {
	case host == root || host == h.www:
		return hostPublic, host
	case host == h.admin:
		return hostAdmin, host
	case strings.HasSuffix(host, h.suffix):
		label := strings.TrimSuffix(host, h.suffix)
		if strings.Contains(label, ".") {
			return hostUnknown, "" // tenants are one label deep
		}
		return hostTenant, label
	}
	return hostDomain, host
}

// hostNames are the root domain's fixed host names, joined once rather
// than on every request.
type hostNames struct{ www, admin, suffix string }

func newHostNames(root string) hostNames {
	return hostNames{www: "www." + root, admin: "admin." + root, suffix: "." + root}
}

// handle is the entry point of every request on the public listener.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	s.cpu.Enter() // heavy SQL steps aside while requests run
	class, tenant := s.dispatchSafely(ctx)
	s.cpu.Leave()
	s.metrics.inFlight.Dec()
	elapsed := time.Since(start)
	status := ctx.Response.StatusCode()
	s.metrics.requestCounter(class, methodString(ctx), status).Inc()
	s.metrics.durationOf(class).Observe(elapsed.Seconds())
	if tenant.Host != "" && s.tenantSeries != nil {
		s.tenantSeries.ObserveTenant(tenant.ID, tenant.Host, status, elapsed)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) { // the arguments alone cost several allocations
		s.log.Debug("request", "request_id", httpapi.RequestID(ctx), "client", s.clientAddr(ctx).String(), "host", string(ctx.Host()), "method", string(ctx.Method()),
			"path", string(ctx.Path()), "status", status, "duration", elapsed)
	}
}

// dispatchSafely is dispatch with a last line of defence: a panic in any
// handler becomes a logged 500 for that request, never a dead process.
func (s *Server) dispatchSafely(ctx *fasthttp.RequestCtx) (class string, tenant tenantLabel) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("handler panic", "request_id", httpapi.RequestID(ctx), "client", s.clientAddr(ctx).String(), "host", string(ctx.Host()),
				"path", string(ctx.Path()), "panic", p, "stack", string(debug.Stack()))
			ctx.Response.Reset()
			httpapi.WriteJSON(ctx, fasthttp.StatusInternalServerError, map[string]string{"error": "Internal error"})
			class = classNone
		}
	}()
	return s.dispatch(ctx)
}

// tenantLabel names the tenant a request was served for, in the
// per-tenant series: its catalog host (the label) and id.
type tenantLabel struct {
	ID   int64
	Host string
}

// dispatch routes by host and returns the route class and, for tenant
// traffic, the tenant it was served for.
func (s *Server) dispatch(ctx *fasthttp.RequestCtx) (class string, tenant tenantLabel) {
	if s.httpsFirst(ctx) {
		return classNone, tenantLabel{}
	}
	s.rewriteLocalPrefix(ctx)
	kind, key := s.classifyHost(ctx.Host())
	if isWebSocketUpgrade(ctx) && kind != hostTenant && kind != hostDomain {
		s.writeSQLError(ctx, errWSRoute) // only tenant hosts serve WebSockets
		return classNone, tenantLabel{}
	}
	switch kind {
	case hostPublic:
		if err := s.site.Serve(ctx); err != nil {
			s.writeError(ctx, err)
		}
		return classPublic, tenantLabel{}
	case hostAdmin:
		s.handleAdmin(ctx)
		return classAdmin, tenantLabel{}
	case hostUnknown:
		s.writeError(ctx, errTenantNotFound)
		return classNone, tenantLabel{}
	}
	c, cancel := contextFor(s)
	defer cancel()
	var t catalog.Tenant
	var err error
	if kind == hostTenant {
		t, err = s.catalog.FindByHost(c, key)
	} else {
		t, err = s.catalog.FindByDomain(c, key)
	}
	if err != nil {
		s.writeError(ctx, err)
		return classNone, tenantLabel{}
	}
	class, err = s.serveTenant(c, ctx, t)
	switch {
	case err != nil && class == classSQL:
		s.writeSQLError(ctx, err)
	case err != nil:
		s.writeError(ctx, err)
	}
	return class, tenantLabel{t.ID, t.Host}
}
