// Package proxytest starts a real tenantgate proxy for tests: a real catalog
// and real tenant database files in a temp dir, served over a loopback port.
package proxytest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/registry"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/migrations"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/hrana"
	"github.com/microfi/tenantgate/shard"
	"github.com/microfi/tenantgate/shard/bank"
	"github.com/microfi/tenantgate/shard/remote"
)

// Secret is the JWT key every test server uses.
const Secret = "proxytest-secret-0123456789abcdef0123456789"

// RootDomain is the test servers' root domain.
const RootDomain = "microfi.test"

// Options tweaks a test server. Zero values are sensible.
type Options struct {
	DataDir       string // default t.TempDir()
	MaxOpen       int    // default 64
	TenantMetrics int
	PollInterval  time.Duration // catalog change poll; default 50ms
	// WALCheckpointBytes is the shard manager's WAL bound (0: its default).
	WALCheckpointBytes int64
	// Heartbeat, when set, registers the proxy in the fleet registry with
	// this heartbeat interval (Server.Members).
	Heartbeat time.Duration
	Configure func(*proxy.Config)
}

// Server is a running proxy with handles on its parts.
type Server struct {
	URL      string // http://127.0.0.1:PORT
	OpsURL   string // metrics listener
	Addr     string
	DataDir  string
	Catalog  *catalog.Catalog
	Shards   *shard.Manager
	Tenants  *tenants.Service
	Auth     *proxy.Auth
	Registry *prometheus.Registry
	Proxy    *proxy.Server
	Members  *registry.Registry // nil unless Options.Heartbeat
	Client   *http.Client
	t        testing.TB
}

// Start runs a proxy until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.MaxOpen == 0 {
		opts.MaxOpen = 64
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	cat, err := catalog.Open(ctx, "file:"+opts.DataDir+"/catalog.db", catalog.Options{Registerer: reg, Logger: log, PollInterval: opts.PollInterval})
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	shards := shard.NewManager(shard.Config{DataDir: opts.DataDir, MaxOpen: opts.MaxOpen, WALCheckpointBytes: opts.WALCheckpointBytes, Registerer: reg, Logger: log,
		Remote: remote.NewTransport(remote.Options{Post: hrana.RemotePost(0)})})
	shards.Start()
	auth, err := proxy.NewAuth([]byte(Secret))
	if err != nil {
		t.Fatal(err)
	}
	svc := tenants.New(tenants.Options{Catalog: cat, Shards: shards, RootDomain: RootDomain, Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var members *registry.Registry
	var srv *proxy.Server // set before members.Start
	if opts.Heartbeat > 0 {
		if members, err = registry.New(cat, registry.Options{Address: ln.Addr().String(), Version: "test",
			TenantSchema: migrations.Tenant.Latest(), Interval: opts.Heartbeat, Registerer: reg, Logger: log,
			Load: func() map[string]float64 { return srv.FleetLoad() }, OnPeers: func(self string, live []registry.Proxy) { srv.Reweight(self, live) },
		}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := proxy.Config{
		RootDomain: RootDomain, PublicPort: ln.Addr().(*net.TCPAddr).Port, TenantMetrics: opts.TenantMetrics,
		BackupDir: opts.DataDir + "/backups",
		Catalog:   cat, Registry: members, Shards: shards, Tenants: svc, Auth: auth,
		Registerer: reg, Gatherer: reg, Logger: log,
		// Tests and benchmarks drive one tenant far harder than the
		// production per-tenant limits allow; tests of the limits set them.
		TenantRate: proxy.RateLimit{Burst: proxy.Off}, TenantMaxInFlight: proxy.Off,
		Budgets: proxy.Budgets{
			ColdLoginTenant: proxy.RateLimit{Burst: proxy.Off}, ColdLoginClient: proxy.RateLimit{Burst: proxy.Off},
			DemoGlobal: proxy.RateLimit{Burst: proxy.Off}, SignupGlobal: proxy.RateLimit{Burst: proxy.Off}, MaxLiveDemos: proxy.Off,
		},
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	srv, err = proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if members != nil {
		members.Start(ctx)
	}
	srv.Start()
	go srv.Serve(ln)
	go srv.ServeOps(opsLn)
	s := &Server{
		URL: "http://" + ln.Addr().String(), OpsURL: "http://" + opsLn.Addr().String(), Addr: ln.Addr().String(),
		DataDir: opts.DataDir, Catalog: cat, Shards: shards, Tenants: svc, Auth: auth, Registry: reg, Proxy: srv, Members: members,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		t:      t,
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if members != nil {
			members.Drain(sctx)
		}
		srv.Shutdown(sctx)
		if members != nil {
			members.Close(sctx)
		}
		shards.Close()
		cat.Close()
	})
	return s
}

// Host is the full host name of a tenant label.
func Host(label string) string { return label + "." + RootDomain }

// CreateTenant provisions a tenant (country GH unless given) and returns it.
func (s *Server) CreateTenant(host string, country ...string) catalog.Tenant {
	s.t.Helper()
	cc := "GH"
	if len(country) > 0 {
		cc = country[0]
	}
	tn, err := s.Tenants.Create(context.Background(), tenants.CreateRequest{Host: host, Name: "Tenant " + host, Country: cc})
	if err != nil {
		s.t.Fatalf("create tenant %s: %v", host, err)
	}
	return tn
}

// CreateDemoTenant provisions a tenant seeded with sample data and returns
// it with the admin login.
func (s *Server) CreateDemoTenant(host string) (catalog.Tenant, bank.DemoLogin) {
	s.t.Helper()
	var login bank.DemoLogin
	tn, err := s.Tenants.Create(context.Background(), tenants.CreateRequest{
		Host: host, Name: "Tenant " + host, Country: "GH",
		Seed: func(ctx context.Context, db *sql.DB, id int64) (err error) {
			login, err = bank.SeedDemo(ctx, db, id, "GH")
			return err
		},
	})
	if err != nil {
		s.t.Fatalf("create demo tenant %s: %v", host, err)
	}
	return tn, login
}

// Token signs a token for a tenant, role and user, valid for an hour.
func (s *Server) Token(tenantID int64, role string, userID int64) string {
	s.t.Helper()
	c := proxy.Claims{Role: role}
	if tenantID != 0 {
		c.TenantID = proxy.Int(tenantID)
	}
	if userID != 0 {
		c.UserID = proxy.Int(userID)
	}
	tok, _, err := s.Auth.Issue(c, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Error is the body's "error" message ("" if none).
func (r Response) Error() string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error
}

// Do sends a request with the given Host header; body may be nil, a
// string, []byte or any value to encode as JSON. Extra headers come in
// name, value pairs.
func (s *Server) Do(method, host, path, token string, body any, headers ...string) Response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Host = host
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}
