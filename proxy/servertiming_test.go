package proxy_test

import (
	"strings"
	"testing"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// With ServerTiming, a request that had to open its tenant's database says
// so (the load harness reports cold requests apart); one served by an open
// database does not.
func TestServerTimingMarksColdRequests(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{MaxOpen: 1, Configure: func(c *proxy.Config) { c.ServerTiming = true }})
	a := s.CreateTenant("coldone")
	b := s.CreateTenant("coldtwo")
	tokA, tokB := s.Token(a.ID, proxy.RoleStaff, 0), s.Token(b.ID, proxy.RoleStaff, 0)
	get := func(host, tok string) string {
		t.Helper()
		r := s.Do("GET", proxytest.Host(host), "/api/accounts", tok, nil)
		if r.Status != 200 {
			t.Fatalf("GET /api/accounts on %s: %d %s", host, r.Status, r.Body)
		}
		return r.Header.Get("Server-Timing")
	}
	get("coldtwo", tokB) // the cap (1) closes coldone
	if st := get("coldone", tokA); !strings.HasPrefix(st, "tenant-db;desc=cold;dur=") {
		t.Fatalf("cold request: Server-Timing %q", st)
	}
	if st := get("coldone", tokA); st != "" {
		t.Fatalf("warm request: Server-Timing %q", st)
	}
}
