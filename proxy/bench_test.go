package proxy_test

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// go test -run '^$' -bench 'HostLookup|TokenVerify|GetAccounts' -benchmem ./proxy/

func BenchmarkHostLookupCached(b *testing.B) {
	s := proxytest.Start(b, proxytest.Options{})
	s.CreateTenant("client1")
	ctx := context.Background()
	if _, err := s.Catalog.FindByHost(ctx, "client1"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Catalog.FindByHost(ctx, "client1"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerifyCold verifies tokens the proxy has not seen: the
// signature check and claim decoding every time (20,000 distinct tokens
// cycle through a 16,384-entry cache, so every lookup misses).
func BenchmarkTokenVerifyCold(b *testing.B) {
	auth, err := proxy.NewAuth([]byte(proxytest.Secret))
	if err != nil {
		b.Fatal(err)
	}
	toks := make([]string, 20000)
	for i := range toks {
		toks[i], _, err = auth.Issue(proxy.Claims{TenantID: proxy.Int(1), UserID: proxy.Int(int64(i + 1)), Role: proxy.RoleStaff}, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := auth.Verify(toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkTokenVerify verifies one token again and again: after the first
// time, a cache hit with only the expiry checked.
func BenchmarkTokenVerify(b *testing.B) {
	auth, err := proxy.NewAuth([]byte(proxytest.Secret))
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := auth.Issue(proxy.Claims{TenantID: proxy.Int(1), UserID: proxy.Int(1), Role: proxy.RoleStaff}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := auth.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetAccounts is a full GET /api/accounts through the real server
// over loopback: routing, cached catalog lookup, JWT, acquire, query, JSON.
func BenchmarkGetAccounts(b *testing.B) { benchGetAccounts(b, 0) }

// BenchmarkGetAccountsFleet is the same with the proxy registered in the
// fleet registry, heartbeating (and re-weighting its limits) every 100 ms:
// side by side with BenchmarkGetAccounts it is the registry's cost.
func BenchmarkGetAccountsFleet(b *testing.B) { benchGetAccounts(b, 100*time.Millisecond) }

func benchGetAccounts(b *testing.B, heartbeat time.Duration) {
	s := proxytest.Start(b, proxytest.Options{Heartbeat: heartbeat})
	tn, _ := s.CreateDemoTenant("client1")
	tok := "Bearer " + s.Token(tn.ID, proxy.RoleStaff, 2)
	c := &fasthttp.HostClient{Addr: s.Addr, MaxConns: 64}
	run := func(req *fasthttp.Request, resp *fasthttp.Response) {
		req.SetRequestURI("http://" + s.Addr + "/api/accounts")
		req.UseHostHeader = true
		req.Header.SetHost(proxytest.Host("client1"))
		req.Header.Set("Authorization", tok)
		if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
		}
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		for pb.Next() {
			run(req, resp)
		}
	})
}
