package tlsedge_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// staticTLS starts a proxytest server with an HTTPS listener serving a
// self-signed certificate for R and *.R (no ACME), and returns it with the
// HTTPS address and a pool trusting the certificate.
func staticTLS(b *testing.B, disableTickets bool) (*proxytest.Server, string, *x509.CertPool) {
	b.Helper()
	certPEM, keyPEM := selfSigned(b, proxytest.RootDomain, "*."+proxytest.RootDomain)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	must(b, err)
	var edge *tlsedge.Edge
	s := proxytest.Start(b, proxytest.Options{Configure: func(c *proxy.Config) {
		edge, err = tlsedge.New(tlsedge.Config{RootDomain: proxytest.RootDomain, Catalog: c.Catalog, Certificate: &pair,
			DisableSessionTickets: disableTickets, Registerer: c.Registerer, Logger: c.Logger})
		must(b, err)
		must(b, edge.Start(b.Context()))
		b.Cleanup(edge.Close)
		c.TLS = edge
	}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	go s.Proxy.ServeTLS(ln)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return s, ln.Addr().String(), pool
}

// BenchmarkAccountsHTTPvsHTTPS is GET /api/accounts over kept-alive
// connections, plain and TLS, on one server, side by side.
func BenchmarkAccountsHTTPvsHTTPS(b *testing.B) {
	s, tlsAddr, pool := staticTLS(b, false)
	tn, _ := s.CreateDemoTenant("client1")
	tok := "Bearer " + s.Token(tn.ID, proxy.RoleStaff, 2)
	host := proxytest.Host("client1")
	for _, bc := range []struct {
		name string
		c    *fasthttp.HostClient
		url  string
	}{
		{"http", &fasthttp.HostClient{Addr: s.Addr, MaxConns: 64}, "http://" + host + "/api/accounts"},
		{"https", &fasthttp.HostClient{Addr: tlsAddr, MaxConns: 64, IsTLS: true,
			TLSConfig: &tls.Config{RootCAs: pool, ServerName: host}}, "https://" + host + "/api/accounts"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			defer func() { reportCPU(b, cpu0, "req") }()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				for pb.Next() {
					req.SetRequestURI(bc.url)
					req.Header.Set("Authorization", tok)
					if err := bc.c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
						b.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
					}
				}
			})
		})
	}
}

// BenchmarkNewHandshake is a new TLS connection per iteration (handshake,
// one small request, close), with session resumption on and off. Client and
// server share the process, so ns/op includes the client's half.
func BenchmarkNewHandshake(b *testing.B) {
	for _, bc := range []struct {
		name      string
		resume    bool
		wantResum bool
	}{{"resumption=on", true, true}, {"resumption=off", false, false}} {
		b.Run(bc.name, func(b *testing.B) {
			s, tlsAddr, pool := staticTLS(b, !bc.resume)
			_ = s
			cfg := &tls.Config{RootCAs: pool, ServerName: proxytest.RootDomain, NextProtos: []string{"http/1.1"}}
			if bc.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
			}
			req := []byte("GET /missing HTTP/1.1\r\nHost: " + proxytest.RootDomain + "\r\nConnection: close\r\n\r\n")
			one := func() bool {
				conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", tlsAddr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				if _, err := conn.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(newReader(conn), nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return conn.ConnectionState().DidResume
			}
			one() // primes the session cache
			b.ResetTimer()
			cpu0 := cpuTime()
			resumed := 0
			for b.Loop() {
				if one() {
					resumed++
				}
			}
			if bc.wantResum && resumed == 0 || !bc.wantResum && resumed > 0 {
				b.Fatalf("%d of %d handshakes resumed", resumed, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			reportCPU(b, cpu0, "handshake")
		})
	}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// cpuTime is the CPU time this process has used (user + system). The
// benchmarks report CPU per operation as well as wall time: on a shared
// machine, other processes' load stretches wall time but not this.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU µs per operation (client and server together: they
// share the process) and the operations one core would do per second.
func reportCPU(b *testing.B, since time.Duration, op string) {
	per := float64(cpuTime()-since) / float64(b.N) / 1e3
	b.ReportMetric(per, "cpu-µs/"+op)
	b.ReportMetric(1e6/per, op+"s/core-s")
}
