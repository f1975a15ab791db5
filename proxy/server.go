// Package proxy is tenantgate's HTTP edge: a fasthttp server that routes
// every request by Host to the public site, the admin panel or a tenant,
// checks the tenant's token, and serves the tenant from its own database.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/provision"
	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/tlsedge"
	"github.com/microfi/tenantgate/shard"
)

// Defaults for Config.
const (
	DefaultRootDomain     = "microfi.localhost"
	DefaultRequestTimeout = 10 * time.Second
	MaxRequestBody        = 8 << 20 // Hrana pipelines may be large; API bodies are capped lower
)

// Config wires a Server. Catalog, Shards, Provisioner and Auth are required.
type Config struct {
	RootDomain            string // e.g. "microfi.com"; default DefaultRootDomain
	PublicScheme          string // scheme in links; default "http"
	PublicPort            int    // port in links; 0 = the listener's port (80/443 omitted)
	RequestTimeout        time.Duration
	// Limits that can be turned off are off at zero, exactly as their
	// flags are (the flags' defaults are the Default* constants).
	TenantMetrics         int           // per-tenant series for the N busiest tenants; 0 = off
	TenantMetricsInterval time.Duration // re-rank period of the per-tenant series; 0 = DefaultTenantSeriesInterval
	BackupDir             string        // where admin deletes keep a copy of the database
	TenantRate            RateLimit     // requests per tenant; Burst 0 = unlimited (flag default DefaultTenantRate)
	TenantMaxInFlight     int           // concurrent requests per tenant; 0 = unlimited (flag default DefaultTenantMaxInFlight)
	DemoLimit             RateLimit     // demo creations per client address; zero = DefaultDemoLimit
	SignupLimit           RateLimit     // signups per client address; zero = DefaultSignupLimit
	DemoTTL               time.Duration // demo lifetime; 0 = DefaultDemoTTL
	ReapInterval          time.Duration // demo reaper period; 0 = off (flag default provision.DefaultReapInterval)

	Hrana hrana.Config // SQL-over-HTTP limits and stream timeouts

	TLS          *tlsedge.Edge // certificates of the HTTPS listener; nil = no HTTPS (https.go)
	RedirectHTTP bool          // the plain listener answers 308 to HTTPS (ACME challenges excepted)
	HTTPSPort    int           // port in redirects to HTTPS; 0 or 443 = none
	EdgeHostname string        // the name tenants' custom domains point a CNAME at; default RootDomain

	Catalog     *catalog.Catalog
	Shards      *shard.Manager
	Provisioner *provision.Provisioner
	Auth        *Auth
	Registerer  prometheus.Registerer
	Gatherer    prometheus.Gatherer
	Logger      *slog.Logger
}

// Server is the proxy.
type Server struct {
	cfg          Config
	catalog      *catalog.Catalog
	shards       *shard.Manager
	provisioner  *provision.Provisioner
	auth         *Auth
	metrics      *Metrics
	log          *slog.Logger
	tenantTable  *routeTable
	http         *fasthttp.Server
	ops          *fasthttp.Server
	metricsHTTP  fasthttp.RequestHandler // /metrics on the ops listener
	hrana        *hrana.Handler
	tenantLimit  *tenantThrottle
	tenantSeries *TenantSeries // nil unless Config.TenantMetrics > 0
	site         *site         // public site and admin panel state (public.go)
	logins       loginThrottle // failed-login throttle per tenant and e-mail (bank_throttle.go)
	port         int
	stop         context.CancelFunc // cancels background
	background   context.Context    // background work (reaper, tenant series), until Shutdown
	startOnce    sync.Once
	wg           sync.WaitGroup // the goroutines Start launched
}

// withDefaults fills the fields that have a default (never the limits
// that zero turns off) and checks the rest. It runs once, in New.
func (c *Config) withDefaults() error {
	if c.Catalog == nil || c.Shards == nil || c.Auth == nil {
		return errors.New("proxy: Catalog, Shards and Auth are required")
	}
	if c.RootDomain == "" {
		c.RootDomain = DefaultRootDomain
	}
	root, err := catalog.NormalizeHost(c.RootDomain)
	if err != nil {
		return fmt.Errorf("root domain: %w", err)
	}
	c.RootDomain = root
	if c.PublicScheme == "" {
		c.PublicScheme = "http"
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.DemoLimit == (RateLimit{}) {
		c.DemoLimit = DefaultDemoLimit
	}
	if c.SignupLimit == (RateLimit{}) {
		c.SignupLimit = DefaultSignupLimit
	}
	if c.DemoTTL <= 0 {
		c.DemoTTL = DefaultDemoTTL
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Provisioner == nil {
		c.Provisioner = &provision.Provisioner{Catalog: c.Catalog, Shards: c.Shards, Logger: c.Logger}
	}
	return nil
}

// New builds a Server from cfg; it starts nothing (see Start).
func New(cfg Config) (*Server, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, catalog: cfg.Catalog, shards: cfg.Shards, provisioner: cfg.Provisioner,
		auth: cfg.Auth, log: cfg.Logger, metrics: NewMetrics(cfg.Registerer),
		tenantTable: &routeTable{routes: tenantRoutes},
		background:  bg, stop: stop,
	}
	s.site = newSite(cfg)
	s.hrana = hrana.NewHandler(cfg.Hrana, cfg.Registerer)
	s.tenantLimit = newTenantThrottle(cfg.TenantRate, cfg.TenantMaxInFlight)
	if cfg.TenantMetrics > 0 {
		s.tenantSeries = NewTenantSeries(cfg.Registerer, cfg.TenantMetrics)
		if cfg.TenantMetricsInterval > 0 {
			s.tenantSeries.Interval = cfg.TenantMetricsInterval
		}
	}
	s.http = &fasthttp.Server{
		Handler:               s.handle,
		Name:                  "tenantgate",
		MaxRequestBodySize:    MaxRequestBody,
		ReadBufferSize:        16 << 10, // room for long bearer tokens and cookies
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: false,
		NoDefaultContentType:  true,
		Logger:                fasthttpLogger{s.log},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			// Malformed HTTP never reaches handle; still answer in JSON.
			status := fasthttp.StatusBadRequest
			msg := "Bad request"
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				status, msg = fasthttp.StatusRequestEntityTooLarge, "Request body too large"
			}
			writeJSON(ctx, status, map[string]string{"error": msg})
		},
	}
	s.metricsHTTP = metricsHandler(cfg.Gatherer)
	s.ops = &fasthttp.Server{Handler: s.handleOps, Name: "tenantgate-ops", NoDefaultContentType: true}
	return s, nil
}

// Start launches the background work: the Hrana stream expiry, the demo
// reaper and the per-tenant series re-ranking. Shutdown stops and waits for
// them. Calling it again does nothing; Serve calls it too.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.hrana.Start()
		if r := s.reaper(); r != nil {
			s.wg.Go(func() { r.Run(s.background) })
		}
		if s.tenantSeries != nil {
			s.wg.Go(func() { s.tenantSeries.Run(s.background) })
		}
	})
}

// Serve accepts tenant, public and admin traffic on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.Start()
	if s.port == 0 {
		if tcp, ok := ln.Addr().(*net.TCPAddr); ok {
			s.port = tcp.Port
		}
	}
	return s.http.Serve(ln)
}

// ServeOps serves /metrics, /healthz, /readyz and /debug/pprof/ on ln.
func (s *Server) ServeOps(ln net.Listener) error { return s.ops.Serve(ln) }

// Handler is the main request handler, for in-memory tests and benchmarks.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Shutdown stops accepting requests, waits for in-flight ones (until ctx
// ends), then cancels the background work and waits for it. The caller
// closes the catalog and shards afterwards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	errc := make(chan error, 2)
	go func() { errc <- s.http.ShutdownWithContext(ctx) }()
	go func() { errc <- s.ops.ShutdownWithContext(ctx) }()
	err := errors.Join(<-errc, <-errc)
	s.hrana.Close() // rolls back open SQL streams before the databases close
	s.wg.Wait()
	return err
}

// contextFor is a request-scoped context with the configured deadline:
// fasthttp's ctx is not cancelled per request, so blocking calls need it.
// It is not derived from s.background: Shutdown cancels that first, and the
// requests it then drains must still finish rather than fail.
func contextFor(s *Server) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
}

// RootDomain is the configured root domain.
func (s *Server) RootDomain() string { return s.cfg.RootDomain }

// URL is the public base URL of a host under the root domain ("" = root).
func (s *Server) URL(label string) string {
	host := s.cfg.RootDomain
	if label != "" {
		host = label + "." + host
	}
	return s.cfg.PublicScheme + "://" + host + s.portSuffix()
}

// DomainURL is the public base URL of a full host name (custom domains).
func (s *Server) DomainURL(host string) string {
	return s.cfg.PublicScheme + "://" + host + s.portSuffix()
}

func (s *Server) portSuffix() string {
	port := s.cfg.PublicPort
	if port == 0 {
		port = s.port
	}
	if port == 0 || (s.cfg.PublicScheme == "http" && port == 80) || (s.cfg.PublicScheme == "https" && port == 443) {
		return ""
	}
	return ":" + strconv.Itoa(port)
}

type fasthttpLogger struct{ log *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "fasthttp")
}
