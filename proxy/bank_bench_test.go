package proxy_test

import (
	"encoding/json"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// benchCall runs one request through the server's full handler (host
// routing, token check, tenant lookup, database acquire, store) without the
// network, and fails unless it gets status.
func benchCall(b *testing.B, h fasthttp.RequestHandler, ctx *fasthttp.RequestCtx, req *fasthttp.Request, status int) {
	ctx.Response.Reset()
	ctx.Init(req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}, nil)
	h(ctx)
	if ctx.Response.StatusCode() != status {
		b.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

func benchRequest(method, host, path, token string, body any) *fasthttp.Request {
	req := fasthttp.AcquireRequest()
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetHost(host)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		j, _ := json.Marshal(body)
		req.SetBody(j)
		req.Header.SetContentType("application/json")
	}
	return req
}

// BenchmarkBankLogin is one POST /api/auth/login (argon2id dominates).
func BenchmarkBankLogin(b *testing.B) {
	s := proxytest.Start(b, proxytest.Options{})
	f := newBankFixture(b, s, "acme", "GH")
	h := s.Proxy.Handler()
	req := benchRequest("POST", f.host, "/api/auth/login", "", map[string]string{"email": "teller@acme.example", "password": fixturePassword})
	var ctx fasthttp.RequestCtx
	b.ReportAllocs()
	for b.Loop() {
		benchCall(b, h, &ctx, req, 200)
	}
}

// BenchmarkBankListAccounts is GET /api/accounts as staff (a tenant with
// 20 accounts).
func BenchmarkBankListAccounts(b *testing.B) {
	s := proxytest.Start(b, proxytest.Options{})
	f := newBankFixture(b, s, "acme", "GH")
	h := s.Proxy.Handler()
	var ctx fasthttp.RequestCtx
	for i := 0; i < 18; i++ {
		benchCall(b, h, &ctx, benchRequest("POST", f.host, "/api/accounts", f.tokens[proxy.RoleStaff], map[string]any{"user_id": f.bob.ID, "type": "savings"}), 201)
	}
	req := benchRequest("GET", f.host, "/api/accounts", f.tokens[proxy.RoleStaff], nil)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		benchCall(b, h, &ctx, req, 200)
	}
}

// reportCPU reports the process's CPU time per operation (cpu-ns/op) from
// the call to the deferred end: on a shared machine wall time per op
// measures the neighbours, CPU time much less so.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// BenchmarkBankTransfer is one POST /api/transactions transfer as staff
// (alternating direction so funds never run out), with and without an
// Idempotency-Key.
func BenchmarkBankTransfer(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotency_key=%v", keyed), func(b *testing.B) {
			s := proxytest.Start(b, proxytest.Options{})
			f := newBankFixture(b, s, "acme", "GH")
			h := s.Proxy.Handler()
			tok := f.tokens[proxy.RoleStaff]
			reqs := [2]*fasthttp.Request{
				benchRequest("POST", f.host, "/api/transactions", tok, map[string]any{"type": "transfer", "account_id": f.aliceAcc.ID, "to_account_id": f.bobAcc.ID, "amount": 1}),
				benchRequest("POST", f.host, "/api/transactions", tok, map[string]any{"type": "transfer", "account_id": f.bobAcc.ID, "to_account_id": f.aliceAcc.ID, "amount": 1}),
			}
			var ctx fasthttp.RequestCtx
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				req := reqs[i%2]
				if keyed {
					req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", i))
				}
				benchCall(b, h, &ctx, req, 201)
				i++
			}
		})
	}
}
