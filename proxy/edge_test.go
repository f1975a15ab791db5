package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// oneDemoEach allows each client address one demo (none refill in a test).
func oneDemoEach(c *proxy.Config) { c.DemoLimit = proxy.RateLimit{Burst: 1, Every: time.Hour} }

// Behind a trusted proxy, each client named by X-Forwarded-For gets its own
// demo limit; the same header from an untrusted peer changes nothing (it
// used to be ignored everywhere, so the whole internet shared one bucket
// behind a load balancer).
func TestEdgeDemoLimitPerForwardedClient(t *testing.T) {
	root := proxytest.RootDomain
	t.Run("TrustedProxy", func(t *testing.T) {
		s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
			oneDemoEach(c)
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}})
		for i := range 20 {
			client := fmt.Sprintf("198.51.100.%d", i+1)
			if r := s.Do("POST", root, "/api/public/demo", "", nil, "X-Forwarded-For", client); r.Status != http.StatusCreated {
				t.Fatalf("client %s, first demo: %d %s", client, r.Status, r.Body)
			}
		}
		// Each address's own bucket is now empty; a forged entry to the
		// left of the proxy's does not buy another.
		for _, xff := range []string{"198.51.100.7", "203.0.113.50, 198.51.100.7"} {
			if r := s.Do("POST", root, "/api/public/demo", "", nil, "X-Forwarded-For", xff); r.Status != http.StatusTooManyRequests {
				t.Errorf("X-Forwarded-For %q, second demo: %d, want 429", xff, r.Status)
			}
		}
		if r := s.Do("POST", root, "/api/public/demo", "", nil, "Forwarded", `for="[2001:db8:5:6::1]"`); r.Status != http.StatusCreated {
			t.Errorf("Forwarded IPv6 client: %d", r.Status)
		}
		if r := s.Do("POST", root, "/api/public/demo", "", nil, "Forwarded", `for="[2001:db8:5:6:ffff::2]"`); r.Status != http.StatusTooManyRequests {
			t.Errorf("same /64: %d, want 429", r.Status)
		}
	})
	t.Run("UntrustedPeer", func(t *testing.T) {
		s := proxytest.Start(t, proxytest.Options{Configure: oneDemoEach})
		if r := s.Do("POST", root, "/api/public/demo", "", nil, "X-Forwarded-For", "198.51.100.1"); r.Status != http.StatusCreated {
			t.Fatalf("first demo: %d %s", r.Status, r.Body)
		}
		if r := s.Do("POST", root, "/api/public/demo", "", nil, "X-Forwarded-For", "198.51.100.2"); r.Status != http.StatusTooManyRequests {
			t.Fatalf("another X-Forwarded-For from an untrusted peer: %d, want 429", r.Status)
		}
	})
}

// With --proxy-protocol the trusted proxy's PROXY header names the client
// of the whole connection; without the header it is refused.
func TestEdgeProxyProtocol(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		oneDemoEach(c)
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Edge.ProxyProtocol = true
	}})
	demo := func(header string) int {
		t.Helper()
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "%sPOST /api/public/demo HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", header, proxytest.RootDomain)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	v1 := "PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\n"
	if got := demo(v1); got != http.StatusCreated {
		t.Fatalf("first demo of 203.0.113.9: %d", got)
	}
	if got := demo(v1); got != http.StatusTooManyRequests {
		t.Errorf("second demo of 203.0.113.9: %d, want 429", got)
	}
	if got := demo("PROXY TCP4 203.0.113.10 127.0.0.1 40000 80\r\n"); got != http.StatusCreated {
		t.Errorf("first demo of 203.0.113.10: %d", got)
	}
	if got := demo(""); got == http.StatusCreated {
		t.Errorf("a trusted peer without the PROXY header was served")
	}
}

// Body limits are decided from the headers: 64 KiB unless the request is an
// SQL pipeline with a valid token; over the limit is 413 with the body
// unread, counted.
func TestEdgeBodyLimitFromHeaders(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("bodies")
	host := proxytest.Host("bodies")
	svc := s.Token(tn.ID, proxy.RoleService, 0)
	big := func(n int) string { // a valid pipeline of about n bytes
		return `{"requests":[{"type":"execute","stmt":{"sql":"SELECT '` + strings.Repeat("x", n) + `'"}},{"type":"close"}]}`
	}
	for _, c := range []struct {
		name, host, path, token, body string
		want                          int
	}{
		{"AnonymousSignup", proxytest.RootDomain, "/api/public/signup", "", big(100 << 10), 413},
		{"PipelineWithoutToken", host, "/v2/pipeline", "", big(100 << 10), 413},
		{"PipelineBadToken", host, "/v2/pipeline", svc + "x", big(100 << 10), 413},
		{"PipelineStaffToken", host, "/v2/pipeline", s.Token(tn.ID, proxy.RoleStaff, 1), big(100 << 10), 413},
		{"PipelineServiceToken", host, "/v2/pipeline", svc, big(100 << 10), 200},
		{"PipelineServiceTokenSmall", host, "/v3/pipeline", svc, big(10), 200},
		{"BankAPIWithToken", host, "/api/transactions", s.Token(tn.ID, proxy.RoleStaff, 1), big(100 << 10), 413},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := edgeSample(t, s, "tenantgate_request_body_rejected_total")
			r := s.Do("POST", c.host, c.path, c.token, c.body)
			if r.Status != c.want {
				t.Fatalf("%d %.200s, want %d", r.Status, r.Body, c.want)
			}
			after := edgeSample(t, s, "tenantgate_request_body_rejected_total")
			if want := map[bool]float64{true: 1}[c.want == 413]; after-before != want {
				t.Errorf("request_body_rejected_total rose by %v, want %v", after-before, want)
			}
		})
	}
}

// A body over even the full cap is refused from its Content-Length: the 413
// arrives before a byte of body is sent.
func TestEdgeBodyRefusedUnread(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	tn := s.CreateTenant("unread")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(c, "POST /v2/pipeline HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{",
		proxytest.Host("unread"), s.Token(tn.ID, proxy.RoleService, 0), proxy.MaxRequestBody+1)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "Request body too large") {
		t.Fatalf("%d %s, want 413", resp.StatusCode, b)
	}
}

// edgeSample reads one sample ("name" or `name{l="v"}`) from the ops listener.
func edgeSample(t *testing.T, s *proxytest.Server, series string) float64 {
	t.Helper()
	resp, err := s.Client.Get(s.OpsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s", series)
	return 0
}

// The connection metrics exist from the start with every label value.
func TestEdgeMetricsPreRegistered(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{})
	resp, err := s.Client.Get(s.OpsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tenantgate_connections{state="active"}`, `tenantgate_connections{state="idle"}`,
		`tenantgate_connections_rejected_total{reason="max_conns"} 0`, `tenantgate_connections_rejected_total{reason="per_ip"} 0`,
		`tenantgate_connections_rejected_total{reason="resources"} 0`, `tenantgate_connections_rejected_total{reason="idle_shed"} 0`,
		`tenantgate_connections_rejected_total{reason="idle_cap"} 0`, `tenantgate_request_body_rejected_total 0`,
		`tenantgate_throttled_requests_total{limiter="login_queue"} 0`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
