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
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy/adminapi"
	"github.com/microfi/tenantgate/proxy/bankapi"
	"github.com/microfi/tenantgate/proxy/connlimit"
	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/httpapi"
	"github.com/microfi/tenantgate/proxy/site"
	"github.com/microfi/tenantgate/proxy/tenantmetrics"
	"github.com/microfi/tenantgate/proxy/tlsedge"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/fairshare"
	"github.com/microfi/tenantgate/shard/verify"
)

// Defaults for Config.
const (
	DefaultRootDomain     = "microfi.localhost"
	DefaultRequestTimeout = 10 * time.Second
	MaxRequestBody        = 8 << 20 // Hrana pipelines may be large; API bodies are capped lower
)

// Config wires a Server. Catalog, Shards and Auth are required; Tenants
// defaults to a service over Catalog and Shards.
type Config struct {
	RootDomain            string // e.g. "microfi.com"; default DefaultRootDomain
	PublicScheme          string // scheme in links; default "http"
	PublicPort            int    // port in links; 0 = the listener's port (80/443 omitted)
	RequestTimeout        time.Duration
	TenantMetrics         int           // per-tenant series for the N busiest tenants; 0 = off
	TenantMetricsInterval time.Duration // re-rank period of the per-tenant series; 0 = tenantmetrics.DefaultInterval
	BackupDir             string        // where admin deletes keep a copy of the database
	TenantRate            RateLimit     // requests per tenant; zero = DefaultTenantRate, Burst Off = unlimited
	TenantMaxInFlight     int           // concurrent requests per tenant; 0 = DefaultTenantMaxInFlight, Off = unlimited
	DemoLimit             RateLimit     // demo creations per client address; zero = DefaultDemoLimit
	SignupLimit           RateLimit     // signups per client address; zero = DefaultSignupLimit
	DemoTTL               time.Duration // demo lifetime; 0 = DefaultDemoTTL
	ReapInterval          time.Duration // demo reaper period; 0 = tenants.DefaultReapInterval, Off = off
	LoginIPLimit          RateLimit     // login attempts per client address; zero = DefaultLoginIPLimit
	LoginTenantLimit      RateLimit     // login attempts per tenant; zero = DefaultLoginTenantLimit
	LoginWait             time.Duration // longest wait for a password-hashing turn; 0 = DefaultLoginWait
	// LedgerAuditRate is how many tenants a minute the continuous ledger
	// audit verifies (shard/verify); 0 = verify.DefaultAuditRate, Off = off.
	LedgerAuditRate int

	// Edge holds the public listener's connection and request-size limits.
	Edge EdgeLimits
	// TrustedProxies are the peers whose X-Forwarded-For, Forwarded and
	// (with Edge.ProxyProtocol) PROXY protocol headers name the client.
	TrustedProxies []netip.Prefix
	// Pprof serves /debug/pprof/ on the ops listener.
	Pprof bool
	// ServerTiming answers a tenant request that had to open the tenant's
	// database with "Server-Timing: tenant-db;desc=cold;dur=MS" (for load
	// tests that report cold requests apart).
	ServerTiming bool

	Hrana hrana.Config // SQL-over-HTTP limits and stream timeouts
	// SQLPlans are the SQL limits per subscription plan (zero fields:
	// Hrana's); nil = DefaultSQLPlans.
	SQLPlans map[string]hrana.Limits
	CPU      fairshare.Config // fair sharing of the cores between tenants' work (cpushare.go)
	// CPUWeights are the plans' weights in the CPU scheduler, and "demo"
	// for demo tenants (any plan); nil = DefaultCPUWeights. A plan without
	// an entry weighs 1.
	CPUWeights map[string]float64
	// Budgets bound anonymous database opens and tenant creation (budget.go).
	Budgets Budgets

	TLS          *tlsedge.Edge // certificates of the HTTPS listener; nil = no HTTPS (https.go)
	RedirectHTTP bool          // the plain listener answers 308 to HTTPS (ACME challenges excepted)
	HTTPSPort    int           // port in redirects to HTTPS; 0 or 443 = none
	EdgeHostname string        // the name tenants' custom domains point a CNAME at; default RootDomain

	Catalog    *catalog.Catalog
	Registry   *registry.Registry // this proxy's fleet membership; nil = not registered (tests, tools)
	Shards     *shard.Manager
	Tenants    *tenants.Service
	Auth       *Auth
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	Logger     *slog.Logger
}

// Server is the proxy.
type Server struct {
	cfg          Config
	catalog      *catalog.Catalog
	shards       *shard.Manager
	tenants      *tenants.Service
	auth         *Auth
	metrics      *Metrics
	log          *slog.Logger
	tenantTable  *routeTable
	hostNames    hostNames // www., admin. and the tenant suffix of the root domain
	http         *fasthttp.Server
	ops          *fasthttp.Server
	metricsHTTP  fasthttp.RequestHandler // /metrics on the ops listener
	hrana        *hrana.Handler
	cpu          *fairshare.Scheduler // fair CPU shares for tenant SQL and API calls
	tenantLimit  *tenantThrottle
	tenantSeries *tenantmetrics.Series // nil unless Config.TenantMetrics > 0
	bank         *bankapi.API          // tenant banking API handlers (the route table points at them)
	admin        *adminapi.API         // /api/admin/* on admin.<root>
	site         *site.Site            // the public site on the root domain
	demoLimit    *ipLimiter            // demo creations per client address (public.go)
	signupLimit  *ipLimiter            // signups per client address
	now          func() time.Time
	logins       loginThrottle // login limits per address, tenant and e-mail (loginthrottle.go)
	loginQueue   *loginQueue   // fair per-tenant turns at password hashing (loginqueue.go)
	budgets      *budgets      // anonymous opens and creation (budget.go)
	trusted      trustedProxies
	conns        *connlimit.Pool // connection limits of the public listeners (edge.go)
	auditHook    bank.AuditHook  // logs every committed tenant audit entry (audithook.go)
	port         int
	stop         context.CancelFunc // cancels background
	background   context.Context    // background work (reaper, tenant series), until Shutdown
	startOnce    sync.Once
	wg           sync.WaitGroup // the goroutines Start launched
	auditor      *verify.Auditor
}

// New builds a Server from cfg; it starts nothing (see Start).
func New(cfg Config) (*Server, error) {
	if cfg.Catalog == nil || cfg.Shards == nil || cfg.Auth == nil {
		return nil, errors.New("proxy: Catalog, Shards and Auth are required")
	}
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, catalog: cfg.Catalog, shards: cfg.Shards, tenants: cfg.Tenants,
		auth: cfg.Auth, log: cfg.Logger, metrics: NewMetrics(cfg.Registerer),
		background: bg, stop: stop, now: time.Now,
	}
	s.hostNames = newHostNames(cfg.RootDomain)
	s.trusted = trustedProxies(cfg.TrustedProxies)
	s.logins = newLoginThrottle(cfg.LoginIPLimit, cfg.LoginTenantLimit)
	s.loginQueue = newLoginQueue(cfg.LoginWait)
	s.demoLimit, s.signupLimit = newIPLimiter(cfg.DemoLimit), newIPLimiter(cfg.SignupLimit)
	s.budgets = newBudgets(cfg.Budgets)
	s.conns = s.newConnPool()
	s.auditHook = s.logAudit
	if cfg.TenantMetrics > 0 {
		s.tenantSeries = tenantmetrics.New(cfg.Registerer, cfg.TenantMetrics)
		s.tenantSeries.Interval = cfg.TenantMetricsInterval
		s.tenantSeries.SetSizes(s.tenantFileSizes)
	}
	cpuCfg := cfg.CPU
	if s.tenantSeries != nil {
		// Each statement's running time goes to its tenant's CPU series.
		next := cpuCfg.OnCharge
		cpuCfg.OnCharge = func(id int64, d time.Duration) {
			s.tenantSeries.AddCPU(id, d)
			if next != nil {
				next(id, d)
			}
		}
	}
	s.cpu = fairshare.New(cpuCfg, fairshare.NewMetrics(cfg.Registerer))
	hranaCfg := cfg.Hrana
	hranaCfg.Scheduler = s.cpu
	s.auditor = verify.NewAuditor(verify.AuditorConfig{
		PerMinute: cfg.LedgerAuditRate, List: s.auditTargets, Logger: cfg.Logger, Registerer: cfg.Registerer,
		Closed: func(t verify.Target) { s.shards.ClosedOutside(t.ID, t.URL, true) }})
	s.hrana = hrana.NewHandler(hranaCfg, cfg.Registerer)
	s.tenantLimit = newTenantThrottle(cfg.TenantRate, cfg.TenantMaxInFlight)
	s.bank = bankapi.New(bankapi.Config{
		Catalog: cfg.Catalog, Auth: cfg.Auth, Logger: cfg.Logger,
		URL: s.URL, DomainTLS: s.domainTLS, Limits: s.bankLimits(),
	})
	s.admin = adminapi.New(adminapi.Config{
		Catalog: cfg.Catalog, Tenants: cfg.Tenants, Shards: cfg.Shards, BackupDir: cfg.BackupDir,
		RequestTimeout: cfg.RequestTimeout, Logger: cfg.Logger, URL: s.URL, DomainTLS: s.domainTLS, Now: s.now,
		Registry: cfg.Registry,
	})
	s.site = site.New(site.Config{
		Catalog: cfg.Catalog, Tenants: cfg.Tenants, Auth: cfg.Auth, RootDomain: cfg.RootDomain,
		RequestTimeout: cfg.RequestTimeout, DemoTTL: cfg.DemoTTL, Logger: cfg.Logger, URL: s.URL,
		Limit: s.siteLimit, Budget: s.creationBudget, Demos: s.metrics.demos, Signups: s.metrics.signups, Now: s.now,
	})
	s.tenantTable = &routeTable{routes: s.tenantRoutes()}
	s.http = &fasthttp.Server{
		Handler:            s.handle,
		Name:               "tenantgate",
		HeaderReceived:     s.headerReceived,
		MaxRequestBodySize: AnonymousBodyLimit, // raised per request by headerReceived
		ReadBufferSize:     16 << 10,           // room for long bearer tokens and cookies
		// ReadTimeout bounds the headers; headerReceived gives a body its
		// own BodyTimeout, so a slow header costs a connection slot for
		// seconds, never a worker for long.
		ReadTimeout:  cfg.Edge.HeaderTimeout,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  cfg.Edge.IdleTimeout,
		// Idle connections give their buffers back, so memory follows the
		// requests being served, not the connections held open.
		ReduceMemoryUsage:     true,
		ConnState:             connState,
		NoDefaultServerHeader: false,
		NoDefaultContentType:  true,
		Logger:                fasthttpLogger{s.log},
		ErrorHandler: func(ctx *fasthttp.RequestCtx, err error) {
			// Malformed HTTP never reaches handle; still answer in JSON.
			status := fasthttp.StatusBadRequest
			msg, code := "Bad request", "BAD_REQUEST"
			if errors.Is(err, fasthttp.ErrBodyTooLarge) {
				s.metrics.bodyRejected.Inc()
				status, msg, code = fasthttp.StatusRequestEntityTooLarge, "Request body too large", "REQUEST_TOO_LARGE"
				if c := guarded(ctx.Conn()); c != nil {
					c.Linger() // let the 413 reach a client still sending
				}
			}
			ctx.SetConnectionClose() // the rest of the request is unread
			// message and code too: libSQL clients read those (hrana.writeError).
			httpapi.WriteJSON(ctx, status, map[string]string{"error": msg, "message": msg, "code": code})
		},
	}
	s.registerConnGauges(cfg.Registerer)
	s.metricsHTTP = metricsHandler(cfg.Gatherer)
	s.ops = &fasthttp.Server{Handler: s.handleOps, Name: "tenantgate-ops", NoDefaultContentType: true}
	return s, nil
}

// Start launches the background work: the Hrana stream expiry, the demo
// reaper and the per-tenant series re-ranking. Shutdown stops and waits for
// them. Calling it again does nothing; Serve and ServeTLS call it too.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.auditor.Start(s.background)
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
	g, err := s.guard(ln)
	if err != nil {
		return err
	}
	return s.http.Serve(g)
}

// ServeOps serves /metrics, /healthz, /readyz and (with Config.Pprof)
// /debug/pprof/ on ln. Its accept errors back off too: running out of
// descriptors must not end the process through this listener either.
func (s *Server) ServeOps(ln net.Listener) error {
	return s.ops.Serve(connlimit.New(ln, connlimit.Config{Logger: s.log}))
}

// Handler is the main request handler, for in-memory tests and benchmarks.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// Shutdown stops accepting requests, waits for in-flight ones (until ctx
// ends) and stops background work. The caller closes the catalog and shards.
func (s *Server) Shutdown(ctx context.Context) error {
	s.startOnce.Do(func() {}) // waits out a Start in progress; none can begin after
	s.stop()
	errc := make(chan error, 2)
	go func() { errc <- s.http.ShutdownWithContext(ctx) }()
	go func() { errc <- s.ops.ShutdownWithContext(ctx) }()
	err := errors.Join(<-errc, <-errc)
	s.hrana.Close() // rolls back open SQL streams before the databases close
	s.auditor.Close()
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
