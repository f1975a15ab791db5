package tlsedge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/catalog"
	"github.com/microfi/tenantgate/catalog/certstore"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/tlsedge"
	"github.com/microfi/tenantgate/shard"
)

const rootDomain = "microfi.test"

const storageKey = "test-storage-key-0123456789abcdef0123"

// edgeProxy is a proxy with its HTTPS edge on loopback listeners, like one
// `tenantgate serve --tls-listen` process.
type edgeProxy struct {
	Proxy    *proxy.Server
	Edge     *tlsedge.Edge
	Catalog  *catalog.Catalog
	Tenants  *tenants.Service
	Registry *prometheus.Registry
	Auth     *proxy.Auth
	HTTPAddr string // "" when the plain listener is off
	TLSAddr  string
}

type edgeOptions struct {
	Plain, Redirect   bool // a plain listener; redirect it to HTTPS
	HTTP01, TLSALPN01 bool // challenge types offered to the CA
	ACME              *tlsedge.ACME
	Maintenance       time.Duration
	RenewalRatio      float64
	Limits            func(*tlsedge.Config) // order budgets
}

// listeners binds the proxy's sockets first, so Pebble can be told the
// ports to validate on.
func listeners(t testing.TB, plain bool) (httpLn, tlsLn net.Listener) {
	t.Helper()
	var err error
	if plain {
		httpLn, err = net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
	}
	tlsLn, err = net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	return httpLn, tlsLn
}

func port(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	return ln.Addr().(*net.TCPAddr).Port
}

func startEdgeProxy(t testing.TB, dataDir string, httpLn, tlsLn net.Listener, o edgeOptions) *edgeProxy {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TLSEDGE_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewRegistry()
	cat, err := catalog.Open(ctx, "file:"+dataDir+"/catalog.db", catalog.Options{Registerer: reg, Logger: log, PollInterval: 50 * time.Millisecond})
	must(t, err)
	shards := shard.NewManager(shard.Config{DataDir: dataDir, MaxOpen: 16, Registerer: reg, Logger: log})
	auth, err := proxy.NewAuth([]byte("tlsedge-test-secret-0123456789abcdef0123"))
	must(t, err)
	store, err := certstore.New(cat.DB(), []byte(storageKey), certstore.Options{Logger: log})
	must(t, err)
	p := &edgeProxy{Catalog: cat, Registry: reg, Auth: auth, TLSAddr: tlsLn.Addr().String()}
	cfg := tlsedge.Config{RootDomain: rootDomain, Catalog: cat, Store: store, ACME: o.ACME,
		// First orders block a handshake; a loaded CI machine may make
		// one slower than the production deadline.
		HandshakeTimeout:    time.Minute,
		MaintenanceInterval: o.Maintenance, RenewalWindowRatio: o.RenewalRatio, Registerer: reg, Logger: log}
	if httpLn != nil {
		p.HTTPAddr = httpLn.Addr().String()
	}
	if o.Limits != nil {
		o.Limits(&cfg)
	}
	if o.HTTP01 {
		cfg.HTTPAddr = p.HTTPAddr
	}
	if o.TLSALPN01 {
		cfg.TLSAddr = p.TLSAddr
	}
	p.Edge, err = tlsedge.New(cfg)
	must(t, err)
	must(t, p.Edge.Start(ctx))
	p.Tenants = tenants.New(tenants.Options{Catalog: cat, Shards: shards, RootDomain: rootDomain, Logger: log})
	p.Proxy, err = proxy.New(proxy.Config{
		RootDomain: rootDomain, PublicScheme: "https", PublicPort: port(tlsLn), HTTPSPort: port(tlsLn),
		TLS: p.Edge, RedirectHTTP: o.Redirect,
		Catalog: cat, Shards: shards, Tenants: p.Tenants, Auth: auth,
		Registerer: reg, Gatherer: reg, Logger: log,
		TenantRate: proxy.RateLimit{Burst: -1}, TenantMaxInFlight: -1,
	})
	must(t, err)
	if httpLn != nil {
		go p.Proxy.Serve(httpLn)
	}
	go p.Proxy.ServeTLS(tlsLn)
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Proxy.Shutdown(sctx)
		p.Edge.Close()
		shards.Close()
		cat.Close()
	})
	return p
}

// handshake dials the proxy's HTTPS listener with sni, verifying against
// roots, and returns the leaf certificate.
func handshake(addr, sni string, roots *x509.CertPool) (*x509.Certificate, bool, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	// X25519 alone: the hybrid post-quantum key share costs ~10x more
	// under the race detector, and the burst below does 500 handshakes.
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: sni, RootCAs: roots,
		NextProtos: []string{"http/1.1"}, CurvePreferences: []tls.CurveID{tls.X25519}})
	if err != nil {
		return nil, false, err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return st.PeerCertificates[0], st.DidResume, nil
}

// httpsClient sends every request to addr, with the URL's host as SNI.
func httpsClient(addr string, roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
}

func metric(t testing.TB, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := result == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					match = true
				}
			}
			if match {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// adminTLS reads a tenant's custom_domain_tls from the admin API, in
// memory (admin.R has no certificate in these tests).
func adminTLS(t testing.TB, p *edgeProxy, id int64) map[string]any {
	t.Helper()
	tok, _, err := p.Auth.Issue(proxy.Claims{Role: proxy.RolePlatformAdmin}, time.Minute)
	must(t, err)
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI(fmt.Sprintf("/api/admin/tenants/%d", id))
	ctx.Request.Header.SetHost("admin." + rootDomain)
	ctx.Request.Header.Set("Authorization", "Bearer "+tok)
	p.Proxy.Handler()(&ctx)
	var out struct {
		Tenant struct {
			TLS map[string]any `json:"custom_domain_tls"`
		} `json:"tenant"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &out); err != nil || ctx.Response.StatusCode() != 200 {
		t.Fatalf("admin GET: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	return out.Tenant.TLS
}

func eventually(t testing.TB, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
	}
}

func createTenant(t testing.TB, p *edgeProxy, host, domain string) catalog.Tenant {
	t.Helper()
	tn, err := p.Tenants.Create(context.Background(), tenants.CreateRequest{Host: host, Name: "Tenant " + host, Country: "GH", CustomDomain: domain})
	must(t, err)
	return tn
}

// One Pebble, two proxies on one catalog: the whole on-demand story.
func TestOnDemandCertificates(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now()
	dataDir := t.TempDir()
	httpA, tlsA := listeners(t, true)
	// Pebble validates HTTP-01 on proxy A's plain port, which redirects
	// everything else to HTTPS: an issued certificate proves challenges
	// are exempt from the redirect.
	pb := startPebble(t, pebbleOptions{HTTPPort: port(httpA), TLSPort: port(tlsA)})
	acme := &tlsedge.ACME{CA: pb.DirectoryURL, Email: "ops@microfi.test", ExtraRoot: pb.CARoot, Profile: "default"}
	a := startEdgeProxy(t, dataDir, httpA, tlsA, edgeOptions{Plain: true, Redirect: true, HTTP01: true, ACME: acme})
	roots := pb.Roots()

	one := createTenant(t, a, "bankone", "bank-one.example")
	two := createTenant(t, a, "banktwo", "bank-two.example")
	suspended := "suspended"
	_, err := a.Catalog.Update(ctx, two.ID, catalog.Update{Status: &suspended})
	must(t, err)

	if st, _ := a.Edge.State(ctx, "bank-one.example"); st.State != certstore.StatePending {
		t.Fatalf("state before the first handshake = %+v, want pending", st)
	}

	// The first HTTPS request obtains the certificate on demand.
	resp, err := httpsClient(a.TLSAddr, roots).Get("https://bank-one.example/")
	if err != nil {
		t.Fatalf("HTTPS to bank-one.example: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS GET / = %d", resp.StatusCode)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=") {
		t.Fatalf("no HSTS on an HTTPS answer: %q", h)
	}
	leafA := resp.TLS.PeerCertificates[0]
	if err := leafA.VerifyHostname("bank-one.example"); err != nil {
		t.Fatal(err)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	if got := metric(t, a.Registry, "tenantgate_certificate_orders_total", "obtained"); got != 1 {
		t.Fatalf("orders obtained = %v", got)
	}
	st, err := a.Edge.State(ctx, "bank-one.example")
	must(t, err)
	if st.State != certstore.StateActive || !st.NotAfter.Equal(leafA.NotAfter) {
		t.Fatalf("state after issuance = %+v, want active until %v", st, leafA.NotAfter)
	}

	t.Logf("%v: %s", time.Since(t0), "Plain HTTP is red")
	// Plain HTTP is redirected to HTTPS with 308.
	req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr+"/api/accounts?x=1", nil)
	req.Host = "bank-one.example"
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Do(req)
	must(t, err)
	resp.Body.Close()
	if want := fmt.Sprintf("https://bank-one.example:%d/api/accounts?x=1", port(tlsA)); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("plain HTTP = %d Location %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	t.Logf("%v: %s", time.Since(t0), "A second proxy on")
	// A second proxy, its own process (the real binary) sharing only the
	// data directory, serves the same certificate, and nothing is ordered
	// again.
	caRoot := filepath.Join(t.TempDir(), "pebble-ca.pem")
	must(t, os.WriteFile(caRoot, pb.CARoot, 0o600))
	b := startServeProcess(t, dataDir, "--acme-email", "ops@microfi.test", "--acme-ca", pb.DirectoryURL,
		"--acme-ca-root", caRoot, "--acme-profile", "default", "--tls-storage-key", storageKey)
	leafB, _, err := handshake(b.TLSAddr, "bank-one.example", roots)
	if err != nil {
		t.Fatalf("proxy B handshake: %v", err)
	}
	if !leafB.Equal(leafA) {
		t.Fatalf("proxy B serves another certificate (serial %v, A's %v)", leafB.SerialNumber, leafA.SerialNumber)
	}
	resp, err = httpsClient(b.TLSAddr, roots).Get("https://bank-one.example/")
	if err != nil {
		t.Fatalf("HTTPS through proxy B: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.TLS.PeerCertificates[0].Equal(leafA) {
		t.Fatalf("HTTPS GET / through proxy B = %d", resp.StatusCode)
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders after proxy B served the domain, want 1", n)
	}
	if got := scrapeMetric(t, b.OpsAddr, `tenantgate_certificate_orders_total{result="obtained"}`); got != 0 {
		t.Fatalf("proxy B obtained %v certificates, want 0", got)
	}

	t.Logf("%v: %s", time.Since(t0), "Unknown and suspe")
	// The admin API shows the domain's certificate as active: asked of B
	// over its plain listener with a token the CLI mints from the shared
	// data directory (A redirects plain HTTP, and admin.R has no
	// certificate here).
	tok := cli(t, "token", "--data-dir", dataDir, "--role", "platform_admin")
	req, _ = http.NewRequest("GET", "http://"+b.HTTPAddr+fmt.Sprintf("/api/admin/tenants/%d", one.ID), nil)
	req.Host = "admin." + rootDomain
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	var view struct {
		Tenant struct {
			TLS map[string]any `json:"custom_domain_tls"`
		} `json:"tenant"`
	}
	err = json.NewDecoder(resp.Body).Decode(&view)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin GET on proxy B: %d %v", resp.StatusCode, err)
	}
	if got := view.Tenant.TLS; got["state"] != "active" || got["not_after"] == nil {
		t.Fatalf("admin view of the certificate: %v", got)
	}

	// Unknown and suspended tenants' domains: no certificate, no order.
	for _, name := range []string{"nobody.example", "bank-two.example", "deep.bankone." + rootDomain} {
		if _, _, err := handshake(a.TLSAddr, name, roots); err == nil {
			t.Fatalf("handshake for %s succeeded", name)
		}
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders after refused names, want 1", n)
	}
	// The server counts a handshake after the client has seen it fail.
	eventually(t, func() bool { return metric(t, a.Registry, "tenantgate_tls_handshakes_total", "rejected") >= 3 },
		"rejected handshakes counted")

	t.Logf("%v: %s", time.Since(t0), "A burst of 500")
	// A burst of 500 random names: one catalog miss each at most, no
	// orders, and the proxy keeps answering.
	missesBefore := metric(t, a.Registry, "tenantgate_catalog_cache_misses_total", "")
	var failed atomic.Int64
	var wg sync.WaitGroup
	names := make(chan string)
	for range 8 {
		wg.Go(func() {
			for n := range names {
				if _, _, err := handshake(a.TLSAddr, n, roots); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	for i := range 500 {
		names <- fmt.Sprintf("r%d-%d.example", i, time.Now().UnixNano()%1e6)
	}
	close(names)
	wg.Wait()
	if failed.Load() != 500 {
		t.Fatalf("%d of 500 random names failed the handshake", failed.Load())
	}
	if misses := metric(t, a.Registry, "tenantgate_catalog_cache_misses_total", "") - missesBefore; misses > 500 {
		t.Fatalf("500 random names cost %v catalog misses", misses)
	}
	start := time.Now()
	if _, _, err := handshake(a.TLSAddr, "bank-one.example", roots); err != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("after the burst: %v in %v", err, time.Since(start))
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders after the burst, want 1", n)
	}

	t.Logf("%v: %s", time.Since(t0), "Removing the doma")
	// Removing the domain stops the certificate being served.
	empty := ""
	_, err = a.Catalog.Update(ctx, one.ID, catalog.Update{CustomDomain: &empty})
	must(t, err)
	if _, _, err := handshake(a.TLSAddr, "bank-one.example", roots); err == nil {
		t.Fatal("a removed custom domain still completes a handshake")
	}
	if n := pb.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	_ = testutil.ToFloat64
}
