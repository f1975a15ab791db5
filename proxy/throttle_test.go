package proxy_test

import (
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// One tenant over its rate gets 429 with Retry-After; others are unaffected.
func TestTenantRateLimit(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{Configure: func(c *proxy.Config) {
		c.TenantRate = proxy.RateLimit{Burst: 3, Every: time.Hour}
	}})
	hot, calm := s.CreateTenant("hot"), s.CreateTenant("calm")
	tok := s.Token(hot.ID, proxy.RoleStaff, 1)
	for i := range 3 {
		if r := s.Do("GET", proxytest.Host("hot"), "/api/accounts", tok, nil); r.Status != 200 {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := s.Do("GET", proxytest.Host("hot"), "/api/accounts", tok, nil)
	if r.Status != 429 || r.Error() != "Too many requests" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	if r := s.Do("GET", proxytest.Host("calm"), "/api/accounts", s.Token(calm.ID, proxy.RoleStaff, 1), nil); r.Status != 200 {
		t.Fatalf("other tenant throttled too: %d %s", r.Status, r.Body)
	}
}
