package proxy

import (
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/site"
)

// DefaultDemoTTL is the lifetime of a demo tenant (site.DefaultDemoTTL).
const DefaultDemoTTL = site.DefaultDemoTTL

// siteLimit takes a token of the client's "demo" or "signup" limit for the
// public site, or returns the 429 (the edge owns every limit).
func (s *Server) siteLimit(ctx *fasthttp.RequestCtx, name string) error {
	l := s.signupLimit
	if name == "demo" {
		l = s.demoLimit
	}
	ok, wait := l.allow(clientKey(s.clientAddr(ctx)), s.now())
	if ok {
		return nil
	}
	s.metrics.throttled.WithLabelValues(name).Inc()
	return httpapi.TooManyRequests(retrySeconds(wait))
}

// reaper is the demo reaper, counting passes and removed demos in the
// metrics (nil when ReapInterval is off); Start runs it until Shutdown.
func (s *Server) reaper() *tenants.Reaper {
	if s.cfg.ReapInterval < 0 {
		return nil
	}
	return &tenants.Reaper{
		Service:  s.tenants,
		Interval: s.cfg.ReapInterval,
		Logger:   s.log,
		OnPass: func(n int, _ error) {
			s.metrics.reaperRuns.Inc()
			s.metrics.demosReaped.Add(float64(n))
		},
	}
}
