package proxy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// Token-less logins to other tenants cannot evict a tenant holding an open
// Hrana transaction: the stream pins its database, eviction picks idle
// databases only, and the transaction commits (issue 14, item 3: before,
// 30 logins with --max-open-tenants 20 rolled it back with a misleading
// STREAM_EXPIRED).
func TestOpenTransactionPinsTenant(t *testing.T) {
	const maxOpen, others = 2, 4
	// The stream must not simply expire while the (deliberately slow)
	// logins run.
	s := proxytest.Start(t, proxytest.Options{MaxOpen: maxOpen, Configure: func(c *proxy.Config) {
		c.Hrana.StreamIdleTimeout, c.Hrana.MaxSnapshotAge = 5*time.Minute, 5*time.Minute
	}})
	held := s.CreateTenant("holder")
	for i := range others {
		s.CreateTenant(fmt.Sprintf("other%d", i))
	}
	tok := s.Token(held.ID, proxy.RoleService, 0)
	hranaDo(t, s, "holder", tok, `{"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE pinned(x)"}},{"type":"close"}]}`)
	status, r, raw := hranaDo(t, s, "holder", tok, `{"requests":[{"type":"execute","stmt":{"sql":"BEGIN IMMEDIATE"}},{"type":"execute","stmt":{"sql":"INSERT INTO pinned VALUES (1)"}}]}`)
	if status != 200 || r.Baton == nil {
		t.Fatalf("begin: %d %s", status, raw)
	}
	for round := range 2 {
		for i := range others {
			l := s.Do("POST", proxytest.Host(fmt.Sprintf("other%d", i)), "/api/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "not-the-password"})
			if l.Status != 401 {
				t.Fatalf("round %d login %d: %d %s", round, i, l.Status, l.Body)
			}
		}
	}
	if n := s.Shards.OpenCount(); n > maxOpen {
		t.Fatalf("%d databases open, cap %d", n, maxOpen)
	}
	status, r, raw = hranaDo(t, s, "holder", tok, `{"baton":"`+*r.Baton+`","requests":[{"type":"execute","stmt":{"sql":"COMMIT"}},{"type":"close"}]}`)
	if status != 200 || r.Results[0]["type"] != "ok" {
		t.Fatalf("commit after the logins: %d %s", status, raw)
	}
	_, r, raw = hranaDo(t, s, "holder", tok, `{"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM pinned"}},{"type":"close"}]}`)
	if !strings.Contains(raw, `"value":"1"`) {
		t.Fatalf("committed row missing: %s", raw)
	}
}

// When every slot is pinned, a new tenant's open waits briefly and gets
// 503 Tenant unavailable with Retry-After; it never steals a slot.
func TestEverySlotPinned(t *testing.T) {
	s := proxytest.Start(t, proxytest.Options{MaxOpen: 1})
	a := s.CreateTenant("pina")
	s.CreateTenant("pinb")
	tok := s.Token(a.ID, proxy.RoleService, 0)
	_, r, raw := hranaDo(t, s, "pina", tok, `{"requests":[{"type":"execute","stmt":{"sql":"BEGIN"}}]}`)
	if r.Baton == nil {
		t.Fatalf("begin: %s", raw)
	}
	l := s.Do("POST", proxytest.Host("pinb"), "/api/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "not-the-password"})
	if l.Status != 503 || l.Error() != "Tenant unavailable" || l.Header.Get("Retry-After") == "" {
		t.Fatalf("open with every slot pinned: %d %q Retry-After %q", l.Status, l.Body, l.Header.Get("Retry-After"))
	}
	if status, _, raw := hranaDo(t, s, "pina", tok, `{"baton":"`+*r.Baton+`","requests":[{"type":"close"}]}`); status != 200 {
		t.Fatalf("the pinned stream was disturbed: %d %s", status, raw)
	}
	if l := s.Do("POST", proxytest.Host("pinb"), "/api/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "not-the-password"}); l.Status != 401 {
		t.Fatalf("login once the slot is free: %d %s", l.Status, l.Body)
	}
}
