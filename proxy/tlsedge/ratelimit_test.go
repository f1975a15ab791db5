package tlsedge_test

import (
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/microfi/tenantgate/proxy/tlsedge"
)

// Orders are budgeted per tenant and globally: over budget, the handshake
// fails at once, the CA sees no order, and the refusal is counted.
func TestOrderRateLimits(t *testing.T) {
	_, tlsLn := listeners(t, false)
	pb := startPebble(t, pebbleOptions{TLSPort: port(tlsLn)})
	p := startEdgeProxy(t, t.TempDir(), nil, tlsLn, edgeOptions{TLSALPN01: true,
		ACME: &tlsedge.ACME{CA: pb.DirectoryURL, Email: "ops@microfi.test", ExtraRoot: pb.CARoot, Profile: "default"},
		Limits: func(c *tlsedge.Config) {
			c.TenantOrderRate, c.TenantOrderBurst = rate.Every(time.Hour), 1
			c.OrderRate, c.OrderBurst = rate.Every(time.Hour), 2
		}})
	roots := pb.Roots()
	createTenant(t, p, "limited", "limited.example")
	createTenant(t, p, "second", "second.example")
	createTenant(t, p, "third", "third.example")

	// Tenant "limited": its custom domain spends its one order; its
	// subdomain (ACME covers R's hosts here: no operator certificate) is over.
	if _, _, err := handshake(p.TLSAddr, "limited.example", roots); err != nil {
		t.Fatalf("first order of a tenant: %v", err)
	}
	start := time.Now()
	if _, _, err := handshake(p.TLSAddr, "limited."+rootDomain, roots); err == nil {
		t.Fatal("a tenant's second order went through a budget of one")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a refused order held the handshake %v", d)
	}
	// Another tenant spends the second and last global order; a third is over.
	if _, _, err := handshake(p.TLSAddr, "second.example", roots); err != nil {
		t.Fatalf("second tenant: %v", err)
	}
	if _, _, err := handshake(p.TLSAddr, "third.example", roots); err == nil {
		t.Fatal("an order went through an exhausted global budget")
	}
	if n := pb.Orders(); n != 2 {
		t.Fatalf("pebble saw %d orders, want 2", n)
	}
	if got := metric(t, p.Registry, "tenantgate_certificate_orders_total", "rate_limited"); got != 2 {
		t.Fatalf("rate_limited orders = %v, want 2", got)
	}
	// The refusal is what the admin view says about the domain.
	if got := adminTLS(t, p, 3); got["state"] != "pending" || got["last_error"] == nil {
		t.Fatalf("admin view of a rate-limited domain: %v", got)
	}
}
