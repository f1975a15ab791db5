package proxy_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/microfi/tenantgate/audit"
	"github.com/microfi/tenantgate/catalog/tenants"
	"github.com/microfi/tenantgate/proxy"
	"github.com/microfi/tenantgate/proxy/proxytest"
)

// Demos, signups and reaps are in the platform audit trail (GET
// /api/admin/audit), with the visitor's address and request id and
// without personal data or secrets, and the chain verifies.
func TestPublicSiteAudited(t *testing.T) {
	srv := startPublic(t)
	root := proxytest.RootDomain
	r := srv.Do("POST", root, "/api/public/demo", "", map[string]string{"country": "KE"}, "X-Request-Id", "demo-req-1")
	var demo struct {
		TenantID int64  `json:"tenant_id"`
		Host     string `json:"host"`
	}
	r.JSON(t, &demo)
	if r.Status != 201 {
		t.Fatalf("demo: %d %s", r.Status, r.Body)
	}
	const email, password = "chair@audited.example", "Audited-signup-pw-1"
	r = srv.Do("POST", root, "/api/public/signup", "", map[string]string{
		"name": "Audited Savings", "country": "GH", "email": email, "password": password, "from_demo": demo.Host}, "X-Request-Id", "signup-req-1")
	var signup struct {
		TenantID int64 `json:"tenant_id"`
	}
	r.JSON(t, &signup)
	if r.Status != 201 {
		t.Fatalf("signup: %d %s", r.Status, r.Body)
	}
	// The demo expires and the reaper removes it.
	reaper := &tenants.Reaper{Service: srv.Tenants, Now: func() time.Time { return time.Now().Add(48 * time.Hour) }}
	if n, err := reaper.ReapOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("reap: %d, %v", n, err)
	}

	admin := srv.Token(0, proxy.RolePlatformAdmin, 0)
	entries := func(action string) []audit.Entry {
		t.Helper()
		r := srv.Do("GET", proxytest.Host("admin"), "/api/admin/audit?action="+action, admin, nil)
		var out struct{ Entries []audit.Entry }
		r.JSON(t, &out)
		if r.Status != 200 || len(out.Entries) != 1 {
			t.Fatalf("audit %s: %d %s", action, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), email) || strings.Contains(string(r.Body), password) {
			t.Errorf("audit %s carries personal data or the password: %s", action, r.Body)
		}
		return out.Entries
	}
	for _, c := range []struct {
		action, role, addr, req string
		id                      int64
		details                 map[string]string
	}{
		{"demo.create", "anonymous", "127.0.0.1", "demo-req-1", demo.TenantID, map[string]string{"host": demo.Host, "country": "KE"}},
		{"tenant.signup", "anonymous", "127.0.0.1", "signup-req-1", signup.TenantID, map[string]string{"host": "audited-savings", "plan": "starter", "from_demo": demo.Host}},
		{"demo.reap", "system", "reaper", "", demo.TenantID, map[string]string{"host": demo.Host}},
	} {
		e := entries(c.action)[0]
		if e.Role != c.role || e.ClientAddr != c.addr || e.RequestID != c.req || e.TargetType != "tenant" || e.TargetID != strconv.FormatInt(c.id, 10) {
			t.Errorf("%s entry: %+v", c.action, e)
		}
		for k, v := range c.details {
			if e.Details[k] != v {
				t.Errorf("%s entry detail %s = %q, want %q", c.action, k, e.Details[k], v)
			}
		}
	}
	v, err := srv.Catalog.VerifyAudit(context.Background())
	if err != nil || len(v.Findings) != 0 || v.Count < 3 {
		t.Fatalf("platform chain: %s, %v", v.Summary(), err)
	}
}
