package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/proxy/tlsedge"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/fairshare"
	"github.com/microfi/tenantgate/shard/remote"
	"github.com/microfi/tenantgate/shard/storage"
	"github.com/microfi/tenantgate/shard/verify"
)

// serveConfig is the serve command's flags.
type serveConfig struct {
	listen, metricsListen, rootDomain, jwtSecret, catalogURL string
	maxOpen, tenantMetrics, publicPort                       int
	requestTimeout                                           time.Duration
	logLevel, logFormat                                      string
	seedDemo                                                 bool
	sql                                                      hrana.Config
	sqlPlans                                                 sqlPlansFlag
	cpuWeights                                               cpuWeightsFlag
	cpuNice                                                  bool
	cpu                                                      fairshare.Config
	budgets                                                  proxy.Budgets // budget_flags.go
	loginIP, loginTenant                                     proxy.RateLimit
	walCheckpoint                                            int64
	tenantRate                                               float64
	demoTTL, reapInterval                                    time.Duration
	tenantBurst, tenantInFlight                              int
	auditRate                                                int
	tls                                                      tlsFlags // tls.go
	// Edge limits and client addresses (issue 12).
	maxConns, maxConnsPerIP, maxIdleConns int
	headerTimeout, bodyTimeout            time.Duration
	trustedProxies                        string
	proxyProtocol, pprof, serverTiming    bool
	// The fleet (issue 20).
	proxyID, advertise    string
	heartbeat, drainDelay time.Duration
}

func runServe(ctx context.Context, env *Env, args []string) error {
	f := env.flagSet("serve")
	var c serveConfig
	f.StringVar(&c.listen, "listen", ":8080", "`ADDR` for plain-HTTP tenant, public and admin traffic (\"\" = off)")
	f.StringVar(&c.metricsListen, "metrics-listen", "127.0.0.1:9090", "`ADDR` for /metrics, /healthz, /readyz (and /debug/pprof/ with --pprof); unauthenticated, keep it private")
	f.BoolVar(&c.pprof, "pprof", false, "serve /debug/pprof/ on the metrics listener")
	f.BoolVar(&c.serverTiming, "server-timing", false, "answer tenant requests that opened the tenant's database with a Server-Timing header (tenant-db;desc=cold;dur=MS), for load tests")
	f.IntVar(&c.maxConns, "max-conns", 0, "concurrent connections on --listen and --tls-listen together (default: sized from the file-descriptor limit)")
	f.IntVar(&c.maxConnsPerIP, "max-conns-per-ip", proxy.DefaultMaxConnsPerIP, "concurrent connections per client address, IPv6 by /64 (0 = unlimited; trusted proxies are exempt)")
	f.IntVar(&c.maxIdleConns, "max-idle-conns", 0, "idle keep-alive connections kept (default: half of --max-conns)")
	f.DurationVar(&c.headerTimeout, "header-timeout", proxy.DefaultHeaderTimeout, "a request's headers must arrive within this")
	f.DurationVar(&c.bodyTimeout, "body-timeout", proxy.DefaultBodyTimeout, "a request's body must arrive within this after its headers")
	f.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated `CIDRS` of proxies whose X-Forwarded-For / Forwarded (and PROXY protocol) name the client")
	f.BoolVar(&c.proxyProtocol, "proxy-protocol", false, "the trusted proxies send a PROXY protocol v1/v2 header on every connection")
	f.StringVar(&c.rootDomain, "root-domain", proxy.DefaultRootDomain, "root `DOMAIN` R: R is the public site, admin.R the admin panel, X.R tenant X")
	f.StringVar(&c.jwtSecret, "jwt-secret", "", "HS256 `KEY`, at least 32 characters (default: <data-dir>/jwt.secret, created on first run)")
	f.StringVar(&c.catalogURL, "catalog-url", "", "catalog database `URL`: file:PATH, libsql://, https:// or http:// (default file:<data-dir>/catalog.db)")
	f.IntVar(&c.maxOpen, "max-open-tenants", 0, "tenant databases kept open at once (default: sized from the file-descriptor and memory limits)")
	f.IntVar(&c.tenantMetrics, "tenant-metrics", 0, "per-tenant metric series for the N busiest tenants (0 = off)")
	f.IntVar(&c.publicPort, "public-port", 0, "port used in printed and returned links (default: the --listen port)")
	f.DurationVar(&c.requestTimeout, "request-timeout", proxy.DefaultRequestTimeout, "deadline for a request's database work")
	f.StringVar(&c.logLevel, "log-level", "info", "`LEVEL`: debug, info, warn or error")
	f.StringVar(&c.logFormat, "log-format", "text", "`FORMAT`: text or json")
	f.DurationVar(&c.sql.StreamIdleTimeout, "sql-stream-timeout", hrana.DefaultStreamIdleTimeout, "idle SQL-over-HTTP streams expire (and roll back) after this long")
	f.DurationVar(&c.sql.StatementTimeout, "sql-statement-timeout", hrana.DefaultStatementTimeout, "a SQL statement running longer is interrupted")
	f.DurationVar(&c.sql.MaxSnapshotAge, "sql-max-snapshot", hrana.DefaultMaxSnapshotAge, "an SQL stream holding a transaction (a read snapshot, which stops WAL checkpoints) longer than this is closed and rolled back")
	f.IntVar(&c.sql.MaxStreamsPerTenant, "sql-max-streams", hrana.DefaultMaxStreamsPerTenant, "open SQL streams allowed per tenant (plans without their own cap); a new stream beyond it waits up to --sql-stream-queue-wait")
	f.DurationVar(&c.sql.StreamQueueWait, "sql-stream-queue-wait", hrana.DefaultStreamQueueWait, "how long a new SQL stream waits for a slot at its tenant's stream cap before 429 (negative = refuse at once)")
	f.Var(&c.sqlPlans, "sql-plan-limits", "per-plan SQL `LIMITS`, e.g. 'growth:streams=128,timeout=10s;enterprise:rows=250000,bytes=67108864' (keys streams, rows, bytes, timeout; unset keys keep the defaults in the README)")
	f.IntVar(&c.cpu.Tokens, "sql-cpu-tokens", 0, "long-running SQL statements that run at once, shared fairly between tenants (default: cores - 1)")
	f.IntVar(&c.cpu.MaxWaiting, "sql-cpu-max-waiting", fairshare.DefaultMaxWaiting, "long-running statements one tenant may have waiting for a CPU share; beyond it statements are interrupted and new SQL requests wait (--sql-cpu-admit-wait), then get 429")
	f.IntVar(&c.cpu.APIMaxWaiting, "api-cpu-max-waiting", fairshare.DefaultAPIMaxWaiting, "API calls of a heavy tenant (one over its light CPU share while another tenant is busy) that may wait for a CPU share; beyond it they wait --sql-cpu-admit-wait, then get 429")
	f.DurationVar(&c.cpu.AdmitWait, "sql-cpu-admit-wait", fairshare.DefaultAdmitWait, "how long a new SQL request of a tenant whose CPU queue is full waits for room before its 429 (negative: refuse at once)")
	f.Var(&c.cpuWeights, "cpu-weights", "plan `WEIGHTS` in the fair CPU scheduler, e.g. 'demo=1,starter=2,growth=4,enterprise=8' (the defaults; a tenant gets CPU in proportion under contention)")
	f.BoolVar(&c.cpuNice, "sql-cpu-nice", true, "run heavy tenant work on threads at nice 19 where the priority can be restored (root, CAP_SYS_NICE, LimitNICE=20); false: never (as where it cannot)")
	f.Float64Var(&c.tenantRate, "tenant-rate", 1000, "sustained requests per second allowed per tenant (0 = unlimited)")
	f.IntVar(&c.tenantBurst, "tenant-burst", 2000, "requests a tenant may send at once above its rate")
	f.IntVar(&c.tenantInFlight, "tenant-max-inflight", proxy.DefaultTenantMaxInFlight, "concurrent requests per tenant (0 = unlimited)")
	f.DurationVar(&c.demoTTL, "demo-ttl", proxy.DefaultDemoTTL, "lifetime of demo tenants created on the public site")
	f.DurationVar(&c.reapInterval, "reap-interval", tenants.DefaultReapInterval, "how often expired demo tenants are removed (0 = never)")
	f.IntVar(&c.auditRate, "ledger-audit-rate", verify.DefaultAuditRate, "tenants a minute the continuous ledger audit verifies, round robin (0 = off); findings count in tenantgate_ledger_audit_failures_total")
	f.BoolVar(&c.seedDemo, "seed-demo", true, "create the demo tenant (id 1, host demo) when the catalog is empty")
	f.StringVar(&c.proxyID, "proxy-id", "", "this proxy's `ID` in the fleet registry (default: the advertised address)")
	f.StringVar(&c.advertise, "advertise-addr", "", "`ADDR` (host:port) this proxy registers as its address (default: this host's name and the --listen port)")
	f.DurationVar(&c.heartbeat, "heartbeat-interval", registry.DefaultInterval, "how often the proxy heartbeats in the registry; it counts as dead after 5 missed")
	f.DurationVar(&c.drainDelay, "drain-delay", 0, "on SIGTERM, how long to keep serving after /readyz turns 503 (let the load balancer notice) before draining")
	c.tls.register(f)
	registerBudgets(f.FlagSet, &c.budgets)
	registerLoginLimits(f.FlagSet, &c.loginIP, &c.loginTenant)
	f.Int64Var(&c.walCheckpoint, "wal-checkpoint-size", shard.DefaultWALCheckpointBytes, "`BYTES`: a tenant's WAL larger than this is checkpointed and truncated in the background")
	if err := f.parse(args); err != nil {
		return err
	}
	if err := c.tls.check(c.listen); err != nil {
		return err
	}
	log, err := newLogger(env, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	if c.proxyProtocol && c.trustedProxies == "" {
		return errUsage("--proxy-protocol needs --trusted-proxies (the peers allowed to send the header)")
	}
	if c.maxConns < 0 || c.maxConnsPerIP < 0 || c.maxIdleConns < 0 {
		return errUsage("--max-conns, --max-conns-per-ip and --max-idle-conns must not be negative")
	}
	// A rate outside this range has no refill interval a timer can keep
	// (NaN read as unlimited, Inf or 1e-12 as never refilled).
	if math.IsNaN(c.tenantRate) || c.tenantRate < 0 || c.tenantRate > 1e9 || (c.tenantRate > 0 && c.tenantRate < 1e-6) {
		return errUsage("--tenant-rate must be 0 (unlimited) or between 0.000001 and 1000000000 requests per second")
	}
	return serve(ctx, env, f.DataDir(), c, log)
}

func serve(ctx context.Context, env *Env, dataDir string, c serveConfig, log *slog.Logger) error {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	secret, err := jwtSecret(dataDir, c.jwtSecret)
	if err != nil {
		return err
	}
	auth, err := proxy.NewAuth(secret)
	if err != nil {
		return err
	}
	nofile, err := shard.RaiseFileLimit()
	if err != nil {
		log.Warn("could not raise the file-descriptor limit", "err", err)
	}
	trusted, err := proxy.ParseTrustedProxies(c.trustedProxies)
	if err != nil {
		return errUsage("--trusted-proxies: " + err.Error())
	}
	// The descriptor budget (README, "File descriptors"): a reserve for the
	// process, then connections and the sockets they forward on, then
	// tenant databases out of the rest, so together they can never exceed
	// the limit.
	split := splitFDs(nofile, c.maxConns)
	c.maxConns = split.conns
	if c.maxOpen <= 0 {
		// As many as both the descriptors and the memory allow (README,
		// "Open tenant databases").
		c.maxOpen = min(shard.MaxOpenForLimit(split.tenants), shard.MaxOpenForMemory(memoryLimit()))
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if c.heartbeat <= 0 {
		c.heartbeat = registry.DefaultInterval
	}
	// The caches stop being trusted at half the dead timeout, so a proxy the
	// fleet counts dead has stopped serving from stale catalog state.
	cat, err := catalog.Open(ctx, catalogURL(dataDir, c.catalogURL), catalog.Options{Registerer: reg, Logger: log,
		StaleAfter: registry.DeadAfter(c.heartbeat) / 2})
	if err != nil {
		return err
	}
	defer cat.Close()
	// Migrate-on-open stops at the newest tenant schema every live proxy can
	// serve (set from the registry at each heartbeat).
	var ceiling atomic.Int64
	ceiling.Store(int64(migrations.Tenant.Latest()))
	// Tenants on libSQL servers share a bounded keep-alive pool per server.
	storage.SizeRemotePool(storage.RemoteIdleConnsPerHost, storage.RemoteMaxConnsPerHost)
	shardCfg := shard.Config{DataDir: dataDir, MaxOpen: c.maxOpen, WALCheckpointBytes: c.walCheckpoint, Registerer: reg, Logger: log,
		SchemaCeiling: func() int { return int(ceiling.Load()) },
		// Forwarded SQL to tenants on libSQL servers goes through the
		// proxy's own HTTP client (see BENCHMARKS.md, remote point read).
		Remote: remote.NewTransport(remote.Options{Post: hrana.RemotePost(0)})}
	if nofile > 0 { // every tenant connection, Hrana's included, counts against it
		shardCfg.FDBudget = shard.FDBudgetForLimit(split.tenants)
	}
	shards := shard.NewManager(shardCfg)
	defer shards.Close()
	shards.Start()
	root, _ := catalog.NormalizeHost(c.rootDomain) // proxy.New refuses a bad one
	svc := tenants.New(tenants.Options{Catalog: cat, Shards: shards, RootDomain: root, Logger: log})
	// Repair what a crash left (half-created tenants, orphan files) before
	// any request can see it.
	if _, err := svc.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconcile tenant storage: %w", err)
	}

	demoLogin, err := seedDemoTenant(ctx, svc, c.seedDemo)
	if err != nil {
		return fmt.Errorf("seed demo tenant: %w", err)
	}
	var ln, tlsLn net.Listener // either may be off
	var httpAddr, tlsAddr string
	if c.listen != "" {
		if ln, err = net.Listen("tcp", c.listen); err != nil {
			return fmt.Errorf("listen %s: %w", c.listen, err)
		}
		defer ln.Close()
		httpAddr = ln.Addr().String()
	}
	if c.tls.listen != "" {
		if tlsLn, err = c.tls.listenTLS(); err != nil {
			return err
		}
		defer tlsLn.Close()
		tlsAddr = tlsLn.Addr().String()
	}
	var edge *tlsedge.Edge
	if tlsLn != nil {
		if edge, err = c.tls.edge(ctx, dataDir, c.rootDomain, cat, reg, log, httpAddr, tlsAddr); err != nil {
			return err
		}
		defer edge.Close()
	}
	scheme, httpsPort := "http", 0
	if tlsLn != nil {
		scheme, httpsPort = "https", tlsLn.Addr().(*net.TCPAddr).Port
	}
	if c.publicPort == 0 && tlsLn != nil {
		c.publicPort = httpsPort
	} else if c.publicPort == 0 {
		c.publicPort = ln.Addr().(*net.TCPAddr).Port
	}
	c.sql.Logger = log
	tenantRate := proxy.RateLimit{Burst: proxy.Off}
	if c.tenantRate > 0 {
		tenantRate = proxy.RateLimit{Burst: max(c.tenantBurst, 1), Every: time.Duration(float64(time.Second) / c.tenantRate)}
	}
	var srv *proxy.Server
	members, err := registry.New(cat, registry.Options{
		ID: c.proxyID, Address: advertiseAddr(c.advertise, addrOf(ln, tlsLn)), Version: proxy.BuildVersion(),
		TenantSchema: migrations.Tenant.Latest(), Interval: c.heartbeat, Registerer: reg, Logger: log,
		// srv is set before Start, which runs the first heartbeat.
		Load: func() map[string]float64 { return srv.FleetLoad() },
		OnPeers: func(self string, live []registry.Proxy) {
			ceiling.Store(int64(registry.SchemaCeiling(migrations.Tenant, live)))
			srv.Reweight(self, live)
		},
	})
	if err != nil {
		return err
	}
	c.cpu.NoNice = !c.cpuNice
	srv, err = proxy.New(proxy.Config{
		Edge: proxy.EdgeLimits{
			MaxConns: c.maxConns, MaxConnsPerIP: flagOff(c.maxConnsPerIP), MaxIdleConns: c.maxIdleConns,
			HeaderTimeout: c.headerTimeout, BodyTimeout: c.bodyTimeout, ProxyProtocol: c.proxyProtocol,
		},
		TrustedProxies: trusted, Pprof: c.pprof, ServerTiming: c.serverTiming,
		TenantRate: tenantRate, TenantMaxInFlight: flagOff(c.tenantInFlight),
		DemoTTL: c.demoTTL, ReapInterval: flagOff(c.reapInterval), LedgerAuditRate: flagOff(c.auditRate),
		RootDomain: c.rootDomain, PublicPort: c.publicPort, RequestTimeout: c.requestTimeout,
		TenantMetrics: c.tenantMetrics, BackupDir: filepath.Join(dataDir, "backups"), Hrana: c.sql, SQLPlans: c.sqlPlans.plans, CPU: c.cpu, CPUWeights: c.cpuWeights.weights,
		Budgets: c.budgets, LoginIPLimit: c.loginIP, LoginTenantLimit: c.loginTenant,
		Catalog: cat, Registry: members, Shards: shards, Tenants: svc, Auth: auth,
		Registerer: reg, Gatherer: reg, Logger: log,
		PublicScheme: scheme, TLS: edge, RedirectHTTP: c.tls.redirectHTTP, HTTPSPort: httpsPort, EdgeHostname: c.tls.edgeHostname,
	})
	if err != nil {
		return err
	}
	members.Start(ctx)
	defer members.Close(context.Background())
	opsLn, err := net.Listen("tcp", c.metricsListen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.metricsListen, err)
	}
	errc := make(chan error, 3)
	if ln != nil {
		go func() { errc <- srv.Serve(ln) }()
	}
	if tlsLn != nil {
		go func() { errc <- srv.ServeTLS(tlsLn) }()
	}
	go func() { errc <- srv.ServeOps(opsLn) }()
	go background(ctx, cat, log)
	if env.Ready != nil {
		env.Ready(httpAddr, opsLn.Addr().String())
	}
	if env.ReadyTLS != nil && tlsLn != nil {
		env.ReadyTLS(tlsAddr)
	}
	bannerAddr := tlsLn
	if ln != nil {
		bannerAddr = ln
	}
	printBanner(env, srv, auth, bannerAddr.Addr(), opsLn.Addr(), demoLogin, c)
	if tlsLn != nil {
		fmt.Fprintf(env.Stdout, "HTTPS on %s (the certificate is chosen by SNI: curl --resolve demo.%s:%d:127.0.0.1 https://demo.%s:%d/)\n\n",
			tlsAddr, srv.RootDomain(), httpsPort, srv.RootDomain(), httpsPort)
	}
	log.Info("tenantgate serving", "listen", httpAddr, "tls_listen", tlsAddr, "metrics", opsLn.Addr().String(),
		"root_domain", srv.RootDomain(), "max_open_tenants", c.maxOpen, "max_conns", c.maxConns, "nofile", nofile)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	// Leave the fleet first: readiness turns 503 and peers stop counting
	// this proxy for limits; it still applies catalog changes while it
	// finishes what it has. Then drain, then remove the registry row.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+c.drainDelay)
	defer cancel()
	if err := members.Drain(sctx); err != nil {
		log.Warn("mark draining in the registry", "err", err)
	}
	if c.drainDelay > 0 {
		log.Info("draining: readiness is off; waiting for the load balancer", "drain_delay", c.drainDelay)
		time.Sleep(c.drainDelay)
	}
	log.Info("shutting down: draining in-flight requests")
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if err := members.Close(sctx); err != nil {
		log.Warn("deregister", "err", err)
	}
	return nil
}

// background runs the periodic housekeeping of a serving process.
func background(ctx context.Context, cat *catalog.Catalog, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := cat.PruneChanges(ctx); err != nil {
				log.Warn("prune catalog change log", "err", err)
			}
		}
	}
}

// seedDemoTenant creates the showcase tenant (host "demo", id 1 on a new
// catalog, GH) with sample data when the catalog is empty, and returns its
// admin login (nil if it already existed).
func seedDemoTenant(ctx context.Context, svc *tenants.Service, enabled bool) (*bank.DemoLogin, error) {
	if !enabled {
		return nil, nil
	}
	var login bank.DemoLogin
	created, err := svc.EnsureShowcase(ctx, func(ctx context.Context, db *sql.DB, id int64) error {
		var err error
		login, err = bank.SeedDemo(ctx, db, id, "GH")
		return err
	})
	if err != nil || !created {
		return nil, err
	}
	return &login, nil
}

// printBanner says where everything is. It prints a token only for a demo
// tenant this very start seeded on an empty catalog: any other tenant 1 may
// be a real institution, and a printed admin token would be a credential
// in every log that captures stdout.
func printBanner(env *Env, srv *proxy.Server, auth *proxy.Auth, addr, ops net.Addr, login *bank.DemoLogin, c serveConfig) {
	w := env.Stdout
	port := addr.(*net.TCPAddr).Port
	fmt.Fprintf(w, "tenantgate is running (max %d open tenant databases, %d connections)\n\n", c.maxOpen, c.maxConns)
	fmt.Fprintf(w, "  public site     %s\n", srv.URL(""))
	fmt.Fprintf(w, "  admin panel     %s\n", srv.URL("admin"))
	if login != nil {
		fmt.Fprintf(w, "  demo tenant     %s   (host %q, tenant id 1)\n", srv.URL("demo"), "demo")
	}
	fmt.Fprintf(w, "  metrics         http://%s/metrics\n", loopback(ops))
	if login == nil {
		fmt.Fprintf(w, "\nMint a token for a tenant with:\n\n  tenantgate token --data-dir DIR --tenant HOST --role admin --user ID\n\n")
		return
	}
	fmt.Fprintf(w, "  demo login      %s / %s\n", login.Email, login.Password)
	tok, _, err := auth.Issue(proxy.Claims{TenantID: proxy.Int(1), UserID: proxy.Int(1), Role: proxy.RoleAdmin}, 24*time.Hour)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "\nA token for the demo tenant's admin (valid 24h; printed because this start created the demo):\n\n  %s\n", tok)
	fmt.Fprintf(w, "\nTry it:\n\n  curl -H 'Host: demo.%s' -H 'Authorization: Bearer %s' http://127.0.0.1:%d/api/accounts\n\n",
		srv.RootDomain(), tok, port)
}

// fdReserve is kept for the process itself: listeners, the catalog's
// connections (a bounded lookup pool and a few more), the tenant check
// log, logs, epoll.
const fdReserve = 256

// fdSplit is how serve divides RLIMIT_NOFILE (README, "File
// descriptors").
type fdSplit struct {
	conns    int    // --max-conns: inbound connections, one descriptor each
	outbound int    // sockets to shards and a remote catalog: a forwarded request holds one
	tenants  uint64 // tenant databases: 3 per open database (shard.FDsPerDatabase)
}

// splitFDs gives a quarter of what is left after the reserve to inbound
// connections (unless --max-conns says otherwise; at most 50,000: each
// also costs a goroutine and buffers), a quarter of that to the sockets
// they forward on, and the rest to tenant databases. Before, half went to
// connections and tenant databases kept a second reserve of 1,024 of
// their own: with nofile = 20,000 that was 9,968 connections and 3,002
// databases (now 4,936 and 4,524), on a 2-core machine that serves a few
// thousand requests a second while each database not open costs an open.
func splitFDs(nofile uint64, maxConns int) fdSplit {
	avail := nofile - min(nofile, fdReserve)
	s := fdSplit{conns: maxConns}
	if s.conns <= 0 {
		s.conns = max(16, int(min(avail/4, 50_000)))
	}
	s.outbound = max(16, s.conns/4)
	s.tenants = avail - min(avail, uint64(s.conns+s.outbound))
	return s
}

func loopback(a net.Addr) string {
	s := a.String()
	if strings.HasPrefix(s, "[::]:") || strings.HasPrefix(s, "0.0.0.0:") {
		return "127.0.0.1" + s[strings.LastIndex(s, ":"):]
	}
	return s
}

func newLogger(env *Env, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, errUsage("--log-level must be debug, info, warn or error")
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(env.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(env.Stderr, opts)), nil
	}
	return nil, errUsage("--log-format must be text or json")
}

// flagOff maps a flag's "0 (or less) = off/unlimited" onto the Config's
// one meaning of off, proxy.Off; zero in a Config means the default, and
// every flag already defaults to that default.
func flagOff[T int | time.Duration](v T) T {
	if v <= 0 {
		return T(proxy.Off)
	}
	return v
}

// addrOf is the first listener's address (the plain one if both are on).
func addrOf(lns ...net.Listener) net.Addr {
	for _, ln := range lns {
		if ln != nil {
			return ln.Addr()
		}
	}
	return nil
}
