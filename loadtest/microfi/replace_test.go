package microfi_test

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/loadtest/microfi"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// TestProvisionReplacesUnavailable: a tenant whose creation the server
// answers 503 for (an overloaded proxy) is left behind and provisioned
// again under a new host, and provisioning still returns every tenant,
// seeded, against a real proxy; a server that keeps answering 503 fails
// the provisioning after a bounded number of replacements.
func TestProvisionReplacesUnavailable(t *testing.T) {
	srv := proxytest.Start(t, proxytest.Options{})
	var refuse atomic.Value // host substring whose creation is answered 503
	refuse.Store("rp-00003\"")
	var refused atomic.Int64
	upstream := &fasthttp.HostClient{Addr: strings.TrimPrefix(srv.URL, "http://")}
	front := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) {
		if c.IsPost() && string(c.Path()) == "/api/admin/tenants" && bytes.Contains(c.PostBody(), []byte(refuse.Load().(string))) {
			refused.Add(1)
			c.SetStatusCode(503)
			c.SetBodyString(`{"error":"Tenant unavailable"}`)
			return
		}
		if err := upstream.Do(&c.Request, &c.Response); err != nil {
			c.Error(err.Error(), 502)
		}
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go front.Serve(ln)
	t.Cleanup(func() { front.Shutdown() })

	p := &microfi.Provisioner{BaseURL: "http://" + ln.Addr().String(), RootDomain: proxytest.RootDomain, Secret: []byte(proxytest.Secret),
		Prefix: "rp-", Seed: microfi.SeedBulk, UsersPerTenant: 1, AccountsPerUser: 1, Concurrency: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tenants, err := p.Provision(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Load() != 1 || len(tenants) != 4 || tenants[2].Sub != "rp-00003-r1" {
		t.Fatalf("refused %d; tenants %v", refused.Load(), subs(tenants))
	}
	for _, tn := range tenants {
		if tn.ID == 0 || len(tn.Accounts) != 1 {
			t.Errorf("tenant %s: id %d, accounts %v", tn.Sub, tn.ID, tn.Accounts)
		}
		if r := srv.Do("GET", tn.Host, "/api/accounts", tn.AdminToken, nil); r.Status != 200 {
			t.Errorf("tenant %s: GET /api/accounts %d %s", tn.Sub, r.Status, r.Body)
		}
	}

	// The second tenant's creation refused under every new host: at most
	// max(10, n/100) replacements, then the error.
	refuse.Store("rq-00002")
	refused.Store(0)
	p2 := &microfi.Provisioner{BaseURL: p.BaseURL, RootDomain: p.RootDomain, Secret: p.Secret,
		Prefix: "rq-", Seed: microfi.SeedBulk, UsersPerTenant: 1, AccountsPerUser: 1, Concurrency: 2}
	if _, err := p2.Provision(ctx, 3); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a server that keeps answering 503: %v", err)
	}
	if n := refused.Load(); n != 11 {
		t.Errorf("%d refused creations: want 11 (the first, then 10 replacements)", n)
	}
}

func subs(ts []*microfi.Tenant) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Sub)
	}
	return out
}
