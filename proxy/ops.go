package proxy

import (
	"context"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/proxy/httpapi"
)

// handleOps serves the operator listener: metrics, health and (when
// enabled) pprof. It is never reachable from the public listener.
func (s *Server) handleOps(ctx *fasthttp.RequestCtx) {
	defer func() {
		if p := recover(); p != nil { // fasthttp does not recover handler panics
			s.log.Error("ops handler panic", "path", string(ctx.Path()), "panic", p)
			ctx.Response.Reset()
			httpapi.WriteJSON(ctx, http.StatusInternalServerError, map[string]string{"error": "Internal error"})
		}
	}()
	path := string(ctx.Path())
	switch {
	case path == "/metrics":
		s.metricsHTTP(ctx)
	case path == "/healthz":
		httpapi.WriteJSON(ctx, http.StatusOK, map[string]string{"status": "ok"})
	case path == "/readyz":
		s.ready(ctx)
	case s.cfg.Pprof && strings.HasPrefix(path, "/debug/pprof"): // off unless --pprof
		pprofHandler(ctx)
	default:
		httpapi.WriteJSON(ctx, http.StatusNotFound, map[string]string{"error": "Not found"})
	}
}

// metricsHandler serves the Gatherer's metrics (built once, in New).
func metricsHandler(g prometheus.Gatherer) fasthttp.RequestHandler {
	if g == nil {
		g = prometheus.DefaultGatherer
	}
	return fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
}

// ready reports whether the catalog answers and is on the newest schema,
// its changes are being applied, and the proxy is registered in the fleet
// and not draining (fleet.go).
func (s *Server) ready(ctx *fasthttp.RequestCtx) {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	status := http.StatusOK
	if err := s.catalog.Ping(c); err != nil {
		checks["catalog"] = "unreachable: " + err.Error()
		status = http.StatusServiceUnavailable
	} else if pending, err := migrations.Pending(c, s.catalog.DB(), migrations.Catalog); err != nil || len(pending) > 0 {
		checks["catalog"] = "schema not current"
		status = http.StatusServiceUnavailable
	} else {
		checks["catalog"] = "ok"
	}
	if !s.fleetReady(checks) {
		status = http.StatusServiceUnavailable
	}
	httpapi.WriteJSON(ctx, status, map[string]any{"status": map[bool]string{true: "ready", false: "not ready"}[status == http.StatusOK], "checks": checks})
}

var pprofHandler = fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		// Not served: the command line may carry --jwt-secret or a catalog
		// URL with its authToken, and this listener is scraped over the
		// network.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"Not found"}` + "\n"))
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}))
