// Package site is the public site on the root domain: the marketing page
// and its assets, self-service signup, demo tenants and the country list;
// and the tenant dashboard's static pages. It creates tenants only through
// the tenant service; the edge (proxy) owns its rate limits and turns its
// errors into JSON.
package site

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/token"
)

// Config is what the public site needs from the edge. All fields are
// required (proxy's Config.withDefaults resolves them).
type Config struct {
	Catalog        *catalog.Catalog // demo and conversion records
	Tenants        *tenants.Service
	Auth           *token.Auth // signs the new administrator's first token
	RootDomain     string
	RequestTimeout time.Duration
	DemoTTL        time.Duration // demo lifetime
	Logger         *slog.Logger
	// URL is the public base URL of a host under the root domain.
	URL func(label string) string
	// Limit takes a token of the client's "demo" or "signup" limit, or
	// returns the 429 to answer.
	Limit func(ctx *fasthttp.RequestCtx, name string) error
	// Budget takes the global "demo" or "signup" creation budget (and the
	// live-demo cap) once the request is valid, or returns the 429.
	Budget func(c context.Context, name string) error
	// Demos and Signups count what the site created (from_demo label).
	Demos   prometheus.Counter
	Signups *prometheus.CounterVec
	Now     func() time.Time
}

// Site holds the public site's handlers.
type Site struct {
	catalog    *catalog.Catalog
	tenants    *tenants.Service
	auth       *token.Auth
	rootDomain string
	timeout    time.Duration
	demoTTL    time.Duration
	log        *slog.Logger
	url        func(label string) string
	limit      func(ctx *fasthttp.RequestCtx, name string) error
	budget     func(c context.Context, name string) error
	demos      prometheus.Counter
	signups    *prometheus.CounterVec
	now        func() time.Time
}

// New returns the public site for cfg.
func New(cfg Config) *Site {
	return &Site{catalog: cfg.Catalog, tenants: cfg.Tenants, auth: cfg.Auth, rootDomain: cfg.RootDomain,
		timeout: cfg.RequestTimeout, demoTTL: cfg.DemoTTL, log: cfg.Logger, url: cfg.URL, limit: cfg.Limit, budget: cfg.Budget,
		demos: cfg.Demos, signups: cfg.Signups, now: cfg.Now}
}

// requestContext is a request-scoped context with the configured deadline.
func (s *Site) requestContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}
